/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "cmdline.h"
#include "conffile.h"
#include "exec-util.h"
#include "executor.h"
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "proc-cmdline.h"
#include "protect.h"
#include "strv.h"

/* The kernel command line ([Kernel]): the arguments the policy owns, edited token by token
 * where the boot loader takes them from, found at run time:
 *
 *  - GRUB with Boot Loader Specification entries (openEuler, Fedora): the options line of
 *    each /boot/loader/entries/NAME.conf and /etc/kernel/cmdline (what kernel-install gives new
 *    kernels), edited in place; what was added and removed is recorded so that a policy
 *    change or --revert takes back exactly that;
 *  - Debian's GRUB: a drop-in /etc/default/grub.d/zz-dpuos-trim.cfg, read after the others,
 *    that sets GRUB_CMDLINE_LINUX (and GRUB_CMDLINE_LINUX_DEFAULT where the policy's
 *    removals reach it) to what the others say with the policy applied, then update-grub;
 *  - classic GRUB (/etc/default/grub, no drop-in directory): the same assignments in a
 *    marked block at the end of /etc/default/grub, then grub2-mkconfig -o with the path of
 *    the grub.cfg that exists (never a /etc/grub2*.cfg link, which DPU-OS deletes).
 *
 * The drop-in and the block are computed from what the vendor's files say without them,
 * so nothing of the vendor's is ever rewritten, and dropping them is the revert. */

#define DROPIN_PATH "/etc/default/grub.d/zz-dpuos-trim.cfg"
#define DEFAULTS_PATH "/etc/default/grub"
#define DEFAULTS_DIR "/etc/default/grub.d"
#define ENTRIES_DIR "/boot/loader/entries"
#define KERNEL_CMDLINE "/etc/kernel/cmdline"
#define RECORD_PATH "/var/lib/dpuos-trim/saved/kernel-arguments"
#define BLOCK_BEGIN "# BEGIN dpuos-trim: kernel arguments of the policy; dpuos-trim --revert removes this block"
#define BLOCK_END "# END dpuos-trim"
#define TEXT_MAX (1024 * 1024)

static const char * const grub_vars[] = { "GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT" };

typedef enum Backend { BACKEND_NONE, BACKEND_BLS, BACKEND_DROPIN, BACKEND_CLASSIC } Backend;

/* A file the apply writes: its new content (NULL: remove it), and for a command line
 * edited in place the lines of the record that stand for its edit. */
typedef struct Edit {
        char *content;
        mode_t mode;
        char **record;
} Edit;

static void edit_free(void *p) {
        Edit *e = p;
        if (!e)
                return;
        free(e->content);
        strv_free(e->record);
        free(e);
}

/* fstatat(), not faccessat(): a dry run reads as the user nobody, with CAP_DAC_READ_SEARCH,
 * which access checks ignore. */
static bool exists(Context *ctx, const char *path) {
        struct stat st;
        return fstatat(ctx->root_fd, path + 1, &st, AT_SYMLINK_NOFOLLOW) >= 0;
}

static Backend find_backend(Context *ctx) {
        struct stat st;

        if (fstatat(ctx->root_fd, ENTRIES_DIR + 1, &st, 0) >= 0 && S_ISDIR(st.st_mode)) {
                _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, ENTRIES_DIR);
                struct dirent *de;
                while (d && (de = readdir(d)))
                        if (endswith(de->d_name, ".conf"))
                                return BACKEND_BLS;
        }
        /* Debian's grub-mkconfig reads /etc/default/grub.d/ *.cfg; upstream's does not. */
        if (fstatat(ctx->root_fd, DEFAULTS_DIR + 1, &st, 0) >= 0 && S_ISDIR(st.st_mode) &&
            (exists(ctx, "/usr/sbin/update-grub") || exists(ctx, "/sbin/update-grub")))
                return BACKEND_DROPIN;
        if (exists(ctx, DEFAULTS_PATH))
                return BACKEND_CLASSIC;
        return BACKEND_NONE;
}

