/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "fs-util.h"
#include "macro.h"

static int openat2_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        return fd < 0 ? negative_errno() : fd;
}

/* Walks path one directory at a time, refusing any symlink: open_beneath_nofollow() where
 * openat2() is missing, and the walk over already resolved paths below. */
static int readlinkat_malloc(int dir_fd, const char *name, char **ret) {
        char buf[4096];
        ssize_t n = readlinkat(dir_fd, name, buf, sizeof buf - 1);

        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        *ret = xstrdup(buf);
        return 0;
}

static int openat_nofollow_walk(int root_fd, const char *path, int flags, mode_t mode) {
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ char *copy = xstrdup(path);
        char *p = copy, *slash;

        dir_fd = openat(root_fd, ".", O_DIRECTORY | O_CLOEXEC | O_RDONLY);
        if (dir_fd < 0)
                return negative_errno();

        while (*p == '/')
                p++;
        if (!*p)
                return TAKE_FD(dir_fd);

        while ((slash = strchr(p, '/'))) {
                int fd;

                *slash = 0;
                fd = openat(dir_fd, p, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_RDONLY);
                if (fd < 0)
                        return negative_errno();
                close(dir_fd);
                dir_fd = fd;
                p = slash + 1;
                while (*p == '/')
                        p++;
        }

        int fd = openat(dir_fd, *p ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
        return fd < 0 ? negative_errno() : fd;
}

int open_beneath_nofollow(int root_fd, const char *path, int flags) {
        static bool have_openat2 = true;

        if (have_openat2) {
                struct open_how how = {
                        .flags = (uint64_t) (flags | O_CLOEXEC | O_NOFOLLOW),
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                };
                while (*path == '/')
                        path++;
                int fd = (int) syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof how);
                if (fd >= 0 || errno != ENOSYS)
                        return fd < 0 ? negative_errno() : fd;
                have_openat2 = false;
        }
        return openat_nofollow_walk(root_fd, path, flags, 0);
}

/* Opens the directory at the resolved in-tree path done (no symlinks in it), from the root. */
static int reopen_resolved(int root_fd, const char *done) {
        return openat_nofollow_walk(root_fd, *done ? done : "/", O_DIRECTORY | O_RDONLY, 0);
}

/* Continues the walk at a symlink's target: from the root for an absolute one, from the
 * link's directory for a relative one; the rest of the path follows it. */
static int follow_link(int root_fd, int *dir_fd, char **todo, char **p, char *done, const char *target) {
        char *rest = **p ? xasprintf("%s/%s", target, *p) : xstrdup(target);

        free(*todo);
        *todo = *p = rest;
        if (target[0] != '/')
                return 0;
        done[0] = 0;
        close(*dir_fd);
        *dir_fd = reopen_resolved(root_fd, "");
        return *dir_fd < 0 ? *dir_fd : 0;
}

int open_in_root_fallback(int root_fd, const char *path, int flags, mode_t mode) {
        _cleanup_free_ char *todo = xstrdup(path), *done = xstrdup("");
        _cleanup_close_ int dir_fd = -1;
        unsigned links = 0;
        char *p = todo;
        int r;

        if (!*path)
                return -ENOENT;
        dir_fd = reopen_resolved(root_fd, "");
        if (dir_fd < 0)
                return dir_fd;
        for (;;) {
                while (*p == '/')
                        p++;
                char *end = strchrnul(p, '/');
                bool last = !end[strspn(end, "/")], trailing = last && *end == '/';
                _cleanup_free_ char *name = xstrndup(p, end - p), *target = NULL;
                p = end;

                if (streq(name, "..")) {
                        /* Up, but never above the root, as the kernel does in a chroot. */
                        char *slash = strrchr(done, '/');
                        if (slash)
                                *slash = 0;
                        close(dir_fd);
                        dir_fd = reopen_resolved(root_fd, done);
                        if (dir_fd < 0)
                                return dir_fd;
                }
                if (!last && (!*name || streq(name, ".") || streq(name, "..")))
                        continue;
                const char *n = !*name || streq(name, "..") ? "." : name;

                /* A symlink is followed, but for the last component with O_NOFOLLOW (a
                 * trailing slash still follows it, as the kernel does). */
                if ((!last || trailing || !(flags & O_NOFOLLOW)) && readlinkat_malloc(dir_fd, n, &target) >= 0) {
                        if (++links > 40)
                                return -ELOOP;
                        r = follow_link(root_fd, &dir_fd, &todo, &p, done, target);
                        if (r < 0)
                                return r;
                        continue;
                }
                int fd = openat(dir_fd, n, (last ? flags | (trailing ? O_DIRECTORY : 0) : O_DIRECTORY | O_RDONLY) |
                                O_NOFOLLOW | O_CLOEXEC, last ? mode : 0);
                if (fd < 0)
                        return negative_errno();
                if (last)
                        return fd;
                char *more = xasprintf("%s/%s", done, name);
                free(done);
                done = more;
                close(dir_fd);
                dir_fd = fd;
        }
}

