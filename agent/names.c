/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "fs-util.h"
#include "glob.h"
#include "macro.h"
#include "names.h"

bool unit_name_is_valid(const char *s, bool allow_glob) {
        static const char * const suffixes[] = {
                ".service", ".socket", ".target", ".device", ".mount", ".automount",
                ".swap", ".timer", ".path", ".slice", ".scope",
        };
        size_t n = strlen(s);

        if (n == 0 || n > 255)
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && !strchr(":-_.\\@", *c) &&
                    !(allow_glob && strchr("*?[]!", *c)))
                        return false;
        if (allow_glob && string_is_glob(s))
                return true;
        if (s[0] == '.' || s[0] == '@')
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (endswith(s, suffixes[i]) && n > strlen(suffixes[i]))
                        return true;
        return false;
}

bool module_name_is_valid(const char *s, bool allow_glob) {
        size_t n = strlen(s);

        /* The kernel's MODULE_NAME_LEN is 56 including the NUL. */
        if (n == 0 || n > 55)
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '_' && *c != '-' &&
                    !(allow_glob && strchr("*?[]!", *c)))
                        return false;
        return true;
}

bool package_name_is_valid(const char *s, bool allow_glob) {
        size_t n = strlen(s);

        /* dpkg's names are lower case; rpm's may hold upper case and '_' (ModemManager,
         * perl-Text-Tabs+Wrap). Neither starts with '-', which marks an optional entry. */
        if (n == 0 || n > 255 || s[0] == '-')
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && !strchr("_-+.", *c) && !(allow_glob && strchr("*?[]!", *c)))
                        return false;
        return true;
}

char *unit_name_template(const char *unit) {
        const char *at = strchr(unit, '@'), *dot = strrchr(unit, '.'), *glob = strpbrk(unit, "*?[");

        if (!at || !dot || dot <= at + 1)
                return NULL;
        if (glob && (glob < at || strpbrk(dot, "*?[")))
                return NULL;  /* a glob in the prefix or the type: no one template */
        return xasprintf("%.*s%s", (int) (at - unit + 1), unit, dot);
}

char *module_name_normalize(const char *s) {
        char *r = xstrdup(s);
        for (char *c = r; *c; c++)
                if (*c == '-')
                        *c = '_';
        return r;
}

/* Units the boot, the journal, the bus, a login on the console and the management access
 * need, and dpuos-trim's own (dpuos-trim.conf(5), PROTECTED). */
static const struct {
        const char *glob;
        const char *why;
} protected_units[] = {
        { "dpuos-trim*",                     "dpuos-trim itself" },
        { "first-boot-complete.target",      "dpuos-trim itself" },
        { "systemd-journald*",               "the journal" },
        { "systemd-journal-flush.service",   "the journal" },
        { "systemd-udev*",                   "device management (udev)" },
        { "dbus.*",                          "the system bus" },
        { "dbus-broker.service",             "the system bus" },
        { "sysinit.target",                  "the boot" },
        { "basic.target",                    "the boot" },
        { "local-fs.target",                 "the boot" },
        { "local-fs-pre.target",             "the boot" },
        { "sockets.target",                  "the boot" },
        { "default.target",                  "the boot" },
        { "systemd-tmpfiles-setup*",         "the boot" },
        { "systemd-modules-load.service",    "the boot" },
        { "kmod-static-nodes.service",       "the boot" },
        { "emergency.*",                     "recovery" },
        { "rescue.*",                        "recovery" },
        { "systemd-remount-fs.service",      "the root file system" },
        { "systemd-fsck-root.service",       "the root file system" },
        { "-.mount",                         "the root file system" },
        { "systemd-fsck@*.service",          "the file systems" },
        { "usr.mount",                       "the file systems of the boot" },
        { "var.mount",                       "the file systems of the boot" },
        { "boot.mount",                      "the file systems of the boot" },
        { "*.device",                        "a device of the kernel" },
        { "systemd-sysctl.service",          "the persisted settings" },
        { "systemd-user-sessions.service",   "logins" },
        { "getty.target",                    "a login on the console" },
        { "getty@*.service",                 "a login on the console" },
        { "serial-getty@*.service",          "a login on the console" },
        { "console-getty.service",           "a login on the console" },
        { "container-getty@*.service",       "a login on the console" },
        { "ssh.*",                           "the management access (SSH)" },
        { "ssh@*.service",                   "the management access (SSH)" },
        { "sshd.*",                          "the management access (SSH)" },
        { "sshd@*.service",                  "the management access (SSH)" },
        { "sshd-keygen*",                    "the management access (SSH)" },
        { "network.target",                  "the management network" },
        { "network-pre.target",              "the management network" },
        { "networking.service",              "the management network" },
        { "systemd-networkd*",               "the management network" },
        { "NetworkManager.service",          "the management network" },
        { "*.slice",                         "the control groups units run in" },
        { "init.scope",                      "the control groups units run in" },
        { "shutdown.target",                 "rebooting and powering off" },
        { "umount.target",                   "rebooting and powering off" },
        { "final.target",                    "rebooting and powering off" },
        { "reboot.target",                   "rebooting and powering off" },
        { "poweroff.target",                 "rebooting and powering off" },
        { "halt.target",                     "rebooting and powering off" },
        { "kexec.target",                    "rebooting and powering off" },
        { "systemd-reboot.service",          "rebooting and powering off" },
        { "systemd-poweroff.service",        "rebooting and powering off" },
        { "systemd-halt.service",            "rebooting and powering off" },
        { "systemd-kexec.service",           "rebooting and powering off" },
};

const char *unit_name_protected(const char *unit) {
        for (size_t i = 0; i < ELEMENTSOF(protected_units); i++)
                if (glob_match_name(protected_units[i].glob, unit))
                        return protected_units[i].why;
        return NULL;
}

bool sysctl_name_is_valid(const char *k) {
        if (!*k || k[0] == '.' || endswith(k, ".") || strstr(k, ".."))
                return false;
        for (const char *c = k; *c; c++)
                if (!isalnum((unsigned char) *c) && !strchr("._-/:+", *c))
                        return false;
        if (string_is_glob(k))
                return false;
        /* The dotted name's '/' stand for dots in a segment ("eth0/100"): a segment of '/'
         * alone would be "." or ".." below /proc/sys. */
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", k);
        for (char *c = path + strlen("/proc/sys/"); *c; c++)
                *c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
        return path_is_safe_absolute(path) && !endswith(path, "/");
}

bool sysfs_path_is_valid(const char *k) {
        if (!startswith(k, "/sys/") && !startswith(k, "/proc/"))
                return false;
        if (!path_is_safe_absolute(k) || endswith(k, "/"))
                return false;
        for (const char *c = k; *c; c++)
                if (isspace((unsigned char) *c) || !isprint((unsigned char) *c))
                        return false;
        return !string_is_glob(k);
}
