/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libkmod.h>
#include <systemd/sd-bus.h>

#include "executor.h"
#include "log.h"
#include "macro.h"
#include "protect.h"
#include "strv.h"

/* The order of application. Units first, so that nothing masked starts while the rest
 * runs; each initramfs that carries a blacklisted module rebuilt once the blacklist is
 * written; the package managers' exclusions before the file removals, so that an update
 * running meanwhile brings nothing back; files last, as the slowest and the least urgent,
 * and after them the module index of each kernel whose module files they removed.
 * A new kind is one line here and one Kind. */
static const Executor * const executors[] = {
        &units_executor,
        &modules_executor,
        &initramfs_executor,
        &kernel_executor,
        &sysctl_executor,
        &sysfs_executor,
        &packages_executor,
        &exclusions_executor,
        &files_executor,
        &modindex_executor,
};

/* Does the plan say that something of this kind went wrong? */
static bool kind_failed(const Plan *plan, Kind kind) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == kind && (a->state == STATE_IMPOSSIBLE || a->outcome == OUTCOME_FAILED))
                        return true;
        }
        return false;
}

/* A failure that an executor returned without putting it in the plan becomes a run
 * error: the exit status and the report say so, whatever the executor forgot. */
static int gather(Plan *plan, const Executor *e, const char *step, size_t errors_before, int r) {
        if (r < 0 && strv_length(plan->errors) == errors_before && !kind_failed(plan, e->kind))
                plan_add_error(plan, "%s: %s failed: %s", e->name, step, strerror(-r));
        return r;
}

/* Every executor of the kind, in the table's order; an application stops at OnFailure=stop. */
static int run_executors(Context *ctx, Plan *plan, Kind kind, bool apply) {
        int ret = 0;

        for (size_t i = 0; i < ELEMENTSOF(executors) && !(apply && plan->stopped); i++) {
                const Executor *e = executors[i];
                if (e->kind != kind)
                        continue;
                size_t before = strv_length(plan->errors);
                int r = apply ? e->apply(ctx, plan) : e->probe(ctx, plan);
                RET_GATHER(ret, gather(plan, e, apply ? "applying" : "probing", before, r));
        }
        return ret;
}

int executors_probe(Context *ctx, Plan *plan, Kind kind) {
        return run_executors(ctx, plan, kind, false);
}

int executors_apply(Context *ctx, Plan *plan, Kind kind) {
        return run_executors(ctx, plan, kind, true);
}

void context_done(Context *ctx) {
        ctx->bus = sd_bus_flush_close_unref(ctx->bus);
        ctx->kmod = kmod_unref(ctx->kmod);
        protected_free(ctx->protected);
        ctx->protected = NULL;
        if (ctx->root_fd >= 0)
                close(ctx->root_fd);
        ctx->root_fd = -1;
}
