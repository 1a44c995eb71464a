/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path globs decide what a removal touches, so every rule of dpuos-trim.conf(5) (Patterns)
 * is pinned here: '*', '?' and '[...]' stay within one segment, '**' spans whole segments,
 * and a trailing '**' covers what is below a directory but not the directory itself. */
#include <fnmatch.h>
#include <string.h>

#include "glob.h"
#include "macro.h"
#include "tests.h"

static const struct {
        const char *pattern;
        const char *path;
        bool match;
} match_cases[] = {
        /* literal paths */
        { "/etc/foo",                       "/etc/foo",                         true  },
        { "/etc/foo",                       "/etc/foobar",                      false },
        { "/etc/foo",                       "/etc/foo/bar",                     false },
        { "/etc/foo",                       "/etc",                             false },
        /* '*' within one segment, never across '/' */
        { "/usr/share/doc/*",               "/usr/share/doc/pkg",               true  },
        { "/usr/share/doc/*",               "/usr/share/doc/pkg/README",        false },
        { "/usr/share/doc/*",               "/usr/share/doc",                   false },
        { "/usr/share/doc/*/copyright",     "/usr/share/doc/bash/copyright",    true  },
        { "/usr/share/doc/*/copyright",     "/usr/share/doc/a/b/copyright",     false },
        { "/usr/lib/lib*.so",               "/usr/lib/libfoo.so",               true  },
        { "/usr/lib/lib*.so",               "/usr/lib/sub/libfoo.so",           false },
        { "/usr/*",                         "/usr/a/b",                         false },
        /* '?' is one character, not '/' */
        { "/usr/share/man/man?",            "/usr/share/man/man1",              true  },
        { "/usr/share/man/man?",            "/usr/share/man/man10",             false },
        { "/usr/share/man?x",               "/usr/share/man/x",                 false },
        /* bracket expressions */
        { "/usr/share/man/man[1-8]",        "/usr/share/man/man5",              true  },
        { "/usr/share/man/man[1-8]",        "/usr/share/man/man9",              false },
        { "/usr/share/man/man[!1]",         "/usr/share/man/man2",              true  },
        { "/usr/share/man/man[!1]",         "/usr/share/man/man1",              false },
        { "/usr/share/locale/[a-z][a-z]",   "/usr/share/locale/de",             true  },
        /* '**' at the end: one or more segments below, never the directory itself */
        { "/usr/share/doc/**",              "/usr/share/doc/pkg",               true  },
        { "/usr/share/doc/**",              "/usr/share/doc/pkg/a/b/c",         true  },
        { "/usr/share/doc/**",              "/usr/share/doc",                   false },
        { "/usr/share/doc/**",              "/usr/share/docs/pkg",              false },
        { "/usr/share/doc/**",              "/usr/share",                       false },
        /* '**' in the middle: zero or more whole segments */
        { "/usr/**/LC_MESSAGES",            "/usr/LC_MESSAGES",                 true  },
        { "/usr/**/LC_MESSAGES",            "/usr/share/locale/de/LC_MESSAGES", true  },
        { "/usr/**/LC_MESSAGES",            "/usr/share/locale/de/LC_MESSAGES/x.mo", false },
        { "/usr/share/locale/**/*.mo",      "/usr/share/locale/de/LC_MESSAGES/x.mo", true },
        { "/usr/share/locale/**/*.mo",      "/usr/share/locale/x.mo",           true  },
        { "/usr/share/locale/**/*.mo",      "/usr/share/locale/de/x.po",        false },
        { "/usr/**/doc/**",                 "/usr/share/doc/x",                 true  },
        { "/usr/**/doc/**",                 "/usr/share/doc",                   false },
        /* dot files are names like any other */
        { "/usr/share/doc/*",               "/usr/share/doc/.hidden",           true  },
        { "/usr/share/doc/**",              "/usr/share/doc/.git/config",       true  },
        { "/usr/share/doc/.*",              "/usr/share/doc/.hidden",           true  },
        { "/usr/share/doc/.*",              "/usr/share/doc/visible",           false },
        /* repeated or trailing slashes in the path do not change the segments */
        { "/usr/share/doc/*",               "/usr/share/doc/pkg/",              true  },
};

