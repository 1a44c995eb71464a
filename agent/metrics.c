/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fs-util.h"
#include "macro.h"
#include "metrics.h"
#include "strv.h"

/* The families --verify writes; the others are an application's. */
static const char * const verify_families[] = {
        "dpuos_trim_verify_timestamp_seconds", "dpuos_trim_drift_items",
};

char *metrics_path(const Context *ctx) {
        const char *dir = ctx->policy->textfile_dir ?: METRICS_DEFAULT_DIR;
        struct stat st;

        if (fstatat(ctx->root_fd, dir + 1, &st, 0) < 0 || !S_ISDIR(st.st_mode))
                return NULL;
        return xasprintf("%s/%s", dir, METRICS_FILE);
}

static bool is_verify_line(const char *l) {
        for (size_t i = 0; i < ELEMENTSOF(verify_families); i++) {
                const char *n = verify_families[i];
                const char *p = startswith(l, "# HELP ") ?: startswith(l, "# TYPE ") ?: l;
                size_t k = strlen(n);
                if (strncmp(p, n, k) == 0 && (p[k] == ' ' || p[k] == '{'))
                        return true;
        }
        return false;
}

/* The lines of the existing file that the other kind of run wrote. */
static char *kept_lines(const Context *ctx, const char *path, bool keep_verify) {
        _cleanup_free_ char *text = NULL;
        char *out = xstrdup(""), *save = NULL;

        if (read_owned_file_in_root(ctx->root_fd, path, 1024 * 1024, &text) < 0)
                return out;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (is_verify_line(l) != keep_verify)
                        continue;
                char *n = xasprintf("%s%s\n", out, l);
                free(out);
                out = n;
        }
        return out;
}

_printf_(2, 3)
static void add(char **text, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&line, fmt, ap) < 0)
                line = NULL;
        va_end(ap);
        char *n = xasprintf("%s%s", *text, strempty(line));
        free(*text);
        *text = n;
}

static void family(char **text, const char *name, const char *help) {
        add(text, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* A label value with \, " and newline escaped, as the text format wants. */
static char *label(const char *v) {
        char *out = xmalloc(strlen(v) * 2 + 1), *o = out;
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        *o++ = '\\';
                if (*v == '\n') {
                        *o++ = '\\';
                        *o++ = 'n';
                        continue;
                }
                *o++ = *v;
        }
        *o = 0;
        return out;
}

static int write_file(const Context *ctx, const char *path, const char *text) {
        int r = write_file_atomic_in_root(ctx->root_fd, path, text, 0644);
        return r < 0 ? r : 0;
}

int metrics_write_apply(const Context *ctx, const Plan *plan, const RunInfo *info, Status status) {
        _cleanup_free_ char *path = metrics_path(ctx), *text = NULL, *name = NULL;
        Totals t;

        if (!path)
                return 0;
        text = kept_lines(ctx, path, true);
        name = label(ctx->policy->name ?: "unnamed");
        family(&text, "dpuos_trim_last_run_timestamp_seconds", "When the last application of the policy ended.");
        add(&text, "dpuos_trim_last_run_timestamp_seconds{mode=\"%s\"} %.3f\n", info->mode, info->started + info->duration);
        family(&text, "dpuos_trim_last_run_duration_seconds", "How long the last application took.");
        add(&text, "dpuos_trim_last_run_duration_seconds %.3f\n", info->duration);
        family(&text, "dpuos_trim_status", "How the trim stands: 1 for the current status, as dpuos-trim --status says it.");
        for (Status s = 0; s < _STATUS_MAX; s++)
                add(&text, "dpuos_trim_status{status=\"%s\"} %d\n", status_to_string(s), s == status);
        family(&text, "dpuos_trim_policy_info", "The policy of the last application: its name and hash.");
        add(&text, "dpuos_trim_policy_info{name=\"%s\",hash=\"fnv1a64:%016" PRIx64 "\"} 1\n", name, ctx->policy->hash);
        family(&text, "dpuos_trim_actions", "Actions of the last application, by kind and outcome.");
        for (Kind k = 0; k < _KIND_MAX; k++) {
                report_totals(plan, k, false, &t);
                for (Outcome o = 0; o < _OUTCOME_MAX; o++)
                        add(&text, "dpuos_trim_actions{kind=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", kind_to_string(k),
                            outcome_to_string(o), t.n[o]);
        }
        report_totals(plan, -1, false, &t);
        family(&text, "dpuos_trim_freed_bytes", "Bytes the last application freed: removed files, and removed packages' installed size.");
        add(&text, "dpuos_trim_freed_bytes{what=\"files\"} %" PRIu64 "\n", t.bytes_freed);
        add(&text, "dpuos_trim_freed_bytes{what=\"packages\"} %" PRIu64 "\n", t.package_bytes);
        family(&text, "dpuos_trim_run_errors", "Run errors of the last application: failures that belong to no action.");
        add(&text, "dpuos_trim_run_errors %zu\n", strv_length(plan->errors));
        return write_file(ctx, path, text);
}

char *metrics_verify_text(const Context *ctx, const Plan *plan, const RunInfo *info, size_t drift, char **ret_path) {
        _cleanup_free_ char *path = metrics_path(ctx);
        char *text;

        *ret_path = NULL;
        if (!path)
                return NULL;
        text = kept_lines(ctx, path, false);
        family(&text, "dpuos_trim_verify_timestamp_seconds", "When dpuos-trim --verify last compared the system with the policy.");
        add(&text, "dpuos_trim_verify_timestamp_seconds %.3f\n", info->started + info->duration);
        family(&text, "dpuos_trim_drift_items", "What --verify found not holding, and run errors it met.");
        add(&text, "dpuos_trim_drift_items{what=\"drift\"} %zu\n", drift);
        add(&text, "dpuos_trim_drift_items{what=\"errors\"} %zu\n", strv_length(plan->errors));
        *ret_path = TAKE_PTR(path);
        return text;
}

static int write_all(int fd, const char *b, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, b, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -1;
                b += k;
                n -= (size_t) k;
        }
        return 0;
}

