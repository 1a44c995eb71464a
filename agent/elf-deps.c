/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dynamic section of ELF files of the tree, and the closure of the libraries binaries
 * load, found as the dynamic loader finds them. Only the headers and the strings needed are
 * read, with pread(): every offset and size comes from the file and is checked first. */
#include <elf.h>
#include <endian.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <search.h>
#include <stdint.h>
#include <sys/stat.h>

#include "elf-deps.h"
#include "fs-util.h"
#include "macro.h"
#include "strv.h"

/* Caps on what a file may ask to be read: real objects have about ten program headers,
 * some tens of dynamic entries and needed libraries. */
#define ELF_MAX_PHNUM 1024u
#define ELF_MAX_DYNAMIC (64u * 1024u)
#define ELF_MAX_NEEDED 1024u
#define ELF_MAX_STRING ((size_t) PATH_MAX)
/* The kernel's limit on symlinks, and bounds on a hostile tree's ld.so.conf. */
#define ELF_MAX_LINKS 40u
#define ELF_MAX_CONF_DEPTH 8u
#define ELF_MAX_CONF_SIZE (64u * 1024u)
#define ELF_MAX_CONF_FILES 256u
#define ELF_MAX_DIRS 256u
/* Objects loaded for one binary (a few hundred at most on real systems), and paths looked
 * up for all of them: a hostile tree cannot make the closure run without end. */
#define ELF_MAX_LOADED 4096u
#define ELF_MAX_OBJECTS 65536u
#define ELF_NONE UINT64_MAX

typedef struct ElfInfo {
        bool is64, big;
        uint16_t machine;
        char *interp, *soname;
        char **needed;
        char **runpath; /* DT_RUNPATH; NULL when there is none */
        char **rpath;   /* DT_RPATH, ignored (NULL) when there is a DT_RUNPATH, as ld.so does */
} ElfInfo;

typedef struct Elf {
        int fd;
        uint64_t size;
        bool is64, big;
} Elf;

/* A program header in host order, whatever the file's class and byte order. */
typedef struct Phdr {
        uint32_t type;
        uint64_t offset, vaddr, filesz;
} Phdr;

typedef struct Dyn {
        uint64_t strtab, strsz, runpath, rpath, soname;
        uint64_t needed[ELF_MAX_NEEDED];
        size_t n_needed;
} Dyn;

/* Not MIN(): all the sizes compared are uint64_t, and the name is left to macro.h. */
static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

static uint16_t e16(const Elf *e, uint16_t v) {
        return e->big ? be16toh(v) : le16toh(v);
}

static uint32_t e32(const Elf *e, uint32_t v) {
        return e->big ? be32toh(v) : le32toh(v);
}

static uint64_t e64(const Elf *e, uint64_t v) {
        return e->big ? be64toh(v) : le64toh(v);
}

