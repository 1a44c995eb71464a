/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "bus.h"
#include "conffile.h"
#include "executor.h"
#include "fs-util.h"
#include "glob.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "protect.h"
#include "strv.h"
#include "unit-path.h"

#define MASK_DIR "/etc/systemd/system"
/* The units dpuos-trim itself masked: a mask the policy no longer asks for (and, for
 * --revert, every one) is taken back from this list, and an administrator's own masks are
 * never touched. */
#define MASKED_RECORD "/var/lib/dpuos-trim/saved/masked-units"
#define STOP_TIMEOUT_USEC (90ULL * 1000000ULL)
#define RELOAD_TIMEOUT_USEC (180ULL * 1000000ULL)

/* The installed unit files. A directory of the search path that exists but cannot be read
 * would leave globs short of units: that is an error (its path in *ret_dir). */
static int list_unit_files(Context *ctx, char ***ret, const char **ret_dir) {
        for (const char * const *dir = unit_search_path; *dir; dir++) {
                _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, *dir);
                struct dirent *de;

                if (!d && errno != ENOENT) {
                        *ret_dir = *dir;
                        return negative_errno();
                }
                while (d && (de = readdir(d)))
                        if (de->d_type != DT_DIR && unit_name_is_valid(de->d_name, false) &&
                            !strv_contains(*ret, de->d_name))
                                strv_extend(ret, de->d_name);
        }
        strv_sort(*ret);
        return 0;
}

static bool unit_kept(const Policy *p, const char *unit) {
        STRV_FOREACH(k, p->unit_keep)
                if (glob_match_name(*k, unit))
                        return true;
        return false;
}

/* A template's mask masks every instance of it: the Keep= pattern naming an instance of
 * this template (getty@tty1.service for getty@.service), which that mask would defeat. */
static const char *keep_of_instance(const Policy *p, const char *unit) {
        const char *at = strchr(unit, '@');

        if (!at || at[1] != '.')
                return NULL;  /* not a template */
        STRV_FOREACH(k, p->unit_keep) {
                _cleanup_free_ char *t = unit_name_template(*k);
                if (t && streq(t, unit))
                        return *k;
        }
        return NULL;
}

/* Does a link in dir with this target point at want? Relative targets are resolved
 * lexically, as systemd does for masks ("../../../dev/null" masks too). */
static bool link_points_to(const char *dir, const char *target, const char *want) {
        _cleanup_free_ char *joined = target[0] == '/' ? xstrdup(target) : path_join(dir, target);
        _cleanup_free_ char *norm = path_normalize(joined);
        return streq(norm, want);
}

typedef enum MaskState {
        MASK_ABSENT,       /* nothing at /etc/systemd/system/UNIT */
        MASK_MASKED,       /* a link to /dev/null */
        MASK_LINK,         /* a link elsewhere: an alias or a linked unit */
        MASK_FILE,         /* a unit file of its own */
} MaskState;

/* A MaskState, or -errno when what is at the path cannot be read. */
static int mask_state(Context *ctx, const char *unit, char **ret_target) {
        _cleanup_free_ char *path = path_join(MASK_DIR, unit), *target = NULL;
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        struct stat st;
        int r;

        dir_fd = open_parent_in_root(ctx->root_fd, path, false, &name);
        if (dir_fd == -ENOENT)
                return MASK_ABSENT;
        if (dir_fd < 0)
                return dir_fd;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? MASK_ABSENT : negative_errno();
        if (!S_ISLNK(st.st_mode))
                return MASK_FILE;
        r = readlink_in_root(ctx->root_fd, path, &target);
        if (r < 0)
                return r;
        if (link_points_to(MASK_DIR, target, "/dev/null"))
                return MASK_MASKED;
        if (ret_target)
                *ret_target = TAKE_PTR(target);
        return MASK_LINK;
}

/* Installed: a unit file, or an instance of an installed template (systemctl masks
 * getty@tty1.service when getty@.service is installed). */
static bool unit_installed(char **installed, const char *unit) {
        _cleanup_free_ char *template = unit_name_template(unit);
        return strv_contains(installed, unit) || (template && strv_contains(installed, template));
}

