/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy parsing, merging and the search path (dpuos-trim.conf(5)): the systemd drop-in
 * rules a vendor relies on, and the refusals that keep a bad policy from changing anything. */
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "policy.h"
#include "strv.h"
#include "tests.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *strv_join(char * const *l) {
        size_t n = 1;
        char *s, *p;

        STRV_FOREACH(i, l)
                n += strlen(*i) + 1;
        p = s = xmalloc(n);
        *p = 0;
        STRV_FOREACH(i, l)
                p += sprintf(p, "%s%s", p == s ? "" : " ", *i);
        return s;
}

/* Compares a list with a space-separated expectation ("" for the empty list). */
static bool strv_is(char * const *l, const char *expected) {
        _cleanup_free_ char *got = strv_join(l);
        return streq(got, expected);
}

static bool check_list(const char *name, char * const *l, const char *expected) {
        _cleanup_free_ char *got = strv_join(l);
        return check(streq(got, expected), name, "got [%s], expected [%s]", got, expected);
}

static bool has_error(const Policy *p, const char *prefix, const char *needle) {
        STRV_FOREACH(e, p->errors)
                if (startswith(*e, prefix) && (!needle || strstr(*e, needle)))
                        return true;
        return false;
}

static const Setting *find_setting(const Setting *s, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(s[i].key, key))
                        return &s[i];
        return NULL;
}