int open_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        static bool have_openat2 = true;
        int fd;

        /* openat2() is missing on kernels before 5.6, and systemd's RestrictSUIDSGID=
         * makes it fail with ENOSYS (its filter cannot see the mode inside open_how). */
        if (have_openat2) {
                fd = openat2_in_root(root_fd, path, flags, mode);
                if (fd != -ENOSYS)
                        return fd;
                have_openat2 = false;
        }
        return open_in_root_fallback(root_fd, path, flags, mode);
}

DIR *opendir_in_root(int root_fd, const char *path) {
        int fd = open_in_root(root_fd, path, O_DIRECTORY | O_RDONLY, 0);
        DIR *d;

        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        d = fdopendir(fd);
        if (!d) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return d;
}

const char *path_basename(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        return xasprintf("%.*s/%s", (int) la, a, b);
}

char *path_normalize(const char *p) {
        char *r = xmalloc(strlen(p) + 2), *o = r;

        *o = 0;
        for (const char *s = p; *s; ) {
                while (*s == '/')
                        s++;
                const char *e = strchrnul(s, '/');
                size_t n = e - s;
                if (n == 0 || (n == 1 && s[0] == '.'))
                        ;
                else if (n == 2 && s[0] == '.' && s[1] == '.') {
                        char *slash = strrchr(r, '/');
                        o = slash ? slash : r;
                        *o = 0;
                } else {
                        *o++ = '/';
                        memcpy(o, s, n);
                        o += n;
                        *o = 0;
                }
                s = e;
        }
        if (o == r)
                strcpy(r, "/");
        return r;
}

bool path_is_safe_absolute(const char *p) {
        if (!p || p[0] != '/')
                return false;
        for (const char *s = p; *s; s++) {
                if (s[0] == '/' && s[1] == '/')
                        return false;
                if (s[0] == '/' && s[1] == '.' && (s[2] == '/' || s[2] == 0))
                        return false;
                if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == 0))
                        return false;
        }
        return true;
}

/* A rename, link or unlink is durable once its directory is synced: an error there (EIO)
 * means the change may not survive a power cut. A file system that cannot sync a
 * directory at all says EINVAL; there is nothing more to do. */
static int fsync_dir(int dir_fd) {
        if (fsync(dir_fd) >= 0 || errno == EINVAL)
                return 0;
        return negative_errno();
}

static int mkdir_parents(int root_fd, const char *dir) {
        _cleanup_free_ char *copy = xstrdup(dir);

        for (char *s = copy + 1; ; s++) {
                bool end = *s == 0;
                if (*s != '/' && !end)
                        continue;
                *s = 0;
                _cleanup_close_ int parent = -1;
                const char *name;
                int r = open_parent_in_root(root_fd, copy, false, &name);
                if (r < 0)
                        return r;
                parent = r;
                if (mkdirat(parent, name, 0755) >= 0) {
                        /* 0755 whatever the umask (a run under "umask 077" made 0700
                         * directories nothing else could read), and durable. */
                        if (fchmodat(parent, name, 0755, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOTSUP)
                                return negative_errno();
                        r = fsync_dir(parent);
                        if (r < 0)
                                return r;
                } else if (errno != EEXIST)
                        return negative_errno();
                if (end)
                        return 0;
                *s = '/';
        }
}

int open_parent_in_root(int root_fd, const char *path, bool create, const char **ret_name) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/');
        int fd;

        if (!slash || !slash[1])
                return -EINVAL;
        dir = slash == path ? xstrdup("/") : xstrndup(path, slash - path);

        fd = open_in_root(root_fd, dir, O_DIRECTORY | O_RDONLY, 0);
        if (fd == -ENOENT && create) {
                int r = mkdir_parents(root_fd, dir);
                if (r < 0)
                        return r;
                fd = open_in_root(root_fd, dir, O_DIRECTORY | O_RDONLY, 0);
        }
        if (fd >= 0 && ret_name)
                *ret_name = slash + 1;
        return fd;
}

