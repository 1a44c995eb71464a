/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "macro.h"

/* Allocation failure is not an error this program can act on: report and exit, like
 * systemd's log_oom() paths end up doing for a one-shot tool. */
static void oom(void) {
        fputs("dpuos-trim: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n) {
        void *p = malloc(n ?: 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t m) {
        void *p = calloc(n ?: 1, m ?: 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ?: 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s) {
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n) {
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *p;

        va_start(ap, fmt);
        if (vasprintf(&p, fmt, ap) < 0)
                oom();
        va_end(ap);
        return p;
}
