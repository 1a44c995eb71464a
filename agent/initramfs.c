/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "exec-util.h"
#include "executor.h"
#include "fs-util.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

/* A blacklist in /etc/modprobe.d does not reach a module that the initramfs loads before
 * the root file system is mounted: sr_mod and cdrom, or a storage driver, come back at
 * every boot. Each installed initramfs that carries a blacklisted module is rebuilt with
 * the distribution's own tool once the blacklist is written, so that the new image has the
 * modprobe.d file (initramfs-tools copies /etc/modprobe.d in) or lacks the modules (dracut
 * is told to omit them). Both tools write the new image beside the old one and rename it
 * into place, so a failed rebuild leaves the old image and the machine still boots. */

#define MODPROBE_CONF "/etc/modprobe.d/dpuos-trim.conf"
#define LIST_MAX (64 * 1024 * 1024)

typedef struct Flavour {
        const char *prefix, *suffix;   /* /boot/PREFIX<version>SUFFIX */
        const char *lister;            /* prints the image's paths, one per line */
        const char *tool;              /* what the plan names */
} Flavour;

static const Flavour flavours[] = {
        { "initrd.img-", "",     "lsinitramfs", "update-initramfs" },   /* Debian's initramfs-tools */
        { "initramfs-",  ".img", "lsinitrd",    "dracut" },             /* dracut: openEuler, Fedora */
};

typedef struct Image {
        const Flavour *flavour;
        char *path;
        char *version;
        char **modules;    /* the blacklisted modules it carries */
} Image;

static void image_free(void *p) {
        Image *im = p;
        if (!im)
                return;
        free(im->path);
        free(im->version);
        strv_free(im->modules);
        free(im);
}

/* The version in an image's name, if it is an initramfs of an installed kernel (not
 * dracut's kdump or rescue images, not a backup). */
static char *image_version(Context *ctx, const Flavour *f, const char *name) {
        const char *v = startswith(name, f->prefix);
        size_t n;

        if (!v || !endswith(v, f->suffix))
                return NULL;
        n = strlen(v) - strlen(f->suffix);
        if (n == 0 || strstr(name, "rescue") || strstr(name, "kdump") || endswith(name, ".bak") ||
            endswith(name, ".dpkg-bak") || endswith(name, ".new") || endswith(name, ".old"))
                return NULL;
        _cleanup_free_ char *version = xstrndup(v, n);
        _cleanup_free_ char *dir = xasprintf("/usr/lib/modules/%s", version);
        _cleanup_free_ char *legacy = xasprintf("/lib/modules/%s", version);
        struct stat st;
        if (fstatat(ctx->root_fd, dir + 1, &st, 0) < 0 && fstatat(ctx->root_fd, legacy + 1, &st, 0) < 0)
                return NULL;
        return TAKE_PTR(version);
}

/* Does the listing have a line ending in /NAME.ko (or .ko.xz, .ko.zst, ...), with the
 * module's name spelt with '_' or '-'? */
static bool listing_has_module(const char *listing, const char *name) {
        for (int dash = 0; dash < 2; dash++) {
                _cleanup_free_ char *n = xstrdup(name);
                for (char *c = n; dash && *c; c++)
                        if (*c == '_')
                                *c = '-';
                _cleanup_free_ char *needle = xasprintf("/%s.ko", n);
                for (const char *p = listing; (p = strstr(p, needle)); p += strlen(needle)) {
                        const char *after = p + strlen(needle);
                        if (*after == '\n' || *after == 0 || *after == '.')
                                return true;
                }
        }
        return false;
}

static bool listing_has_line(const char *listing, const char *suffix) {
        _cleanup_free_ char *needle = xasprintf("%s\n", suffix);
        for (const char *p = listing; (p = strstr(p, needle)); p++)
                if (p == listing || p[-1] == '/' || p[-1] == '\n' || p[-1] == ' ')
                        return true;
        return false;
}