/* What is at /etc/systemd/system/UNIT decides whether a mask can be written there. */
static Action *probe_mask(Context *ctx, Plan *plan, char **installed, const char *unit) {
        _cleanup_free_ char *path = path_join(MASK_DIR, unit), *target = NULL;
        const char *why = protected_unit(ctx, unit);
        Action *a;
        int state;

        if (why) {
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_PROTECTED);
                action_set_reason(a, "protected: %s", why);
                return a;
        }
        state = mask_state(ctx, unit, &target);
        if (state < 0) {
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot read %s: %s", path, strerror(-state));
                return a;
        }
        switch (state) {
        case MASK_MASKED:
                return plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_UNCHANGED);
        case MASK_LINK:
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s is a symlink to %s (an alias or linked unit); "
                                  "systemd refuses to mask over it", path, target);
                return a;
        case MASK_FILE:
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s is a unit file of its own, not a link; masking would "
                                  "need to delete it", path);
                return a;
        case MASK_ABSENT:
                break;
        }

        if (!unit_installed(installed, unit)) {
                a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                action_set_reason(a, "not installed");
                return a;
        }
        return plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_CHANGE);
}

/* The unit an alias link in /etc/systemd/system names (what "systemctl enable" makes of
 * Alias=, e.g. sshd.service -> ssh.service), or NULL. A link to a unit file of the same
 * name is a linked unit, not an alias. */
static char *alias_target(Context *ctx, const char *unit) {
        _cleanup_free_ char *target = NULL;
        const char *real, *dot, *rdot;

        if (mask_state(ctx, unit, &target) != MASK_LINK)
                return NULL;
        real = path_basename(target);
        dot = strrchr(unit, '.');
        rdot = strrchr(real, '.');
        if (streq(real, unit) || !unit_name_is_valid(real, false) || !rdot || !streq(dot, rdot))
                return NULL;
        return xstrdup(real);
}

/* The sockets, timers and paths that would start a masked service again. Offline there is
 * no manager to ask for TriggeredBy=, so the default naming (foo.socket -> foo.service) is
 * what is followed. */
static void probe_triggers(Context *ctx, Plan *plan, char **installed, const char *unit) {
        static const char * const trigger_suffixes[] = { ".socket", ".timer", ".path" };
        const char *dot = strrchr(unit, '.');

        if (!dot || !streq(dot, ".service"))
                return;
        for (size_t i = 0; i < ELEMENTSOF(trigger_suffixes); i++) {
                _cleanup_free_ char *t = xasprintf("%.*s%s", (int) (dot - unit), unit, trigger_suffixes[i]);
                if (!strv_contains(installed, t) || plan_find(plan, KIND_UNITS, VERB_MASK, t) || unit_kept(ctx->policy, t))
                        continue;
                Action *a = probe_mask(ctx, plan, installed, t);
                if (!a->reason)
                        action_set_reason(a, "triggers %s", unit);
        }
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* One property of many units, asked all at once: the manager answers each call in turn,
 * and waiting for every reply before the next call would cost a round trip per unit.
 * Reading a property of a unit's object loads the unit, as LoadUnit does. */
typedef struct UnitProperty {
        const char *unit;
        bool strv;           /* "as", else "s" */
        char *value;
        char **values;
        bool done;
        int error;           /* < 0: no answer; the property is unknown */
        char *message;       /* the error's text */
} UnitProperty;

static void property_failed(UnitProperty *p, int r, const sd_bus_error *e) {
        p->done = true;
        p->error = r < 0 ? r : -EIO;
        free(p->message);
        p->message = xstrdup(bus_error_message(e, p->error));
}

static int on_property(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitProperty *p = userdata;
        const char *s;
        int r;

        p->done = true;
        if (sd_bus_message_is_method_error(m, NULL)) {
                property_failed(p, -sd_bus_message_get_errno(m), sd_bus_message_get_error(m));
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'v', p->strv ? "as" : "s");
        if (r >= 0 && p->strv)
                r = sd_bus_message_read_strv(m, &p->values);
        else if (r >= 0) {
                r = sd_bus_message_read(m, "s", &s);
                if (r >= 0)
                        p->value = xstrdup(s);
        }
        if (r < 0)
                property_failed(p, r, NULL);
        return 0;
}

/* A template ("foo@.service") is no unit the manager can load: it has no properties, and
 * neither runs nor is triggered itself (its instances are units of their own). */
static bool unit_is_template(const char *unit) {
        const char *at = strchr(unit, '@');
        return at && at[1] == '.';
}

static void get_unit_properties(Context *ctx, UnitProperty *props, size_t n, const char *property) {
        sd_bus_slot **slots = xcalloc(n ?: 1, sizeof(sd_bus_slot *));
        uint64_t deadline = now_usec() + RELOAD_TIMEOUT_USEC;
        size_t pending = 0;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                if (unit_is_template(props[i].unit)) {
                        props[i].done = true;
                        if (!props[i].strv)
                                props[i].value = xstrdup("inactive");
                        continue;
                }
                if (sd_bus_path_encode(SYSTEMD_PATH "/unit", props[i].unit, &path) < 0 ||
                    sd_bus_call_method_async(ctx->bus, &slots[i], SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties",
                                             "Get", on_property, &props[i], "ss", SYSTEMD_UNIT, property) < 0)
                        property_failed(&props[i], negative_errno(), NULL);
                else
                        pending++;
        }
        int r = 0;
        while (pending > 0 && now_usec() < deadline) {
                r = sd_bus_process(ctx->bus, NULL);
                if (r < 0)
                        break;
                if (r == 0)
                        r = sd_bus_wait(ctx->bus, deadline - now_usec());
                if (r < 0)
                        break;
                pending = 0;
                for (size_t i = 0; i < n; i++)
                        pending += !props[i].done;
        }
        for (size_t i = 0; i < n; i++) {
                if (!props[i].done)
                        property_failed(&props[i], r < 0 ? r : -ETIMEDOUT, NULL);
                sd_bus_slot_unref(slots[i]);
        }
        free(slots);
}