static int read_fd(int fd, size_t max, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, allocated = 0;
        struct stat st;

        /* Opened with O_NONBLOCK, so that a FIFO where a file is expected cannot hang the
         * run; it is refused here. */
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;

        for (;;) {
                if (allocated - n < 4096) {
                        allocated = allocated * 2 + 4096;
                        buf = xrealloc(buf, allocated + 1);
                }
                ssize_t k = read(fd, buf + n, allocated - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += k;
                if (n > max)
                        return -EFBIG;
        }
        if (!buf)
                buf = xmalloc(1);
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return (int) (n > INT32_MAX ? INT32_MAX : n);
}

int read_file_in_root(int root_fd, const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        return read_fd(fd, max, ret);
}

int read_owned_file_in_root(int root_fd, const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, 0);
        if (fd < 0)
                return fd;
        return read_fd(fd, max, ret);
}

const char *owned_file_strerror(int r) {
        switch (r) {
        case -ELOOP:
                return "it is a symbolic link, not a file dpuos-trim wrote";
        case -EISDIR:
                return "it is a directory, not a file dpuos-trim wrote";
        case -EBADFD:
                return "it is not a regular file";
        case -EFBIG:
                return "it is too large";
        default:
                return strerror(-r);
        }
}

int read_file_host(const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        return read_fd(fd, max, ret);
}

static int loop_write(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= k;
        }
        return 0;
}

static char *tmp_name(const char *name) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return xasprintf(".#%s%08lx%04x", name,
                         (unsigned long) (ts.tv_nsec ^ ts.tv_sec), (unsigned) getpid() & 0xffff);
}

/* A power cut between creating a temporary file and renaming it leaves ".#NAME…" behind;
 * the next write of NAME clears it away. */
static void remove_stale_temporaries(int dir_fd, const char *name) {
        _cleanup_free_ char *prefix = xasprintf(".#%s", name);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd = dup(dir_fd);

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (startswith(de->d_name, prefix) && de->d_type == DT_REG)
                        (void) unlinkat(dir_fd, de->d_name, 0);
}

int write_file_atomic_in_root(int root_fd, const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *old = NULL, *tmp = NULL;
        _cleanup_close_ int dir_fd = -1, fd = -1;
        const char *name;
        int r;

        r = read_owned_file_in_root(root_fd, path, 16 * 1024 * 1024, &old);
        if (r >= 0 && streq(old, content))
                return 0;
        if (r < 0 && r != -ENOENT)
                return r;

        dir_fd = open_parent_in_root(root_fd, path, true, &name);
        if (dir_fd < 0)
                return dir_fd;

        remove_stale_temporaries(dir_fd, name);
        tmp = tmp_name(name);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();

        r = loop_write(fd, content, strlen(content));
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        r = fsync_dir(dir_fd);
        return r < 0 ? r : 1;
}

int symlink_in_root(int root_fd, const char *target, const char *path) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;

        dir_fd = open_parent_in_root(root_fd, path, true, &name);
        if (dir_fd < 0)
                return dir_fd;
        if (symlinkat(target, dir_fd, name) < 0)
                return negative_errno();
        return fsync_dir(dir_fd);
}

int unlink_in_root(int root_fd, const char *path) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;

        dir_fd = open_parent_in_root(root_fd, path, false, &name);
        if (dir_fd == -ENOENT)
                return 0;
        if (dir_fd < 0)
                return dir_fd;
        if (unlinkat(dir_fd, name, 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return fsync_dir(dir_fd);
}

int readlink_in_root(int root_fd, const char *path, char **ret) {
        _cleanup_close_ int dir_fd = -1;
        const char *name;
        char buf[4096];
        ssize_t n;

        dir_fd = open_parent_in_root(root_fd, path, false, &name);
        if (dir_fd < 0)
                return dir_fd;
        n = readlinkat(dir_fd, name, buf, sizeof buf - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        *ret = xstrdup(buf);
        return 0;
}
