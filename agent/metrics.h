/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"
#include "report.h"
#include "status.h"

/* Prometheus: the node exporter's textfile collector reads *.prom files from a directory.
 * When the tree has one (the policy's [Policy] TextfileDirectory=, or Debian's
 * /var/lib/prometheus/node-exporter), each application and each --verify rewrites
 * dpuos-trim.prom there, atomically: an application its own families, --verify the drift
 * ones, each keeping what the other wrote (dpuos-trim(8), METRICS). */
#define METRICS_DEFAULT_DIR "/var/lib/prometheus/node-exporter"
#define METRICS_FILE "dpuos-trim.prom"

/* 0 when written or when there is no directory to write to; -errno when writing failed. */
int metrics_write_apply(const Context *ctx, const Plan *plan, const RunInfo *info, Status status);

/* --verify becomes the user nobody before it reads anything, so its metrics are written by
 * a child forked before that: it keeps root's privileges and does nothing but write what
 * the parent sends, a path that ends in /dpuos-trim.prom and the text, atomically into the
 * tree. start forks it (not as root: nothing is forked, and finish writes itself); finish
 * sends path and text (path NULL: nothing) and returns the write's result. */
typedef struct MetricsWriter {
        int pid;
        int fd;
} MetricsWriter;
int metrics_writer_start(int root_fd, MetricsWriter *w);
int metrics_writer_finish(int root_fd, MetricsWriter *w, const char *path, const char *text);
/* The drift families with what the application wrote kept; *ret_path NULL: nowhere. */
char *metrics_verify_text(const Context *ctx, const Plan *plan, const RunInfo *info, size_t drift, char **ret_path);

/* Where the file goes: a new string, or NULL when there is no such directory. */
char *metrics_path(const Context *ctx);
