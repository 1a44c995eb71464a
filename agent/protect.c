/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <libkmod.h>
#include <libmount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cmdline.h"
#include "elf-deps.h"
#include "fs-util.h"
#include "glob.h"
#include "names.h"
#include "macro.h"
#include "protect.h"
#include "strv.h"
#include "unit-path.h"

typedef struct Protected {
        bool units_loaded;
        char **units;              /* the default target and the targets it requires */
        bool modules_loaded;
        char **modules;            /* "name\twhy", sorted by name */
        bool libraries_loaded;
        char **libraries;          /* in-tree paths: essential binaries and their libraries */
        bool memory_loaded;
        uint64_t mem_total;        /* bytes; 0 offline */
        uint64_t hugepage_size;
} Protected;

void protected_free(Protected *p) {
        if (!p)
                return;
        strv_free(p->units);
        strv_free(p->modules);
        strv_free(p->libraries);
        free(p);
}

static Protected *protected_get(Context *ctx) {
        if (!ctx->protected)
                ctx->protected = xcalloc(1, sizeof(Protected));
        return ctx->protected;
}

/* ---- files */

/* Whatever the policy says, these are never removed (dpuos-trim.conf(5), "Protected
 * paths"). The first entry, a single glob segment, stands for every top-level directory
 * itself (not what is in it); the rest are globs over in-tree paths. */
const char * const protected_paths[] = {
        "/*",
        "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/fstab",
        "/etc/machine-id", "/etc/os-release", "/usr/lib/os-release",
        /* the dynamic loader and libc, wherever the distribution keeps them */
        "/lib*/ld-linux*", "/usr/lib*/ld-linux*", "/lib/*/ld-linux*", "/usr/lib/*/ld-linux*",
        "/lib*/libc.so*", "/usr/lib*/libc.so*", "/lib/*/libc.so*", "/usr/lib/*/libc.so*",
        "/lib*/ld-musl*", "/usr/lib*/ld-musl*",
        /* glibc before 2.34 (openEuler 20.03: 2.28): libc.so.6 and the loader are links to
         * libc-2.28.so and ld-2.28.so, the files that must stay */
        "/lib*/libc-[0-9]*.so", "/usr/lib*/libc-[0-9]*.so", "/lib/*/libc-[0-9]*.so", "/usr/lib/*/libc-[0-9]*.so",
        "/lib*/ld-[0-9]*.so", "/usr/lib*/ld-[0-9]*.so", "/lib/*/ld-[0-9]*.so", "/usr/lib/*/ld-[0-9]*.so",
        /* PID 1 */
        "/sbin/init", "/usr/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd",
        /* dpuos-trim itself: binary, units, generator, policy and state */
        BINDIR "/dpuos-trim",
        "/usr/lib/systemd/system/dpuos-trim*", "/lib/systemd/system/dpuos-trim*",
        "/etc/systemd/system/dpuos-trim*",
        "/usr/lib/systemd/system-generators/dpuos-trim*", "/lib/systemd/system-generators/dpuos-trim*",
        NULL,
};

/* These are protected with everything below them, also when a pattern starts inside. */
const char * const protected_trees[] = {
        "/proc", "/sys", "/dev", "/run",
        "/etc/dpuos-trim", "/usr/local/lib/dpuos-trim", "/usr/lib/dpuos-trim", "/var/lib/dpuos-trim",
        NULL,
};

/* ---- units */

typedef struct ProtectedName {
        const char *glob;
        const char *why;
} ProtectedName;

/* The target's Requires= in its unit file, the first found on the search path. */
static void unit_requires(Context *ctx, const char *unit, char ***ret) {
        for (const char * const *dir = unit_search_path; *dir; dir++) {
                _cleanup_free_ char *path = path_join(*dir, unit), *text = NULL;
                char *save = NULL;

                if (read_file_in_root(ctx->root_fd, path, 1024 * 1024, &text) < 0)
                        continue;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        const char *v = startswith(l, "Requires=");
                        _cleanup_free_ char *copy = v ? xstrdup(v) : NULL;
                        char *s2 = NULL;
                        for (char *w = v ? strtok_r(copy, " \t", &s2) : NULL; w; w = strtok_r(NULL, " \t", &s2))
                                if (endswith(w, ".target") && !strv_contains(*ret, w))
                                        strv_extend(ret, w);
                }
                return;
        }
}

