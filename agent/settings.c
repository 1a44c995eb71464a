/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>

#include "conffile.h"
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "names.h"
#include "protect.h"
#include "settings.h"
#include "strv.h"

#define SAVED_DIR "/var/lib/dpuos-trim/saved"

/* Values as the kernel prints them and as a policy writes them compare equal when they differ
 * only in white space ("4\t4\t1\t7" and "4 4 1 7"); a sysfs choice list "always [never]"
 * stands for the selected entry. */
static char *normalize_value(const char *v) {
        const char *open = strchr(v, '['), *close = open ? strchr(open, ']') : NULL;
        char *r, *p;
        bool space = false;

        if (open && close && !strchr(close + 1, '['))
                return xstrndup(open + 1, close - open - 1);

        r = p = xmalloc(strlen(v) + 1);
        for (; *v; v++) {
                if (isspace((unsigned char) *v)) {
                        space = p > r;
                        continue;
                }
                if (space)
                        *p++ = ' ';
                space = false;
                *p++ = *v;
        }
        *p = 0;
        return r;
}

static bool live_differs(const Action *a) {
        _cleanup_free_ char *have = NULL, *want = NULL;

        if (!a->old_value)
                return false;
        have = normalize_value(a->old_value);
        want = normalize_value(a->value);
        return !streq(have, want);
}

static char *saved_path(const SettingsKind *sk) {
        return xasprintf(SAVED_DIR "/%s.conf", sk->kind == KIND_SYSCTL ? "sysctl" : "sysfs");
}

/* "key = value" lines of the saved file. */
static bool saved_split(const char *line, char **ret_key, char **ret_value) {
        const char *eq = strstr(line, " = ");

        if (!eq || eq == line)
                return false;
        *ret_key = xstrndup(line, eq - line);
        *ret_value = xstrdup(eq + 3);
        return true;
}

static bool policy_sets(const SettingsKind *sk, const Policy *p, const char *key) {
        const Setting *settings;
        size_t n;

        settings = sk->settings(p, &n);
        for (size_t i = 0; i < n; i++)
                if (streq(settings[i].key, key))
                        return true;
        return false;
}

/* A key that dpuos-trim changed and the policy no longer sets (none does for --revert) gets
 * its old value back. Only the running kernel has live values. The saved file also guards
 * every live change: without it, the old value would be lost. */
static int probe_restore(const SettingsKind *sk, Context *ctx, Plan *plan, size_t from) {
        _cleanup_free_ char *path = saved_path(sk);
        _cleanup_strv_free_ char **saved = NULL;
        _cleanup_free_ unsigned *numbers = NULL;
        size_t entry = 0;
        int r;

        if (ctx->offline)
                return 0;
        r = conffile_read_numbered(ctx, path, &saved, &numbers);
        if (r < 0) {
                _cleanup_free_ char *reason = xasprintf("cannot read the saved old values %s: %s", path,
                                                        owned_file_strerror(r));
                for (size_t i = from; i < plan->n_actions; i++) {
                        Action *a = plan->actions[i];
                        if (a->kind == sk->kind && a->state == STATE_CHANGE && live_differs(a)) {
                                a->state = STATE_IMPOSSIBLE;
                                action_set_reason(a, "%s", reason);
                        }
                }
                action_set_reason(plan_add(plan, sk->kind, VERB_RESTORE, path, STATE_IMPOSSIBLE), "%s", reason);
                return 0;
        }

        STRV_FOREACH(l, saved) {
                _cleanup_free_ char *key = NULL, *value = NULL, *live = NULL, *current = NULL;
                unsigned line = numbers[entry++];
                Action *a;

                /* The state file is input too: an entry that names no key of this kind
                 * (a path out of /proc/sys or /sys) is never written to. */
                if (!saved_split(*l, &key, &value) ||
                    !(sk->kind == KIND_SYSCTL ? sysctl_name_is_valid(key) : sysfs_path_is_valid(key))) {
                        _cleanup_free_ char *where = xasprintf("%s:%u", path, line);
                        a = plan_add(plan, sk->kind, VERB_RESTORE, where, STATE_IMPOSSIBLE);
                        action_set_reason(a, "not a saved %s value; left alone", kind_to_string(sk->kind));
                        continue;
                }
                if (policy_sets(sk, ctx->policy, key))
                        continue;
                live = sk->live_path(&(Setting) { .key = key });
                a = plan_add(plan, sk->kind, VERB_RESTORE, key, STATE_CHANGE);
                a->value = TAKE_PTR(value);
                r = read_file_host(live, 64 * 1024, &current);
                if (r < 0) {
                        a->state = STATE_SKIP;
                        action_set_reason(a, "cannot read %s: %s", live, strerror(-r));
                        continue;
                }
                current[strcspn(current, "\n")] = 0;
                a->old_value = TAKE_PTR(current);
                if (!live_differs(a))
                        a->state = STATE_UNCHANGED;
                action_set_reason(a, "no longer in the policy: the value found before dpuos-trim changed it");
        }
        return 0;
}

