/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

#define MANIFEST_DIR "/var/lib/dpuos-trim/removed"

/* Writes MANIFEST_DIR/TIME-PID.list with the paths the file patterns of the plan removed
 * (their PathList), when there are any; *ret_path its path (or NULL). */
int manifest_write(Context *ctx, const Plan *plan, double started, char **ret_path);
