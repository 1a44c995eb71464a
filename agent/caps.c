/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "log.h"
#include "macro.h"

static int set_caps(const cap_value_t *keep, size_t n, bool ambient) {
        cap_t caps;
        int r = 0;

        /* The bounding set first, while CAP_SETPCAP is still effective. Where the sandbox
         * we run in withholds CAP_SETPCAP, say so and go on: the effective and permitted
         * sets below still shrink, and no_new_privs stops exec from raising them again. */
        bool warned = false;
        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
                bool kept = false;
                for (size_t i = 0; i < n; i++)
                        kept = kept || keep[i] == c;
                if (!kept && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) < 0 && errno != EINVAL && !warned) {
                        log_warning_errno(negative_errno(), "Cannot narrow the capability bounding set, continuing: %m");
                        warned = true;
                }
        }

        caps = cap_init();
        if (!caps)
                return -ENOMEM;
        if (n > 0 && (cap_set_flag(caps, CAP_EFFECTIVE, (int) n, keep, CAP_SET) < 0 ||
                      cap_set_flag(caps, CAP_PERMITTED, (int) n, keep, CAP_SET) < 0 ||
                      (ambient && cap_set_flag(caps, CAP_INHERITABLE, (int) n, keep, CAP_SET) < 0)))
                r = -EINVAL;
        if (r == 0 && cap_set_proc(caps) < 0)
                r = negative_errno();
        cap_free(caps);
        if (r < 0)
                return log_error_errno(r, "Failed to drop capabilities: %m");

        /* Helpers the reader spawns (listing an initramfs) may read what it reads. */
        for (size_t i = 0; ambient && i < n; i++)
                (void) cap_set_ambient(keep[i], CAP_SET);
        return 0;
}

int caps_drop_to_reader(void) {
        static const cap_value_t keep[] = { CAP_DAC_READ_SEARCH };
        struct passwd *pw;
        uid_t uid = 65534;
        gid_t gid = 65534;
        int r;

        if (geteuid() != 0)
                return 0;

        pw = getpwnam("nobody");
        if (pw) {
                uid = pw->pw_uid;
                gid = pw->pw_gid;
        }

        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "PR_SET_KEEPCAPS failed: %m");
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return log_error_errno(negative_errno(), "Failed to become the user nobody: %m");
        (void) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);

        /* After setresuid() the effective set is empty; the permitted set still holds what
         * cap_set_proc() narrows down to the one kept capability. CAP_SETPCAP is gone, so
         * the bounding set is narrowed by dropping with the permitted one raised first. */
        cap_t caps = cap_get_proc();
        if (!caps)
                return -ENOMEM;
        cap_value_t setpcap = CAP_SETPCAP;
        (void) cap_set_flag(caps, CAP_EFFECTIVE, 1, &setpcap, CAP_SET);
        r = cap_set_proc(caps) < 0 ? negative_errno() : 0;
        cap_free(caps);
        if (r < 0)
                return log_error_errno(r, "Failed to raise CAP_SETPCAP: %m");

        r = set_caps(keep, ELEMENTSOF(keep), true);
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "PR_SET_NO_NEW_PRIVS failed: %m");
        return 0;
}

static bool kind_changes(const Plan *plan, Kind k, Verb v, bool any_verb) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == k && (any_verb || a->verb == v) && a->state == STATE_CHANGE)
                        return true;
        }
        return false;
}

int caps_drop_for_plan(const Context *ctx, const Plan *plan) {
        cap_value_t keep[8];
        size_t n = 0;

        if (geteuid() != 0)
                return 0;
        /* The package manager runs the packages' maintainer scripts, which may need any of
         * root's capabilities (chown, chroot, kill, setuid to a system user): a removal of
         * packages keeps them all, as running dpkg or rpm by hand would. */
        if (kind_changes(plan, KIND_PACKAGES, 0, true))
                return 0;
        /* So do the distribution's initramfs and boot loader tools and their hooks. */
        if (kind_changes(plan, KIND_MODULES, VERB_REBUILD, false) || kind_changes(plan, KIND_KERNEL, VERB_REBUILD, false))
                return 0;

        /* Root owns what the agent writes (/etc, /var/lib/dpuos-trim); other owners' files
         * and directories are removed or traversed with the DAC overrides. */
        keep[n++] = CAP_DAC_OVERRIDE;
        keep[n++] = CAP_DAC_READ_SEARCH;
        if (kind_changes(plan, KIND_FILES, 0, true))
                keep[n++] = CAP_FOWNER;  /* sticky directories */
        if (!ctx->offline && kind_changes(plan, KIND_MODULES, VERB_UNLOAD, false))
                keep[n++] = CAP_SYS_MODULE;
        if (!ctx->offline && (kind_changes(plan, KIND_SYSCTL, 0, true) || kind_changes(plan, KIND_SYSFS, 0, true))) {
                keep[n++] = CAP_SYS_ADMIN;  /* e.g. kernel.dmesg_restrict, kernel.kptr_restrict */
                keep[n++] = CAP_NET_ADMIN;  /* net.* of the network namespace */
        }

        int r = set_caps(keep, n, false);
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "PR_SET_NO_NEW_PRIVS failed: %m");
        return 0;
}
