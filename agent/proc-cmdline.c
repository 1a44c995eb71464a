/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "proc-cmdline.h"
#include "strv.h"

int proc_cmdline_words(char ***ret) {
        _cleanup_free_ char *text = NULL;
        const char *env = ENABLE_TEST_HOOKS ? getenv("DPUOS_TRIM_PROC_CMDLINE") : NULL;
        char **words = NULL;
        int r;

        if (env)
                text = xstrdup(env);
        else {
                r = read_file_host("/proc/cmdline", 64 * 1024, &text);
                if (r < 0)
                        return r;
        }

        for (const char *p = text; *p; ) {
                _cleanup_free_ char *w = xmalloc(strlen(p) + 1);
                size_t n = 0;
                bool quoted = false;

                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                if (!*p)
                        break;
                for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
                        if (*p == '"')
                                quoted = !quoted;
                        else
                                w[n++] = *p;
                }
                w[n] = 0;
                strv_push(&words, TAKE_PTR(w));
        }
        *ret = words;
        return 0;
}

int proc_cmdline_firstboot(FirstbootMode *ret_mode, char ***ret_policies) {
        _cleanup_strv_free_ char **words = NULL;
        FirstbootMode mode = FIRSTBOOT_APPLY;
        char **policies = NULL;
        int r;

        r = proc_cmdline_words(&words);
        if (r < 0)
                return r;

        STRV_FOREACH(w, words) {
                const char *v;

                if ((v = startswith(*w, "dpuos_trim="))) {
                        if (streq(v, "0") || streq(v, "no") || streq(v, "off") || streq(v, "false"))
                                mode = FIRSTBOOT_SKIP;
                        else if (streq(v, "dry-run"))
                                mode = FIRSTBOOT_DRY_RUN;
                        else if (streq(v, "1") || streq(v, "yes") || streq(v, "on") || streq(v, "true"))
                                mode = FIRSTBOOT_APPLY;
                        else
                                log_warning("Unknown value in kernel command line '%s', ignoring.", *w);
                } else if ((v = startswith(*w, "dpuos_trim.policy="))) {
                        if (v[0] != '/')
                                log_warning("dpuos_trim.policy= needs an absolute path: '%s', ignoring.", *w);
                        else
                                strv_extend(&policies, v);
                }
        }

        *ret_mode = mode;
        *ret_policies = policies;
        return 0;
}
