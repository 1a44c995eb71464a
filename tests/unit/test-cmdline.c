/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Editing kernel command lines: splitting as the kernel does, a policy's words put in and
 * taken out so that applying twice is applying once and an edit can be taken back, the
 * memory the words reserve, and reading GRUB's defaults files without running them. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "macro.h"
#include "strv.h"
#include "tests.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* Words shown one by one: "a|b|c". */
static char *bars(char * const *words) {
        _cleanup_free_ char *s = xstrdup("");

        STRV_FOREACH(w, words) {
                char *t = xasprintf("%s%s%s", s, w == words ? "" : "|", *w);
                free(s);
                s = t;
        }
        return TAKE_PTR(s);
}

static char *sorted(char * const *words) {
        size_t n = strv_length(words);
        char **copy = xcalloc(n + 1, sizeof(char *));
        char *s;

        memcpy(copy, words, n * sizeof(char *));
        strv_sort(copy);
        s = cmdline_join(copy);
        free(copy);
        return s;
}

static void check_split(void) {
        static const struct { const char *line, *words; } cases[] = {
                { "",                                   "" },
                { "   \t\n ",                           "" },
                { "quiet",                              "quiet" },
                { "  ro   quiet\tsplash \n",            "ro|quiet|splash" },
                { "foo=\"a b\" bar",                    "foo=\"a b\"|bar" },
                { "\"foo=a\tb\"  x",                    "\"foo=a\tb\"|x" },
                { "a=\"unterminated b c",               "a=\"unterminated b c" },
                { "isolcpus=2-7,10 foo=a=b",            "isolcpus=2-7,10|foo=a=b" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **w = cmdline_split(cases[i].line);
                _cleanup_free_ char *got = bars(w);
                check(w && streq(got, cases[i].words), cases[i].line, "got '%s', want '%s'", got, cases[i].words);
        }
        {
                _cleanup_strv_free_ char **w = cmdline_split(NULL);
                _cleanup_free_ char *s = cmdline_join(w);
                check(w && !w[0] && streq(s, ""), "split(NULL) is the empty vector, joined \"\"", NULL);
        }
        {
                _cleanup_strv_free_ char **w = cmdline_split("  a  b=\"c  d\"\t e ");
                _cleanup_free_ char *s = cmdline_join(w);
                check(streq(s, "a b=\"c  d\" e"), "join: single spaces, quoted blanks kept", "got '%s'", s);
        }
}

static void check_keys(void) {
        static const struct { const char *a, *b; bool key, word; } cases[] = {
                { "quiet", "quiet", true, true },
                { "quiet", "quiet=1", true, false },
                { "quiet=", "quiet", true, false },
                { "default-hugepagesz=1G", "default_hugepagesz=2M", true, false },
                { "default-hugepagesz=1G", "default_hugepagesz=1G", true, true },
                { "hugepagesz=1G", "default_hugepagesz=1G", false, false },
                { "hugepages=4", "hugepagesz=4", false, false },
                { "foo=a=b", "foo=a", true, false },
                { "foo=a=b", "foo=a=b", true, true },
                { "\"foo=a b\"", "foo=x", true, false },
                { "\"quiet\"", "quiet", true, true },
                { "rd.break", "rd_break", false, false },
                { "mlx5_core.x=1", "mlx5-core.x=1", true, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = xasprintf("same_key/same_word %s %s", cases[i].a, cases[i].b);
                bool key = cmdline_same_key(cases[i].a, cases[i].b), word = cmdline_same_word(cases[i].a, cases[i].b);
                check(key == cases[i].key && word == cases[i].word && key == cmdline_same_key(cases[i].b, cases[i].a),
                      name, "key %s, word %s", yesno(key), yesno(word));
        }
}

static void check_protected(void) {
        static const struct { const char *word; bool protected; } cases[] = {
                { "root=/dev/sda1", true }, { "rootfstype=ext4", true }, { "rootflags=subvol=@", true },
                { "ro", true }, { "rw", true }, { "init=/sbin/init", true }, { "initrd=/boot/initrd", true },
                { "BOOT_IMAGE=/vmlinuz", true }, { "rootwait", false }, { "rd.break", false },
                { "quiet", false }, { "roo", false }, { "console=ttyS0", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check(cmdline_key_protected(cases[i].word) == cases[i].protected, cases[i].word, "got %s",
                      yesno(!cases[i].protected));
}

typedef struct ApplyCase {
        const char *name, *line, *add, *remove, *want, *added, *removed;
} ApplyCase;

static const ApplyCase apply_cases[] = {
        { "add to an empty line", "", "hugepages=64 mitigations=off", "",
          "hugepages=64 mitigations=off", "hugepages=64 mitigations=off", "" },
        { "add what is there: nothing changes", "ro quiet hugepages=64 console=ttyS0", "quiet hugepages=64", "",
          "ro quiet hugepages=64 console=ttyS0", "", "" },
        { "replace a value in place", "ro hugepages=2 quiet", "hugepages=64", "",
          "ro hugepages=64 quiet", "hugepages=64", "hugepages=2" },
        { "replace a dashed key in place", "ro default-hugepagesz=2M hugepages=2 quiet", "default_hugepagesz=1G hugepages=4", "",
          "ro default_hugepagesz=1G hugepages=4 quiet", "default_hugepagesz=1G hugepages=4", "default-hugepagesz=2M hugepages=2" },
        { "hugepage pairs replaced as a group", "a hugepagesz=2M hugepages=512 b hugepagesz=1G hugepages=2 c",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512", "",
          "a hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512 b c",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512", "hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=2" },
        { "hugepage pairs already there", "a hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512 b",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512", "",
          "a hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512 b", "", "" },
        { "hugepage pairs in another order change", "hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=4",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512", "",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512", "hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=4" },
        { "same count for two sizes kept twice", "", "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4", "",
          "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4", "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4", "" },
        { "hugepagesz= never matches default_hugepagesz= outside the group", "default_hugepagesz=1G quiet", "mitigations=off", "hugepagesz",
          "default_hugepagesz=1G quiet mitigations=off", "mitigations=off", "" },
        { "other values untouched", "isolcpus=2-7,10 foo=a=b modprobe.blacklist=mlx5_core,mlx5_ib x=\"a b\" quiet",
          "nohz_full=2-7,10", "quiet",
          "isolcpus=2-7,10 foo=a=b modprobe.blacklist=mlx5_core,mlx5_ib x=\"a b\" nohz_full=2-7,10",
          "nohz_full=2-7,10", "quiet" },
        { "a quoted value put in", "ro dyndbg=\"file a.c +p\"", "dyndbg=\"file b.c +p\"", "",
          "ro dyndbg=\"file b.c +p\"", "dyndbg=\"file b.c +p\"", "dyndbg=\"file a.c +p\"" },
        { "duplicates removed", "quiet ro quiet", "", "quiet", "ro", "", "quiet quiet" },
        { "duplicates in the line of an added key", "quiet ro quiet", "quiet", "", "quiet ro", "quiet", "quiet quiet" },
        { "duplicates in add count once", "ro", "quiet quiet console=ttyS0 console=ttyS0", "",
          "ro quiet console=ttyS0", "quiet console=ttyS0", "" },
        { "several words of one key, in order", "console=tty0 ro console=ttyS0", "console=ttyS0 console=tty0", "",
          "console=ttyS0 console=tty0 ro", "console=ttyS0 console=tty0", "console=tty0 console=ttyS0" },
        { "remove by key", "splash ro splash=silent quiet", "", "splash", "ro quiet", "", "splash splash=silent" },
        { "remove the exact word", "splash ro splash=silent quiet", "", "splash=silent", "splash ro quiet", "", "splash=silent" },
        { "remove an absent word", "ro quiet", "", "splash nomodeset=1", "ro quiet", "", "" },
        { "remove never takes out what add puts in", "ro quiet", "splash=silent", "splash quiet",
          "ro splash=silent", "splash=silent", "quiet" },
        { "remove never takes out what add keeps", "ro splash=silent", "splash=silent", "splash", "ro splash=silent", "", "" },
        { "add and remove at once", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet splash hugepages=2 crashkernel=auto",
          "hugepages=1024 crashkernel=256M iommu=pt", "splash quiet",
          "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro hugepages=1024 crashkernel=256M iommu=pt",
          "hugepages=1024 crashkernel=256M iommu=pt", "quiet splash hugepages=2 crashkernel=auto" },
};

static bool words_are(char * const *got, const char *want, char **ret_got) {
        _cleanup_strv_free_ char **w = cmdline_split(want);
        _cleanup_free_ char *a = bars(got), *b = bars(w);

        *ret_got = TAKE_PTR(a);
        return streq(*ret_got, b);
}

static void check_apply(void) {
        for (size_t i = 0; i < ELEMENTSOF(apply_cases); i++) {
                const ApplyCase *c = &apply_cases[i];
                _cleanup_strv_free_ char **line = cmdline_split(c->line), **add = cmdline_split(c->add),
                        **remove = cmdline_split(c->remove), **out = NULL;
                _cleanup_free_ char *got = NULL, *added = NULL, *removed = NULL;
                CmdlineEdit e = {};
                bool ok;

                out = cmdline_apply(line, add, remove, &e);
                ok = words_are(out, c->want, &got);
                ok = words_are(e.added, c->added, &added) && ok;
                ok = words_are(e.removed, c->removed, &removed) && ok;
                check(ok, c->name, "got '%s', added '%s', removed '%s'", got, added, removed);
                cmdline_edit_done(&e);
        }
        {
                _cleanup_strv_free_ char **line = cmdline_split("ro quiet"), **rm = cmdline_split("quiet"), **out = NULL;
                _cleanup_free_ char *got = NULL;

                bool ok;

                out = cmdline_apply(line, NULL, rm, NULL);
                ok = words_are(out, "ro", &got);
                check(ok, "apply without an edit to record", "got '%s'", got);
        }
}

/* Applying twice is applying once; taking the edit back gives the line's words back. */
static void check_apply_round_trips(void) {
        for (size_t i = 0; i < ELEMENTSOF(apply_cases); i++) {
                const ApplyCase *c = &apply_cases[i];
                _cleanup_strv_free_ char **line = cmdline_split(c->line), **add = cmdline_split(c->add),
                        **remove = cmdline_split(c->remove), **once = NULL, **twice = NULL, **back = NULL;
                _cleanup_free_ char *name1 = xasprintf("twice = once: %s", c->name), *name2 = xasprintf("undo: %s", c->name);
                _cleanup_free_ char *s1 = NULL, *s2 = NULL, *orig = NULL, *undone = NULL;
                CmdlineEdit e1 = {}, e2 = {};

                once = cmdline_apply(line, add, remove, &e1);
                twice = cmdline_apply(once, add, remove, &e2);
                s1 = cmdline_join(once);
                s2 = cmdline_join(twice);
                check(streq(s1, s2) && !e2.added[0] && !e2.removed[0], name1, "'%s' then '%s'", s1, s2);
                back = cmdline_undo(once, e1.added, e1.removed);
                orig = sorted(line);
                undone = sorted(back);
                check(streq(orig, undone), name2, "got '%s', want '%s'", undone, orig);
                cmdline_edit_done(&e1);
                cmdline_edit_done(&e2);
        }
}

static void check_undo(void) {
        static const struct { const char *name, *now, *added, *removed, *want; } cases[] = {
                { "nothing to take back", "ro quiet", "", "", "ro quiet" },
                { "added taken out, removed put back at the end", "ro hugepages=64 console=ttyS0", "hugepages=64", "hugepages=2 quiet",
                  "ro console=ttyS0 hugepages=2 quiet" },
                { "an added word gone since stays gone", "ro console=ttyS0", "hugepages=64", "hugepages=2", "ro console=ttyS0 hugepages=2" },
                { "someone set the key since: theirs wins", "ro hugepages=128", "hugepages=64", "hugepages=2", "ro hugepages=128" },
                { "the hugepage group is one key", "ro hugepages=128", "hugepagesz=1G hugepages=4", "hugepagesz=2M hugepages=2",
                  "ro hugepages=128" },
                { "group words all come back", "ro hugepagesz=1G hugepages=4", "hugepagesz=1G hugepages=4",
                  "hugepagesz=2M hugepages=2 hugepagesz=1G hugepages=1", "ro hugepagesz=2M hugepages=2 hugepagesz=1G hugepages=1" },
                { "a flag comes back unless the same word is there", "ro splash=silent", "", "splash quiet", "ro splash=silent splash quiet" },
                { "a flag there already", "ro quiet", "", "quiet", "ro quiet" },
                { "a flag of the key keeps no value out", "ro splash", "", "splash=silent", "ro splash splash=silent" },
                { "one occurrence per record", "quiet ro quiet", "quiet", "", "ro quiet" },
                { "a key's several words come back", "ro console=hvc0", "console=hvc0", "console=tty0 console=ttyS0",
                  "ro console=tty0 console=ttyS0" },
                { "added words compared as words", "ro default-hugepagesz=1G", "default_hugepagesz=1G", "", "ro" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **now = cmdline_split(cases[i].now), **added = cmdline_split(cases[i].added),
                        **removed = cmdline_split(cases[i].removed), **out = NULL;
                _cleanup_free_ char *got = NULL;
                bool ok;

                out = cmdline_undo(now, added, removed);
                ok = words_are(out, cases[i].want, &got);
                check(ok, cases[i].name, "got '%s'", got);
        }
        {
                _cleanup_strv_free_ char **out = cmdline_undo(NULL, NULL, NULL);
                check(out && !out[0], "undo of nothing on nothing", NULL);
        }
}

/* A policy changed from A to B: undoing A's edit and applying B gives what B alone gives. */
static void check_policy_change(void) {
        static const struct { const char *line, *add_a, *remove_a, *add_b, *remove_b; } cases[] = {
                { "ro quiet hugepages=2 console=ttyS0", "hugepages=64", "quiet", "hugepages=128", "" },
                { "ro quiet splash", "hugepagesz=1G hugepages=4", "splash", "hugepagesz=2M hugepages=512 iommu=pt", "quiet" },
                { "", "mitigations=off", "", "mitigations=auto nosmt", "" },
                { "root=/dev/vda1 isolcpus=2-7,10 quiet", "isolcpus=2-3", "", "", "quiet" },
                { "a b=1 c", "b=2 d", "a", "b=1", "c" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **line = cmdline_split(cases[i].line), **aa = cmdline_split(cases[i].add_a),
                        **ra = cmdline_split(cases[i].remove_a), **ab = cmdline_split(cases[i].add_b),
                        **rb = cmdline_split(cases[i].remove_b), **with_a = NULL, **back = NULL, **changed = NULL,
                        **direct = NULL;
                _cleanup_free_ char *name = xasprintf("policy change on '%s'", cases[i].line), *got = NULL, *want = NULL;
                CmdlineEdit e = {};

                with_a = cmdline_apply(line, aa, ra, &e);
                back = cmdline_undo(with_a, e.added, e.removed);
                changed = cmdline_apply(back, ab, rb, NULL);
                direct = cmdline_apply(line, ab, rb, NULL);
                got = sorted(changed);
                want = sorted(direct);
                check(streq(got, want), name, "got '%s', want '%s'", got, want);
                cmdline_edit_done(&e);
        }
}

static void check_reserved(void) {
        static const struct {
                const char *line;
                uint64_t mem_total, page_size;
                int r;
                uint64_t bytes;
                const char *bad;
        } cases[] = {
                { "ro quiet",                                           16 * GiB, 0, 0, 0, NULL },
                { "hugepages=64",                                       16 * GiB, 0, 0, 128 * MiB, NULL },
                { "hugepages=64",                                       16 * GiB, 1 * GiB, 0, 64 * GiB, NULL },
                { "hugepagesz=1G hugepages=4",                          16 * GiB, 0, 0, 4 * GiB, NULL },
                { "hugepagesz=1g hugepages=4 hugepagesz=2M hugepages=512", 16 * GiB, 0, 0, 5 * GiB, NULL },
                { "hugepagesz=2048K hugepages=2 hugepagesz=1073741824 hugepages=1", 16 * GiB, 0, 0, 1 * GiB + 4 * MiB, NULL },
                { "hugepagesz=0x40000000 hugepages=1",                  16 * GiB, 0, 0, 1 * GiB, NULL },
                { "hugepages=4 default_hugepagesz=1G",                  16 * GiB, 0, 0, 4 * GiB, NULL },
                { "default-hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=8", 16 * GiB, 0, 0, 2 * GiB + 16 * MiB, NULL },
                { "hugepages=0:2,1:2",                                  16 * GiB, 0, 0, 8 * MiB, NULL },
                { "hugepagesz=1G hugepages=0:1,1:3",                    16 * GiB, 0, 0, 4 * GiB, NULL },
                { "hugepages=\"16\"",                                   16 * GiB, 0, 0, 32 * MiB, NULL },
                { "crashkernel=256M",                                   16 * GiB, 0, 0, 256 * MiB, NULL },
                { "crashkernel=128M crashkernel=256M",                  16 * GiB, 0, 0, 256 * MiB, NULL },
                { "crashkernel=256M@16M",                               16 * GiB, 0, 0, 256 * MiB, NULL },
                { "crashkernel=1G,high crashkernel=256M,low",           16 * GiB, 0, 0, 1280 * MiB, NULL },
                { "crashkernel=1G,high",                                16 * GiB, 0, 0, 1 * GiB, NULL },
                { "crashkernel=512M crashkernel=1G,high crashkernel=256M,low", 16 * GiB, 0, 0, 512 * MiB, NULL },
                { "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",       2 * GiB, 0, 0, 192 * MiB, NULL },
                { "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",       16 * GiB, 0, 0, 256 * MiB, NULL },
                { "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",       128 * GiB, 0, 0, 512 * MiB, NULL },
                { "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",       512 * MiB, 0, 0, 0, NULL },
                { "crashkernel=1G-4G:192M,4G-64G:256M",                 64 * GiB, 0, 0, 0, NULL },
                { "crashkernel=384M-:128M",                             16 * GiB, 0, 0, 128 * MiB, NULL },
                { "crashkernel=512M-2G:64M,2G-:128M@16M",               16 * GiB, 0, 0, 128 * MiB, NULL },
                { "hugepagesz=1G hugepages=2 crashkernel=256M",         16 * GiB, 0, 0, 2 * GiB + 256 * MiB, NULL },
                { "ro hugepages=lots quiet",                            16 * GiB, 0, -EINVAL, 0, "hugepages=lots" },
                { "hugepages=-1",                                       16 * GiB, 0, -EINVAL, 0, "hugepages=-1" },
                { "hugepages=0:2,1",                                    16 * GiB, 0, -EINVAL, 0, "hugepages=0:2,1" },
                { "hugepagesz=1Q hugepages=1",                          16 * GiB, 0, -EINVAL, 0, "hugepagesz=1Q" },
                { "hugepages=1 default_hugepagesz=big",                 16 * GiB, 0, -EINVAL, 0, "default_hugepagesz=big" },
                { "hugepagesz=1E hugepages=100",                        16 * GiB, 0, -EINVAL, 0, "hugepages=100" },
                { "hugepagesz=99999999999999999999",                    16 * GiB, 0, -EINVAL, 0, "hugepagesz=99999999999999999999" },
                { "crashkernel=auto",                                   16 * GiB, 0, -EINVAL, 0, "crashkernel=auto" },
                { "crashkernel=256M@",                                  16 * GiB, 0, -EINVAL, 0, "crashkernel=256M@" },
                { "crashkernel=256Mx",                                  16 * GiB, 0, -EINVAL, 0, "crashkernel=256Mx" },
                { "crashkernel=4G-1G:64M",                              16 * GiB, 0, -EINVAL, 0, "crashkernel=4G-1G:64M" },
                { "crashkernel=1G-:",                                   16 * GiB, 0, -EINVAL, 0, "crashkernel=1G-:" },
                { "crashkernel=1G:64M",                                 16 * GiB, 0, -EINVAL, 0, "crashkernel=1G:64M" },
                { "crashkernel=x,high",                                 16 * GiB, 0, -EINVAL, 0, "crashkernel=x,high" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **w = cmdline_split(cases[i].line);
                _cleanup_free_ char *name = xasprintf("reserved_bytes '%s' at %" PRIu64 " MiB", cases[i].line,
                                                      (uint64_t) (cases[i].mem_total / MiB));
                uint64_t bytes = 0;
                const char *bad = NULL;
                int r = cmdline_reserved_bytes(w, cases[i].mem_total, cases[i].page_size, &bytes, &bad);
                bool in_words = false;

                STRV_FOREACH(p, w)
                        in_words = in_words || *p == bad;
                check(r == cases[i].r && (r < 0 || bytes == cases[i].bytes) &&
                      (r == 0 || (in_words && streq(bad, cases[i].bad))),
                      name, "r=%d, %" PRIu64 " bytes, word '%s'", r, bytes, strempty(bad));
        }
}

static void check_floor(void) {
        static const struct { uint64_t mem_total, floor; } cases[] = {
                { 512 * MiB, 512 * MiB }, { 2 * GiB, 1 * GiB }, { 4 * GiB - 1, 1 * GiB }, { 4 * GiB, 2 * GiB },
                { 16 * GiB, 4 * GiB }, { 32 * GiB, 8 * GiB }, { 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = xasprintf("memory_floor at %" PRIu64 " bytes", cases[i].mem_total);
                uint64_t f = cmdline_memory_floor(cases[i].mem_total);
                check(f == cases[i].floor, name, "got %" PRIu64, f);
        }
}

#define DEBIAN_DEFAULT \
        "# If you change this file, run 'update-grub' afterwards to update\n" \
        "# /boot/grub/grub.cfg.\n" \
        "\n" \
        "GRUB_DEFAULT=0\n" \
        "GRUB_TIMEOUT=5\n" \
        "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n" \
        "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n" \
        "GRUB_CMDLINE_LINUX=\"\"\n" \
        "\n" \
        "# Uncomment to disable graphical terminal\n" \
        "#GRUB_TERMINAL=console\n"

static void check_grub_eval(void) {
        static const struct {
                const char *name, *text, *var, *start;
                int r;
                const char *want;
                unsigned line;
        } cases[] = {
                { "Debian's default file: LINUX_DEFAULT", DEBIAN_DEFAULT, "GRUB_CMDLINE_LINUX_DEFAULT", NULL, 0, "quiet", 0 },
                { "Debian's default file: LINUX", DEBIAN_DEFAULT, "GRUB_CMDLINE_LINUX", "stale", 0, "", 0 },
                { "Debian's default file: the backticks of another variable", DEBIAN_DEFAULT, "GRUB_DISTRIBUTOR", NULL,
                  -EINVAL, NULL, 6 },
                { "kdump-tools' drop-in", "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX crashkernel=384M-:128M\"\n",
                  "GRUB_CMDLINE_LINUX", "console=ttyS0", 0, "console=ttyS0 crashkernel=384M-:128M", 0 },
                { "kdump-tools' drop-in, unset before", "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX crashkernel=384M-:128M\"\n",
                  "GRUB_CMDLINE_LINUX", NULL, 0, " crashkernel=384M-:128M", 0 },
                { "braces", "X=\"${X} more\"\nX=\"$X\"end\n", "X", "a", 0, "a moreend", 0 },
                { "unquoted word", "X=iommu=pt\n", "X", "old", 0, "iommu=pt", 0 },
                { "single quotes expand nothing", "X='$X \"a b\" \\n'\n", "X", "old", 0, "$X \"a b\" \\n", 0 },
                { "double quotes keep other backslashes", "X=\"a\\\"b\\$c\\\\d\\e\"\n", "X", NULL, 0, "a\"b$c\\d\\e", 0 },
                { "mixed quoting in one word", "X=a'b c'\"$Y\"d\n", "X", NULL, 0, "ab cd", 0 },
                { "export", "export X=\"quiet splash\"\nexport X\n", "X", NULL, 0, "quiet splash", 0 },
                { "other variables", "BASE=\"ro quiet\"\nEXTRA=iommu=pt\nX=\"$BASE ${EXTRA} $UNKNOWN\"\n", "X", NULL, 0,
                  "ro quiet iommu=pt ", 0 },
                { "several on a line and ';'", "A=1 B=2; X=\"$A$B\" # comment\n", "X", NULL, 0, "12", 0 },
                { "comments and blank lines", "\n  # X=\"no\"\n\t\nX=yes # X=no\n#X=no\n", "X", NULL, 0, "yes", 0 },
                { "a '#' inside a word is no comment", "X=a#b\n", "X", NULL, 0, "a#b", 0 },
                { "an apostrophe in a comment", "# don't\nX=1\n", "X", NULL, 0, "1", 0 },
                { "continuation", "X=\"quiet \\\n  splash\"\nY=1 \\\n  X=\"$X 2\"\n", "X", NULL, 0, "quiet   splash 2", 0 },
                { "a quoted value over two lines", "X=\"a\nb\"\nZ=$(date)\n", "X", NULL, 0, "a\nb", 0 },
                { "the last assignment wins", "X=1\nX=2\nX=3\n", "X", NULL, 0, "3", 0 },
                { "untouched: the value stays", "Y=1\n", "X", "kept", 0, "kept", 0 },
                { "a lone '$' is a dollar", "X=\"a $ b\"\n", "X", NULL, 0, "a $ b", 0 },
                { "a prefix of the name is another variable", "XY=1\nX=$XY\n", "X", NULL, 0, "1", 0 },
                { "a variable known again", "Y=$(date)\nY=2\nX=$Y\n", "X", NULL, 0, "2", 0 },
                { "unset of another variable", "Y=1\nunset Y\nX=\"$Y\"\n", "X", NULL, 0, "", 0 },
                { "unreadable lines of others ignored", "echo hello\nY=`date`\nif true; then Z=1; fi\nX=1\n", "X", NULL, 0, "1", 0 },
                { "$(...) refused with its line", "X=1\n\nX=\"$(cat /etc/foo)\"\n", "X", NULL, -EINVAL, NULL, 3 },
                { "backticks refused", "X=`uname -r`\n", "X", NULL, -EINVAL, NULL, 1 },
                { "'. file' refused", "X=1\n. /etc/foo\n", "X", NULL, -EINVAL, NULL, 2 },
                { "'source' refused", "Y=1; source /etc/foo\n", "X", NULL, -EINVAL, NULL, 1 },
                { "+= refused", "X=1\nX+=\" 2\"\n", "X", NULL, -EINVAL, NULL, 2 },
                { "unset refused", "X=1\nunset X\n", "X", NULL, -EINVAL, NULL, 2 },
                { "${X:-x} refused", "X=\"${X:-quiet}\"\n", "X", NULL, -EINVAL, NULL, 1 },
                { "$1 refused", "X=\"$1\"\n", "X", NULL, -EINVAL, NULL, 1 },
                { "an if refused", "X=1\nif [ -e /x ]; then\n  X=2\nfi\n", "X", NULL, -EINVAL, NULL, 3 },
                { "an if on one line refused", "if true; then X=2; fi\n", "X", NULL, -EINVAL, NULL, 1 },
                { "inside an if refused", "if [ -e /x ]; then\n  Y=1\n  X=2\nfi\n", "X", NULL, -EINVAL, NULL, 3 },
                { "after an if is read again", "if [ -e /x ]; then\n  Y=1\nfi\nX=2\n", "X", NULL, 0, "2", 0 },
                { "with a command refused", "X=1 true\n", "X", NULL, -EINVAL, NULL, 1 },
                { "a pipe refused", "X=1 | cat\n", "X", NULL, -EINVAL, NULL, 1 },
                { "an unknown value refused", "Y=$(date)\nX=\"$Y\"\n", "X", NULL, -EINVAL, NULL, 2 },
                { "an unterminated quote refused", "X=\"a\n", "X", NULL, -EINVAL, NULL, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *value = cases[i].start ? xstrdup(cases[i].start) : NULL;
                unsigned line = 0;
                int r = grub_defaults_eval(cases[i].text, cases[i].var, &value, &line);

                check(r == cases[i].r && (r < 0 ? line == cases[i].line : streq(strempty(value), cases[i].want)),
                      cases[i].name, "r=%d, line %u, value '%s'", r, line, strempty(value));
        }
}

static void check_grub_write(void) {
        static const struct { const char *value, *want; } assignments[] = {
                { "quiet splash", "X=\"quiet splash\"" },
                { "", "X=\"\"" },
                { "a\"b\\c$d`e'f", "X=\"a\\\"b\\\\c\\$d\\`e'f\"" },
        };
        static const struct { const char *name, *text, *want; } replacements[] = {
                { "replace", "A=1\nX=\"old\"\nB=2\n", "A=1\nX=\"new\"\nB=2\n" },
                { "replace the first only", "X=1\nX=2\n", "X=\"new\"\nX=2\n" },
                { "replace an export", "  export X=1 # note\nB=2", "X=\"new\"\nB=2" },
                { "replace continued lines", "X=\"a \\\n b\"\nB=2\n", "X=\"new\"\nB=2\n" },
                { "replace a quoted value over lines", "X=\"a\nb\"\nB=2\n", "X=\"new\"\nB=2\n" },
                { "not a prefix", "XY=1\n#X=2\n", "XY=1\n#X=2\nX=\"new\"\n" },
                { "append", "A=1\n", "A=1\nX=\"new\"\n" },
                { "append after a last line without newline", "A=1", "A=1\nX=\"new\"\n" },
                { "append to nothing", "", "X=\"new\"\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(assignments); i++) {
                _cleanup_free_ char *got = grub_defaults_assignment("X", assignments[i].value), *back = NULL;
                check(streq(got, assignments[i].want) && grub_defaults_eval(got, "X", &back, NULL) == 0 &&
                      streq(strempty(back), assignments[i].value), assignments[i].want, "got '%s', read back '%s'", got,
                      strempty(back));
        }
        for (size_t i = 0; i < ELEMENTSOF(replacements); i++) {
                _cleanup_free_ char *got = text_replace_assignment(replacements[i].text, "X", "X=\"new\"");
                check(streq(got, replacements[i].want), replacements[i].name, "got '%s'", got);
        }
}

int main(void) {
        check_split();
        check_keys();
        check_protected();
        check_apply();
        check_apply_round_trips();
        check_undo();
        check_policy_change();
        check_reserved();
        check_floor();
        check_grub_eval();
        check_grub_write();
        return tests_finish();
}