/* The policy's removals for a variable that gets no additions (GRUB_CMDLINE_LINUX_DEFAULT):
 * RemoveArguments=, and every word of a key that Arguments= sets, which would otherwise
 * come after the policy's and win. */
static char **default_removals(const Policy *p) {
        char **r = cmdline_replaced_keys(p->kernel_args);

        STRV_FOREACH(w, p->kernel_remove)
                strv_extend(&r, *w);
        return r;
}

/* Plans writing path with content (NULL: removing it), shown as old -> new words. */
static Action *plan_file(Context *ctx, Plan *plan, const char *path, const char *old_text, char *content, mode_t mode,
                         char * const *old_words, char * const *new_words, char * const *all_words) {
        bool same = content ? old_text && streq(old_text, content) : !old_text;
        Action *a = plan_add(plan, KIND_KERNEL, content ? VERB_SET : VERB_DROP, path, same ? STATE_UNCHANGED : STATE_CHANGE);
        const char *why;

        a->old_value = cmdline_join(old_words);
        a->value = cmdline_join(new_words);
        if (content && all_words && (why = protected_reservations(ctx, all_words))) {
                a->state = STATE_IMPOSSIBLE;
                action_set_reason(a, "%s", why);
        } else if (!content)
                action_set_reason(a, "no longer in the policy");
        Edit *e = xcalloc(1, sizeof(Edit));
        *e = (Edit) { .content = content, .mode = mode };
        a->data = e;
        a->free_data = edit_free;
        return a;
}

/* The value of each GRUB variable after text, evaluated from *values; -EINVAL with a reason. */
static int eval_vars(const char *path, const char *text, char *values[2], char **ret_why) {
        for (size_t i = 0; i < ELEMENTSOF(grub_vars); i++) {
                unsigned line = 0;
                if (grub_defaults_eval(text, grub_vars[i], &values[i], &line) < 0) {
                        *ret_why = xasprintf("%s:%u: cannot read how it sets %s without running it; "
                                             "edit the arguments there by hand", path, line, grub_vars[i]);
                        return -EINVAL;
                }
        }
        return 0;
}

/* text without the block that an earlier run appended. */
static char *strip_block(const char *text, bool *had) {
        const char *b = strstr(text, BLOCK_BEGIN), *e;

        *had = b && (b == text || b[-1] == '\n');
        if (!*had)
                return xstrdup(text);
        e = strstr(b, BLOCK_END);
        e = e ? e + strlen(BLOCK_END) : b + strlen(b);
        if (*e == '\n')
                e++;
        return xasprintf("%.*s%s", (int) (b - text), text, e);
}

/* The drop-in's (or the block's) assignments: the policy applied to what the rest says. */
static char *assignments(const Policy *p, char *values[2], char ***ret_words, char ***ret_old) {
        _cleanup_strv_free_ char **removals = default_removals(p);
        _cleanup_free_ char *text = NULL;
        char **all = NULL, **old = NULL;

        text = xasprintf("# dpuos-trim: the kernel arguments of policy \"%s\"\n", p->name ?: "unnamed");
        for (size_t i = 0; i < ELEMENTSOF(grub_vars); i++) {
                _cleanup_strv_free_ char **words = cmdline_split(strempty(values[i])), **next = NULL;
                next = i == 0 ? cmdline_apply(words, p->kernel_args, p->kernel_remove, NULL)
                              : cmdline_apply(words, NULL, removals, NULL);
                STRV_FOREACH(w, words)
                        strv_extend(&old, *w);
                STRV_FOREACH(w, next)
                        strv_extend(&all, *w);
                _cleanup_free_ char *joined = cmdline_join(next), *line = NULL;
                /* The default entries' variable only where the policy changes it. */
                if (i == 1 && strv_length(words) == strv_length(next))
                        continue;
                line = grub_defaults_assignment(grub_vars[i], joined);
                char *t = xasprintf("%s%s\n", text, line);
                free(text);
                text = t;
        }
        *ret_words = all;
        *ret_old = old;
        return TAKE_PTR(text);
}

