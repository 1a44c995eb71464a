/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path resolution inside a tree: where openat2() cannot be used (older kernels, or systemd's
 * RestrictSUIDSGID=, under which the first-boot service runs), open_in_root() resolves
 * paths itself. It must agree with the kernel's RESOLVE_IN_ROOT on every case: the same
 * file, or the same error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "tests.h"

static int kernel_open(int root_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

static void make_tree(const char *t) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "set -e; cd '%s'; mkdir -p usr/lib/systemd/system etc dir/sub; "
                 "echo unit >usr/lib/systemd/system/a.service; echo f >file; "
                 "ln -s usr/lib lib; ln -s /usr/lib abs; ln -s ../../../.. up; ln -s ../.. dir/sub/up2; "
                 "ln -s loop2 loop1; ln -s loop1 loop2; ln -s /nonexistent dangling; "
                 "ln -s ../lib/systemd usr/lib/rel; ln -s ../usr/lib/systemd/system/a.service etc/unit; "
                 "ln -s /etc/unit etc/unit2; ln -s file filelink; ln -s dir/sub/up2/lib deep",
                 t);
        if (system(cmd) != 0)
                exit(EXIT_FAILURE);
}

static bool same_result(int a, int b, char *why, size_t n) {
        struct stat sa, sb;

        if (a < 0 || b < 0) {
                snprintf(why, n, "kernel %s, fallback %s", a < 0 ? strerror(-a) : "a file", b < 0 ? strerror(-b) : "a file");
                return a == b;
        }
        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
                return false;
        snprintf(why, n, "kernel inode %lu, fallback inode %lu", (unsigned long) sa.st_ino, (unsigned long) sb.st_ino);
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int main(void) {
        static const char * const paths[] = {
                "/", "", ".", "/usr/lib/systemd/system", "/lib/systemd/system", "/abs/systemd/system",
                "/up/usr/lib", "/dir/sub/up2/file", "/deep/systemd", "/loop1", "/loop1/x", "/dangling",
                "/dangling/x", "/usr/lib/rel/system/a.service", "/etc/unit", "/etc/unit2", "/filelink",
                "/usr/../../../usr/lib", "//usr//lib/", "/usr/lib/.", "/usr/lib/..", "/..", "../..",
                "/file/x", "/nonexistent/x", "/lib/", "/usr/lib/systemd/system/a.service/",
                "/lib/systemd/system/a.service", "lib/../lib/./systemd",
        };
        static const int flags[] = { O_RDONLY, O_RDONLY | O_DIRECTORY, O_RDONLY | O_NOFOLLOW, O_PATH };
        char tmpl[] = "/tmp/test-fs-util.XXXXXX", why[256], cmd[4096];
        const char *t = mkdtemp(tmpl);
        int root_fd, probe;

        if (!t)
                return EXIT_FAILURE;
        make_tree(t);
        root_fd = open(t, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        probe = kernel_open(root_fd, "/", O_RDONLY);
        if (probe == -ENOSYS) {
                printf("SKIP: this kernel has no openat2() to compare with\n");
                return 77;
        }
        close(probe);

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
                for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
                        char name[256];
                        int a = kernel_open(root_fd, paths[i], flags[f]);
                        int b = open_in_root_fallback(root_fd, paths[i], flags[f], 0);
                        snprintf(name, sizeof name, "'%s' with flags %#o resolves as the kernel does", paths[i], flags[f]);
                        check(same_result(a, b, why, sizeof why), name, "%s", why);
                        if (a >= 0)
                                close(a);
                        if (b >= 0)
                                close(b);
                }

        close(root_fd);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t);
        (void) !system(cmd);
        return tests_finish();
}
