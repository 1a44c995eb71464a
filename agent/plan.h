/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "policy.h"

typedef enum Kind {
        KIND_UNITS,
        KIND_MODULES,
        KIND_KERNEL,       /* after the blacklist and its initramfs: a reboot it asks for takes both */
        KIND_SYSCTL,
        KIND_SYSFS,
        KIND_PACKAGES,     /* before files: file patterns see what the removed packages left */
        KIND_FILES,
        _KIND_MAX,
} Kind;

typedef enum Verb {
        VERB_MASK,
        VERB_STOP,
        VERB_BLACKLIST,
        VERB_UNLOAD,
        VERB_SET,
        VERB_REMOVE,
        VERB_DROP,         /* a persisted entry or mask the policy no longer asks for */
        VERB_RESTORE,      /* put back the live value found before dpuos-trim changed it */
        VERB_EXCLUDE,      /* tell the package manager not to install removed files or packages again */
        VERB_REBUILD,      /* regenerate what is derived (a module index, an initramfs, grub.cfg) */
        VERB_REBOOT,       /* boot the configured kernel command line (the first boot's one reboot) */
        _VERB_MAX,
} Verb;

/* What probing found. */
typedef enum State {
        STATE_CHANGE,      /* the system differs from the policy: apply will change it */
        STATE_UNCHANGED,   /* already as the policy says */
        STATE_SKIP,        /* nothing to act on here (not installed, not loaded, optional key) */
        STATE_PROTECTED,   /* matched, but never touched whatever the policy says */
        STATE_IMPOSSIBLE,  /* the policy asks for something that cannot be done here */
        _STATE_MAX,
} State;

/* What applying did. */
typedef enum Outcome {
        OUTCOME_PENDING,   /* not reached: dry run, or stopped by OnFailure=stop */
        OUTCOME_DONE,
        OUTCOME_UNCHANGED,
        OUTCOME_SKIPPED,
        OUTCOME_FAILED,
        OUTCOME_PROTECTED,
        _OUTCOME_MAX,
} Outcome;

/* The paths a file pattern takes (the audit of --dry-run -v and --json, and what an
 * application removed), each with the bytes its removal frees; kept and protected
 * matches are marked. */
typedef enum PathMark { PATH_REMOVED, PATH_KEPT, PATH_PROTECTED } PathMark;

typedef struct PathEntry {
        char *path;
        uint64_t bytes;
        PathMark mark;
        bool dir;
} PathEntry;

typedef struct PathList {
        PathEntry *v;
        size_t n, allocated;
} PathList;

void path_list_add(PathList *l, const char *path, uint64_t bytes, PathMark mark, bool dir);
void path_list_done(PathList *l);

typedef struct Action {
        Kind kind;
        Verb verb;
        char *target;      /* unit, module, sysctl name, sysfs path, file pattern or path */
        char *value;       /* the value the policy sets (sysctl, sysfs); a package's version */
        char *old_value;   /* the value found */
        char *reason;      /* why skipped, protected, impossible or failed */
        State state;
        Outcome outcome;
        int error;         /* -errno of a failure */

        /* Files: what the pattern covers; packages: the installed size. */
        uint64_t bytes;    /* allocated bytes that removal frees (hard links counted once) */
        uint64_t n_files;
        uint64_t n_dirs;

        PathList paths;    /* files: what the pattern takes (see PathList) */

        void *data;        /* owned by the kind's executor */
        void (*free_data)(void *data);
} Action;

typedef struct Plan {
        Action **actions;
        size_t n_actions;
        char **errors;     /* run errors: failures that belong to no single action */
        bool stopped;      /* OnFailure=stop hit a failure */
} Plan;

typedef struct sd_bus sd_bus;
struct kmod_ctx;

