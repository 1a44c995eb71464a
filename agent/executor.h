/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* One executor per kind of change. probe() adds its actions to the plan, with the state it
 * found; apply() carries out exactly those actions (in a dry run it walks the same code and
 * stops just before each change, at action_begin()).
 *
 * The contract: every failure an executor meets ends up in the plan, as an impossible
 * action (probe: the current state could not be read, or the change cannot be made), a
 * failed one (apply), or a run error (plan_add_error()) when no action stands for it.
 * Either returns the first error it met (a probe, once its failures are in the plan, 0);
 * an error returned that left no trace in the plan is made a run error by the dispatcher,
 * so that no failure is only a log line. */
typedef struct Executor {
        Kind kind;
        const char *name;
        int (*probe)(Context *ctx, Plan *plan);
        int (*apply)(Context *ctx, Plan *plan);
} Executor;

extern const Executor units_executor, modules_executor, initramfs_executor, kernel_executor, sysctl_executor, sysfs_executor,
        packages_executor, exclusions_executor, files_executor, modindex_executor;

/* Does a Remove= pattern of the files plan take this inode? For the executors of the files
 * kind that follow the removal and must know what it will leave. */
bool files_plan_removes(const Plan *plan, uint64_t dev, uint64_t ino);

/* Closes what the executors opened in the context (bus, libkmod, caches, the root). */
void context_done(Context *ctx);

/* Probe or apply every executor of the kind, in the order of the table in executor.c. */
int executors_probe(Context *ctx, Plan *plan, Kind kind);
int executors_apply(Context *ctx, Plan *plan, Kind kind);
