/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "conffile.h"
#include "fs-util.h"
#include "glob.h"
#include "macro.h"
#include "strv.h"

#define MODPROBE_CONF "/etc/modprobe.d/dpuos-trim.conf"

/* Module names known to the tree: every kernel's modules.dep (loadable) and modules.builtin.
 * Blacklist globs expand over these, and a literal name found in neither is not present. */
typedef struct ModuleIndex {
        char **loadable;
        char **builtin;
} ModuleIndex;

static char *module_from_index_line(const char *line) {
        const char *end = strchrnul(line, ':'), *base = line;
        const char *ko;

        for (const char *c = line; c < end; c++)
                if (*c == '/')
                        base = c + 1;
        ko = strstr(base, ".ko");
        if (!ko || ko > end)
                return NULL;
        _cleanup_free_ char *name = xstrndup(base, ko - base);
        return module_name_normalize(name);
}

static void index_file(Context *ctx, const char *path, char ***names) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        if (read_file_in_root(ctx->root_fd, path, 64 * 1024 * 1024, &text) < 0)
                return;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *m = module_from_index_line(l);
                if (m && !strv_contains(*names, m))
                        strv_push(names, m);
                else
                        free(m);
        }
}

static void module_index_load(Context *ctx, ModuleIndex *ix) {
        static const char * const dirs[] = { "/usr/lib/modules", "/lib/modules" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_closedir_ DIR *d = NULL;
                struct dirent *de;
                int fd;

                fd = open_in_root(ctx->root_fd, dirs[i], O_DIRECTORY | O_RDONLY, 0);
                if (fd < 0)
                        continue;
                d = fdopendir(fd);
                if (!d) {
                        close(fd);
                        continue;
                }
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *dep = xasprintf("%s/%s/modules.dep", dirs[i], de->d_name);
                        _cleanup_free_ char *builtin = xasprintf("%s/%s/modules.builtin", dirs[i], de->d_name);
                        index_file(ctx, dep, &ix->loadable);
                        index_file(ctx, builtin, &ix->builtin);
                }
        }
}

static void module_index_done(ModuleIndex *ix) {
        strv_free(ix->loadable);
        strv_free(ix->builtin);
}

static bool module_kept(const Policy *p, const char *name) {
        STRV_FOREACH(k, p->module_keep)
                if (glob_match_name(*k, name))
                        return true;
        return false;
}

static char *blacklist_line(const char *name) {
        return xasprintf("blacklist %s", name);
}

/* "blacklist" only stops loading through aliases (udev, modalias); "install ... /bin/false"
 * also stops an explicit modprobe and loading as a dependency. */
static char *install_line(const char *name) {
        return xasprintf("install %s /bin/false", name);
}

static void probe_blacklist_one(Context *ctx, Plan *plan, const ModuleIndex *ix, char **existing, const char *name) {
        _cleanup_free_ char *bl = blacklist_line(name), *in = install_line(name);
        bool persisted = strv_contains(existing, bl) && strv_contains(existing, in);
        Action *a;

        if (module_kept(ctx->policy, name)) {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "kept by the policy (Keep=)");
        } else if (persisted)
                plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_UNCHANGED);
        else if (strv_contains(ix->loadable, name))
                plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_CHANGE);
        else if (strv_contains(ix->builtin, name)) {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "built into the kernel: modprobe.d cannot stop it "
                                  "(use module_blacklist= on the kernel command line)");
        } else {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "not present in any installed kernel");
        }
}

static bool planned(const Plan *plan, Verb verb, const char *name) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == KIND_MODULES && plan->actions[i]->verb == verb &&
                    streq(plan->actions[i]->target, name))
                        return true;
        return false;
}

static int modules_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **existing = NULL;
        ModuleIndex ix = {};
        int r;

        if (!ctx->policy->module_blacklist)
                return 0;

        r = conffile_read(ctx, MODPROBE_CONF, &existing);
        if (r < 0)
                return r;
        module_index_load(ctx, &ix);

        STRV_FOREACH(pattern, ctx->policy->module_blacklist) {
                if (!string_is_glob(*pattern)) {
                        if (!planned(plan, VERB_BLACKLIST, *pattern))
                                probe_blacklist_one(ctx, plan, &ix, existing, *pattern);
                        continue;
                }
                /* A glob names what exists: the kernels' modules, and what an earlier run
                 * blacklisted already. */
                _cleanup_strv_free_ char **names = NULL;
                STRV_FOREACH(m, ix.loadable)
                        if (glob_match_name(*pattern, *m))
                                strv_extend(&names, *m);
                STRV_FOREACH(l, existing) {
                        const char *m = startswith(*l, "blacklist ");
                        if (m && glob_match_name(*pattern, m) && !strv_contains(names, m))
                                strv_extend(&names, m);
                }
                strv_sort(names);
                STRV_FOREACH(m, names)
                        if (!planned(plan, VERB_BLACKLIST, *m) && !module_kept(ctx->policy, *m))
                                probe_blacklist_one(ctx, plan, &ix, existing, *m);
        }

        module_index_done(&ix);
        return 0;
}

static int modules_apply(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **lines = NULL;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_MODULES || a->verb != VERB_BLACKLIST)
                        continue;
                if (a->state != STATE_CHANGE && a->state != STATE_UNCHANGED)
                        continue;
                strv_push(&lines, blacklist_line(a->target));
                strv_push(&lines, install_line(a->target));
        }

        return conffile_apply(ctx, plan, KIND_MODULES, VERB_BLACKLIST, MODPROBE_CONF, lines);
}

const KindOps modules_ops = {
        .name = "modules",
        .probe = modules_probe,
        .apply = modules_apply,
};
