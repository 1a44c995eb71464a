/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The string vectors and sets that hold the module index (a kernel's 4,000 module names and
 * 25,000 aliases): a counted vector keeps every string in order through its doublings, and
 * a set finds exactly what was put in it, across its own growth. */

#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "strv.h"
#include "tests.h"

#define N 30000

static void check_counted(void) {
        char **v = NULL;
        size_t n = 0;
        bool in_order = true;

        for (size_t i = 0; i < N; i++)
                strv_push_counted(&v, &n, xasprintf("m%zu", i));
        for (size_t i = 0; i < N && in_order; i++) {
                char want[32];
                snprintf(want, sizeof want, "m%zu", i);
                in_order = v[i] && strcmp(v[i], want) == 0;
        }
        check(n == N && strv_length(v) == N, "strv_push_counted() keeps the count and the NULL end",
              "n=%zu, strv_length=%zu", n, strv_length(v));
        check(in_order, "strv_push_counted() keeps every string, in order", NULL);
        strv_free(v);
}

static void check_set(void) {
        char **v = NULL;
        size_t n = 0, dup = 0, missing = 0, wrong = 0;
        StrSet set = {};

        check(!strset_contains(&set, "x"), "an empty set contains nothing", NULL);
        for (size_t i = 0; i < N; i++)
                strv_push_counted(&v, &n, xasprintf("snd_%zu", i));
        for (size_t i = 0; i < N; i++)
                if (!strset_put(&set, v[i]))
                        dup++;
        for (size_t i = 0; i < N; i++)
                if (strset_put(&set, v[i]))
                        dup++;  /* the second put of each must say it was there */
        for (size_t i = 0; i < N; i++)
                missing += !strset_contains(&set, v[i]);
        for (size_t i = 0; i < 1000; i++) {
                _cleanup_free_ char *other = xasprintf("snd_%zu", N + i);
                wrong += strset_contains(&set, other);
        }
        check(dup == 0 && set.n == N, "strset_put() takes each string once", "%zu wrong answers, %zu in the set", dup, set.n);
        check(missing == 0, "strset_contains() finds every string put in", "%zu not found", missing);
        check(wrong == 0 && !strset_contains(&set, "snd") && !strset_contains(&set, ""),
              "strset_contains() finds nothing else", "%zu found", wrong);
        strset_done(&set);
        strv_free(v);
}

int main(void) {
        check_counted();
        check_set();
        return tests_finish();
}