/* The live value of one setting: a missing or unreadable key is impossible, or skipped when
 * optional (a leading '-', as in sysctl.d: in a container, net.netfilter.* may be
 * unreadable). */
static void probe_live(const SettingsKind *sk, const Setting *s, Action *a) {
        _cleanup_free_ char *live = sk->live_path(s), *current = NULL;
        int r;

        r = read_file_host(live, 64 * 1024, &current);
        if (r < 0) {
                a->state = s->ignore_missing ? STATE_SKIP : STATE_IMPOSSIBLE;
                if (r == -ENOENT)
                        action_set_reason(a, "%s does not exist on this kernel%s", live,
                                          s->ignore_missing ? " (optional)" : "");
                else
                        action_set_reason(a, "cannot read %s: %s%s", live, strerror(-r),
                                          s->ignore_missing ? " (optional)" : "");
                return;
        }
        current[strcspn(current, "\n")] = 0;
        a->old_value = TAKE_PTR(current);
        if (live_differs(a))
                a->state = STATE_CHANGE;
}

int settings_probe(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **existing = NULL, **lines = NULL, **desired = NULL;
        size_t from = plan->n_actions, n;
        const Setting *settings;
        int r;

        r = conffile_read(ctx, sk->conf_path, &existing);
        settings = sk->settings(ctx->policy, &n);
        _cleanup_free_ const char **why = xcalloc(n ?: 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                strv_push(&lines, sk->conf_line(&settings[i]));
                why[i] = protected_setting(ctx, sk->kind, settings[i].key, settings[i].value);
                if (!why[i])
                        strv_extend(&desired, lines[i]);
        }
        if (r >= 0)
                conffile_probe_stale(plan, sk->kind, existing, desired);

        for (size_t i = 0; i < n; i++) {
                bool persisted = strv_contains(existing, lines[i]);
                Action *a = plan_add(plan, sk->kind, VERB_SET, settings[i].key,
                                     persisted ? STATE_UNCHANGED : STATE_CHANGE);

                a->value = xstrdup(settings[i].value);
                if (why[i]) {
                        a->state = STATE_PROTECTED;
                        action_set_reason(a, "protected: %s", why[i]);
                        continue;
                }
                if (persisted) {
                        /* What stays in the file should this action fail. */
                        a->data = xstrdup(lines[i]);
                        a->free_data = free;
                }
                if (!ctx->offline)
                        probe_live(sk, &settings[i], a);
        }
        if (r < 0)
                conffile_probe_failed(plan, from, sk->kind, sk->conf_path, r);
        return probe_restore(sk, ctx, plan, from);
}

/* The value found before the first change is what --revert restores: a later run never
 * overwrites it with a value dpuos-trim itself wrote. */
static int save_old_values(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_free_ char *path = saved_path(sk);
        _cleanup_strv_free_ char **lines = NULL;
        bool added = false;
        int r;

        r = conffile_read(ctx, path, &lines);
        if (r < 0)
                return r;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != sk->kind || a->verb != VERB_SET || a->state != STATE_CHANGE || !live_differs(a))
                        continue;
                _cleanup_free_ char *prefix = xasprintf("%s = ", a->target);
                bool have = false;
                STRV_FOREACH(l, lines)
                        if (startswith(*l, prefix))
                                have = true;
                if (!have) {
                        strv_push(&lines, xasprintf("%s%s", prefix, a->old_value));
                        added = true;
                }
        }
        if (!added)
                return 0;
        return lines_write(ctx, path, "", lines);
}

/* Saved values that are back live (or were never needed) are forgotten. */
static int forget_restored(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_free_ char *path = saved_path(sk);
        _cleanup_strv_free_ char **lines = NULL, **kept = NULL;
        int r;

        r = conffile_read(ctx, path, &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                _cleanup_free_ char *key = NULL, *value = NULL;
                const Action *a = NULL;

                if (saved_split(*l, &key, &value))
                        a = plan_find(plan, sk->kind, VERB_RESTORE, key);
                if (!a || (a->outcome != OUTCOME_DONE && a->outcome != OUTCOME_UNCHANGED))
                        strv_extend(&kept, *l);
        }
        if (strv_length(kept) == strv_length(lines))
                return 0;
        return lines_write(ctx, path, "", kept);
}

static int write_live(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        size_t n = strlen(value);

        if (fd < 0)
                return negative_errno();
        ssize_t k = write(fd, value, n);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EIO;
}