/* Exactly n bytes at off, all of them inside the file: a short file is malformed. */
static int pread_exact(const Elf *e, void *buf, size_t n, uint64_t off) {
        size_t done = 0;

        if (off > e->size || n > e->size - off)
                return -EBADMSG;
        while (done < n) {
                ssize_t k = pread(e->fd, (char *) buf + done, n - done, (off_t) (off + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -EBADMSG;
                done += (size_t) k;
        }
        return 0;
}

static void elf_info_done(ElfInfo *info) {
        free(info->interp);
        free(info->soname);
        strv_free(info->needed);
        strv_free(info->runpath);
        strv_free(info->rpath);
        *info = (ElfInfo) {};
}

/* What the dynamic loader checks before it maps a file: magic, class, byte order, version,
 * an executable or shared object, program headers of the class's size. */
static int read_ehdr(Elf *e, uint16_t *ret_machine, uint64_t *ret_phoff, size_t *ret_phnum) {
        union {
                unsigned char ident[EI_NIDENT];
                Elf32_Ehdr h32;
                Elf64_Ehdr h64;
        } u = {};
        uint16_t type, phentsize, phnum;
        int r;

        if (e->size < sizeof u.h32)
                return -ENOEXEC;
        r = pread_exact(e, &u, min_u64(e->size, sizeof u.h64), 0);
        if (r < 0)
                return r;
        if (memcmp(u.ident, ELFMAG, SELFMAG) != 0 || u.ident[EI_VERSION] != EV_CURRENT ||
            (u.ident[EI_CLASS] != ELFCLASS32 && u.ident[EI_CLASS] != ELFCLASS64) ||
            (u.ident[EI_DATA] != ELFDATA2LSB && u.ident[EI_DATA] != ELFDATA2MSB))
                return -ENOEXEC;
        e->is64 = u.ident[EI_CLASS] == ELFCLASS64;
        e->big = u.ident[EI_DATA] == ELFDATA2MSB;
        if (e->is64 && e->size < sizeof u.h64)
                return -EBADMSG;
        if (e->is64) {
                type = e16(e, u.h64.e_type);
                *ret_machine = e16(e, u.h64.e_machine);
                *ret_phoff = e64(e, u.h64.e_phoff);
                phentsize = e16(e, u.h64.e_phentsize);
                phnum = e16(e, u.h64.e_phnum);
        } else {
                type = e16(e, u.h32.e_type);
                *ret_machine = e16(e, u.h32.e_machine);
                *ret_phoff = e32(e, u.h32.e_phoff);
                phentsize = e16(e, u.h32.e_phentsize);
                phnum = e16(e, u.h32.e_phnum);
        }
        if (type != ET_EXEC && type != ET_DYN)
                return -ENOEXEC;
        if (phentsize != (e->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || phnum == 0 ||
            phnum > ELF_MAX_PHNUM)
                return -EBADMSG;
        *ret_phnum = phnum;
        return 0;
}

static int read_phdrs(const Elf *e, uint64_t phoff, size_t phnum, Phdr **ret) {
        size_t entsize = e->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
        _cleanup_free_ unsigned char *buf = xmalloc(phnum * entsize);
        _cleanup_free_ Phdr *ph = xcalloc(phnum, sizeof(Phdr));
        int r;

        r = pread_exact(e, buf, phnum * entsize, phoff);
        if (r < 0)
                return r;
        for (size_t i = 0; i < phnum; i++) {
                if (e->is64) {
                        Elf64_Phdr p;
                        memcpy(&p, buf + i * entsize, sizeof p);
                        ph[i] = (Phdr) { e32(e, p.p_type), e64(e, p.p_offset), e64(e, p.p_vaddr), e64(e, p.p_filesz) };
                } else {
                        Elf32_Phdr p;
                        memcpy(&p, buf + i * entsize, sizeof p);
                        ph[i] = (Phdr) { e32(e, p.p_type), e32(e, p.p_offset), e32(e, p.p_vaddr), e32(e, p.p_filesz) };
                }
        }
        *ret = TAKE_PTR(ph);
        return 0;
}

static const Phdr *find_phdr(const Phdr *ph, size_t n, uint32_t type) {
        for (size_t i = 0; i < n; i++)
                if (ph[i].type == type)
                        return &ph[i];
        return NULL;
}

/* DT_STRTAB is an address once loaded: the PT_LOAD segment holding it says where it is in
 * the file, and how much of the file follows it inside that segment. */
static int vaddr_to_offset(const Elf *e, const Phdr *ph, size_t n, uint64_t addr, uint64_t *ret_off,
                           uint64_t *ret_avail) {
        for (size_t i = 0; i < n; i++) {
                if (ph[i].type != PT_LOAD || addr < ph[i].vaddr || addr - ph[i].vaddr >= ph[i].filesz)
                        continue;
                uint64_t delta = addr - ph[i].vaddr;
                if (ph[i].offset > e->size || delta > e->size - ph[i].offset)
                        return -EBADMSG;
                *ret_off = ph[i].offset + delta;
                *ret_avail = min_u64(ph[i].filesz - delta, e->size - *ret_off);
                return 0;
        }
        return -EBADMSG;
}

/* A NUL-terminated string at index idx of a string table of size bytes at off. */
static int read_string(const Elf *e, uint64_t off, uint64_t size, uint64_t idx, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t n;
        int r;

        if (idx >= size)
                return -EBADMSG;
        n = (size_t) min_u64(size - idx, ELF_MAX_STRING);
        buf = xmalloc(n + 1);
        r = pread_exact(e, buf, n, off + idx);
        if (r < 0)
                return r;
        if (!memchr(buf, 0, n))
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The tags of the dynamic section this needs; an entry past its end ends it as DT_NULL. */
static int read_dyn_tags(const Elf *e, const Phdr *dynamic, Dyn *d) {
        size_t entsize = e->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
        size_t count = (size_t) min_u64(dynamic->filesz, ELF_MAX_DYNAMIC) / entsize;
        _cleanup_free_ unsigned char *buf = xmalloc(count * entsize + 1);
        int r;

        r = pread_exact(e, buf, count * entsize, dynamic->offset);
        if (r < 0)
                return r;
        for (size_t i = 0; i < count; i++) {
                int64_t tag;
                uint64_t val;
                if (e->is64) {
                        Elf64_Dyn y;
                        memcpy(&y, buf + i * entsize, sizeof y);
                        tag = (int64_t) e64(e, (uint64_t) y.d_tag), val = e64(e, y.d_un.d_val);
                } else {
                        Elf32_Dyn y;
                        memcpy(&y, buf + i * entsize, sizeof y);
                        tag = (int32_t) e32(e, (uint32_t) y.d_tag), val = e32(e, y.d_un.d_val);
                }
                if (tag == DT_NULL)
                        break;
                if (tag == DT_NEEDED && d->n_needed >= ELF_MAX_NEEDED)
                        return -EBADMSG;
                if (tag == DT_NEEDED)
                        d->needed[d->n_needed++] = val;
                else if (tag == DT_STRTAB)
                        d->strtab = val;
                else if (tag == DT_STRSZ)
                        d->strsz = val;
                else if (tag == DT_RUNPATH)
                        d->runpath = val;
                else if (tag == DT_RPATH)
                        d->rpath = val;
                else if (tag == DT_SONAME)
                        d->soname = val;
        }
        return 0;
}

/* A search path: its entries, empty ones dropped. */
static char **split_path_list(const char *s) {
        char **l = NULL;

        for (const char *p = s; *p; ) {
                size_t n = strcspn(p, ":");
                if (n > 0)
                        strv_push(&l, xstrndup(p, n));
                p += n + (p[n] == ':');
        }
        return l;
}

static int read_dyn_strings(const Elf *e, const Phdr *ph, size_t n, const Dyn *d, ElfInfo *info) {
        _cleanup_free_ char *runpath = NULL, *rpath = NULL;
        uint64_t off, size;
        int r;

        if (d->n_needed == 0 && d->runpath == ELF_NONE && d->rpath == ELF_NONE && d->soname == ELF_NONE)
                return 0;
        if (d->strtab == ELF_NONE)
                return -EBADMSG;
        r = vaddr_to_offset(e, ph, n, d->strtab, &off, &size);
        if (r < 0)
                return r;
        size = min_u64(size, d->strsz);
        for (size_t i = 0; i < d->n_needed; i++) {
                char *s;
                r = read_string(e, off, size, d->needed[i], &s);
                if (r < 0)
                        return r;
                if (!*s) {
                        free(s);
                        return -EBADMSG;
                }
                strv_push(&info->needed, s);
        }
        if (d->runpath != ELF_NONE && (r = read_string(e, off, size, d->runpath, &runpath)) < 0)
                return r;
        if (d->runpath == ELF_NONE && d->rpath != ELF_NONE && (r = read_string(e, off, size, d->rpath, &rpath)) < 0)
                return r;
        if (d->soname != ELF_NONE && (r = read_string(e, off, size, d->soname, &info->soname)) < 0)
                return r;
        if (runpath)
                info->runpath = split_path_list(runpath) ?: xcalloc(1, sizeof(char *));
        if (rpath)
                info->rpath = split_path_list(rpath);
        return 0;
}

/* A relative interpreter would be found from the working directory at exec time: there is
 * no such file in the tree to name, so it is dropped, not followed. */
static int read_interp(const Elf *e, const Phdr *interp, ElfInfo *info) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r;

        if (interp->filesz == 0 || interp->filesz > ELF_MAX_STRING)
                return -EBADMSG;
        n = (size_t) interp->filesz;
        s = xmalloc(n + 1);
        r = pread_exact(e, s, n, interp->offset);
        if (r < 0)
                return r;
        s[n] = 0;
        if (s[0] == '/')
                info->interp = TAKE_PTR(s);
        return 0;
}

static int read_elf_fd(Elf *e, ElfInfo *info) {
        _cleanup_free_ Phdr *ph = NULL;
        const Phdr *p;
        uint64_t phoff;
        size_t phnum;
        int r;

        r = read_ehdr(e, &info->machine, &phoff, &phnum);
        if (r < 0)
                return r;
        info->is64 = e->is64;
        info->big = e->big;
        r = read_phdrs(e, phoff, phnum, &ph);
        if (r < 0)
                return r;
        p = find_phdr(ph, phnum, PT_INTERP);
        if (p && (r = read_interp(e, p, info)) < 0)
                return r;
        p = find_phdr(ph, phnum, PT_DYNAMIC);
        if (!p)
                return 0;
        _cleanup_free_ Dyn *d = xcalloc(1, sizeof(Dyn));
        d->strtab = d->strsz = d->runpath = d->rpath = d->soname = ELF_NONE;
        r = read_dyn_tags(e, p, d);
        if (r < 0)
                return r;
        return read_dyn_strings(e, ph, phnum, d, info);
}

static int elf_read(int root_fd, const char *path, ElfInfo *ret) {
        _cleanup_close_ int fd = -1;
        ElfInfo info = {};
        struct stat st;
        int r;

        fd = open_in_root(root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ENOEXEC;
        Elf e = { .fd = fd, .size = (uint64_t) st.st_size };
        r = read_elf_fd(&e, &info);
        if (r < 0) {
                elf_info_done(&info);
                return r;
        }
        *ret = info;
        return 0;
}

int elf_read_dynamic(int root_fd, const char *path, char ***ret_needed, char ***ret_runpath) {
        ElfInfo info;
        int r;

        r = elf_read(root_fd, path, &info);
        if (r < 0)
                return r;
        if (ret_needed)
                *ret_needed = TAKE_PTR(info.needed);
        if (ret_runpath)
                *ret_runpath = info.runpath ? TAKE_PTR(info.runpath) : TAKE_PTR(info.rpath);
        elf_info_done(&info);
        return 0;
}

/* The closure. Each path of the tree looked up (as a binary, or as a library in one of the
 * directories searched) is parsed once; each binary is then loaded as ld.so would, breadth
 * first, each needed name resolved once per binary: a RUNPATH makes the same name resolve
 * differently for different binaries, so each binary has its own walk. */

typedef struct Object {
        char *path;
        int error; /* < 0: missing, unreadable or not ELF */
        ElfInfo info;
        bool emitted;
        unsigned walk; /* the last walk that loaded it */
} Object;

typedef struct Paths {
        char **v;
        size_t n, allocated;
} Paths;

typedef struct Closure {
        int root_fd;
        char **dirs; /* the tree's library directories, in search order, read on first use */
        bool have_dirs;
        void *objects;
        size_t n_objects;
        Object too_many; /* what a lookup past ELF_MAX_OBJECTS finds: an error */
        unsigned walk;
        Paths out; /* with duplicates, until the end */
} Closure;

typedef struct Loaded {
        Object *obj;
        char *origin;  /* what "$ORIGIN" stands for in its search paths */
        size_t loader; /* the object that needed it first: where DT_RPATH is inherited from */
} Loaded;

typedef struct Walk {
        Loaded *v;
        size_t n, allocated;
        void *names; /* needed names resolved and sonames loaded: each is looked up once */
} Walk;

static void paths_push(Paths *p, char *s) {
        if (p->n + 1 >= p->allocated) {
                p->allocated = p->allocated ? p->allocated * 2 : 64;
                p->v = xrealloc(p->v, p->allocated * sizeof(char *));
        }
        p->v[p->n++] = s;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static char **paths_finish(Paths *p) {
        size_t k = 0;

        paths_push(p, NULL);
        p->n--;
        qsort(p->v, p->n, sizeof(char *), cmp_strp);
        for (size_t i = 0; i < p->n; i++) {
                if (k > 0 && streq(p->v[k - 1], p->v[i]))
                        free(p->v[i]);
                else
                        p->v[k++] = p->v[i];
        }
        p->v[k] = NULL;
        return TAKE_PTR(p->v);
}

static bool path_has_dotdot(const char *p) {
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
                        return true;
        return false;
}

/* ".." is left for the kernel to resolve: after a symlinked directory it is not lexical. */
static char *candidate_path(const char *dir, const char *name) {
        char *p = path_join(dir, name), *n;

        if (path_has_dotdot(p))
                return p;
        n = path_normalize(p);
        free(p);
        return n;
}

static char *dir_of(const char *path) {
        const char *slash = strrchr(path, '/');

        return !slash || slash == path ? xstrdup("/") : xstrndup(path, slash - path);
}

/* 1 and the target if path (whose directories hold no symlink) is a symlink, 0 if not. */
static int read_link_beneath(int root_fd, const char *path, char **ret) {
        _cleanup_close_ int fd = -1;
        char buf[PATH_MAX];
        struct stat st;
        ssize_t n;

        fd = open_beneath_nofollow(root_fd, path, O_PATH);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISLNK(st.st_mode))
                return 0;
        n = readlinkat(fd, "", buf, sizeof buf - 1);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -ENOENT;
        buf[n] = 0;
        *ret = xstrdup(buf);
        return 1;
}

/* Follows path's symlinks as the kernel would with the tree as its root, one component at a
 * time; *ret is the file reached. A symlink met as the last component of what is left is
 * added to links at its own resolved location: removing it would break the name too. */
static int resolve_in_tree(int root_fd, const char *path, Paths *links, char **ret) {
        _cleanup_free_ char *todo = xstrdup(path), *done = xstrdup("");
        unsigned hops = 0;
        char *p = todo;
        int r;

        for (;;) {
                p += strspn(p, "/");
                if (!*p)
                        break;
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *name = xstrndup(p, n), *next = NULL, *target = NULL;
                p += n;
                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        /* done holds no symlink: its parent is the lexical one; ".." at
                         * the root stays there */
                        char *slash = strrchr(done, '/');
                        if (slash)
                                *slash = 0;
                        continue;
                }
                next = xasprintf("%s/%s", done, name);
                r = read_link_beneath(root_fd, next, &target);
                if (r < 0)
                        return r;
                if (r == 0) {
                        free(done);
                        done = TAKE_PTR(next);
                        continue;
                }
                if (++hops > ELF_MAX_LINKS)
                        return -ELOOP;
                if (links && !p[strspn(p, "/")])
                        paths_push(links, TAKE_PTR(next));
                char *rest = xasprintf("%s/%s", target, p);
                free(todo);
                todo = p = rest;
                if (target[0] == '/')
                        done[0] = 0;
        }
        *ret = *done ? TAKE_PTR(done) : xstrdup("/");
        return 0;
}

static int object_cmp(const void *a, const void *b) {
        return strcmp(((const Object *) a)->path, ((const Object *) b)->path);
}

static void object_free(void *p) {
        Object *o = p;

        free(o->path);
        elf_info_done(&o->info);
        free(o);
}

/* The object at path (taken), parsed on first use. */
static Object *object_get(Closure *c, char *path) {
        Object key = { .path = path }, *o;
        void *slot;

        slot = tfind(&key, &c->objects, object_cmp);
        if (slot) {
                free(path);
                return *(Object **) slot;
        }
        if (c->n_objects >= ELF_MAX_OBJECTS) {
                free(path);
                return &c->too_many;
        }
        c->n_objects++;
        o = xcalloc(1, sizeof *o);
        o->path = path;
        o->error = elf_read(c->root_fd, path, &o->info);
        if (!tsearch(o, &c->objects, object_cmp))
                abort(); /* out of memory, as xmalloc() */
        return o;
}

/* ld.so skips a file of another class, byte order or machine and searches on. */
static bool compatible(const Object *o, const ElfInfo *want) {
        return o->error >= 0 && o->info.is64 == want->is64 && o->info.big == want->big &&
               o->info.machine == want->machine;
}

/* The paths that keep o loadable: where it was found, the symlinks on the way, the file. */
static void emit(Closure *c, Object *o) {
        _cleanup_free_ char *real = NULL;

        if (o->emitted)
                return;
        o->emitted = true;
        if (resolve_in_tree(c->root_fd, o->path, &c->out, &real) < 0)
                return;
        if (!path_has_dotdot(o->path))
                paths_push(&c->out, xstrdup(o->path));
        paths_push(&c->out, TAKE_PTR(real));
}

/* The length of the dynamic string token $NAME (or ${NAME}) at s, 0 if it is not there:
 * unbraced, it ends the entry or a component, as ld.so reads it. */
static size_t dst_length(const char *s, const char *name) {
        size_t n = strlen(name);

        if (s[1] == '{')
                return strncmp(s + 2, name, n) == 0 && s[2 + n] == '}' ? n + 3 : 0;
        return strncmp(s + 1, name, n) == 0 && (s[1 + n] == 0 || s[1 + n] == '/') ? n + 1 : 0;
}

/* A search path entry (or a needed name) as a path of the tree, "$ORIGIN" standing for
 * origin; NULL when it names none: $LIB and $PLATFORM depend on how the loader was built
 * and on the CPU, a relative entry on the working directory. Another '$' is a character. */
static char *expand_origin(const char *entry, const char *origin) {
        _cleanup_free_ char *r = xstrdup("");

        for (const char *s = entry; *s; ) {
                size_t lit = strcspn(s, "$"), n = 0;
                const char *value = "";
                char *x;

                if (s[lit] == '$') {
                        if ((n = dst_length(s + lit, "ORIGIN")) > 0)
                                value = origin;
                        else if (dst_length(s + lit, "LIB") > 0 || dst_length(s + lit, "PLATFORM") > 0)
                                return NULL;
                        else
                                value = "$", n = 1;
                        if (!value)
                                return NULL;
                }
                x = xasprintf("%s%.*s%s", r, (int) lit, s, value);
                free(r);
                r = x;
                s += lit + n;
        }
        return r[0] == '/' ? TAKE_PTR(r) : NULL;
}

static Object *search_dirs(Closure *c, char * const *dirs, const char *origin, const char *name,
                           const ElfInfo *want) {
        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *dir = expand_origin(*d, origin);
                Object *o;

                if (!dir)
                        continue;
                o = object_get(c, candidate_path(dir, name));
                if (compatible(o, want))
                        return o;
        }
        return NULL;
}

static void dirs_add(char ***dirs, const char *d) {
        _cleanup_free_ char *n = NULL;

        if (d[0] != '/' || strv_length(*dirs) >= ELF_MAX_DIRS)
                return;
        n = path_has_dotdot(d) ? xstrdup(d) : path_normalize(d);
        if (!strv_contains(*dirs, n))
                strv_push(dirs, TAKE_PTR(n));
}

/* The entries of dir of the tree that match pattern, sorted as glob() sorts them. */
static char **list_matching(int root_fd, const char *dir, const char *pattern) {
        _cleanup_closedir_ DIR *d = opendir_in_root(root_fd, dir);
        char **l = NULL;
        size_t n = 0;
        struct dirent *de;

        while (d && (de = readdir(d)) && n < ELF_MAX_DIRS)
                if (fnmatch(pattern, de->d_name, FNM_PERIOD) == 0 && !streq(de->d_name, ".") &&
                    !streq(de->d_name, "..")) {
                        strv_push(&l, path_join(dir, de->d_name));
                        n++;
                }
        strv_sort(l);
        return l;
}

/* ld.so.conf and what it includes, read with a budget: a hostile tree's includes could
 * otherwise fan out without end. */
typedef struct Conf {
        int root_fd;
        char **files; /* read already: a file that includes itself is read once */
        char **dirs;
} Conf;

static void conf_read(Conf *k, const char *path, unsigned depth);

/* "include PATTERN": a relative pattern is relative to the directory of the file that
 * includes it, as ldconfig reads it; a glob in the last component only. */
static void conf_include(Conf *k, const char *conf, const char *pattern, unsigned depth) {
        _cleanup_free_ char *conf_dir = dir_of(conf), *abs = NULL, *dir = NULL;
        _cleanup_strv_free_ char **files = NULL;

        abs = pattern[0] == '/' ? xstrdup(pattern) : path_join(conf_dir, pattern);
        dir = dir_of(abs);
        if (strpbrk(dir, "*?["))
                return;
        files = list_matching(k->root_fd, dir, path_basename(abs));
        STRV_FOREACH(f, files)
                conf_read(k, *f, depth + 1);
}

/* The keyword's arguments if line starts with it as a word. */
static char *keyword(char *line, const char *word) {
        char *rest = (char *) startswith(line, word);

        if (!rest || (*rest != ' ' && *rest != '\t'))
                return NULL;
        return rest + strspn(rest, " \t");
}

/* One directory a line, "include" of more files, "hwcap" (ignored), '#' comments. */
static void conf_read(Conf *k, const char *path, unsigned depth) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL, *rest;

        if (depth > ELF_MAX_CONF_DEPTH || strv_length(k->files) >= ELF_MAX_CONF_FILES ||
            strv_contains(k->files, path))
                return;
        strv_extend(&k->files, path);
        if (read_file_in_root(k->root_fd, path, ELF_MAX_CONF_SIZE, &text) < 0)
                return;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line[strcspn(line, "#")] = 0;
                line += strspn(line, " \t\r");
                size_t n = strlen(line);
                while (n > 0 && strchr(" \t\r", line[n - 1]))
                        line[--n] = 0;
                if ((rest = keyword(line, "include"))) {
                        char *save_word = NULL;
                        for (char *p = strtok_r(rest, " \t", &save_word); p; p = strtok_r(NULL, " \t", &save_word))
                                conf_include(k, path, p, depth);
                } else if (!keyword(line, "hwcap") && *line)
                        dirs_add(&k->dirs, line);
        }
}

