/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>

#include "unit-path.h"

const char * const unit_search_path[] = {
        "/run/systemd/generator.early",
        "/etc/systemd/system",
        "/run/systemd/system",
        "/run/systemd/generator",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
        "/run/systemd/generator.late",
        NULL,
};