/* The default target is a symlink (/etc first, then the distribution's); what it and the
 * targets it requires pull in, transitively, is what a boot reaches. */
static void load_default_targets(Context *ctx, char ***ret) {
        static const char * const links[] = { "/etc/systemd/system/default.target",
                                              "/usr/lib/systemd/system/default.target",
                                              "/lib/systemd/system/default.target" };

        for (size_t i = 0; i < ELEMENTSOF(links) && !*ret; i++) {
                _cleanup_free_ char *target = NULL;
                if (readlink_in_root(ctx->root_fd, links[i], &target) >= 0)
                        strv_extend(ret, path_basename(target));
        }
        for (size_t i = 0; i < strv_length(*ret); i++)
                unit_requires(ctx, (*ret)[i], ret);
}

const char *protected_unit(Context *ctx, const char *unit) {
        const char *why = unit_name_protected(unit);
        Protected *p = protected_get(ctx);

        if (why)
                return why;
        if (!p->units_loaded) {
                load_default_targets(ctx, &p->units);
                p->units_loaded = true;
        }
        return strv_contains(p->units, unit) ? "the boot (the default target and what it requires)" : NULL;
}

/* ---- settings */

static uint64_t meminfo_kib(const char *text, const char *field) {
        const char *f = strstr(text, field);
        return f ? strtoull(f + strlen(field), NULL, 10) : 0;
}

/* MemTotal and the default hugepage size, read once; both 0 offline. Tests may give
 * MemTotal in bytes with $DPUOS_TRIM_TEST_MEMTOTAL. */
static const Protected *memory(Context *ctx) {
        Protected *p = protected_get(ctx);
        const char *hook = ENABLE_TEST_HOOKS ? getenv("DPUOS_TRIM_TEST_MEMTOTAL") : NULL;
        _cleanup_free_ char *text = NULL;

        if (p->memory_loaded)
                return p;
        p->memory_loaded = true;
        if (!ctx->offline && read_file_host("/proc/meminfo", 64 * 1024, &text) >= 0) {
                p->mem_total = meminfo_kib(text, "MemTotal:") * 1024;
                p->hugepage_size = meminfo_kib(text, "Hugepagesize:") * 1024;
        }
        if (hook)
                p->mem_total = strtoull(hook, NULL, 10);
        return p;
}

const char *protected_reservations(Context *ctx, char * const *words) {
        static char why[256];
        const Protected *p = memory(ctx);
        const char *bad = NULL;
        uint64_t reserved, keep;

        if (cmdline_reserved_bytes(words, p->mem_total, p->hugepage_size, &reserved, &bad) < 0) {
                snprintf(why, sizeof why, "cannot read the reservation '%s'", strempty(bad));
                return why;
        }
        if (p->mem_total == 0)
                return NULL;
        keep = cmdline_memory_floor(p->mem_total);
        if (reserved <= p->mem_total - keep)
                return NULL;
        snprintf(why, sizeof why, "hugepages and crashkernel would reserve %" PRIu64 " MiB of the %" PRIu64
                 " MiB of memory, leaving less than the %" PRIu64 " MiB the system keeps; refused",
                 reserved >> 20, p->mem_total >> 20, keep >> 20);
        return why;
}

/* Hugepages are taken from the memory at once and for good: the OS keeps at least a
 * quarter of it, and never less than 2 GiB (1 GiB on a machine of less than 4 GiB). */
