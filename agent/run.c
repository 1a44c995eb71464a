/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "caps.h"
#include "executor.h"
#include "fs-util.h"
#include "journal.h"
#include "metrics.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "policy.h"
#include "proc-cmdline.h"
#include "report.h"
#include "run.h"
#include "status.h"
#include "strv.h"

#define ALL_KINDS ((1u << _KIND_MAX) - 1)
#define STAMP_PATH "/etc/dpuos-trim/applied"
/* dpuos-trim-reboot.service reboots once the boot has finished when this exists. */
#define REBOOT_REQUEST "/run/dpuos-trim/reboot"

static bool arg_dry_run = false;
static bool arg_check = false;
static bool arg_verify = false;
static bool arg_revert = false;
static bool arg_firstboot = false;
static bool arg_status = false;
static bool arg_json = false;
static bool arg_quiet = false;
static int arg_verbose = 0;
static char *arg_root = NULL;
static char **arg_policy = NULL;
static unsigned arg_kinds = ALL_KINDS;

static void help(void) {
        printf("Usage: dpuos-trim [OPTIONS]\n"
               "\n"
               "Trim an installed OS in place as its policy says: mask units, blacklist\n"
               "modules, set kernel arguments, persist sysctl and /sys settings, remove\n"
               "packages and files.\n"
               "\n"
               "Modes:\n"
               "     --dry-run        Print the plan; change nothing\n"
               "     --check          Validate the policy (syntax and meaning); change nothing\n"
               "     --verify         Compare the system with the policy and list what no\n"
               "                      longer holds (drift); change nothing\n"
               "     --status         Say in one word how the trim stands: pending, running,\n"
               "                      done, degraded or failed (exit 0, 10, 11, 12, 13)\n"
               "     --revert         Undo what can be undone: unmask, remove the blacklist,\n"
               "                      sysctl.d, tmpfiles.d and package manager files, restore\n"
               "                      saved live values; removed packages and files stay\n"
               "                      removed\n"
               "\n"
               "Options:\n"
               "     --root=DIR       Operate offline on the OS tree at DIR\n"
               "     --policy=PATH    Use this policy file or directory instead of the search\n"
               "                      path (repeatable; earlier ones win a shared file name)\n"
               "     --only=KINDS     Limit to some of units,modules,kernel,sysctl,sysfs,\n"
               "                      packages,files\n"
               "     --firstboot      The first-boot service's mode: do nothing once the stamp\n"
               "                      /etc/dpuos-trim/applied exists, follow the kernel command\n"
               "                      line (dpuos_trim=0|dry-run, dpuos_trim.policy=PATH),\n"
               "                      write the stamp after a run without failures, and then\n"
               "                      reboot once if the kernel arguments changed (Reboot=)\n"
               "     --json           Machine-readable output (plan, verify, report)\n"
               "  -v --verbose        Also print every action and debug messages\n"
               "  -q --quiet          Print only errors\n"
               "  -h --help           Show this help\n"
               "     --version        Show the version\n"
               "\n"
               "Exit status: 0 done or nothing to do; 1 some actions failed, the rest\n"
               "applied; 2 bad policy or usage, nothing changed; 3 --verify found drift;\n"
               "4 another run holds the lock, nothing done. --status has its own, above.\n"
               "\n"
               "See dpuos-trim(8) and dpuos-trim.conf(5).\n");
}

static int parse_only(const char *s) {
        _cleanup_free_ char *copy = xstrdup(s);
        char *save = NULL;
        unsigned kinds = 0;

        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int k = kind_from_string(w);
                if (k < 0)
                        return log_error_errno(-EINVAL, "--only=: unknown kind '%s' (expected units, modules, kernel, sysctl, sysfs, packages, files)", w);
                kinds |= 1u << k;
        }
        if (kinds == 0)
                return log_error_errno(-EINVAL, "--only= needs at least one kind");
        arg_kinds = kinds;
        return 0;
}

