/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <libkmod.h>
#include <time.h>
#include <unistd.h>

#include "conffile.h"
#include "exec-util.h"
#include "executor.h"
#include "fs-util.h"
#include "glob.h"
#include "protect.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

#define MODPROBE_CONF "/etc/modprobe.d/dpuos-trim.conf"

/* A vector of names with a set of them, to look names up in O(1): a generic kernel has
 * some 4,000 modules and 25,000 aliases, and each installed kernel adds as many. */
typedef struct Names {
        char **v;
        size_t n;
        StrSet set;
} Names;

typedef struct Lines {
        char **v;
        size_t n;
} Lines;

/* Module names known to the tree: every kernel's modules.dep (loadable) and modules.builtin.
 * Blacklist globs expand over these, and a literal name found in neither is not present. */
typedef struct ModuleIndex {
        Names loadable;
        Names builtin;
        Lines deps;         /* the lines of every modules.dep: "path: dep-path ..." */
        Lines aliases;      /* of every modules.alias: "alias PATTERN MODULE" */
} ModuleIndex;

/* A kernel without the index (not yet depmod'ed) has nothing to list; one that cannot be
 * read is an error: globs would miss its modules. */
static int index_file(Context *ctx, const char *path, Names *names, Lines *lines) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        r = read_file_in_root(ctx->root_fd, path, 64 * 1024 * 1024, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (lines)
                        strv_push_counted(&lines->v, &lines->n, xstrdup(l));
                if (!names)
                        continue;
                char *m = module_name_from_index(l);
                if (m && strset_put(&names->set, m))
                        strv_push_counted(&names->v, &names->n, m);
                else
                        free(m);
        }
        return 0;
}

/* Returns -errno with the path that could not be read in *ret_path. */
static int module_index_load(Context *ctx, ModuleIndex *ix, char **ret_path) {
        static const char * const dirs[] = { "/usr/lib/modules", "/lib/modules" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, dirs[i]);
                struct dirent *de;

                if (!d && errno != ENOENT) {
                        *ret_path = xstrdup(dirs[i]);
                        return negative_errno();
                }
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *dep = xasprintf("%s/%s/modules.dep", dirs[i], de->d_name);
                        _cleanup_free_ char *builtin = xasprintf("%s/%s/modules.builtin", dirs[i], de->d_name);
                        _cleanup_free_ char *alias = xasprintf("%s/%s/modules.alias", dirs[i], de->d_name);
                        r = index_file(ctx, dep, &ix->loadable, &ix->deps);
                        if (r >= 0)
                                r = index_file(ctx, builtin, &ix->builtin, NULL);
                        if (r >= 0)
                                r = index_file(ctx, alias, NULL, &ix->aliases);
                        if (r < 0) {
                                *ret_path = xasprintf("%s/%s", dirs[i], de->d_name);
                                return r;
                        }
                }
        }
        return 0;
}

static void module_index_done(ModuleIndex *ix) {
        strset_done(&ix->loadable.set);
        strset_done(&ix->builtin.set);
        strv_free(ix->loadable.v);
        strv_free(ix->builtin.v);
        strv_free(ix->deps.v);
        strv_free(ix->aliases.v);
}

static bool module_kept(const Policy *p, const char *name) {
        STRV_FOREACH(k, p->module_keep)
                if (glob_match_name(*k, name))
                        return true;
        return false;
}

/* The modules an alias names, as modprobe resolves it: each "alias PATTERN MODULE" of
 * modules.alias whose pattern matches (fnmatch, as libkmod's lookup). */
static char **alias_modules(const ModuleIndex *ix, const char *name) {
        char **mods = NULL;

        STRV_FOREACH(l, ix->aliases.v) {
                _cleanup_free_ char *copy = xstrdup(*l);
                char *save = NULL, *kw = strtok_r(copy, " \t", &save), *pat = strtok_r(NULL, " \t", &save),
                     *mod = strtok_r(NULL, " \t", &save);

                if (!kw || !streq(kw, "alias") || !pat || !mod)
                        continue;
                /* libkmod compares aliases with '-' and '_' the same, as module names. */
                _cleanup_free_ char *np = module_name_normalize(pat);
                if (!glob_match_name(np, name))
                        continue;
                _cleanup_free_ char *m = module_name_normalize(mod);
                if (!strv_contains(mods, m))
                        strv_extend(&mods, m);
        }
        strv_sort(mods);
        return mods;
}