static const char *write_error(int r) {
        switch (r) {
        case -EROFS:
                return "read-only here (a container's /proc/sys?)";
        case -EINVAL:
                return "the kernel refused the value";
        case -EACCES:
        case -EPERM:
                return "not permitted";
        default:
                return strerror(-r);
        }
}

/* No live change without its old value saved first: otherwise --revert could not undo it. */
static int save_or_fail(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_free_ char *path = saved_path(sk);
        int r;

        if (ctx->dry_run)
                return 0;
        r = save_old_values(sk, ctx, plan);
        if (r >= 0)
                return 0;
        log_error_errno(r, "Failed to save the old %s values in %s: %s; changing none", kind_to_string(sk->kind),
                        path, owned_file_strerror(r));
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind == sk->kind && a->verb == VERB_SET && a->state == STATE_CHANGE &&
                    a->outcome == OUTCOME_PENDING && live_differs(a))
                        action_fail(ctx, plan, a, r, "cannot save its old value in %s: %s; not changed", path,
                                    owned_file_strerror(r));
        }
        return r;
}

static int set_live(const SettingsKind *sk, Context *ctx, Plan *plan, Action *a) {
        const Setting *settings;
        const Setting *s = NULL;
        size_t n;
        int r;

        settings = sk->settings(ctx->policy, &n);
        for (size_t k = 0; k < n && !s; k++)
                if (streq(settings[k].key, a->target))
                        s = &settings[k];

        _cleanup_free_ char *path = sk->live_path(&(Setting) { .key = a->target });
        r = write_live(path, a->value);
        if (r >= 0)
                return 0;
        if (s && s->ignore_missing) {
                log_debug_errno(r, "Cannot set optional %s, ignoring: %m", a->target);
                action_set_reason(a, "cannot write %s: %s (optional)", path, write_error(r));
                plan_settle(ctx, plan, a, OUTCOME_SKIPPED, r);
                return 0;
        }
        action_fail(ctx, plan, a, r, "cannot write %s: %s", path, write_error(r));
        return log_error_errno(r, "Failed to set %s: %s", a->target, write_error(r));
}

static int apply_live(const SettingsKind *sk, Context *ctx, Plan *plan) {
        int ret = save_or_fail(sk, ctx, plan), r;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != sk->kind || a->verb != VERB_SET || !live_differs(a) || !action_begin(ctx, plan, a))
                        continue;
                RET_GATHER(ret, set_live(sk, ctx, plan, a));
        }

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != sk->kind || a->verb != VERB_RESTORE || !action_begin(ctx, plan, a))
                        continue;
                /* Saved as read: a choice list ("always [madvise] never") is written back as
                 * its selected entry. */
                _cleanup_free_ char *path = sk->live_path(&(Setting) { .key = a->target });
                _cleanup_free_ char *value = normalize_value(a->value);
                r = write_live(path, value);
                if (r < 0) {
                        action_fail(ctx, plan, a, r, "cannot write %s: %s", path, write_error(r));
                        RET_GATHER(ret, log_error_errno(r, "Failed to restore %s: %m", a->target));
                } else
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
        }
        if (!ctx->dry_run) {
                r = forget_restored(sk, ctx, plan);
                if (r < 0) {
                        _cleanup_free_ char *path = saved_path(sk);
                        plan_add_error(plan, "%s: cannot update the saved old values in %s: %s",
                                       kind_to_string(sk->kind), path, owned_file_strerror(r));
                        RET_GATHER(ret, r);
                }
        }
        return ret;
}

/* The file says what the policy says, but for a failed action: it changes nothing, so its
 * line stays as it was (there, or not). */
static char **persisted_lines(const SettingsKind *sk, Context *ctx, Plan *plan) {
        const Setting *settings;
        char **lines = NULL;
        size_t n;

        settings = sk->settings(ctx->policy, &n);
        for (size_t i = 0; i < n; i++) {
                const Action *a = plan_find(plan, sk->kind, VERB_SET, settings[i].key);
                if (a && (a->state == STATE_PROTECTED ||
                          ((a->state == STATE_IMPOSSIBLE || a->outcome == OUTCOME_FAILED) && !a->data)))
                        continue;
                strv_push(&lines, sk->conf_line(&settings[i]));
        }
        return lines;
}

int settings_apply(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **lines = NULL;
        int ret = 0;

        if (!ctx->offline)
                ret = apply_live(sk, ctx, plan);

        lines = persisted_lines(sk, ctx, plan);
        RET_GATHER(ret, conffile_apply(ctx, plan, sk->kind, VERB_SET, sk->conf_path, lines));
        return ret;
}
