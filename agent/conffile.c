/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "conffile.h"
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

int conffile_read_numbered(Context *ctx, const char *path, char ***ret_lines, unsigned **ret_numbers) {
        _cleanup_free_ char *text = NULL;
        char **lines = NULL;
        unsigned *numbers = NULL, number = 0;
        size_t n = 0;
        int r;

        r = read_owned_file_in_root(ctx->root_fd, path, 4 * 1024 * 1024, &text);
        if (r == -ENOENT) {
                *ret_lines = NULL;
                if (ret_numbers)
                        *ret_numbers = NULL;
                return 0;
        }
        if (r < 0)
                return r;

        for (char *l = text, *end; *l; l = end + (*end == '\n')) {
                end = strchrnul(l, '\n');
                number++;
                if (end == l || l[0] == '#')
                        continue;
                strv_push(&lines, xstrndup(l, end - l));
                if (ret_numbers) {
                        numbers = xrealloc(numbers, (n + 1) * sizeof(unsigned));
                        numbers[n] = number;
                }
                n++;
        }
        *ret_lines = lines;
        if (ret_numbers)
                *ret_numbers = numbers;
        return 0;
}

int conffile_read(Context *ctx, const char *path, char ***ret_lines) {
        return conffile_read_numbered(ctx, path, ret_lines, NULL);
}

void conffile_probe_failed(Plan *plan, size_t from, Kind kind, const char *path, int r) {
        _cleanup_free_ char *reason = xasprintf("cannot read %s: %s", path, owned_file_strerror(r));
        plan_fail_since(plan, from, kind, VERB_DROP, path, reason);
}

void conffile_probe_stale(Plan *plan, Kind kind, char **existing, char **desired) {
        STRV_FOREACH(l, existing)
                if (!strv_contains(desired, *l)) {
                        Action *a = plan_add(plan, kind, VERB_DROP, *l, STATE_CHANGE);
                        action_set_reason(a, "no longer in the policy");
                }
}

char *lines_join(const char *header, char **lines) {
        size_t n = strlen(header);
        char *s, *p;

        STRV_FOREACH(l, lines)
                n += strlen(*l) + 1;
        s = xmalloc(n + 1);
        p = stpcpy(s, header);
        STRV_FOREACH(l, lines)
                p = stpcpy(stpcpy(p, *l), "\n");
        return s;
}

int lines_write(Context *ctx, const char *path, const char *header, char **lines) {
        _cleanup_free_ char *content = NULL;
        int r;

        if (!lines || !*lines) {
                r = unlink_in_root(ctx->root_fd, path);
                return r == -ENOENT ? 0 : r;
        }
        content = lines_join(header, lines);
        r = write_file_atomic_in_root(ctx->root_fd, path, content, 0644);
        return r < 0 ? r : 0;
}

static char *conffile_format(const Policy *policy, char **lines) {
        _cleanup_free_ char *header = xasprintf("# Written by dpuos-trim from policy \"%s\". Do not edit: change the policy\n"
                                                "# (dpuos-trim.conf(5)) and run dpuos-trim again.\n",
                                                policy->name ?: "unnamed");
        return lines_join(header, lines);
}

int conffile_apply(Context *ctx, Plan *plan, Kind kind, Verb verb, const char *path, char **lines) {
        _cleanup_free_ char *content = NULL;
        bool want = false;
        int r = 0;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind == kind && (a->verb == verb || a->verb == VERB_DROP) && action_begin(ctx, plan, a))
                        want = true;
        }
        if (!want)
                return 0;

        if (lines) {
                content = conffile_format(ctx->policy, lines);
                r = write_file_atomic_in_root(ctx->root_fd, path, content, 0644);
        } else
                r = unlink_in_root(ctx->root_fd, path);
        if (r < 0)
                log_error_errno(r, "Failed to %s %s: %s", lines ? "write" : "remove", path, owned_file_strerror(r));
        else
                log_debug("%s %s.", lines ? "Wrote" : "Removed", path);

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind != kind || (a->verb != verb && a->verb != VERB_DROP) ||
                    a->outcome != OUTCOME_PENDING || a->state != STATE_CHANGE)
                        continue;
                if (r < 0)
                        action_fail(ctx, plan, a, r, "cannot %s %s: %s", lines ? "write" : "remove", path,
                                    owned_file_strerror(r));
                else
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
        }
        return r < 0 ? r : 0;
}