static void unit_properties_done(UnitProperty *props, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(props[i].value);
                strv_free(props[i].values);
                free(props[i].message);
        }
        free(props);
}

/* The manager knows what triggers a unit (TriggeredBy=), including sockets and timers with
 * other names than the service's. */
static void probe_live_triggers(Context *ctx, Plan *plan, char **installed, char **units) {
        size_t n = strv_length(units);
        UnitProperty *props = xcalloc(n ?: 1, sizeof(UnitProperty));

        for (size_t i = 0; i < n; i++)
                props[i] = (UnitProperty) { .unit = units[i], .strv = true };
        get_unit_properties(ctx, props, n, "TriggeredBy");

        for (size_t i = 0; i < n; i++) {
                /* Unknown triggers could start the unit again: no mask that cannot hold. */
                if (props[i].error < 0) {
                        Action *m = plan_find(plan, KIND_UNITS, VERB_MASK, units[i]);
                        m->state = STATE_IMPOSSIBLE;
                        action_set_reason(m, "cannot ask the system manager what triggers it: %s", props[i].message);
                }
                STRV_FOREACH(t, props[i].values) {
                        if (plan_find(plan, KIND_UNITS, VERB_MASK, *t) || unit_kept(ctx->policy, *t) ||
                            !strv_contains(installed, *t))
                                continue;
                        Action *a = probe_mask(ctx, plan, installed, *t);
                        if (!a->reason)
                                action_set_reason(a, "triggers %s", units[i]);
                }
        }
        unit_properties_done(props, n);
}

/* A mask on disk that the running manager has not loaded (no reload since it was written)
 * is not in effect: the unit can still be started. */
static void probe_loaded_masks(Context *ctx, Plan *plan) {
        UnitProperty *props = xcalloc(plan->n_actions ?: 1, sizeof(UnitProperty));
        Action **masks = xcalloc(plan->n_actions ?: 1, sizeof(Action *));
        size_t n = 0;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *m = plan->actions[i];
                if (m->kind == KIND_UNITS && m->verb == VERB_MASK && m->state == STATE_UNCHANGED &&
                    !unit_is_template(m->target)) {
                        masks[n] = m;
                        props[n++] = (UnitProperty) { .unit = m->target };
                }
        }
        get_unit_properties(ctx, props, n, "LoadState");
        for (size_t i = 0; i < n; i++) {
                if (props[i].error < 0) {
                        masks[i]->state = STATE_IMPOSSIBLE;
                        action_set_reason(masks[i], "cannot read its LoadState: %s", props[i].message);
                } else if (!streq(props[i].value, "masked")) {
                        masks[i]->state = STATE_CHANGE;
                        action_set_reason(masks[i], "masked on disk, but the system manager has it %s "
                                          "(no reload since)", props[i].value);
                }
        }
        unit_properties_done(props, n);
        free(masks);
}

