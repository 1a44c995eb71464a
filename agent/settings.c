/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "conffile.h"
#include "macro.h"
#include "settings.h"
#include "strv.h"

int settings_probe(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **existing = NULL;
        const Setting *settings;
        size_t n;
        int r;

        r = conffile_read(ctx, sk->conf_path, &existing);
        if (r < 0)
                return r;

        settings = sk->settings(ctx->policy, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *line = sk->conf_line(&settings[i]);
                Action *a = plan_add(plan, sk->kind, VERB_SET, settings[i].key,
                                     strv_contains(existing, line) ? STATE_UNCHANGED : STATE_CHANGE);
                a->value = xstrdup(settings[i].value);
        }
        return 0;
}

int settings_apply(const SettingsKind *sk, Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **lines = NULL;
        const Setting *settings;
        size_t n;

        settings = sk->settings(ctx->policy, &n);
        for (size_t i = 0; i < n; i++)
                strv_push(&lines, sk->conf_line(&settings[i]));

        return conffile_apply(ctx, plan, sk->kind, VERB_SET, sk->conf_path, lines);
}