static const char *hugepages_why(Context *ctx, uint64_t page_size, const char *value) {
        static char why[160];
        const Protected *p = memory(ctx);
        uint64_t pages = strtoull(value, NULL, 10), keep;

        if (p->mem_total == 0 || page_size == 0)
                return NULL;
        keep = cmdline_memory_floor(p->mem_total);
        if (pages > (p->mem_total - keep) / page_size) {
                snprintf(why, sizeof why, "%" PRIu64 " hugepages of %" PRIu64 " KiB would leave less than %" PRIu64
                         " MiB of the %" PRIu64 " MiB to the system", pages, page_size >> 10, keep >> 20,
                         p->mem_total >> 20);
                return why;
        }
        return NULL;
}

static const char *protected_sysctl(Context *ctx, const char *key, const char *value) {
        static const struct { const char *key; unsigned long min; } floors[] = {
                { "kernel.pid_max", 4096 }, { "kernel.threads-max", 4096 },
                { "fs.file-max", 8192 }, { "fs.nr_open", 1024 },
        };

        if (streq(key, "kernel.modules_disabled") && strtoul(value, NULL, 10) != 0)
                return "no module could be loaded any more, at every boot: drivers that load late never would";
        if (streq(key, "kernel.printk") && strtoul(value, NULL, 10) == 0)
                return "a console log level of 0 silences the console: not even a panic would reach it";
        for (size_t i = 0; i < ELEMENTSOF(floors); i++)
                if (streq(key, floors[i].key) && strtoul(value, NULL, 10) < floors[i].min)
                        return "too small for the system to run its services";
        if (streq(key, "vm.nr_hugepages") || streq(key, "vm.nr_overcommit_hugepages"))
                return hugepages_why(ctx, memory(ctx)->hugepage_size, value);
        if (streq(key, "vm.min_free_kbytes")) {
                const Protected *p = memory(ctx);
                if (p->mem_total && strtoull(value, NULL, 10) * 1024 > p->mem_total / 10)
                        return "would keep more than a tenth of the memory free: the system would run out";
        }
        return NULL;
}

static const char *protected_sysfs(Context *ctx, const char *path, const char *value) {
        static const ProtectedName paths[] = {
                { "/proc/sysrq-trigger",    "triggers a crash, reboot or power-off" },
                { "/sys/power/*",           "suspends or powers off the machine" },
                { "/sys/**/unbind",         "detaches a device from its driver" },
                { "/sys/**/remove",         "removes a device" },
                { "/sys/**/delete",         "removes a device" },
                { "/sys/kernel/kexec_*",    "replaces the running kernel" },
        };
        const char *size;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (glob_match_path(paths[i].glob, path))
                        return paths[i].why;
        /* /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, and per NUMA node */
        if ((endswith(path, "/nr_hugepages") || endswith(path, "/nr_overcommit_hugepages")) &&
            (size = strstr(path, "/hugepages-")))
                return hugepages_why(ctx, strtoull(size + strlen("/hugepages-"), NULL, 10) * 1024, value);
        return NULL;
}

const char *protected_setting(Context *ctx, Kind kind, const char *key, const char *value) {
        return kind == KIND_SYSCTL ? protected_sysctl(ctx, key, value) : protected_sysfs(ctx, key, value);
}

/* ---- modules */

char *module_name_from_index(const char *line) {
        const char *end = strchrnul(line, ':'), *base = line, *ko;

        for (const char *c = line; c < end; c++)
                if (*c == '/')
                        base = c + 1;
        ko = strstr(base, ".ko");
        if (!ko || ko > end)
                return NULL;
        _cleanup_free_ char *name = xstrndup(base, ko - base);
        return module_name_normalize(name);
}

const char *module_set_find(char **set, const char *name) {
        size_t n = strlen(name);
        STRV_FOREACH(s, set)
                if (strncmp(*s, name, n) == 0 && (*s)[n] == '\t')
                        return *s + n + 1;
        return NULL;
}

bool module_set_add(char ***set, const char *name, const char *why) {
        if (module_set_find(*set, name))
                return false;
        strv_push(set, xasprintf("%s\t%s", name, why));
        return true;
}

