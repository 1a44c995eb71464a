/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* The modes that only look (--dry-run, --check) become the unprivileged user "nobody" with
 * one capability left, CAP_DAC_READ_SEARCH, which reads and searches any file but writes
 * none; the bounding set keeps nothing else and no_new_privs is set, so nothing can be
 * gained back. A no-op when not running as root. */
int caps_drop_to_reader(void);

/* Apply mode keeps root but only the capabilities the planned changes need (for example
 * CAP_SYS_MODULE only when a module is to be unloaded), in the effective, permitted and
 * bounding sets, before anything is changed. */
int caps_drop_for_plan(const Context *ctx, const Plan *plan);
