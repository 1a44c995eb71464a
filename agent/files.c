/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <libmount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "executor.h"
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
 * probe planned, so anything that appeared or was swapped in between is left alone. */

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
        bool mount_root;       /* the kernel says it is the root of a mount */
} Entry;

/* name relative to dir_fd, never followed; "" with AT_EMPTY_PATH is dir_fd itself. */
static int stat_entry(int dir_fd, const char *name, int flags, Entry *ret) {
        struct statx sx;

        if (statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
                  STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_BLOCKS, &sx) < 0)
                return negative_errno();
        *ret = (Entry) {
                .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .ino = sx.stx_ino,
                .mode = sx.stx_mode,
                .nlink = sx.stx_nlink,
                .bytes = sx.stx_blocks * 512,
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

typedef struct Walk {
        Context *ctx;
        Plan *plan;
        const Rails *rails;
        Action *action;
        PatternPlan *pp;
        InoMap *links;         /* probe: links seen per hard-linked inode, over all patterns */
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

static void walk_done(Walk *w) {
        glob_done(&w->target);
        guards_done(&w->earlier);
        free(w->path);
        free(w->segs);
        free(w->seg_off);
}

static bool seen_path(const Plan *plan, Kind kind, State state, const char *path) {
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == kind && plan->actions[i]->state == state &&
                    streq(plan->actions[i]->target, path))
                        return true;
        return false;
}

static void note_protected(Walk *w, const char *why) {
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

/* Plan (probe) or remove (apply) one entry. Returns whether it is (to be) gone. */
static bool take(Walk *w, int dir_fd, const char *name, const Entry *st) {
        bool dir = S_ISDIR(st->mode);
        uint64_t bytes = st->bytes;

        if (!w->apply) {
                InoEntry *e = inomap_put(&w->pp->planned, st->dev, st->ino, NULL);

                e->bytes = bytes;
                e->nlink = dir ? 1 : st->nlink;
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
                return true;
        }

        if (!inomap_get(&w->pp->planned, st->dev, st->ino))
                return false;  /* appeared or was replaced after the plan: not ours */

        if (unlinkat(dir_fd, name, dir ? AT_REMOVEDIR : 0) < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        return true;
                if (dir && (r == -ENOTEMPTY || r == -EEXIST))
                        return false;  /* something new inside: keep it */
                note_failure(w, r, dir ? "cannot remove directory" : "cannot remove");
                return false;
        }
        test_kill_point();
        if (dir || st->nlink <= 1)
                w->action->bytes += bytes;
        if (dir)
                w->action->n_dirs++;
        else
                w->action->n_files++;
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

        if (!walk_dir(w, fd, st->dev, matched, depth + 1, &res))
                return false;

        /* A directory goes when everything in it went: one the pattern matched, or one
         * below the pattern's directory that the removal emptied. */
        if (!matched && res.entries == 0)
                return false;
        return take(w, dir_fd, name, st);
}

/* Apply checks each entry against the plan. For a file with a single link that the probe
 * planned, the listing says enough: its inode number is the st_ino a stat would return (a
 * mount point's is not, and mount points are found by path below, or refused by the
 * kernel), and its size is the one the probe saw. That saves a statx() for every file
 * removed, about as much as the rest of the walk costs. Directories are stat'ed (they are
 * opened next), and so are hard-linked files, whose bytes count once their last link goes. */
static bool listed_as_planned(const Walk *w, dev_t dev, const Listed *l, Entry *ret) {
        const InoEntry *e;

        if (!w->apply || l->type == DT_UNKNOWN || l->type == DT_DIR)
                return false;
        e = inomap_get(&w->pp->planned, dev, l->ino);
        if (!e || e->nlink > 1)
                return false;
        *ret = (Entry) { .dev = dev, .ino = l->ino, .mode = DTTOIF(l->type), .nlink = e->nlink, .bytes = e->bytes };
        return true;
}

static bool visit(Walk *w, int dir_fd, const Listed *l, dev_t dev, bool matched_above, unsigned depth) {
        const Rails *r = w->rails;
        const char *name = l->name;
        Entry st;
        bool matched;
        int e;

        if (!listed_as_planned(w, dev, l, &st)) {
                e = stat_entry(dir_fd, name, 0, &st);
                if (e == -ENOENT)
                        return true;  /* gone already */
                if (e < 0) {
                        note_failure(w, e, "cannot stat");
                        return false;
                }
        }

        matched = matched_above || glob_match_segs(&w->target, w->segs, w->n_segs);
        if (matched && owned_by_earlier(w, !matched_above))
                return planned_by_other(w, &st);

        if (!matched && !(S_ISDIR(st.mode) && glob_may_match_below_segs(&w->target, w->segs, w->n_segs)))
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
        if (guards_match(&r->keep, w->segs, w->n_segs, false))
                return false;

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

static bool walk_dir(Walk *w, int dir_fd, dev_t dev, bool matched, unsigned depth, DirResult *res) {
        Names names;
        Listed l;
        bool all = true;
        int r;

        r = read_names(dir_fd, &names);
        if (r < 0) {
                note_failure(w, r, "cannot read directory");
                return false;
        }
        for (size_t off = 0; names_next(&names, &off, &l); ) {
                size_t saved = w->len;

                path_push(w, l.name);
                res->entries++;
                if (!visit(w, dir_fd, &l, dev, matched, depth))
                        all = false;
                path_pop(w, saved);
        }
        free(names.buf);
        return all;
}

static int walk_from(Walk *w, const char *dir) {
        _cleanup_close_ int fd = -1;
        DirResult res = {};
        Entry st;
        int r;

        path_reset(w, dir);
        if (guards_match(&w->rails->trees, w->segs, w->n_segs, true))
                return -EPERM;  /* the pattern starts inside a protected tree */

        fd = open_beneath_nofollow(w->ctx->root_fd, dir, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT)
                return 0;
        if (fd == -ELOOP || fd == -ENOTDIR)
                return -ELOOP;
        if (fd < 0)
                return fd;
        r = stat_entry(fd, "", AT_EMPTY_PATH, &st);
        if (r < 0)
                return r;

        walk_dir(w, fd, st.dev, false, 0, &res);
        return 0;
}

/* Walks the pattern's tree and frees what the walk allocated. */
static int walk_pattern(Walk *w) {
        _cleanup_free_ char *dir = glob_literal_dir(w->action->target);
        int r;

        glob_compile(&w->target, w->action->target);
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
                        .pp = pp, .links = &links, .earlier_plans = plans,
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
        size_t n = plan->n_actions;
        int ret = 0;

        if (!ctx->policy->file_remove)
                return 0;
        rails_load(ctx, &rails);

        for (size_t i = 0; i < n && !plan->stopped; i++) {
                Action *a = plan->actions[i];
                Walk w = { .ctx = ctx, .plan = plan, .rails = &rails, .action = a, .pp = a->data, .apply = true };
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

        rails_done(&rails);
        return ret;
}

const Executor files_executor = {
        .kind = KIND_FILES,
        .name = "files",
        .probe = files_probe,
        .apply = files_apply,
};
