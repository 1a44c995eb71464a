/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The state of the trim for machines: one word, an exit code each (dpuos-trim(8), STATUS),
 * kept in /var/lib/dpuos-trim/status beside report.json. */
#define STATUS_PATH "/var/lib/dpuos-trim/status"

typedef enum Status {
        STATUS_PENDING,    /* no application has run on this tree yet */
        STATUS_RUNNING,    /* one runs now (it holds the tree's lock) */
        STATUS_DONE,       /* the last application ended with the system as the policy says */
        STATUS_DEGRADED,   /* it ended, and some actions failed: the rest applied */
        STATUS_FAILED,     /* it could not apply (a bad policy, no privilege), or it was cut off */
        _STATUS_MAX,
        _STATUS_INVALID = -1,
} Status;

typedef struct StatusInfo {
        Status status;
        char *mode;          /* apply, revert or firstboot */
        double started, finished;   /* seconds since the epoch; finished 0 while running */
        char *policy_name;
        char *policy_hash;
        uint64_t failed;     /* actions that failed, and run errors */
        int exit_status;     /* of the run; -1 while running */
        long pid;            /* of the run while it runs */
        bool interrupted;    /* the file says running, and no run holds the lock */
} StatusInfo;

const char *status_to_string(Status s);
Status status_from_string(const char *s);
/* --status's exit code for each word: 0 done, 10 pending, 11 running, 12 degraded, 13 failed. */
int status_exit_code(Status s);

/* Writes the file atomically into the tree (root_fd). */
int status_write(int root_fd, const StatusInfo *info);
/* Reads it: -ENOENT when there is none. */
int status_read(int root_fd, StatusInfo *ret);
void status_info_done(StatusInfo *info);

/* What --status prints: the word and its details, or JSON. */
void status_print(const StatusInfo *info, bool json);