/* The kept modules ("name\tkept") and everything they need (modules.dep, to the end of
 * the chain): a blacklist of one of those would keep a kept module from loading. */
static char **kept_needs(const Policy *p, const ModuleIndex *ix) {
        char **set = NULL;

        if (!p->module_keep)
                return NULL;
        STRV_FOREACH(m, ix->loadable.v)
                if (module_kept(p, *m))
                        module_set_add(&set, *m, "kept");
        module_set_add_needs(&set, ix->deps.v);
        return set;
}

/* The kept module at the top of the chain that puts name in the set of kept_needs(). */
static char *kept_needer(const Policy *p, char **needs, const char *name) {
        _cleanup_free_ char *cur = xstrdup(name);
        size_t n = strv_length(needs);
        const char *why;

        for (size_t hops = 0; hops < n && (why = module_set_find(needs, cur)); hops++) {
                const char *by = startswith(why, "needed by ");
                if (!by)
                        return NULL;   /* name is kept itself */
                free(cur);
                cur = xstrdup(by);
                if (module_kept(p, cur))
                        return TAKE_PTR(cur);
        }
        return NULL;
}

static char *blacklist_line(const char *name) {
        return xasprintf("blacklist %s", name);
}

/* "blacklist" only stops loading through aliases (udev, modalias); "install ... /bin/false"
 * also stops an explicit modprobe and loading as a dependency. */
static char *install_line(const char *name) {
        return xasprintf("install %s /bin/false", name);
}

/* libkmod ignores a module's install command when the module has soft dependencies (the
 * kernel's modules.softdep gives them to btrfs, nfsd, f2fs, r8169, ...): an empty softdep
 * of its own comes first (configuration is read before modules.softdep, and the first
 * softdep of a name wins), so the install command holds. */
static char *softdep_line(const char *name) {
        return xasprintf("softdep %s pre: post:", name);
}

static void probe_blacklist_one(Context *ctx, Plan *plan, const ModuleIndex *ix, char **existing, char **needs,
                                const char *name) {
        _cleanup_free_ char *bl = blacklist_line(name), *in = install_line(name), *sd = softdep_line(name);
        bool persisted = strv_contains(existing, bl) && strv_contains(existing, in) && strv_contains(existing, sd);
        _cleanup_free_ char *kept_by = kept_needer(ctx->policy, needs, name);
        Action *a;

        const char *why = protected_module(ctx, name);

        if (why) {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_PROTECTED);
                action_set_reason(a, "protected: %s", why);
        } else if (module_kept(ctx->policy, name)) {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "kept by the policy (Keep=)");
        } else if (kept_by) {
                /* Keep= wins: blocking what a kept module needs would keep it from loading. */
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "needed by %s, which Keep= keeps", kept_by);
        } else if (persisted)
                plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_UNCHANGED);
        else if (strset_contains(&ix->loadable.set, name))
                plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_CHANGE);
        else if (strset_contains(&ix->builtin.set, name)) {
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_SKIP);
                action_set_reason(a, "built into the kernel: modprobe.d cannot stop it "
                                  "(use module_blacklist= on the kernel command line)");
        } else {
                /* The line is what the policy asks for, and harmless: a kernel installed
                 * later that has the module finds it blacklisted. */
                a = plan_add(plan, KIND_MODULES, VERB_BLACKLIST, name, STATE_CHANGE);
                action_set_reason(a, "no installed kernel has it: blacklisted for one that brings it");
        }
}


_printf_(6, 0)
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
                     const char *format, va_list args) {
        _cleanup_free_ char *msg = NULL;

        if (vasprintf(&msg, format, args) < 0)
                return;
        msg[strcspn(msg, "\n")] = 0;
        log_debug("libkmod: %s", msg);
}

static int kmod_get(Context *ctx) {
        if (ctx->kmod)
                return 0;
        ctx->kmod = kmod_new(NULL, NULL);
        if (!ctx->kmod)
                return -ENOMEM;
        kmod_set_log_fn(ctx->kmod, kmod_log, NULL);
        /* The indexes only make look-ups faster; without them libkmod reads the files. */
        (void) kmod_load_resources(ctx->kmod);
        return 0;
}

static void kmod_module_unrefp(struct kmod_module **m) {
        if (*m)
                kmod_module_unref(*m);
}