static bool state_running(const char *state) {
        return state && (streq(state, "active") || streq(state, "activating") ||
                         streq(state, "reloading") || streq(state, "deactivating"));
}

/* The ActiveState of the units of the mask actions that are or will be in place. */
static UnitProperty *mask_states(Context *ctx, Plan *plan, bool applied, size_t *ret_n) {
        UnitProperty *props = xcalloc(plan->n_actions ?: 1, sizeof(UnitProperty));
        size_t n = 0;

        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *m = plan->actions[i];
                if (m->kind != KIND_UNITS || m->verb != VERB_MASK)
                        continue;
                if (applied ? (m->outcome != OUTCOME_DONE && m->outcome != OUTCOME_UNCHANGED)
                            : (m->state != STATE_CHANGE && m->state != STATE_UNCHANGED))
                        continue;
                props[n++] = (UnitProperty) { .unit = m->target };
        }
        get_unit_properties(ctx, props, n, "ActiveState");
        *ret_n = n;
        return props;
}

static void probe_stops(Context *ctx, Plan *plan) {
        size_t n;
        UnitProperty *props = mask_states(ctx, plan, false, &n);

        for (size_t i = 0; i < n; i++) {
                Action *a = plan_add(plan, KIND_UNITS, VERB_STOP, props[i].unit,
                                     state_running(props[i].value) ? STATE_CHANGE : STATE_UNCHANGED);
                a->old_value = xstrdup(props[i].value ?: "unknown");
                /* Not knowing whether it runs is not knowing that it is stopped. */
                if (props[i].error < 0) {
                        a->state = STATE_IMPOSSIBLE;
                        action_set_reason(a, "cannot read its ActiveState: %s", props[i].message);
                }
        }
        unit_properties_done(props, n);
}

static void probe_one(Context *ctx, Plan *plan, char **installed, const char *unit, char ***probed, unsigned depth) {
        _cleanup_free_ char *real = NULL;

        if (plan_find(plan, KIND_UNITS, VERB_MASK, unit))
                return;
        if (unit_kept(ctx->policy, unit)) {
                Action *a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                action_set_reason(a, "kept by the policy (Keep=)");
                return;
        }
        const char *keep = keep_of_instance(ctx->policy, unit);
        if (keep) {
                /* Keep= wins: the template stays, so that the instance can run. */
                Action *a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                action_set_reason(a, "its mask would mask %s too, which Keep= keeps; mask the other instances instead", keep);
                return;
        }
        /* systemctl takes an alias for its unit: the unit is masked, and the alias with it. */
        real = depth < 8 ? alias_target(ctx, unit) : NULL;
        if (real) {
                probe_one(ctx, plan, installed, real, probed, depth + 1);
                const Action *r = plan_find(plan, KIND_UNITS, VERB_MASK, real);
                Action *a = plan_add(plan, KIND_UNITS, VERB_MASK, unit, STATE_SKIP);
                if (r && (r->state == STATE_CHANGE || r->state == STATE_UNCHANGED))
                        action_set_reason(a, "an alias of %s, masked with it", real);
                else
                        action_set_reason(a, "an alias of %s, which is not masked (%s)", real,
                                          r && r->reason ? r->reason : state_to_string(r ? r->state : STATE_SKIP));
                return;
        }
        probe_mask(ctx, plan, installed, unit);
        probe_triggers(ctx, plan, installed, unit);
        strv_extend(probed, unit);
}

/* A unit this policy masks or keeps masked. */
static bool mask_wanted(const Plan *plan, const char *unit) {
        const Action *m = plan_find(plan, KIND_UNITS, VERB_MASK, unit);
        return m && (m->state == STATE_CHANGE || m->state == STATE_UNCHANGED);
}

/* Masks dpuos-trim wrote that the policy no longer asks for (all of them for --revert,
 * which runs with an empty policy) are taken back. */