/* Parses each text as its own file ("a.conf", "b.conf", ...) into one policy. */
static int parse_all(Policy *p, const char * const *texts) {
        int ret = 0;
        for (size_t i = 0; texts[i]; i++) {
                char name[16];
                snprintf(name, sizeof name, "%c.conf", (char) ('a' + i));
                int r = policy_parse_string(p, name, texts[i]);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

/* ---- merging ---------------------------------------------------------------------------- */

static void test_merge(void) {
        Policy p = {};
        int r;

        r = parse_all(&p, (const char *[]) {
                "[Policy]\nName=first\nOnFailure=stop\n"
                "[Units]\nMask=cups.service avahi-daemon.*\nKeep=sshd.service\nStop=yes\n"
                "[Modules]\nBlacklist=floppy pcspkr\nUnload=floppy\n"
                "[Files]\nRemove=/usr/share/doc/**\n",
                "[Policy]\nName=second\nOnFailure=continue\n"
                "[Units]\nMask=bluetooth.service cups.service\nStop=no\n"
                "[Modules]\nBlacklist=snd-pcm\n"
                "[Files]\nRemove=/usr/share/man/**\nKeep=/usr/share/doc/*/copyright\n",
                NULL });
        check(r == 0 && !p.errors, "two valid files parse without errors", "r=%d", r);
        check(p.name && streq(p.name, "second"), "scalar Name= takes the last value", "got %s", p.name ?: "(null)");
        check(!p.on_failure_stop, "scalar OnFailure= takes the last value", NULL);
        check(!p.unit_stop, "scalar Stop= takes the last value", NULL);
        check_list("list Mask= accumulates across files, without duplicates", p.unit_mask,
                   "cups.service avahi-daemon.* bluetooth.service");
        check_list("list Keep= of [Units] is kept", p.unit_keep, "sshd.service");
        check_list("module names accumulate and '-' becomes '_'", p.module_blacklist, "floppy pcspkr snd_pcm");
        check_list("Unload= is its own list", p.module_unload, "floppy");
        check_list("Remove= accumulates", p.file_remove, "/usr/share/doc/** /usr/share/man/**");
        check_list("Keep= of [Files] accumulates", p.file_keep, "/usr/share/doc/*/copyright");
        check_list("sources lists the files in the order read", p.sources, "a.conf b.conf");
        policy_done(&p);

        r = parse_all(&p, (const char *[]) {
                "[Units]\nMask=a.service b.service\n[Modules]\nBlacklist=x\nKeep=y\n[Files]\nRemove=/usr/share/doc/**\n",
                "[Units]\nMask=\nMask=c.service\n[Modules]\nBlacklist=\nKeep=\n[Files]\nRemove=\n",
                NULL });
        check(r == 0, "empty assignments are valid", "r=%d", r);
        check_list("Mask= clears the list so far, later entries stay", p.unit_mask, "c.service");
        check_list("Blacklist= clears the list", p.module_blacklist, "");
        check_list("Keep= of [Modules] clears the list", p.module_keep, "");
        check_list("Remove= clears the list", p.file_remove, "");
        policy_done(&p);

        /* Kernel arguments keep their order and their repeats: pairs of hugepagesz= and
         * hugepages= reserve pages of each size. */
        r = policy_parse_string(&p, "k.conf", "[Kernel]\nArguments=hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4\n"
                                "RemoveArguments=quiet\nReboot=no\n[Modules]\nRebuildInitramfs=no\n");
        check(r == 0 && !p.errors, "[Kernel] and RebuildInitramfs= parse", "r=%d", r);
        check_list("Arguments= keeps order and repeats", p.kernel_args, "hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4");
        check_list("RemoveArguments= is its own list", p.kernel_remove, "quiet");
        check(p.kernel_reboot_no && p.initramfs_no_rebuild, "Reboot=no and RebuildInitramfs=no are read", NULL);
        policy_done(&p);

        /* An empty assignment in the same file clears only what came before it. */
        r = policy_parse_string(&p, "x.conf", "[Units]\nMask=a.service\nMask=\nMask=b.service\nMask=d.service\n");
        check(r == 0 && strv_is(p.unit_mask, "b.service d.service"),
              "Mask= within one file clears only the earlier lines", "r=%d", r);
        policy_done(&p);

        r = policy_parse_string(&p, "x.conf", "[Policy]\nName=x\nName=\n");
        check(r == 0 && !p.name, "Name= with an empty value unsets the name", "name=%s", p.name ?: "(null)");
        policy_done(&p);

        r = policy_parse_string(&p, "x.conf", "[Units]\nStop=true\nStop=off\nStop=1\n");
        check(r == 0 && p.unit_stop, "booleans accept true/off/1 and the last one wins", "r=%d", r);
        policy_done(&p);

        r = policy_parse_string(&p, "x.conf", "[Files]\nRemove=/usr/share/doc/**\nPreventReinstall=yes\n");
        check(r == 0 && p.file_prevent_reinstall, "[Files] PreventReinstall=yes is read", "r=%d", r);
        policy_done(&p);
}

/* ---- [Sysctl] and [Sysfs] ----------------------------------------------------------------- */

static void test_settings(void) {
        Policy p = {};
        const Setting *s;
        int r;

        r = parse_all(&p, (const char *[]) {
                "[Sysctl]\nvm.swappiness = 10\n-net.core.bpf_jit_harden = 1\nkernel/sysrq = 1\n"
                "net/ipv4/conf/eth0.100/rp_filter = 2\nkernel.dmesg_restrict = 1\n",
                "[Sysctl]\n\n# a comment\nvm.swappiness = 20\nkernel.sysrq = 0\nkernel.dmesg_restrict =\n",
                NULL });
        check(r == 0 && !p.errors, "sysctl files parse", "r=%d", r);

        s = find_setting(p.sysctl, p.n_sysctl, "vm.swappiness");
        check(s && streq(s->value, "20"), "sysctl: the later value wins", "got %s", s ? s->value : "(missing)");

        s = find_setting(p.sysctl, p.n_sysctl, "net.core.bpf_jit_harden");
        check(s && s->ignore_missing && streq(s->value, "1"), "sysctl: a leading '-' sets ignore_missing", NULL);

        s = find_setting(p.sysctl, p.n_sysctl, "kernel.sysrq");
        check(s && streq(s->value, "0") && !find_setting(p.sysctl, p.n_sysctl, "kernel/sysrq"),
              "sysctl: 'kernel/sysrq' is 'kernel.sysrq', so a later dotted key replaces it", NULL);

        check(find_setting(p.sysctl, p.n_sysctl, "net.ipv4.conf.eth0/100.rp_filter") != NULL,
              "sysctl: with '/' separators a '.' in a segment stays (eth0.100)", NULL);
        check(!find_setting(p.sysctl, p.n_sysctl, "kernel.dmesg_restrict"),
              "sysctl: an empty value drops the key", NULL);
        check(p.n_sysctl == 4, "sysctl: four keys remain", "got %zu", p.n_sysctl);
        policy_done(&p);

        r = parse_all(&p, (const char *[]) {
                "[Sysctl]\n-vm.overcommit_memory = 1\n",
                "[Sysctl]\nvm.overcommit_memory = 2\n",
                NULL });
        s = find_setting(p.sysctl, p.n_sysctl, "vm.overcommit_memory");
        check(r == 0 && s && !s->ignore_missing && streq(s->value, "2"),
              "sysctl: a later line without '-' makes the key required again", NULL);
        policy_done(&p);

        r = policy_parse_string(&p, "s.conf",
                                "[Sysfs]\n/sys/kernel/mm/transparent_hugepage/enabled = never\n"
                                "-/proc/irq/default_smp_affinity = 1\n"
                                "/sys/kernel/mm/transparent_hugepage/enabled = madvise\n");
        s = find_setting(p.sysfs, p.n_sysfs, "/sys/kernel/mm/transparent_hugepage/enabled");
        check(r == 0 && p.n_sysfs == 2 && s && streq(s->value, "madvise"),
              "sysfs: the later value of a path wins", "r=%d n=%zu", r, p.n_sysfs);
        s = find_setting(p.sysfs, p.n_sysfs, "/proc/irq/default_smp_affinity");
        check(s && s->ignore_missing, "sysfs: a leading '-' sets ignore_missing", NULL);
        policy_done(&p);

        /* sysfs paths of PCI devices hold ':' (0000:03:00.0); the key must be the whole path
         * and the value what follows '='. */
        r = policy_parse_string(&p, "pci.conf",
                                "[Sysfs]\n/sys/bus/pci/devices/0000:03:00.0/power/control = auto\n");
        s = find_setting(p.sysfs, p.n_sysfs, "/sys/bus/pci/devices/0000:03:00.0/power/control");
        check(r == 0 && s && streq(s->value, "auto"),
              "sysfs: a path with ':' is one key (PCI addresses)",
              "r=%d, keys: %s = %s", r, p.n_sysfs ? p.sysfs[0].key : "(none)",
              p.n_sysfs ? p.sysfs[0].value : "");
        policy_done(&p);
}

/* ---- names ---------------------------------------------------------------------------------- */

static void test_names(void) {
        static const struct {
                const char *s;
                bool glob, valid;
        } units[] = {
                { "cups.service",            false, true  },
                { "getty@tty1.service",      false, true  },
                { "getty@.service",          false, true  },
                { "systemd-journald.socket", false, true  },
                { "dev-sda1.device",         false, true  },
                { "cups",                    false, false },
                { ".service",                false, false },
                { "cups.bogus",              false, false },
                { "../cups.service",         false, false },
                { "a/b.service",             false, false },
                { "cups service",            false, false },
                { "avahi-daemon.*",          false, false },
                { "avahi-daemon.*",          true,  true  },
                { "",                        true,  false },
        };
        static const struct {
                const char *s;
                bool glob, valid;
        } modules[] = {
                { "floppy",      false, true  },
                { "snd-hda-intel", false, true },
                { "mlx5_core",   false, true  },
                { "snd_*",       false, false },
                { "snd_*",       true,  true  },
                { "floppy.ko",   false, false },
                { "a/b",         true,  false },
                { "",            false, false },
                { "a234567890123456789012345678901234567890123456789012345", false, true  }, /* 55 */
                { "a2345678901234567890123456789012345678901234567890123456", false, false }, /* 56 */
        };
        char name[160];

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                bool r = unit_name_is_valid(units[i].s, units[i].glob);
                snprintf(name, sizeof name, "unit_name_is_valid(\"%s\", %s) is %s", units[i].s,
                         yesno(units[i].glob), yesno(units[i].valid));
                check(r == units[i].valid, name, "got %s", yesno(r));
        }
        for (size_t i = 0; i < ELEMENTSOF(modules); i++) {
                bool r = module_name_is_valid(modules[i].s, modules[i].glob);
                snprintf(name, sizeof name, "module_name_is_valid(\"%.20s\"%s, %s) is %s", modules[i].s,
                         strlen(modules[i].s) > 20 ? "..." : "", yesno(modules[i].glob), yesno(modules[i].valid));
                check(r == modules[i].valid, name, "got %s", yesno(r));
        }

        _cleanup_free_ char *n = module_name_normalize("snd-hda-intel");
        check(streq(n, "snd_hda_intel"), "module_name_normalize turns '-' into '_'", "got %s", n);
}

/* ---- file patterns -------------------------------------------------------------------------- */

static void test_file_patterns(void) {
        static const struct {
                const char *pattern;
                bool for_removal;
                bool ok;
        } cases[] = {
                { "/usr/share/doc/**",               true,  true  },
                { "/usr/share/locale/*/LC_MESSAGES", true,  true  },
                { "/usr/lib/x86_64-linux-gnu/**",    true,  true  },
                { "/etc/foo",                        true,  true  },
                { "/",                               true,  false },
                { "/*",                              true,  false },
                { "/**",                             true,  false },
                { "/usr",                            true,  false },
                { "/usr/**",                         true,  false },
                { "/etc/pass*",                      true,  false },
                { "/usr/share/../../etc/**",         true,  false },
                { "/usr/share/./doc/**",             true,  false },
                { "/usr/share/..",                   true,  false },
                { "/usr//share/doc/**",              true,  false },
                { "usr/share/doc/**",                true,  false },
                { "",                                true,  false },
                { "/usr/share/doc/",                 true,  false },
                { "/usr/share/doc/..hidden",         true,  true  },
                { "/usr/share/**/**/**/**/**",       true,  false },
                /* Keep= is not a removal: broad patterns are fine, bad syntax is not */
                { "/usr/**",                         false, true  },
                { "/*",                              false, true  },
                { "relative/x",                      false, false },
                { "/usr/../etc",                     false, false },
        };
        char name[160];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *why = NULL;
                int r = file_pattern_check(cases[i].pattern, cases[i].for_removal, &why);
                snprintf(name, sizeof name, "file_pattern_check(\"%s\", %s) %s", cases[i].pattern,
                         cases[i].for_removal ? "removal" : "keep", cases[i].ok ? "accepts" : "refuses");
                check((r >= 0) == cases[i].ok && (r >= 0 || why), name, "r=%d why=%s", r, why ?: "(none)");
        }
}