/* The blacklisted modules of the plan: written now, or already. */
static char **blacklisted(const Plan *plan) {
        char **mods = NULL;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == KIND_MODULES && a->verb == VERB_BLACKLIST &&
                    (a->state == STATE_CHANGE || a->state == STATE_UNCHANGED))
                        strv_extend(&mods, a->target);
        }
        return mods;
}

/* An image built after the blacklist was last written, that has the modprobe.d file in it,
 * has the blacklist already: the modules it carries are not loaded from it. */
static bool image_has_blacklist(Context *ctx, const char *listing, const struct stat *image, bool conf_changes) {
        struct stat conf;

        if (conf_changes || !listing_has_line(listing, &MODPROBE_CONF[1]))
                return false;
        if (fstatat(ctx->root_fd, &MODPROBE_CONF[1], &conf, 0) < 0)
                return false;
        return image->st_mtim.tv_sec > conf.st_mtim.tv_sec ||
               (image->st_mtim.tv_sec == conf.st_mtim.tv_sec && image->st_mtim.tv_nsec >= conf.st_mtim.tv_nsec);
}

/* Will this run write the modprobe.d file anew? */
static bool conf_changes(const Plan *plan) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == KIND_MODULES && (a->verb == VERB_BLACKLIST || a->verb == VERB_DROP) &&
                    a->state == STATE_CHANGE)
                        return true;
        }
        return false;
}

