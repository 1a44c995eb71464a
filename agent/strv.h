/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated string vectors. NULL is the empty vector. */
size_t strv_length(char * const *l);
void strv_free(char **l);
int strv_push(char ***l, char *s);             /* takes ownership of s */
int strv_extend(char ***l, const char *s);     /* copies s */
bool strv_contains(char * const *l, const char *s);

/* strv_push() for a vector whose length the caller keeps in *n: the allocation doubles, so
 * building a vector of n strings costs O(n) where repeated strv_push() costs O(n²). The
 * vector must only ever grow this way. */
void strv_push_counted(char ***l, size_t *n, char *s);

/* A set of strings (not owned: they must outlive it), for keeping long lists free of
 * duplicates in O(1) per string. */
typedef struct StrSet {
        const char **slots;
        size_t n, allocated;
} StrSet;

bool strset_put(StrSet *set, const char *s);   /* false if s was there already */
bool strset_contains(const StrSet *set, const char *s);
void strset_done(StrSet *set);
void strv_sort(char **l);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)
