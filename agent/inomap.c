/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "inomap.h"
#include "macro.h"

static size_t hash(uint64_t dev, uint64_t ino) {
        uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (dev + 0x632be59bd9b4e019ull) * 0xff51afd7ed558ccdull;
        return (size_t) (h ^ (h >> 29));
}

static InoEntry *lookup(const InoMap *m, uint64_t dev, uint64_t ino) {
        size_t mask = m->allocated - 1;

        for (size_t i = hash(dev, ino) & mask; ; i = (i + 1) & mask) {
                InoEntry *e = &m->entries[i];
                if (e->dev_plus1 == 0 || (e->dev_plus1 == dev + 1 && e->ino == ino))
                        return e;
        }
}

InoEntry *inomap_get(InoMap *m, uint64_t dev, uint64_t ino) {
        InoEntry *e;

        if (m->n == 0)
                return NULL;
        e = lookup(m, dev, ino);
        return e->dev_plus1 != 0 ? e : NULL;
}

static void grow(InoMap *m) {
        InoMap bigger = { .allocated = m->allocated ? m->allocated * 2 : 64 };

        bigger.entries = xcalloc(bigger.allocated, sizeof(InoEntry));
        INOMAP_FOREACH(e, m) {
                *lookup(&bigger, e->dev_plus1 - 1, e->ino) = *e;
                bigger.n++;
        }
        free(m->entries);
        *m = bigger;
}

InoEntry *inomap_put(InoMap *m, uint64_t dev, uint64_t ino, bool *ret_new) {
        InoEntry *e;

        /* At most three quarters full: a walk over many files touches fewer pages. */
        if ((m->n + 1) * 4 > m->allocated * 3)
                grow(m);
        e = lookup(m, dev, ino);
        if (ret_new)
                *ret_new = e->dev_plus1 == 0;
        if (e->dev_plus1 == 0) {
                *e = (InoEntry) { .dev_plus1 = dev + 1, .ino = ino };
                m->n++;
        }
        return e;
}

void inomap_done(InoMap *m) {
        free(m->entries);
        *m = (InoMap) {};
}
