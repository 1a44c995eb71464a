/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <getopt.h>
#include <sys/resource.h>
#include <time.h>

#include "caps.h"
#include "fs-util.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "policy.h"
#include "proc-cmdline.h"
#include "report.h"
#include "run.h"
#include "strv.h"

#define ALL_KINDS ((1u << _KIND_MAX) - 1)
#define STAMP_PATH "/etc/dpuos-trim/applied"

static bool arg_dry_run = false;
static bool arg_check = false;
static bool arg_verify = false;
static bool arg_revert = false;
static bool arg_firstboot = false;
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
               "modules, persist sysctl and /sys settings, remove files.\n"
               "\n"
               "Modes:\n"
               "     --dry-run        Print the plan; change nothing\n"
               "     --check          Validate the policy (syntax and meaning); change nothing\n"
               "     --verify         Compare the system with the policy and list what no\n"
               "                      longer holds (drift); change nothing\n"
               "     --revert         Undo what can be undone: unmask, remove the blacklist,\n"
               "                      sysctl.d, tmpfiles.d and package manager files, restore\n"
               "                      saved live values; removed files stay removed\n"
               "\n"
               "Options:\n"
               "     --root=DIR       Operate offline on the OS tree at DIR\n"
               "     --policy=PATH    Use this policy file or directory instead of the search\n"
               "                      path (repeatable; earlier ones win a shared file name)\n"
               "     --only=KINDS     Limit to some of units,modules,sysctl,sysfs,files\n"
               "     --firstboot      The first-boot service's mode: do nothing once the stamp\n"
               "                      /etc/dpuos-trim/applied exists, follow the kernel command\n"
               "                      line (dpuos_trim=0|dry-run, dpuos_trim.policy=PATH), and\n"
               "                      write the stamp after a run without failures\n"
               "     --json           Machine-readable output (plan, verify, report)\n"
               "  -v --verbose        Also print every action and debug messages\n"
               "  -q --quiet          Print only errors\n"
               "  -h --help           Show this help\n"
               "     --version        Show the version\n"
               "\n"
               "Exit status: 0 done or nothing to do; 1 some actions failed, the rest\n"
               "applied; 2 bad policy or usage, nothing changed; 3 --verify found drift.\n"
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
                        return log_error_errno(-EINVAL, "--only=: unknown kind '%s' (expected units, modules, sysctl, sysfs, files)", w);
                kinds |= 1u << k;
        }
        if (kinds == 0)
                return log_error_errno(-EINVAL, "--only= needs at least one kind");
        arg_kinds = kinds;
        return 0;
}

/* Returns > 0 to go on, 0 to exit successfully (--help, --version), < 0 on a usage error. */
static int parse_argv(int argc, char *argv[]) {
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
                { "verbose", no_argument,       NULL, 'v'         },
                { "quiet",   no_argument,       NULL, 'q'         },
                { "help",    no_argument,       NULL, 'h'         },
                { "version", no_argument,       NULL, ARG_VERSION },
                {}
        };
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hvq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dpuos-trim %s\n", PACKAGE_VERSION);
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
        if (arg_dry_run + arg_check + arg_verify > 1)
                return log_error_errno(-EINVAL, "--dry-run, --check and --verify cannot be combined.");
        if (arg_revert && (arg_check || arg_verify || arg_firstboot))
                return log_error_errno(-EINVAL, "--revert cannot be combined with --check, --verify or --firstboot.");
        if (arg_revert && arg_policy)
                return log_error_errno(-EINVAL, "--revert takes no policy: it undoes what the saved state records.");
        if (arg_firstboot && (arg_check || arg_verify || arg_policy))
                return log_error_errno(-EINVAL, "--firstboot takes its policy from the search path and the kernel command line.");
        return 1;
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

/* Test hook: with $DPUOS_TRIM_TEST_PAUSE=FIFO the run stops between plan and apply (with
 * --check: after reading the policy) until something is written to FIFO, so that tests
 * can change the tree under a made plan, or look at the process while it holds. */
static void test_pause_point(void) {
        const char *fifo = getenv("DPUOS_TRIM_TEST_PAUSE");
        char c;

        if (!fifo)
                return;
        int fd = open(fifo, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) read(fd, &c, 1);
                close(fd);
        }
}

