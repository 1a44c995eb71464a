/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* The names a policy speaks of, as systemd and the kernel spell them. */
bool unit_name_is_valid(const char *s, bool allow_glob);
bool module_name_is_valid(const char *s, bool allow_glob);
/* A package name as dpkg or rpm spells it (or a glob over such names). */
bool package_name_is_valid(const char *s, bool allow_glob);
/* "snd-pcm" and "snd_pcm" are one module: the kernel's spelling, with '_'. */
char *module_name_normalize(const char *s);

/* The template of an instance name ("getty@tty1.service" -> "getty@.service"), or NULL for
 * a name that is no instance. The instance part may be a glob ("getty@tty*.service"). */
char *unit_name_template(const char *unit);

/* Why no policy may mask this unit, or NULL: a fixed list of names and globs. A glob in
 * Mask= never matches such a unit; a name is a policy error. */
const char *unit_name_protected(const char *unit);

/* A sysctl name in its dotted form, whose file lies below /proc/sys; no globs. */
bool sysctl_name_is_valid(const char *k);
/* An attribute: an absolute path below /sys or /proc, without ".", "..", globs, white
 * space or control bytes. */
bool sysfs_path_is_valid(const char *k);
