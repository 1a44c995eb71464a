/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dpuos-trim-generator: on the first boot, masks the policy's units for this boot in the
 * generator's early directory, as systemd's systemd.mask= does, so that they never start
 * even once before the first-boot service makes the masks persistent. It reads files only,
 * never talks to D-Bus, and never fails the boot: whatever goes wrong, it logs and exits 0. */
#include <fcntl.h>

#include "log.h"
#include "macro.h"
#include "executor.h"
#include "policy.h"
#include "proc-cmdline.h"
#include "strv.h"

#define STAMP_PATH "/etc/dpuos-trim/applied"

static int generate(const char *dest) {
        _cleanup_strv_free_ char **cmdline_policies = NULL;
        _cleanup_close_ int dest_fd = -1;
        Policy policy = {};
        Plan plan = {};
        Context ctx = {
                .root = "/",
                .offline = true,  /* the unit files as they are on disk: no manager to ask yet */
                .kinds = 1u << KIND_UNITS,
                .policy = &policy,
        };
        FirstbootMode mode = FIRSTBOOT_APPLY;
        unsigned n = 0;
        int r;

        if (access(STAMP_PATH, F_OK) >= 0)
                return 0;
        if (proc_cmdline_firstboot(&mode, &cmdline_policies) >= 0 && mode != FIRSTBOOT_APPLY)
                return 0;

        ctx.root_fd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (ctx.root_fd < 0)
                return log_error_errno(negative_errno(), "dpuos-trim-generator: cannot open /: %m");

        r = policy_load_extra(&policy, ctx.root_fd, NULL, NULL, cmdline_policies);
        if (r < 0) {
                STRV_FOREACH(e, policy.errors)
                        log_error("dpuos-trim-generator: %s", *e);
                log_error("dpuos-trim-generator: the policy is invalid; masking nothing.");
                goto finish;
        }

        dest_fd = open(dest, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dest_fd < 0) {
                r = log_error_errno(negative_errno(), "dpuos-trim-generator: cannot open %s: %m", dest);
                goto finish;
        }

        r = executors_probe(&ctx, &plan, KIND_UNITS);
        STRV_FOREACH(e, plan.errors)
                log_error("dpuos-trim-generator: %s", *e);
        for (size_t i = 0; i < plan.n_actions; i++) {
                const Action *a = plan.actions[i];
                if (a->kind != KIND_UNITS || a->verb != VERB_MASK)
                        continue;
                /* The service meets the same and fails: here it is only said. */
                if (a->state == STATE_IMPOSSIBLE)
                        log_warning("dpuos-trim-generator: cannot mask %s for this boot: %s", a->target, strempty(a->reason));
                if (a->state != STATE_CHANGE)
                        continue;
                if (symlinkat("/dev/null", dest_fd, a->target) < 0 && errno != EEXIST)
                        log_warning_errno(negative_errno(), "dpuos-trim-generator: cannot mask %s, ignoring: %m", a->target);
                else
                        n++;
        }
        log_debug("dpuos-trim-generator: masked %u units for this boot.", n);

finish:
        plan_done(&plan);
        policy_done(&policy);
        context_done(&ctx);
        return r;
}

int main(int argc, char *argv[]) {
        /* systemd passes the normal, early and late directories; masks go to the early one,
         * which ranks above /etc. With one argument (a manual run), use that. */
        if (argc == 4)
                log_open_kmsg();
        if (argc != 2 && argc != 4) {
                log_error("Usage: dpuos-trim-generator [NORMAL_DIR EARLY_DIR LATE_DIR | DIR]");
                return 0;
        }
        (void) generate(argc == 4 ? argv[2] : argv[1]);
        return 0;
}