static bool policy_empty(const Policy *p) {
        return !p->kernel_args && !p->kernel_remove;
}

/* Debian: /etc/default/grub, then every grub.d/ *.cfg in order but ours, as update-grub
 * sources them. */
static int probe_dropin(Context *ctx, Plan *plan) {
        _cleanup_free_ char *text = NULL, *old = NULL, *why = NULL, *content = NULL;
        _cleanup_strv_free_ char **names = NULL, **all = NULL, **before = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        char *values[2] = {};
        struct dirent *de;
        int r;

        r = read_file_in_root(ctx->root_fd, DEFAULTS_PATH, TEXT_MAX, &text);
        if (r < 0 && r != -ENOENT)
                why = xasprintf("cannot read %s: %s", DEFAULTS_PATH, strerror(-r));
        else if (r >= 0)
                (void) eval_vars(DEFAULTS_PATH, text, values, &why);
        d = opendir_in_root(ctx->root_fd, DEFAULTS_DIR);
        while (!why && d && (de = readdir(d)))
                if (endswith(de->d_name, ".cfg") && de->d_name[0] != '.')
                        strv_extend(&names, de->d_name);
        strv_sort(names);
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *path = xasprintf("%s/%s", DEFAULTS_DIR, *n), *t = NULL;
                if (why || streq(path, DROPIN_PATH))
                        continue;
                r = read_file_in_root(ctx->root_fd, path, TEXT_MAX, &t);
                if (r < 0)
                        why = xasprintf("cannot read %s: %s", path, strerror(-r));
                else
                        (void) eval_vars(path, t, values, &why);
        }
        r = read_owned_file_in_root(ctx->root_fd, DROPIN_PATH, TEXT_MAX, &old);
        if (r < 0 && r != -ENOENT && !why)
                why = xasprintf("cannot read %s: %s", DROPIN_PATH, owned_file_strerror(r));
        if (why) {
                Action *a = plan_add(plan, KIND_KERNEL, VERB_SET, DROPIN_PATH, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s", why);
        } else if (!policy_empty(ctx->policy)) {
                content = assignments(ctx->policy, values, &all, &before);
                plan_file(ctx, plan, DROPIN_PATH, old, TAKE_PTR(content), 0644, before, all, all);
        } else if (old)
                plan_file(ctx, plan, DROPIN_PATH, old, NULL, 0644, NULL, NULL, NULL);
        free(values[0]);
        free(values[1]);
        return 0;
}

