/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <libmount.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <time.h>

#include "executor.h"
#include "manifest.h"
#include "fs-util.h"
#include "glob.h"
#include "inomap.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "protect.h"
#include "strv.h"

/* Removal walks the tree from each pattern's literal directory with one directory
 * descriptor per level: every name is resolved relative to its parent's descriptor with
 * O_NOFOLLOW, no symlink is ever followed, and no other file system is entered below the
 * pattern's directory. Probe and apply run the same walk; apply removes only inodes that the
 * probe planned, so anything that appeared or was swapped in between is left alone: each
 * entry is stat'ed again right before it is unlinked and must be the planned inode, of the
 * planned type, and a regular file also of the planned size and change time. The walk also
 * holds the descriptor of every directory from the root down, and before each unlink makes
 * sure that none of them moved: a directory moved away while the walk is inside it (out of
 * the root, under a Keep= path, into the agent's own state) is left at once, as removing
 * through its descriptor would remove at its new place. The kernel says so: each level is
 * watched with inotify for IN_MOVE_SELF, so that the check before an unlink is one read()
 * that finds nothing; a level that could not be watched, or a lost event, is checked by
 * looking each level up in its parent again. */

/* About 600 bytes of stack a level: 8192 levels fit the default 8 MiB stack, and the glob
 * matcher handles paths that deep. A deeper tree is reported, not walked. */
#define MAX_DEPTH 8192
#define MAX_FAILURES_LISTED 20

typedef struct Guard {
        Glob glob;
} Guard;

typedef struct Guards {
        Guard *g;
        size_t n;
} Guards;

static void guards_add(Guards *gs, const char *pattern) {
        gs->g = xrealloc(gs->g, (gs->n + 1) * sizeof(Guard));
        glob_compile(&gs->g[gs->n++].glob, pattern);
}

static void guards_done(Guards *gs) {
        for (size_t i = 0; i < gs->n; i++)
                glob_done(&gs->g[i].glob);
        free(gs->g);
        *gs = (Guards) {};
}

/* Does the path (split into n segments), or one of its ancestors, match one of the
 * patterns? Ancestors count because a matching directory covers its whole subtree. */
static bool guards_match(const Guards *gs, const GlobSeg *path, size_t n, bool ancestors) {
        for (size_t i = 0; i < gs->n; i++) {
                const Glob *g = &gs->g[i].glob;
                if (glob_match_segs(g, path, n))
                        return true;
                if (ancestors)
                        for (size_t k = n; k-- > 1; )
                                if (glob_match_segs(g, path, k))
                                        return true;
        }
        return false;
}

typedef struct Rails {
        Guards protected;
        Guards trees;
        Guards keep;
        char **mounts;     /* mount points inside the tree, as in-tree paths, sorted */
        size_t n_mounts;
        char * const *libraries;  /* protected_libraries(): sorted, owned by the context */
        size_t n_libraries;
} Rails;

static void add_exe(Guards *gs, const char *proc_link) {
        char buf[4096];
        ssize_t n = readlink(proc_link, buf, sizeof buf - 1);
        if (n > 0 && buf[0] == '/') {
                buf[n] = 0;
                guards_add(gs, buf);
        }
}

static void load_mounts(Context *ctx, char ***ret) {
        struct libmnt_table *tb = NULL;
        struct libmnt_iter *it = NULL;
        struct libmnt_fs *fs;
        size_t rl = streq(ctx->root, "/") ? 0 : strlen(ctx->root);

        tb = mnt_new_table_from_file("/proc/self/mountinfo");
        it = mnt_new_iter(MNT_ITER_FORWARD);
        while (tb && it && mnt_table_next_fs(tb, it, &fs) == 0) {
                const char *t = mnt_fs_get_target(fs);
                if (!t || strncmp(t, ctx->root, rl) != 0 || (t[rl] != '/' && t[rl] != 0))
                        continue;
                strv_extend(ret, t[rl] ? t + rl : "/");
        }
        mnt_free_iter(it);
        mnt_unref_table(tb);
        strv_sort(*ret);
}

static void rails_load(Context *ctx, Rails *r) {
        for (const char * const *g = protected_paths; *g; g++)
                guards_add(&r->protected, *g);
        for (const char * const *g = protected_trees; *g; g++)
                guards_add(&r->trees, *g);
        if (!ctx->offline) {
                add_exe(&r->protected, "/proc/self/exe");
                add_exe(&r->protected, "/proc/1/exe");
        }
        STRV_FOREACH(k, ctx->policy->file_keep)
                guards_add(&r->keep, *k);
        load_mounts(ctx, &r->mounts);
        r->n_mounts = strv_length(r->mounts);
        r->libraries = protected_libraries(ctx);
        r->n_libraries = strv_length(r->libraries);
}

