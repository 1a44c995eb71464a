/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libraries protected are the ones the dynamic loader loads. So elf_closure() is
 * checked against the loader itself: for real binaries of this machine, the files ldd finds
 * are the files found, on the live tree and in a copy of it, where nothing may come from
 * outside the copy; elf_read_dynamic() is checked against readelf. Synthetic files of the
 * four kinds (32 and 64 bit, either byte order) pin the search rules one by one, and
 * truncated, random and corrupted files must be skipped, never crash. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf-deps.h"
#include "fs-util.h"
#include "macro.h"
#include "strv.h"
#include "tests.h"

static const char * const host_binaries[] = {
        "/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd-udevd", "/usr/lib/systemd/systemd-journald",
        "/usr/lib/systemd/systemd-logind", "/usr/sbin/sshd", "/usr/bin/login", "/usr/bin/bash",
        "/usr/bin/dpkg", "/usr/bin/apt-get", "/usr/bin/journalctl", "/usr/bin/ls",
};

static bool have_readelf;

static char *join(char * const *l) {
        char *s = xstrdup("");
        STRV_FOREACH(p, l) {
                char *n = xasprintf("%s%s%s", s, *s ? " " : "", *p);
                free(s);
                s = n;
        }
        return s;
}

static bool sorted_unique(char * const *l) {
        for (size_t i = 1; l && l[0] && l[i]; i++)
                if (strcmp(l[i - 1], l[i]) >= 0)
                        return false;
        return true;
}

_printf_(3, 4)
static void append(char *why, size_t n, const char *fmt, ...) {
        size_t l = strlen(why);
        va_list ap;

        va_start(ap, fmt);
        if (l < n)
                vsnprintf(why + l, n - l, fmt, ap);
        va_end(ap);
}

/* What ldd prints: "name => /path (addr)", the loader as "/path (addr)"; the vDSO (no
 * path) and "not found" are not files. */
static char **ldd_paths(const char *binary) {
        char cmd[PATH_MAX + 64], line[4096];
        char **l = NULL;
        FILE *f;

        snprintf(cmd, sizeof cmd, "ldd '%s' 2>/dev/null", binary);
        f = popen(cmd, "r");
        if (!f)
                return NULL;
        while (fgets(line, sizeof line, f)) {
                char *arrow = strstr(line, "=> ");
                char *p = arrow ? arrow + 3 : line + strspn(line, " \t");
                if (p[0] != '/')
                        continue;
                p[strcspn(p, " \t\n")] = 0;
                strv_extend(&l, p);
        }
        pclose(f);
        return l;
}

/* For each path ldd lists, it and the file it resolves to are in the closure; each path of
 * the closure resolves to a file that one of ldd's resolves to. */
static void compare_with_ldd(int root_fd, const char *binary) {
        _cleanup_strv_free_ char **ldd = ldd_paths(binary), **real = NULL, **closure = NULL;
        char * const bins[] = { (char *) binary, NULL };
        char name[PATH_MAX + 128], why[8192] = "";
        int r = elf_closure(root_fd, bins, &closure);

        STRV_FOREACH(p, ldd) {
                char *rp = realpath(*p, NULL);
                if (!strv_contains(closure, *p))
                        append(why, sizeof why, "missing %s; ", *p);
                if (rp && !streq(rp, *p) && !strv_contains(closure, rp))
                        append(why, sizeof why, "missing %s; ", rp);
                if (rp)
                        strv_push(&real, rp);
        }
        STRV_FOREACH(p, closure) {
                _cleanup_free_ char *rp = realpath(*p, NULL);
                if (!rp)
                        append(why, sizeof why, "%s does not exist; ", *p);
                else if (!strv_contains(real, rp))
                        append(why, sizeof why, "%s is not what ldd loads; ", *p);
        }
        if (!sorted_unique(closure))
                append(why, sizeof why, "%s", "not sorted and unique");
        snprintf(name, sizeof name, "the closure of %s is what ldd finds (%zu libraries)", binary,
                 strv_length(real));
        check(r >= 0 && !*why && strv_length(ldd) > 0, name, "r=%d, %s", r, why);
}

/* readelf -d: "(NEEDED) Shared library: [x]", "(RUNPATH) Library runpath: [a:b]". */
static void readelf_dynamic(const char *path, char ***needed, char ***runpath, char ***rpath) {
        char cmd[PATH_MAX + 64], line[8192];
        FILE *f;

        snprintf(cmd, sizeof cmd, "readelf -dW '%s' 2>/dev/null", path);
        f = popen(cmd, "r");
        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                char *open = strchr(line, '['), *close = strrchr(line, ']');
                if (!open || !close || close < open)
                        continue;
                *close = 0;
                if (strstr(line, "(NEEDED)"))
                        strv_extend(needed, open + 1);
                else if (strstr(line, "(RUNPATH)") || strstr(line, "(RPATH)"))
                        for (char *s = open + 1, *save = NULL, *t; (t = strtok_r(s, ":", &save)); s = NULL)
                                strv_extend(strstr(line, "(RUNPATH)") ? runpath : rpath, t);
        }
        pclose(f);
}

