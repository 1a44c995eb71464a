/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "executor.h"
#include "macro.h"
#include "settings.h"

#define SYSCTL_CONF "/etc/sysctl.d/90-dpuos-trim.conf"

/* sysctl.d(5): "key = value"; a leading '-' makes a missing key not an error at boot. */
static char *sysctl_conf_line(const Setting *s) {
        return xasprintf("%s%s = %s", s->ignore_missing ? "-" : "", s->key, s->value);
}

static char *sysctl_live_path(const Setting *s) {
        char *p = xasprintf("/proc/sys/%s", s->key);
        for (char *c = p + strlen("/proc/sys/"); *c; c++)
                *c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
        return p;
}

static const Setting *sysctl_settings(const Policy *p, size_t *n) {
        *n = p->n_sysctl;
        return p->sysctl;
}

static const SettingsKind sysctl_kind = {
        .kind = KIND_SYSCTL,
        .conf_path = SYSCTL_CONF,
        .conf_line = sysctl_conf_line,
        .live_path = sysctl_live_path,
        .settings = sysctl_settings,
};

static int sysctl_probe(Context *ctx, Plan *plan) {
        return settings_probe(&sysctl_kind, ctx, plan);
}

static int sysctl_apply(Context *ctx, Plan *plan) {
        return settings_apply(&sysctl_kind, ctx, plan);
}

const Executor sysctl_executor = {
        .kind = KIND_SYSCTL,
        .name = "sysctl",
        .probe = sysctl_probe,
        .apply = sysctl_apply,
};