/* Classic GRUB: the block at the end of /etc/default/grub. */
static int probe_classic(Context *ctx, Plan *plan) {
        _cleanup_free_ char *text = NULL, *base = NULL, *why = NULL, *block = NULL;
        _cleanup_strv_free_ char **all = NULL, **before = NULL;
        char *values[2] = {};
        struct stat st = { .st_mode = 0644 };
        bool had;
        int r;

        r = read_file_in_root(ctx->root_fd, DEFAULTS_PATH, TEXT_MAX, &text);
        if (r < 0) {
                Action *a = plan_add(plan, KIND_KERNEL, VERB_SET, DEFAULTS_PATH, STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot read it: %s", strerror(-r));
                return 0;
        }
        (void) fstatat(ctx->root_fd, DEFAULTS_PATH + 1, &st, 0);
        base = strip_block(text, &had);
        if (eval_vars(DEFAULTS_PATH, base, values, &why) < 0) {
                Action *a = plan_add(plan, KIND_KERNEL, VERB_SET, DEFAULTS_PATH, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s", why);
        } else if (!policy_empty(ctx->policy)) {
                block = assignments(ctx->policy, values, &all, &before);
                char *content = xasprintf("%s%s%s\n%s%s\n", base, *base && !endswith(base, "\n") ? "\n" : "",
                                          BLOCK_BEGIN, block, BLOCK_END);
                plan_file(ctx, plan, DEFAULTS_PATH, text, content, st.st_mode & 07777, before, all, all);
        } else if (had) {
                Action *a = plan_file(ctx, plan, DEFAULTS_PATH, text, xstrdup(base), st.st_mode & 07777, NULL, NULL, NULL);
                a->verb = VERB_DROP;
                action_set_reason(a, "the block dpuos-trim appended, no longer in the policy");
        }
        free(values[0]);
        free(values[1]);
        return 0;
}

/* What the record says of path: the words added and removed there, and the command line
 * as it was before the first edit and as the last one wrote it. */
typedef struct Recorded {
        char **added, **removed;
        const char *original, *written;   /* point into the record */
} Recorded;

static void record_of(char * const *record, const char *path, Recorded *out) {
        STRV_FOREACH(l, record) {
                const char *tab1 = strchr(*l, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
                if (!tab2 || (size_t) (tab2 - tab1 - 1) != strlen(path) || strncmp(tab1 + 1, path, tab2 - tab1 - 1) != 0)
                        continue;
                _cleanup_free_ char *what = xstrndup(*l, tab1 - *l);
                if (streq(what, "added"))
                        strv_extend(&out->added, tab2 + 1);
                else if (streq(what, "removed"))
                        strv_extend(&out->removed, tab2 + 1);
                else if (streq(what, "original"))
                        out->original = tab2 + 1;
                else if (streq(what, "written"))
                        out->written = tab2 + 1;
        }
}

static char *strip(const char *s) {
        s += strspn(s, " \t");
        size_t n = strlen(s);
        while (n > 0 && strchr(" \t\n", s[n - 1]))
                n--;
        return xstrndup(s, n);
}

/* One command line edited in place (raw: as the file has it): the record's edit taken
 * back, then the policy's made. Where the line is still what the last run wrote, taking
 * back gives the line as it was, byte for byte; where someone changed it since, the added
 * words are taken out and the removed ones put back, and their change stays. Returns the
 * new line, its words in *ret_words and the new record's lines in *ret_record. */
static char *edit_in_place(Context *ctx, char * const *record, const char *path, const char *raw,
                           char ***ret_words, char ***ret_record) {
        _cleanup_free_ char *line = strip(raw), *base = NULL;
        _cleanup_strv_free_ char **current = cmdline_split(line), **words = NULL;
        Recorded rec = {};
        CmdlineEdit e = {};

        record_of(record, path, &rec);
        if (rec.original && rec.written && streq(rec.written, line))
                base = xstrdup(rec.original);
        else if (rec.added || rec.removed) {
                _cleanup_strv_free_ char **original = cmdline_undo(current, rec.added, rec.removed);
                base = cmdline_join(original);
        } else
                base = xstrdup(line);
        strv_free(rec.added);
        strv_free(rec.removed);

        words = cmdline_split(base);
        *ret_words = cmdline_apply(words, ctx->policy->kernel_args, ctx->policy->kernel_remove, &e);
        if (strv_length(e.added) == 0 && strv_length(e.removed) == 0) {
                cmdline_edit_done(&e);
                return TAKE_PTR(base);
        }
        char *text = cmdline_join(*ret_words);
        strv_push(ret_record, xasprintf("original\t%s\t%s", path, base));
        strv_push(ret_record, xasprintf("written\t%s\t%s", path, text));
        STRV_FOREACH(w, e.added)
                strv_push(ret_record, xasprintf("added\t%s\t%s", path, *w));
        STRV_FOREACH(w, e.removed)
                strv_push(ret_record, xasprintf("removed\t%s\t%s", path, *w));
        cmdline_edit_done(&e);
        return text;
}

/* A BLS entry: its options line (the first; an entry without one gets one). */
static void probe_entry(Context *ctx, Plan *plan, char * const *record, const char *path) {
        _cleanup_free_ char *text = NULL, *content = NULL, *joined = NULL;
        _cleanup_strv_free_ char **current = NULL, **next = NULL, **lines = NULL;
        const char *opt = NULL, *end;
        struct stat st = { .st_mode = 0644 };
        int r;

        r = read_file_in_root(ctx->root_fd, path, TEXT_MAX, &text);
        if (r < 0) {
                action_set_reason(plan_add(plan, KIND_KERNEL, VERB_SET, path, STATE_IMPOSSIBLE), "cannot read it: %s",
                                  strerror(-r));
                return;
        }
        (void) fstatat(ctx->root_fd, path + 1, &st, 0);
        for (const char *l = text; *l && !opt; l = *end ? end + 1 : end) {
                end = strchrnul(l, '\n');
                if (startswith(l, "options ") || startswith(l, "options\t"))
                        opt = l;
        }
        end = opt ? strchrnul(opt, '\n') : NULL;
        _cleanup_free_ char *line = opt ? xstrndup(opt + strlen("options"), end - opt - strlen("options")) : xstrdup("");
        if (strstr(line, "$kernelopts") || strstr(line, "${kernelopts}")) {
                action_set_reason(plan_add(plan, KIND_KERNEL, VERB_SET, path, STATE_IMPOSSIBLE),
                                  "its options come from $kernelopts in grubenv: set them with grubby or grub2-editenv");
                return;
        }
        current = cmdline_split(line);
        joined = edit_in_place(ctx, record, path, line, &next, &lines);
        if (opt) {
                _cleanup_free_ char *was = strip(line);
                /* The line as it is when the words are (blanks around it included). */
                if (streq(was, joined))
                        content = xstrdup(text);
                else
                        content = xasprintf("%.*soptions %s%s", (int) (opt - text), text, joined, end);
        } else
                content = xasprintf("%s%soptions %s\n", text, *text && !endswith(text, "\n") ? "\n" : "", joined);
        Action *a = plan_file(ctx, plan, path, text, TAKE_PTR(content), st.st_mode & 07777, current, next, next);
        ((Edit *) a->data)->record = TAKE_PTR(lines);
}

/* /etc/kernel/cmdline: what kernel-install puts in the entries of kernels installed later.
 * Where it does not exist, kernel-install takes /proc/cmdline, which after the reboot has
 * the arguments. */
static void probe_kernel_cmdline(Context *ctx, Plan *plan, char * const *record) {
        _cleanup_free_ char *text = NULL, *joined = NULL, *was = NULL;
        _cleanup_strv_free_ char **current = NULL, **next = NULL, **lines = NULL;
        int r;

        r = read_file_in_root(ctx->root_fd, KERNEL_CMDLINE, TEXT_MAX, &text);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                action_set_reason(plan_add(plan, KIND_KERNEL, VERB_SET, KERNEL_CMDLINE, STATE_IMPOSSIBLE),
                                  "cannot read it: %s", strerror(-r));
                return;
        }
        current = cmdline_split(text);
        joined = edit_in_place(ctx, record, KERNEL_CMDLINE, text, &next, &lines);
        was = strip(text);
        Action *a = plan_file(ctx, plan, KERNEL_CMDLINE, text, streq(was, joined) ? xstrdup(text) : xasprintf("%s\n", joined),
                              0644, current, next, NULL);
        ((Edit *) a->data)->record = TAKE_PTR(lines);
}

static int probe_bls(Context *ctx, Plan *plan, char * const *record) {
        _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, ENTRIES_DIR);
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (endswith(de->d_name, ".conf") && de->d_name[0] != '.')
                        strv_extend(&names, de->d_name);
        strv_sort(names);
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *path = xasprintf("%s/%s", ENTRIES_DIR, *n);
                probe_entry(ctx, plan, record, path);
        }
        probe_kernel_cmdline(ctx, plan, record);
        return 0;
}