static void rails_done(Rails *r) {
        guards_done(&r->protected);
        guards_done(&r->trees);
        guards_done(&r->keep);
        strv_free(r->mounts);
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* What the walk needs to know of an entry, from one statx() call. */
typedef struct Entry {
        dev_t dev;
        ino_t ino;
        mode_t mode;
        nlink_t nlink;
        uint64_t bytes;        /* allocated */
        uint64_t size;
        struct statx_timestamp ctime;
        bool mount_root;       /* the kernel says it is the root of a mount */
} Entry;

/* name relative to dir_fd, never followed; "" with AT_EMPTY_PATH is dir_fd itself. */
static int stat_entry(int dir_fd, const char *name, int flags, Entry *ret) {
        struct statx sx;

        if (statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
                  STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_BLOCKS | STATX_SIZE | STATX_CTIME,
                  &sx) < 0)
                return negative_errno();
        *ret = (Entry) {
                .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .ino = sx.stx_ino,
                .mode = sx.stx_mode,
                .nlink = sx.stx_nlink,
                .bytes = sx.stx_blocks * 512,
                .size = sx.stx_size,
                .ctime = sx.stx_ctime,
        };
#ifdef STATX_ATTR_MOUNT_ROOT
        ret->mount_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                          (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
#endif
        return 0;
}

static bool is_mount_point(const Rails *r, const char *path, const Entry *st, dev_t parent_dev) {
        if (st->dev != parent_dev)
                return true;
        if (r->mounts && bsearch(&path, r->mounts, r->n_mounts, sizeof(char *), cmp_strp))
                return true;
        /* A bind mount of the same file system keeps st_dev; the kernel still knows. */
        return st->mount_root;
}

/* What the probe of one pattern planned: the inodes to remove. */
typedef struct PatternPlan {
        InoMap planned;
        size_t index;          /* of the pattern in the policy's Remove= list */
        size_t *earlier;       /* the patterns before it that can match below its directory */
        size_t n_earlier;
} PatternPlan;

static void pattern_plan_free(void *p) {
        PatternPlan *pp = p;
        if (pp) {
                inomap_done(&pp->planned);
                free(pp->earlier);
                free(pp);
        }
}

/* The literal directory of each Remove= pattern, sorted: the patterns that can own a path
 * below a directory are those whose directory is above it, equal, or below it. Comparing
 * each pattern with those only, not with every earlier one, keeps planning near
 * n log n in the number of patterns. */
typedef struct LitDir {
        char *dir;
        size_t index;
} LitDir;

static int litdir_cmp(const void *a, const void *b) {
        const LitDir *x = a, *y = b;
        int c = strcmp(x->dir, y->dir);
        return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The first entry not below s in sorted order. */
static size_t litdir_lower(const LitDir *d, size_t n, const char *s) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(d[mid].dir, s) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static void add_earlier(PatternPlan *pp, const LitDir *d, size_t n, size_t from, const char *prefix, bool exact) {
        for (size_t k = from; k < n; k++) {
                if (exact ? !streq(d[k].dir, prefix) : !startswith(d[k].dir, prefix))
                        break;
                if (d[k].index < pp->index) {
                        pp->earlier = xrealloc(pp->earlier, (pp->n_earlier + 1) * sizeof(size_t));
                        pp->earlier[pp->n_earlier++] = d[k].index;
                }
        }
}

static void find_earlier(PatternPlan *pp, const LitDir *d, size_t n, const char *dir) {
        _cleanup_free_ char *prefix = xstrdup(dir), *below = NULL;

        /* Above or equal: "/", then each leading directory, then dir itself. */
        add_earlier(pp, d, n, litdir_lower(d, n, "/"), "/", true);
        for (char *s = prefix + 1; *prefix && s; s = strchr(s + 1, '/')) {
                char c = *s;
                *s = 0;
                if (*prefix)
                        add_earlier(pp, d, n, litdir_lower(d, n, prefix), prefix, true);
                *s = c;
                if (!c)
                        break;
        }
        if (!streq(dir, "/")) {
                below = xasprintf("%s/", dir);
                add_earlier(pp, d, n, litdir_lower(d, n, below), below, false);
        } else
                add_earlier(pp, d, n, 0, "/", false);
}

/* A directory the walk is inside, from the root down. */
typedef struct Level {
        int fd;                /* owned, but for level 0: the root */
        dev_t dev;
        ino_t ino;
        char *name;            /* its name in the level above */
        int wd;                /* its inotify watch, or -1 */
        bool moved;            /* inotify said it moved or went */
} Level;

typedef struct Walk {
        Context *ctx;
        Plan *plan;
        const Rails *rails;
        Action *action;
        PatternPlan *pp;
        InoMap *links;         /* probe: links seen per hard-linked inode, over all patterns;
                                * apply: change times after a link was removed */
        PatternPlan **earlier_plans;  /* probe: what the Remove= patterns before this one planned */
        Glob target;           /* the pattern, compiled */
        Guards earlier;        /* the Remove= patterns of pp->earlier */
        bool apply;
        unsigned n_failed;
        char *path;            /* the current in-tree path */
        size_t len, allocated;
        GlobSeg *segs;         /* the same path, split into segments as the walk goes */
        size_t *seg_off;       /* each segment's offset in path, to survive a realloc */
        size_t n_segs, segs_allocated;
        Level *levels;         /* levels[n_levels - 1] is the directory being walked */
        size_t n_levels, levels_allocated;
        size_t moved;          /* apply: the first level found moved away, or 0 */
        int inotify_fd;        /* apply: where the levels' moves are told, or -1 */
        const char *only;      /* a pattern without glob characters: its last component */
} Walk;

static void path_reserve(Walk *w, size_t need) {
        if (need <= w->allocated)
                return;
        w->allocated = need * 2;
        w->path = xrealloc(w->path, w->allocated);
        for (size_t i = 0; i < w->n_segs; i++)
                w->segs[i].p = w->path + w->seg_off[i];
}

/* Appends one path segment. */
static void path_push(Walk *w, const char *name) {
        size_t n = strlen(name);

        path_reserve(w, w->len + 1 + n + 1);
        if (w->len == 0 || w->path[w->len - 1] != '/')
                w->path[w->len++] = '/';
        if (w->n_segs == w->segs_allocated) {
                w->segs_allocated = w->segs_allocated * 2 + 16;
                w->segs = xrealloc(w->segs, w->segs_allocated * sizeof(GlobSeg));
                w->seg_off = xrealloc(w->seg_off, w->segs_allocated * sizeof(size_t));
        }
        w->seg_off[w->n_segs] = w->len;
        w->segs[w->n_segs++] = (GlobSeg) { .p = w->path + w->len, .n = n };
        memcpy(w->path + w->len, name, n + 1);
        w->len += n;
}

static void path_pop(Walk *w, size_t len) {
        w->len = len;
        w->path[len] = 0;
        while (w->n_segs > 0 && w->seg_off[w->n_segs - 1] >= len)
                w->n_segs--;
}

/* Starts the path over at the absolute directory dir. */
static void path_reset(Walk *w, const char *dir) {
        _cleanup_free_ char *copy = xstrdup(dir);
        char *save = NULL;

        w->n_segs = 0;
        path_reserve(w, 2);
        path_pop(w, 0);
        w->path[w->len++] = '/';
        w->path[w->len] = 0;
        for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save))
                path_push(w, s);
}


