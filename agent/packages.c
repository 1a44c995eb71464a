/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "conffile.h"
#include "exec-util.h"
#include "executor.h"
#include "fs-util.h"
#include "glob.h"
#include "log.h"
#include "macro.h"
#include "protect.h"
#include "strv.h"

/* [Packages]: whole packages removed through the package manager, so that the package
 * database stays true (dpkg --verify and rpm -V find nothing missing) and an update does
 * not bring their files back. The package manager is the authority on what a removal
 * takes with it: the plan is its own simulation of the transaction (dpkg --simulate
 * --purge, apt-get -s, rpm -e --test), and the set is refused as a whole when that
 * simulation refuses it, when it would take a package that is kept or protected, or when
 * a package the policy names cannot be found. Then nothing is removed. */

#define REMOVED_RECORD "/var/lib/dpuos-trim/saved/removed-packages"
#define OUTPUT_MAX (4 * 1024 * 1024)
#define REASON_LINES 6

typedef struct Package {
        char *name;
        char *spec;        /* what reinstalls it: dpkg "name:arch=version", rpm "name-[e:]v-r.arch" */
        uint64_t size;     /* installed size in bytes, as the database says */
        bool essential;    /* dpkg's Essential: yes or Protected: yes */
} Package;

typedef struct Installed {
        Package *p;
        size_t n;
} Installed;

typedef struct Backend {
        const char *name;
        const char *command;               /* the package manager run, found in PATH */
        const char * const *databases;     /* in-tree database directories; the first present wins */
        const char * const *locks;         /* lock files in the database directory */
        const char *exclusion;             /* the setting file of PreventReinstall= */
        int (*list)(Context *ctx, const char *db, Installed *ret);
        int (*owners)(Context *ctx, const char *db, char **paths, char ***ret_owners);  /* "name\tpath" */
        int (*check)(Context *ctx, const char *db, char **names, char **ret_why);
        int (*unneeded)(Context *ctx, const char *db, char **names, char **stay, char ***ret_names, char ***ret_manual,
                        char **ret_why);
        int (*remove)(Context *ctx, const char *db, char **names, char **ret_out);
        char *(*failure)(const char *out, const char *name);  /* NULL: the transaction is one */
        char *(*exclusion_content)(const Policy *p, char **names);
} Backend;

static void installed_done(Installed *in) {
        for (size_t i = 0; i < in->n; i++) {
                free(in->p[i].name);
                free(in->p[i].spec);
        }
        free(in->p);
        *in = (Installed) {};
}

static Package *installed_find(const Installed *in, const char *name) {
        for (size_t i = 0; i < in->n; i++)
                if (streq(in->p[i].name, name))
                        return &in->p[i];
        return NULL;
}

static void installed_add(Installed *in, const char *name, char *spec, uint64_t size, bool essential) {
        if (installed_find(in, name)) {  /* a second architecture of a Multi-Arch: same package */
                free(spec);
                return;
        }
        if (in->n == 0 || (in->n & (in->n - 1)) == 0)
                in->p = xrealloc(in->p, (in->n ? in->n * 2 : 1) * sizeof(Package));
        in->p[in->n++] = (Package) { .name = xstrdup(name), .spec = spec, .size = size, .essential = essential };
}

/* ---- running the package manager ---- */

/* argv built with the root: offline, the tree's path after the option that names it. */
static char **command_line(const char *cmd, const char *root_opt, const Context *ctx, char * const *args,
                           char * const *names) {
        char **argv = NULL;

        strv_extend(&argv, cmd);
        if (ctx->offline && root_opt)
                strv_push(&argv, xasprintf("%s%s", root_opt, ctx->root));
        STRV_FOREACH(a, args)
                strv_extend(&argv, *a);
        STRV_FOREACH(n, names)
                strv_extend(&argv, *n);
        return argv;
}

static int run_tool(char **argv, char **ret_out) {
        /* No question is ever asked: the removal runs unattended, at boot. */
        char *env[] = { "DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true", "HOME=/",
                        "LC_ALL=C", NULL };
        int r = spawn_capture_env(argv, env, true, OUTPUT_MAX, ret_out);
        if (r < 0)
                return log_error_errno(r, "Failed to run %s: %s", argv[0], strerror(-r));
        return r;
}

/* What the tools print that says nothing about the transaction: dpkg's progress and its
 * log (which a dry run cannot open), Debian's rpm warning about itself. */
static bool line_is_noise(const char *l) {
        static const char * const noise[] = { "could not open log", "(Reading database", "use Alien instead",
                                              "assuming you know what you are doing" };
        for (size_t i = 0; i < ELEMENTSOF(noise); i++)
                if (strstr(l, noise[i]))
                        return true;
        return false;
}

/* Appends text to *s, after sep unless *s is still empty (NULL). */
static void append(char **s, const char *sep, const char *text) {
        char *joined = xasprintf("%s%s%s", strempty(*s), *s ? sep : "", text);
        free(*s);
        *s = joined;
}

/* The lines of a tool's output that say why, without its warnings about logs and the
 * like, at most REASON_LINES of them, joined with "; ". */
static char *why_from_output(const char *out, const char *skip_prefix) {
        _cleanup_free_ char *copy = xstrdup(strempty(out));
        char *why = NULL, *save = NULL;
        unsigned n = 0, more = 0;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                while (*l == ' ' || *l == '\t')
                        l++;
                if (!*l || (skip_prefix && startswith(l, skip_prefix)) || line_is_noise(l))
                        continue;
                if (n++ >= REASON_LINES) {
                        more++;
                        continue;
                }
                append(&why, "; ", l);
        }
        if (more) {
                char *w = xasprintf("%s; and %u more line%s", why, more, more == 1 ? "" : "s");
                free(why);
                why = w;
        }
        return why ?: xstrdup("no reason given");
}

/* ---- dpkg (Debian): dpkg-query lists, dpkg --simulate checks, apt-get finds what is
 * unneeded, dpkg --purge removes, apt's preferences keep them out ---- */