void module_set_add_needs(char ***set, char **dep_lines) {
        bool more = true;

        while (more) {
                more = false;
                STRV_FOREACH(l, dep_lines) {
                        _cleanup_free_ char *name = module_name_from_index(*l);
                        const char *colon = strchr(*l, ':');
                        if (!name || !colon || !module_set_find(*set, name))
                                continue;
                        _cleanup_free_ char *copy = xstrdup(colon + 1), *why = xasprintf("needed by %s", name);
                        char *save = NULL;
                        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                                _cleanup_free_ char *dn = module_name_from_index(w);
                                if (dn && module_set_add(set, dn, why))
                                        more = true;
                        }
                }
        }
}

/* Live: the module and everything it needs loaded first, as modprobe would load them. */
static void protect_with_deps(Context *ctx, char ***set, const char *name, const char *why) {
        struct kmod_module *mod = NULL;
        struct kmod_list *lists[2] = {}, *post = NULL, *l;

        if (!module_set_add(set, name, why) || !ctx->kmod || kmod_module_new_from_name(ctx->kmod, name, &mod) < 0)
                return;
        _cleanup_free_ char *dep_why = xasprintf("needed by %s, %s", name, why);
        lists[0] = kmod_module_get_dependencies(mod);
        if (kmod_module_get_softdeps(mod, &lists[1], &post) < 0)
                lists[1] = post = NULL;
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                kmod_list_foreach(l, lists[i]) {
                        struct kmod_module *d = kmod_module_get_module(l);
                        protect_with_deps(ctx, set, kmod_module_get_name(d), dep_why);
                        kmod_module_unref(d);
                }
                kmod_module_unref_list(lists[i]);
        }
        kmod_module_unref_list(post);
        kmod_module_unref(mod);
}

/* The drivers of a device and of every device above it (its bus, its controller). */
static void protect_device_chain(Context *ctx, char ***set, const char *sysfs_path, const char *why) {
        _cleanup_free_ char *dir = realpath(sysfs_path, NULL);

        while (dir && startswith(dir, "/sys/devices/")) {
                _cleanup_free_ char *link = xasprintf("%s/driver/module", dir);
                char buf[PATH_MAX];
                ssize_t n = readlink(link, buf, sizeof buf - 1);
                if (n > 0) {
                        buf[n] = 0;
                        protect_with_deps(ctx, set, path_basename(buf), why);
                }
                *strrchr(dir, '/') = 0;
        }
}

static void protect_block_device(Context *ctx, char ***set, dev_t dev, const char *why, unsigned depth) {
        _cleanup_free_ char *sys = xasprintf("/sys/dev/block/%u:%u", major(dev), minor(dev));
        _cleanup_free_ char *slaves = xasprintf("%s/slaves", sys), *dm = xasprintf("%s/dm", sys);
        _cleanup_free_ char *level_path = xasprintf("%s/md/level", sys), *level = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (depth > 16)
                return;
        protect_device_chain(ctx, set, sys, why);
        if (access(dm, F_OK) >= 0)
                protect_with_deps(ctx, set, "dm_mod", why);
        if (read_file_host(level_path, 64, &level) >= 0) {
                level[strcspn(level, "\n")] = 0;
                protect_with_deps(ctx, set, "md_mod", why);
                protect_with_deps(ctx, set, streq(level, "raid5") || streq(level, "raid6") ? "raid456" : level, why);
        }
        d = opendir(slaves);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *dev_file = xasprintf("%s/%s/dev", slaves, de->d_name), *text = NULL;
                unsigned ma, mi;
                if (de->d_name[0] != '.' && read_file_host(dev_file, 64, &text) >= 0 && sscanf(text, "%u:%u", &ma, &mi) == 2)
                        protect_block_device(ctx, set, makedev(ma, mi), why, depth + 1);
        }
}

/* The modules an alias resolves to, as modprobe resolves it ("fs-ext4", a modalias). */
static void protect_alias(Context *ctx, char ***set, const char *alias, const char *why) {
        struct kmod_list *list = NULL, *l;

        if (!ctx->kmod || kmod_module_new_from_lookup(ctx->kmod, alias, &list) < 0)
                return;
        kmod_list_foreach(l, list) {
                struct kmod_module *m = kmod_module_get_module(l);
                protect_with_deps(ctx, set, kmod_module_get_name(m), why);
                kmod_module_unref(m);
        }
        kmod_module_unref_list(list);
}