typedef struct Context {
        int root_fd;            /* the tree: "/" on the live system, DIR with --root */
        const char *root;       /* its path, for mount tables and messages */
        bool offline;           /* --root: no D-Bus, no running kernel */
        bool dry_run;           /* stop just before each change */
        bool verify;            /* --verify: a dry run that must see the live state */
        bool firstboot;         /* --firstboot: the first-boot service's run */
        bool list_paths;        /* the plan lists every path a file pattern takes (--dry-run -v, --json) */
        bool container;         /* the live system is a container: no kernel or initramfs of its own */
        bool reboot;            /* the kernel kind asks the first boot to end in a reboot */
        unsigned kinds;         /* bit mask of Kind the run acts on */
        const Policy *policy;

        /* Live backends, connected on first use. */
        sd_bus *bus;
        struct kmod_ctx *kmod;

        struct Protected *protected;   /* what protect.c found, once */
} Context;


const char *kind_to_string(Kind k);
int kind_from_string(const char *s);
const char *verb_to_string(Verb v);
const char *state_to_string(State s);
const char *outcome_to_string(Outcome o);

Action *plan_add(Plan *plan, Kind kind, Verb verb, const char *target, State state);
/* How many actions probing found in this state. */
size_t plan_count_state(const Plan *plan, State state);
/* What --verify reports as not holding: actions to change, and those that cannot be done
 * or whose current state could not be read (impossible). */
size_t plan_count_drift(const Plan *plan);
/* The action of this kind and verb on target, if the plan has one. */
Action *plan_find(const Plan *plan, Kind kind, Verb verb, const char *target);
/* The first action of this kind and verb, if any. */
Action *plan_find_verb(const Plan *plan, Kind kind, Verb verb);
void action_set_reason(Action *a, const char *fmt, ...) _printf_(2, 3);
/* A run error: a failure that no action stands for (a state file that could not be
 * written, a step of the run itself). It fails the run like a failed action. */
void plan_add_error(Plan *plan, const char *fmt, ...) _printf_(2, 3);
/* The probe of kind could not read something that the actions added from index `from` on
 * depend on: they become impossible, with reason. When there are none, one impossible
 * action (verb, target) stands for the failure, so that it is never lost. */
void plan_fail_since(Plan *plan, size_t from, Kind kind, Verb verb, const char *target, const char *reason);
/* Drops every action of kind, so that it can be probed again on a changed system. */
void plan_forget_kind(Plan *plan, Kind kind);
void plan_done(Plan *plan);

/* Executors call this as each action finishes. Returns true when OnFailure=stop asks the
 * run to end now. */
bool plan_settle(Context *ctx, Plan *plan, Action *a, Outcome outcome, int error);
/* Settles a as failed with error, the reason saying what failed (it replaces any note the
 * probe left, so that the error is what the user reads). */
bool action_fail(Context *ctx, Plan *plan, Action *a, int error, const char *fmt, ...) _printf_(5, 6);

/* Ends every action of kind still pending after a step that the rest depends on failed:
 * those that needed no change are settled as their state says, the others fail with
 * reason. */
void plan_abandon_kind(Context *ctx, Plan *plan, Kind kind, int error, const char *reason);

/* Test hook: with $DPUOS_TRIM_TEST_KILL_AT=N the process kills itself with SIGKILL at its
 * Nth step (an action done, or one file removed), so that tests can interrupt a run at any
 * point and prove the next run converges. */
void test_kill_point(void);

/* Test hook: with $DPUOS_TRIM_TEST_PAUSE=FIFO the run stops until something is written to
 * FIFO, so that tests can change the tree under a made plan, or look at the process while
 * it holds. It stops between plan and apply (where is NULL; with --check: after reading the
 * policy), or, with $DPUOS_TRIM_TEST_PAUSE_AT=PATH, only where the removal has listed the
 * directory PATH and is about to act on its entries. */
void test_pause_point(const char *where);

/* The outcome a probe state leads to without any change being made. */
Outcome state_to_outcome(State s);

/* The gate every executor passes before it changes anything: settles actions that need no
 * change, and returns false (leaving the action pending) in a dry run or after
 * OnFailure=stop. Only when it returns true may the executor make the change. */
bool action_begin(Context *ctx, Plan *plan, Action *a);