static bool writer_path_ok(const char *path) {
        return path_is_safe_absolute(path) && endswith(path, "/" METRICS_FILE) && !strstr(path, "//");
}

/* The child: read "PATH\0TEXT" to the end, then write it. */
__attribute__((noreturn)) static void writer_child(int root_fd, int fd) {
        char *buf = NULL;
        size_t n = 0, allocated = 0;

        for (;;) {
                if (allocated - n < 4096) {
                        allocated = allocated * 2 + 4096;
                        if (allocated > 2 * 1024 * 1024)
                                _exit(EXIT_FAILURE);
                        buf = xrealloc(buf, allocated + 1);
                }
                ssize_t k = read(fd, buf + n, allocated - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        _exit(EXIT_FAILURE);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n == 0)
                _exit(EXIT_SUCCESS);   /* nothing to write */
        buf[n] = 0;
        size_t plen = strnlen(buf, n);
        if (plen == n || !writer_path_ok(buf))
                _exit(EXIT_FAILURE);
        int r = write_file_atomic_in_root(root_fd, buf, buf + plen + 1, 0644);
        _exit(r < 0 ? (int) MIN(-r, 125) : EXIT_SUCCESS);
}

int metrics_writer_start(int root_fd, MetricsWriter *w) {
        int p[2];

        *w = (MetricsWriter) { .pid = -1, .fd = -1 };
        if (geteuid() != 0)
                return 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return negative_errno();
        }
        if (pid == 0) {
                close(p[1]);
                writer_child(root_fd, p[0]);
        }
        close(p[0]);
        *w = (MetricsWriter) { .pid = pid, .fd = p[1] };
        return 0;
}

int metrics_writer_finish(int root_fd, MetricsWriter *w, const char *path, const char *text) {
        int status, r = 0;

        if (w->pid < 0) {
                /* not root: nothing was forked, and the write is tried as this user */
                if (path && (r = write_file_atomic_in_root(root_fd, path, text, 0644)) > 0)
                        r = 0;
                return r;
        }
        if (path && (write_all(w->fd, path, strlen(path) + 1) < 0 || write_all(w->fd, text, strlen(text)) < 0))
                r = negative_errno();
        close(w->fd);
        w->fd = -1;
        while (waitpid(w->pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = RET_GATHER(r, negative_errno());
                        break;
                }
        w->pid = -1;
        if (r >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = WIFEXITED(status) && WEXITSTATUS(status) != EXIT_FAILURE ? -WEXITSTATUS(status) : -EIO;
        return r;
}
