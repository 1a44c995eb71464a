/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>

#include "log.h"

static int max_level = LOG_INFO;
static int kmsg_fd = -1;

/* Generators run with their standard error closed off (PID 1 gives them /dev/null): as
 * systemd's own do, they log to the kernel log, which the journal imports. */
void log_open_kmsg(void) {
        kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_internal(int level, int error, const char *fmt, ...) {
        int e = error < 0 ? -error : error;
        va_list ap;

        if (level > max_level)
                return error < 0 ? error : -e;

        /* One write per message: the kernel log takes each write as one record. */
        char buf[2048];
        int n = 0;
        if (kmsg_fd >= 0)
                n = snprintf(buf, sizeof buf, "<%d>", level);
        errno = e;
        va_start(ap, fmt);
        n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
        va_end(ap);
        if (n > (int) sizeof buf - 2)
                n = sizeof buf - 2;
        buf[n++] = '\n';
        (void) !write(kmsg_fd >= 0 ? kmsg_fd : STDERR_FILENO, buf, n);
        return -e;
}
