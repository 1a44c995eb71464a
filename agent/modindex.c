/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-util.h"
#include "executor.h"
#include "fs-util.h"
#include "glob.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

/* A kernel's module index (modules.dep, modules.alias and their .bin forms) is derived from
 * its module files. When [Files] removes some of them, the index still lists them: modprobe
 * of a removed module loads its dependencies first and then fails on the missing file, and
 * udev and modinfo go on seeing it. Each kernel whose index lists a module that is gone, or
 * one the file removal will take, has its index rebuilt with depmod, the tool that made it,
 * once the removal is done. depmod writes each index file to a temporary name and renames
 * it, so the old index serves until the new one is complete. A kernel without an index
 * (never depmod'ed) is left as it is. */

#define DEPMOD_OUTPUT_MAX (64 * 1024)

/* The module path of one modules.dep line ("kernel/fs/xfs/xfs.ko: dep ..."), cut in place.
 * Paths are relative to the kernel's directory; an absolute one (depmod before kmod) is
 * not looked at. */
static const char *dep_line_module(char *line) {
        char *colon = strchr(line, ':');

        if (!colon || colon == line || line[0] == '/')
                return NULL;
        *colon = '\0';
        return line;
}

/* Does one of the patterns match path, or a directory above it? */
static bool patterns_cover(char * const *patterns, const char *path) {
        _cleanup_free_ char *p = xstrdup(path);

        for (;;) {
                STRV_FOREACH(pat, patterns)
                        if (glob_match_path(*pat, p))
                                return true;
                char *slash = strrchr(p, '/');
                if (!slash || slash == p)
                        return false;
                *slash = '\0';
        }
}

/* Can a Remove= pattern take anything in the kernel directory kdir? */
static bool removal_reaches(const Policy *policy, const char *kdir) {
        if (patterns_cover(policy->file_remove, kdir))
                return true;
        STRV_FOREACH(pat, policy->file_remove)
                if (glob_may_match_below(*pat, kdir))
                        return true;
        return false;
}

/* Is the index of the kernel at dir_fd (the directory kdir) stale now because the removal
 * took modules (a run that ended before depmod did), or will it be once the removal is
 * done? A module that is gone but that no Remove= pattern covers, or that Keep= keeps,
 * went some other way: not the policy's business. Returns 1 (why in *ret_why), 0, or
 * -errno when the index cannot be read. */
static int index_stale(const Context *ctx, const Plan *plan, int dir_fd, const char *kdir, char **ret_why) {
        _cleanup_free_ char *dep = NULL;
        char *save = NULL;
        int r;

        r = read_file_in_root(dir_fd, "modules.dep", 64 * 1024 * 1024, &dep);
        if (r < 0)
                return r;
        for (char *l = strtok_r(dep, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *path = dep_line_module(l);
                struct stat st;

                if (!path)
                        continue;
                _cleanup_close_ int fd = open_beneath_nofollow(dir_fd, path, O_PATH);
                if (fd == -ENOENT || fd == -ENOTDIR) {
                        _cleanup_free_ char *full = xasprintf("%s/%s", kdir, path);
                        if (!patterns_cover(ctx->policy->file_remove, full) ||
                            patterns_cover(ctx->policy->file_keep, full))
                                continue;
                        *ret_why = xasprintf("its module index lists %s, which was removed", path);
                        return 1;
                }
                if (fd < 0 || fstat(fd, &st) < 0)
                        continue;  /* a link or an unreadable entry: not one the removal takes */
                if (files_plan_removes(plan, st.st_dev, st.st_ino)) {
                        *ret_why = xasprintf("its module index lists %s, which the removal takes", path);
                        return 1;
                }
        }
        return 0;
}

static int modindex_probe(Context *ctx, Plan *plan) {
        static const char * const dirs[] = { "/usr/lib/modules", "/lib/modules" };
        struct stat seen[ELEMENTSOF(dirs)] = {};

        if (!ctx->policy->file_remove)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = open_in_root(ctx->root_fd, dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
                _cleanup_closedir_ DIR *d = NULL;
                struct dirent *de;
                bool dup = false;

                if (fd < 0 || fstat(fd, &seen[i]) < 0)
                        continue;  /* no such directory: no kernel there */
                /* On a merged-/usr system /lib is /usr/lib: each kernel once. */
                for (size_t j = 0; j < i; j++)
                        dup = dup || (seen[j].st_dev == seen[i].st_dev && seen[j].st_ino == seen[i].st_ino);
                if (dup)
                        continue;
                d = fdopendir(fd);
                if (!d)
                        continue;
                TAKE_FD(fd);  /* the DIR owns it now */
                while ((de = readdir(d))) {
                        _cleanup_free_ char *why = NULL, *target = NULL;
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_close_ int kfd = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (kfd < 0)
                                continue;  /* a file or a link: no kernel's directory */
                        target = xasprintf("%s/%s", dirs[i], de->d_name);
                        /* Listing a kernel's modules is some 3,000 lookups: only where a
                         * pattern can remove one. */
                        if (!removal_reaches(ctx->policy, target))
                                continue;
                        int r = index_stale(ctx, plan, kfd, target, &why);
                        if (r == 0 || r == -ENOENT)
                                continue;
                        Action *a = plan_add(plan, KIND_FILES, VERB_REBUILD, target, r > 0 ? STATE_CHANGE : STATE_IMPOSSIBLE);
                        if (r < 0) {
                                action_set_reason(a, "cannot read its modules.dep: %s", strerror(-r));
                                continue;
                        }
                        action_set_reason(a, "%s: depmod", why);
                }
        }
        return 0;
}

/* The last line depmod printed, to say why it failed. */
static char *last_line(const char *out) {
        const char *end = out + strlen(out), *start;

        while (end > out && (end[-1] == '\n' || end[-1] == ' '))
                end--;
        start = end;
        while (start > out && start[-1] != '\n')
                start--;
        return end > start ? xstrndup(start, end - start) : NULL;
}

static int modindex_apply(Context *ctx, Plan *plan) {
        int ret = 0;

        for (size_t i = 0; i < plan->n_actions && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                _cleanup_free_ char *out = NULL, *why = NULL;
                _cleanup_strv_free_ char **argv = NULL;

                if (a->kind != KIND_FILES || a->verb != VERB_REBUILD || !action_begin(ctx, plan, a))
                        continue;
                strv_extend(&argv, "depmod");
                if (ctx->offline)
                        strv_push(&argv, xasprintf("--basedir=%s", ctx->root));
                strv_extend(&argv, path_basename(a->target));  /* the kernel's version */
                int r = spawn_capture_env(argv, NULL, true, DEPMOD_OUTPUT_MAX, &out);
                if (r == 0) {
                        plan_settle(ctx, plan, a, OUTCOME_DONE, 0);
                        continue;
                }
                if (r < 0)
                        action_fail(ctx, plan, a, r, "cannot run depmod: %s", strerror(-r));
                else {
                        why = last_line(strempty(out));
                        action_fail(ctx, plan, a, -EIO, "depmod exited with status %d%s%s", r,
                                    why ? ": " : "", strempty(why));
                }
                RET_GATHER(ret, r < 0 ? r : -EIO);
        }
        return ret;
}

const Executor modindex_executor = {
        .kind = KIND_FILES,
        .name = "module index",
        .probe = modindex_probe,
        .apply = modindex_apply,
};