/* ---- errors as FILE:LINE: message -------------------------------------------------------- */

static void test_errors(void) {
        static const struct {
                const char *what;
                const char *text;
                const char *prefix;   /* the expected start of the first error */
                const char *needle;   /* and a word it must contain */
        } cases[] = {
                { "unknown section",        "[Policy]\nName=x\n[Bogus]\nA=b\n",             "bad.conf:3: ", "Bogus" },
                { "unknown key",            "# c\n[Units]\nMask=a.service\nColour=red\n",   "bad.conf:4: ", "Colour" },
                { "assignment outside a section", "Name=x\n[Policy]\n",                     "bad.conf:1: ", "section" },
                { "missing ']'",            "[Policy]\nName=x\n[Units\nMask=a.service\n",   "bad.conf:3: ", NULL },
                { "text after ']'",         "[Units] x\n",                                  "bad.conf:1: ", NULL },
                { "a line without '='",     "[Policy]\n\nName\n",                           "bad.conf:3: ", NULL },
                { "bad boolean",            "[Units]\nStop=maybe\n",                        "bad.conf:2: ", "maybe" },
                { "bad PreventReinstall",   "[Files]\nPreventReinstall=dpkg\n",             "bad.conf:2: ", "dpkg" },
                { "bad OnFailure",          "[Policy]\nOnFailure=abort\n",                  "bad.conf:2: ", "abort" },
                { "invalid unit name",      "[Units]\nMask=cups.service cups\n",            "bad.conf:2: ", "'cups'" },
                { "invalid unit in Keep",   "[Units]\nKeep=a/b.service\n",                  "bad.conf:2: ", NULL },
                { "invalid module name",    "[Modules]\nBlacklist=floppy.ko\n",             "bad.conf:2: ", "floppy.ko" },
                { "invalid module in Keep", "[Modules]\nKeep=mlx5$\n",                      "bad.conf:2: ", NULL },
                { "bad RebuildInitramfs",   "[Modules]\nRebuildInitramfs=yes\n",            "bad.conf:2: ", "'yes'" },
                { "protected kernel root=", "[Kernel]\nArguments=iommu=pt root=/dev/sda2\n", "bad.conf:2: ", "root=/dev/sda2" },
                { "protected kernel init",  "[Kernel]\nRemoveArguments=init\n",             "bad.conf:2: ", "protected" },
                { "quote in an argument",   "[Kernel]\nArguments=foo=\"a\n",                "bad.conf:2: ", "quote" },
                { "$ in an argument",       "[Kernel]\nArguments=x=$(reboot)\n",           "bad.conf:2: ", NULL },
                { "bad Reboot=",            "[Kernel]\nReboot=yes\n",                      "bad.conf:2: ", "'yes'" },
                { "Remove=/",               "[Files]\nRemove=/\n",                          "bad.conf:2: ", NULL },
                { "Remove=/*",              "[Files]\nRemove=/*\n",                         "bad.conf:2: ", NULL },
                { "Remove=/**",             "[Files]\nRemove=/**\n",                        "bad.conf:2: ", NULL },
                { "Remove=/usr/**",         "[Files]\nRemove=/usr/share/doc/** /usr/**\n",  "bad.conf:2: ", "/usr/**" },
                { "'..' in Remove=",        "[Files]\nRemove=/usr/share/doc/../../etc/*\n", "bad.conf:2: ", ".." },
                { "'//' in Remove=",        "[Files]\nRemove=/usr//share/doc/**\n",         "bad.conf:2: ", "//" },
                { "relative Remove=",       "[Files]\nRemove=usr/share/doc/**\n",           "bad.conf:2: ", "absolute" },
                { "relative Keep=",         "[Files]\nKeep=doc/*\n",                        "bad.conf:2: ", "absolute" },
                { "glob in a sysctl key",   "[Sysctl]\nnet.ipv4.conf.*.rp_filter = 1\n",    "bad.conf:2: ", NULL },
                { "bad sysctl key",         "[Sysctl]\nvm..swappiness = 1\n",               "bad.conf:2: ", NULL },
                { "glob in a sysfs path",   "[Sysfs]\n/sys/class/net/*/mtu = 9000\n",       "bad.conf:2: ", NULL },
                { "sysfs outside /sys",     "[Sysfs]\n/etc/passwd = x\n",                   "bad.conf:2: ", NULL },
                { "empty sysfs path",       "[Sysfs]\n= never\n",                           "bad.conf:2: ", NULL },
                { "'..' in a sysfs path",   "[Sysfs]\n/sys/../etc/x = 1\n",                 "bad.conf:2: ", NULL },
                /* TuneD's [sysctl] syntax, which systemd-sysctl would hand the kernel as is */
                { "a quoted sysctl value",  "[Sysctl]\n# tuned\nnet.ipv4.tcp_rmem=\"4096 87380 16777216\"\n",
                                                                                            "bad.conf:3: ", "quotes" },
                { "a single-quoted value",  "[Sysctl]\nkernel.sched_min_granularity_ns='10000000'\n",
                                                                                            "bad.conf:2: ", "quotes" },
                { "TuneD's '>' modifier",   "[Sysctl]\nnet.core.somaxconn=>2048\n",         "bad.conf:2: ", "'>'" },
                { "TuneD's '<' modifier",   "[Sysctl]\nvm.swappiness=<10\n",                "bad.conf:2: ", "'<'" },
                { "a TuneD variable",       "[Sysctl]\nkernel.sched_wakeup_granularity_ns=${f:exec:/usr/bin/x}\n",
                                                                                            "bad.conf:2: ", "variable" },
        };
        char name[160];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Policy p = {};
                int r = policy_parse_string(&p, "bad.conf", cases[i].text);
                snprintf(name, sizeof name, "error for %s is \"%s...\"", cases[i].what, cases[i].prefix);
                check(r == -EINVAL && has_error(&p, cases[i].prefix, cases[i].needle) &&
                      startswith(p.errors[0], cases[i].prefix),
                      name, "r=%d, first error: %s", r, p.errors ? p.errors[0] : "(none)");
                policy_done(&p);
        }

        /* A line too long for inih's 200-byte buffer is an error, never split in two. */
        {
                Policy p = {};
                char text[512];
                int r;

                snprintf(text, sizeof text, "[Units]\n# fine\nMask=%0240d.service\n", 0);
                r = policy_parse_string(&p, "long.conf", text);
                check(r == -EINVAL && has_error(&p, "long.conf:3: ", "too long") && !p.unit_mask,
                      "a 253-byte line is \"long.conf:3: ... too long\", and nothing of it is used",
                      "r=%d, first error: %s", r, p.errors ? p.errors[0] : "(none)");
                policy_done(&p);

                snprintf(text, sizeof text, "[Policy]\nName=%0180d\n", 0);
                r = policy_parse_string(&p, "ok.conf", text);
                check(r == 0 && p.name && strlen(p.name) == 180, "a 185-byte line is read whole",
                      "r=%d", r);
                policy_done(&p);
        }

        /* Errors in several places are all reported, in order, and errors accumulate over
         * files. */
        {
                Policy p = {};
                int r = parse_all(&p, (const char *[]) {
                        "[Units]\nMask=x\n[Nope]\n",
                        "[Policy]\nOnFailure=later\n",
                        NULL });
                check(r == -EINVAL && strv_length(p.errors) == 3 &&
                      startswith(p.errors[0], "a.conf:2: ") && startswith(p.errors[1], "a.conf:3: ") &&
                      startswith(p.errors[2], "b.conf:2: "),
                      "every error is listed, in order, with its file and line",
                      "got %zu errors", strv_length(p.errors));
                policy_done(&p);
        }

        /* Comments, blank lines, indentation and CRLF do not disturb line numbers. */
        {
                Policy p = {};
                int r = policy_parse_string(&p, "c.conf",
                                            "# comment\r\n; another\r\n\r\n  [Units]\r\n"
                                            "\tMask = a.service   # inline comment\r\n"
                                            "Mask=b.service#not-a-comment\r\n");
                check(r == -EINVAL && has_error(&p, "c.conf:6: ", "b.service#not-a-comment") &&
                      strv_is(p.unit_mask, "a.service"),
                      "'#' starts a comment only after white space; line numbers count every line",
                      "r=%d, first error: %s", r, p.errors ? p.errors[0] : "(none)");
                policy_done(&p);
        }
}