static uint64_t parse_size(const char *s, uint64_t unit) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        return end == s ? 0 : (uint64_t) v * unit;
}

static int dpkg_list(Context *ctx, const char *db, Installed *ret) {
        char *args[] = { "-W", "-f=${db:Status-Status}\\t${Package}\\t${Architecture}\\t${Version}\\t"
                         "${Installed-Size}\\t${Essential}\\t${Protected}\\n", NULL };
        _cleanup_strv_free_ char **argv = command_line("dpkg-query", "--root=", ctx, args, NULL);
        _cleanup_free_ char *out = NULL;
        char *save = NULL;
        (void) db;

        int r = run_tool(argv, &out);
        if (r != 0)
                return r < 0 ? r : -EIO;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[7] = {}, *s = l;
                size_t k = 0;
                for (; k < ELEMENTSOF(f) && s; k++)
                        f[k] = strsep(&s, "\t");
                if (k < ELEMENTSOF(f) || !streq(f[0], "installed"))
                        continue;
                installed_add(ret, f[1], xasprintf("%s:%s=%s", f[1], f[2], f[3]), parse_size(f[4], 1024),
                              streq(f[5], "yes") || streq(f[6], "yes"));
        }
        return 0;
}

/* "pkg1, pkg2:amd64: /path" lines; "diversion by ..." lines are not owners. */
static int dpkg_owners(Context *ctx, const char *db, char **paths, char ***ret_owners) {
        char *args[] = { "-S", NULL };
        _cleanup_strv_free_ char **argv = command_line("dpkg-query", "--root=", ctx, args, paths);
        _cleanup_free_ char *out = NULL;
        char *save = NULL;
        (void) db;

        int r = run_tool(argv, &out);
        if (r < 0)
                return r;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *colon = strstr(l, ": /"), *s, *name;
                if (startswith(l, "diversion ") || !colon)
                        continue;
                *colon = 0;
                s = l;
                while ((name = strsep(&s, ","))) {
                        while (*name == ' ')
                                name++;
                        name[strcspn(name, ":")] = 0;
                        if (*name)
                                strv_push(ret_owners, xasprintf("%s\t%s", name, colon + 2));
                }
        }
        return 0;
}

/* Whether a dpkg line "X depends on Y" is a consequence: X is being removed as well, so
 * only a cause elsewhere (a package that stays needs X) keeps Y in. */
static bool depender_in_set(const char *text, char **names) {
        size_t n = strcspn(text, ": ");
        STRV_FOREACH(name, names)
                if (strlen(*name) == n && strncmp(*name, text, n) == 0)
                        return true;
        return false;
}

/* Why dpkg refused a simulated removal: its errors and the dependencies that stand in the
 * way ("X depends on Y", X staying), without the removals it would have done. */
static char *dpkg_why(const char *out, char **names) {
        _cleanup_free_ char *copy = xstrdup(strempty(out)), *kept = NULL, *consequences = NULL;
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *text = l + strspn(l, " \t");
                bool dependency = strstr(text, " depends on ");
                if (!dependency && !startswith(text, "dpkg: error:") && !strstr(text, "essential package"))
                        continue;
                char *end = strstr(text, "; however:");
                if (end)
                        *end = 0;
                if (endswith(text, "."))
                        text[strlen(text) - 1] = 0;
                char **into = dependency && depender_in_set(text, names) ? &consequences : &kept;
                if (*into && strstr(*into, text))  /* each chain once */
                        continue;
                append(into, "\n", text);
        }
        if (kept || consequences)
                return why_from_output(kept ?: consequences, NULL);
        return why_from_output(out, "dpkg: warning:");
}

static int dpkg_check(Context *ctx, const char *db, char **names, char **ret_why) {
        char *args[] = { "--simulate", "--purge", NULL };
        _cleanup_strv_free_ char **argv = command_line("dpkg", "--root=", ctx, args, names);
        _cleanup_free_ char *out = NULL;
        (void) db;

        int r = run_tool(argv, &out);
        if (r > 0)
                *ret_why = dpkg_why(out, names);
        return r;
}

/* Why apt refused a simulation: its errors and the unmet dependencies it lists, each
 * dependency on one line (apt wraps the alternatives onto indented lines of their own). */
static char *apt_why(const char *out) {
        _cleanup_free_ char *copy = xstrdup(strempty(out)), *kept = NULL;
        char *save = NULL;
        bool unmet = false, in_dependency = false;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                bool indented = l[0] == ' ';
                char *text = l + strspn(l, " \t");
                const char *sep;

                if (startswith(text, "The following packages have unmet dependencies"))
                        unmet = true;
                if (startswith(text, "E: "))
                        sep = "\n";
                else if (unmet && indented && strstr(text, " : "))
                        sep = "\n";
                else if (unmet && indented && in_dependency)
                        sep = " ";
                else {
                        in_dependency = false;
                        continue;
                }
                in_dependency = !startswith(text, "E: ");
                append(&kept, sep, text);
        }
        return why_from_output(kept, NULL);
}

/* apt's auto marks (/var/lib/apt/extended_states): whether a package was installed only
 * as a dependency. A package installed by hand that apt would take along with the set
 * depends on it: it is not unneeded, it would be broken. */
static bool apt_automatic(const char *states, const char *name) {
        _cleanup_free_ char *stanza = xasprintf("Package: %s\n", name);
        for (const char *p = states; (p = strstr(p, stanza)); p += strlen(stanza)) {
                if (p != states && p[-1] != '\n')
                        continue;
                const char *end = strstr(p, "\n\n");
                const char *mark = strstr(p, "Auto-Installed: 1");
                return mark && (!end || mark < end);
        }
        return false;
}

/* What apt would also remove as no longer needed (its auto-installed marks), from its
 * simulation of "purge --autoremove": the Purg lines beyond the names given, those it
 * would take that were installed by hand apart. When apt cannot plan the set at all, > 0
 * and why. */