static void compare_with_readelf(int root_fd, const char *path) {
        _cleanup_strv_free_ char **needed = NULL, **runpath = NULL, **rpath = NULL, **en = NULL, **er = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char name[PATH_MAX + 64];
        int r;

        readelf_dynamic(path, &needed, &runpath, &rpath);
        r = elf_read_dynamic(root_fd, path, &en, &er);
        a = join(needed), b = join(en), c = join(runpath ?: rpath), d = join(er);
        snprintf(name, sizeof name, "%s: DT_NEEDED and the search path are readelf's", path);
        check(r >= 0 && streq(a, b) && streq(c, d), name, "r=%d, needed '%s' vs '%s', path '%s' vs '%s'",
              r, a, b, c, d);
}

static void test_host(const char *self) {
        _cleanup_strv_free_ char **all = NULL, **runpath = NULL, **closure = NULL;
        char **bins = NULL;
        int root_fd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

        for (size_t i = 0; i < ELEMENTSOF(host_binaries); i++)
                if (access(host_binaries[i], X_OK) == 0)
                        strv_extend(&bins, host_binaries[i]);
        strv_extend(&bins, self);
        STRV_FOREACH(b, bins)
                compare_with_ldd(root_fd, *b);

        /* systemd's programs find their private library through an absolute RUNPATH only */
        if (access("/usr/lib/systemd/systemd", X_OK) == 0 &&
            elf_read_dynamic(root_fd, "/usr/lib/systemd/systemd", NULL, &runpath) >= 0 && runpath) {
                char * const one[] = { (char *) "/usr/lib/systemd/systemd", NULL };
                bool found = false;
                (void) elf_closure(root_fd, one, &closure);
                STRV_FOREACH(p, closure)
                        found = found || (startswith(*p, runpath[0]) && (*p)[strlen(runpath[0])] == '/');
                check(runpath[0][0] == '/' && found, "systemd's libraries are found through its absolute RUNPATH",
                      "RUNPATH %s", runpath[0]);
        }

        /* All at once: the union of each one's closure. */
        check(elf_closure(root_fd, bins, &all) >= 0 && sorted_unique(all), "the closure of all of them is sorted and unique", NULL);
        if (have_readelf) {
                STRV_FOREACH(b, bins)
                        compare_with_readelf(root_fd, *b);
                STRV_FOREACH(p, all) {
                        struct stat st;
                        if (lstat(*p, &st) >= 0 && S_ISREG(st.st_mode))
                                compare_with_readelf(root_fd, *p);
                }
        }
        strv_free(bins);
        close(root_fd);
}

_printf_(1, 2)
static int run(const char *fmt, ...) {
        char cmd[16384];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        return system(cmd);
}

