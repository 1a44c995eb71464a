/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* Part of the files kind: the package managers' settings that keep removed files from
 * being installed again ([Files] PreventReinstall=). One action per setting file:
 * "exclude" (write it), or "drop" when the policy no longer asks for it. */
int reinstall_probe(Context *ctx, Plan *plan);
int reinstall_apply(Context *ctx, Plan *plan);