static void level_push(Walk *w, int fd, const char *name, const Entry *st) {
        if (w->n_levels == w->levels_allocated) {
                w->levels_allocated = w->levels_allocated * 2 + 16;
                w->levels = xrealloc(w->levels, w->levels_allocated * sizeof(Level));
        }
        Level *l = &w->levels[w->n_levels++];
        *l = (Level) { .fd = fd, .dev = st->dev, .ino = st->ino, .name = name ? xstrdup(name) : NULL, .wd = -1 };
        if (w->apply && w->inotify_fd >= 0 && w->n_levels > 1) {
                char proc[64];
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                l->wd = inotify_add_watch(w->inotify_fd, proc, IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR);
        }
}

static void level_pop(Walk *w) {
        Level *l = &w->levels[--w->n_levels];

        if (l->wd >= 0)
                (void) inotify_rm_watch(w->inotify_fd, l->wd);
        if (w->n_levels > 0)
                close(l->fd);
        free(l->name);
        if (w->moved >= w->n_levels)
                w->moved = 0;  /* back above the directory that moved */
}

static void walk_done(Walk *w) {
        while (w->n_levels > 0)
                level_pop(w);
        free(w->levels);
        glob_done(&w->target);
        guards_done(&w->earlier);
        free(w->path);
        free(w->segs);
        free(w->seg_off);
}

static void note_failure(Walk *w, int error, const char *what);