static int dpkg_unneeded(Context *ctx, const char *db, char **names, char **stay, char ***ret_names,
                         char ***ret_manual, char **ret_why) {
        _cleanup_strv_free_ char **args = NULL, **argv = NULL;
        _cleanup_free_ char *out = NULL;
        char *save = NULL;
        (void) db;

        strv_extend(&args, "-s");
        /* No cache file is written: the simulation may run as nobody, on a tree that is not ours. */
        strv_extend(&args, "-o");
        strv_extend(&args, "Dir::Cache::pkgcache=");
        strv_extend(&args, "-o");
        strv_extend(&args, "Dir::Cache::srcpkgcache=");
        if (ctx->offline) {
                strv_extend(&args, "-o");
                strv_push(&args, xasprintf("Dir=%s", ctx->root));
                strv_extend(&args, "-o");
                strv_push(&args, xasprintf("Dir::State::status=%s/var/lib/dpkg/status", ctx->root));
        }
        strv_extend(&args, "purge");
        strv_extend(&args, "--autoremove");
        /* "name+" keeps an installed package, with what it needs, out of apt's plan. */
        STRV_FOREACH(n, stay)
                strv_push(&args, xasprintf("%s+", *n));
        argv = command_line("apt-get", NULL, ctx, args, names);
        int r = run_tool(argv, &out);
        if (r < 0)
                return log_error_errno(r, "Failed to run apt-get: %m");
        if (r > 0) {
                *ret_why = apt_why(out);
                return r;
        }
        _cleanup_free_ char *states = NULL;
        (void) read_file_in_root(ctx->root_fd, "var/lib/apt/extended_states", 64 << 20, &states);
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *rest = startswith(l, "Purg ") ?: startswith(l, "Remv ");
                if (!rest)
                        continue;
                _cleanup_free_ char *name = xstrndup(rest, strcspn(rest, " :"));
                if (strv_contains(names, name) || strv_contains(*ret_names, name) || strv_contains(*ret_manual, name))
                        continue;
                bool automatic = states && apt_automatic(states, name);
                strv_push(automatic ? ret_names : ret_manual, TAKE_PTR(name));
        }
        return 0;
}

/* Offline, dpkg runs the maintainer scripts chrooted into the tree, where no init system
 * runs: a script that stops its service would fail the removal. A policy-rc.d that denies
 * every service action (as image builders install one) lets them pass; it is ours only if
 * it carries the marker, and it goes when the transaction is over. */
#define POLICY_RC_D "usr/sbin/policy-rc.d"
#define POLICY_RC_D_MARKER "# dpuos-trim: offline package removal"

static bool policy_rc_d_install(const Context *ctx) {
        _cleanup_free_ char *old = NULL;
        if (read_file_in_root(ctx->root_fd, POLICY_RC_D, 4096, &old) >= 0)
                return strstr(old, POLICY_RC_D_MARKER);  /* left by a run that was cut off */
        _cleanup_close_ int fd = openat(ctx->root_fd, POLICY_RC_D, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
        const char content[] = "#!/bin/sh\n" POLICY_RC_D_MARKER "; no service is started or stopped\nexit 101\n";
        if (fd < 0 || write(fd, content, sizeof content - 1) != (ssize_t) sizeof content - 1) {
                log_warning_errno(negative_errno(), "Failed to write /%s, service actions of the maintainer scripts may fail: %m",
                                  POLICY_RC_D);
                if (fd >= 0)
                        (void) unlinkat(ctx->root_fd, POLICY_RC_D, 0);
                return false;
        }
        return true;
}

static int dpkg_remove(Context *ctx, const char *db, char **names, char **ret_out) {
        char *args[] = { "--purge", NULL };
        _cleanup_strv_free_ char **argv = command_line("dpkg", "--root=", ctx, args, names);
        (void) db;
        bool ours = ctx->offline && policy_rc_d_install(ctx);
        int r = run_tool(argv, ret_out);
        if (ours && unlinkat(ctx->root_fd, POLICY_RC_D, 0) < 0)
                log_warning_errno(negative_errno(), "Failed to remove /%s: %m", POLICY_RC_D);
        return r;
}

/* Whether a line of dpkg's names the package: "name", "name:arch", followed by a space,
 * a colon or the end. */
static bool names_package(const char *l, const char *name) {
        const char *rest = startswith(l, name);
        if (!rest)
                return false;
        if (*rest == ':')
                rest += strcspn(rest, " :\n") ?: 1;
        return *rest == ' ' || *rest == ':' || *rest == 0;
}

/* Why dpkg left one package of the set installed: the reason under its "error processing
 * package" line, with the dependencies that stood in the way, or the line before it (a
 * maintainer script's complaint). NULL when dpkg did not say. */
static char *dpkg_failure(const char *out, const char *name) {
        _cleanup_free_ char *copy = xstrdup(strempty(out)), *deps = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        char *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                strv_extend(&lines, l);
        size_t n = strv_length(lines);

        for (size_t i = 0; i < n; i++) {
                const char *l = lines[i], *p;
                if ((p = startswith(l, "dpkg: dependency problems prevent removal of ")) && names_package(p, name))
                        for (size_t j = i + 1; j < n && strstr(lines[j], " depends on "); j++)
                                append(&deps, "; ", lines[j] + strspn(lines[j], " "));
                if (!(p = startswith(l, "dpkg: error processing package ")) || !names_package(p, name) || i + 1 >= n)
                        continue;
                const char *reason = lines[i + 1] + strspn(lines[i + 1], " ");
                if (deps)
                        return xasprintf("%s: %s", reason, deps);
                if (i > 0 && !startswith(lines[i - 1], "dpkg:") && !line_is_noise(lines[i - 1]))
                        return xasprintf("%s (%s)", reason, lines[i - 1] + strspn(lines[i - 1], " "));
                return xstrdup(reason);
        }
        return NULL;
}

/* Pin-Priority: -1 keeps apt from ever installing a version of them again. */
static char *apt_preferences(const Policy *p, char **names) {
        _cleanup_free_ char *list = NULL;

        STRV_FOREACH(n, names)
                append(&list, " ", *n);
        return xasprintf("# Written by dpuos-trim from policy \"%s\" ([Packages] PreventReinstall=yes), so that\n"
                         "# apt does not install again the packages it removed. Do not edit.\n"
                         "Explanation: removed by dpuos-trim\n"
                         "Package: %s\n"
                         "Pin: version *\n"
                         "Pin-Priority: -1\n", p->name ?: "unnamed", list);
}

/* ---- rpm (openEuler): rpm -qa lists, rpm -e --test checks, rpm -e removes, dnf's
 * excludepkgs= keeps them out ---- */

/* Queries read the tree's database by its path: --root would chroot, which a dry run,
 * running as nobody, cannot. Only the removal runs in the tree (its scriptlets too). */
static char **rpm_args(const Context *ctx, const char *db, bool in_tree, char * const *more) {
        char **args = NULL;
        if (ctx->offline && in_tree) {
                strv_extend(&args, "--root");
                strv_extend(&args, ctx->root);
        }
        strv_extend(&args, "--dbpath");
        strv_push(&args, ctx->offline && !in_tree ? path_join(ctx->root, db) : xstrdup(db));
        STRV_FOREACH(m, more)
                strv_extend(&args, *m);
        return args;
}

static int rpm_list(Context *ctx, const char *db, Installed *ret) {
        char *more[] = { "-qa", "--qf", "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\t%{SIZE}\\n", NULL };
        _cleanup_strv_free_ char **args = rpm_args(ctx, db, false, more), **argv = command_line("rpm", NULL, ctx, args, NULL);
        _cleanup_free_ char *out = NULL;
        char *save = NULL;

        int r = run_tool(argv, &out);
        if (r != 0)
                return r < 0 ? r : -EIO;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[3] = {}, *s = l;
                size_t k = 0;
                for (; k < ELEMENTSOF(f) && s; k++)
                        f[k] = strsep(&s, "\t");
                if (k == ELEMENTSOF(f) && !streq(f[0], "gpg-pubkey"))
                        installed_add(ret, f[0], xasprintf("%s-%s", f[0], f[1]), parse_size(f[2], 1), false);
        }
        return 0;
}

