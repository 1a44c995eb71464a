/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <time.h>

#include "fs-util.h"
#include "json.h"
#include "macro.h"
#include "status.h"
#include "strv.h"

static const char * const status_names[_STATUS_MAX] = {
        [STATUS_PENDING] = "pending",
        [STATUS_RUNNING] = "running",
        [STATUS_DONE] = "done",
        [STATUS_DEGRADED] = "degraded",
        [STATUS_FAILED] = "failed",
};

static const int status_codes[_STATUS_MAX] = {
        [STATUS_DONE] = 0,
        [STATUS_PENDING] = 10,
        [STATUS_RUNNING] = 11,
        [STATUS_DEGRADED] = 12,
        [STATUS_FAILED] = 13,
};

const char *status_to_string(Status s) {
        return s >= 0 && s < _STATUS_MAX ? status_names[s] : NULL;
}

Status status_from_string(const char *s) {
        for (Status i = 0; i < _STATUS_MAX; i++)
                if (streq(status_names[i], s))
                        return i;
        return _STATUS_INVALID;
}

int status_exit_code(Status s) {
        return s >= 0 && s < _STATUS_MAX ? status_codes[s] : status_codes[STATUS_FAILED];
}

/* The file is KEY=VALUE lines, as os-release(5): a shell can source it, and the values are
 * printable text without quotes or newlines (the policy's name is checked to be). */
int status_write(int root_fd, const StatusInfo *info) {
        _cleanup_free_ char *text = xasprintf(
                "# dpuos-trim's state for machines: see dpuos-trim(8), STATUS.\n"
                "STATUS=%s\nMODE=%s\nSTARTED=%.0f\nFINISHED=%.0f\nPOLICY_NAME=%s\nPOLICY_HASH=%s\n"
                "FAILED=%" PRIu64 "\nEXIT_STATUS=%d\nPID=%ld\n",
                status_to_string(info->status), strempty(info->mode), info->started, info->finished,
                strempty(info->policy_name), strempty(info->policy_hash), info->failed, info->exit_status,
                info->pid);
        int r = write_file_atomic_in_root(root_fd, STATUS_PATH, text, 0644);
        return r < 0 ? r : 0;
}

static void set_field(StatusInfo *info, const char *key, const char *value) {
        if (streq(key, "STATUS"))
                info->status = status_from_string(value);
        else if (streq(key, "MODE"))
                free(info->mode), info->mode = xstrdup(value);
        else if (streq(key, "STARTED"))
                info->started = strtod(value, NULL);
        else if (streq(key, "FINISHED"))
                info->finished = strtod(value, NULL);
        else if (streq(key, "POLICY_NAME"))
                free(info->policy_name), info->policy_name = xstrdup(value);
        else if (streq(key, "POLICY_HASH"))
                free(info->policy_hash), info->policy_hash = xstrdup(value);
        else if (streq(key, "FAILED"))
                info->failed = strtoull(value, NULL, 10);
        else if (streq(key, "EXIT_STATUS"))
                info->exit_status = (int) strtol(value, NULL, 10);
        else if (streq(key, "PID"))
                info->pid = strtol(value, NULL, 10);
}

int status_read(int root_fd, StatusInfo *ret) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        *ret = (StatusInfo) { .status = _STATUS_INVALID, .exit_status = -1 };
        r = read_owned_file_in_root(root_fd, STATUS_PATH, 64 * 1024, &text);
        if (r < 0)
                return r;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(l, '=');
                if (l[0] == '#' || !eq)
                        continue;
                *eq = 0;
                set_field(ret, l, eq + 1);
        }
        return ret->status == _STATUS_INVALID ? -EBADMSG : 0;
}

void status_info_done(StatusInfo *info) {
        free(info->mode);
        free(info->policy_name);
        free(info->policy_hash);
        *info = (StatusInfo) {};
}

static char *format_time(double t) {
        char buf[64];
        time_t s = (time_t) t;
        struct tm tm;

        if (t <= 0 || !gmtime_r(&s, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                return xstrdup("-");
        return xstrdup(buf);
}

static void print_json(const StatusInfo *info) {
        JsonWriter j = { .f = stdout, .pretty = true };

        json_begin_object(&j, NULL);
        json_string(&j, "status", status_to_string(info->status));
        json_int(&j, "exit_code", status_exit_code(info->status));
        if (info->mode)
                json_string(&j, "mode", info->mode);
        if (info->started > 0)
                json_double(&j, "started", info->started);
        if (info->finished > 0)
                json_double(&j, "finished", info->finished);
        if (info->policy_name)
                json_string(&j, "policy_name", info->policy_name);
        if (info->policy_hash)
                json_string(&j, "policy_hash", info->policy_hash);
        json_uint(&j, "failed", info->failed);
        if (info->exit_status >= 0)
                json_int(&j, "exit_status", info->exit_status);
        if (info->status == STATUS_RUNNING && info->pid > 0)
                json_int(&j, "pid", info->pid);
        json_bool(&j, "interrupted", info->interrupted);
        json_end_object(&j);
}

void status_print(const StatusInfo *info, bool json) {
        if (json) {
                print_json(info);
                return;
        }
        printf("%s\n", status_to_string(info->status));
        if (info->status == STATUS_PENDING)
                return;
        _cleanup_free_ char *started = format_time(info->started), *finished = format_time(info->finished);
        printf("  mode:     %s\n  started:  %s\n  finished: %s\n  policy:   \"%s\" (%s)\n  failed:   %" PRIu64 "\n",
               strempty(info->mode), started, info->status == STATUS_RUNNING ? "-" : finished,
               strempty(info->policy_name), strempty(info->policy_hash), info->failed);
        if (info->interrupted)
                printf("  the run was cut off (killed, or the machine lost power) before it ended\n");
}