static void kmod_module_unref_listp(struct kmod_list **l) {
        if (*l)
                kmod_module_unref_list(*l);
}

#define _cleanup_kmod_module_ __attribute__((cleanup(kmod_module_unrefp)))
#define _cleanup_kmod_list_ __attribute__((cleanup(kmod_module_unref_listp)))

static int loaded_modules(Context *ctx, char ***ret) {
        _cleanup_kmod_list_ struct kmod_list *list = NULL;
        struct kmod_list *i;
        int r;

        r = kmod_module_new_from_loaded(ctx->kmod, &list);
        if (r < 0)
                return r;
        kmod_list_foreach(i, list) {
                _cleanup_kmod_module_ struct kmod_module *mod = kmod_module_get_module(i);
                strv_extend(ret, kmod_module_get_name(mod));
        }
        strv_sort(*ret);
        return 0;
}

static char **module_holders(Context *ctx, const char *name) {
        _cleanup_kmod_module_ struct kmod_module *mod = NULL;
        _cleanup_kmod_list_ struct kmod_list *holders = NULL;
        struct kmod_list *i;
        char **names = NULL;

        if (kmod_module_new_from_name(ctx->kmod, name, &mod) < 0)
                return NULL;
        holders = kmod_module_get_holders(mod);
        kmod_list_foreach(i, holders) {
                _cleanup_kmod_module_ struct kmod_module *h = kmod_module_get_module(i);
                strv_extend(&names, kmod_module_get_name(h));
        }
        return names;
}

static int module_initstate(Context *ctx, const char *name, int *refcnt) {
        _cleanup_kmod_module_ struct kmod_module *mod = NULL;
        int r;

        r = kmod_module_new_from_name(ctx->kmod, name, &mod);
        if (r < 0)
                return r;
        *refcnt = kmod_module_get_refcnt(mod);
        return kmod_module_get_initstate(mod);
}

typedef enum Removable {
        REMOVABLE,          /* every holder goes before it, and nothing else holds it */
        REMOVABLE_BUSY,     /* references besides its holders: devices or open files, which
                             * the unloading of another module may or may not release */
        REMOVABLE_NOT,      /* held by a module that stays, built in, or not loaded */
} Removable;

static Removable removable(Context *ctx, Plan *plan, const char *name, char **why) {
        _cleanup_strv_free_ char **holders = module_holders(ctx, name);
        int refcnt = 0, state = module_initstate(ctx, name, &refcnt);

        if (state == KMOD_MODULE_BUILTIN) {
                *why = xstrdup("built into the kernel");
                return REMOVABLE_NOT;
        }
        if (state < 0) {
                *why = state == -ENOENT ? xstrdup("not loaded") : xasprintf("cannot read its state: %s", strerror(-state));
                return REMOVABLE_NOT;
        }
        STRV_FOREACH(h, holders) {
                Action *ha = plan_find(plan, KIND_MODULES, VERB_UNLOAD, *h);
                if (!ha || ha->state != STATE_CHANGE) {
                        *why = xasprintf("in use by %s%s", *h, ha ? ", which stays" : "");
                        return REMOVABLE_NOT;
                }
        }
        if (refcnt > (int) strv_length(holders)) {
                *why = xasprintf("in use (reference count %d)", refcnt);
                return REMOVABLE_BUSY;
        }
        return REMOVABLE;
}

/* Like modprobe -r: after the modules to unload, the dependencies that nothing else uses
 * any more, until none is left. A dependency still in use stays, as with modprobe -r,
 * silently. The order of the plan is the order of unloading: holders before what they hold. */
static void probe_unused_dependencies(Context *ctx, Plan *plan) {
        bool progress;

        do {
                progress = false;
                for (size_t i = 0; i < plan->n_actions; i++) {
                        const char *name = plan->actions[i]->target;
                        _cleanup_kmod_module_ struct kmod_module *mod = NULL;
                        _cleanup_kmod_list_ struct kmod_list *deps = NULL;
                        struct kmod_list *l;

                        if (plan->actions[i]->kind != KIND_MODULES || plan->actions[i]->verb != VERB_UNLOAD ||
                            plan->actions[i]->state != STATE_CHANGE)
                                continue;
                        if (kmod_module_new_from_name(ctx->kmod, name, &mod) < 0)
                                continue;
                        deps = kmod_module_get_dependencies(mod);
                        kmod_list_foreach(l, deps) {
                                _cleanup_kmod_module_ struct kmod_module *d = kmod_module_get_module(l);
                                const char *dn = kmod_module_get_name(d);
                                _cleanup_free_ char *why = NULL;

                                if (plan_find(plan, KIND_MODULES, VERB_UNLOAD, dn) || module_kept(ctx->policy, dn) ||
                                    protected_module(ctx, dn) ||
                                    kmod_module_get_initstate(d) != KMOD_MODULE_LIVE ||
                                    removable(ctx, plan, dn, &why) != REMOVABLE)
                                        continue;
                                Action *a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, dn, STATE_CHANGE);
                                action_set_reason(a, "dependency of %s, unused after it", name);
                                progress = true;
                        }
                }
        } while (progress);
}

