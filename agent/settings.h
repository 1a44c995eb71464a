/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* [Sysctl] and [Sysfs] differ only in where the value lives and how it is persisted; this
 * is the part they share. */
typedef struct SettingsKind {
        Kind kind;
        const char *conf_path;                           /* the file persisting them */
        char *(*conf_line)(const Setting *s);            /* its line for one setting */
        char *(*live_path)(const Setting *s);            /* the file in /proc or /sys */
        const Setting *(*settings)(const Policy *p, size_t *n);
} SettingsKind;

int settings_probe(const SettingsKind *sk, Context *ctx, Plan *plan);
int settings_apply(const SettingsKind *sk, Context *ctx, Plan *plan);
