/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include "conffile.h"
#include "executor.h"
#include "fs-util.h"
#include "glob.h"
#include "log.h"
#include "macro.h"
#include "protect.h"
#include "strv.h"

/* [Files] PreventReinstall=yes: removed files would come back with the next update of their
 * package. Both package managers can be told not to install them: dpkg skips paths that
 * match its path-exclude globs, rpm skips documentation with %_excludedocs and message
 * catalogues of languages not in %_install_langs. Neither removes anything already there;
 * that stays the policy's Remove=. */

typedef struct PackageManager {
        const char *name;
        const char *path;                 /* the setting file dpuos-trim owns */
        const char * const *databases;    /* it is this system's package manager if one exists */
        char *(*content)(Context *ctx);   /* NULL: nothing to exclude */
} PackageManager;

static const char * const dpkg_databases[] = { "/var/lib/dpkg/status", NULL };
static const char * const rpm_databases[] = { "/usr/lib/sysimage/rpm", "/var/lib/rpm", NULL };

static bool exists_in_root(Context *ctx, const char *path) {
        return faccessat(ctx->root_fd, path[0] == '/' ? path + 1 : path, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

static bool installed(Context *ctx, const PackageManager *pm) {
        for (const char * const *d = pm->databases; *d; d++)
                if (exists_in_root(ctx, *d))
                        return true;
        return false;
}

static char *header(const Policy *p, const char *comment) {
        return xasprintf("%s Written by dpuos-trim from policy \"%s\" ([Files] PreventReinstall=yes), so that\n"
                         "%s package updates do not install again what it removed. Do not edit.\n",
                         comment, p->name ?: "unnamed", comment);
}

/* dpkg matches with fnmatch(3) without FNM_PATHNAME: '*' also matches '/', so "**" becomes
 * "*", and a pattern naming a directory needs a second one ending in "/" "*" for what is
 * below it. */
static void dpkg_add(char ***lines, const char *key, const char *pattern, bool merged_usr) {
        static const char * const merged[] = { "/usr/lib/", "/usr/bin/", "/usr/sbin/" };
        _cleanup_free_ char *g = xmalloc(strlen(pattern) + 1);
        char *o = g;

        for (const char *c = pattern; *c; c++) {
                if (c[0] == '*' && c[1] == '*')
                        c++;
                *o++ = *c;
        }
        *o = 0;

        for (int alias = 0; alias < 2; alias++) {
                const char *p = g;
                /* Packages name the files they ship under /lib, /bin and /sbin as they were
                 * before /usr was merged. */
                if (alias) {
                        p = NULL;
                        for (size_t i = 0; merged_usr && i < ELEMENTSOF(merged); i++)
                                if (startswith(g, merged[i]))
                                        p = g + strlen("/usr");
                        if (!p)
                                break;
                }
                strv_push(lines, xasprintf("%s=%s", key, p));
                if (!endswith(p, "*"))
                        strv_push(lines, xasprintf("%s=%s/*", key, p));
        }
}

static bool merged_usr(Context *ctx) {
        struct stat st;
        return fstatat(ctx->root_fd, "lib", &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode);
}

/* Would dpkg's path-exclude lines so far skip path? (fnmatch without FNM_PATHNAME, as
 * dpkg matches.) Only those get a path-include of their own: the file stays short. */
static bool excluded(char **lines, const char *path) {
        STRV_FOREACH(l, lines) {
                const char *g = startswith(*l, "path-exclude=");
                if (g && fnmatch(g, path, 0) == 0)
                        return true;
        }
        return false;
}

/* Excludes first, then includes: for dpkg the last matching line wins. */
static char *dpkg_content(Context *ctx) {
        const Policy *p = ctx->policy;
        _cleanup_strv_free_ char **lines = NULL;
        bool merged = merged_usr(ctx);

        STRV_FOREACH(r, p->file_remove)
                dpkg_add(&lines, "path-exclude", *r, merged);
        if (!lines)
                return NULL;
        STRV_FOREACH(k, p->file_keep)
                dpkg_add(&lines, "path-include", *k, merged);
        /* What is never removed is never excluded either: an update of libc6 under a
         * path-exclude that covers libc.so.6 would delete it. (The top-level
         * directories themselves, "/" "*", dpkg never excludes.) */
        for (const char * const *g = protected_paths; *g; g++)
                if (!streq(*g, "/*"))
                        dpkg_add(&lines, "path-include", *g, merged);
        for (const char * const *t = protected_trees; *t; t++) {
                _cleanup_free_ char *below = xasprintf("%s/**", *t);
                dpkg_add(&lines, "path-include", below, merged);
        }
        STRV_FOREACH(l, protected_libraries(ctx)) {
                /* Packages may ship it under /lib, /bin or /sbin, as before /usr was merged. */
                const char *alias = merged && (startswith(*l, "/usr/lib/") || startswith(*l, "/usr/bin/") ||
                                               startswith(*l, "/usr/sbin/")) ? *l + strlen("/usr") : NULL;
                for (const char *path = *l; path; path = path == *l ? alias : NULL)
                        if (excluded(lines, path)) {
                                _cleanup_free_ char *literal = glob_escape(path);
                                strv_push(&lines, xasprintf("path-include=%s", literal));
                        }
        }
        _cleanup_free_ char *head = header(p, "#");
        return lines_join(head, lines);
}

static bool removes_below(const Policy *p, const char *dir) {
        STRV_FOREACH(r, p->file_remove)
                if (startswith(*r, dir))
                        return true;
        return false;
}

/* rpm marks man pages, info manuals and /usr/share/doc as documentation; %_install_langs
 * lists the languages whose catalogues are kept, C first. */
static char *rpm_content(Context *ctx) {
        const Policy *p = ctx->policy;
        _cleanup_strv_free_ char **lines = NULL;

        if (removes_below(p, "/usr/share/doc/") || removes_below(p, "/usr/share/man/") ||
            removes_below(p, "/usr/share/info/"))
                strv_extend(&lines, "%_excludedocs 1");

        if (removes_below(p, "/usr/share/locale/")) {
                _cleanup_free_ char *langs = xstrdup("C");
                STRV_FOREACH(k, p->file_keep) {
                        const char *lang = startswith(*k, "/usr/share/locale/");
                        if (!lang)
                                continue;
                        _cleanup_free_ char *name = xstrndup(lang, strcspn(lang, "/"));
                        if (!*name || string_is_glob(name))
                                continue;
                        char *more = xasprintf("%s:%s", langs, name);
                        free(langs);
                        langs = more;
                }
                strv_push(&lines, xasprintf("%%_install_langs %s", langs));
        }
        if (!lines)
                return NULL;
        _cleanup_free_ char *head = header(p, "#");
        return lines_join(head, lines);
}

static const PackageManager managers[] = {
        { "dpkg", "/etc/dpkg/dpkg.cfg.d/dpuos-trim", dpkg_databases, dpkg_content },
        { "rpm", "/etc/rpm/macros.dpuos-trim", rpm_databases, rpm_content },
};

static int exclusions_probe(Context *ctx, Plan *plan) {
        for (size_t i = 0; i < ELEMENTSOF(managers); i++) {
                const PackageManager *pm = &managers[i];
                _cleanup_free_ char *want = NULL, *have = NULL;
                bool present = installed(ctx, pm);
                Action *a;
                int r;

                if (ctx->policy->file_prevent_reinstall && present)
                        want = pm->content(ctx);

                r = read_owned_file_in_root(ctx->root_fd, pm->path, 1024 * 1024, &have);
                if (r < 0 && r != -ENOENT) {
                        a = plan_add(plan, KIND_FILES, want ? VERB_EXCLUDE : VERB_DROP, pm->path, STATE_IMPOSSIBLE);
                        action_set_reason(a, "cannot read %s: %s", pm->path, owned_file_strerror(r));
                        continue;
                }

                if (!want) {
                        if (have) {
                                a = plan_add(plan, KIND_FILES, VERB_DROP, pm->path, STATE_CHANGE);
                                action_set_reason(a, "no longer in the policy (PreventReinstall=)");
                        } else if (ctx->policy->file_prevent_reinstall && !present) {
                                a = plan_add(plan, KIND_FILES, VERB_EXCLUDE, pm->path, STATE_SKIP);
                                action_set_reason(a, "not installed: no %s database here", pm->name);
                        }
                        continue;
                }
                a = plan_add(plan, KIND_FILES, VERB_EXCLUDE, pm->path,
                             have && streq(have, want) ? STATE_UNCHANGED : STATE_CHANGE);
                action_set_reason(a, "%s will not install the removed files again", pm->name);
                a->data = TAKE_PTR(want);
                a->free_data = free;
        }
        return 0;
}

static int exclusions_apply(Context *ctx, Plan *plan) {
        int ret = 0;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                bool write = a->verb == VERB_EXCLUDE;
                int r;

                if (a->kind != KIND_FILES || (a->verb != VERB_EXCLUDE && a->verb != VERB_DROP) ||
                    !action_begin(ctx, plan, a))
                        continue;
                r = write ? write_file_atomic_in_root(ctx->root_fd, a->target, a->data, 0644)
                          : unlink_in_root(ctx->root_fd, a->target);
                if (r < 0) {
                        action_fail(ctx, plan, a, r, "cannot %s %s: %s", write ? "write" : "remove", a->target,
                                    owned_file_strerror(r));
                        RET_GATHER(ret, log_error_errno(r, "Failed to %s %s: %s", write ? "write" : "remove",
                                                        a->target, owned_file_strerror(r)));
                } else
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
        }
        return ret;
}

/* Part of the files kind: the package managers' settings that keep removed files from
 * being installed again ([Files] PreventReinstall=). One action per setting file:
 * "exclude" (write it), or "drop" when the policy no longer asks for it. */
const Executor exclusions_executor = {
        .kind = KIND_FILES,
        .name = "exclusions",
        .probe = exclusions_probe,
        .apply = exclusions_apply,
};
