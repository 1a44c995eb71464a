/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "plan.h"

/* What no policy can change, in every layer, so that no policy can leave a DPU that does
 * not boot or cannot be reached (dpuos-trim.conf(5), PROTECTED). Each function returns the
 * reason a target is protected, or NULL. A probe that meets a protected target plans it
 * as STATE_PROTECTED with that reason: it is shown, never silently dropped. */

/* Files never removed: globs over in-tree paths (the first, "/" and a glob segment, stands
 * for every top-level directory itself), and trees protected with all they hold.
 * NULL-terminated. */
extern const char * const protected_paths[];
extern const char * const protected_trees[];

/* The units of unit_name_protected() (names.h), and what the tree says: the default
 * target and the targets it requires. */
const char *protected_unit(Context *ctx, const char *unit);

/* Modules that the file systems of /, /usr, /var and /boot, swap, the console and the
 * network of the default route use now (the whole chain of drivers down to the disk
 * controller or the NIC), with their dependencies; offline, where there is no hardware to
 * ask, the modules of the file systems that the tree's /etc/fstab mounts there. */
const char *protected_module(Context *ctx, const char *name);

/* A sysctl or sysfs setting that would leave the system unbootable, silent or
 * unreachable (too few processes or files, no modules, no console, hugepages that eat
 * the memory, writes that detach devices). */
const char *protected_setting(Context *ctx, Kind kind, const char *key, const char *value);

/* Kernel command line words whose reservations (hugepages, crashkernel) would leave the
 * system less than the memory it keeps, the same floor as for vm.nr_hugepages: why, or
 * NULL when they leave enough or MemTotal is not known (offline, unless the test hook
 * $DPUOS_TRIM_TEST_MEMTOTAL gives it). A word that cannot be read is refused too. */
const char *protected_reservations(Context *ctx, char * const *words);

/* The essential binaries of the tree (PID 1 and systemd's helpers, the bus, sshd, login,
 * the shells, kmod, mount and fsck, dpkg, apt, rpm, dpuos-trim), the PAM and NSS modules,
 * and every shared library they load (ELF dependencies): in-tree paths, sorted. A failure
 * to read one leaves it out; the list only ever adds to what is protected. */
char **protected_libraries(Context *ctx);

/* The module a modules.dep line (or path) names: "kernel/fs/ext4/ext4.ko.xz:..." is ext4. */
char *module_name_from_index(const char *line);

/* A set of modules, each with why it is in it: "name\twhy" strings. module_set_find()
 * returns the why, or NULL; module_set_add() is false when name was there already;
 * module_set_add_needs() adds what the set's modules need by the modules.dep lines given,
 * to the end of the chain, each with the why "needed by X" (X needs it directly). */
const char *module_set_find(char **set, const char *name);
bool module_set_add(char ***set, const char *name, const char *why);
void module_set_add_needs(char ***set, char **dep_lines);

/* The caches of the functions above, kept in the context. */
void protected_free(struct Protected *p);
