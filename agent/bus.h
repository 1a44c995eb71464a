/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"

/* Connects to the system manager: as root over its private socket first, which works before
 * dbus-daemon runs (early boot, where the first-boot service runs), then the system bus. */
int bus_connect_systemd(sd_bus **ret);

/* A readable reason from a failed call: the error's message, else strerror. */
const char *bus_error_message(const sd_bus_error *e, int r);
