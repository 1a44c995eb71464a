/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "macro.h"

static int connect_private(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_connect_systemd(sd_bus **ret) {
        int r;

        if (geteuid() == 0 && access("/run/systemd/private", F_OK) >= 0) {
                r = connect_private(ret);
                if (r >= 0)
                        return r;
        }
        return sd_bus_open_system(ret);
}

const char *bus_error_message(const sd_bus_error *e, int r) {
        if (e && e->message)
                return e->message;
        return strerror(r < 0 ? -r : r);
}