/* Without the record, no mask can be written (it is recorded first) or taken back. */
static int probe_stale_masks(Context *ctx, Plan *plan, size_t from) {
        _cleanup_strv_free_ char **recorded = NULL;
        _cleanup_free_ unsigned *numbers = NULL;
        size_t i = 0;
        int r;

        r = conffile_read_numbered(ctx, MASKED_RECORD, &recorded, &numbers);
        if (r < 0) {
                conffile_probe_failed(plan, from, KIND_UNITS, MASKED_RECORD, r);
                return 0;
        }

        STRV_FOREACH(u, recorded) {
                unsigned line = numbers[i++];
                /* The record is input too: what is not a unit name ("../x") is no unit. */
                if (!unit_name_is_valid(*u, false)) {
                        _cleanup_free_ char *where = xasprintf("%s:%u", MASKED_RECORD, line);
                        action_set_reason(plan_add(plan, KIND_UNITS, VERB_DROP, where, STATE_IMPOSSIBLE),
                                          "not a unit name; left alone");
                        continue;
                }
                if (mask_wanted(plan, *u) || plan_find(plan, KIND_UNITS, VERB_DROP, *u))
                        continue;
                int state = mask_state(ctx, *u, NULL);
                if (state >= 0 && state != MASK_MASKED)
                        continue;
                Action *a = plan_add(plan, KIND_UNITS, VERB_DROP, *u, state < 0 ? STATE_IMPOSSIBLE : STATE_CHANGE);
                if (state < 0)
                        action_set_reason(a, "cannot read its mask %s/%s: %s", MASK_DIR, *u, strerror(-state));
                else
                        action_set_reason(a, "masked by dpuos-trim, no longer in the policy: unmask");
        }
        return 0;
}

/* The manager, for what only it knows (triggers, running units). A dry run, unprivileged
 * and perhaps before the system bus is up, plans from the unit files alone, as offline;
 * --verify and an application need it. */
static int connect_manager(Context *ctx, Plan *plan) {
        int r;

        if (ctx->offline || ctx->bus)
                return 0;
        r = bus_connect_systemd(&ctx->bus);
        if (r >= 0)
                return 0;
        if (ctx->dry_run && !ctx->verify) {
                log_warning_errno(r, "Cannot reach the system manager, planning units from unit files: %m");
                return 0;
        }
        action_set_reason(plan_add(plan, KIND_UNITS, VERB_MASK, "*", STATE_IMPOSSIBLE),
                          "cannot connect to the system manager: %s", strerror(-r));
        return r;
}

static void probe_patterns(Context *ctx, Plan *plan, char **installed, char ***probed) {
        STRV_FOREACH(pattern, ctx->policy->unit_mask) {
                if (!string_is_glob(*pattern)) {
                        probe_one(ctx, plan, installed, *pattern, probed, 0);
                        continue;
                }
                STRV_FOREACH(u, installed)
                        if (glob_match_name(*pattern, *u) && !unit_kept(ctx->policy, *u))
                                probe_one(ctx, plan, installed, *u, probed, 0);
        }
}

static int units_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **installed = NULL, **probed = NULL;
        size_t from = plan->n_actions;
        const char *dir = NULL;
        int r;

        if (!ctx->policy->unit_mask)
                return probe_stale_masks(ctx, plan, from);

        r = list_unit_files(ctx, &installed, &dir);
        if (r < 0) {
                _cleanup_free_ char *reason = xasprintf("cannot read the unit directory %s: %s", dir, strerror(-r));
                plan_fail_since(plan, from, KIND_UNITS, VERB_MASK, "*", reason);
                return 0;
        }
        if (connect_manager(ctx, plan) < 0)
                return 0;

        probe_patterns(ctx, plan, installed, &probed);
        if (ctx->bus) {
                probe_live_triggers(ctx, plan, installed, probed);
                probe_loaded_masks(ctx, plan);
        }
        if (ctx->bus && ctx->policy->unit_stop)
                probe_stops(ctx, plan);
        return probe_stale_masks(ctx, plan, from);
}

/* The mask and unmask steps return -errno and, on failure, in *why what went wrong. */
static int mask_offline(Context *ctx, Action *a, char **why) {
        _cleanup_free_ char *path = path_join(MASK_DIR, a->target);
        int r;

        r = symlink_in_root(ctx->root_fd, "/dev/null", path);
        if (r == -EEXIST)
                *why = xasprintf("%s appeared after the plan was made; left alone", path);
        return r;
}

