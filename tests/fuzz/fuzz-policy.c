/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy parser: any bytes, parsed twice into one policy (so the
 * merge paths run too), then every glob the policy holds matched against a few paths. */
#include <stddef.h>
#include <stdint.h>

#include "glob.h"
#include "macro.h"
#include "policy.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char * const paths[] = {
                "/usr/share/doc/bash/copyright", "/usr/share/locale/de/LC_MESSAGES/a.mo",
                "/etc/passwd", "/", "/a/b/c/d/e/f/g/h",
        };
        Policy p = {};

        if (size > 64 * 1024)
                return 0;

        (void) policy_parse_buffer(&p, "fuzz-a.conf", (const char *) data, size);
        (void) policy_parse_buffer(&p, "fuzz-b.conf", (const char *) data, size);

        STRV_FOREACH(pattern, p.file_remove)
                for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                        (void) glob_match_path(*pattern, paths[i]);
                        (void) glob_may_match_below(*pattern, paths[i]);
                }
        STRV_FOREACH(pattern, p.file_keep)
                free(glob_literal_dir(*pattern));

        policy_done(&p);
        return 0;
}