static int rpm_owners(Context *ctx, const char *db, char **paths, char ***ret_owners) {
        char *more[] = { "-qf", "--qf", "%{NAME}\\n", NULL };
        _cleanup_strv_free_ char **args = rpm_args(ctx, db, false, more), **argv = command_line("rpm", NULL, ctx, args, paths);
        _cleanup_free_ char *out = NULL;
        char *save = NULL;

        int r = run_tool(argv, &out);
        if (r < 0)
                return r;
        /* rpm names the owners, not which path each owns ("file ... is not owned by any
         * package" lines hold spaces). */
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (!strchr(l, ' '))
                        strv_push(ret_owners, xasprintf("%s\ta file that is never removed", l));
        return 0;
}

static int rpm_check(Context *ctx, const char *db, char **names, char **ret_why) {
        char *more[] = { "-e", "--test", NULL };
        _cleanup_strv_free_ char **args = rpm_args(ctx, db, false, more), **argv = command_line("rpm", NULL, ctx, args, names);
        _cleanup_free_ char *out = NULL;

        int r = run_tool(argv, &out);
        if (r > 0)
                *ret_why = why_from_output(out, "warning:");
        return r;
}

static int rpm_remove(Context *ctx, const char *db, char **names, char **ret_out) {
        char *more[] = { "-e", NULL };
        _cleanup_strv_free_ char **args = rpm_args(ctx, db, true, more), **argv = command_line("rpm", NULL, ctx, args, names);
        return run_tool(argv, ret_out);
}

static char *dnf_excludes(const Policy *p, char **names) {
        _cleanup_free_ char *list = NULL;

        STRV_FOREACH(n, names)
                append(&list, ",", *n);
        return xasprintf("# Written by dpuos-trim from policy \"%s\" ([Packages] PreventReinstall=yes), so that\n"
                         "# dnf does not install again the packages it removed. Do not edit.\n"
                         "[main]\n"
                         "excludepkgs=%s\n", p->name ?: "unnamed", list);
}

static const char * const dpkg_databases[] = { "/var/lib/dpkg", NULL };
static const char * const dpkg_locks[] = { "lock-frontend", "lock", NULL };
static const char * const rpm_databases[] = { "/usr/lib/sysimage/rpm", "/var/lib/rpm", NULL };
static const char * const rpm_locks[] = { ".rpm.lock", NULL };

static const Backend backends[] = {
        { "dpkg", "dpkg", dpkg_databases, dpkg_locks, "/etc/apt/preferences.d/dpuos-trim",
          dpkg_list, dpkg_owners, dpkg_check, dpkg_unneeded, dpkg_remove, dpkg_failure, apt_preferences },
        { "rpm", "rpm", rpm_databases, rpm_locks, "/etc/dnf/libdnf5.conf.d/80-dpuos-trim.conf",
          rpm_list, rpm_owners, rpm_check, NULL, rpm_remove, NULL, dnf_excludes },
};

/* ---- what the tree has ---- */

