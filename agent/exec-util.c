/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>

#include "exec-util.h"
#include "macro.h"
#include "strv.h"

extern char **environ;

/* environ with the extra NAME=value strings, which replace the variables of those names. */
static char **env_merge(char * const *extra) {
        char **e = NULL;

        STRV_FOREACH(x, extra)
                strv_extend(&e, *x);
        for (char **v = environ; v && *v; v++) {
                bool replaced = false;
                STRV_FOREACH(x, extra) {
                        size_t n = strcspn(*x, "=");
                        replaced = replaced || (strncmp(*v, *x, n) == 0 && (*v)[n] == '=');
                }
                if (!replaced)
                        strv_extend(&e, *v);
        }
        return e;
}

int spawn_capture(char * const *argv, size_t max, char **ret_out) {
        return spawn_capture_env(argv, NULL, false, max, ret_out);
}

int spawn_capture_env(char * const *argv, char * const *env, bool merge, size_t max, char **ret_out) {
        _cleanup_strv_free_ char **envp = env ? env_merge(env) : NULL;
        posix_spawn_file_actions_t fa;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, allocated = 0;
        int pipefd[2], status, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        if (merge)
                posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        else
                posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ?: environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return -r;
        }

        for (;;) {
                if (allocated - n < 4096) {
                        allocated = allocated * 2 + 4096;
                        buf = xrealloc(buf, allocated + 1);
                }
                ssize_t k = read(pipefd[0], buf + n, allocated - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        break;
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();

        buf[n] = 0;
        *ret_out = TAKE_PTR(buf);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *output_last_line(const char *out) {
        _cleanup_free_ char *copy = xstrdup(strempty(out));
        size_t n = strlen(copy);

        while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == ' ' || copy[n - 1] == '\t'))
                copy[--n] = 0;
        const char *l = strrchr(copy, '\n');
        return xstrdup(l ? l + 1 : copy);
}
