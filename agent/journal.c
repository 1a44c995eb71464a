/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <syslog.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "journal.h"
#include "json.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

static int action_priority(const Action *a) {
        switch (a->outcome) {
        case OUTCOME_FAILED:
                return LOG_ERR;
        case OUTCOME_DONE:
                return LOG_NOTICE;
        default:
                return LOG_INFO;
        }
}

/* Sends one entry of "FIELD=value" strings and frees them. The journal is where the
 * report goes, not a step of the run: when it is not there, stderr and report.json still
 * say everything, so a failed send is not a failure of the run. */
static void send_fields(char **fields) {
        size_t n = strv_length(fields);
        struct iovec *iov = xcalloc(n ?: 1, sizeof(struct iovec));

        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = fields[i], .iov_len = strlen(fields[i]) };
        if (sd_journal_sendv(iov, (int) n) < 0)
                log_debug("Cannot write to the journal, ignoring.");
        free(iov);
        strv_free(fields);
}

void journal_log_plan(const Context *ctx, const Plan *plan, const RunInfo *info) {
        Totals t;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                const char *outcome = ctx->dry_run && a->outcome == OUTCOME_PENDING ? "planned" : outcome_to_string(a->outcome);
                /* The message is read on terminals: file names may hold control bytes. */
                _cleanup_free_ char *target = text_escape(a->target), *reason = text_escape(strempty(a->reason));

                sd_journal_send("MESSAGE=%s %s %s: %s%s%s%s", kind_to_string(a->kind), verb_to_string(a->verb),
                                target, outcome, a->reason ? " (" : "", reason, a->reason ? ")" : "",
                                "MESSAGE_ID=" MESSAGE_ID_ACTION,
                                "PRIORITY=%d", action_priority(a),
                                "DPUOS_TRIM_MODE=%s", info->mode,
                                "DPUOS_TRIM_KIND=%s", kind_to_string(a->kind),
                                "DPUOS_TRIM_ACTION=%s", verb_to_string(a->verb),
                                "DPUOS_TRIM_TARGET=%s", a->target,
                                "DPUOS_TRIM_OUTCOME=%s", outcome,
                                "DPUOS_TRIM_REASON=%s", strempty(a->reason),
                                "DPUOS_TRIM_VALUE=%s", strempty(a->value),
                                "DPUOS_TRIM_OLD_VALUE=%s", strempty(a->old_value),
                                "DPUOS_TRIM_BYTES=%" PRIu64, a->bytes,
                                NULL);
        }

        report_totals(plan, -1, ctx->dry_run, &t);
        size_t errors = strv_length(plan->errors);
        uint64_t changed = ctx->dry_run ? t.n[OUTCOME_PENDING] : t.n[OUTCOME_DONE];
        char **fields = NULL;

        strv_push(&fields, xasprintf("MESSAGE=dpuos-trim %s policy \"%s\": %" PRIu64 " %s, %" PRIu64 " unchanged, %" PRIu64
                                     " skipped, %" PRIu64 " protected, %" PRIu64 " failed, %zu error%s; %" PRIu64
                                     " bytes freed in %.2fs",
                                     ctx->dry_run ? "planned" : "applied", ctx->policy->name ?: "unnamed",
                                     changed, ctx->dry_run ? "to change" : "done",
                                     t.n[OUTCOME_UNCHANGED], t.n[OUTCOME_SKIPPED], t.n[OUTCOME_PROTECTED],
                                     t.n[OUTCOME_FAILED], errors, errors == 1 ? "" : "s", t.bytes_freed, info->duration));
        strv_push(&fields, xstrdup("MESSAGE_ID=" MESSAGE_ID_SUMMARY));
        strv_push(&fields, xasprintf("PRIORITY=%d", t.n[OUTCOME_FAILED] || errors ? LOG_WARNING : LOG_NOTICE));
        strv_push(&fields, xasprintf("DPUOS_TRIM_MODE=%s", info->mode));
        strv_push(&fields, xasprintf("DPUOS_TRIM_POLICY=%s", ctx->policy->name ?: "unnamed"));
        strv_push(&fields, xasprintf("DPUOS_TRIM_DONE=%" PRIu64, changed));
        strv_push(&fields, xasprintf("DPUOS_TRIM_UNCHANGED=%" PRIu64, t.n[OUTCOME_UNCHANGED]));
        strv_push(&fields, xasprintf("DPUOS_TRIM_SKIPPED=%" PRIu64, t.n[OUTCOME_SKIPPED]));
        strv_push(&fields, xasprintf("DPUOS_TRIM_PROTECTED=%" PRIu64, t.n[OUTCOME_PROTECTED]));
        strv_push(&fields, xasprintf("DPUOS_TRIM_FAILED=%" PRIu64, t.n[OUTCOME_FAILED]));
        strv_push(&fields, xasprintf("DPUOS_TRIM_ERRORS=%zu", errors));
        STRV_FOREACH(e, plan->errors)
                strv_push(&fields, xasprintf("DPUOS_TRIM_ERROR=%s", *e));
        strv_push(&fields, xasprintf("DPUOS_TRIM_BYTES_FREED=%" PRIu64, t.bytes_freed));
        strv_push(&fields, xasprintf("DPUOS_TRIM_FILES_REMOVED=%" PRIu64, t.files));
        strv_push(&fields, xasprintf("DPUOS_TRIM_DURATION_USEC=%" PRIu64, (uint64_t) (info->duration * 1e6)));
        send_fields(fields);
}

void journal_log_verify(const Context *ctx, const Plan *plan, const RunInfo *info) {
        _cleanup_strv_free_ char **fields = NULL;
        size_t drift = plan_count_drift(plan);

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->state == STATE_CHANGE)
                        strv_push(&fields, xasprintf("DPUOS_TRIM_DRIFT_ITEM=%s %s: %s", kind_to_string(a->kind),
                                                     a->target, drift_to_string(a)));
                else if (a->state == STATE_IMPOSSIBLE)
                        strv_push(&fields, xasprintf("DPUOS_TRIM_DRIFT_ITEM=%s %s: cannot hold: %s",
                                                     kind_to_string(a->kind), a->target, strempty(a->reason)));
        }
        STRV_FOREACH(e, plan->errors)
                strv_push(&fields, xasprintf("DPUOS_TRIM_ERROR=%s", *e));
        strv_push(&fields, drift ? xasprintf("MESSAGE=dpuos-trim: %zu item%s of policy \"%s\" no longer hold%s "
                                             "(dpuos-trim --verify lists them)", drift, drift == 1 ? "" : "s",
                                             ctx->policy->name ?: "unnamed", drift == 1 ? "s" : "")
                                 : xasprintf("MESSAGE=dpuos-trim: policy \"%s\" holds", ctx->policy->name ?: "unnamed"));
        strv_push(&fields, xstrdup("MESSAGE_ID=" MESSAGE_ID_VERIFY));
        strv_push(&fields, xasprintf("PRIORITY=%d", drift ? LOG_WARNING : LOG_INFO));
        strv_push(&fields, xasprintf("DPUOS_TRIM_MODE=%s", info->mode));
        strv_push(&fields, xasprintf("DPUOS_TRIM_POLICY=%s", ctx->policy->name ?: "unnamed"));
        strv_push(&fields, xasprintf("DPUOS_TRIM_DRIFT=%zu", drift));
        strv_push(&fields, xasprintf("DPUOS_TRIM_ERRORS=%zu", strv_length(plan->errors)));

        send_fields(TAKE_PTR(fields));
}