static bool exists_in_root(Context *ctx, const char *path) {
        return faccessat(ctx->root_fd, path + 1, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

/* This system's package manager: the first whose database the tree holds. */
static const Backend *find_backend(Context *ctx, const char **ret_db) {
        static const char * const markers[] = { "status", "rpmdb.sqlite", "Packages.db", "Packages", NULL };

        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                for (const char * const *d = backends[i].databases; *d; d++)
                        for (const char * const *m = markers; *m; m++) {
                                _cleanup_free_ char *path = path_join(*d, *m);
                                if (exists_in_root(ctx, path)) {
                                        *ret_db = *d;
                                        return &backends[i];
                                }
                        }
        return NULL;
}

/* The process holding one of the database's locks (another transaction), or 0. The lock is
 * a record lock (fcntl), as dpkg, apt and rpm take it; F_GETLK only looks. */
static pid_t database_locker(Context *ctx, const Backend *b, const char *db) {
        for (const char * const *l = b->locks; *l; l++) {
                _cleanup_free_ char *path = path_join(db, *l);
                _cleanup_close_ int fd = open_in_root(ctx->root_fd, path, O_RDONLY | O_NOCTTY, 0);
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

                if (fd < 0)
                        continue;
                if (fcntl(fd, F_OFD_GETLK, &fl) >= 0 && fl.l_type != F_UNLCK)
                        return fl.l_pid > 0 ? fl.l_pid : -1;
        }
        return 0;
}

/* Kernels: live, the one that runs; offline, where the one that boots is not known, all. */
static char **kernel_files(Context *ctx) {
        char **paths = NULL;
        struct utsname u;

        if (!ctx->offline) {
                if (uname(&u) >= 0) {
                        strv_push(&paths, xasprintf("/boot/vmlinuz-%s", u.release));
                        strv_push(&paths, xasprintf("/usr/lib/modules/%s/modules.order", u.release));
                        strv_push(&paths, xasprintf("/lib/modules/%s/modules.order", u.release));
                }
                return paths;
        }
        for (const char * const *dir = (const char * const[]) { "/usr/lib/modules", "/lib/modules", NULL }; *dir; dir++) {
                int fd = open_in_root(ctx->root_fd, *dir, O_RDONLY | O_DIRECTORY, 0);
                _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                struct dirent *de;

                if (!d) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.') {
                                strv_push(&paths, xasprintf("%s/%s/modules.order", *dir, de->d_name));
                                strv_push(&paths, xasprintf("/boot/vmlinuz-%s", de->d_name));
                        }
        }
        return paths;
}

/* Paths as the package database may name them: packages built before /usr was merged
 * ship /usr/lib/x as /lib/x. */
static void add_with_alias(char ***paths, const char *path) {
        strv_extend(paths, path);
        for (const char * const *m = (const char * const[]) { "/usr/lib/", "/usr/bin/", "/usr/sbin/", NULL }; *m; m++)
                if (startswith(path, *m))
                        strv_extend(paths, path + strlen("/usr"));
}

/* dnf refuses to remove what /etc/dnf/protected.d names; so does dpuos-trim. */
static void dnf_protected(Context *ctx, char ***set) {
        int fd = open_in_root(ctx->root_fd, "/etc/dnf/protected.d", O_RDONLY | O_DIRECTORY, 0);
        _cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                char *save = NULL;
                if (!endswith(de->d_name, ".conf"))
                        continue;
                path = path_join("/etc/dnf/protected.d", de->d_name);
                if (read_file_in_root(ctx->root_fd, path, 1024 * 1024, &text) < 0)
                        continue;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        l[strcspn(l, "#")] = 0;
                        l = strtok(l, " \t");
                        if (l) {
                                _cleanup_free_ char *why = xasprintf("protected by dnf (%s)", path);
                                module_set_add(set, l, why);
                        }
                }
        }
}

static void add_owners(Context *ctx, const Backend *b, const char *db, char **paths, const char *what, char ***set) {
        _cleanup_strv_free_ char **owners = NULL;

        if (!paths || b->owners(ctx, db, paths, &owners) < 0)
                return;
        STRV_FOREACH(o, owners) {
                char *tab = strchr(*o, '\t');
                *tab = 0;
                _cleanup_free_ char *why = what ? xstrdup(what) : xasprintf("owns %s, which is never removed", tab + 1);
                module_set_add(set, *o, why);
        }
}

/* "name\twhy" for every package that no policy removes: the package manager's essential
 * ones, dnf's protected ones, the kernel, and the owners of every file that is never
 * removed (PID 1, the bus, sshd, the shells, the package manager, dpuos-trim, the C
 * library and every library they load). */
