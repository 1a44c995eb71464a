/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#include "macro.h"
#include "plan.h"
#include "strv.h"

static const char * const kind_names[_KIND_MAX] = {
        [KIND_UNITS] = "units",
        [KIND_MODULES] = "modules",
        [KIND_KERNEL] = "kernel",
        [KIND_SYSCTL] = "sysctl",
        [KIND_SYSFS] = "sysfs",
        [KIND_PACKAGES] = "packages",
        [KIND_FILES] = "files",
};

static const char * const verb_names[_VERB_MAX] = {
        [VERB_MASK] = "mask",
        [VERB_STOP] = "stop",
        [VERB_BLACKLIST] = "blacklist",
        [VERB_UNLOAD] = "unload",
        [VERB_SET] = "set",
        [VERB_REMOVE] = "remove",
        [VERB_DROP] = "drop",
        [VERB_RESTORE] = "restore",
        [VERB_EXCLUDE] = "exclude",
        [VERB_REBUILD] = "rebuild",
        [VERB_REBOOT] = "reboot",
};

static const char * const state_names[_STATE_MAX] = {
        [STATE_CHANGE] = "change",
        [STATE_UNCHANGED] = "unchanged",
        [STATE_SKIP] = "skip",
        [STATE_PROTECTED] = "protected",
        [STATE_IMPOSSIBLE] = "impossible",
};

static const char * const outcome_names[_OUTCOME_MAX] = {
        [OUTCOME_PENDING] = "pending",
        [OUTCOME_DONE] = "done",
        [OUTCOME_UNCHANGED] = "unchanged",
        [OUTCOME_SKIPPED] = "skipped",
        [OUTCOME_FAILED] = "failed",
        [OUTCOME_PROTECTED] = "protected",
};

const char *kind_to_string(Kind k) {
        return k < _KIND_MAX ? kind_names[k] : NULL;
}

int kind_from_string(const char *s) {
        for (int k = 0; k < _KIND_MAX; k++)
                if (streq(kind_names[k], s))
                        return k;
        return -EINVAL;
}

const char *verb_to_string(Verb v) {
        return v < _VERB_MAX ? verb_names[v] : NULL;
}

const char *state_to_string(State s) {
        return s < _STATE_MAX ? state_names[s] : NULL;
}

const char *outcome_to_string(Outcome o) {
        return o < _OUTCOME_MAX ? outcome_names[o] : NULL;
}

Outcome state_to_outcome(State s) {
        switch (s) {
        case STATE_CHANGE:
                return OUTCOME_DONE;
        case STATE_UNCHANGED:
                return OUTCOME_UNCHANGED;
        case STATE_SKIP:
                return OUTCOME_SKIPPED;
        case STATE_PROTECTED:
                return OUTCOME_PROTECTED;
        default:
                return OUTCOME_FAILED;
        }
}

Action *plan_add(Plan *plan, Kind kind, Verb verb, const char *target, State state) {
        Action *a = xcalloc(1, sizeof(Action));

        *a = (Action) {
                .kind = kind,
                .verb = verb,
                .target = xstrdup(target),
                .state = state,
        };
        /* The allocation doubles (it is the power of two the count has reached), so a plan
         * of 100,000 actions is not copied 100,000 times. */
        size_t n = plan->n_actions;
        if ((n & (n - 1)) == 0)
                plan->actions = xrealloc(plan->actions, (n ? 2 * n : 1) * sizeof(Action *));
        plan->actions[plan->n_actions++] = a;
        return a;
}

size_t plan_count_state(const Plan *plan, State state) {
        size_t n = 0;
        for (size_t i = 0; i < plan->n_actions; i++)
                n += plan->actions[i]->state == state;
        return n;
}

size_t plan_count_drift(const Plan *plan) {
        return plan_count_state(plan, STATE_CHANGE) + plan_count_state(plan, STATE_IMPOSSIBLE);
}

Action *plan_find_verb(const Plan *plan, Kind kind, Verb verb) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == kind && plan->actions[i]->verb == verb)
                        return plan->actions[i];
        return NULL;
}

Action *plan_find(const Plan *plan, Kind kind, Verb verb, const char *target) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == kind && plan->actions[i]->verb == verb &&
                    streq(plan->actions[i]->target, target))
                        return plan->actions[i];
        return NULL;
}

_printf_(2, 0)
static void action_set_reason_va(Action *a, const char *fmt, va_list ap) {
        free(a->reason);
        if (vasprintf(&a->reason, fmt, ap) < 0)
                a->reason = NULL;
}