static void probe_image(Context *ctx, Plan *plan, const Flavour *f, const char *name, char **mods, bool changes) {
        _cleanup_free_ char *path = xasprintf("/boot/%s", name), *version = NULL, *listing = NULL;
        _cleanup_strv_free_ char **carried = NULL;
        struct stat st;
        Action *a;
        int r;

        version = image_version(ctx, f, name);
        if (!version || fstatat(ctx->root_fd, path + 1, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return;
        r = spawn_capture((char *[]) { (char *) f->lister, path, NULL }, LIST_MAX, &listing);
        if (r != 0) {
                a = plan_add(plan, KIND_MODULES, VERB_REBUILD, path, STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot list it with %s: %s", f->lister,
                                  r < 0 ? strerror(-r) : "it failed");
                return;
        }
        STRV_FOREACH(m, mods)
                if (listing_has_module(listing, *m))
                        strv_extend(&carried, *m);
        if (!carried || image_has_blacklist(ctx, listing, &st, changes))
                return;

        _cleanup_free_ char *list = xstrdup("");
        STRV_FOREACH(m, carried) {
                char *l = xasprintf("%s%s%s", list, *list ? ", " : "", *m);
                free(list);
                list = l;
        }
        Image *im = xcalloc(1, sizeof(Image));
        *im = (Image) { .flavour = f, .path = xstrdup(path), .version = xstrdup(version), .modules = TAKE_PTR(carried) };
        if (ctx->policy->initramfs_no_rebuild) {
                a = plan_add(plan, KIND_MODULES, VERB_REBUILD, path, STATE_SKIP);
                action_set_reason(a, "RebuildInitramfs=no: it still loads %s at boot", list);
                image_free(im);
                return;
        }
        a = plan_add(plan, KIND_MODULES, VERB_REBUILD, path, STATE_CHANGE);
        a->value = xstrdup(version);
        a->data = im;
        a->free_data = image_free;
        action_set_reason(a, "it loads %s before the blacklist is read: rebuilt with %s", list, f->tool);
}

static int initramfs_probe(Context *ctx, Plan *plan) {
        _cleanup_strv_free_ char **mods = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        /* Offline, the tree's tools cannot run here: the first boot's run rebuilds what its
         * initramfs still carries. In a container, the host's kernel and initramfs boot it. */
        if (ctx->offline || ctx->container)
                return 0;
        mods = blacklisted(plan);
        if (!mods)
                return 0;
        d = opendir_in_root(ctx->root_fd, "/boot");
        if (!d && errno == ENOENT)
                return 0;
        if (!d) {
                Action *a = plan_add(plan, KIND_MODULES, VERB_REBUILD, "/boot", STATE_IMPOSSIBLE);
                action_set_reason(a, "cannot list the initramfs images: %s", strerror(errno));
                return 0;
        }
        bool changes = conf_changes(plan);
        while ((de = readdir(d)))
                for (size_t i = 0; i < ELEMENTSOF(flavours); i++)
                        probe_image(ctx, plan, &flavours[i], de->d_name, mods, changes);
        return 0;
}

static int rebuild_dracut(const Image *im, char **ret_out) {
        _cleanup_free_ char *tmp = xasprintf("%s.dpuos-trim-new", im->path), *omit = NULL;
        int r;

        omit = xstrdup("");
        STRV_FOREACH(m, im->modules) {
                char *o = xasprintf("%s %s", omit, *m);
                free(omit);
                omit = o;
        }
        r = spawn_capture_env((char *[]) { "dracut", "--force", "--omit-drivers", omit, tmp, im->version, NULL },
                              NULL, true, 1024 * 1024, ret_out);
        if (r == 0 && rename(tmp, im->path) < 0)
                r = negative_errno();
        if (r != 0)
                (void) unlink(tmp);
        return r;
}

static int rebuild(Context *ctx, Plan *plan, Action *a) {
        const Image *im = a->data;
        _cleanup_free_ char *out = NULL;
        int r;

        log_info("Rebuilding %s with %s (it loads %s)...", im->path, im->flavour->tool, im->modules[0]);
        if (streq(im->flavour->tool, "dracut"))
                r = rebuild_dracut(im, &out);
        else
                r = spawn_capture_env((char *[]) { "update-initramfs", "-u", "-k", im->version, NULL }, NULL, true,
                                      1024 * 1024, &out);
        if (r == 0) {
                /* The tools rename the new image into place; a power cut right after must
                 * find it complete on the disk, not an empty file. */
                _cleanup_close_ int fd = open(im->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                _cleanup_close_ int dir = open("/boot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fsync(fd) < 0 || dir < 0 || fsync(dir) < 0)
                        log_warning_errno(negative_errno(), "Cannot sync the new %s: %m", im->path);
                plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                return 0;
        }
        _cleanup_free_ char *last = output_last_line(out);
        if (r < 0)
                action_fail(ctx, plan, a, r, "cannot run %s: %s; the old image stays", im->flavour->tool, strerror(-r));
        else
                action_fail(ctx, plan, a, -EIO, "%s failed (exit %d%s%s); the old image stays", im->flavour->tool, r,
                            *last ? ": " : "", last);
        return log_error_errno(r < 0 ? r : -EIO, "Failed to rebuild %s: %s", im->path, strempty(a->reason));
}

/* After the blacklist is written (modules_executor, before this one in the table). */
static int initramfs_apply(Context *ctx, Plan *plan) {
        const Action *failed = NULL;
        int ret = 0;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *b = plan->actions[i];
                if (b->kind == KIND_MODULES && (b->verb == VERB_BLACKLIST || b->verb == VERB_DROP) &&
                    b->outcome == OUTCOME_FAILED)
                        failed = b;
        }
        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                if (a->kind != KIND_MODULES || a->verb != VERB_REBUILD)
                        continue;
                if (failed && a->state == STATE_CHANGE && a->outcome == OUTCOME_PENDING) {
                        action_fail(ctx, plan, a, failed->error, "not rebuilt: the blacklist was not written (%s)",
                                    strempty(failed->reason));
                        RET_GATHER(ret, failed->error);
                        continue;
                }
                if (!action_begin(ctx, plan, a))
                        continue;
                RET_GATHER(ret, rebuild(ctx, plan, a));
        }
        return ret;
}

const Executor initramfs_executor = {
        .kind = KIND_MODULES,
        .name = "initramfs",
        .probe = initramfs_probe,
        .apply = initramfs_apply,
};
