/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* The configuration files dpuos-trim owns (modprobe.d, sysctl.d, tmpfiles.d): one line per
 * policy entry, under a header that names the policy. */

/* The lines of the file as it is now; none when it does not exist. */
int conffile_read(Context *ctx, const char *path, char ***ret_lines);

/* Writes the file atomically with exactly these lines (unless it already has them), then
 * settles every action of the kind that was to change: done, or failed with the write's
 * error. A dry run stops before the write. */
int conffile_apply(Context *ctx, Plan *plan, Kind kind, Verb verb, const char *path, char **lines);
