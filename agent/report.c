/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <time.h>

#include "fs-util.h"
#include "json.h"
#include "log.h"
#include "macro.h"
#include "report.h"
#include "strv.h"

char *format_bytes(uint64_t n) {
        static const char units[] = "KMGT";

        if (n < 1024)
                return xasprintf("%" PRIu64 " B", n);
        double v = (double) n / 1024;
        size_t i = 0;
        while (v >= 1024 && i + 1 < strlen(units)) {
                v /= 1024;
                i++;
        }
        return xasprintf("%.1f %ciB", v, units[i]);
}

void report_totals(const Plan *plan, int kind, bool dry_run, Totals *t) {
        *t = (Totals) {};
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (kind >= 0 && a->kind != (Kind) kind)
                        continue;
                t->n[a->outcome]++;
                /* In a dry run, what the plan would free. */
                if (a->kind == KIND_FILES && a->outcome == (dry_run ? OUTCOME_PENDING : OUTCOME_DONE)) {
                        t->bytes_freed += a->bytes;
                        t->files += a->n_files;
                        t->dirs += a->n_dirs;
                }
                if (a->kind == KIND_PACKAGES && a->verb == VERB_REMOVE &&
                    a->outcome == (dry_run ? OUTCOME_PENDING : OUTCOME_DONE) && a->state == STATE_CHANGE) {
                        t->package_bytes += a->bytes;
                        t->packages++;
                }
        }
}

/* File names may hold anything; a table line must stay one line of valid text. */
static void print_escaped(FILE *f, const char *s, int width) {
        _cleanup_free_ char *e = text_escape(s);
        int n = 0;

        fputs(e, f);
        for (const unsigned char *c = (const unsigned char *) e; *c; c++)
                n += (*c & 0xc0) != 0x80;  /* one column per character */
        for (; n < width; n++)
                fputc(' ', f);
}

static const char *what(const Action *a, bool dry_run) {
        static char buf[64];

        if (a->outcome != OUTCOME_PENDING || !dry_run)
                return a->outcome == OUTCOME_PENDING ? "not reached" : outcome_to_string(a->outcome);
        if (a->state == STATE_CHANGE) {
                snprintf(buf, sizeof buf, "would %s", verb_to_string(a->verb));
                return buf;
        }
        return state_to_string(a->state);
}

static const char *mark_to_string(PathMark m) {
        return m == PATH_KEPT ? "kept" : m == PATH_PROTECTED ? "protected" : NULL;
}

/* Under a file pattern, one line per path it takes (a directory with a trailing '/'),
 * kept and protected matches marked. */
static void print_paths(const Action *a, FILE *f) {
        for (size_t i = 0; i < a->paths.n; i++) {
                const PathEntry *p = &a->paths.v[i];
                _cleanup_free_ char *bytes = p->mark == PATH_REMOVED ? format_bytes(p->bytes) : NULL;
                fprintf(f, "    %10s  ", p->mark == PATH_REMOVED ? bytes : mark_to_string(p->mark));
                print_escaped(f, p->path, 0);
                fputs(p->dir ? "/\n" : "\n", f);
        }
}

void report_print_table(const Plan *plan, bool dry_run, bool paths, FILE *f) {
        fprintf(f, "%-8s %-44s %-16s %10s  %s\n", "KIND", "TARGET", dry_run ? "PLAN" : "OUTCOME", "BYTES", "DETAILS");
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                _cleanup_free_ char *bytes = NULL, *details = NULL;

                fprintf(f, "%-8s ", kind_to_string(a->kind));
                print_escaped(f, a->target, 44);
                fprintf(f, " %-16s ", what(a, dry_run));
                if (a->kind == KIND_FILES && (a->n_files || a->n_dirs)) {
                        bytes = format_bytes(a->bytes);
                        details = xasprintf("%" PRIu64 " files, %" PRIu64 " dirs%s%s", a->n_files, a->n_dirs,
                                            a->reason ? "; " : "", strempty(a->reason));
                } else if (a->kind == KIND_PACKAGES && a->value) {
                        bytes = a->bytes ? format_bytes(a->bytes) : NULL;
                        details = xasprintf("%s%s%s", a->value, a->reason ? "; " : "", strempty(a->reason));
                } else if (a->value)
                        details = a->old_value ? xasprintf("%s -> %s", a->old_value, a->value)
                                               : xasprintf("= %s", a->value);
                fprintf(f, "%10s  ", strempty(bytes));
                print_escaped(f, details ?: strempty(a->reason), 0);
                if (details && a->value && a->reason && a->kind != KIND_PACKAGES)
                        fprintf(f, " (%s)", a->reason);
                fputc('\n', f);
                if (paths)
                        print_paths(a, f);
        }
}