/* The modes exclude each other, and some take no policy of their own. */
static int check_modes(void) {
        if (arg_dry_run + arg_check + arg_verify + arg_status > 1)
                return log_error_errno(-EINVAL, "--dry-run, --check, --verify and --status cannot be combined.");
        if (arg_status && (arg_revert || arg_firstboot || arg_policy || arg_kinds != ALL_KINDS))
                return log_error_errno(-EINVAL, "--status takes only --root= and --json.");
        if (arg_revert && (arg_check || arg_verify || arg_firstboot))
                return log_error_errno(-EINVAL, "--revert cannot be combined with --check, --verify or --firstboot.");
        if (arg_revert && arg_policy)
                return log_error_errno(-EINVAL, "--revert takes no policy: it undoes what the saved state records.");
        if (arg_firstboot && (arg_check || arg_verify || arg_policy))
                return log_error_errno(-EINVAL, "--firstboot takes its policy from the search path and the kernel command line.");
        return 1;
}

/* The long options; their values past any character, so that they never clash with -v/-q/-h. */
enum {
        ARG_DRY_RUN = 0x100,
        ARG_CHECK,
        ARG_VERIFY,
        ARG_REVERT,
        ARG_ROOT,
        ARG_POLICY,
        ARG_ONLY,
        ARG_JSON,
        ARG_FIRSTBOOT,
        ARG_STATUS,
        ARG_VERSION,
};

static const struct option options[] = {
        { "dry-run", no_argument,       NULL, ARG_DRY_RUN },
        { "check",   no_argument,       NULL, ARG_CHECK   },
        { "verify",  no_argument,       NULL, ARG_VERIFY  },
        { "revert",  no_argument,       NULL, ARG_REVERT  },
        { "root",    required_argument, NULL, ARG_ROOT    },
        { "policy",  required_argument, NULL, ARG_POLICY  },
        { "only",    required_argument, NULL, ARG_ONLY    },
        { "json",    no_argument,       NULL, ARG_JSON    },
        { "firstboot", no_argument,     NULL, ARG_FIRSTBOOT },
        { "status",  no_argument,       NULL, ARG_STATUS  },
        { "verbose", no_argument,       NULL, 'v'         },
        { "quiet",   no_argument,       NULL, 'q'         },
        { "help",    no_argument,       NULL, 'h'         },
        { "version", no_argument,       NULL, ARG_VERSION },
        {}
};