/* ld.so.conf's directories (what ld.so.cache holds), then the loader's own: the multiarch
 * directories of Debian-style trees, the lib64 ones of the others, /lib and /usr/lib. A
 * directory of another architecture costs only lookups: its files are not compatible. */
static char **library_dirs(int root_fd) {
        static const char * const parents[] = { "/lib", "/usr/lib" };
        static const char * const fixed[] = { "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
        Conf k = { .root_fd = root_fd };

        conf_read(&k, "/etc/ld.so.conf", 0);
        for (size_t i = 0; i < ELEMENTSOF(parents); i++) {
                _cleanup_strv_free_ char **l = list_matching(root_fd, parents[i], "*-linux-*");
                STRV_FOREACH(d, l)
                        dirs_add(&k.dirs, *d);
        }
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                dirs_add(&k.dirs, fixed[i]);
        strv_free(k.files);
        return k.dirs;
}

/* Where ld.so finds name, needed by the object at index i of the walk. */
static Object *search(Closure *c, const Walk *w, size_t i, const char *name) {
        const ElfInfo *want = &w->v[0].obj->info;
        const Loaded *req = &w->v[i];
        Object *o;

        /* A name with a slash is a path ("$ORIGIN" expanded there too); a relative one
         * would be from the working directory. */
        if (strchr(name, '/')) {
                _cleanup_free_ char *path = expand_origin(name, req->origin);
                if (!path)
                        return NULL;
                o = object_get(c, candidate_path("/", path));
                return compatible(o, want) ? o : NULL;
        }
        /* DT_RPATH: the object's, then that of the one that loaded it, up to the binary;
         * none at all for an object with a DT_RUNPATH (nor from an ancestor that has one:
         * its rpath is NULL). */
        if (!req->obj->info.runpath)
                for (size_t j = i;; j = w->v[j].loader) {
                        o = search_dirs(c, w->v[j].obj->info.rpath, w->v[j].origin, name, want);
                        if (o)
                                return o;
                        if (j == 0)
                                break;
                }
        o = search_dirs(c, req->obj->info.runpath, req->origin, name, want);
        if (o)
                return o;
        if (!c->have_dirs) {
                c->dirs = library_dirs(c->root_fd);
                c->have_dirs = true;
        }
        return search_dirs(c, c->dirs, NULL, name, want);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(a, b);
}

static void name_add(Walk *w, const char *name) {
        if (!tsearch(name, &w->names, name_cmp))
                abort();
}

static void walk_add(Closure *c, Walk *w, Object *o, const char *path, size_t loader) {
        if (w->n >= ELF_MAX_LOADED)
                return;
        if (w->n >= w->allocated) {
                w->allocated = w->allocated ? w->allocated * 2 : 32;
                w->v = xrealloc(w->v, w->allocated * sizeof(Loaded));
        }
        w->v[w->n++] = (Loaded) { o, dir_of(path), loader };
        o->walk = c->walk;
        if (o->info.soname)
                name_add(w, o->info.soname);
}

static void walk_need(Closure *c, Walk *w, size_t i, const char *name) {
        Object *o;

        if (tfind(name, &w->names, name_cmp))
                return;
        /* Not found is final too: ld.so would have failed there. */
        name_add(w, name);
        o = search(c, w, i, name);
        if (!o)
                return;
        emit(c, o);
        if (o->walk != c->walk)
                walk_add(c, w, o, o->path, i);
}

static void noop_free(void *p) {
}

/* A binary's libraries. Its "$ORIGIN" is the directory of the file it resolves to, as the
 * kernel executes it; the loader is there (PT_INTERP) before any library is searched, by
 * its soname too. */
static void walk_binary(Closure *c, const char *binary) {
        _cleanup_free_ char *real = NULL;
        Walk w = {};
        Object *exe;

        if (resolve_in_tree(c->root_fd, binary, NULL, &real) < 0)
                return;
        exe = object_get(c, xstrdup(real));
        if (exe->error < 0)
                return;
        c->walk++;
        walk_add(c, &w, exe, real, 0);
        if (exe->info.interp) {
                Object *ld = object_get(c, candidate_path("/", exe->info.interp));
                if (compatible(ld, &exe->info)) {
                        emit(c, ld);
                        if (ld->walk != c->walk)
                                walk_add(c, &w, ld, ld->path, 0);
                }
        }
        for (size_t i = 0; i < w.n; i++)
                STRV_FOREACH(n, w.v[i].obj->info.needed)
                        walk_need(c, &w, i, *n);
        for (size_t i = 0; i < w.n; i++)
                free(w.v[i].origin);
        free(w.v);
        tdestroy(w.names, noop_free);
}

int elf_closure(int root_fd, char * const *binaries, char ***ret_paths) {
        Closure c = { .root_fd = root_fd, .too_many.error = -E2BIG };
        struct stat st;

        if (fstat(root_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        STRV_FOREACH(b, binaries)
                walk_binary(&c, *b);
        tdestroy(c.objects, object_free);
        strv_free(c.dirs);
        *ret_paths = paths_finish(&c.out);
        return 0;
}