/* The grub.cfg that the boot loader reads, and the command that regenerates it. */
static char **grub_config(Context *ctx, char **ret_cfg) {
        static const char * const cfgs[] = { "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg" };
        _cleanup_free_ char *cfg = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cfgs) && !cfg; i++)
                if (exists(ctx, cfgs[i]))
                        cfg = xstrdup(cfgs[i]);
        if (!cfg) {
                _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, "/boot/efi/EFI");
                struct dirent *de;
                while (d && !cfg && (de = readdir(d))) {
                        _cleanup_free_ char *p = xasprintf("/boot/efi/EFI/%s/grub.cfg", de->d_name);
                        if (de->d_name[0] != '.' && exists(ctx, p))
                                cfg = TAKE_PTR(p);
                }
        }
        if (!cfg)
                return NULL;
        char **argv = NULL;
        if (exists(ctx, "/usr/sbin/update-grub") || exists(ctx, "/sbin/update-grub"))
                strv_extend(&argv, "update-grub");
        else {
                strv_extend(&argv, exists(ctx, "/usr/sbin/grub2-mkconfig") || exists(ctx, "/sbin/grub2-mkconfig")
                                    ? "grub2-mkconfig" : "grub-mkconfig");
                strv_extend(&argv, "-o");
                strv_extend(&argv, cfg);
        }
        *ret_cfg = TAKE_PTR(cfg);
        return argv;
}