static const struct {
        const char *pattern;
        const char *dir;
        bool may;
} below_cases[] = {
        { "/usr/share/doc/**",              "/usr",                             true  },
        { "/usr/share/doc/**",              "/usr/share",                       true  },
        { "/usr/share/doc/**",              "/usr/share/doc",                   true  },
        { "/usr/share/doc/**",              "/usr/share/doc/pkg/deep",          true  },
        { "/usr/share/doc/**",              "/usr/lib",                         false },
        { "/usr/share/doc/**",              "/etc",                             false },
        { "/usr/share/doc/*",               "/usr/share/doc/pkg",               false },
        { "/usr/share/doc/*/copyright",     "/usr/share/doc/pkg",               true  },
        { "/usr/share/doc/*/copyright",     "/usr/share/doc/pkg/sub",           false },
        { "/etc/foo",                       "/etc",                             true  },
        { "/etc/foo",                       "/etc/foo",                         false },
        { "/usr/**/LC_MESSAGES",            "/usr/a/b/c",                       true  },
        { "/usr/share/man/man[1-8]/*",      "/usr/share/man/man9",              false },
        { "/usr/share/man/man[1-8]/*",      "/usr/share/man/man3",              true  },
};

static const struct {
        const char *pattern;
        const char *literal;
} literal_cases[] = {
        { "/usr/share/locale/*/LC_MESSAGES", "/usr/share/locale" },
        { "/usr/share/doc/**",               "/usr/share/doc"    },
        { "/usr/share/doc/*/copyright",      "/usr/share/doc"    },
        { "/etc/foo",                        "/etc"              },
        { "/usr/share/doc",                  "/usr/share"        },
        { "/usr/sh?re/doc/**",               "/usr"              },
        { "/usr/lib/x86_64-linux-gnu/**",    "/usr/lib/x86_64-linux-gnu" },
        { "/foo",                            "/"                 },
        { "/*",                              "/"                 },
        { "/**",                             "/"                 },
        { "/",                               "/"                 },
};

static const struct {
        const char *s;
        bool glob;
} is_glob_cases[] = {
        { "/usr/share/doc",       false },
        { "cups.service",         false },
        { "/usr/share/doc/*",     true  },
        { "/usr/share/man/man?",  true  },
        { "/usr/share/man[1]",    true  },
        { "/usr/share/doc/**",    true  },
        { "snd_*",                true  },
        { "",                     false },
};

static const struct {
        const char *pattern;
        const char *name;
        bool match;
} name_cases[] = {
        { "avahi-daemon.*",  "avahi-daemon.socket",  true  },
        { "avahi-daemon.*",  "avahi-daemon",         false },
        { "snd_*",           "snd_hda_intel",        true  },
        { "snd_*",           "xsnd_hda",             false },
        { "cups.service",    "cups.service",         true  },
        { "getty@*.service", "getty@tty1.service",   true  },
        { "mlx5_[ci][bo]*",  "mlx5_core",            true  },
};

/* The rules of dpuos-trim.conf(5), written as directly as they read, for segments given
 * as arrays: the reference the matcher must agree with. Exponential, so only for short
 * patterns. */
static bool reference_match(const char *const *pat, size_t np, const char *const *seg, size_t ns) {
        if (np == 0)
                return ns == 0;
        if (streq(pat[0], "**")) {
                for (size_t k = np == 1 ? 1 : 0; k <= ns; k++)
                        if (reference_match(pat + 1, np - 1, seg + k, ns - k))
                                return true;
                return false;
        }
        return ns > 0 && fnmatch(pat[0], seg[0], 0) == 0 && reference_match(pat + 1, np - 1, seg + 1, ns - 1);
}

static char *join(const char *const *parts, size_t n) {
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(parts[i]) + 1;
        char *r = xmalloc(len), *o = r;
        for (size_t i = 0; i < n; i++)
                o += sprintf(o, "/%s", parts[i]);
        *o = 0;
        return r;
}

/* Random patterns of up to 7 segments (up to four '**') against random paths of up to 9. */
static void check_against_reference(void) {
        static const char *const pat_words[] = { "a", "b", "*", "a*", "?", "**", "**", "[ab]" };
        static const char *const path_words[] = { "a", "b", "ab", "ba" };
        unsigned seed = 12345, agreed = 0;
        char what[512] = "";

        for (unsigned round = 0; round < 200000; round++) {
                const char *pat[7], *seg[9];
                size_t np, ns, stars = 0;

                seed = seed * 1103515245 + 12345;
                np = 1 + (seed >> 16) % 7;
                for (size_t i = 0; i < np; i++) {
                        seed = seed * 1103515245 + 12345;
                        pat[i] = pat_words[(seed >> 16) % ELEMENTSOF(pat_words)];
                        if (streq(pat[i], "**") && ++stars > 4)
                                pat[i] = "a";
                }
                seed = seed * 1103515245 + 12345;
                ns = (seed >> 16) % 10;
                for (size_t i = 0; i < ns; i++) {
                        seed = seed * 1103515245 + 12345;
                        seg[i] = path_words[(seed >> 16) % ELEMENTSOF(path_words)];
                }

                char *pattern = join(pat, np), *path = join(seg, ns);
                bool want = reference_match(pat, np, seg, ns);
                bool got = glob_match_path(pattern, ns ? path : "/");
                if (want == got)
                        agreed++;
                else if (!*what)
                        snprintf(what, sizeof what, "\"%s\" against \"%s\": %s, the rules say %s",
                                 pattern, ns ? path : "/", yesno(got), yesno(want));
                free(pattern);
                free(path);
        }
        check(!*what, "glob_match_path() agrees with the rules on 200000 random pairs", "%s (%u agreed)", what, agreed);
}

