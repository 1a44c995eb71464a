/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

enum {
        EXIT_ALL_DONE = 0,      /* everything applied, or nothing to do */
        EXIT_SOME_FAILED = 1,   /* some actions failed, the rest applied */
        EXIT_INVALID = 2,       /* bad policy or usage: nothing changed */
        EXIT_DRIFT = 3,         /* --verify found drift */
        EXIT_LOCKED = 4,        /* another run holds the lock: nothing was done */
};

/* Parse arguments, load the policy, build the plan, apply it, report. Returns the exit
 * status. */
int run(int argc, char *argv[]);