static bool newer(const struct stat *a, const struct stat *b) {
        return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
               (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec > b->st_mtim.tv_nsec);
}

/* grub.cfg is regenerated when this run changes the defaults, or when what dpuos-trim
 * wrote there is newer than it (an offline run, or a regeneration that failed). */
static void probe_regenerate(Context *ctx, Plan *plan, const char *defaults_file) {
        _cleanup_free_ char *cfg = NULL;
        _cleanup_strv_free_ char **argv = grub_config(ctx, &cfg);
        struct stat sc, sd;
        bool stale = false;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                stale = stale || (a->kind == KIND_KERNEL && (a->verb == VERB_SET || a->verb == VERB_DROP) &&
                                  a->state == STATE_CHANGE);
        }
        if (!stale && !(argv && fstatat(ctx->root_fd, cfg + 1, &sc, 0) >= 0 &&
                        fstatat(ctx->root_fd, defaults_file + 1, &sd, 0) >= 0 && newer(&sd, &sc)))
                return;
        if (!argv) {
                Action *a = plan_add(plan, KIND_KERNEL, VERB_REBUILD, "grub.cfg", STATE_IMPOSSIBLE);
                action_set_reason(a, "no grub.cfg under /boot: the arguments would not reach the kernel");
                return;
        }
        _cleanup_free_ char *cmd = cmdline_join(argv);
        Action *a = plan_add(plan, KIND_KERNEL, VERB_REBUILD, cfg, STATE_CHANGE);
        a->value = xstrdup(cmd);
        if (ctx->offline || ctx->container) {
                a->state = STATE_SKIP;
                action_set_reason(a, "%s: the first boot's run regenerates it with %s", ctx->offline ? "offline" : "in a container",
                                  cmd);
        } else
                action_set_reason(a, "regenerated with %s", cmd);
        a->data = TAKE_PTR(argv);
        a->free_data = (void (*)(void *)) strv_free;
}