/* Returns > 0 to go on, 0 to exit successfully (--help, --version), < 0 on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hvq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dpuos-trim %s%s\n", PACKAGE_VERSION, ENABLE_TEST_HOOKS ? " (test hooks)" : "");
                        return 0;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_CHECK:
                        arg_check = true;
                        break;
                case ARG_VERIFY:
                        arg_verify = true;
                        break;
                case ARG_REVERT:
                        arg_revert = true;
                        break;
                case ARG_ROOT:
                        if (!*optarg)
                                return log_error_errno(-EINVAL, "--root= needs a directory");
                        free(arg_root);
                        arg_root = xstrdup(optarg);
                        break;
                case ARG_POLICY:
                        if (!*optarg)
                                return log_error_errno(-EINVAL, "--policy= needs a file or directory");
                        strv_extend(&arg_policy, optarg);
                        break;
                case ARG_ONLY:
                        r = parse_only(optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_FIRSTBOOT:
                        arg_firstboot = true;
                        break;
                case ARG_STATUS:
                        arg_status = true;
                        break;
                case 'v':
                        arg_verbose++;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ':':
                        return log_error_errno(-EINVAL, "Option '%s' needs an argument.", argv[optind - 1]);
                default:
                        return log_error_errno(-EINVAL, "Unknown option '%s'. See --help.", argv[optind - 1]);
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'. See --help.", argv[optind]);
        return check_modes();
}

static double now(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A deep removal holds one directory descriptor per level. */
static void raise_nofile(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int write_stamp(const Context *ctx) {
        _cleanup_free_ char *content = xasprintf("# dpuos-trim applied policy \"%s\"; delete this file to run it again at the next boot.\n",
                                                 ctx->policy->name ?: "unnamed");
        int r = write_file_atomic_in_root(ctx->root_fd, STAMP_PATH, content, 0644);
        return r < 0 ? r : 0;
}

static int open_root(Context *ctx, char **ret_root) {
        _cleanup_free_ char *canonical = NULL;
        int fd;

        if (!arg_root) {
                fd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(negative_errno(), "Cannot open /: %m");
                ctx->root_fd = fd;
                ctx->offline = false;
                /* systemd's PID 1 says so in a container (systemd-detect-virt --container). */
                ctx->container = access("/run/systemd/container", F_OK) >= 0 || getenv("container");
                *ret_root = xstrdup("/");
                return 0;
        }

        canonical = realpath(arg_root, NULL);
        if (!canonical)
                return log_error_errno(negative_errno(), "Cannot use --root=%s: %m", arg_root);
        fd = open(canonical, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Cannot open --root=%s: %m", canonical);

        ctx->root_fd = fd;
        ctx->offline = true;
        *ret_root = TAKE_PTR(canonical);
        return 0;
}

/* Everything one run holds; each mode below is a sequence of the shared steps over it. */
typedef struct Run {
        Context ctx;
        Policy policy;
        Plan plan;
        RunInfo info;
        char *root;
        char **cmdline_policies;
        double t0;
        MetricsWriter metrics;   /* --verify's, forked before its privileges go */
} Run;

static void run_done(Run *r) {
        if (r->metrics.pid > 0)
                (void) metrics_writer_finish(r->ctx.root_fd, &r->metrics, NULL, NULL);
        plan_done(&r->plan);
        policy_done(&r->policy);
        context_done(&r->ctx);
        free(r->root);
        strv_free(r->cmdline_policies);
}

/* Step: the tree to work on. Modes that only look never hold a capability that can
 * write; a dry run asked for on the kernel command line drops them once that is known. */
static int step_open(Run *r) {
        int k;

        r->t0 = now(CLOCK_MONOTONIC);
        r->info.started = now(CLOCK_REALTIME);
        r->info.mode = arg_verify ? "verify" : arg_revert ? "revert" : arg_dry_run ? "dry-run" : "apply";
        r->ctx.policy = &r->policy;
        r->ctx.kinds = arg_kinds;
        r->ctx.verify = arg_verify;
        r->ctx.firstboot = arg_firstboot;
        r->ctx.list_paths = arg_dry_run && !arg_verify && (arg_verbose > 0 || arg_json);
        r->ctx.dry_run = arg_dry_run || arg_verify;

        k = open_root(&r->ctx, &r->root);
        if (k < 0)
                return k;
        r->ctx.root = r->root;
        if (arg_verify && metrics_writer_start(r->ctx.root_fd, &r->metrics) < 0)
                log_warning("Cannot start the writer of the drift metrics: %m");
        if (r->ctx.dry_run || arg_check || arg_status)
                return caps_drop_to_reader();
        return 0;
}

/* Step: the policy. --revert runs with an empty one: every kind then takes back what it
 * finds of earlier runs (masks it recorded, its persisted files, saved live values). */
static int step_load_policy(Run *r) {
        int k;

        if (arg_revert)
                return 0;
        k = policy_load_extra(&r->policy, r->ctx.root_fd, streq(r->root, "/") ? NULL : r->root, arg_policy,
                              r->cmdline_policies);
        if (k < 0) {
                STRV_FOREACH(e, r->policy.errors)
                        fprintf(stderr, "%s\n", *e);
                return log_error_errno(k, "The policy is invalid; nothing was changed.");
        }
        if (!r->policy.sources)
                log_notice("No policy files found; nothing to do.");
        return 0;
}

/* Step: the plan, one kind at a time, to time each; the context (and the connections the
 * live backends open in it) stays the same. */
static void step_probe(Run *r) {
        for (Kind k = 0; k < _KIND_MAX; k++) {
                if (!(r->ctx.kinds & (1u << k)))
                        continue;
                double t = now(CLOCK_MONOTONIC);
                if (executors_probe(&r->ctx, &r->plan, k) < 0)
                        log_debug("Probing %s met errors; the plan has them.", kind_to_string(k));
                r->info.kind_seconds[k] = now(CLOCK_MONOTONIC) - t;
        }
}

/* Removed packages took their files with them: the file patterns are planned again on
 * what is left, so that what the report counts is what the removal of files freed. */
static void replan_files(Run *r, Kind next) {
        bool removed = false;

        if (next != KIND_FILES || r->ctx.dry_run)
                return;
        for (size_t i = 0; i < r->plan.n_actions; i++) {
                const Action *a = r->plan.actions[i];
                removed = removed || (a->kind == KIND_PACKAGES && a->verb == VERB_REMOVE && a->outcome == OUTCOME_DONE);
        }
        if (!removed)
                return;
        plan_forget_kind(&r->plan, KIND_FILES);
        double t = now(CLOCK_MONOTONIC);
        if (executors_probe(&r->ctx, &r->plan, KIND_FILES) < 0)
                log_debug("Probing files again met errors; the plan has them.");
        r->info.kind_seconds[KIND_FILES] += now(CLOCK_MONOTONIC) - t;
}

/* Step: carry the plan out (in a dry run: walk it), kind by kind. */
static void step_apply(Run *r) {
        for (Kind k = 0; k < _KIND_MAX && !r->plan.stopped; k++) {
                if (!(r->ctx.kinds & (1u << k)))
                        continue;
                replan_files(r, k);
                double t = now(CLOCK_MONOTONIC);
                unsigned n = 0;
                for (size_t i = 0; i < r->plan.n_actions; i++)
                        n += r->plan.actions[i]->kind == k && r->plan.actions[i]->state == STATE_CHANGE;
                /* Progress on the console of a first boot that takes its time. */
                if (n > 0 && !r->ctx.dry_run)
                        log_info("%s: applying %u change%s...", kind_to_string(k), n, n == 1 ? "" : "s");
                if (executors_apply(&r->ctx, &r->plan, k) < 0)
                        log_debug("Applying %s met errors; the plan has them.", kind_to_string(k));
                r->info.kind_seconds[k] += now(CLOCK_MONOTONIC) - t;
        }
        r->info.duration = now(CLOCK_MONOTONIC) - r->t0;
}

/* 0 when the system is as the plan says, else 1: a failed action or a run error. */
static int plan_exit_status(const Plan *plan) {
        Totals t;

        report_totals(plan, -1, false, &t);
        return t.n[OUTCOME_FAILED] > 0 || t.n[OUTCOME_PENDING] > 0 || plan->errors ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
}

static int mode_check(Run *r) {
        test_pause_point(NULL);
        if (!arg_quiet)
                printf("Policy \"%s\" is valid (%zu file%s).\n", r->policy.name ?: "unnamed",
                       strv_length(r->policy.sources), strv_length(r->policy.sources) == 1 ? "" : "s");
        return EXIT_ALL_DONE;
}

/* --verify: the plan is the drift; what could not be read does not hold either. */
static int mode_verify(Run *r) {
        size_t drift;
        int k;

        step_probe(r);
        r->info.duration = now(CLOCK_MONOTONIC) - r->t0;
        drift = plan_count_drift(&r->plan);
        _cleanup_free_ char *mpath = NULL, *mtext = metrics_verify_text(&r->ctx, &r->plan, &r->info, drift, &mpath);
        k = metrics_writer_finish(r->ctx.root_fd, &r->metrics, mpath, mtext);
        if (k < 0)
                plan_add_error(&r->plan, "cannot write %s: %s", strempty(mpath), strerror(-k));
        if (!r->ctx.offline)
                journal_log_verify(&r->ctx, &r->plan, &r->info);
        if (arg_json)
                report_print_json(&r->ctx, &r->plan, &r->info, stdout);
        else if (!arg_quiet) {
                if (drift > 0 || arg_verbose)
                        report_print_drift(&r->plan, arg_verbose > 0, stdout);
                report_print_errors(&r->plan, stdout);
                printf("dpuos-trim: policy \"%s\" on %s: %s%zu item%s drifted\n", r->policy.name ?: "unnamed",
                       r->root, drift || r->plan.errors ? "" : "holds, ", drift, drift == 1 ? "" : "s");
        }
        return r->plan.errors ? EXIT_SOME_FAILED : drift > 0 ? EXIT_DRIFT : EXIT_ALL_DONE;
}

/* --dry-run: the same walk as an application, stopping before each change. A plan with
 * actions that would fail says so in its exit status too. */
static int mode_dry_run(Run *r, bool journal) {
        step_probe(r);
        test_pause_point(NULL);
        step_apply(r);
        if (journal && !r->ctx.offline)
                journal_log_plan(&r->ctx, &r->plan, &r->info);
        if (arg_json)
                report_print_json(&r->ctx, &r->plan, &r->info, stdout);
        else if (!arg_quiet) {
                report_print_table(&r->plan, true, arg_verbose > 0, stdout);
                report_print_summary(&r->ctx, &r->plan, &r->info, stdout);
        }
        Totals t;
        report_totals(&r->plan, -1, false, &t);
        return t.n[OUTCOME_FAILED] > 0 || r->plan.errors ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
}

/* The status file (dpuos-trim(8), STATUS): "running" while an application runs, then how
 * it ended. Only the last write is an error when it fails: the run's exit status says so. */
static void record_status(Run *r, Status s, int exit_status) {
        _cleanup_free_ char *hash = xasprintf("fnv1a64:%016" PRIx64, r->policy.hash);
        Totals t;

        report_totals(&r->plan, -1, false, &t);
        StatusInfo info = {
                .status = s,
                .mode = (char *) (arg_revert ? "revert" : arg_firstboot ? "firstboot" : "apply"),
                .started = r->info.started,
                .finished = s == STATUS_RUNNING ? 0 : now(CLOCK_REALTIME),
                .policy_name = r->policy.name ?: (char *) "unnamed",
                .policy_hash = hash,
                .failed = t.n[OUTCOME_FAILED] + strv_length(r->plan.errors),
                .exit_status = s == STATUS_RUNNING ? -1 : exit_status,
                .pid = s == STATUS_RUNNING ? (long) getpid() : 0,
        };
        int k = status_write(r->ctx.root_fd, &info);
        if (k >= 0)
                return;
        if (s == STATUS_RUNNING)
                log_warning_errno(k, "Cannot write %s: %s", STATUS_PATH, owned_file_strerror(k));
        else
                plan_add_error(&r->plan, "cannot write %s: %s", STATUS_PATH, owned_file_strerror(k));
}

/* The first boot's one reboot, into the kernel arguments it configured: asked for only
 * after the stamp is written, so that the next boot does not run (or reboot) again. A run
 * that failed asks for none: the next boot runs it again. */
static void request_reboot(Run *r, bool ok) {
        Action *a = plan_find_verb(&r->plan, KIND_KERNEL, VERB_REBOOT);
        int k;

        if (!r->ctx.reboot || !a)
                return;
        if (ok) {
                (void) mkdir("/run/dpuos-trim", 0755);
                k = write_file_atomic_in_root(r->ctx.root_fd, REBOOT_REQUEST, "", 0644);
                if (k >= 0) {
                        log_notice("The kernel arguments changed (%s): rebooting once the boot has finished.", strempty(a->value));
                        return;
                }
                plan_add_error(&r->plan, "cannot ask for the reboot (%s): %s", REBOOT_REQUEST, strerror(-k));
        }
        a->outcome = OUTCOME_SKIPPED;
        action_set_reason(a, "not rebooted: the run %s; the next boot has the arguments", ok ? "could not ask for it" : "failed");
}

/* The record of an application: report.json, then (first boot, nothing failed) the stamp
 * and the reboot, then the journal and the terminal, which also say when any could not be
 * written. */
static int finish_apply(Run *r, bool stamp) {
        int k = report_write(&r->ctx, &r->plan, &r->info);
        if (k < 0)
                plan_add_error(&r->plan, "cannot write %s%s: %s", streq(r->root, "/") ? "" : r->root, REPORT_PATH,
                               owned_file_strerror(k));
        if (stamp && plan_exit_status(&r->plan) == EXIT_ALL_DONE) {
                k = write_stamp(&r->ctx);
                if (k < 0)
                        plan_add_error(&r->plan, "cannot write the stamp %s: %s", STAMP_PATH, owned_file_strerror(k));
        }
        request_reboot(r, stamp && plan_exit_status(&r->plan) == EXIT_ALL_DONE);
        k = metrics_write_apply(&r->ctx, &r->plan, &r->info,
                                plan_exit_status(&r->plan) == EXIT_ALL_DONE ? STATUS_DONE : STATUS_DEGRADED);
        if (k < 0) {
                _cleanup_free_ char *path = metrics_path(&r->ctx);
                plan_add_error(&r->plan, "cannot write %s: %s", strempty(path), owned_file_strerror(k));
        }
        record_status(r, plan_exit_status(&r->plan) == EXIT_ALL_DONE ? STATUS_DONE : STATUS_DEGRADED,
                      plan_exit_status(&r->plan));
        STRV_FOREACH(e, r->plan.errors)
                log_error("%s", *e);

        if (!r->ctx.offline)
                journal_log_plan(&r->ctx, &r->plan, &r->info);
        if (arg_json)
                report_print_json(&r->ctx, &r->plan, &r->info, stdout);
        else if (!arg_quiet) {
                if (arg_verbose)
                        report_print_table(&r->plan, false, arg_verbose > 1, stdout);
                report_print_summary(&r->ctx, &r->plan, &r->info, stdout);
        }
        return plan_exit_status(&r->plan);
}

static void print_revert_notes(const Context *ctx) {
        if (ctx->kinds & (1u << KIND_UNITS))
                printf("Unmasked units are not started: start those you need, or reboot.\n");
        if (!ctx->offline && (ctx->kinds & (1u << KIND_MODULES)))
                printf("Unloaded modules are not loaded again: the next boot (or modprobe) loads what the hardware needs.\n");
        if (ctx->kinds & (1u << KIND_KERNEL))
                printf("Kernel arguments taken back reach the kernel at the next boot.\n");
        if (ctx->offline && (ctx->kinds & ((1u << KIND_SYSCTL) | (1u << KIND_SYSFS))))
                printf("Saved live values are restored only on the running system, not under --root.\n");
        if (ctx->kinds & (1u << KIND_PACKAGES))
                printf("Removed packages are not reinstalled: /var/lib/dpuos-trim/saved/removed-packages lists them\n"
                       "with their versions, for the package manager to install again.\n");
        if (ctx->kinds & (1u << KIND_FILES))
                printf("Removed files stay removed: reinstall their packages to get them back.\n");
}

/* An application (and --revert, an application of the empty policy). */
static int mode_apply(Run *r, bool stamp) {
        record_status(r, STATUS_RUNNING, -1);
        step_probe(r);
        if (caps_drop_for_plan(&r->ctx, &r->plan) < 0) {
                log_error("Refusing to apply with more privilege than the plan needs; nothing was changed.");
                record_status(r, STATUS_FAILED, EXIT_SOME_FAILED);
                return EXIT_SOME_FAILED;
        }
        test_pause_point(NULL);
        step_apply(r);
        if (arg_revert && !arg_quiet && !arg_json)
                print_revert_notes(&r->ctx);
        return finish_apply(r, stamp);
}

/* --firstboot: once, as the stamp and the kernel command line say. A command line that
 * cannot be read might have said dpuos_trim=0: nothing is done, and the next boot tries
 * again. */
static int mode_firstboot(Run *r) {
        FirstbootMode mode;
        int k;

        if (faccessat(r->ctx.root_fd, &STAMP_PATH[1], F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                log_info("%s exists: the policy was applied already, nothing to do.", STAMP_PATH);
                return EXIT_ALL_DONE;
        }
        k = proc_cmdline_firstboot(&mode, &r->cmdline_policies);
        if (k < 0) {
                log_error_errno(k, "Cannot read the kernel command line: %m; changing nothing.");
                return EXIT_SOME_FAILED;
        }
        if (mode == FIRSTBOOT_SKIP) {
                log_notice("dpuos_trim=0 on the kernel command line: skipping this boot.");
                return EXIT_ALL_DONE;
        }
        if (mode == FIRSTBOOT_DRY_RUN) {
                log_notice("dpuos_trim=dry-run on the kernel command line: logging the plan, changing nothing.");
                if (caps_drop_to_reader() < 0)
                        return EXIT_INVALID;
                arg_dry_run = r->ctx.dry_run = true;
                r->info.mode = "dry-run";
        }
        if (step_load_policy(r) < 0) {
                if (!r->ctx.dry_run)
                        record_status(r, STATUS_FAILED, EXIT_INVALID);
                return EXIT_INVALID;
        }
        return r->ctx.dry_run ? mode_dry_run(r, true) : mode_apply(r, true);
}

/* Step: one run at a time on a tree. Two would each take the other's temporary files and
 * masks for strangers. The lock is the tree's root directory itself (flock), which every
 * tree has, writable or not; it goes with the process. Modes that only look take none. */
static int step_lock(Run *r) {
        if (flock(r->ctx.root_fd, LOCK_EX | LOCK_NB) >= 0)
                return 0;
        if (errno == EWOULDBLOCK) {
                log_error("Another dpuos-trim run holds the lock on %s; nothing was done. Run again when it has finished.",
                          r->root);
                return -EWOULDBLOCK;
        }
        return log_error_errno(negative_errno(), "Cannot lock %s: %m", r->root);
}

/* Is pid a dpuos-trim that runs now? (As the user nobody, kill() says EPERM for one.) */
static bool run_alive(long pid) {
        _cleanup_free_ char *path = xasprintf("/proc/%ld/comm", pid), *comm = NULL;

        if (pid <= 0 || (kill((pid_t) pid, 0) < 0 && errno != EPERM))
                return false;
        return read_file_host(path, 256, &comm) >= 0 && startswith(comm, "dpuos-trim");
}

/* --status: the word, from the status file; a run that says it runs and does not was cut
 * off. A tree trimmed before the file existed has only the stamp. */
static int mode_status(Run *r) {
        StatusInfo info;
        int k, code;

        k = status_read(r->ctx.root_fd, &info);
        if (k == -ENOENT) {
                bool stamp = faccessat(r->ctx.root_fd, &STAMP_PATH[1], F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
                info = (StatusInfo) { .status = stamp ? STATUS_DONE : STATUS_PENDING, .exit_status = -1 };
        } else if (k < 0) {
                log_error_errno(k, "Cannot read %s: %s", STATUS_PATH, k == -EBADMSG ? "it says no status" : owned_file_strerror(k));
                info = (StatusInfo) { .status = STATUS_FAILED, .exit_status = -1 };
        }
        if (info.status == STATUS_RUNNING && !run_alive(info.pid)) {
                info.status = STATUS_FAILED;
                info.interrupted = true;
        }
        status_print(&info, arg_json);
        code = status_exit_code(info.status);
        status_info_done(&info);
        return code;
}

static int run_mode(Run *r) {
        if (step_open(r) < 0)
                return EXIT_INVALID;
        if (!arg_check && !arg_verify && !arg_dry_run && !arg_status) {
                int k = step_lock(r);
                if (k < 0)
                        return k == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_SOME_FAILED;
        }
        if (arg_status)
                return mode_status(r);
        if (arg_firstboot)
                return mode_firstboot(r);
        if (step_load_policy(r) < 0)
                return EXIT_INVALID;
        if (arg_check)
                return mode_check(r);
        if (arg_verify)
                return mode_verify(r);
        if (arg_dry_run)
                return mode_dry_run(r, false);
        return mode_apply(r, false);
}

int run(int argc, char *argv[]) {
        Run r = { .ctx.root_fd = -1 };
        int k, ret;

        k = parse_argv(argc, argv);
        if (k <= 0)
                ret = k < 0 ? EXIT_INVALID : EXIT_ALL_DONE;
        else {
                if (arg_verbose)
                        log_set_max_level(LOG_DEBUG);
                else if (arg_quiet)
                        log_set_max_level(LOG_ERR);
                raise_nofile();
                ret = run_mode(&r);
        }
        run_done(&r);
        strv_free(arg_policy);
        free(arg_root);
        return ret;
}