/* What Unload= names: its globs expanded over the loaded modules. */
static int unload_wanted(Context *ctx, char ***wanted) {
        _cleanup_strv_free_ char **loaded = NULL;
        int r;

        r = loaded_modules(ctx, &loaded);
        if (r < 0)
                return r;
        STRV_FOREACH(pattern, ctx->policy->module_unload) {
                if (string_is_glob(*pattern)) {
                        STRV_FOREACH(m, loaded)
                                if (glob_match_name(*pattern, *m) && !module_kept(ctx->policy, *m) &&
                                    !strv_contains(*wanted, *m))
                                        strv_extend(wanted, *m);
                } else if (!strv_contains(*wanted, *pattern))
                        strv_extend(wanted, *pattern);
        }
        return 0;
}

static void probe_unload_one(Context *ctx, Plan *plan, const char *name) {
        int refcnt, state = module_initstate(ctx, name, &refcnt);
        const char *why = protected_module(ctx, name);
        Action *a;

        if (why) {
                a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_PROTECTED);
                action_set_reason(a, "protected: %s", why);
        } else if (module_kept(ctx->policy, name)) {
                a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_SKIP);
                action_set_reason(a, "kept by the policy (Keep=)");
        } else if (state == KMOD_MODULE_BUILTIN) {
                /* Not a module on this kernel: nothing to unload, and nothing a later boot
                 * would load either. */
                a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_SKIP);
                action_set_reason(a, "built into the kernel: cannot be unloaded");
        } else if (state == -ENOENT) {
                a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_UNCHANGED);
                action_set_reason(a, "not loaded");
        } else if (state < 0) {
                a = plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot read its state: %s", strerror(-state));
        } else
                plan_add(plan, KIND_MODULES, VERB_UNLOAD, name, STATE_CHANGE);
}

/* udev loads the drivers of the devices it is told about, and at a first boot its coldplug
 * runs beside this (dpuos-trim.service is ordered after systemd-udev-trigger.service, which
 * only queues the events). Unload= globs name the modules loaded at the time: they are
 * listed once udev's queue is empty (/run/udev/queue exists while events are queued; it is
 * what udevadm settle reads), or after UDEV_IDLE_WAIT_SEC. A module that udev would load
 * after that finds the blacklist, which is written before anything is unloaded. */
#define UDEV_IDLE_WAIT_SEC 30