/* The words the running kernel must have (and must not), as the policy owns them. */
static char *boot_differs(Context *ctx) {
        _cleanup_strv_free_ char **running = NULL;
        _cleanup_free_ char *missing = xstrdup("");

        if (proc_cmdline_words(&running) < 0)
                return xstrdup("cannot read /proc/cmdline");
        STRV_FOREACH(w, ctx->policy->kernel_args) {
                bool have = false;
                STRV_FOREACH(r, running)
                        have = have || cmdline_same_word(*w, *r);
                if (!have) {
                        char *m = xasprintf("%s%s%s", missing, *missing ? " " : "", *w);
                        free(missing);
                        missing = m;
                }
        }
        STRV_FOREACH(w, ctx->policy->kernel_remove)
                STRV_FOREACH(r, running)
                        if (strchr(*w, '=') ? cmdline_same_word(*w, *r) : cmdline_same_key(*w, *r)) {
                                char *m = xasprintf("%s%s-%s", missing, *missing ? " " : "", *r);
                                free(missing);
                                missing = m;
                        }
        return *missing ? TAKE_PTR(missing) : NULL;
}

/* The reboot: only the first boot's run asks for one, and only when the running kernel's
 * arguments differ from the configured ones; --verify reports the difference as drift. */
static void probe_reboot(Context *ctx, Plan *plan) {
        _cleanup_free_ char *diff = NULL;
        Action *a;

        if (ctx->offline || ctx->container || policy_empty(ctx->policy))
                return;
        diff = boot_differs(ctx);
        if (!diff) {
                action_set_reason(plan_add(plan, KIND_KERNEL, VERB_REBOOT, "/proc/cmdline", STATE_UNCHANGED),
                                  "the running kernel has the arguments");
                return;
        }
        a = plan_add(plan, KIND_KERNEL, VERB_REBOOT, "/proc/cmdline", STATE_CHANGE);
        a->value = xstrdup(diff);
        if (ctx->verify)
                action_set_reason(a, "the running kernel differs: %s", diff);
        else if (!ctx->firstboot || ctx->policy->kernel_reboot_no) {
                a->state = STATE_SKIP;
                action_set_reason(a, "the running kernel differs (%s): the next boot has the arguments%s", diff,
                                  ctx->firstboot ? " (Reboot=no)" : "");
        } else
                action_set_reason(a, "the running kernel differs (%s): one reboot at the end of the first boot", diff);
}

static int kernel_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **record = NULL;
        size_t from = plan->n_actions;
        Backend b;
        int r;

        r = conffile_read(ctx, RECORD_PATH, &record);
        if (r < 0) {
                conffile_probe_failed(plan, from, KIND_KERNEL, RECORD_PATH, r);
                return 0;
        }
        b = find_backend(ctx);
        if (b == BACKEND_NONE) {
                if (!policy_empty(ctx->policy))
                        action_set_reason(plan_add(plan, KIND_KERNEL, VERB_SET, DEFAULTS_PATH, STATE_IMPOSSIBLE),
                                          "no boot loader configuration found (no %s/*.conf, no %s)", ENTRIES_DIR,
                                          DEFAULTS_PATH);
                return 0;
        }
        if (b == BACKEND_BLS)
                probe_bls(ctx, plan, record);
        else if (b == BACKEND_DROPIN)
                probe_dropin(ctx, plan);
        else
                probe_classic(ctx, plan);
        if (b != BACKEND_BLS)
                probe_regenerate(ctx, plan, b == BACKEND_DROPIN ? DROPIN_PATH : DEFAULTS_PATH);
        probe_reboot(ctx, plan);
        return 0;
}

/* The record's lines after this run's edits; with old, those before them too (what a run
 * cut off between the record and the files needs to take every edit back). */
static char **record_lines(const Plan *plan, char * const *old) {
        char **lines = NULL;

        STRV_FOREACH(l, old)
                strv_extend(&lines, *l);
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                const Edit *e = a->kind == KIND_KERNEL && a->verb == VERB_SET ? a->data : NULL;
                if (!e)
                        continue;
                STRV_FOREACH(l, e->record)
                        if (!strv_contains(lines, *l))
                                strv_extend(&lines, *l);
        }
        return lines;
}

