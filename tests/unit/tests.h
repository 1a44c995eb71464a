/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal harness for the table-driven unit tests: one line per case ("ok N - ..." or
 * "not ok N - ..."), a final "N passed, M failed", and a non-zero exit on any failure. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned tests_passed, tests_failed;

__attribute__((format(printf, 3, 4)))
static inline bool check(bool ok, const char *name, const char *fmt, ...) {
        printf("%s %u - %s", ok ? "ok" : "not ok", tests_passed + tests_failed + 1, name);
        if (!ok && fmt) {
                va_list ap;
                fputs(": ", stdout);
                va_start(ap, fmt);
                vprintf(fmt, ap);
                va_end(ap);
        }
        fputc('\n', stdout);
        if (ok)
                tests_passed++;
        else
                tests_failed++;
        return ok;
}

static inline int tests_finish(void) {
        printf("%u passed, %u failed\n", tests_passed, tests_failed);
        return tests_failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline const char *yesno(bool b) {
        return b ? "true" : "false";
}
