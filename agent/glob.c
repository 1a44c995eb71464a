/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fnmatch.h>
#include <stdint.h>

#include "glob.h"
#include "macro.h"

bool string_is_glob(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

bool glob_match_name(const char *pattern, const char *name) {
        return fnmatch(pattern, name, 0) == 0;
}

/* Deeper paths than this never match (the walk refuses to go that deep anyway). */
#define MAX_SEGS 8192
#define MAX_PATTERN_SEGS 256

static bool seg_is_literal(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strchr("*?[\\", s[i]))
                        return false;
        return true;
}

/* Segment views into the original strings, to avoid copying on the hot path of a walk
 * over hundreds of thousands of files. Only a pattern's segments are classified. */
static size_t split(const char *s, bool pattern, GlobSeg *segs, size_t max) {
        size_t n = 0;

        for (;;) {
                while (*s == '/')
                        s++;
                if (!*s)
                        return n;
                const char *e = strchrnul(s, '/');
                if (n == max)
                        return SIZE_MAX;
                segs[n++] = (GlobSeg) { s, (size_t) (e - s), pattern && seg_is_literal(s, e - s) };
                s = e;
        }
}

static bool seg_is_globstar(GlobSeg s) {
        return s.n == 2 && s.p[0] == '*' && s.p[1] == '*';
}

static bool seg_match(GlobSeg pat, GlobSeg name) {
        char pbuf[512], nbuf[512];

        if (pat.literal)
                return pat.n == name.n && memcmp(pat.p, name.p, pat.n) == 0;
        if (pat.n >= sizeof pbuf || name.n >= sizeof nbuf)
                return false;
        memcpy(pbuf, pat.p, pat.n);
        pbuf[pat.n] = 0;
        memcpy(nbuf, name.p, name.n);
        nbuf[name.n] = 0;
        return fnmatch(pbuf, nbuf, 0) == 0;
}

/* Wildcard matching over segments, with the one backtracking point the classic algorithm
 * keeps: on a mismatch, the last '**' seen takes one more segment and matching resumes
 * after it. A '**' only ever needs to grow from where the last one stands (whatever an
 * earlier one took, the last one can take instead), so the work is at most np * ns segment
 * matches, however many '**' a pattern has. A trailing '**' takes one segment or more. */
static bool match_segs(const GlobSeg *pat, size_t np, const GlobSeg *seg, size_t ns) {
        size_t p = 0, s = 0, star = SIZE_MAX, star_s = 0;

        while (s < ns) {
                if (p < np && seg_is_globstar(pat[p])) {
                        if (p == np - 1)
                                return true;  /* a trailing '**' takes what is left */
                        star = p++;
                        star_s = s;
                } else if (p < np && seg_match(pat[p], seg[s]))
                        p++, s++;
                else if (star != SIZE_MAX) {
                        p = star + 1;
                        s = ++star_s;
                } else
                        return false;
        }
        while (p < np && seg_is_globstar(pat[p]) && p < np - 1)
                p++;  /* a '**' within the pattern may take nothing */
        return p == np;
}

static bool prefix_possible(const GlobSeg *pat, size_t np, const GlobSeg *seg, size_t ns) {
        while (ns > 0) {
                if (np == 0)
                        return false;
                if (seg_is_globstar(pat[0]))
                        return true;
                if (!seg_match(pat[0], seg[0]))
                        return false;
                pat++, np--, seg++, ns--;
        }
        return np > 0;
}

void glob_compile(Glob *g, const char *pattern) {
        GlobSeg segs[MAX_PATTERN_SEGS];

        *g = (Glob) { .text = xstrdup(pattern) };
        g->n = split(g->text, true, segs, ELEMENTSOF(segs));
        if (g->n == SIZE_MAX)
                return;
        g->segs = xmalloc((g->n ?: 1) * sizeof(GlobSeg));
        memcpy(g->segs, segs, g->n * sizeof(GlobSeg));
        for (size_t i = 0; i < g->n; i++)
                if (seg_is_globstar(g->segs[i]))
                        g->globstar = true;
}

void glob_done(Glob *g) {
        free(g->text);
        free(g->segs);
        *g = (Glob) {};
}

bool glob_match_segs(const Glob *g, const GlobSeg *path, size_t n) {
        if (g->n == SIZE_MAX || (!g->globstar && g->n != n))
                return false;
        return match_segs(g->segs, g->n, path, n);
}

bool glob_may_match_below_segs(const Glob *g, const GlobSeg *dir, size_t n) {
        return g->n != SIZE_MAX && prefix_possible(g->segs, g->n, dir, n);
}

bool glob_match_path(const char *pattern, const char *path) {
        static GlobSeg seg[MAX_SEGS];
        GlobSeg pat[MAX_PATTERN_SEGS];
        size_t np, ns;

        np = split(pattern, true, pat, ELEMENTSOF(pat));
        ns = split(path, false, seg, ELEMENTSOF(seg));
        return np != SIZE_MAX && ns != SIZE_MAX && match_segs(pat, np, seg, ns);
}

bool glob_may_match_below(const char *pattern, const char *dir) {
        static GlobSeg seg[MAX_SEGS];
        GlobSeg pat[MAX_PATTERN_SEGS];
        size_t np, ns;

        np = split(pattern, true, pat, ELEMENTSOF(pat));
        ns = split(dir, false, seg, ELEMENTSOF(seg));
        return np != SIZE_MAX && ns != SIZE_MAX && prefix_possible(pat, np, seg, ns);
}

char *glob_literal_dir(const char *pattern) {
        const char *end = pattern, *s = pattern;

        /* Advance over whole segments that hold no glob character and are followed by more. */
        for (;;) {
                while (*s == '/')
                        s++;
                const char *e = strchrnul(s, '/');
                if (!*e)
                        break;
                bool glob = false;
                for (const char *c = s; c < e; c++)
                        if (strchr("*?[", *c))
                                glob = true;
                if (glob)
                        break;
                end = e;
                s = e;
        }
        return end == pattern ? xstrdup("/") : xstrndup(pattern, end - pattern);
}

char *glob_escape(const char *s) {
        char *r = xmalloc(strlen(s) * 2 + 1), *o = r;

        for (; *s; s++) {
                if (strchr("*?[]\\", *s))
                        *o++ = '\\';
                *o++ = *s;
        }
        *o = 0;
        return r;
}