const char *drift_to_string(const Action *a) {
        switch (a->verb) {
        case VERB_MASK:
                return "not masked";
        case VERB_STOP:
                return "running";
        case VERB_BLACKLIST:
                return "not blacklisted";
        case VERB_UNLOAD:
                return "loaded";
        case VERB_SET:
                return "differs";
        case VERB_REMOVE:
                return "present";
        case VERB_DROP:
                return "left behind";
        case VERB_RESTORE:
                return "not restored";
        case VERB_EXCLUDE:
                return "not excluded";
        case VERB_REBUILD:
                return "stale";
        case VERB_REBOOT:
                return "not booted";
        default:
                return "drifted";
        }
}

void report_print_drift(const Plan *plan, bool all, FILE *f) {
        fprintf(f, "%-8s %-44s %-16s %10s  %s\n", "KIND", "TARGET", "DRIFT", "BYTES", "DETAILS");
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                _cleanup_free_ char *bytes = NULL, *details = NULL;

                if (a->state != STATE_CHANGE && a->state != STATE_IMPOSSIBLE && !all)
                        continue;
                fprintf(f, "%-8s ", kind_to_string(a->kind));
                print_escaped(f, a->target, 44);
                fprintf(f, " %-16s ", a->state == STATE_CHANGE ? drift_to_string(a) :
                                      a->state == STATE_IMPOSSIBLE ? "cannot hold" : state_to_string(a->state));
                if (a->kind == KIND_FILES && (a->n_files || a->n_dirs)) {
                        bytes = format_bytes(a->bytes);
                        details = xasprintf("%" PRIu64 " files, %" PRIu64 " dirs", a->n_files, a->n_dirs);
                } else if (a->value && a->old_value)
                        details = xasprintf("live %s, %s %s", a->old_value,
                                            a->verb == VERB_RESTORE ? "saved" : "policy", a->value);
                else if (a->verb == VERB_SET && a->state == STATE_CHANGE)
                        details = xasprintf("not persisted (= %s)", a->value);
                fprintf(f, "%10s  ", strempty(bytes));
                print_escaped(f, details ?: strempty(a->reason), 0);
                fputc('\n', f);
        }
}

static void json_action(JsonWriter *j, const Action *a) {
        json_begin_object(j, NULL);
        json_string(j, "kind", kind_to_string(a->kind));
        json_string(j, "action", verb_to_string(a->verb));
        json_string(j, "target", a->target);
        json_string(j, "state", state_to_string(a->state));
        json_string(j, "outcome", outcome_to_string(a->outcome));
        json_string(j, "reason", a->reason);
        if (a->kind == KIND_PACKAGES && a->verb == VERB_REMOVE) {
                /* What reinstalls it: name, version, release and architecture. */
                json_string(j, "package", a->value);
                json_uint(j, "bytes", a->bytes);
        } else if (a->value || a->old_value) {
                if (a->value)
                        json_string(j, "value", a->value);
                json_string(j, "old_value", a->old_value);
        }
        if (a->error < 0)
                json_int(j, "errno", -a->error);
        if (a->kind == KIND_FILES) {
                json_uint(j, "bytes", a->bytes);
                json_uint(j, "files", a->n_files);
                json_uint(j, "dirs", a->n_dirs);
        }
        if (a->paths.n > 0) {
                json_begin_array(j, "paths");
                for (size_t i = 0; i < a->paths.n; i++) {
                        const PathEntry *p = &a->paths.v[i];
                        json_begin_object(j, NULL);
                        json_string(j, "path", p->path);
                        if (p->dir)
                                json_bool(j, "dir", true);
                        if (p->mark == PATH_REMOVED)
                                json_uint(j, "bytes", p->bytes);
                        else
                                json_string(j, "mark", mark_to_string(p->mark));
                        json_end_object(j);
                }
                json_end_array(j);
        }
        json_end_object(j);
}

void report_print_json(const Context *ctx, const Plan *plan, const RunInfo *info, FILE *f) {
        JsonWriter j = { .f = f, .pretty = true };
        Totals t;

        json_begin_object(&j, NULL);
        json_uint(&j, "version", 1);
        json_string(&j, "mode", info->mode);
        json_string(&j, "root", ctx->root);
        json_bool(&j, "offline", ctx->offline);
        json_begin_object(&j, "policy");
        json_string(&j, "name", ctx->policy->name);
        json_begin_array(&j, "sources");
        for (char **s = ctx->policy->sources; s && *s; s++)
                json_string(&j, NULL, *s);
        json_end_array(&j);
        json_end_object(&j);
        json_double(&j, "started", info->started);
        json_double(&j, "duration", info->duration);
        if (streq(info->mode, "verify"))
                json_uint(&j, "drift", plan_count_drift(plan));
        json_begin_array(&j, "errors");
        STRV_FOREACH(e, plan->errors)
                json_string(&j, NULL, *e);
        json_end_array(&j);

        json_begin_array(&j, "actions");
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];

                json_action(&j, a);
        }
        json_end_array(&j);

        json_begin_object(&j, "totals");
        report_totals(plan, -1, ctx->dry_run, &t);
        for (Outcome o = 0; o < _OUTCOME_MAX; o++)
                json_uint(&j, outcome_to_string(o), t.n[o]);
        json_uint(&j, "bytes_freed", t.bytes_freed);
        json_uint(&j, "files_removed", t.files);
        json_uint(&j, "dirs_removed", t.dirs);
        json_uint(&j, "packages_removed", t.packages);
        json_uint(&j, "package_bytes_freed", t.package_bytes);
        json_end_object(&j);

        json_begin_object(&j, "kinds");
        for (Kind k = 0; k < _KIND_MAX; k++) {
                if (!(ctx->kinds & (1u << k)))
                        continue;
                report_totals(plan, k, ctx->dry_run, &t);
                json_begin_object(&j, kind_to_string(k));
                for (Outcome o = 0; o < _OUTCOME_MAX; o++)
                        json_uint(&j, outcome_to_string(o), t.n[o]);
                json_double(&j, "seconds", info->kind_seconds[k]);
                json_end_object(&j);
        }
        json_end_object(&j);
        json_end_object(&j);
}