/* Reads what inotify told of the levels' moves. Returns false when events were lost. */
static bool read_moves(Walk *w) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool complete = true;
        ssize_t n;

        while ((n = read(w->inotify_fd, buf, sizeof buf)) > 0)
                for (ssize_t off = 0; off < n; ) {
                        const struct inotify_event *ev = (const struct inotify_event *) (buf + off);

                        off += sizeof *ev + ev->len;
                        if (ev->mask & IN_Q_OVERFLOW)
                                complete = false;
                        if (!(ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF)))
                                continue;  /* IN_IGNORED: a watch removed */
                        for (size_t i = 1; i < w->n_levels; i++)
                                if (w->levels[i].wd == ev->wd)
                                        w->levels[i].moved = true;
                }
        return complete && (n == 0 || errno == EAGAIN);
}

/* Is every directory the walk is inside still where it was, from the root down? If not, the
 * first that is not is remembered in w->moved and the walk leaves it (and everything below
 * it) without removing anything more there. */
static bool walk_in_place(Walk *w) {
        bool complete = w->inotify_fd >= 0 && read_moves(w);

        for (size_t i = 1; i < w->n_levels; i++) {
                const Level *l = &w->levels[i];
                Entry st;
                int r = 0;

                if (complete && l->wd >= 0 && !l->moved)
                        continue;
                if (!l->moved) {
                        r = stat_entry(w->levels[i - 1].fd, l->name, 0, &st);
                        if (r >= 0 && st.dev == l->dev && st.ino == l->ino)
                                continue;
                }
                if (r < 0 && r != -ENOENT)
                        note_failure(w, r, "cannot check the directories above");
                else
                        log_notice("A directory above %s moved while it was being removed; what it holds now is left alone.",
                                   w->path);
                w->moved = i;
                return false;
        }
        return true;
}

static bool seen_path(const Plan *plan, Kind kind, State state, const char *path) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == kind && plan->actions[i]->state == state &&
                    streq(plan->actions[i]->target, path))
                        return true;
        return false;
}

static void note_protected(Walk *w, const char *why) {
        if (!w->apply && w->ctx->list_paths)
                path_list_add(&w->action->paths, w->path, 0, PATH_PROTECTED, false);
        if (w->apply || seen_path(w->plan, KIND_FILES, STATE_PROTECTED, w->path))
                return;
        Action *a = plan_add(w->plan, KIND_FILES, VERB_REMOVE, w->path, STATE_PROTECTED);
        action_set_reason(a, "%s (matched by %s)", why, w->action->target);
}

static void note_failure(Walk *w, int error, const char *what) {
        Action *a;

        w->n_failed++;
        if (w->n_failed > MAX_FAILURES_LISTED)
                return;
        if (w->apply) {
                a = plan_add(w->plan, KIND_FILES, VERB_REMOVE, w->path, STATE_CHANGE);
                action_set_reason(a, "%s: %s", what, strerror(-error));
                plan_settle(w->ctx, w->plan, a, OUTCOME_FAILED, error);
        } else {
                a = plan_add(w->plan, KIND_FILES, VERB_REMOVE, w->path, STATE_IMPOSSIBLE);
                action_set_reason(a, "%s: %s", what, strerror(-error));
        }
}

/* Is this path covered by an earlier Remove= pattern? Then that pattern owns it. The
 * ancestors need checking only where the walk enters matched ground; below that, each level
 * checks itself on the way down. */
static bool owned_by_earlier(const Walk *w, bool ancestors) {
        return guards_match(&w->earlier, w->segs, w->n_segs, ancestors);
}

/* An entry an earlier pattern owns is gone by the time this pattern is applied, if that
 * pattern planned it. */
static bool planned_by_other(const Walk *w, const Entry *st) {
        if (w->apply)
                return false;
        for (size_t i = 0; i < w->pp->n_earlier; i++)
                if (inomap_get(&w->earlier_plans[w->pp->earlier[i]]->planned, st->dev, st->ino))
                        return true;
        return false;
}

/* A directory's entries, one after the other: the inode number and type the listing gives
 * (DT_UNKNOWN where the file system does not say), then the name and its NUL. */
typedef struct Names {
        char *buf;
        size_t len, allocated;
} Names;

typedef struct Listed {
        ino_t ino;
        unsigned char type;
        const char *name;
} Listed;

#define LISTED_HEADER (sizeof(ino_t) + 1)

static bool names_next(const Names *names, size_t *off, Listed *ret) {
        if (*off >= names->len)
                return false;
        memcpy(&ret->ino, names->buf + *off, sizeof(ino_t));
        ret->type = (unsigned char) names->buf[*off + sizeof(ino_t)];
        ret->name = names->buf + *off + LISTED_HEADER;
        *off += LISTED_HEADER + strlen(ret->name) + 1;
        return true;
}