void action_set_reason(Action *a, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        action_set_reason_va(a, fmt, ap);
        va_end(ap);
}

void plan_add_error(Plan *plan, const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        strv_push(&plan->errors, s ?: xstrdup(fmt));
}

void plan_fail_since(Plan *plan, size_t from, Kind kind, Verb verb, const char *target, const char *reason) {
        bool any = false;

        for (size_t i = from; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != kind)
                        continue;
                a->state = STATE_IMPOSSIBLE;
                action_set_reason(a, "%s", reason);
                any = true;
        }
        if (!any)
                action_set_reason(plan_add(plan, kind, verb, target, STATE_IMPOSSIBLE), "%s", reason);
}

void path_list_add(PathList *l, const char *path, uint64_t bytes, PathMark mark, bool dir) {
        if (l->n == l->allocated) {
                l->allocated = l->allocated * 2 + 64;
                l->v = xrealloc(l->v, l->allocated * sizeof(PathEntry));
        }
        l->v[l->n++] = (PathEntry) { .path = xstrdup(path), .bytes = bytes, .mark = mark, .dir = dir };
}

void path_list_done(PathList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].path);
        free(l->v);
        *l = (PathList) {};
}

static void action_free(Action *a) {
        if (!a)
                return;
        path_list_done(&a->paths);
        if (a->free_data)
                a->free_data(a->data);
        free(a->target);
        free(a->value);
        free(a->old_value);
        free(a->reason);
        free(a);
}

void plan_forget_kind(Plan *plan, Kind kind) {
        size_t kept = 0;

        /* The allocation stays: it is at least the power of two the count had reached, which
         * plan_add()'s doubling relies on. */
        for (size_t i = 0; i < plan->n_actions; i++) {
                if (plan->actions[i]->kind == kind)
                        action_free(plan->actions[i]);
                else
                        plan->actions[kept++] = plan->actions[i];
        }
        plan->n_actions = kept;
}

void plan_done(Plan *plan) {
        for (size_t i = 0; i < plan->n_actions; i++)
                action_free(plan->actions[i]);
        free(plan->actions);
        strv_free(plan->errors);
        *plan = (Plan) {};
}

void test_kill_point(void) {
        static long remaining = -1;

        if (!ENABLE_TEST_HOOKS)
                return;
        if (remaining == -1) {
                const char *e = getenv("DPUOS_TRIM_TEST_KILL_AT");
                remaining = e ? strtol(e, NULL, 10) : 0;
                if (remaining <= 0)
                        remaining = -2;
        }
        if (remaining > 0 && --remaining == 0)
                raise(SIGKILL);
}

void test_pause_point(const char *where) {
        const char *fifo = ENABLE_TEST_HOOKS ? getenv("DPUOS_TRIM_TEST_PAUSE") : NULL;
        const char *at = ENABLE_TEST_HOOKS ? getenv("DPUOS_TRIM_TEST_PAUSE_AT") : NULL;
        char c;

        if (!fifo || (where ? !at || !streq(at, where) : !!at))
                return;
        int fd = open(fifo, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) read(fd, &c, 1);
                close(fd);
        }
}

bool plan_settle(Context *ctx, Plan *plan, Action *a, Outcome outcome, int error) {
        if (outcome == OUTCOME_DONE)
                test_kill_point();
        a->outcome = outcome;
        a->error = error;
        if (outcome == OUTCOME_FAILED && !a->reason && error < 0)
                a->reason = xstrdup(strerror(-error));
        if (outcome == OUTCOME_FAILED && ctx->policy->on_failure_stop)
                plan->stopped = true;
        return plan->stopped;
}

bool action_fail(Context *ctx, Plan *plan, Action *a, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        action_set_reason_va(a, fmt, ap);
        va_end(ap);
        return plan_settle(ctx, plan, a, OUTCOME_FAILED, error < 0 ? error : -EIO);
}

void plan_abandon_kind(Context *ctx, Plan *plan, Kind kind, int error, const char *reason) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != kind || a->outcome != OUTCOME_PENDING)
                        continue;
                if (a->state == STATE_CHANGE)
                        action_fail(ctx, plan, a, error, "%s", reason);
                else
                        plan_settle(ctx, plan, a, state_to_outcome(a->state), 0);
        }
}

bool action_begin(Context *ctx, Plan *plan, Action *a) {
        if (a->outcome != OUTCOME_PENDING)
                return false;
        if (a->state != STATE_CHANGE) {
                plan_settle(ctx, plan, a, state_to_outcome(a->state), 0);
                return false;
        }
        return !ctx->dry_run && !plan->stopped;
}
