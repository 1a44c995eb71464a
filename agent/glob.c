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

/* Segment views into the original strings, to avoid copying on the hot path of a walk
 * over hundreds of thousands of files. */
typedef struct Seg {
        const char *p;
        size_t n;
} Seg;

/* Deeper paths than this never match (the walk refuses to go that deep anyway). */
#define MAX_SEGS 8192

static size_t split(const char *s, Seg *segs, size_t max) {
        size_t n = 0;

        for (;;) {
                while (*s == '/')
                        s++;
                if (!*s)
                        return n;
                const char *e = strchrnul(s, '/');
                if (n == max)
                        return SIZE_MAX;
                segs[n++] = (Seg) { s, (size_t) (e - s) };
                s = e;
        }
}

static bool seg_is_globstar(Seg s) {
        return s.n == 2 && s.p[0] == '*' && s.p[1] == '*';
}

static bool seg_match(Seg pat, Seg name) {
        char pbuf[512], nbuf[512];

        if (pat.n >= sizeof pbuf || name.n >= sizeof nbuf)
                return false;
        memcpy(pbuf, pat.p, pat.n);
        pbuf[pat.n] = 0;
        memcpy(nbuf, name.p, name.n);
        nbuf[name.n] = 0;
        return fnmatch(pbuf, nbuf, 0) == 0;
}

static bool match_segs(const Seg *pat, size_t np, const Seg *seg, size_t ns) {
        while (np > 0) {
                if (seg_is_globstar(pat[0])) {
                        if (np == 1)
                                return ns >= 1;
                        for (size_t k = 0; k <= ns; k++)
                                if (match_segs(pat + 1, np - 1, seg + k, ns - k))
                                        return true;
                        return false;
                }
                if (ns == 0 || !seg_match(pat[0], seg[0]))
                        return false;
                pat++, np--, seg++, ns--;
        }
        return ns == 0;
}

static bool prefix_possible(const Seg *pat, size_t np, const Seg *seg, size_t ns) {
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

bool glob_match_path(const char *pattern, const char *path) {
        static Seg seg[MAX_SEGS];
        Seg pat[256];
        size_t np, ns;

        np = split(pattern, pat, ELEMENTSOF(pat));
        ns = split(path, seg, ELEMENTSOF(seg));
        return np != SIZE_MAX && ns != SIZE_MAX && match_segs(pat, np, seg, ns);
}

bool glob_may_match_below(const char *pattern, const char *dir) {
        static Seg seg[MAX_SEGS];
        Seg pat[256];
        size_t np, ns;

        np = split(pattern, pat, ELEMENTSOF(pat));
        ns = split(dir, seg, ELEMENTSOF(seg));
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