static void protect_fs_type(Context *ctx, char ***set, const char *type, const char *why) {
        _cleanup_free_ char *alias = xasprintf("fs-%s", type);
        protect_alias(ctx, set, alias, why);
}

static void protect_mounts(Context *ctx, char ***set) {
        static const char * const targets[] = { "/", "/usr", "/var", "/boot", "/boot/efi" };
        struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");

        for (size_t i = 0; tb && i < ELEMENTSOF(targets); i++) {
                struct libmnt_fs *fs = mnt_table_find_target(tb, targets[i], MNT_ITER_BACKWARD);
                if (!fs)
                        continue;
                _cleanup_free_ char *why = xasprintf("the file system of %s", targets[i]);
                if (mnt_fs_get_fstype(fs))
                        protect_fs_type(ctx, set, mnt_fs_get_fstype(fs), why);
                if (major(mnt_fs_get_devno(fs)) != 0)
                        protect_block_device(ctx, set, mnt_fs_get_devno(fs), why, 0);
        }
        mnt_unref_table(tb);
}

static void protect_swaps(Context *ctx, char ***set) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        if (read_file_host("/proc/swaps", 64 * 1024, &text) < 0)
                return;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                struct stat st;
                l[strcspn(l, " \t")] = 0;
                if (l[0] == '/' && stat(l, &st) >= 0 && S_ISBLK(st.st_mode))
                        protect_block_device(ctx, set, st.st_rdev, "swap", 0);
        }
}

/* A network interface, the ones it is built on (a bond's, a bridge's, a VLAN's lower
 * devices), and the module of its kind. */
static void protect_netdev(Context *ctx, char ***set, const char *ifname, const char *why, unsigned depth) {
        _cleanup_free_ char *base = xasprintf("/sys/class/net/%s", ifname), *device = xasprintf("%s/device", base);
        _cleanup_free_ char *uevent = xasprintf("%s/uevent", base), *text = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (depth > 8)
                return;
        protect_device_chain(ctx, set, device, why);
        if (read_file_host(uevent, 64 * 1024, &text) >= 0) {
                const char *t = strstr(text, "DEVTYPE=");
                _cleanup_free_ char *type = t ? xstrndup(t + 8, strcspn(t + 8, "\n")) : NULL;
                if (type)
                        protect_with_deps(ctx, set, streq(type, "bond") ? "bonding" : streq(type, "vlan") ? "8021q" : type, why);
        }
        d = opendir(base);
        while (d && (de = readdir(d)))
                if (startswith(de->d_name, "lower_"))
                        protect_netdev(ctx, set, de->d_name + strlen("lower_"), why, depth + 1);
}

/* The interfaces of the default routes, IPv4 and IPv6: how the DPU is reached. */
static void protect_network(Context *ctx, char ***set) {
        static const char * const tables[] = { "/proc/net/route", "/proc/net/ipv6_route" };

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                _cleanup_free_ char *text = NULL;
                char *save = NULL;

                if (read_file_host(tables[i], 1024 * 1024, &text) < 0)
                        continue;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        char f[10][64];
                        int n = sscanf(l, "%63s %63s %63s %63s %63s %63s %63s %63s %63s %63s",
                                       f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]);
                        /* IPv4: Iface Destination ...; IPv6: dest prefixlen ... iface last */
                        if (i == 0 && n >= 2 && streq(f[1], "00000000"))
                                protect_netdev(ctx, set, f[0], "the network of the default route", 0);
                        else if (i == 1 && n == 10 && strspn(f[0], "0") == 32 && streq(f[1], "00") && !streq(f[9], "lo"))
                                protect_netdev(ctx, set, f[9], "the network of the default route", 0);
                }
        }
}