/* One unit per call: a call with several names that fails on one has written the others'
 * masks without reporting them. */
static int mask_live(Context *ctx, Action *a, char **why) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *type, *path, *source;
        bool linked = false;
        int r;

        r = sd_bus_message_new_method_call(ctx->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "MaskUnitFiles");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, (char *[]) { a->target, NULL });
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "bb", false, false);
        if (r < 0)
                return r;
        r = sd_bus_call(ctx->bus, m, 0, &error, &reply);
        if (r < 0) {
                *why = xasprintf("MaskUnitFiles: %s", bus_error_message(&error, r));
                return r;
        }

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sss)", &type, &path, &source)) > 0) {
                log_debug("%s: %s %s -> %s", a->target, type, path, source);
                if (streq(type, "symlink") && streq(source, "/dev/null"))
                        linked = true;
        }
        if (r < 0)
                return r;

        /* No change entry: the manager found the mask already in place. */
        if (!linked)
                action_set_reason(a, "already masked when applied");
        return 0;
}

static int unmask_offline(Context *ctx, Action *a, char **why) {
        _cleanup_free_ char *path = path_join(MASK_DIR, a->target);

        int state = mask_state(ctx, a->target, NULL);

        if (state < 0)
                return state;
        if (state != MASK_MASKED) {
                action_set_reason(a, "no longer masked when applied");
                return 0;
        }
        return unlink_in_root(ctx->root_fd, path);
}

static int unmask_live(Context *ctx, Action *a, char **why) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(ctx->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "UnmaskUnitFiles");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, (char *[]) { a->target, NULL });
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "b", false);
        if (r < 0)
                return r;
        r = sd_bus_call(ctx->bus, m, 0, &error, NULL);
        if (r < 0)
                *why = xasprintf("UnmaskUnitFiles: %s", bus_error_message(&error, r));
        return r;
}

/* The record is written before the masks it lists, so that a run cut short in between
 * still knows what it may have masked. */
static int record_write(Context *ctx, char **units) {
        return lines_write(ctx, MASKED_RECORD, "# Units masked by dpuos-trim, for --revert. Do not edit.\n", units);
}

static int daemon_reload(Context *ctx, char **ret_why) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(ctx->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "Reload");
        if (r >= 0)
                r = sd_bus_call(ctx->bus, m, RELOAD_TIMEOUT_USEC, &error, NULL);
        if (r < 0) {
                *ret_why = xstrdup(bus_error_message(&error, r));
                return log_error_errno(r, "Failed to reload the system manager: %s", *ret_why);
        }
        return 0;
}

typedef struct StopJob {
        Action *action;
        char *job;
        char *result;   /* from JobRemoved, NULL while running */
} StopJob;

typedef struct StopJobs {
        StopJob *jobs;
        size_t n;
} StopJobs;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        StopJobs *sj = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        for (size_t i = 0; i < sj->n; i++)
                if (streq(sj->jobs[i].job, job) && !sj->jobs[i].result)
                        sj->jobs[i].result = xstrdup(result);
        return 0;
}

static bool jobs_pending(const StopJobs *sj) {
        for (size_t i = 0; i < sj->n; i++)
                if (!sj->jobs[i].result)
                        return true;
        return false;
}

/* Every stop action still pending fails with the same reason. */
static int fail_stops(Context *ctx, Plan *plan, int r, const char *why) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (a->kind == KIND_UNITS && a->verb == VERB_STOP && a->state == STATE_CHANGE &&
                    a->outcome == OUTCOME_PENDING)
                        action_fail(ctx, plan, a, r, "%s: %s", why, strerror(-r));
        }
        return r;
}

static int queue_stops(Context *ctx, Plan *plan, StopJobs *sj) {
        int ret = 0, r;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                Action *a = plan->actions[i];
                const char *job;

                if (a->kind != KIND_UNITS || a->verb != VERB_STOP || !action_begin(ctx, plan, a))
                        continue;
                r = sd_bus_call_method(ctx->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "StopUnit",
                                       &error, &reply, "ss", a->target, "replace");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &job);
                if (r < 0) {
                        action_fail(ctx, plan, a, r, "StopUnit: %s", bus_error_message(&error, r));
                        RET_GATHER(ret, r);
                        continue;
                }
                sj->jobs = xrealloc(sj->jobs, (sj->n + 1) * sizeof(StopJob));
                sj->jobs[sj->n++] = (StopJob) { .action = a, .job = xstrdup(job) };
        }
        return ret;
}

