/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Runs argv[0] (looked up in PATH) with no shell, stdin from /dev/null, stderr discarded,
 * and returns what it printed on stdout (at most max bytes). Returns the exit status (>= 0)
 * or -errno if it could not be run. */
int spawn_capture(char * const *argv, size_t max, char **ret_out);

/* The same, with stderr going where stdout goes when merge is true (the package managers
 * say why they refuse on stderr), and env (NULL-terminated "NAME=value" strings, or NULL)
 * added to the environment. */
int spawn_capture_env(char * const *argv, char * const *env, bool merge, size_t max, char **ret_out);

/* The last line of a tool's output that is not blank (a new string, "" for none): what a
 * failure's reason quotes. */
char *output_last_line(const char *out);