/* The consoles the kernel writes to now, and the framebuffer behind a virtual terminal. */
static void protect_console(Context *ctx, char ***set) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        if (read_file_host("/sys/class/tty/console/active", 4096, &text) < 0)
                return;
        for (char *w = strtok_r(text, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                _cleanup_free_ char *dev = startswith(w, "tty") && isdigit((unsigned char) w[3]) ?
                                           xstrdup("/sys/class/graphics/fb0/device") :
                                           xasprintf("/sys/class/tty/%s/device", w);
                protect_device_chain(ctx, set, dev, "the console");
        }
}

/* Adds what each protected module depends on by the modules.dep of every kernel of the
 * tree, until nothing is added. */
static void protect_offline_deps(Context *ctx, char ***set) {
        static const char * const dirs[] = { "/usr/lib/modules", "/lib/modules" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_closedir_ DIR *d = opendir_in_root(ctx->root_fd, dirs[i]);
                struct dirent *de;

                while (d && (de = readdir(d))) {
                        _cleanup_free_ char *dep = xasprintf("%s/%s/modules.dep", dirs[i], de->d_name), *text = NULL;
                        _cleanup_strv_free_ char **lines = NULL;
                        char *save = NULL;

                        if (de->d_name[0] == '.' || read_file_in_root(ctx->root_fd, dep, 64 * 1024 * 1024, &text) < 0)
                                continue;
                        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                strv_extend(&lines, l);
                        module_set_add_needs(set, lines);
                }
        }
}

/* The drivers the network and storage hardware asks for by its modalias, loaded or not:
 * the first boot runs before udev has loaded them and before any route exists. PCI class
 * 0x01 is storage, 0x02 network; virtio device 1 is a NIC, 2 a disk, 8 a SCSI host. */
static void protect_controllers(Context *ctx, char ***set) {
        static const char * const buses[] = { "/sys/bus/pci/devices", "/sys/bus/virtio/devices" };

        for (size_t b = 0; b < ELEMENTSOF(buses); b++) {
                _cleanup_closedir_ DIR *d = opendir(buses[b]);
                struct dirent *de;

                while (d && (de = readdir(d))) {
                        _cleanup_free_ char *id = NULL, *alias = NULL;
                        _cleanup_free_ char *id_path = xasprintf("%s/%s/%s", buses[b], de->d_name, b == 0 ? "class" : "device");
                        _cleanup_free_ char *alias_path = xasprintf("%s/%s/modalias", buses[b], de->d_name);
                        unsigned long v;

                        if (de->d_name[0] == '.' || read_file_host(id_path, 64, &id) < 0 ||
                            read_file_host(alias_path, 4096, &alias) < 0 || !ctx->kmod)
                                continue;
                        v = strtoul(id, NULL, 16);
                        bool net = b == 0 ? (v >> 16) == 0x02 : v == 1;
                        if (!net && !(b == 0 ? (v >> 16) == 0x01 : v == 2 || v == 8))
                                continue;
                        alias[strcspn(alias, "\n")] = 0;
                        _cleanup_free_ char *why = xasprintf("the driver of the %s controller %s", net ? "network" : "storage",
                                                             de->d_name);
                        protect_alias(ctx, set, alias, why);
                }
        }
}

/* Offline there is no hardware to ask: the file systems /etc/fstab mounts at /, /usr, /var
 * and /boot, with what the kernels' modules.dep says they depend on. */