/* Reads all entries first, with getdents64() on the walk's own descriptor (its offset is
 * not used for anything else): no second descriptor and no DIR buffer, so a deep tree
 * holds one descriptor per level and no more. */
static int read_names(int dir_fd, Names *ret) {
        char buf[32 * 1024] __attribute__((aligned(8)));
        Names names = {};

        for (;;) {
                ssize_t n = getdents64(dir_fd, buf, sizeof buf);
                if (n < 0) {
                        int r = negative_errno();
                        free(names.buf);
                        return r;
                }
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n; ) {
                        const struct dirent64 *de = (const struct dirent64 *) (buf + off);
                        size_t l = strlen(de->d_name) + 1;
                        ino_t ino = de->d_ino;

                        off += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (names.len + LISTED_HEADER + l > names.allocated) {
                                names.allocated = (names.len + LISTED_HEADER + l) * 2 + 256;
                                names.buf = xrealloc(names.buf, names.allocated);
                        }
                        memcpy(names.buf + names.len, &ino, sizeof ino);
                        names.buf[names.len + sizeof ino] = (char) de->d_type;
                        memcpy(names.buf + names.len + LISTED_HEADER, de->d_name, l);
                        names.len += LISTED_HEADER + l;
                }
        }
        *ret = names;
        return 0;
}

/* Counts what a directory's walk did with its entries. */
typedef struct DirResult {
        size_t entries;
} DirResult;

static bool walk_dir(Walk *w, int dir_fd, dev_t dev, bool matched, unsigned depth, DirResult *res);

/* Is the entry about to be removed the one the probe planned? The same inode and type, and
 * for a regular file the same size and change time (or the change time our removal of
 * another of its links gave it). */
static bool as_planned(Walk *w, const Entry *st) {
        const InoEntry *e = inomap_get(&w->pp->planned, st->dev, st->ino), *l;

        if (!e || e->mode != (st->mode & S_IFMT))
                return false;
        if (!S_ISREG(st->mode))
                return true;
        if (e->size != st->size)
                return false;
        if (e->ctime_sec == st->ctime.tv_sec && e->ctime_nsec == st->ctime.tv_nsec)
                return true;
        l = inomap_get(w->links, st->dev, st->ino);
        return l && l->ctime_sec == st->ctime.tv_sec && l->ctime_nsec == st->ctime.tv_nsec;
}

static void remember_change_time(Walk *w, int fd) {
        Entry st;

        if (stat_entry(fd, "", AT_EMPTY_PATH, &st) < 0 || st.nlink == 0)
                return;
        InoEntry *l = inomap_put(w->links, st.dev, st.ino, NULL);
        l->ctime_sec = st.ctime.tv_sec;
        l->ctime_nsec = st.ctime.tv_nsec;
}

/* Plan (probe) or remove (apply) one entry. Returns whether it is (to be) gone. */
static bool take(Walk *w, int dir_fd, const char *name, const Entry *st) {
        bool dir = S_ISDIR(st->mode);
        uint64_t bytes = st->bytes;

        if (!w->apply) {
                InoEntry *e = inomap_put(&w->pp->planned, st->dev, st->ino, NULL);

                e->bytes = bytes;
                e->nlink = dir ? 1 : st->nlink;
                e->mode = st->mode & S_IFMT;
                e->size = st->size;
                e->ctime_sec = st->ctime.tv_sec;
                e->ctime_nsec = st->ctime.tv_nsec;
                if (e->nlink <= 1)
                        w->action->bytes += bytes;  /* its only link: freed with it */
                else {
                        /* Freed only if every link goes: counted at the end of the probe. */
                        bool fresh;
                        InoEntry *l = inomap_put(w->links, st->dev, st->ino, &fresh);
                        if (fresh) {
                                l->bytes = bytes;
                                l->nlink = e->nlink;
                                l->owner = w->action;
                        }
                        l->links_seen++;
                }
                if (dir)
                        w->action->n_dirs++;
                else
                        w->action->n_files++;
                if (w->ctx->list_paths)
                        path_list_add(&w->action->paths, w->path, e->nlink <= 1 ? bytes : 0, PATH_REMOVED, dir);
                return true;
        }

        if (!as_planned(w, st))
                return false;  /* appeared, was replaced or written to after the plan: not ours */
        if (!walk_in_place(w))
                return false;

        /* Removing one link of a file changes its change time: what the next link is
         * compared with is read through a descriptor kept over the unlink. */
        _cleanup_close_ int kept = -1;
        if (!dir && st->nlink > 1)
                kept = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

        if (unlinkat(dir_fd, name, dir ? AT_REMOVEDIR : 0) < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        return true;
                if (dir && (r == -ENOTEMPTY || r == -EEXIST))
                        return false;  /* something new inside: keep it */
                note_failure(w, r, dir ? "cannot remove directory" : "cannot remove");
                return false;
        }
        if (kept >= 0)
                remember_change_time(w, kept);
        test_kill_point();
        if (dir || st->nlink <= 1)
                w->action->bytes += bytes;
        if (dir)
                w->action->n_dirs++;
        else
                w->action->n_files++;
        path_list_add(&w->action->paths, w->path, dir || st->nlink <= 1 ? bytes : 0, PATH_REMOVED, dir);
        return true;
}