static char **protected_packages(Context *ctx, const Backend *b, const char *db, const Installed *in) {
        _cleanup_strv_free_ char **files = NULL, **kernels = kernel_files(ctx);
        char **set = NULL;

        for (size_t i = 0; i < in->n; i++)
                if (in->p[i].essential)
                        module_set_add(&set, in->p[i].name, "essential to the package manager (Essential: or Protected:)");
        dnf_protected(ctx, &set);
        add_owners(ctx, b, db, kernels, ctx->offline ? "an installed kernel" : "the kernel that runs", &set);
        /* Files only: a directory (or the /lib link) is shared by many packages, and
         * owning it protects nothing. */
        STRV_FOREACH(l, protected_libraries(ctx)) {
                struct stat st;
                if (fstatat(ctx->root_fd, *l + 1, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                        add_with_alias(&files, *l);
        }
        add_owners(ctx, b, db, files, NULL, &set);
        return set;
}

/* ---- the plan ---- */

/* What the probe found, for planning one Remove= word after the other. */
typedef struct Probe {
        Context *ctx;
        Plan *plan;
        const Backend *b;
        const char *db;
        Installed in;
        char **protected;     /* "name\twhy" */
        char **record;        /* "name spec" lines of REMOVED_RECORD */
        char **names;         /* the set to remove, in the order planned */
        size_t n_named;       /* of which the first n_named are the policy's, the rest unneeded */
        size_t from;          /* the first action of the kind */
} Probe;

static void probe_done(Probe *pr) {
        installed_done(&pr->in);
        strv_free(pr->protected);
        strv_free(pr->record);
        strv_free(pr->names);
}

static bool kept(const Policy *p, const char *name) {
        STRV_FOREACH(k, p->package_keep)
                if (glob_match_name(*k, name))
                        return true;
        return false;
}

/* The spec the record holds for name ("name spec" or "name spec unneeded"), or NULL. */
static char *recorded(char **record, const char *name) {
        size_t n = strlen(name);
        STRV_FOREACH(l, record)
                if (strncmp(*l, name, n) == 0 && (*l)[n] == ' ')
                        return xstrndup(*l + n + 1, strcspn(*l + n + 1, " "));
        return NULL;
}

static Action *package_action(Probe *pr, const char *name, State state) {
        Action *a = plan_find(pr->plan, KIND_PACKAGES, VERB_REMOVE, name);
        return a ? NULL : plan_add(pr->plan, KIND_PACKAGES, VERB_REMOVE, name, state);
}

/* One installed package that a word matched. */
static void plan_installed(Probe *pr, const Package *pkg, const char *word, bool literal) {
        const char *why = module_set_find(pr->protected, pkg->name);
        Action *a;

        if (kept(pr->ctx->policy, pkg->name)) {
                if ((a = package_action(pr, pkg->name, STATE_SKIP)))
                        action_set_reason(a, "kept by Keep=");
                return;
        }
        /* A glob passes a protected package by; naming one is refused. */
        if (why) {
                if ((a = package_action(pr, pkg->name, literal ? STATE_IMPOSSIBLE : STATE_PROTECTED)))
                        action_set_reason(a, "%s%s", literal ? "never removed: " : "", why);
                return;
        }
        if (!(a = package_action(pr, pkg->name, STATE_CHANGE)))
                return;
        a->value = xstrdup(pkg->spec);
        a->bytes = pkg->size;
        action_set_reason(a, "Remove=%s", word);
        strv_extend(&pr->names, pkg->name);
}

static void plan_recorded(Probe *pr, const char *name) {
        Action *a;
        if (kept(pr->ctx->policy, name) || !(a = package_action(pr, name, STATE_UNCHANGED)))
                return;
        a->value = recorded(pr->record, name);
        action_set_reason(a, "removed by an earlier run");
}

/* A Remove= word: installed packages it matches are removed, those an earlier run removed
 * are unchanged. A word that matches neither is a mistake (a typo, or a policy for another
 * system), unless it starts with '-'. */
static void plan_word(Probe *pr, const char *word) {
        bool optional = word[0] == '-';
        const char *pattern = word + optional;
        bool literal = !string_is_glob(pattern);
        unsigned matched = 0;

        for (size_t i = 0; i < pr->in.n; i++)
                if (glob_match_name(pattern, pr->in.p[i].name)) {
                        plan_installed(pr, &pr->in.p[i], pattern, literal);
                        matched++;
                }
        STRV_FOREACH(l, pr->record) {
                _cleanup_free_ char *name = xstrndup(*l, strcspn(*l, " "));
                if (!installed_find(&pr->in, name) && glob_match_name(pattern, name)) {
                        plan_recorded(pr, name);
                        matched++;
                }
        }
        if (matched > 0 || plan_find(pr->plan, KIND_PACKAGES, VERB_REMOVE, pattern))
                return;
        Action *a = plan_add(pr->plan, KIND_PACKAGES, VERB_REMOVE, pattern, optional ? STATE_SKIP : STATE_IMPOSSIBLE);
        if (optional)
                action_set_reason(a, "not installed");
        else
                action_set_reason(a, literal ? "no package of this name is installed, and dpuos-trim never removed one "
                                               "(misspelt? write -%s if it need not be installed)"
                                             : "no installed package matches (write -%s if none need be installed)",
                                  pattern);
}

/* RemoveUnneeded=yes: what the package manager itself would remove with the set as no
 * longer needed, less what is kept or protected. */
static void plan_unneeded(Probe *pr) {
        _cleanup_strv_free_ char **extra = NULL;
        Action *a;

        pr->n_named = strv_length(pr->names);
        if (!pr->ctx->policy->package_remove_unneeded)
                return;
        /* What earlier runs removed as unneeded is as much the policy's as what it names. */
        STRV_FOREACH(l, pr->record) {
                _cleanup_free_ char *name = xstrndup(*l, strcspn(*l, " "));
                if (endswith(*l, " unneeded") && !installed_find(&pr->in, name))
                        plan_recorded(pr, name);
        }
        if (!pr->names)
                return;
        if (!pr->b->unneeded) {
                a = plan_add(pr->plan, KIND_PACKAGES, VERB_REMOVE, "RemoveUnneeded=yes", STATE_SKIP);
                action_set_reason(a, "%s keeps no record of which packages were installed only as dependencies",
                                  pr->b->name);
                return;
        }
        /* apt's plan takes along what depends on the set, and what only the set needed. What
         * of that stays (kept, protected, or installed by hand: a dependent, not unneeded) is
         * marked to stay and apt asked again, until its plan takes nothing that stays. If a
         * package that stays cannot, apt says which dependency breaks: the whole set's verdict. */
        _cleanup_strv_free_ char **stay = NULL;
        for (unsigned round = 0;; round++) {
                _cleanup_strv_free_ char **manual = NULL;
                _cleanup_free_ char *why = NULL;
                strv_free(extra);
                extra = NULL;
                int r = pr->b->unneeded(pr->ctx, pr->db, pr->names, stay, &extra, &manual, &why);
                if (r != 0) {
                        a = plan_add(pr->plan, KIND_PACKAGES, VERB_REMOVE, "RemoveUnneeded=yes", STATE_IMPOSSIBLE);
                        if (r > 0)
                                action_set_reason(a, "apt-get cannot remove the set: %s", why);
                        else
                                action_set_reason(a, "cannot ask apt-get what is no longer needed: %s", strerror(-r));
                        return;
                }
                bool again = manual;
                STRV_FOREACH(m, manual) {
                        log_debug("packages: apt would also remove %s, installed by hand, which stays", *m);
                        strv_extend(&stay, *m);
                }
                STRV_FOREACH(e, extra)
                        if (kept(pr->ctx->policy, *e) || module_set_find(pr->protected, *e)) {
                                log_debug("packages: apt would also remove %s, which stays", *e);
                                strv_extend(&stay, *e);
                                again = true;
                        }
                if (!again)
                        break;
                if (round == 8) {
                        log_debug("packages: apt's plan still takes packages that stay; nothing is removed as unneeded");
                        return;
                }
        }
        STRV_FOREACH(e, extra) {
                const Package *pkg = installed_find(&pr->in, *e);
                if (!pkg || !(a = package_action(pr, *e, STATE_CHANGE)))
                        continue;
                a->value = xstrdup(pkg->spec);
                a->bytes = pkg->size;
                a->data = (void *) "unneeded";  /* static: no free_data */
                action_set_reason(a, "no longer needed (RemoveUnneeded=yes)");
                strv_extend(&pr->names, *e);
        }
}

/* Every removal of the set becomes impossible, with why: the set goes as a whole or not. */
static void refuse_set(Probe *pr, const char *why) {
        for (size_t i = pr->from; i < pr->plan->n_actions; i++) {
                Action *a = pr->plan->actions[i];
                if (a->kind != KIND_PACKAGES || a->verb != VERB_REMOVE || a->state != STATE_CHANGE)
                        continue;
                a->state = STATE_IMPOSSIBLE;
                action_set_reason(a, "not removed, the set is refused as a whole: %s", why);
        }
}

/* The set with what is no longer needed was refused: without it, the policy's own set may
 * pass, and what is unneeded stays. */
static bool retry_without_unneeded(Probe *pr, const char *why) {
        _cleanup_free_ char *again = NULL;

        for (size_t i = pr->n_named; pr->names[i]; i++)
                free(TAKE_PTR(pr->names[i]));
        if (pr->b->check(pr->ctx, pr->db, pr->names, &again) != 0)
                return false;
        for (size_t i = pr->from; i < pr->plan->n_actions; i++) {
                Action *a = pr->plan->actions[i];
                if (a->kind != KIND_PACKAGES || a->verb != VERB_REMOVE || a->state != STATE_CHANGE ||
                    strv_contains(pr->names, a->target))
                        continue;
                a->state = STATE_SKIP;
                action_set_reason(a, "no longer needed, but left: removing it with the rest is refused (%s)", why);
        }
        return true;
}

/* The package manager's own verdict on the whole set. */
static void check_set(Probe *pr) {
        _cleanup_free_ char *why = NULL, *first = NULL;
        pid_t locker;

        for (size_t i = pr->from; i < pr->plan->n_actions; i++) {
                const Action *a = pr->plan->actions[i];
                if (a->kind == KIND_PACKAGES && a->verb == VERB_REMOVE && a->state == STATE_IMPOSSIBLE) {
                        first = xasprintf("%s: %s", a->target, a->reason);
                        break;
                }
        }
        if (first)
                return refuse_set(pr, first);
        if (!pr->names)
                return;
        if ((locker = database_locker(pr->ctx, pr->b, pr->db)) != 0) {
                why = locker > 0 ? xasprintf("the %s database is locked by process %d: another package "
                                             "transaction is running", pr->b->name, (int) locker)
                                 : xasprintf("the %s database is locked: another package transaction is running",
                                             pr->b->name);
                return refuse_set(pr, why);
        }
        int r = pr->b->check(pr->ctx, pr->db, pr->names, &why);
        if (r > 0 && strv_length(pr->names) > pr->n_named && retry_without_unneeded(pr, why))
                return;
        if (r < 0)
                why = xasprintf("cannot run %s: %s", pr->b->command, strerror(-r));
        if (r != 0)
                refuse_set(pr, why);
}

/* PreventReinstall=yes: the package manager's own exclusion of every package the policy
 * removes (now, or in an earlier run), written before the removal. */
static void plan_exclusion(Probe *pr) {
        const Policy *p = pr->ctx->policy;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *have = NULL, *want = NULL;
        Action *a;

        for (size_t i = pr->from; i < pr->plan->n_actions; i++) {
                const Action *x = pr->plan->actions[i];
                if (x->kind == KIND_PACKAGES && x->verb == VERB_REMOVE && x->value &&
                    (x->state == STATE_CHANGE || x->state == STATE_UNCHANGED))
                        strv_extend(&names, x->target);
        }
        strv_sort(names);
        if (p->package_prevent_reinstall && names)
                want = pr->b->exclusion_content(p, names);

        int r = read_owned_file_in_root(pr->ctx->root_fd, pr->b->exclusion, 1024 * 1024, &have);
        if (r < 0 && r != -ENOENT) {
                a = plan_add(pr->plan, KIND_PACKAGES, want ? VERB_EXCLUDE : VERB_DROP, pr->b->exclusion, STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot read %s: %s", pr->b->exclusion, owned_file_strerror(r));
                return;
        }
        if (!want) {
                if (have) {
                        a = plan_add(pr->plan, KIND_PACKAGES, VERB_DROP, pr->b->exclusion, STATE_CHANGE);
                        action_set_reason(a, "no longer in the policy ([Packages] PreventReinstall=)");
                }
                return;
        }
        a = plan_add(pr->plan, KIND_PACKAGES, VERB_EXCLUDE, pr->b->exclusion,
                     have && streq(have, want) ? STATE_UNCHANGED : STATE_CHANGE);
        action_set_reason(a, "%s will not install the %zu removed packages again",
                          pr->b == &backends[0] ? "apt" : "dnf", strv_length(names));
        a->data = TAKE_PTR(want);
        a->free_data = free;
}

static int read_record(Context *ctx, char ***ret) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        int r = read_owned_file_in_root(ctx->root_fd, REMOVED_RECORD, 16 * 1024 * 1024, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (l[0] != '#' && strchr(l, ' '))
                        strv_extend(ret, l);
        return 0;
}

static int packages_probe(Context *ctx, Plan *plan) {
        const Policy *p = ctx->policy;
        Probe pr = { .ctx = ctx, .plan = plan, .from = plan->n_actions };
        Action *a;
        int r;

        pr.b = find_backend(ctx, &pr.db);
        if (!pr.b) {
                if (p->package_remove) {
                        a = plan_add(plan, KIND_PACKAGES, VERB_REMOVE, "[Packages] Remove=", STATE_IMPOSSIBLE);
                        action_set_reason(a, "no package database here (neither dpkg's /var/lib/dpkg/status nor rpm's)");
                }
                return 0;
        }
        if (!p->package_remove && !exists_in_root(ctx, pr.b->exclusion))
                return 0;

        r = read_record(ctx, &pr.record);
        if (r < 0) {
                plan_fail_since(plan, plan->n_actions, KIND_PACKAGES, VERB_REMOVE, REMOVED_RECORD, owned_file_strerror(r));
                goto finish;
        }
        r = p->package_remove ? pr.b->list(ctx, pr.db, &pr.in) : 0;
        if (r < 0) {
                a = plan_add(plan, KIND_PACKAGES, VERB_REMOVE, "[Packages] Remove=", STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot list the installed packages with %s: %s", pr.b->name,
                                  r == -EIO ? "it failed" : strerror(-r));
                goto finish;
        }
        if (p->package_remove)
                pr.protected = protected_packages(ctx, pr.b, pr.db, &pr.in);
        STRV_FOREACH(w, p->package_remove)
                plan_word(&pr, *w);
        plan_unneeded(&pr);
        check_set(&pr);
        plan_exclusion(&pr);
finish:
        probe_done(&pr);
        return 0;
}

/* ---- the apply ---- */

static int apply_exclusion(Context *ctx, Plan *plan, bool *ret_failed) {
        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                bool write = a->verb == VERB_EXCLUDE;
                int r;

                if (a->kind != KIND_PACKAGES || (a->verb != VERB_EXCLUDE && a->verb != VERB_DROP))
                        continue;
                if (a->state == STATE_IMPOSSIBLE)
                        *ret_failed = true;
                if (!action_begin(ctx, plan, a))
                        continue;
                r = write ? write_file_atomic_in_root(ctx->root_fd, a->target, a->data, 0644)
                          : unlink_in_root(ctx->root_fd, a->target);
                if (r < 0) {
                        *ret_failed = true;
                        action_fail(ctx, plan, a, r, "cannot %s %s: %s", write ? "write" : "remove", a->target,
                                    owned_file_strerror(r));
                        return log_error_errno(r, "Failed to %s %s: %s", write ? "write" : "remove", a->target,
                                               owned_file_strerror(r));
                }
                plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
        }
        return 0;
}

/* The record of what was removed, written before the removal: a run cut short after the
 * package manager finished still knows what it removed, and --verify what came back. */
static int write_record(Context *ctx, Plan *plan, char **names) {
        _cleanup_strv_free_ char **lines = NULL;
        int r = read_record(ctx, &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                const Action *a = plan_find(plan, KIND_PACKAGES, VERB_REMOVE, *n);
                _cleanup_free_ char *line = xasprintf("%s %s%s", *n, a->value, a->data ? " unneeded" : "");
                for (char **l = lines; l && *l; l++)
                        if (startswith(*l, *n) && (*l)[strlen(*n)] == ' ') {
                                free(*l);
                                *l = TAKE_PTR(line);
                                break;
                        }
                if (line)
                        strv_push(&lines, TAKE_PTR(line));
        }
        return lines_write(ctx, REMOVED_RECORD, "# Packages removed by dpuos-trim: name and what reinstalls it.\n", lines);
}

static void fail_all(Context *ctx, Plan *plan, char **names, int error, const char *reason) {
        STRV_FOREACH(n, names) {
                Action *a = plan_find(plan, KIND_PACKAGES, VERB_REMOVE, *n);
                action_fail(ctx, plan, a, error, "%s", reason);
        }
}

/* One transaction for the whole set; then each package is settled by what the database
 * says now. */
static int remove_set(Context *ctx, Plan *plan, char **names) {
        _cleanup_free_ char *out = NULL, *why = NULL;
        Installed after = {};
        const char *db = NULL;
        const Backend *b = find_backend(ctx, &db);
        int r;

        if (!b) {
                fail_all(ctx, plan, names, -ENOENT, "the package database is gone");
                return -ENOENT;
        }
        r = write_record(ctx, plan, names);
        if (r < 0) {
                _cleanup_free_ char *reason = xasprintf("not removed: cannot write " REMOVED_RECORD ": %s",
                                                        owned_file_strerror(r));
                fail_all(ctx, plan, names, r, reason);
                return log_error_errno(r, "Failed to write %s: %s", REMOVED_RECORD, owned_file_strerror(r));
        }
        log_info("packages: removing %zu with %s...", strv_length(names), b->name);
        r = b->remove(ctx, db, names, &out);
        why = why_from_output(out, NULL);
        int k = b->list(ctx, db, &after);
        STRV_FOREACH(n, names) {
                Action *a = plan_find(plan, KIND_PACKAGES, VERB_REMOVE, *n);
                if (k >= 0 && !installed_find(&after, *n))
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                else {
                        _cleanup_free_ char *own = b->failure ? b->failure(out, *n) : NULL;
                        action_fail(ctx, plan, a, -EIO, "%s %s: %s", b->command, r == 0 ? "left it installed" : "failed",
                                    own ?: why);
                }
        }
        installed_done(&after);
        if (r != 0)
                log_error("%s failed (exit status %d): %s", b->command, r, why);
        return r == 0 && k >= 0 ? 0 : -EIO;
}

static int packages_apply(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **names = NULL;
        bool exclusion_failed = false;
        int r = apply_exclusion(ctx, plan, &exclusion_failed);

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_PACKAGES || a->verb != VERB_REMOVE)
                        continue;
                if (a->state == STATE_CHANGE && exclusion_failed) {
                        action_fail(ctx, plan, a, -EIO, "not removed: its exclusion (PreventReinstall=) could not be written");
                        continue;
                }
                if (action_begin(ctx, plan, a))
                        strv_extend(&names, a->target);
        }
        if (!names)
                return r;
        RET_GATHER(r, remove_set(ctx, plan, names));
        return r;
}

/* The package kind: the package manager's exclusion (PreventReinstall=), then one removal
 * per package, carried out as one transaction. */
const Executor packages_executor = {
        .kind = KIND_PACKAGES,
        .name = "packages",
        .probe = packages_probe,
        .apply = packages_apply,
};