static void udev_wait_idle(void) {
        for (unsigned i = 0; i < UDEV_IDLE_WAIT_SEC * 20; i++) {
                if (access("/run/udev/queue", F_OK) < 0)
                        return;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        log_notice("udev's event queue is still not empty after %d s; listing the loaded modules anyway.",
                   UDEV_IDLE_WAIT_SEC);
}

static void probe_unload(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **wanted = NULL;
        size_t from = plan->n_actions;
        bool changed;
        int r;

        udev_wait_idle();
        r = kmod_get(ctx);
        if (r >= 0)
                r = unload_wanted(ctx, &wanted);
        if (r == -ENOENT) {
                /* No /proc/modules: a container, which loads no modules of its own. */
                STRV_FOREACH(pattern, ctx->policy->module_unload)
                        action_set_reason(plan_add(plan, KIND_MODULES, VERB_UNLOAD, *pattern, STATE_SKIP),
                                          "this system lists no loaded modules (no /proc/modules)");
                return;
        }
        if (r < 0) {
                _cleanup_free_ char *reason = xasprintf("cannot list the loaded modules: %s", strerror(-r));
                STRV_FOREACH(pattern, ctx->policy->module_unload)
                        plan_add(plan, KIND_MODULES, VERB_UNLOAD, *pattern, STATE_IMPOSSIBLE);
                plan_fail_since(plan, from, KIND_MODULES, VERB_UNLOAD, "*", reason);
                return;
        }
        STRV_FOREACH(m, wanted)
                probe_unload_one(ctx, plan, *m);

        /* Refuse what is held by a module that stays, until nothing changes: what that
         * one holds stays too. A module with other references is planned, with the reason:
         * the driver of an HDA codec is held by the codec devices, which go when the
         * controller's driver is unloaded (modules_apply). */
        do {
                changed = false;
                for (size_t i = 0; i < plan->n_actions; i++) {
                        Action *a = plan->actions[i];
                        _cleanup_free_ char *why = NULL;

                        if (a->kind != KIND_MODULES || a->verb != VERB_UNLOAD || a->state != STATE_CHANGE)
                                continue;
                        switch (removable(ctx, plan, a->target, &why)) {
                        case REMOVABLE_NOT:
                                a->state = STATE_IMPOSSIBLE;
                                action_set_reason(a, "%s", why);
                                changed = true;
                                break;
                        case REMOVABLE_BUSY:
                                if (!a->reason)
                                        action_set_reason(a, "%s: unloaded after the others, "
                                                          "if unloading them releases it", why);
                                break;
                        case REMOVABLE:
                                break;
                        }
                }
        } while (changed);

        probe_unused_dependencies(ctx, plan);
}

/* The modprobe.d lines for every module the plan blacklists (new or already persisted). */
static char **blacklist_lines(const Plan *plan) {
        char **lines = NULL;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_MODULES || a->verb != VERB_BLACKLIST)
                        continue;
                if (a->state != STATE_CHANGE && a->state != STATE_UNCHANGED)
                        continue;
                strv_push(&lines, blacklist_line(a->target));
                strv_push(&lines, install_line(a->target));
                strv_push(&lines, softdep_line(a->target));
        }
        return lines;
}

/* A name that is no module may be an alias (net-pf-31, fs-cramfs): what modprobe would
 * load for it is blacklisted. */
static void probe_blacklist_name(Context *ctx, Plan *plan, const ModuleIndex *ix, char **existing, char **needs,
                                 const char *name) {
        _cleanup_strv_free_ char **mods = NULL;
        _cleanup_free_ char *line = blacklist_line(name);

        if (strset_contains(&ix->loadable.set, name) || strset_contains(&ix->builtin.set, name) || strv_contains(existing, line) ||
            !(mods = alias_modules(ix, name))) {
                if (!plan_find(plan, KIND_MODULES, VERB_BLACKLIST, name))
                        probe_blacklist_one(ctx, plan, ix, existing, needs, name);
                return;
        }
        STRV_FOREACH(m, mods) {
                if (plan_find(plan, KIND_MODULES, VERB_BLACKLIST, *m))
                        continue;
                probe_blacklist_one(ctx, plan, ix, existing, needs, *m);
                Action *a = plan_find(plan, KIND_MODULES, VERB_BLACKLIST, *m);
                if (a && !a->reason)
                        action_set_reason(a, "what the alias %s loads", name);
        }
}

static void probe_blacklist(Context *ctx, Plan *plan, const ModuleIndex *ix, char **existing) {
        _cleanup_strv_free_ char **needs = kept_needs(ctx->policy, ix);

        STRV_FOREACH(pattern, ctx->policy->module_blacklist) {
                if (!string_is_glob(*pattern)) {
                        probe_blacklist_name(ctx, plan, ix, existing, needs, *pattern);
                        continue;
                }
                /* A glob names what exists: the kernels' modules, and what an earlier run
                 * blacklisted already. */
                _cleanup_strv_free_ char **names = NULL;
                STRV_FOREACH(m, ix->loadable.v)
                        if (glob_match_name(*pattern, *m))
                                strv_extend(&names, *m);
                STRV_FOREACH(l, existing) {
                        const char *m = startswith(*l, "blacklist ");
                        if (m && glob_match_name(*pattern, m) && !strv_contains(names, m))
                                strv_extend(&names, m);
                }
                strv_sort(names);
                STRV_FOREACH(m, names)
                        if (!plan_find(plan, KIND_MODULES, VERB_BLACKLIST, *m) && !module_kept(ctx->policy, *m))
                                probe_blacklist_one(ctx, plan, ix, existing, needs, *m);
        }
}