static bool visit_dir(Walk *w, int dir_fd, const char *name, const Entry *st, bool matched, unsigned depth) {
        _cleanup_close_ int fd = -1;
        DirResult res = {};
        Entry st2;

        if (depth >= MAX_DEPTH) {
                note_failure(w, -ELOOP, "directory nesting too deep");
                return false;
        }
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int r = negative_errno();
                if (r != -ENOENT && r != -ELOOP && r != -ENOTDIR)
                        note_failure(w, r, "cannot open directory");
                return false;
        }
        int r = stat_entry(fd, "", AT_EMPTY_PATH, &st2);
        if (r < 0) {
                /* An I/O error is not a swap: say so rather than keep the directory quietly. */
                note_failure(w, r, "cannot stat directory");
                return false;
        }
        if (st2.dev != st->dev || st2.ino != st->ino)
                return false;  /* swapped while we looked: leave it */

        level_push(w, TAKE_FD(fd), name, st);
        bool all = walk_dir(w, w->levels[w->n_levels - 1].fd, st->dev, matched, depth + 1, &res);
        level_pop(w);
        if (!all)
                return false;

        /* A directory goes when everything in it went: one the pattern matched, or one
         * below the pattern's directory that the removal emptied. */
        if (!matched && res.entries == 0)
                return false;
        return take(w, dir_fd, name, st);
}

static bool visit(Walk *w, int dir_fd, const Listed *l, dev_t dev, bool matched_above, unsigned depth) {
        const Rails *r = w->rails;
        const char *name = l->name;
        Entry st;
        bool matched;
        int e;

        /* The name and the listing's type often decide alone: no statx() for what a pattern
         * passes by in a big directory. */
        matched = matched_above || glob_match_segs(&w->target, w->segs, w->n_segs);
        if (!matched && ((l->type != DT_DIR && l->type != DT_UNKNOWN) ||
                         !glob_may_match_below_segs(&w->target, w->segs, w->n_segs)))
                return false;

        e = stat_entry(dir_fd, name, 0, &st);
        if (e == -ENOENT)
                return true;  /* gone already */
        if (e < 0) {
                note_failure(w, e, "cannot stat");
                return false;
        }

        if (matched && owned_by_earlier(w, !matched_above))
                return planned_by_other(w, &st);
        if (!matched && !S_ISDIR(st.mode))
                return false;

        /* Each level checks only itself: the walk stopped above at any protected ancestor
         * (and walk_from() checked the ancestors of where it started). */
        if (guards_match(&r->protected, w->segs, w->n_segs, false) ||
            guards_match(&r->trees, w->segs, w->n_segs, false)) {
                if (matched)
                        note_protected(w, "protected path");
                return false;
        }
        if (r->libraries && bsearch(&w->path, r->libraries, r->n_libraries, sizeof(char *), cmp_strp)) {
                if (matched)
                        note_protected(w, "a binary or library the system runs on");
                return false;
        }
        if (guards_match(&r->keep, w->segs, w->n_segs, false)) {
                if (matched && !w->apply && w->ctx->list_paths)
                        path_list_add(&w->action->paths, w->path, 0, PATH_KEPT, S_ISDIR(st.mode));
                return false;
        }

        /* A file can be a mount point too (a bind mount): never removed. */
        if (is_mount_point(r, w->path, &st, dev)) {
                if (matched)
                        note_protected(w, "mount point");
                return false;
        }

        if (!S_ISDIR(st.mode))
                return matched && take(w, dir_fd, name, &st);
        return visit_dir(w, dir_fd, name, &st, matched, depth);
}

/* The entries for a pattern without glob characters: its own name alone. A policy of
 *100,000 such patterns must not list a directory 100,000 times. */