/* Patterns with several '**' against deep paths they do not match: a backtracking matcher
 * takes time that grows with depth to the power of the number of '**' (hours for these). */
static void check_deep_paths(void) {
        static const struct {
                const char *pattern;
                size_t depth;
        } cases[] = {
                { "/a/**/b/**/c",             4000 },
                { "/a/**/b/**/c/**/d/**/e",   400 },
                { "/a/**/a/**/a/**/a/**/z",   2000 },
        };
        char name[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *path = xmalloc(cases[i].depth * 2 + 3), *o = path;
                for (size_t d = 0; d < cases[i].depth; d++)
                        o += sprintf(o, "/%c", d == 0 ? 'a' : "abcd"[d % 4]);
                strcpy(o, "/y");
                snprintf(name, sizeof name, "\"%s\" does not match a path %zu deep (in bounded time)",
                         cases[i].pattern, cases[i].depth + 1);
                check(!glob_match_path(cases[i].pattern, path), name, "it matched");
                free(path);
        }
}

int main(void) {
        char name[512];

        check_against_reference();
        check_deep_paths();

        for (size_t i = 0; i < ELEMENTSOF(match_cases); i++) {
                bool r = glob_match_path(match_cases[i].pattern, match_cases[i].path);
                snprintf(name, sizeof name, "glob_match_path(\"%s\", \"%s\") is %s",
                         match_cases[i].pattern, match_cases[i].path, yesno(match_cases[i].match));
                check(r == match_cases[i].match, name, "got %s", yesno(r));
        }

        for (size_t i = 0; i < ELEMENTSOF(below_cases); i++) {
                bool r = glob_may_match_below(below_cases[i].pattern, below_cases[i].dir);
                snprintf(name, sizeof name, "glob_may_match_below(\"%s\", \"%s\") is %s",
                         below_cases[i].pattern, below_cases[i].dir, yesno(below_cases[i].may));
                check(r == below_cases[i].may, name, "got %s", yesno(r));
        }

        for (size_t i = 0; i < ELEMENTSOF(literal_cases); i++) {
                char *r = glob_literal_dir(literal_cases[i].pattern);
                snprintf(name, sizeof name, "glob_literal_dir(\"%s\") is \"%s\"",
                         literal_cases[i].pattern, literal_cases[i].literal);
                check(r && streq(r, literal_cases[i].literal), name, "got \"%s\"", r ? r : "(null)");
                free(r);
        }

        for (size_t i = 0; i < ELEMENTSOF(is_glob_cases); i++) {
                bool r = string_is_glob(is_glob_cases[i].s);
                snprintf(name, sizeof name, "string_is_glob(\"%s\") is %s",
                         is_glob_cases[i].s, yesno(is_glob_cases[i].glob));
                check(r == is_glob_cases[i].glob, name, "got %s", yesno(r));
        }

        for (size_t i = 0; i < ELEMENTSOF(name_cases); i++) {
                bool r = glob_match_name(name_cases[i].pattern, name_cases[i].name);
                snprintf(name, sizeof name, "glob_match_name(\"%s\", \"%s\") is %s",
                         name_cases[i].pattern, name_cases[i].name, yesno(name_cases[i].match));
                check(r == name_cases[i].match, name, "got %s", yesno(r));
        }

        /* Every path the walk would remove must be reachable: whatever matches below a
         * directory, glob_may_match_below() must allow descending into it. */
        for (size_t i = 0; i < ELEMENTSOF(match_cases); i++) {
                char dir[512];
                char *slash;

                if (!match_cases[i].match)
                        continue;
                snprintf(dir, sizeof dir, "%s", match_cases[i].path);
                while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
                        dir[strlen(dir) - 1] = 0;
                slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        continue;
                *slash = 0;
                bool r = glob_may_match_below(match_cases[i].pattern, dir);
                snprintf(name, sizeof name, "walk reaches \"%s\" through \"%s\" for \"%s\"",
                         match_cases[i].path, dir, match_cases[i].pattern);
                check(r, name, "glob_may_match_below() refused the parent");
        }

        return tests_finish();
}
