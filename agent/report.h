/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "plan.h"

#define REPORT_PATH "/var/lib/dpuos-trim/report.json"

typedef struct RunInfo {
        const char *mode;        /* "apply", "dry-run", "verify" or "revert" */
        double started;          /* CLOCK_REALTIME, seconds */
        double duration;         /* seconds */
        double kind_seconds[_KIND_MAX];
} RunInfo;

typedef struct Totals {
        uint64_t n[_OUTCOME_MAX];
        uint64_t bytes_freed;   /* in a dry run: to free */
        uint64_t files, dirs;
        uint64_t packages;      /* removed (to remove), with their installed size */
        uint64_t package_bytes;
} Totals;

/* kind < 0: all kinds. The bytes, files and directories are those removed, or in a dry run
 * those the plan would remove. */
void report_totals(const Plan *plan, int kind, bool dry_run, Totals *ret);

/* The plan as a table, for --dry-run and -v. */
/* With paths, each file pattern's paths under it (PathList). */
void report_print_table(const Plan *plan, bool dry_run, bool paths, FILE *f);

/* The plan or the report as JSON (dpuos-trim(8), REPORT). */
void report_print_json(const Context *ctx, const Plan *plan, const RunInfo *info, FILE *f);

/* --verify: the actions that found drift (all of them with all), and what each drift is. */
void report_print_drift(const Plan *plan, bool all, FILE *f);
const char *drift_to_string(const Action *a);

/* Atomically writes report.json into the tree's state directory. */
int report_write(const Context *ctx, const Plan *plan, const RunInfo *info);

/* Counts per kind and bytes freed, the failed actions and the run errors. */
void report_print_summary(const Context *ctx, const Plan *plan, const RunInfo *info, FILE *f);
/* One "  error: ..." line per run error. */
void report_print_errors(const Plan *plan, FILE *f);

char *format_bytes(uint64_t n);
