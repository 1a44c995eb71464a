/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The shared libraries the system's essential binaries load, read from the tree being
 * trimmed: they stay whatever a policy removes. The files come from that tree, so they are
 * parsed as hostile input: a malformed one is an error, never a crash. */

/* The DT_NEEDED names of the ELF file at path (in-tree path, opened with open_in_root()
 * so symlinks resolve inside the tree), and its DT_RUNPATH or DT_RPATH entries.
 * -ENOEXEC if it is not an ELF executable or shared object of a kind the dynamic loader
 * takes, -EBADMSG if it is malformed or truncated. A static binary has neither. */
int elf_read_dynamic(int root_fd, const char *path, char ***ret_needed, char ***ret_runpath);

/* Every shared library that the binaries need, transitively, found as the dynamic
 * loader finds them: the object's DT_RUNPATH (or DT_RPATH when there is no RUNPATH, then
 * that of the objects that loaded it, as ld.so inherits it; "$ORIGIN" expanded to the
 * object's directory: the one it was found in, for a binary the one of the file it resolves
 * to), then the tree's library directories (/etc/ld.so.conf and the files it includes, e.g.
 * /etc/ld.so.conf.d/<glob>.conf, read from the tree; then the multiarch directories such as
 * /usr/lib/x86_64-linux-gnu, /lib64, /usr/lib64, /lib and /usr/lib), skipping files of
 * another class or machine; and the dynamic loader itself (PT_INTERP). Returns in-tree
 * absolute paths, sorted and unique: for each library the path where it was found (often a
 * symlink such as libmount.so.1), each symlink to it met on the way (at its own resolved
 * location: /lib/x86_64-linux-gnu/libmount.so.1 is /usr/lib/x86_64-linux-gnu/libmount.so.1
 * when /lib links to usr/lib), and the file it resolves to (libmount.so.1.1.0), so that
 * protecting the list keeps them all. Binaries or libraries that do not exist or are not ELF
 * are skipped; a needed library that cannot be found is skipped too. */
int elf_closure(int root_fd, char * const *binaries, char ***ret_paths);