static void protect_offline(Context *ctx, char ***set) {
        _cleanup_free_ char *fstab = NULL;
        _cleanup_strv_free_ char **types = NULL;
        char *save = NULL;

        if (read_file_in_root(ctx->root_fd, "/etc/fstab", 1024 * 1024, &fstab) < 0)
                return;
        for (char *l = strtok_r(fstab, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char spec[256], file[256], type[64];
                if (l[0] != '#' && sscanf(l, "%255s %255s %63s", spec, file, type) == 3 &&
                    (streq(file, "/") || streq(file, "/usr") || streq(file, "/var") || streq(file, "/boot")) &&
                    !streq(type, "auto") && !streq(type, "none"))
                        strv_extend(&types, type);
        }
        STRV_FOREACH(t, types) {
                _cleanup_free_ char *why = xasprintf("the file system type %s, which /etc/fstab mounts", *t);
                module_set_add(set, *t, why);
        }
        protect_offline_deps(ctx, set);
}

const char *protected_module(Context *ctx, const char *name) {
        Protected *p = protected_get(ctx);

        if (!p->modules_loaded) {
                if (ctx->offline)
                        protect_offline(ctx, &p->modules);
                else {
                        protect_mounts(ctx, &p->modules);
                        protect_swaps(ctx, &p->modules);
                        protect_network(ctx, &p->modules);
                        protect_controllers(ctx, &p->modules);
                        protect_console(ctx, &p->modules);
                }
                p->modules_loaded = true;
        }
        return module_set_find(p->modules, name);
}

/* ---- the binaries the system runs on, and their libraries */

/* What the boot, a login on the console or over SSH, the journal, the package manager and
 * dpuos-trim itself run: kept with every library they load, so that a Remove= of a
 * library directory leaves a system that boots and can be managed. Globs are expanded in
 * the tree; the PAM and NSS modules are loaded at run time, not linked. */
static const char * const essential_binaries[] = {
        "/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init", "/usr/sbin/init",
        "/usr/lib/systemd/systemd-*", "/lib/systemd/systemd-*",
        "/usr/bin/systemctl", "/usr/bin/journalctl", "/usr/bin/udevadm", "/usr/bin/systemd-tmpfiles",
        "/usr/bin/systemd-sysusers", "/usr/bin/loginctl", "/usr/bin/busctl", "/bin/systemctl", "/bin/journalctl",
        "/usr/bin/dbus-daemon", "/usr/bin/dbus-broker*", "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
        "/usr/sbin/sshd", "/usr/lib/openssh/*", "/usr/libexec/openssh/*",
        "/usr/sbin/agetty", "/sbin/agetty", "/usr/bin/login", "/bin/login", "/usr/sbin/sulogin",
        "/usr/bin/bash", "/bin/bash", "/usr/bin/sh", "/bin/sh", "/usr/bin/dash", "/bin/dash",
        "/usr/bin/kmod", "/usr/sbin/modprobe", "/sbin/modprobe", "/usr/bin/mount", "/bin/mount",
        "/usr/sbin/fsck*", "/sbin/fsck*", "/usr/sbin/e2fsck", "/sbin/e2fsck", "/usr/sbin/ldconfig", "/sbin/ldconfig",
        "/usr/bin/dpkg*", "/usr/bin/apt", "/usr/bin/apt-get", "/usr/lib/apt/methods/*", "/usr/bin/rpm",
        "/usr/lib*/security/*.so", "/usr/lib/*/security/*.so", "/lib*/security/*.so", "/lib/*/security/*.so",
        "/usr/lib*/libnss_*", "/usr/lib/*/libnss_*", "/lib*/libnss_*", "/lib/*/libnss_*",
        BINDIR "/dpuos-trim", "/usr/lib/systemd/system-generators/dpuos-trim-generator",
        "/lib/systemd/system-generators/dpuos-trim-generator",
        NULL,
};

/* The in-tree paths that match a glob of essential_binaries: one directory level at a
 * time, each segment with fnmatch(). */
static void expand_in_tree(Context *ctx, const char *dir, const char *rest, char ***ret) {
        const char *slash = strchr(rest, '/');
        _cleanup_free_ char *segment = slash ? xstrndup(rest, slash - rest) : xstrdup(rest);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (!string_is_glob(segment)) {
                _cleanup_free_ char *path = path_join(dir, segment);
                if (slash)
                        expand_in_tree(ctx, path, slash + 1, ret);
                else if (faccessat(ctx->root_fd, path + 1, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                        strv_push(ret, TAKE_PTR(path));
                return;
        }
        d = opendir_in_root(ctx->root_fd, *dir ? dir : "/");
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' || !glob_match_name(segment, de->d_name))
                        continue;
                _cleanup_free_ char *path = path_join(dir, de->d_name);
                if (slash)
                        expand_in_tree(ctx, path, slash + 1, ret);
                else
                        strv_push(ret, TAKE_PTR(path));
        }
}

/* /bin/cp as the walk meets it: /usr/bin/cp where /bin is a link to usr/bin (merged /usr). */
static char *canonical_path(Context *ctx, const char *path) {
        const char *slash = strchr(path + 1, '/');
        _cleanup_free_ char *top = slash ? xstrndup(path, slash - path) : NULL, *target = NULL;

        if (top && readlink_in_root(ctx->root_fd, top, &target) >= 0 && startswith(target, "usr/") &&
            streq(target + strlen("usr"), top))
                return xasprintf("/usr%s", path);
        return xstrdup(path);
}

/* dpkg's Essential packages are what the system cannot work without (dpkg itself refuses
 * to remove them): their programs and libraries (coreutils, util-linux, perl-base that
 * debconf needs to install a package, ...), with the libraries those load. Their
 * documentation is not needed and may go. */
static void add_package_files(Context *ctx, const char *pkg, const char *arch, char ***ret) {
        static const char * const dirs[] = { "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/lib", "/usr/lib", "/usr/libexec/" };
        _cleanup_free_ char *list = NULL;
        char *save = NULL;

        for (int i = 0; i < 2 && !list; i++) {
                _cleanup_free_ char *path = i == 0 && arch ? xasprintf("/var/lib/dpkg/info/%s:%s.list", pkg, arch)
                                                           : xasprintf("/var/lib/dpkg/info/%s.list", pkg);
                if (read_file_in_root(ctx->root_fd, path, 16 * 1024 * 1024, &list) < 0)
                        list = NULL;
        }
        for (char *l = list ? strtok_r(list, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                struct stat st;
                bool wanted = false;
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        wanted = wanted || startswith(l, dirs[i]);
                if (wanted && fstatat(ctx->root_fd, l + 1, &st, AT_SYMLINK_NOFOLLOW) >= 0 && !S_ISDIR(st.st_mode))
                        strv_extend(ret, l);
        }
}

/* dpkg's Essential packages are what the system cannot work without (dpkg itself refuses
 * to remove them): their programs and libraries (coreutils, util-linux, perl-base, which
 * debconf needs to install any package, ...), with the libraries those load. Their
 * documentation is not needed and may go. */
static void dpkg_essential_files(Context *ctx, char ***ret) {
        _cleanup_free_ char *status = NULL, *pkg = NULL, *arch = NULL;
        bool essential = false;
        char *save = NULL;

        if (read_file_in_root(ctx->root_fd, "/var/lib/dpkg/status", 64 * 1024 * 1024, &status) < 0)
                return;
        for (char *l = strtok_r(status, "\n", &save); ; l = strtok_r(NULL, "\n", &save)) {
                if (!l || startswith(l, "Package: ")) {
                        if (essential && pkg)
                                add_package_files(ctx, pkg, arch, ret);
                        if (!l)
                                return;
                        free(pkg);
                        free(arch);
                        pkg = xstrdup(l + strlen("Package: "));
                        arch = NULL;
                        essential = false;
                } else if (startswith(l, "Architecture: ")) {
                        free(arch);
                        arch = xstrdup(l + strlen("Architecture: "));
                } else if (streq(l, "Essential: yes"))
                        essential = true;
        }
}

/* The essential binaries of the tree and every library they load. */
char **protected_libraries(Context *ctx) {
        Protected *p = protected_get(ctx);

        if (!p->libraries_loaded) {
                _cleanup_strv_free_ char **binaries = NULL, **closure = NULL;

                for (const char * const *b = essential_binaries; *b; b++)
                        expand_in_tree(ctx, "", *b + 1, &binaries);
                dpkg_essential_files(ctx, &binaries);
                if (elf_closure(ctx->root_fd, binaries, &closure) < 0)
                        closure = NULL;
                STRV_FOREACH(b, binaries)
                        strv_push(&p->libraries, canonical_path(ctx, *b));
                STRV_FOREACH(l, closure)
                        strv_extend(&p->libraries, *l);
                strv_sort(p->libraries);
                p->libraries_loaded = true;
        }
        return p->libraries;
}