int report_write(const Context *ctx, const Plan *plan, const RunInfo *info) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        report_print_json(ctx, plan, info, f);
        if (fclose(f) != 0)
                return -ENOMEM;

        r = write_file_atomic_in_root(ctx->root_fd, REPORT_PATH, buf, 0644);
        return r < 0 ? r : 0;
}

static bool same_failure(const Action *a, const Action *b) {
        return b->outcome == OUTCOME_FAILED && a->kind == b->kind && a->verb == b->verb &&
               streq(strempty(a->reason), strempty(b->reason));
}

/* Failures for one reason (a package set refused as a whole) are one line, naming the
 * first few targets; the report names every one. */
static void print_failures(const Plan *plan, FILE *f) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                size_t n = 1;
                if (a->outcome != OUTCOME_FAILED)
                        continue;
                fprintf(f, "  failed: %s %s ", kind_to_string(a->kind), verb_to_string(a->verb));
                print_escaped(f, a->target, 0);
                for (; i + 1 < plan->n_actions && same_failure(a, plan->actions[i + 1]); i++, n++)
                        if (n < 8) {
                                fputs(", ", f);
                                print_escaped(f, plan->actions[i + 1]->target, 0);
                        }
                if (n > 8)
                        fprintf(f, " and %zu more", n - 8);
                fprintf(f, ": %s\n", strempty(a->reason));
        }
}

void report_print_summary(const Context *ctx, const Plan *plan, const RunInfo *info, FILE *f) {
        Totals t;

        if (streq(info->mode, "revert"))
                fprintf(f, "dpuos-trim: revert %s %s in %.2fs\n", ctx->dry_run ? "planned for" : "applied to",
                        ctx->root, info->duration);
        else
                fprintf(f, "dpuos-trim: policy \"%s\" %s %s in %.2fs\n", ctx->policy->name ?: "unnamed",
                        ctx->dry_run ? "planned for" : "applied to", ctx->root, info->duration);
        for (Kind k = 0; k < _KIND_MAX; k++) {
                if (!(ctx->kinds & (1u << k)))
                        continue;
                report_totals(plan, k, ctx->dry_run, &t);
                /* In a dry run the actions to change are the pending ones. */
                uint64_t changed = ctx->dry_run ? t.n[OUTCOME_PENDING] : t.n[OUTCOME_DONE];
                fprintf(f, "  %-8s %3" PRIu64 " %s, %3" PRIu64 " unchanged, %3" PRIu64 " skipped, %3" PRIu64
                        " protected, %3" PRIu64 " failed",
                        kind_to_string(k), changed, ctx->dry_run ? "to change" : "done",
                        t.n[OUTCOME_UNCHANGED], t.n[OUTCOME_SKIPPED], t.n[OUTCOME_PROTECTED], t.n[OUTCOME_FAILED]);
                if (!ctx->dry_run && t.n[OUTCOME_PENDING])
                        fprintf(f, ", %" PRIu64 " not reached", t.n[OUTCOME_PENDING]);
                if (k == KIND_PACKAGES && t.packages) {
                        _cleanup_free_ char *b = format_bytes(t.package_bytes);
                        fprintf(f, "; %" PRIu64 " packages, %s %s", t.packages, b, ctx->dry_run ? "to free" : "freed");
                }
                if (k == KIND_FILES) {
                        _cleanup_free_ char *b = format_bytes(t.bytes_freed);
                        fprintf(f, "; %" PRIu64 " files, %" PRIu64 " directories, %s %s", t.files, t.dirs, b,
                                ctx->dry_run ? "to free" : "freed");
                }
                fputc('\n', f);
        }
        print_failures(plan, f);
        report_print_errors(plan, f);
}

void report_print_errors(const Plan *plan, FILE *f) {
        STRV_FOREACH(e, plan->errors) {
                fputs("  error: ", f);
                print_escaped(f, *e, 0);
                fputc('\n', f);
        }
}