/* Queue every stop job first, then wait for all their JobRemoved signals, subscribed before
 * the first call so that no signal is missed. */
static int stop_units(Context *ctx, Plan *plan) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        StopJobs sj = {};
        uint64_t deadline;
        int ret, r;

        /* In a dry run action_begin() settles what needs no change and holds the rest. */
        if (ctx->dry_run)
                return queue_stops(ctx, plan, &sj);
        if (!plan_find_verb(plan, KIND_UNITS, VERB_STOP))
                return 0;
        r = sd_bus_match_signal(ctx->bus, &slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                on_job_removed, &sj);
        if (r >= 0)
                r = sd_bus_call_method(ctx->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", NULL, NULL, NULL);
        if (r < 0)
                return fail_stops(ctx, plan, r, "cannot subscribe to the system manager's jobs");

        ret = queue_stops(ctx, plan, &sj);

        r = 0;
        deadline = now_usec() + STOP_TIMEOUT_USEC;
        while (r >= 0 && jobs_pending(&sj) && now_usec() < deadline) {
                r = sd_bus_process(ctx->bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(ctx->bus, deadline - now_usec());
        }

        for (size_t i = 0; i < sj.n; i++) {
                StopJob *j = &sj.jobs[i];
                if (j->result && streq(j->result, "done"))
                        plan_settle(ctx, plan, j->action, OUTCOME_DONE, 0);
                else {
                        action_fail(ctx, plan, j->action, r < 0 ? r : -ETIMEDOUT, "stop job %s",
                                    j->result ?: r < 0 ? "lost: the connection to the system manager failed" : "timed out");
                        RET_GATHER(ret, -EIO);
                }
                free(j->job);
                free(j->result);
        }
        free(sj.jobs);
        return ret;
}

/* A timer whose service was just masked may fire on the reload, fail to start it and stay
 * "failed"; a masked unit in that state is noise in systemctl --failed. Only noise: the
 * unit is masked and not running, as the policy says, so a failure here is a warning. */
static void reset_failed_masked(Context *ctx, Plan *plan) {
        size_t n;
        UnitProperty *props = mask_states(ctx, plan, true, &n);

        for (size_t i = 0; i < n; i++) {
                if (!props[i].value || !streq(props[i].value, "failed"))
                        continue;
                int r = sd_bus_call_method(ctx->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "ResetFailedUnit",
                                           NULL, NULL, "s", props[i].unit);
                if (r < 0)
                        log_warning_errno(r, "Failed to reset the failed state of masked %s, ignoring: %m", props[i].unit);
                else
                        log_debug("Reset the failed state of masked %s.", props[i].unit);
        }
        unit_properties_done(props, n);
}

static bool is_mask_change(const Action *a, Verb verb) {
        return a->kind == KIND_UNITS && a->verb == verb && a->state == STATE_CHANGE;
}

/* Every mask and unmask still pending fails with the same reason. */
static int fail_mask_changes(Context *ctx, Plan *plan, int r, const char *why) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if ((is_mask_change(a, VERB_MASK) || is_mask_change(a, VERB_DROP)) && a->outcome == OUTCOME_PENDING)
                        action_fail(ctx, plan, a, r, "%s: %s", why, owned_file_strerror(r));
        }
        return log_error_errno(r, "%s: %s; masking nothing", why, owned_file_strerror(r));
}

/* The units to mask join the record before any mask is written. */
static int record_masks(Context *ctx, Plan *plan, char ***recorded) {
        bool grew = false;
        int r;

        r = conffile_read(ctx, MASKED_RECORD, recorded);
        if (r < 0)
                return fail_mask_changes(ctx, plan, r, "cannot read " MASKED_RECORD);
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if (is_mask_change(a, VERB_MASK) && !strv_contains(*recorded, a->target)) {
                        strv_extend(recorded, a->target);
                        grew = true;
                }
        }
        r = grew ? record_write(ctx, *recorded) : 0;
        if (r < 0)
                return fail_mask_changes(ctx, plan, r, "cannot record the masks in " MASKED_RECORD);
        return 0;
}

