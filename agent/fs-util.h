/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <sys/types.h>

/* Every path the agent touches is resolved against a root directory descriptor ("/" on the
 * live system, DIR with --root), never by gluing strings together. */

/* openat2(RESOLVE_IN_ROOT): absolute symlinks inside the tree stay inside it. Falls back to
 * the same resolution done one component at a time where openat2() cannot be used. */
int open_in_root(int root_fd, const char *path, int flags, mode_t mode);
/* That fallback: symlinks followed (at most 40), absolute ones and ".." resolved inside the
 * tree; with O_NOFOLLOW a symlink as the last component is -ELOOP. Exposed for the tests,
 * which compare it with the kernel's RESOLVE_IN_ROOT. */
int open_in_root_fallback(int root_fd, const char *path, int flags, mode_t mode);

/* openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): a symlink anywhere in path is an error
 * (-ELOOP), so a removal can never be redirected. */
int open_beneath_nofollow(int root_fd, const char *path, int flags);

/* Opens a directory of the tree for reading its entries; NULL with errno set on failure. */
DIR *opendir_in_root(int root_fd, const char *path);

/* Opens the parent directory of path (creating the missing ones with mode 0755 if create)
 * and returns its descriptor; *ret_name points into path at the last component. */
int open_parent_in_root(int root_fd, const char *path, bool create, const char **ret_name);

/* Reads a whole file, at most max bytes. -ENOENT if it does not exist; -EISDIR, -EBADFD
 * (not a regular file) or -EFBIG otherwise. */
int read_file_in_root(int root_fd, const char *path, size_t max, char **ret);
/* The same for a file dpuos-trim owns (what it persists, its state): a symlink in its place
 * is refused (-ELOOP) rather than followed, as anything else but a regular file is. */
int read_owned_file_in_root(int root_fd, const char *path, size_t max, char **ret);
/* Why such a file cannot be read, for a reason line: "is a directory", ... */
const char *owned_file_strerror(int r);
/* The same for a path of the machine the agent runs on (--policy, /proc). */
int read_file_host(const char *path, size_t max, char **ret);

/* Replaces path with content atomically: temporary file in the same directory, fsync,
 * rename, fsync of the directory. A power cut leaves the old or the new file, never a
 * mix. What is there must be a regular file (the files written are dpuos-trim's own): a
 * symlink, directory or other file in its place is refused, not replaced. Returns 0 when the file already had exactly this content (nothing written), 1 when
 * written. */
int write_file_atomic_in_root(int root_fd, const char *path, const char *content, mode_t mode);

/* Creates a symlink (a single atomic step), never replacing what is there: -EEXIST. */
int symlink_in_root(int root_fd, const char *target, const char *path);

/* Removes a file (never a directory), fsyncing its directory; -ENOENT counts as done. */
int unlink_in_root(int root_fd, const char *path);

/* Reads a symlink's target, without following it. */
int readlink_in_root(int root_fd, const char *path, char **ret);

bool path_is_safe_absolute(const char *p);
/* Lexically resolves ".", ".." and repeated slashes of an absolute path; ".." at the root
 * stays at the root, as the kernel does. */
char *path_normalize(const char *p);
char *path_join(const char *a, const char *b);
const char *path_basename(const char *p);