static void name_only(const char *name, Names *ret) {
        size_t l = strlen(name) + 1;

        *ret = (Names) { .buf = xcalloc(1, LISTED_HEADER + l), .len = LISTED_HEADER + l };
        ret->buf[sizeof(ino_t)] = (char) DT_UNKNOWN;
        memcpy(ret->buf + LISTED_HEADER, name, l);
}

static bool walk_dir(Walk *w, int dir_fd, dev_t dev, bool matched, unsigned depth, DirResult *res) {
        Names names;
        Listed l;
        bool all = true;
        int r = 0;

        if (depth == 0 && w->only)
                name_only(w->only, &names);
        else
                r = read_names(dir_fd, &names);
        if (r < 0) {
                note_failure(w, r, "cannot read directory");
                return false;
        }
        if (w->apply)
                test_pause_point(w->path);
        for (size_t off = 0; names_next(&names, &off, &l); ) {
                size_t saved = w->len;

                path_push(w, l.name);
                res->entries++;
                if (!visit(w, dir_fd, &l, dev, matched, depth))
                        all = false;
                path_pop(w, saved);
                if (w->moved) {
                        all = false;
                        break;  /* this directory, or one above, is no longer where it was */
                }
        }
        free(names.buf);
        return all;
}

/* Opens the pattern's directory one component at a time from the root, never following a
 * symlink, and keeps each level's descriptor for walk_in_place(). */
static int walk_from(Walk *w, const char *dir) {
        _cleanup_free_ char *copy = xstrdup(dir);
        char *save = NULL;
        DirResult res = {};
        Entry st;
        int r;

        path_reset(w, dir);
        if (guards_match(&w->rails->trees, w->segs, w->n_segs, true))
                return -EPERM;  /* the pattern starts inside a protected tree */

        r = stat_entry(w->ctx->root_fd, "", AT_EMPTY_PATH, &st);
        if (r < 0)
                return r;
        level_push(w, w->ctx->root_fd, NULL, &st);
        for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
                int fd = openat(w->levels[w->n_levels - 1].fd, s,
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        r = negative_errno();
                        if (r == -ENOENT)
                                return 0;
                        return r == -ELOOP || r == -ENOTDIR ? -ELOOP : r;
                }
                r = stat_entry(fd, "", AT_EMPTY_PATH, &st);
                if (r < 0) {
                        close(fd);
                        return r;
                }
                level_push(w, fd, s, &st);
        }

        walk_dir(w, w->levels[w->n_levels - 1].fd, st.dev, false, 0, &res);
        return 0;
}

/* Walks the pattern's tree and frees what the walk allocated. */
static int walk_pattern(Walk *w) {
        _cleanup_free_ char *dir = glob_literal_dir(w->action->target);
        int r;

        glob_compile(&w->target, w->action->target);
        if (!strpbrk(w->action->target, "*?[\\"))
                w->only = path_basename(w->action->target);
        for (size_t i = 0; i < w->pp->n_earlier; i++)
                guards_add(&w->earlier, w->ctx->policy->file_remove[w->pp->earlier[i]]);
        r = walk_from(w, dir);
        walk_done(w);
        return r;
}

/* One PatternPlan per Remove= pattern, each knowing the earlier patterns that matter to it. */
static PatternPlan **pattern_plans(const Policy *policy, size_t *ret_n) {
        size_t n = strv_length(policy->file_remove);
        LitDir *dirs = xcalloc(n ?: 1, sizeof(LitDir));
        PatternPlan **plans = xcalloc(n ?: 1, sizeof(PatternPlan *));

        for (size_t i = 0; i < n; i++)
                dirs[i] = (LitDir) { .dir = glob_literal_dir(policy->file_remove[i]), .index = i };
        qsort(dirs, n, sizeof(LitDir), litdir_cmp);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = glob_literal_dir(policy->file_remove[i]);
                plans[i] = xcalloc(1, sizeof(PatternPlan));
                plans[i]->index = i;
                find_earlier(plans[i], dirs, n, dir);
        }
        for (size_t i = 0; i < n; i++)
                free(dirs[i].dir);
        free(dirs);
        *ret_n = n;
        return plans;
}

