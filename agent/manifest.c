/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "executor.h"
#include "fs-util.h"
#include "json.h"
#include "macro.h"
#include "manifest.h"
#include "strv.h"

/* Each application that removes files appends a manifest of them: one line per path,
 * "PATH<TAB>BYTES<TAB>PACKAGE", so that a later audit, or a reinstall of their owners, is
 * possible. The owner is what dpkg's file lists say (rpm's database is not read: "-"). */

typedef struct Removed {
        const PathEntry *entry;
        const char *owner;      /* points into owners */
} Removed;

static int removed_cmp(const void *a, const void *b) {
        return strcmp(((const Removed *) a)->entry->path, ((const Removed *) b)->entry->path);
}

static int removed_find(const void *key, const void *b) {
        return strcmp(key, ((const Removed *) b)->entry->path);
}

/* dpkg's /var/lib/dpkg/info/PACKAGE[:ARCH].list: the paths each package installed. */
static void find_owners(Context *ctx, Removed *v, size_t n, char ***owners) {
        _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, "/var/lib/dpkg/info");
        struct dirent *de;

        while (d && (de = readdir(d))) {
                if (!endswith(de->d_name, ".list"))
                        continue;
                _cleanup_free_ char *path = xasprintf("/var/lib/dpkg/info/%s", de->d_name), *text = NULL;
                if (read_file_in_root(ctx->root_fd, path, 64 * 1024 * 1024, &text) < 0)
                        continue;
                size_t len = strlen(de->d_name) - strlen(".list");
                char *pkg = xstrndup(de->d_name, MIN(len, strcspn(de->d_name, ":")));
                strv_push(owners, pkg);
                char *save = NULL;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        Removed *r = bsearch(l, v, n, sizeof(Removed), removed_find);
                        if (r && !r->owner)
                                r->owner = pkg;
                }
        }
}

static char *manifest_text(const Context *ctx, Removed *v, size_t n) {
        size_t size = 0;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fprintf(f, "# dpuos-trim: the paths policy \"%s\" removed; PATH<TAB>BYTES<TAB>PACKAGE (a directory ends in '/';\n"
                   "# '-': no package's file list names it). See dpuos-trim(8), FILES.\n",
                ctx->policy->name ?: "unnamed");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = text_escape(v[i].entry->path);
                fprintf(f, "%s%s\t%" PRIu64 "\t%s\n", p, v[i].entry->dir ? "/" : "", v[i].entry->bytes,
                        v[i].owner ?: "-");
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int manifest_write(Context *ctx, const Plan *plan, double started, char **ret_path) {
        _cleanup_strv_free_ char **owners = NULL;
        _cleanup_free_ Removed *v = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0, k = 0;
        char stamp[32];
        int r;

        *ret_path = NULL;
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i]->kind == KIND_FILES)
                        n += plan->actions[i]->paths.n;
        if (n == 0)
                return 0;
        v = xcalloc(n, sizeof(Removed));
        for (size_t i = 0; i < plan->n_actions; i++) {
                const Action *a = plan->actions[i];
                for (size_t j = 0; a->kind == KIND_FILES && j < a->paths.n; j++)
                        if (a->paths.v[j].mark == PATH_REMOVED)
                                v[k++].entry = &a->paths.v[j];
        }
        if (k == 0)
                return 0;
        qsort(v, k, sizeof(Removed), removed_cmp);
        find_owners(ctx, v, k, &owners);
        text = manifest_text(ctx, v, k);
        if (!text)
                return -ENOMEM;

        time_t t = (time_t) started;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        *ret_path = xasprintf("%s/%s-%ld.list", MANIFEST_DIR, stamp, (long) getpid());
        r = write_file_atomic_in_root(ctx->root_fd, *ret_path, text, 0644);
        return r < 0 ? r : 0;
}
