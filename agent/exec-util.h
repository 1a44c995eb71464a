/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Runs argv[0] (looked up in PATH) with no shell, stdin from /dev/null, stderr discarded,
 * and returns what it printed on stdout (at most max bytes). Returns the exit status (>= 0)
 * or -errno if it could not be run. */
int spawn_capture(char * const *argv, size_t max, char **ret_out);