static int modules_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **existing = NULL, **desired = NULL;
        _cleanup_free_ char *unreadable = NULL;
        ModuleIndex ix = {};
        size_t from;
        int r, ri;

        /* libkmod also tells what the protected modules depend on. */
        if (!ctx->offline && (ctx->policy->module_unload || ctx->policy->module_blacklist) && kmod_get(ctx) < 0)
                log_debug("libkmod is not available; protecting the modules without their dependencies.");
        if (ctx->policy->module_unload && !ctx->offline)
                probe_unload(ctx, plan);

        from = plan->n_actions;
        r = conffile_read(ctx, MODPROBE_CONF, &existing);
        ri = module_index_load(ctx, &ix, &unreadable);
        probe_blacklist(ctx, plan, &ix, existing);
        module_index_done(&ix);

        if (r < 0) {
                conffile_probe_failed(plan, from, KIND_MODULES, MODPROBE_CONF, r);
                return 0;
        }
        if (ri < 0) {
                _cleanup_free_ char *reason = xasprintf("cannot read the module index of %s: %s", unreadable, strerror(-ri));
                plan_fail_since(plan, from, KIND_MODULES, VERB_BLACKLIST, unreadable, reason);
                return 0;
        }

        desired = blacklist_lines(plan);
        conffile_probe_stale(plan, KIND_MODULES, existing, desired);
        return 0;
}

/* 0 when unloaded; -EBUSY, with the action still pending, for a module in use if busy_ok;
 * else the error, with the action failed. */
static int unload(Context *ctx, Plan *plan, Action *a, bool busy_ok) {
        _cleanup_kmod_module_ struct kmod_module *mod = NULL;
        const char *why;
        int r;

        r = kmod_module_new_from_name(ctx->kmod, a->target, &mod);
        if (r >= 0)
                r = kmod_module_remove_module(mod, 0);  /* never KMOD_REMOVE_FORCE */
        if (r == -ENOENT) {
                action_set_reason(a, "already unloaded");
                r = 0;
        }
        if (r >= 0) {
                plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                return 0;
        }
        if (r == -EAGAIN)
                r = -EBUSY;
        if (r == -EBUSY && busy_ok)
                return r;
        why = r == -EBUSY ? "in use" :
              r == -EPERM ? "not permitted (CAP_SYS_MODULE needed, or module unloading disabled)" : strerror(-r);
        action_fail(ctx, plan, a, r, "%s", why);
        return log_error_errno(r, "Failed to unload %s: %s", a->target, why);
}

/* One pass over the unloads still pending: true if it unloaded something. */
static bool unload_pass(Context *ctx, Plan *plan, bool busy_ok, int *ret) {
        bool progress = false;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_MODULES || a->verb != VERB_UNLOAD)
                        continue;
                /* Unloaded without its blacklist, it would be loaded back. */
                const Action *b = plan_find(plan, KIND_MODULES, VERB_BLACKLIST, a->target);
                if (b && b->outcome == OUTCOME_FAILED && a->state == STATE_CHANGE && a->outcome == OUTCOME_PENDING) {
                        action_fail(ctx, plan, a, b->error, "not unloaded: its blacklist was not persisted (%s)",
                                    strempty(b->reason));
                        continue;
                }
                if (!action_begin(ctx, plan, a))
                        continue;
                int r = unload(ctx, plan, a, busy_ok);
                if (r == 0)
                        progress = true;
                else if (r != -EBUSY)
                        RET_GATHER(*ret, r);
        }
        return progress;
}

static int modules_apply(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **lines = blacklist_lines(plan);
        int ret;

        /* The blacklist is persisted before anything is unloaded, so that nothing (udev's
         * coldplug included) loads a module back in the same boot. */
        ret = conffile_apply(ctx, plan, KIND_MODULES, VERB_BLACKLIST, MODPROBE_CONF, lines);

        /* In the plan's order (holders first), in passes while one unloads something: a
         * module that another one's devices keep in use is released when that one goes
         * later in the pass (an HDA codec driver, when the controller's driver removes its
         * codec devices). What is still in use after a pass that unloaded nothing fails. */
        while (unload_pass(ctx, plan, true, &ret))
                ;
        (void) unload_pass(ctx, plan, false, &ret);
        return ret;
}

const Executor modules_executor = {
        .kind = KIND_MODULES,
        .name = "modules",
        .probe = modules_probe,
        .apply = modules_apply,
};
