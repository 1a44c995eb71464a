/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

size_t strv_length(char * const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

void strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **c = xrealloc(*l, sizeof(char *) * (n + 2));
        c[n] = s;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_push(l, xstrdup(s));
}

void strv_push_counted(char ***l, size_t *n, char *s) {
        /* Capacity is the power of two above the length: grow when n + 1 reaches one. */
        if (!*l || (((*n + 1) & *n) == 0)) {
                size_t cap = 2;
                while (cap < *n + 2)
                        cap *= 2;
                *l = xrealloc(*l, cap * sizeof(char *));
        }
        (*l)[(*n)++] = s;
        (*l)[*n] = NULL;
}

static size_t str_hash(const char *s) {
        size_t h = 1469598103934665603ull;  /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ull;
        return h;
}

/* The slot that holds s, or the empty one where it would go (open addressing, linear
 * probing; the table is never more than half full, so there is always an empty slot). */
static size_t strset_slot(const StrSet *set, const char *s) {
        size_t i = str_hash(s) & (set->allocated - 1);

        while (set->slots[i] && !streq(set->slots[i], s))
                i = (i + 1) & (set->allocated - 1);
        return i;
}

bool strset_put(StrSet *set, const char *s) {
        if ((set->n + 1) * 2 > set->allocated) {
                StrSet bigger = { .allocated = set->allocated ? set->allocated * 2 : 16 };
                bigger.slots = xcalloc(bigger.allocated, sizeof(char *));
                for (size_t i = 0; i < set->allocated; i++)
                        if (set->slots[i])
                                strset_put(&bigger, set->slots[i]);
                free(set->slots);
                *set = bigger;
        }
        size_t i = strset_slot(set, s);
        if (set->slots[i])
                return false;
        set->slots[i] = s;
        set->n++;
        return true;
}

bool strset_contains(const StrSet *set, const char *s) {
        return set->n > 0 && set->slots[strset_slot(set, s)];
}

void strset_done(StrSet *set) {
        free(set->slots);
        *set = (StrSet) {};
}

bool strv_contains(char * const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

void strv_sort(char **l) {
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_str);
}
