/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"
#include "report.h"

/* MESSAGE_IDs, explained in the catalog (units/dpuos-trim.catalog). */
#define MESSAGE_ID_SUMMARY "a41e3e0afd4b4df6a4e60b503a2160c5"
#define MESSAGE_ID_ACTION  "27270dcbc1a048cd803b1a76dc9bf0ac"
#define MESSAGE_ID_VERIFY  "cea0112747fb458c85c385aa314ff1df"

/* One structured entry per action (kind, action, target, outcome, bytes, reason) and one
 * summary entry with counts and bytes freed. Only for the live system: an offline run on a
 * tree has no journal of its own. */
void journal_log_plan(const Context *ctx, const Plan *plan, const RunInfo *info);

/* --verify on the live system: one entry, with one DPUOS_TRIM_DRIFT_ITEM= field per item
 * that no longer holds ("KIND TARGET: DRIFT"). */
void journal_log_verify(const Context *ctx, const Plan *plan, const RunInfo *info);
