/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The unit search path of the system manager, highest priority first (systemd.unit(5)),
 * NULL-terminated. On merged-/usr systems /lib is /usr/lib; names found twice count once.
 * The generator directories exist only on a running system: units made from SysV scripts
 * live there. */
extern const char * const unit_search_path[];
