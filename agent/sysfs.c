/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "executor.h"
#include "macro.h"
#include "settings.h"

#define SYSFS_CONF "/etc/tmpfiles.d/dpuos-trim.conf"

/* tmpfiles.d(5) expands '%' specifiers and C escapes in the argument; write them literally. */
static char *tmpfiles_escape(const char *s) {
        char *r = xmalloc(strlen(s) * 2 + 1), *p = r;

        for (; *s; s++) {
                if (*s == '%' || *s == '\\')
                        *p++ = *s;
                *p++ = *s;
        }
        *p = 0;
        return r;
}

/* "w" writes the value at boot (systemd-tmpfiles-setup.service); "w-" does not fail the
 * boot when the attribute is missing. */
static char *sysfs_conf_line(const Setting *s) {
        _cleanup_free_ char *path = tmpfiles_escape(s->key), *value = tmpfiles_escape(s->value);
        return xasprintf("w%s %s - - - - %s", s->ignore_missing ? "-" : "", path, value);
}

static char *sysfs_live_path(const Setting *s) {
        return xstrdup(s->key);
}

static const Setting *sysfs_settings(const Policy *p, size_t *n) {
        *n = p->n_sysfs;
        return p->sysfs;
}

static const SettingsKind sysfs_kind = {
        .kind = KIND_SYSFS,
        .conf_path = SYSFS_CONF,
        .conf_line = sysfs_conf_line,
        .live_path = sysfs_live_path,
        .settings = sysfs_settings,
};

static int sysfs_probe(Context *ctx, Plan *plan) {
        return settings_probe(&sysfs_kind, ctx, plan);
}

static int sysfs_apply(Context *ctx, Plan *plan) {
        return settings_apply(&sysfs_kind, ctx, plan);
}

const Executor sysfs_executor = {
        .kind = KIND_SYSFS,
        .name = "sysfs",
        .probe = sysfs_probe,
        .apply = sysfs_apply,
};