static bool strv_equal(char * const *a, char * const *b) {
        size_t n = strv_length(a);
        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

#define RECORD_HEADER "# dpuos-trim: kernel arguments it added to (and removed from) command lines it edits in place\n"

static int write_record(Context *ctx, Plan *plan, char **lines) {
        int r = lines_write(ctx, RECORD_PATH, RECORD_HEADER, lines);
        if (r < 0)
                plan_add_error(plan, "cannot write %s: %s", RECORD_PATH, owned_file_strerror(r));
        return r;
}

static int apply_file(Context *ctx, Plan *plan, Action *a) {
        const Edit *e = a->data;
        int r;

        r = e->content ? write_file_atomic_in_root(ctx->root_fd, a->target, e->content, e->mode)
                       : unlink_in_root(ctx->root_fd, a->target);
        if (r < 0) {
                action_fail(ctx, plan, a, r, "cannot %s it: %s", e->content ? "write" : "remove", strerror(-r));
                return log_error_errno(r, "Failed to write %s: %m", a->target);
        }
        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
        return 0;
}

static int regenerate(Context *ctx, Plan *plan, Action *a) {
        _cleanup_free_ char *out = NULL, *last = NULL;
        int r;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *f = plan->actions[i];
                if (f->kind == KIND_KERNEL && (f->verb == VERB_SET || f->verb == VERB_DROP) && f->outcome == OUTCOME_FAILED) {
                        action_fail(ctx, plan, a, f->error, "not regenerated: %s was not written", f->target);
                        return f->error;
                }
        }
        log_info("Regenerating %s with %s...", a->target, a->value);
        r = spawn_capture_env(a->data, NULL, true, 1024 * 1024, &out);
        if (r == 0) {
                plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                return 0;
        }
        /* grub-mkconfig writes a new file and renames it: a failure leaves the old one. */
        last = output_last_line(out);
        if (r < 0)
                action_fail(ctx, plan, a, r, "cannot run %s: %s; the old grub.cfg stays", a->value, strerror(-r));
        else
                action_fail(ctx, plan, a, -EIO, "%s failed (exit %d%s%s); the old grub.cfg stays", a->value, r,
                            *last ? ": " : "", last);
        return log_error_errno(r < 0 ? r : -EIO, "Failed to regenerate %s: %s", a->target, strempty(a->reason));
}

/* The files first, under a record that covers both the old edits and the new, then the
 * exact record; grub.cfg once the defaults are written; the reboot is only asked for here
 * (the run writes the request after its stamp, if it succeeded). */
static int kernel_apply(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **old = NULL, **both = NULL, **next = NULL;
        int ret = 0, r;

        r = conffile_read(ctx, RECORD_PATH, &old);
        if (r < 0)
                return 0;  /* the probe made its actions impossible */
        both = record_lines(plan, old);
        next = record_lines(plan, NULL);
        bool record_changes = !strv_equal(old, next), covered = strv_equal(old, both);
        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_KERNEL || (a->verb != VERB_SET && a->verb != VERB_DROP) || !action_begin(ctx, plan, a))
                        continue;
                if (!covered && write_record(ctx, plan, both) < 0) {
                        action_fail(ctx, plan, a, -EIO, "not written: the record of the edits could not be");
                        RET_GATHER(ret, -EIO);
                        continue;
                }
                covered = true;
                RET_GATHER(ret, apply_file(ctx, plan, a));
        }
        if (record_changes && !ctx->dry_run && !plan->stopped)
                RET_GATHER(ret, write_record(ctx, plan, next));
        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_KERNEL || !action_begin(ctx, plan, a))
                        continue;
                if (a->verb == VERB_REBUILD)
                        RET_GATHER(ret, regenerate(ctx, plan, a));
                else if (a->verb == VERB_REBOOT) {
                        ctx->reboot = true;
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                }
        }
        return ret;
}

const Executor kernel_executor = {
        .kind = KIND_KERNEL,
        .name = "kernel",
        .probe = kernel_probe,
        .apply = kernel_apply,
};
