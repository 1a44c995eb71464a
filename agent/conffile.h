/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* The configuration files dpuos-trim owns (modprobe.d, sysctl.d, tmpfiles.d): one line per
 * policy entry, under a header that names the policy. */

/* The lines of the file as it is now, without comments and empty lines; none when it does
 * not exist. The numbered variant also gives each line's number in the file. */
int conffile_read(Context *ctx, const char *path, char ***ret_lines);
int conffile_read_numbered(Context *ctx, const char *path, char ***ret_lines, unsigned **ret_numbers);

/* A probe could not read path (error r): the actions of kind that it added from index
 * `from` on depend on what the file says, and become impossible (plan_fail_since()). */
void conffile_probe_failed(Plan *plan, size_t from, Kind kind, const char *path, int r);

/* Plans the removal of the lines the file has but the policy no longer asks for (one
 * VERB_DROP action each), so that the file always says exactly what the policy says. */
void conffile_probe_stale(Plan *plan, Kind kind, char **existing, char **desired);

/* header (may be "") followed by each line and a newline. */
char *lines_join(const char *header, char **lines);

/* Writes header and lines atomically, or removes the file when there are no lines (one
 * already gone is fine): the state files under /var/lib/dpuos-trim/saved. */
int lines_write(Context *ctx, const char *path, const char *header, char **lines);

/* Writes the file atomically with exactly these lines (removes it when there are none),
 * then settles every action of the kind that was to change (verb, or VERB_DROP) and is still
 * pending: done, or failed with the write's error. A dry run stops before the write. */
int conffile_apply(Context *ctx, Plan *plan, Kind kind, Verb verb, const char *path, char **lines);
