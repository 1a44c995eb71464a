/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "glob.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "strv.h"

#define MASK_DIR "/etc/systemd/system"

/* The unit search path of the system manager, highest priority first (systemd.unit(5)). On
 * merged-/usr systems /lib is /usr/lib; names found twice are listed once. */
static const char * const unit_dirs[] = {
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
};

static void list_unit_files(Context *ctx, char ***ret) {
        for (size_t i = 0; i < ELEMENTSOF(unit_dirs); i++) {
                _cleanup_closedir_ DIR *d = NULL;
                struct dirent *de;
                int fd;

                fd = open_in_root(ctx->root_fd, unit_dirs[i], O_DIRECTORY | O_RDONLY, 0);
                if (fd < 0)
                        continue;
                d = fdopendir(fd);
                if (!d) {
                        close(fd);
                        continue;
                }
                while ((de = readdir(d)))
                        if (de->d_type != DT_DIR && unit_name_is_valid(de->d_name, false) &&
                            !strv_contains(*ret, de->d_name))
                                strv_extend(ret, de->d_name);
        }
        strv_sort(*ret);
}

static bool unit_kept(const Policy *p, const char *unit) {
        STRV_FOREACH(k, p->unit_keep)
                if (glob_match_name(*k, unit))
                        return true;
        return false;
}

static bool unit_planned(const Plan *plan, const char *unit) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == KIND_UNITS && plan->actions[i]->verb == VERB_MASK &&
                    streq(plan->actions[i]->target, unit))
                        return true;
        return false;
}

/* What is at /etc/systemd/system/UNIT decides whether a mask can be written there. */
static Action *probe_mask(Context *ctx, Plan *plan, char **installed, const char *unit) {
        _cleanup_free_ char *path = path_join(MASK_DIR, unit), *target = NULL;
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        struct stat st;
        Action *a;

        dir_fd = open_parent_in_root(ctx->root_fd, path, false, &name);
        if (dir_fd >= 0 && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (S_ISLNK(st.st_mode) && readlink_in_root(ctx->root_fd, path, &target) >= 0) {
                        if (streq(target, "/dev/null"))
                                return plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_UNCHANGED);
                        a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_IMPOSSIBLE);
                        action_set_reason(a, "%s is a symlink to %s (an alias or linked unit); "
                                          "systemd refuses to mask over it", path, target);
                        return a;
                }
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s is a unit file of its own, not a link; masking would "
                                  "need to delete it", path);
                return a;
        }

        if (!strv_contains(installed, unit)) {
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                action_set_reason(a, "not installed");
                return a;
        }
        return plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_CHANGE);
}

/* The sockets, timers and paths that would start a masked service again. Offline there is
 * no manager to ask for TriggeredBy=, so the default naming (foo.socket -> foo.service) is
 * what is followed. */
static void probe_triggers(Context *ctx, Plan *plan, char **installed, const char *unit) {
        static const char * const trigger_suffixes[] = { ".socket", ".timer", ".path" };
        const char *dot = strrchr(unit, '.');

        if (!dot || !streq(dot, ".service"))
                return;
        for (size_t i = 0; i < ELEMENTSOF(trigger_suffixes); i++) {
                _cleanup_free_ char *t = xasprintf("%.*s%s", (int) (dot - unit), unit, trigger_suffixes[i]);
                if (!strv_contains(installed, t) || unit_planned(plan, t) || unit_kept(ctx->policy, t))
                        continue;
                Action *a = probe_mask(ctx, plan, installed, t);
                if (!a->reason)
                        action_set_reason(a, "triggers %s", unit);
        }
}

static void probe_one(Context *ctx, Plan *plan, char **installed, const char *unit) {
        if (unit_planned(plan, unit))
                return;
        if (unit_kept(ctx->policy, unit)) {
                Action *a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                action_set_reason(a, "kept by the policy (Keep=)");
                return;
        }
        probe_mask(ctx, plan, installed, unit);
        probe_triggers(ctx, plan, installed, unit);
}

static int units_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **installed = NULL;

        if (!ctx->policy->unit_mask)
                return 0;

        list_unit_files(ctx, &installed);

        STRV_FOREACH(pattern, ctx->policy->unit_mask) {
                if (!string_is_glob(*pattern)) {
                        probe_one(ctx, plan, installed, *pattern);
                        continue;
                }
                STRV_FOREACH(u, installed)
                        if (glob_match_name(*pattern, *u) && !unit_kept(ctx->policy, *u))
                                probe_one(ctx, plan, installed, *u);
        }
        return 0;
}

static int units_apply(Context *ctx, Plan *plan) {
        int ret = 0;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                _cleanup_free_ char *path = NULL;
                int r;

                if (a->kind != KIND_UNITS || !action_begin(ctx, plan, a))
                        continue;

                path = path_join(MASK_DIR, a->target);
                r = symlink_in_root(ctx->root_fd, "/dev/null", path);
                if (r == -EEXIST)
                        action_set_reason(a, "%s appeared after the plan was made; left alone", path);
                if (r < 0)
                        RET_GATHER(ret, log_error_errno(r, "Failed to mask %s: %m", a->target));
                plan_settle(ctx, plan, a, r < 0 ? OUTCOME_FAILED : OUTCOME_DONE, r);
        }
        return ret;
}

const KindOps units_ops = {
        .name = "units",
        .probe = units_probe,
        .apply = units_apply,
};