static bool in_tree(int root_fd, char * const *l, char *why, size_t n) {
        STRV_FOREACH(p, l) {
                struct stat st;
                if ((*p)[0] != '/' || fstatat(root_fd, *p + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        append(why, n, "%s is not in the tree; ", *p);
        }
        return !*why;
}

/* A copy of binary and of what ldd finds for it, in the same layout: the merged-/usr links
 * of the top level and each symlink on the way to a library, absolute ones too. */
static void make_copy(const char *dir, const char *binary) {
        if (run("set -e; cd '%s'; "
                "for l in bin sbin lib lib64 lib32 libx32; do if [ -L /$l ]; then mkdir -p \"./$(readlink /$l)\"; cp -P /$l ./$l; fi; done; "
                "copy() { p=$1; n=0; while [ -L \"$p\" ] && [ $n -lt 40 ]; do mkdir -p \"./$(dirname \"$p\")\"; cp -P \"$p\" \"./$p\"; "
                "t=$(readlink \"$p\"); case $t in /*) p=$t;; *) p=$(dirname \"$p\")/$t;; esac; n=$((n+1)); done; "
                "mkdir -p \"./$(dirname \"$p\")\"; cp \"$p\" \"./$p\"; }; "
                "for p in '%s' $(ldd '%s' | sed -n 's/.*=> \\(\\/[^ ]*\\) .*/\\1/p; s/^[[:space:]]*\\(\\/[^ ]*\\) (.*/\\1/p'); do copy \"$p\"; done",
                dir, binary, binary) != 0)
                exit(EXIT_FAILURE);
}

/* The last library ldd lists by name (a leaf, as ld.so loads breadth first), not libc. */
static char *pick_victim(char * const *ldd, const char *binary) {
        char cmd[PATH_MAX + 64], line[4096], *victim = NULL;
        FILE *f;

        snprintf(cmd, sizeof cmd, "ldd '%s' 2>/dev/null", binary);
        f = popen(cmd, "r");
        while (f && fgets(line, sizeof line, f)) {
                char *arrow = strstr(line, "=> /");
                if (!arrow || strstr(line, "libc.so"))
                        continue;
                arrow[3 + strcspn(arrow + 3, " \t\n")] = 0;
                free(victim);
                victim = xstrdup(arrow + 3);
        }
        if (f)
                pclose(f);
        return victim;
}

/* realpath() would follow the copy's absolute links out of it: the file path opens in the
 * tree is compared with the files at ldd's realpaths, in the copy. */
static bool resolves_to_one_of(int root_fd, const char *path, char * const *real) {
        struct stat a, b;
        int fd = open_in_root(root_fd, path, O_PATH, 0);
        bool ok = fd >= 0 && fstat(fd, &a) >= 0;

        if (fd >= 0)
                close(fd);
        STRV_FOREACH(r, real)
                if (ok && fstatat(root_fd, *r + 1, &b, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(b.st_mode) &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        return true;
        return false;
}

static void test_copy_closure(int root_fd, const char *binary, char * const *real) {
        _cleanup_strv_free_ char **closure = NULL;
        char * const bins[] = { (char *) binary, NULL };
        char why[8192] = "", name[PATH_MAX + 64];
        int r = elf_closure(root_fd, bins, &closure);

        in_tree(root_fd, closure, why, sizeof why);
        STRV_FOREACH(p, real)
                if (!strv_contains(closure, *p))
                        append(why, sizeof why, "missing %s; ", *p);
        STRV_FOREACH(p, closure)
                if (!resolves_to_one_of(root_fd, *p, real))
                        append(why, sizeof why, "%s is not what ldd loads; ", *p);
        snprintf(name, sizeof name, "in a copy of %s and its libraries, the closure is the same files, in the copy", binary);
        check(r >= 0 && !*why && strv_length(real) > 0, name, "r=%d, %s", r, why);
}

/* Without a library in the copy, it is not found, though the machine has it at that path. */
static void test_copy_missing(int root_fd, const char *dir, const char *binary, const char *victim) {
        _cleanup_strv_free_ char **closure = NULL;
        _cleanup_free_ char *real = realpath(victim, NULL);
        char * const bins[] = { (char *) binary, NULL };
        char why[8192] = "";
        int r;

        if (!real || run("rm -f '%s%s'", dir, real) != 0)
                exit(EXIT_FAILURE);
        r = elf_closure(root_fd, bins, &closure);
        in_tree(root_fd, closure, why, sizeof why);
        check(r >= 0 && !*why && !strv_contains(closure, victim) && !strv_contains(closure, real) &&
              strv_length(closure) > 0,
              "a library missing from the copy is not found, though the machine has it", "%s: %s", victim, why);
}

/* ld.so.conf from the tree: comments, hwcap, relative and absolute includes, a glob that
 * leaves out dot files, an include of itself that must end. */
static void test_copy_conf(int root_fd, const char *dir, const char *binary, const char *victim) {
        _cleanup_strv_free_ char **closure = NULL;
        _cleanup_free_ char *real = realpath(victim, NULL), *want = NULL, *hidden = NULL;
        char * const bins[] = { (char *) binary, NULL };
        const char *base = strrchr(victim, '/') + 1;
        int r;

        if (run("set -e; cd '%s'; mkdir -p etc/ld.so.conf.d opt/vendor/lib opt/hidden; cp '%s' opt/vendor/lib/'%s'; "
                "cp '%s' opt/hidden/'%s'; "
                "printf '# the tree s own\\nhwcap 0 nosegneg\\ninclude ld.so.conf.d/*.conf\\ninclude /nonexistent/*.conf\\n' >etc/ld.so.conf; "
                "printf '  /opt/vendor/lib/   # vendor\\n\\n' >etc/ld.so.conf.d/10-vendor.conf; "
                "printf '/opt/hidden\\n' >etc/ld.so.conf.d/.hidden.conf; "
                "printf 'include /etc/ld.so.conf\\n' >etc/ld.so.conf.d/20-loop.conf",
                dir, real, base, real, base) != 0)
                exit(EXIT_FAILURE);
        want = xasprintf("/opt/vendor/lib/%s", base);
        hidden = xasprintf("/opt/hidden/%s", base);
        r = elf_closure(root_fd, bins, &closure);
        check(r >= 0 && strv_contains(closure, want) && !strv_contains(closure, hidden),
              "a library in a directory of the tree's ld.so.conf.d is found there", "want %s", want);
}

static bool read_whole(const char *path, unsigned char **ret, size_t *ret_size) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool ok = fd >= 0 && fstat(fd, &st) >= 0 && st.st_size > 0;

        if (ok) {
                *ret = xmalloc((size_t) st.st_size);
                *ret_size = (size_t) st.st_size;
                ok = read(fd, *ret, *ret_size) == (ssize_t) *ret_size;
        }
        if (fd >= 0)
                close(fd);
        return ok;
}

static void write_at(int root_fd, const char *path, const void *data, size_t n) {
        int fd = openat(root_fd, path + 1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

        if (fd < 0 || write(fd, data, n) != (ssize_t) n)
                exit(EXIT_FAILURE);
        close(fd);
}

static uint64_t prng_state = 0x9e3779b97f4a7c15u;

static uint64_t prng(void) {
        prng_state ^= prng_state << 13;
        prng_state ^= prng_state >> 7;
        prng_state ^= prng_state << 17;
        return prng_state;
}

static bool skipped(int r) {
        return r == 0 || r == -ENOEXEC || r == -EBADMSG;
}

/* Truncated copies, random bytes and a missing file are skipped; corrupted copies (bytes
 * overwritten in the headers or anywhere) are read or refused, never a crash. */
static void test_hostile_copies(int root_fd, const char *binary) {
        static const size_t cuts[] = { 0, 4, 16, 52, 63, 64, 100, 700, 1000 };
        _cleanup_free_ unsigned char *data = NULL, *copy = NULL;
        char * const hostile[] = { (char *) "/usr/bin/random", (char *) "/usr/bin/truncated", (char *) "/usr/bin/missing", NULL };
        _cleanup_strv_free_ char **closure = NULL;
        char name[128];
        size_t size;
        bool ok = true;
        int r;

        if (!read_whole(binary, &data, &size))
                exit(EXIT_FAILURE);
        for (size_t i = 0; i < ELEMENTSOF(cuts) && cuts[i] < size; i++) {
                write_at(root_fd, "/usr/bin/truncated", data, cuts[i]);
                r = elf_read_dynamic(root_fd, "/usr/bin/truncated", NULL, NULL);
                snprintf(name, sizeof name, "a copy cut after %zu bytes is refused", cuts[i]);
                check(r == -ENOEXEC || r == -EBADMSG, name, "r=%d", r);
        }
        copy = xmalloc(size);
        for (size_t i = 0; i < 65536 && i < size; i++)
                copy[i] = (unsigned char) prng();
        write_at(root_fd, "/usr/bin/random", copy, size < 65536 ? size : 65536);
        check(elf_read_dynamic(root_fd, "/usr/bin/random", NULL, NULL) == -ENOEXEC, "random bytes are not ELF", NULL);
        r = elf_closure(root_fd, hostile, &closure);
        check(r >= 0 && strv_length(closure) == 0, "random, truncated and missing binaries are skipped without an error", "r=%d", r);

        for (unsigned i = 0; i < 300; i++) {
                _cleanup_strv_free_ char **c = NULL;
                char * const one[] = { (char *) "/usr/bin/corrupt", NULL };
                memcpy(copy, data, size);
                for (unsigned k = 0, n = 1 + prng() % 4; k < n; k++) {
                        size_t at = prng() % 2 ? prng() % (size < 1024 ? size : 1024) : prng() % size;
                        uint64_t v = prng();
                        memcpy(copy + at, &v, size - at < 8 ? size - at : 8);
                }
                write_at(root_fd, "/usr/bin/corrupt", copy, size - (i % 3 == 0 ? prng() % size : 0));
                r = elf_read_dynamic(root_fd, "/usr/bin/corrupt", NULL, NULL);
                ok = ok && skipped(r) && elf_closure(root_fd, one, &c) >= 0;
        }
        check(ok, "300 corrupted copies are read or refused, without a crash", NULL);
}

static void test_copy(const char *binary) {
        _cleanup_strv_free_ char **ldd = ldd_paths(binary), **real = NULL;
        _cleanup_free_ char *victim = pick_victim(ldd, binary), *dir = NULL;
        char tmpl[] = "/tmp/test-elf.XXXXXX";
        int root_fd;

        /* resolved: the test compares the copy's realpaths below it */
        if (!mkdtemp(tmpl) || !(dir = realpath(tmpl, NULL)))
                exit(EXIT_FAILURE);
        make_copy(dir, binary);
        root_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        STRV_FOREACH(p, ldd) {
                char *rp = realpath(*p, NULL);
                if (rp && !strv_contains(real, rp))
                        strv_push(&real, rp);
                else
                        free(rp);
        }
        test_copy_closure(root_fd, binary, real);
        test_hostile_copies(root_fd, binary);
        if (victim) {
                test_copy_missing(root_fd, dir, binary, victim);
                test_copy_conf(root_fd, dir, binary, victim);
        }
        close(root_fd);
        (void) !run("rm -rf '%s'", dir);
}

/* Synthetic objects: one PT_LOAD mapping the whole file at BASE, PT_DYNAMIC, PT_INTERP. */
#define BASE 0x400000u

typedef struct Kind {
        bool is64, big;
        uint16_t machine;
        const char *name;
} Kind;

static const Kind kinds[] = {
        { true, false, EM_X86_64, "64-bit little-endian" },
        { true, true, EM_S390, "64-bit big-endian" },
        { false, false, EM_386, "32-bit little-endian" },
        { false, true, EM_PPC, "32-bit big-endian" },
};

typedef enum Bad {
        BAD_NONE, BAD_CLASS, BAD_TYPE, BAD_PHOFF, BAD_PHNUM, BAD_PHENTSIZE, BAD_STRTAB,
        BAD_NEEDED, BAD_UNTERMINATED, BAD_LOAD_OFFSET, BAD_DYNAMIC_SIZE, _BAD_MAX,
} Bad;

static const char * const bad_names[_BAD_MAX] = {
        [BAD_CLASS] = "an unknown class",
        [BAD_TYPE] = "a relocatable object",
        [BAD_PHOFF] = "program headers past the end",
        [BAD_PHNUM] = "65535 program headers",
        [BAD_PHENTSIZE] = "program headers of the wrong size",
        [BAD_STRTAB] = "a string table outside any PT_LOAD",
        [BAD_NEEDED] = "a DT_NEEDED past the string table",
        [BAD_UNTERMINATED] = "a string cut by DT_STRSZ",
        [BAD_LOAD_OFFSET] = "a PT_LOAD offset that overflows",
        [BAD_DYNAMIC_SIZE] = "a dynamic section past the end",
};

typedef struct Spec {
        const char *interp, *runpath, *rpath, *soname;
        const char *needed[8];
} Spec;

static void put(unsigned char *p, uint64_t v, size_t n, bool big) {
        for (size_t i = 0; i < n; i++)
                p[big ? n - 1 - i : i] = (unsigned char) (v >> (8 * i));
}

/* A field of an ELF structure, at its offset in the class's layout. */
#define PUT(k, at, T, field, v)                                                                         \
        ((k)->is64 ? put((at) + offsetof(Elf64_##T, field), (v), sizeof(((Elf64_##T *) 0)->field), (k)->big) \
                   : put((at) + offsetof(Elf32_##T, field), (v), sizeof(((Elf32_##T *) 0)->field), (k)->big))

static size_t add_string(unsigned char *strtab, size_t *n, const char *s) {
        size_t at = *n;
        memcpy(strtab + at, s, strlen(s) + 1);
        *n += strlen(s) + 1;
        return at;
}

static void put_dyn(const Kind *k, unsigned char **d, int64_t tag, uint64_t val) {
        PUT(k, *d, Dyn, d_tag, (uint64_t) tag);
        PUT(k, *d, Dyn, d_un.d_val, val);
        *d += k->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
}

static void put_header(const Kind *k, unsigned char *buf, size_t phnum, Bad bad) {
        size_t eh = k->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
        size_t ph = k->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

        memcpy(buf, ELFMAG, SELFMAG);
        buf[EI_CLASS] = bad == BAD_CLASS ? 7 : k->is64 ? ELFCLASS64 : ELFCLASS32;
        buf[EI_DATA] = k->big ? ELFDATA2MSB : ELFDATA2LSB;
        buf[EI_VERSION] = EV_CURRENT;
        PUT(k, buf, Ehdr, e_type, bad == BAD_TYPE ? ET_REL : ET_DYN);
        PUT(k, buf, Ehdr, e_machine, k->machine);
        PUT(k, buf, Ehdr, e_version, EV_CURRENT);
        PUT(k, buf, Ehdr, e_phoff, bad == BAD_PHOFF ? 0x7ffffff0u : eh);
        PUT(k, buf, Ehdr, e_ehsize, eh);
        PUT(k, buf, Ehdr, e_phentsize, bad == BAD_PHENTSIZE ? ph + 8 : ph);
        PUT(k, buf, Ehdr, e_phnum, bad == BAD_PHNUM ? 0xffff : phnum);
}

static void put_phdr(const Kind *k, unsigned char *at, uint32_t type, uint64_t off, uint64_t filesz) {
        PUT(k, at, Phdr, p_type, type);
        PUT(k, at, Phdr, p_offset, off);
        PUT(k, at, Phdr, p_vaddr, BASE + off);
        PUT(k, at, Phdr, p_filesz, filesz);
        PUT(k, at, Phdr, p_memsz, filesz);
}

/* The file: headers, the string table, the dynamic section; its size. */
static size_t make_elf(const Kind *k, const Spec *s, Bad bad, unsigned char *buf) {
        size_t eh = k->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
        size_t ph = k->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
        size_t phnum = s->interp ? 3 : 2, str = eh + phnum * ph, n = 1, interp = 0, needed_at = 0;
        unsigned char *d;

        memset(buf, 0, 4096);
        if (s->interp)
                interp = add_string(buf + str, &n, s->interp);
        size_t doff = (str + 1024 + 7) & ~(size_t) 7;
        d = buf + doff;
        for (size_t i = 0; s->needed[i]; i++) {
                size_t at = add_string(buf + str, &n, s->needed[i]);
                needed_at = needed_at ?: at;
                put_dyn(k, &d, DT_NEEDED, bad == BAD_NEEDED && i == 0 ? 5000 : at);
        }
        if (s->runpath)
                put_dyn(k, &d, DT_RUNPATH, add_string(buf + str, &n, s->runpath));
        if (s->rpath)
                put_dyn(k, &d, DT_RPATH, add_string(buf + str, &n, s->rpath));
        if (s->soname)
                put_dyn(k, &d, DT_SONAME, add_string(buf + str, &n, s->soname));
        put_dyn(k, &d, DT_STRTAB, bad == BAD_STRTAB ? BASE + 0x100000 : BASE + str);
        put_dyn(k, &d, DT_STRSZ, bad == BAD_UNTERMINATED ? needed_at + 2 : n);
        put_dyn(k, &d, DT_NULL, 0);
        size_t total = (size_t) (d - buf);

        put_header(k, buf, phnum, bad);
        put_phdr(k, buf + eh, PT_LOAD, 0, total);
        if (bad == BAD_LOAD_OFFSET)
                PUT(k, buf + eh, Phdr, p_offset, k->is64 ? UINT64_MAX - 8 : UINT32_MAX - 8);
        put_phdr(k, buf + eh + ph, PT_DYNAMIC, doff, bad == BAD_DYNAMIC_SIZE ? 0x7fffffffu : total - doff);
        if (s->interp)
                put_phdr(k, buf + eh + 2 * ph, PT_INTERP, str + interp, strlen(s->interp) + 1);
        return total;
}

static void tree_write(const char *dir, const char *path, const void *data, size_t n) {
        _cleanup_free_ char *full = xasprintf("%s%s", dir, path);
        int fd;

        if (run("mkdir -p \"$(dirname '%s')\"", full) != 0)
                exit(EXIT_FAILURE);
        fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (fd < 0 || write(fd, data, n) != (ssize_t) n)
                exit(EXIT_FAILURE);
        close(fd);
}

static void tree_elf(const char *dir, const char *path, const Kind *k, const Spec *s) {
        unsigned char buf[4096];
        tree_write(dir, path, buf, make_elf(k, s, BAD_NONE, buf));
}

static void tree_link(const char *dir, const char *path, const char *target) {
        if (run("set -e; mkdir -p \"$(dirname '%s%s')\"; ln -s '%s' '%s%s'", dir, path, target, dir, path) != 0)
                exit(EXIT_FAILURE);
}

static const Spec tool = {
        .interp = "/lib/ld-test.so.1",
        .runpath = "$ORIGIN/../lib:/opt/abs:relative/dir:$LIB/x:/opt/$FOO",
        .needed = { "liba.so.1", "libb.so.2", "libz.so.9", "libmissing.so.0", "ld-test.so.1", "libesc.so.1", "libdollar.so" },
};
static const Spec tool2 = { .rpath = "/opt/rp/lib", .needed = { "libc2.so", "libconf.so.1", "libloop.so", "$ORIGIN/../lib/libo.so" } };

/* The search rules, with objects of kind k; other is of the other class, same byte order. */
static void make_synthetic_tree(const char *dir, const Kind *k, const Kind *other) {
        tree_elf(dir, "/lib/ld-test.so.1", k, &(Spec) { .soname = "ld-test.so.1" });
        tree_elf(dir, "/opt/app/bin/tool", k, &tool);
        tree_link(dir, "/usr/bin/tool-link", "/opt/app/bin/tool");
        /* $ORIGIN/../lib, and liba's needs are not searched in tool's RUNPATH */
        tree_link(dir, "/opt/app/lib/liba.so.1", "liba.so.1.0");
        tree_elf(dir, "/opt/app/lib/liba.so.1.0", k, &(Spec) { .needed = { "libnot-inherited.so" } });
        tree_elf(dir, "/opt/abs/libnot-inherited.so", k, &(Spec) {});
        /* an absolute link; libb's own "$ORIGIN" is where it was found, as ld.so has it */
        tree_link(dir, "/opt/abs/libb.so.2", "/opt/abs/real/libb.so.2.0");
        tree_elf(dir, "/opt/abs/real/libb.so.2.0", k, &(Spec) { .runpath = "${ORIGIN}/../private", .needed = { "libpriv.so" } });
        tree_elf(dir, "/opt/private/libpriv.so", k, &(Spec) {});
        /* not ELF, then the other class: skipped, the search goes on */
        tree_write(dir, "/lib64/libz.so.9", "INPUT(libz.so.9.1)\n", 19);
        tree_elf(dir, "/usr/lib64/libz.so.9", other, &(Spec) {});
        tree_elf(dir, "/usr/lib/libz.so.9", k, &(Spec) {});
        /* ".." above the root stays at the root of the tree */
        tree_link(dir, "/opt/abs/libesc.so.1", "../../../../../../lib/libesc-real.so");
        tree_elf(dir, "/lib/libesc-real.so", k, &(Spec) {});
        /* $LIB is the loader's own (skipped), another '$' a character */
        tree_elf(dir, "/opt/$FOO/libdollar.so", k, &(Spec) {});
        /* DT_RPATH is inherited; "$ORIGIN" in a needed name; a symlink loop is skipped;
         * ld.so.conf, including itself */
        tree_elf(dir, "/opt/rp/bin/tool2", k, &tool2);
        tree_elf(dir, "/opt/rp/lib/libc2.so", k, &(Spec) { .needed = { "libd.so" } });
        tree_elf(dir, "/opt/rp/lib/libd.so", k, &(Spec) {});
        tree_elf(dir, "/opt/rp/lib/libo.so", k, &(Spec) {});
        tree_link(dir, "/opt/rp/lib/libloop.so", "libloop.so");
        tree_write(dir, "/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n", 33);
        tree_write(dir, "/etc/ld.so.conf.d/test.conf", "/opt/conf\ninclude ../ld.so.conf\n", 32);
        tree_elf(dir, "/opt/conf/libconf.so.1", k, &(Spec) {});
        tree_elf(dir, "/opt/misc/both.so", k, &(Spec) { .runpath = "/r", .rpath = "/p" });
}

static void check_closure(int root_fd, const Kind *k, const char *binary, const char *want) {
        _cleanup_strv_free_ char **closure = NULL;
        _cleanup_free_ char *got = NULL;
        char * const bins[] = { (char *) binary, NULL };
        char name[256];
        int r = elf_closure(root_fd, bins, &closure);

        got = join(closure);
        snprintf(name, sizeof name, "%s: the closure of %s", k->name, binary);
        check(r >= 0 && streq(got, want), name, "r=%d, got '%s', want '%s'", r, got, want);
}

static void check_dynamic(int root_fd, const Kind *k, const char *path, const char *needed, const char *runpath) {
        _cleanup_strv_free_ char **n = NULL, **rp = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        char name[256];
        int r = elf_read_dynamic(root_fd, path, &n, &rp);

        a = join(n), b = join(rp);
        snprintf(name, sizeof name, "%s: DT_NEEDED and the search path of %s", k->name, path);
        check(r >= 0 && streq(a, needed) && streq(b, runpath), name, "r=%d, '%s' / '%s'", r, a, b);
}

/* Each kind of damage is refused with its error; each byte of a file set to each of a few
 * values, the file is read or refused, never a crash. */
static void check_damage(int root_fd, const Kind *k) {
        unsigned char buf[4096];
        char name[256];
        bool ok = true;
        size_t n;
        int fd;

        for (Bad bad = BAD_NONE + 1; bad < _BAD_MAX; bad++) {
                int want = bad == BAD_CLASS || bad == BAD_TYPE ? -ENOEXEC : -EBADMSG, r;
                write_at(root_fd, "/opt/bad", buf, make_elf(k, &tool, bad, buf));
                r = elf_read_dynamic(root_fd, "/opt/bad", NULL, NULL);
                snprintf(name, sizeof name, "%s: %s is refused", k->name, bad_names[bad]);
                check(r == want, name, "r=%d, want %d", r, want);
        }
        /* one byte written in place at a time, and put back */
        n = make_elf(k, &tool, BAD_NONE, buf);
        write_at(root_fd, "/opt/bad", buf, n);
        fd = openat(root_fd, "opt/bad", O_WRONLY | O_CLOEXEC);
        for (size_t at = 0; fd >= 0 && at < n; at++) {
                for (unsigned v = 0; v < 4; v++) {
                        _cleanup_strv_free_ char **c = NULL;
                        char * const one[] = { (char *) "/opt/bad", NULL };
                        unsigned char b = (unsigned char[]) { 0x00, 0xff, 0x80, 0x01 }[v];
                        ok = ok && pwrite(fd, &b, 1, (off_t) at) == 1;
                        ok = ok && skipped(elf_read_dynamic(root_fd, "/opt/bad", NULL, NULL));
                        /* the walk too, with one of the values: it costs a hundred lookups */
                        ok = ok && (v != 1 || elf_closure(root_fd, one, &c) >= 0);
                }
                ok = ok && pwrite(fd, buf + at, 1, (off_t) at) == 1;
        }
        ok = ok && fd >= 0;
        if (fd >= 0)
                close(fd);
        snprintf(name, sizeof name, "%s: every byte of a file overwritten, %zu files are read or refused", k->name, 4 * n);
        check(ok, name, NULL);
}

static void test_synthetic(void) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const Kind *k = &kinds[i], *other = &kinds[i ^ 2];
                char tmpl[] = "/tmp/test-elf.XXXXXX";
                const char *dir = mkdtemp(tmpl);
                int root_fd;

                if (!dir)
                        exit(EXIT_FAILURE);
                make_synthetic_tree(dir, k, other);
                root_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                check_dynamic(root_fd, k, "/opt/app/bin/tool",
                              "liba.so.1 libb.so.2 libz.so.9 libmissing.so.0 ld-test.so.1 libesc.so.1 libdollar.so",
                              "$ORIGIN/../lib /opt/abs relative/dir $LIB/x /opt/$FOO");
                check_dynamic(root_fd, k, "/opt/rp/bin/tool2", "libc2.so libconf.so.1 libloop.so $ORIGIN/../lib/libo.so",
                              "/opt/rp/lib");
                check_dynamic(root_fd, k, "/opt/misc/both.so", "", "/r");
                check_dynamic(root_fd, k, "/lib/ld-test.so.1", "", "");
                check_closure(root_fd, k, "/opt/app/bin/tool",
                              "/lib/ld-test.so.1 /lib/libesc-real.so /opt/$FOO/libdollar.so /opt/abs/libb.so.2 /opt/abs/libesc.so.1 "
                              "/opt/abs/real/libb.so.2.0 /opt/app/lib/liba.so.1 /opt/app/lib/liba.so.1.0 "
                              "/opt/private/libpriv.so /usr/lib/libz.so.9");
                check_closure(root_fd, k, "/usr/bin/tool-link",
                              "/lib/ld-test.so.1 /lib/libesc-real.so /opt/$FOO/libdollar.so /opt/abs/libb.so.2 /opt/abs/libesc.so.1 "
                              "/opt/abs/real/libb.so.2.0 /opt/app/lib/liba.so.1 /opt/app/lib/liba.so.1.0 "
                              "/opt/private/libpriv.so /usr/lib/libz.so.9");
                check_closure(root_fd, k, "/opt/rp/bin/tool2",
                              "/opt/conf/libconf.so.1 /opt/rp/lib/libc2.so /opt/rp/lib/libd.so /opt/rp/lib/libo.so");
                check_damage(root_fd, k);
                close(root_fd);
                (void) !run("rm -rf '%s'", dir);
        }
}

int main(void) {
        char self[PATH_MAX];
        ssize_t n;

        if (system("command -v ldd >/dev/null 2>&1") != 0) {
                printf("SKIP: no ldd on this machine to compare with\n");
                return 77;
        }
        have_readelf = system("command -v readelf >/dev/null 2>&1") == 0;
        if (!have_readelf)
                printf("# no readelf here: elf_read_dynamic() is not compared with it\n");
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
                return EXIT_FAILURE;
        self[n] = 0;

        test_host(self);
        test_copy(access("/usr/bin/ls", X_OK) == 0 ? "/usr/bin/ls" : "/usr/bin/bash");
        test_synthetic();
        return tests_finish();
}