/* What stays recorded: the masks the policy still wants, and those that could not be taken
 * back. The masks themselves are in place either way; a record that cannot be updated is
 * state gone wrong, a run error. */
static int record_trim(Context *ctx, Plan *plan, char **recorded) {
        _cleanup_strv_free_ char **kept = NULL;
        int r;

        STRV_FOREACH(u, recorded) {
                const Action *d = plan_find(plan, KIND_UNITS, VERB_DROP, *u);
                if (mask_wanted(plan, *u) || (d && d->outcome != OUTCOME_DONE))
                        strv_extend(&kept, *u);
        }
        if (strv_length(kept) == strv_length(recorded))
                return 0;
        r = record_write(ctx, kept);
        if (r < 0)
                plan_add_error(plan, "units: cannot update %s: %s", MASKED_RECORD, owned_file_strerror(r));
        return r;
}

/* Masks (verb VERB_MASK) or unmasks (VERB_DROP) every pending action; returns how many
 * changed, or the first error. */
static int change_masks(Context *ctx, Plan *plan, Verb verb, unsigned *changed) {
        int ret = 0, r;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                _cleanup_free_ char *why = NULL;
                Action *a = plan->actions[i];

                if (a->kind != KIND_UNITS || a->verb != verb || !action_begin(ctx, plan, a))
                        continue;
                /* A policy without units (--revert) did not need the manager to plan. */
                r = !ctx->offline && !ctx->bus ? bus_connect_systemd(&ctx->bus) : 0;
                if (r < 0)
                        why = xasprintf("cannot connect to the system manager: %s", strerror(-r));
                else if (verb == VERB_MASK)
                        r = ctx->offline ? mask_offline(ctx, a, &why) : mask_live(ctx, a, &why);
                else
                        r = ctx->offline ? unmask_offline(ctx, a, &why) : unmask_live(ctx, a, &why);
                if (r < 0) {
                        action_fail(ctx, plan, a, r, "%s", why ?: strerror(-r));
                        RET_GATHER(ret, log_error_errno(r, "Failed to %s %s: %s", verb == VERB_MASK ? "mask" : "unmask",
                                                        a->target, a->reason));
                } else {
                        (*changed)++;
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                }
        }
        return ret;
}

/* One reload for the whole run, whatever the number of units. Without it the manager goes
 * on with the units as they were: what was masked or unmasked is not in effect. */
static int reload_or_fail(Context *ctx, Plan *plan) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = daemon_reload(ctx, &why);
        if (r >= 0)
                return 0;
        for (size_t i = 0; i < plan->n_actions; i++) {
                Action *a = plan->actions[i];
                if ((is_mask_change(a, VERB_MASK) || is_mask_change(a, VERB_DROP)) && a->outcome == OUTCOME_DONE)
                        action_fail(ctx, plan, a, r, "written, but the system manager did not reload: %s", why);
        }
        return r;
}

static int units_apply(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **recorded = NULL;
        unsigned changed = 0;
        int ret = 0;

        if (!ctx->dry_run && record_masks(ctx, plan, &recorded) < 0) {
                plan_abandon_kind(ctx, plan, KIND_UNITS, -EIO, "not stopped: its mask could not be recorded");
                return -EIO;
        }

        ret = change_masks(ctx, plan, VERB_MASK, &changed);
        RET_GATHER(ret, change_masks(ctx, plan, VERB_DROP, &changed));
        if (!ctx->dry_run)
                RET_GATHER(ret, record_trim(ctx, plan, recorded));

        if (ctx->offline || !ctx->bus)
                return ret;
        if (changed > 0)
                RET_GATHER(ret, reload_or_fail(ctx, plan));
        /* Stop actions exist only with Stop=yes; in a dry run action_begin() holds them. */
        RET_GATHER(ret, stop_units(ctx, plan));
        if (!ctx->dry_run)
                reset_failed_masked(ctx, plan);
        return ret;
}

const Executor units_executor = {
        .kind = KIND_UNITS,
        .name = "units",
        .probe = units_probe,
        .apply = units_apply,
};
