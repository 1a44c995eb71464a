/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel command line's words, split as the kernel does (double quotes group). Tests
 * may set $DPUOS_TRIM_PROC_CMDLINE in place of /proc/cmdline, as systemd's
 * $SYSTEMD_PROC_CMDLINE. */
int proc_cmdline_words(char ***ret);

/* What the command line says to dpuos-trim: dpuos_trim=0|no|off skips, dpuos_trim=dry-run
 * only plans, dpuos_trim.policy=PATH (repeatable) adds policy files or directories. */
typedef enum FirstbootMode {
        FIRSTBOOT_APPLY,
        FIRSTBOOT_SKIP,
        FIRSTBOOT_DRY_RUN,
} FirstbootMode;

int proc_cmdline_firstboot(FirstbootMode *ret_mode, char ***ret_policies);
