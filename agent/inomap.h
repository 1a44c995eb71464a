/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A hash map keyed by inode (st_dev, st_ino): which inodes a removal plans to take, and how
 * many of each inode's hard links it saw, so that bytes are counted once. */
typedef struct InoEntry {
        uint64_t dev_plus1;  /* st_dev + 1: a zeroed slot is free (no device is all ones) */
        uint64_t ino;
        uint64_t bytes;      /* allocated bytes (st_blocks * 512) */
        uint32_t links_seen; /* links of this inode the removal covers */
        uint32_t nlink;      /* st_nlink when seen */
        uint32_t mode;       /* the file type bits when seen */
        uint32_t ctime_nsec;
        int64_t ctime_sec;   /* the change time when seen: a file written to since is another */
        uint64_t size;       /* st_size when seen */
        void *owner;         /* the action that planned it */
} InoEntry;

typedef struct InoMap {
        InoEntry *entries;
        size_t n, allocated;
} InoMap;

InoEntry *inomap_get(InoMap *m, uint64_t dev, uint64_t ino);
InoEntry *inomap_put(InoMap *m, uint64_t dev, uint64_t ino, bool *ret_new);
void inomap_done(InoMap *m);

#define INOMAP_FOREACH(e, m) \
        for (InoEntry *e = (m)->entries; (m)->entries && e < (m)->entries + (m)->allocated; e++) \
                if (e->dev_plus1 != 0)