/* ---- the search path ------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void write_at(const char *root, const char *path, const char *text) {
        char full[4096], *slash;
        FILE *f;

        snprintf(full, sizeof full, "%s%s", root, path);
        for (slash = full + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
                *slash = 0;
                (void) mkdir(full, 0755);
                *slash = '/';
        }
        if (!text)
                return;
        f = fopen(full, "we");
        if (!f) {
                perror(full);
                exit(EXIT_FAILURE);
        }
        fputs(text, f);
        fclose(f);
}

static void symlink_at(const char *root, const char *target, const char *path) {
        char full[4096];

        write_at(root, path, NULL);
        snprintf(full, sizeof full, "%s%s", root, path);
        if (symlink(target, full) < 0) {
                perror(full);
                exit(EXIT_FAILURE);
        }
}

static void test_load(void) {
        const char *tmp = getenv("TMPDIR");
        char root[4096];
        Policy p = {};
        int fd, r;

        snprintf(root, sizeof root, "%s/test-policy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root)) {
                check(false, "create a temporary root", "%m");
                return;
        }

        /* Same basename in two directories: /etc wins over /usr/lib. */
        write_at(root, "/usr/lib/dpuos-trim/policy.d/10-base.conf",
                 "[Policy]\nName=vendor\n[Units]\nMask=vendor.service\n");
        write_at(root, "/etc/dpuos-trim/policy.d/10-base.conf",
                 "[Policy]\nName=admin\n[Units]\nMask=admin.service\n");
        /* Merged in basename order, whichever directory a file is in. */
        write_at(root, "/usr/lib/dpuos-trim/policy.d/20-more.conf",
                 "[Units]\nMask=more.service\n[Sysctl]\nvm.swappiness=10\n");
        write_at(root, "/run/dpuos-trim/policy.d/30-run.conf",
                 "[Units]\nMask=run.service\n[Sysctl]\nvm.swappiness=30\n");
        write_at(root, "/usr/local/lib/dpuos-trim/policy.d/30-run.conf",
                 "[Units]\nMask=local-shadowed.service\n");
        write_at(root, "/usr/local/lib/dpuos-trim/policy.d/40-local.conf",
                 "[Units]\nMask=local.service\n");
        /* Disabled: a symlink to /dev/null in a higher directory, or an empty file. */
        write_at(root, "/usr/lib/dpuos-trim/policy.d/50-disabled.conf",
                 "[Units]\nMask=disabled.service\n");
        symlink_at(root, "/dev/null", "/etc/dpuos-trim/policy.d/50-disabled.conf");
        write_at(root, "/usr/lib/dpuos-trim/policy.d/55-emptied.conf",
                 "[Units]\nMask=emptied.service\n");
        write_at(root, "/run/dpuos-trim/policy.d/55-emptied.conf", "");
        /* An absolute symlink is resolved inside the root, not on the host. */
        write_at(root, "/usr/share/dpuos-trim-extra/60.conf", "[Units]\nMask=linked.service\n");
        symlink_at(root, "/usr/share/dpuos-trim-extra/60.conf", "/etc/dpuos-trim/policy.d/60-linked.conf");
        /* Later files override earlier ones, clearing a list with an empty assignment. */
        write_at(root, "/usr/lib/dpuos-trim/policy.d/90-last.conf",
                 "[Policy]\nName=last\n[Modules]\nBlacklist=floppy\n");
        write_at(root, "/etc/dpuos-trim/policy.d/95-reset.conf", "[Modules]\nBlacklist=\nBlacklist=pcspkr\n");
        /* Not policy files. */
        write_at(root, "/etc/dpuos-trim/policy.d/README", "not a policy\n");
        write_at(root, "/etc/dpuos-trim/policy.d/99-backup.conf~", "[Bogus]\n");
        write_at(root, "/etc/dpuos-trim/policy.d/.hidden.conf", "[Bogus]\n");

        fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        r = policy_load(&p, fd, root, NULL);
        check(r == 0 && !p.errors, "policy_load() of the search path succeeds",
              "r=%d, first error: %s", r, p.errors ? p.errors[0] : "(none)");

        check(strv_contains(p.unit_mask, "admin.service") && !strv_contains(p.unit_mask, "vendor.service"),
              "a file in /etc replaces the same name in /usr/lib", NULL);
        check(strv_contains(p.unit_mask, "run.service") && !strv_contains(p.unit_mask, "local-shadowed.service"),
              "a file in /run replaces the same name in /usr/local/lib", NULL);
        check(!strv_contains(p.unit_mask, "disabled.service"),
              "a symlink to /dev/null disables the file of that name", NULL);
        check(!strv_contains(p.unit_mask, "emptied.service"), "an empty file disables the file of that name", NULL);
        check(strv_contains(p.unit_mask, "linked.service"),
              "an absolute symlink is followed inside the root", NULL);
        check_list("files merge in basename order across directories", p.unit_mask,
                   "admin.service more.service run.service local.service linked.service");
        check(p.n_sysctl == 1 && streq(p.sysctl[0].value, "30"),
              "a later file (by name) wins a sysctl key", NULL);
        check(p.name && streq(p.name, "last"), "the last file by name sets Name=", "got %s", p.name ?: "(null)");
        check_list("an empty assignment in a later file clears an earlier file's list",
                   p.module_blacklist, "pcspkr");

        {
                char expected[4096];
                snprintf(expected, sizeof expected,
                         "%1$s/etc/dpuos-trim/policy.d/10-base.conf %1$s/usr/lib/dpuos-trim/policy.d/20-more.conf "
                         "%1$s/run/dpuos-trim/policy.d/30-run.conf %1$s/usr/local/lib/dpuos-trim/policy.d/40-local.conf "
                         "%1$s/etc/dpuos-trim/policy.d/60-linked.conf %1$s/usr/lib/dpuos-trim/policy.d/90-last.conf "
                         "%1$s/etc/dpuos-trim/policy.d/95-reset.conf", root);
                check_list("sources name the files read, in order, under the root", p.sources, expected);
        }
        policy_done(&p);

        /* An error names the file as the user sees it: DIR + path in the tree. */
        write_at(root, "/usr/lib/dpuos-trim/policy.d/70-bad.conf", "[Units]\n\nMask=nope\n");
        r = policy_load(&p, fd, root, NULL);
        {
                char prefix[4096];
                snprintf(prefix, sizeof prefix, "%s/usr/lib/dpuos-trim/policy.d/70-bad.conf:3: ", root);
                check(r == -EINVAL && has_error(&p, prefix, "nope"), "a bad file fails the load with DIR/PATH:LINE:",
                      "r=%d, first error: %s", r, p.errors ? p.errors[0] : "(none)");
        }
        policy_done(&p);

        /* Explicit paths replace the search path; a shared basename goes to the earlier one. */
        {
                char dir[4096], file[4096];
                snprintf(dir, sizeof dir, "%s/explicit", root);
                snprintf(file, sizeof file, "%s/explicit/10-base.conf", root);
                write_at(root, "/explicit/10-base.conf", "[Units]\nMask=explicit.service\n");
                write_at(root, "/explicit/20-two.conf", "[Units]\nMask=two.service\n");
                r = policy_load(&p, fd, root, (char *[]) { dir, NULL });
                check(r == 0 && strv_is(p.unit_mask, "explicit.service two.service"),
                      "an explicit directory replaces the search path", "r=%d", r);
                policy_done(&p);

                r = policy_load(&p, fd, root, (char *[]) { file, NULL });
                check(r == 0 && strv_is(p.unit_mask, "explicit.service"), "an explicit file is read alone", "r=%d", r);
                policy_done(&p);

                snprintf(file, sizeof file, "%s/explicit/missing.conf", root);
                r = policy_load(&p, fd, root, (char *[]) { file, NULL });
                check(r < 0 && p.errors, "a missing explicit file is an error", "r=%d", r);
                policy_done(&p);
        }

        close(fd);
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
        test_merge();
        test_settings();
        test_names();
        test_file_patterns();
        test_errors();
        test_load();
        return tests_finish();
}
