/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Path globs: '*', '?' and '[...]' match within one path segment (never '/'); a segment that
 * is exactly '**' matches any number of whole segments, and at the end of a pattern one or
 * more: "/usr/share/doc/" followed by '**' is everything below /usr/share/doc, not the
 * directory itself. Dot files are matched like any other name. */

bool string_is_glob(const char *s);

/* Does path match pattern? Both absolute. */
bool glob_match_path(const char *pattern, const char *path);

/* Could some path strictly below directory dir match pattern? Used to prune the walk. */
bool glob_may_match_below(const char *pattern, const char *dir);

/* The longest leading run of whole segments without glob characters, as a directory, below
 * which the walk for the pattern starts: for "/usr/share/locale/<glob>/LC_MESSAGES" it is
 * "/usr/share/locale"; for "/etc/foo" it is "/etc". */
char *glob_literal_dir(const char *pattern);

/* A path or pattern split into segments once, for the many matches of a walk. A pattern's
 * segment is literal when it holds no glob character (nor a backslash, which fnmatch()
 * treats as an escape); literal segments compare without fnmatch(). */
typedef struct GlobSeg {
        const char *p;
        size_t n;
        bool literal;
} GlobSeg;

typedef struct Glob {
        char *text;
        GlobSeg *segs;
        size_t n;           /* SIZE_MAX: too many segments, matches nothing */
        bool globstar;      /* has a '**' segment, so matches paths of any depth */
} Glob;

void glob_compile(Glob *g, const char *pattern);
void glob_done(Glob *g);

/* glob_match_path() and glob_may_match_below() for a compiled pattern and a path already
 * split into n segments (only .p and .n of the path's segments are read). */
bool glob_match_segs(const Glob *g, const GlobSeg *path, size_t n);
bool glob_may_match_below_segs(const Glob *g, const GlobSeg *dir, size_t n);

/* Glob over names without '/' (unit and module names): fnmatch semantics. */
bool glob_match_name(const char *pattern, const char *name);

/* s with every glob character escaped, so that as a pattern it matches only itself. */
char *glob_escape(const char *s);
