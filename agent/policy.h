/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key = value setting of [Sysctl] or [Sysfs]. */
typedef struct Setting {
        char *key;              /* sysctl: dotted name; sysfs: absolute path */
        char *value;
        bool ignore_missing;    /* written with a leading '-' */
} Setting;

typedef struct Policy {
        char *name;
        bool on_failure_stop;
        char *textfile_dir;     /* [Policy] TextfileDirectory=: the node exporter's, for dpuos-trim.prom */

        char **unit_mask;
        char **unit_keep;
        bool unit_stop;

        char **module_unload;
        char **module_blacklist;
        char **module_keep;
        bool initramfs_no_rebuild;     /* RebuildInitramfs=no */

        Setting *sysctl;
        size_t n_sysctl;
        Setting *sysfs;
        size_t n_sysfs;

        char **kernel_args;            /* [Kernel] Arguments=: words, in order, repeats kept */
        char **kernel_remove;          /* RemoveArguments= */
        bool kernel_reboot_no;         /* Reboot=no */

        char **file_remove;
        char **file_keep;
        bool file_prevent_reinstall;   /* keep the package manager from installing them again */

        char **package_remove;         /* names or globs; a leading '-': none need be installed */
        char **package_keep;
        bool package_remove_unneeded;  /* also what nothing installed needs any more */
        bool package_prevent_reinstall;

        char **sources;         /* the files merged, in the order read */
        uint64_t hash;          /* FNV-1a of their names and texts, in that order: which policy this is */
        char **errors;          /* "FILE:LINE: message", in the order found */

        struct PolicyLists *lists;  /* the merge's own: the lists' lengths and contents */
} Policy;

/* The search path, highest priority first. Under --root these are looked up inside DIR. */
extern const char * const policy_search_dirs[];

/* Loads and merges the policy. root_fd is the tree the search path is resolved in;
 * root_display is how its files are named in messages (NULL for the live system). explicit
 * replaces the search path with host files or directories. Returns 0 and fills *p, or
 * -EINVAL with p->errors listing what is wrong (the policy must then not be used), or
 * another -errno when a file could not be read. */
int policy_load(Policy *p, int root_fd, const char *root_display, char * const *explicit);

/* The same, with extra host paths (the kernel command line's dpuos_trim.policy=) searched
 * before the search path, at the highest priority. */
int policy_load_extra(Policy *p, int root_fd, const char *root_display, char * const *explicit, char * const *extra);

/* Parses one policy file's text into p (merging with what p holds). name is used in error
 * messages. Exposed for the unit tests and the fuzzer. */
int policy_parse_string(Policy *p, const char *name, const char *text);
int policy_parse_buffer(Policy *p, const char *name, const char *text, size_t len);

void policy_done(Policy *p);

#include "names.h"

/* Validation helper shared with the executors. */
int file_pattern_check(const char *pattern, bool for_removal, const char **ret_why);