static int files_probe(Context *ctx, Plan *plan) {
        Rails rails = {};
        InoMap links = {};
        PatternPlan **plans;
        size_t n;

        if (!ctx->policy->file_remove)
                return 0;
        rails_load(ctx, &rails);
        plans = pattern_plans(ctx->policy, &n);

        for (size_t i = 0; i < n; i++) {
                Action *a = plan_add(plan, KIND_FILES, VERB_REMOVE, ctx->policy->file_remove[i], STATE_CHANGE);
                PatternPlan *pp = plans[i];
                Walk w = {
                        .ctx = ctx, .plan = plan, .rails = &rails, .action = a,
                        .pp = pp, .links = &links, .earlier_plans = plans, .inotify_fd = -1,
                };
                int r;

                a->data = pp;
                a->free_data = pattern_plan_free;

                r = walk_pattern(&w);
                if (r == -EPERM) {
                        a->state = STATE_PROTECTED;
                        action_set_reason(a, "lies inside a protected directory");
                } else if (r == -ELOOP) {
                        a->state = STATE_IMPOSSIBLE;
                        action_set_reason(a, "its directory is reached through a symlink; name the real path");
                } else if (r < 0) {
                        a->state = STATE_IMPOSSIBLE;
                        action_set_reason(a, "cannot read its directory: %s", strerror(-r));
                } else if (pp->planned.n == 0) {
                        a->state = STATE_UNCHANGED;
                        action_set_reason(a, "nothing left to remove");
                }
        }

        /* Bytes are freed only when every link of an inode goes; each inode counts once,
         * for the pattern that met it first. */
        INOMAP_FOREACH(l, &links)
                if (l->links_seen >= l->nlink)
                        ((Action *) l->owner)->bytes += l->bytes;

        inomap_done(&links);
        free(plans);
        rails_done(&rails);
        return 0;
}

static const Action *failed_exclusion(const Plan *plan) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == KIND_FILES && a->verb == VERB_EXCLUDE && a->outcome == OUTCOME_FAILED)
                        return a;
        }
        return NULL;
}

static int files_apply(Context *ctx, Plan *plan) {
        Rails rails = {};
        InoMap links = {};
        size_t n = plan->n_actions;
        int ret = 0;

        if (!ctx->policy->file_remove)
                return 0;
        rails_load(ctx, &rails);
        /* Without inotify (no /proc, or out of watches), each level is looked up again. */
        _cleanup_close_ int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

        for (size_t i = 0; i < n && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                Walk w = {
                        .ctx = ctx, .plan = plan, .rails = &rails, .action = a,
                        .pp = a->data, .links = &links, .apply = true, .inotify_fd = inotify_fd,
                };
                int r;

                if (a->kind != KIND_FILES || a->verb != VERB_REMOVE || !action_begin(ctx, plan, a))
                        continue;

                /* PreventReinstall=: without the exclusion, an update would bring the files
                 * back; nothing is removed until it is in place. */
                const Action *x = failed_exclusion(plan);
                if (x) {
                        action_fail(ctx, plan, a, x->error, "not removed: the package manager exclusion %s "
                                    "could not be written (%s)", x->target, strempty(x->reason));
                        RET_GATHER(ret, -EIO);
                        continue;
                }
                a->bytes = a->n_files = a->n_dirs = 0;
                path_list_done(&a->paths);
                r = walk_pattern(&w);
                if (r < 0)
                        action_set_reason(a, "cannot open its directory: %s", strerror(-r));
                else if (w.n_failed > 0)
                        action_set_reason(a, "%u entries could not be removed", w.n_failed);
                if (r < 0 || w.n_failed > 0)
                        RET_GATHER(ret, r < 0 ? r : -EIO);
                plan_settle(ctx, plan, a, r < 0 || w.n_failed > 0 ? OUTCOME_FAILED : OUTCOME_DONE, r);
                log_debug("Removed %" PRIu64 " files and %" PRIu64 " directories for %s.",
                          a->n_files, a->n_dirs, a->target);
        }

        inomap_done(&links);
        rails_done(&rails);
        if (!ctx->dry_run) {
                _cleanup_free_ char *path = NULL;
                int r = manifest_write(ctx, plan, (double) time(NULL), &path);
                if (r < 0) {
                        plan_add_error(plan, "cannot write the manifest %s: %s", strempty(path), owned_file_strerror(r));
                        RET_GATHER(ret, r);
                }
        }
        return ret;
}

bool files_plan_removes(const Plan *plan, uint64_t dev, uint64_t ino) {
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                if (a->kind == KIND_FILES && a->verb == VERB_REMOVE && a->state == STATE_CHANGE && a->data &&
                    inomap_get(&((PatternPlan *) a->data)->planned, dev, ino))
                        return true;
        }
        return false;
}

const Executor files_executor = {
        .kind = KIND_FILES,
        .name = "files",
        .probe = files_probe,
        .apply = files_apply,
};