static int write_stamp(const Context *ctx) {
        _cleanup_free_ char *content = xasprintf("# dpuos-trim applied policy \"%s\"; delete this file to run it again at the next boot.\n",
                                                 ctx->policy->name ?: "unnamed");
        int r = write_file_atomic_in_root(ctx->root_fd, STAMP_PATH, content, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write the stamp %s: %m", STAMP_PATH);
        return 0;
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

/* --verify: the plan is the drift. */
static int verify_finish(const Context *ctx, const Plan *plan, const RunInfo *info) {
        size_t drift = plan_count_state(plan, STATE_CHANGE);

        if (!ctx->offline)
                journal_log_verify(ctx, plan, info);
        if (arg_json)
                report_print_json(ctx, plan, info, stdout);
        else if (!arg_quiet) {
                if (drift > 0 || arg_verbose)
                        report_print_drift(plan, arg_verbose > 0, stdout);
                printf("dpuos-trim: policy \"%s\" on %s: %s%zu item%s drifted\n", ctx->policy->name ?: "unnamed",
                       ctx->root, drift ? "" : "holds, ", drift, drift == 1 ? "" : "s");
        }
        return drift > 0 ? EXIT_DRIFT : EXIT_ALL_DONE;
}

static void print_revert_notes(const Context *ctx) {
        if (ctx->kinds & (1u << KIND_UNITS))
                printf("Unmasked units are not started: start those you need, or reboot.\n");
        if (!ctx->offline && (ctx->kinds & (1u << KIND_MODULES)))
                printf("Unloaded modules are not loaded again: the next boot (or modprobe) loads what the hardware needs.\n");
        if (ctx->offline && (ctx->kinds & ((1u << KIND_SYSCTL) | (1u << KIND_SYSFS))))
                printf("Saved live values are restored only on the running system, not under --root.\n");
        if (ctx->kinds & (1u << KIND_FILES))
                printf("Removed files stay removed: reinstall their packages to get them back.\n");
}

int run(int argc, char *argv[]) {
        _cleanup_free_ char *root = NULL;
        _cleanup_strv_free_ char **cmdline_policies = NULL;
        Policy policy = {};
        Plan plan = {};
        Context ctx = { .root_fd = -1 };
        RunInfo info = {};
        double t0;
        int r, ret = EXIT_ALL_DONE;
        Totals t;

        r = parse_argv(argc, argv);
        if (r <= 0) {
                ret = r < 0 ? EXIT_INVALID : EXIT_ALL_DONE;
                goto finish;
        }
        if (arg_verbose)
                log_set_max_level(LOG_DEBUG);
        else if (arg_quiet)
                log_set_max_level(LOG_ERR);

        raise_nofile();
        t0 = now(CLOCK_MONOTONIC);
        info.started = now(CLOCK_REALTIME);
        info.mode = arg_verify ? "verify" : arg_revert ? "revert" : arg_dry_run ? "dry-run" : "apply";

        r = open_root(&ctx, &root);
        if (r < 0) {
                ret = EXIT_INVALID;
                goto finish;
        }
        ctx.root = root;
        ctx.dry_run = arg_dry_run || arg_verify;

        /* Modes that only look never hold a capability that can write. A dry run asked for
         * on the kernel command line drops them below, once that is known. */
        if ((ctx.dry_run || arg_check) && caps_drop_to_reader() < 0) {
                ret = EXIT_INVALID;
                goto finish;
        }
        ctx.kinds = arg_kinds;
        ctx.policy = &policy;

        if (arg_firstboot) {
                FirstbootMode mode;

                if (faccessat(ctx.root_fd, &STAMP_PATH[1], F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                        log_info("%s exists: the policy was applied already, nothing to do.", STAMP_PATH);
                        goto finish;
                }
                r = proc_cmdline_firstboot(&mode, &cmdline_policies);
                if (r < 0)
                        log_warning_errno(r, "Cannot read the kernel command line, ignoring: %m");
                else if (mode == FIRSTBOOT_SKIP) {
                        log_notice("dpuos_trim=0 on the kernel command line: skipping this boot.");
                        goto finish;
                } else if (mode == FIRSTBOOT_DRY_RUN) {
                        log_notice("dpuos_trim=dry-run on the kernel command line: logging the plan, changing nothing.");
                        if (caps_drop_to_reader() < 0) {
                                ret = EXIT_INVALID;
                                goto finish;
                        }
                        arg_dry_run = true;
                        ctx.dry_run = true;
                        info.mode = "dry-run";
                }
        }

        /* --revert runs with an empty policy: every kind then takes back what it finds of
         * earlier runs (masks it recorded, its persisted files, saved live values). */
        r = arg_revert ? 0 : policy_load_extra(&policy, ctx.root_fd, streq(root, "/") ? NULL : root, arg_policy, cmdline_policies);
        if (r < 0) {
                STRV_FOREACH(e, policy.errors)
                        fprintf(stderr, "%s\n", *e);
                log_error("The policy is invalid; nothing was changed.");
                ret = EXIT_INVALID;
                goto finish;
        }

        if (arg_check) {
                test_pause_point();
                if (!arg_quiet)
                        printf("Policy \"%s\" is valid (%zu file%s).\n", policy.name ?: "unnamed",
                               strv_length(policy.sources), strv_length(policy.sources) == 1 ? "" : "s");
                goto finish;
        }
        if (!policy.sources && !arg_revert)
                log_notice("No policy files found; nothing to do.");

        /* One kind at a time, to time each; the context (and the connections the live
         * backends open in it) stays the same. */
        unsigned kinds = ctx.kinds;
        for (Kind k = 0; k < _KIND_MAX; k++) {
                double tk = now(CLOCK_MONOTONIC);
                if (kinds & (1u << k)) {
                        ctx.kinds = 1u << k;
                        r = plan_build(&ctx, &plan);
                        if (r < 0)
                                log_warning_errno(r, "Probing %s was incomplete: %m", kind_to_string(k));
                }
                info.kind_seconds[k] = now(CLOCK_MONOTONIC) - tk;
        }
        ctx.kinds = kinds;

        if (arg_verify) {
                info.duration = now(CLOCK_MONOTONIC) - t0;
                ret = verify_finish(&ctx, &plan, &info);
                goto finish;
        }

        if (!ctx.dry_run && caps_drop_for_plan(&ctx, &plan) < 0) {
                log_error("Refusing to apply with more privilege than the plan needs; nothing was changed.");
                ret = EXIT_SOME_FAILED;
                goto finish;
        }

        test_pause_point();

        for (Kind k = 0; k < _KIND_MAX && !plan.stopped; k++) {
                double tk = now(CLOCK_MONOTONIC);
                if (kinds & (1u << k)) {
                        unsigned n = 0;
                        for (size_t i = 0; i < plan.n_actions; i++)
                                n += plan.actions[i]->kind == k && plan.actions[i]->state == STATE_CHANGE;
                        /* Progress on the console of a first boot that takes its time. */
                        if (n > 0 && !arg_dry_run)
                                log_info("%s: applying %u change%s...", kind_to_string(k), n, n == 1 ? "" : "s");
                        ctx.kinds = 1u << k;
                        (void) plan_apply(&ctx, &plan);
                }
                info.kind_seconds[k] += now(CLOCK_MONOTONIC) - tk;
        }
        ctx.kinds = kinds;
        info.duration = now(CLOCK_MONOTONIC) - t0;

        if (!ctx.offline && (!arg_dry_run || arg_firstboot))
                journal_log_plan(&ctx, &plan, &info);

        if (arg_dry_run) {
                if (arg_json)
                        report_print_json(&ctx, &plan, &info, stdout);
                else if (!arg_quiet) {
                        report_print_table(&plan, true, stdout);
                        report_print_summary(&ctx, &plan, &info, stdout);
                }
                /* A plan with actions that would fail says so in its exit status too. */
                report_totals(&plan, -1, &t);
                if (t.n[OUTCOME_FAILED] > 0)
                        ret = EXIT_SOME_FAILED;
                goto finish;
        }

        if (arg_revert && !arg_quiet && !arg_json)
                print_revert_notes(&ctx);

        r = report_write(&ctx, &plan, &info);
        if (r < 0)
                log_error_errno(r, "Failed to write %s%s: %m", streq(root, "/") ? "" : root, REPORT_PATH);

        if (arg_json)
                report_print_json(&ctx, &plan, &info, stdout);
        else if (!arg_quiet) {
                if (arg_verbose)
                        report_print_table(&plan, false, stdout);
                report_print_summary(&ctx, &plan, &info, stdout);
        }

        report_totals(&plan, -1, &t);
        if (t.n[OUTCOME_FAILED] > 0 || t.n[OUTCOME_PENDING] > 0 || r < 0)
                ret = EXIT_SOME_FAILED;
        else if (arg_firstboot && write_stamp(&ctx) < 0)
                ret = EXIT_SOME_FAILED;

finish:
        plan_done(&plan);
        policy_done(&policy);
        context_done(&ctx);
        strv_free(arg_policy);
        free(arg_root);
        return ret;
}
