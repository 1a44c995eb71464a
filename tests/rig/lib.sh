# shellcheck shell=bash
# Test rigs for dpuos-trim (docs/design.md, Tests): a cached Debian 12 root built with mmdebstrap,
# booted either as a systemd-nspawn container or as a qemu VM with its own kernel.
#
#   source tests/rig/lib.sh
#
# Root:       rig_root BUILD_DIR                 -> prints the cached root tarball's path
#             rig_unpack TARBALL DIR             -> unpacks it into DIR (must not exist or be empty)
#             rig_new_root BUILD_DIR DIR         -> rig_root + rig_unpack
#             rig_install_agent ROOTDIR [BUILD_DIR]
#             rig_agent_path [BUILD_DIR]         -> the agent's path inside the root (/usr/bin/…)
#             rig_enable_network ROOTDIR         -> systemd-networkd on (DHCP on the VM's NIC)
# Container:  ct_start NAME ROOTDIR [NSPAWN_ARG...]   ct_wait NAME [TIMEOUT]
#             ct_exec NAME CMD...   ct_stop NAME [TIMEOUT]   ct_kill NAME
#             ct_leader NAME   ct_log NAME   ct_running NAME
# VM:         vm_image ROOTDIR IMAGE [SIZE_MB]     vm_disk_image ROOTDIR IMAGE [SIZE_MB]
#             vm_boot IMAGE LOG [CMDLINE...]      (start + wait; fails on timeout)
#             vm_start IMAGE LOG [CMDLINE...]     vm_wait IMAGE [TIMEOUT]
#             vm_wait_log LOG REGEX [TIMEOUT]     vm_kill IMAGE   vm_running IMAGE
#             vm_read IMAGE PATH   vm_put IMAGE SRC PATH [MODE]   vm_rm IMAGE PATH
#             vm_exists IMAGE PATH   vm_fsck IMAGE   vm_rebuild_initramfs IMAGE LOG
#             vm_last_shutdown LOG               -> reboot, poweroff, halt or panic
#             rig_fs_spec IMAGE                  -> what debugfs/e2fsck/dumpe2fs open
# Skips:      rig_skip REASON (exit 77)   rig_require_root   rig_require_tools TOOL...
# Smoke tests: rig_smoke_begin NAME   (sets $work; at exit kills the VM on $image or the
#             container $name, if either is set, and removes $work)   fail MESSAGE
#
# Every function prints what it does to stderr, and on failure an "rig: ERROR: …" line, and
# returns non-zero; callers run with `set -euo pipefail`. Output meant for the caller (paths,
# file contents, command output) goes to stdout.
#
# The root (see root-setup.sh): Debian 12 minbase + RIG_PACKAGES below, the cloud kernel
# with an initramfs (MODULES=most, fsck.ext4), /etc/fstab for /dev/vda (a disk image's copy:
# by UUID), hostname "rig", root logged in automatically on ttyS0, a systemd-networkd
# configuration for DHCP on en*/eth* (networkd disabled: rig_enable_network enables it in a
# copy), sshd (root by key only, no key installed), an empty /etc/machine-id (every copy
# boots as a first boot), persistent journal, and rig-test.service (see the VM section).
#
# Environment: BUILD_DIR (default: the source tree's build/), RIG_RUN_DIR (pid files and
# container consoles; default BUILD_DIR/rig/run), RIG_NSPAWN_ARGS and RIG_QEMU_ARGS (extra
# arguments, word-split), RIG_VM_TIMEOUT (vm_boot, default 300 s), RIG_VM_HOSTFWD=PORT
# (vm_start: 127.0.0.1:PORT on the host reaches the guest's port 22), RIG_NO_SKIP=1 (a
# missing requirement fails instead of skipping).

RIG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_SRC_DIR=$(cd "$RIG_LIB_DIR/../.." && pwd)
: "${BUILD_DIR:=$RIG_SRC_DIR/build}"

# Bump to force a rebuild of the root when something outside the package list and
# root-setup.sh changes what the root must contain.
RIG_ROOT_REV=1
RIG_SUITE=bookworm

# The root: what systemd-nspawn and qemu need to boot it, the agent's shared libraries, and
# realistic things for the agent to trim: services with sockets and timers (avahi-daemon
# has a .socket, man-db, logrotate, apt, e2fsprogs (e2scrub_all) and util-linux (fstrim)
# have timers, cron and rsyslog are plain services with syslog.socket), documentation, man
# pages and locales.
RIG_PACKAGES=(
        systemd systemd-sysv dbus udev kmod procps iproute2 e2fsprogs util-linux
        linux-image-cloud-amd64 initramfs-tools zstd
        libsystemd0 libkmod2 libmount1 libinih1 libcap2
        avahi-daemon cron rsyslog logrotate man-db manpages locales systemd-timesyncd
        less
        # A merged /usr as a fresh install has it (usr-is-merged), so that the reference
        # policy can remove Perl: apt would otherwise keep usrmerge, which needs it
        usr-is-merged
        # sshd: the brick test (vm-brick.sh) logs in as root with a key over a forwarded port
        openssh-server
)

rig_log() { echo "rig: $*" >&2; }
rig_err() { echo "rig: ERROR: $*" >&2; return 1; }
# Exit 77 (meson's "skipped") with the reason; with RIG_NO_SKIP=1 (-Dvm_tests=enabled) a
# missing requirement fails instead.
rig_skip() {
        if [ "${RIG_NO_SKIP:-0}" = 1 ]; then
                echo "rig: ERROR: cannot run: $* (RIG_NO_SKIP=1: not skipping)" >&2
                exit 1
        fi
        echo "SKIP: $*" >&2
        exit 77
}

rig_require_root() {
        [ "$(id -u)" -eq 0 ] || rig_skip "needs root (mmdebstrap, systemd-nspawn, mkfs.ext4 -d of a root-owned tree)"
}

rig_require_tools() {
        local t
        for t in "$@"; do
                command -v "$t" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$t" >/dev/null 2>&1 ||
                        rig_skip "needs '$t' (run tests/setup.sh to install the rig packages)"
        done
}

rig_abs() { # PATH -> absolute path (need not exist)
        case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
        esac
}

# ct_veth_up NAME LINKS_BEFORE HOST_IP CT_IP: for a container started with
# RIG_NSPAWN_ARGS=--network-veth, brings its veth pair up with HOST_IP/30 on this side and
# CT_IP/30 in the container (host0). LINKS_BEFORE is `ip -o link show` from before
# ct_start, to find the new interface; prints its name.
ct_veth_up() {
        local name=$1 before=$2 host_ip=$3 ct_ip=$4 veth
        veth=$(comm -13 <(awk -F': ' '{print $2}' <<<"$before" | sort) <(ip -o link show | awk -F': ' '{print $2}' | sort) |
                grep '^ve-' | head -n1)
        veth=${veth%@*}
        [ -n "$veth" ] || rig_err "ct_veth_up: container $name has no veth interface on this side" || return
        ip addr add "$host_ip/30" dev "$veth" && ip link set "$veth" up || rig_err "ct_veth_up: cannot set up $veth" || return
        ct_exec "$name" sh -c "ip addr add $ct_ip/30 dev host0 && ip link set host0 up" ||
                rig_err "ct_veth_up: cannot set up host0 in $name" || return
        echo "$veth"
}

# rig_smoke_begin NAME: the work directory of one of the rig's smoke tests, $work, under
# BUILD_DIR/rig. At exit (a timeout's TERM included) the VM on $image and the container
# $name, when the test set them and they run, are stopped hard, and $work is removed
# unless RIG_KEEP=1. fail MESSAGE ends the test.
rig_smoke_begin() {
        mkdir -p "$BUILD_DIR/rig"
        work=$(mktemp -d "$BUILD_DIR/rig/${1:?rig_smoke_begin NAME}.XXXXXX")
        trap rig_smoke_cleanup EXIT
        trap 'exit 143' TERM INT
}
rig_smoke_cleanup() {
        if [ -n "${image:-}" ] && vm_running "$image"; then vm_kill "$image"; fi
        if [ -n "${name:-}" ] && ct_running "$name"; then ct_kill "$name"; fi
        if [ "${RIG_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
fail() { echo "FAIL: $*" >&2; exit 1; }

rig_run_dir() { # where ct_*/vm_* keep pids and logs
        local d=${RIG_RUN_DIR:-$(rig_abs "$BUILD_DIR")/rig/run}
        mkdir -p "$d" || rig_err "cannot create $d" || return
        printf '%s\n' "$d"
}

# ---------------------------------------------------------------------------------------
# The root

# The apt sources this machine uses for Debian $RIG_SUITE, as the files apt reads: passed to
# mmdebstrap as mirrors, which pastes them into the root's apt configuration. No host name is
# written down here.
rig_apt_sources() {
        local f found=()
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                grep -Ev '^\s*#' "$f" | grep -Eq "(^|[[:space:]])$RIG_SUITE(-[a-z]+)?([[:space:]]|$)" || continue
                found+=("$f")
        done
        [ "${#found[@]}" -gt 0 ] ||
                rig_err "no apt source for Debian $RIG_SUITE in /etc/apt/sources.list{,.d/}: cannot build the root" || return
        printf '%s\n' "${found[@]}"
}

# RIG_IMAGE picks the root: "minbase" (the default: Debian minbase + RIG_PACKAGES) or
# "generic" (the standard variant + tests/rig/generic.packages: a generic server install).
: "${RIG_IMAGE:=minbase}"

# The image's mmdebstrap variant, its packages (one per line) and its tarball's prefix.
rig_image_variant() { [ "$RIG_IMAGE" = generic ] && echo standard || echo minbase; }
rig_image_packages() {
        if [ "$RIG_IMAGE" = generic ]; then
                sed -e 's/#.*//' "$RIG_LIB_DIR/generic.packages" | tr -s ' \t' '\n' | sed '/^$/d'
        else
                printf '%s\n' "${RIG_PACKAGES[@]}"
        fi
}
rig_image_prefix() { [ "$RIG_IMAGE" = generic ] && echo generic || echo root; }

rig_root_key() {
        local sources
        sources=$(rig_apt_sources) || return
        {
                echo "rev=$RIG_ROOT_REV suite=$RIG_SUITE arch=$(dpkg --print-architecture)"
                [ "$RIG_IMAGE" = minbase ] || echo "image=$RIG_IMAGE variant=$(rig_image_variant)"
                rig_image_packages | sort
                cat "$RIG_LIB_DIR/root-setup.sh"
                # shellcheck disable=SC2086
                cat $sources
        } | sha256sum | cut -c1-16
}

# rig_root BUILD_DIR: builds the root tarball once and prints its path.
rig_root() {
        local build=${1:-$BUILD_DIR} dir key tarball tmp sources=() t0 lockfd prefix packages
        prefix=$(rig_image_prefix)
        packages=$(rig_image_packages | paste -sd,)
        build=$(rig_abs "$build")
        dir=$build/rig
        mkdir -p "$dir" || rig_err "cannot create $dir" || return
        key=$(rig_root_key) || return
        tarball=$dir/$prefix-$RIG_SUITE-$key.tar

        exec {lockfd}>"$dir/.root.lock"
        flock "$lockfd" || { exec {lockfd}>&-; rig_err "cannot lock $dir/.root.lock"; return 1; }
        if [ -s "$tarball" ]; then
                exec {lockfd}>&-
                rig_log "root: cached $tarball"
                printf '%s\n' "$tarball"
                return 0
        fi

        command -v mmdebstrap >/dev/null || { exec {lockfd}>&-; rig_err "mmdebstrap is not installed (tests/setup.sh installs it)"; return 1; }
        mapfile -t sources < <(rig_apt_sources) || { exec {lockfd}>&-; return 1; }
        tmp=$dir/.root-$key.tmp.tar
        rm -f "$tmp"
        rig_log "root: building Debian $RIG_SUITE with mmdebstrap (cache key $key) from ${sources[*]}"
        rig_log "root: $RIG_IMAGE image, variant $(rig_image_variant), packages: ${packages//,/ }"
        t0=$SECONDS
        if ! mmdebstrap --mode=root --variant="$(rig_image_variant)" --format=tar \
                --include="$packages" \
                --aptopt='Acquire::Retries "3"' \
                --essential-hook="bash '$RIG_LIB_DIR/root-setup.sh' essential \"\$1\"" \
                --customize-hook="bash '$RIG_LIB_DIR/root-setup.sh' customize \"\$1\"" \
                "$RIG_SUITE" "$tmp" "${sources[@]}" >&2; then
                rm -f "$tmp"
                exec {lockfd}>&-
                rig_err "mmdebstrap failed building the root (see its output above)"
                return 1
        fi
        mv -f "$tmp" "$tarball"
        # older roots (other keys) are dead weight
        find "$dir" -maxdepth 1 -name "$prefix-*.tar" ! -name "$(basename "$tarball")" -delete
        exec {lockfd}>&-
        rig_log "root: built $tarball ($(du -h "$tarball" | cut -f1)) in $((SECONDS - t0)) s"
        printf '%s\n' "$tarball"
}

# rig_unpack TARBALL DIR: unpacks a root tarball (owners, modes, xattrs, capabilities kept).
rig_unpack() {
        local tarball=${1:?rig_unpack TARBALL DIR} dir=${2:?rig_unpack TARBALL DIR}
        [ -f "$tarball" ] || rig_err "rig_unpack: no tarball $tarball" || return
        if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
                rig_err "rig_unpack: $dir exists and is not empty"
                return 1
        fi
        mkdir -p "$dir" || rig_err "cannot create $dir" || return
        rig_log "unpacking $(basename "$tarball") into $dir"
        tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xpf "$tarball" ||
                rig_err "cannot unpack $tarball into $dir" || return
}

# rig_new_root BUILD_DIR DIR: a fresh copy of the cached root at DIR.
rig_new_root() {
        local build=${1:?rig_new_root BUILD_DIR DIR} dir=${2:?rig_new_root BUILD_DIR DIR} tarball
        tarball=$(rig_root "$build") || return
        rig_unpack "$tarball" "$dir"
}

# rig_agent_path [BUILD_DIR]: where `meson install` puts the agent binary (prefix/bindir).
rig_agent_path() {
        local build=${1:-$BUILD_DIR} p
        p=$(meson introspect --installed "$build" 2>/dev/null |
                grep -o '"[^"]*/bin/dpuos-trim"' | tail -n1 | tr -d '"') || true
        [ -n "$p" ] || rig_err "cannot find dpuos-trim among the installed files of $build (meson introspect --installed)" || return
        printf '%s\n' "$p"
}

# rig_install_agent ROOTDIR [BUILD_DIR]: meson install into the root, then check that the
# installed binary runs there (its shared libraries are in the root).
rig_install_agent() {
        local root=${1:?rig_install_agent ROOTDIR [BUILD_DIR]} build=${2:-$BUILD_DIR} bin
        [ -d "$root/usr" ] || rig_err "rig_install_agent: $root is not an OS tree" || return
        [ -f "$build/build.ninja" ] || rig_err "rig_install_agent: $build is not a meson build directory (meson setup first)" || return
        rig_log "installing the agent from $build into $root"
        meson install -C "$build" --destdir "$(rig_abs "$root")" --quiet >&2 ||
                rig_err "meson install -C $build --destdir $root failed" || return
        bin=$(rig_agent_path "$build") || return
        [ -x "$root$bin" ] || rig_err "rig_install_agent: $root$bin missing after install" || return
        chroot "$root" "$bin" --version >/dev/null ||
                rig_err "the installed $bin does not run inside $root (missing shared libraries? see above)" || return
        rig_log "agent installed at $bin"
}

# rig_enable_network ROOTDIR: enables systemd-networkd in ROOTDIR, so that its NIC gets an
# address from DHCP at boot (root-setup.sh installs the configuration; wait-online stays off).
rig_enable_network() {
        local root=${1:?rig_enable_network ROOTDIR}
        [ -f "$root/etc/systemd/network/50-rig-dhcp.network" ] ||
                rig_err "rig_enable_network: $root has no /etc/systemd/network/50-rig-dhcp.network (an old root?)" || return
        chroot "$root" systemctl enable systemd-networkd.service >&2 &&
                chroot "$root" systemctl disable systemd-networkd-wait-online.service >&2 ||
                rig_err "rig_enable_network: cannot enable systemd-networkd in $root" || return
}

rig_pid_alive() { # PID -> true while the process exists and is not a zombie
        local st
        [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
        st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
        [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# ---------------------------------------------------------------------------------------
# Container: systemd-nspawn --boot with a real systemd as PID 1 and D-Bus.
#
# Findings in this sandbox (Docker-like, cgroup v1 hybrid, no systemd on the host): nspawn
# boots without special environment variables; the container runs the unified hierarchy
# (its own cgroup namespace); --keep-unit needs no unit around it, and with --register=no
# nothing needs a host D-Bus. With --keep-unit nspawn splits the cgroup it was started in
# into supervisor/ and payload/, so each container is started in its own cgroup
# (rig-NAME) in the named systemd and the unified hierarchies, or two containers (or a
# leftover one) would share one payload cgroup. RIG_NSPAWN_ARGS adds arguments to all.

rig_ct_pidfile() { printf '%s/ct-%s.pid\n' "$(rig_run_dir)" "$1"; }

ct_log() { # NAME -> path of the console log
        local name=${1:?ct_log NAME}
        printf '%s/ct-%s.console\n' "$(rig_run_dir)" "$name"
}

rig_ct_nspawn_pid() {
        local f
        f=$(rig_ct_pidfile "$1") || return
        [ -s "$f" ] || return 1
        cat "$f"
}

ct_running() { # NAME -> true while the container's nspawn process runs
        local pid
        pid=$(rig_ct_nspawn_pid "${1:?ct_running NAME}" 2>/dev/null) || return 1
        rig_pid_alive "$pid"
}

# ct_leader NAME: the container's PID 1 as seen from here (the child of nspawn).
ct_leader() {
        local name=${1:?ct_leader NAME} pid child
        pid=$(rig_ct_nspawn_pid "$name") || rig_err "container $name was not started (no pid file)" || return
        rig_pid_alive "$pid" || rig_err "container $name is not running (nspawn $pid exited; console: $(ct_log "$name"))" || return
        # the child in a new PID namespace (nspawn's short-lived outer child is not)
        for child in $(pgrep -P "$pid"); do
                [ "$(readlink "/proc/$child/ns/pid" 2>/dev/null)" != "$(readlink "/proc/$pid/ns/pid")" ] || continue
                printf '%s\n' "$child"
                return 0
        done
        rig_err "container $name: nspawn $pid has no child process (yet)"
}

rig_cgroup_hierarchies() {
        local h
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                [ -f "$h/cgroup.procs" ] && printf '%s\n' "$h"
        done
        [ -f /sys/fs/cgroup/cgroup.procs ] && [ ! -d /sys/fs/cgroup/unified ] && echo /sys/fs/cgroup
        return 0
}

rig_cgroup_remove() { # NAME: removes the rig-NAME cgroups, deepest first
        local h
        for h in $(rig_cgroup_hierarchies); do
                [ -d "$h/rig-$1" ] || continue
                find "$h/rig-$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
}

# ct_start NAME ROOTDIR [NSPAWN_ARG...]: boots ROOTDIR in the background; console to
# $(ct_log NAME). Returns once the container's PID 1 exists; use ct_wait for the boot.
ct_start() {
        local name=${1:?ct_start NAME ROOTDIR [NSPAWN_ARG...]} root=${2:?ct_start NAME ROOTDIR [NSPAWN_ARG...]}
        shift 2
        local log pidfile pid h i extra=()
        command -v systemd-nspawn >/dev/null || rig_err "systemd-nspawn is not installed (package systemd-container)" || return
        [ -x "$root/usr/lib/systemd/systemd" ] || [ -x "$root/lib/systemd/systemd" ] ||
                rig_err "ct_start: $root has no systemd to boot" || return
        if ct_running "$name"; then
                rig_err "container $name is already running"
                return 1
        fi
        log=$(ct_log "$name") && pidfile=$(rig_ct_pidfile "$name") || return
        read -r -a extra <<<"${RIG_NSPAWN_ARGS:-}"
        rig_cgroup_remove "$name"
        rm -rf "/run/systemd/nspawn/propagate/$name"
        rig_log "container $name: booting $root (console: $log)"
        (
                for h in $(rig_cgroup_hierarchies); do
                        mkdir -p "$h/rig-$name" && echo "$BASHPID" >"$h/rig-$name/cgroup.procs" ||
                                echo "rig: warning: cannot move into cgroup $h/rig-$name" >&2
                done
                exec systemd-nspawn --boot --register=no --keep-unit --quiet \
                        --directory="$root" --machine="$name" --hostname="$name" \
                        --private-network --console=read-only \
                        --resolv-conf=off --timezone=off --link-journal=no \
                        "${extra[@]}" "$@"
        ) </dev/null >"$log" 2>&1 &
        pid=$!
        echo "$pid" >"$pidfile"
        for ((i = 0; i < 100; i++)); do
                if ! rig_pid_alive "$pid"; then
                        wait "$pid" 2>/dev/null || true
                        tail -n 30 "$log" >&2
                        rig_err "container $name: systemd-nspawn exited at once (console log above: $log)"
                        return 1
                fi
                if ct_leader "$name" >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.1
        done
        rig_err "container $name: no container process 10 s after starting systemd-nspawn (log: $log)"
}

# ct_exec NAME CMD...: runs CMD inside the container (all of PID 1's namespaces, its root,
# a clean environment), returns CMD's exit status. stdin/stdout/stderr are passed through.
ct_exec() {
        local name=${1:?ct_exec NAME CMD...} leader
        shift
        [ $# -gt 0 ] || rig_err "ct_exec: no command" || return
        leader=$(ct_leader "$name") || return
        nsenter --target "$leader" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
                /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# ct_wait NAME [TIMEOUT=120]: waits until `systemctl is-system-running` inside says running or
# degraded; prints the state. Fails (with the failed units and the console tail) on timeout,
# on "maintenance"/"stopping" or when the container dies.
ct_wait() {
        local name=${1:?ct_wait NAME [TIMEOUT]} timeout=${2:-120} state="" t0=$SECONDS leader
        while :; do
                ct_running "$name" || { tail -n 30 "$(ct_log "$name")" >&2; rig_err "container $name died while booting (console above)"; return 1; }
                leader=$(ct_leader "$name" 2>/dev/null) || leader=""
                if [ -n "$leader" ] && [ "$(cat /proc/"$leader"/comm 2>/dev/null)" = systemd ]; then
                        state=$(ct_exec "$name" systemctl is-system-running 2>/dev/null) || true
                        case $state in
                        running | degraded)
                                rig_log "container $name: $state after $((SECONDS - t0)) s"
                                [ "$state" = running ] || ct_exec "$name" systemctl --failed --no-legend >&2 || true
                                printf '%s\n' "$state"
                                return 0
                                ;;
                        maintenance | stopping)
                                break
                                ;;
                        esac
                fi
                if ((SECONDS - t0 >= timeout)); then
                        break
                fi
                sleep 0.5
        done
        rig_log "container $name: jobs still queued:"
        ct_exec "$name" systemctl list-jobs --no-legend >&2 || true
        ct_exec "$name" systemctl --failed --no-legend >&2 || true
        tail -n 30 "$(ct_log "$name")" >&2
        rig_err "container $name: not booted after $((SECONDS - t0)) s (state '${state:-none}')"
}

# ct_stop NAME [TIMEOUT=60]: clean poweroff (SIGRTMIN+4 to PID 1), waits for nspawn to exit.
ct_stop() {
        local name=${1:?ct_stop NAME [TIMEOUT]} timeout=${2:-60} pid leader t0=$SECONDS
        pid=$(rig_ct_nspawn_pid "$name") || rig_err "ct_stop: container $name was not started" || return
        if ! rig_pid_alive "$pid"; then
                rig_log "container $name: already stopped"
                rm -f "$(rig_ct_pidfile "$name")"
                rig_cgroup_remove "$name"
                return 0
        fi
        leader=$(ct_leader "$name") || return
        rig_log "container $name: powering off"
        kill -s SIGRTMIN+4 "$leader" || rig_err "cannot signal PID 1 ($leader) of container $name" || return
        while rig_pid_alive "$pid"; do
                if ((SECONDS - t0 >= timeout)); then
                        tail -n 20 "$(ct_log "$name")" >&2
                        ct_kill "$name" || true
                        rig_err "container $name did not power off within $timeout s; killed it"
                        return 1
                fi
                sleep 0.2
        done
        wait "$pid" 2>/dev/null || true
        rm -f "$(rig_ct_pidfile "$name")"
        rm -rf "/run/systemd/nspawn/propagate/$name"
        rig_cgroup_remove "$name"
        rig_log "container $name: stopped after $((SECONDS - t0)) s"
}

# ct_kill NAME: hard stop (SIGKILL to the container's PID 1, which takes down its whole PID
# namespace, then to nspawn); no shutdown runs inside.
ct_kill() {
        local name=${1:?ct_kill NAME} pid leader i
        pid=$(rig_ct_nspawn_pid "$name") || rig_err "ct_kill: container $name was not started" || return
        leader=$(ct_leader "$name" 2>/dev/null) || leader=""
        rig_log "container $name: killing"
        [ -z "$leader" ] || kill -KILL "$leader" 2>/dev/null || true
        for ((i = 0; i < 50 && ${#pid} > 0; i++)); do
                rig_pid_alive "$pid" || break
                sleep 0.1
        done
        rig_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
        rm -f "$(rig_ct_pidfile "$name")"
        rm -rf "/run/systemd/nspawn/propagate/$name"
        rig_cgroup_remove "$name"
        return 0
}

# ---------------------------------------------------------------------------------------
# VM: qemu (TCG) booting the root's own kernel and initramfs from a raw ext4 image.
#
# The image is IMAGE; vm_image puts the kernel and initrd next to it (IMAGE.vmlinuz,
# IMAGE.initrd) and vm_start keeps qemu's pid in IMAGE.pid. The serial console (ttyS0,
# /dev/console in the guest) goes to LOG. The guest never reboots: a reboot or a kernel
# panic ends qemu (-no-reboot, panic=-1), so a test boots again with another vm_boot;
# vm_last_shutdown tells from the serial log whether the guest rebooted or powered off.
# vm_disk_image makes a disk image instead, booted from its disk through GRUB (see there).
# RIG_QEMU_ARGS adds qemu arguments (word-split), RIG_VM_TIMEOUT is vm_boot's timeout.
#
# At every boot rig-test.service (in the root, see root-setup.sh) waits until the boot has
# finished, runs /rig/test.sh if it exists, writes its output between "RIG-BEGIN boot
# finished: STATE" and "RIG-END rc=N" to the console and to /rig/result, then powers off
# (unless /rig/keep-running exists). For several boots with one test.sh, pass a marker on
# the kernel command line (vm_boot IMAGE LOG rig.step=2) and read /proc/cmdline in it.
# The VM has a virtio-rng and a virtio-net NIC (user mode, no host network needed) so that
# real, unloadable modules (virtio_rng, virtio_net, net_failover, failover) are loaded; the
# root's systemd-networkd, once rig_enable_network has enabled it, configures the NIC with
# qemu's DHCP (10.0.2.15) and a default route. With RIG_VM_HOSTFWD=PORT the host's
# 127.0.0.1:PORT is forwarded to the guest's port 22 (sshd), on the loopback address only:
# nothing outside this machine can reach the guest.

# vm_image ROOTDIR IMAGE [SIZE_MB]: an ext4 image of ROOTDIR (mkfs.ext4 -d, no mount),
# sized to the tree plus room to work in unless SIZE_MB is given.
vm_image() {
        local root=${1:?vm_image ROOTDIR IMAGE [SIZE_MB]} image=${2:?vm_image ROOTDIR IMAGE [SIZE_MB]} size=${3:-} used kver inodes
        [ -d "$root/boot" ] || rig_err "vm_image: $root has no /boot" || return
        kver=$(ls "$root/lib/modules" 2>/dev/null | sort -V | tail -n1)
        [ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] && [ -f "$root/boot/initrd.img-$kver" ] ||
                rig_err "vm_image: $root/boot has no vmlinuz and initrd.img for kernel '${kver:-none}'" || return
        if [ -z "$size" ]; then
                used=$(du -sxm "$root" | cut -f1) || rig_err "vm_image: cannot measure $root" || return
                size=$((used * 13 / 10 + 512))
        fi
        rig_log "vm image: $image (${size} MiB ext4 from $root, kernel $kver)"
        rm -f "$image" "$image.pid" "$image.disk"
        truncate -s "${size}M" "$image" || rig_err "vm_image: cannot create $image" || return
        # Enough inodes for trees with many small files (ext4's default ratio is one per 16 KiB).
        inodes=$(($(find "$root" -xdev | wc -l) * 3 / 2 + 16384))
        PATH=$PATH:/usr/sbin:/sbin mkfs.ext4 -q -F -L rig-root -N "$inodes" -d "$root" "$image" >&2 ||
                rig_err "vm_image: mkfs.ext4 -d $root $image failed" || return
        cp "$root/boot/vmlinuz-$kver" "$image.vmlinuz" && cp "$root/boot/initrd.img-$kver" "$image.initrd" ||
                rig_err "vm_image: cannot copy the kernel and initrd next to $image" || return
}

# A disk image (vm_disk_image) is booted from its disk by GRUB: an MBR partition table and one
# ext4 partition from RIG_DISK_OFFSET (1 MiB, where partitioning tools start the first one).
# IMAGE.disk marks it; it has no IMAGE.vmlinuz and IMAGE.initrd, since GRUB loads the
# kernel and the initramfs from /boot in the partition: what update-grub and
# update-initramfs wrote there in the guest is what the next boot gets. vm_start passes its
# CMDLINE words through the variable rig_cmdline in the partition's /boot/grub/grubenv,
# which the rig's drop-in /etc/default/grub.d/00-rig.cfg adds to every kernel command line.
RIG_DISK_OFFSET=1048576

# rig_is_disk IMAGE: true if vm_disk_image made IMAGE.
rig_is_disk() { [ -f "${1:?rig_is_disk IMAGE}.disk" ]; }

# rig_fs_spec IMAGE: the file system debugfs, e2fsck and dumpe2fs open for IMAGE: the image
# itself, or a disk image's partition as IMAGE?offset=BYTES (their unix I/O manager's syntax).
rig_fs_spec() {
        local image=${1:?rig_fs_spec IMAGE}
        if rig_is_disk "$image"; then
                printf '%s?offset=%s\n' "$image" "$RIG_DISK_OFFSET"
        else
                printf '%s\n' "$image"
        fi
}

# vm_disk_image ROOTDIR IMAGE [SIZE_MB]: a raw disk that boots through GRUB (grub-pc, BIOS):
# an MBR partition table with one ext4 partition at 1 MiB (label rig-root, SIZE_MB or sized
# as vm_image sizes its image) filled from ROOTDIR with mkfs.ext4 -d (no mount), then GRUB
# installed by the root's own grub-install and update-grub (rig_disk_grub). The partition's
# copy of the root differs from ROOTDIR in three files: /etc/fstab mounts / by the
# partition's UUID, /etc/default/grub.d/00-rig.cfg gives the kernel what vm_start's -append
# gives it (console=ttyS0 panic=-1 rw) and $rig_cmdline, sends GRUB's own output to the
# serial port and skips the menu, and kdump-tools's drop-in (crashkernel=) is emptied, so
# that the VM's 2 GiB are not cut for a crash kernel. ROOTDIR must have grub-pc
# (RIG_IMAGE=generic has it).
vm_disk_image() {
        local root=${1:?vm_disk_image ROOTDIR IMAGE [SIZE_MB]} image=${2:?vm_disk_image ROOTDIR IMAGE [SIZE_MB]} size=${3:-} used kver inodes
        [ -x "$root/usr/sbin/grub-install" ] && [ -x "$root/usr/sbin/update-grub" ] && [ -d "$root/usr/lib/grub/i386-pc" ] ||
                rig_err "vm_disk_image: $root has no grub-pc (grub-install, update-grub, /usr/lib/grub/i386-pc; RIG_IMAGE=generic has it)" || return
        PATH=$PATH:/usr/sbin:/sbin command -v sfdisk >/dev/null || rig_err "vm_disk_image: sfdisk is not installed (package fdisk)" || return
        command -v grub-editenv >/dev/null || rig_err "vm_disk_image: grub-editenv is not installed (package grub-common)" || return
        kver=$(ls "$root/lib/modules" 2>/dev/null | sort -V | tail -n1)
        [ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] && [ -f "$root/boot/initrd.img-$kver" ] ||
                rig_err "vm_disk_image: $root/boot has no vmlinuz and initrd.img for kernel '${kver:-none}'" || return
        if [ -z "$size" ]; then
                used=$(du -sxm "$root" | cut -f1) || rig_err "vm_disk_image: cannot measure $root" || return
                size=$((used * 13 / 10 + 512))
        fi
        rig_log "vm disk image: $image (MBR, ${size} MiB ext4 partition from $root, GRUB, kernel $kver)"
        rm -f "$image" "$image.pid" "$image.disk" "$image.vmlinuz" "$image.initrd"
        truncate -s "$((size + RIG_DISK_OFFSET / 1048576))M" "$image" || rig_err "vm_disk_image: cannot create $image" || return
        printf 'label: dos\nstart=%s, type=83, bootable\n' "$((RIG_DISK_OFFSET / 512))" |
                PATH=$PATH:/usr/sbin:/sbin sfdisk -q "$image" >&2 || rig_err "vm_disk_image: sfdisk cannot partition $image" || return
        inodes=$(($(find "$root" -xdev | wc -l) * 3 / 2 + 16384))
        PATH=$PATH:/usr/sbin:/sbin mkfs.ext4 -q -F -L rig-root -N "$inodes" -E offset="$RIG_DISK_OFFSET" -d "$root" "$image" "${size}M" >&2 ||
                rig_err "vm_disk_image: mkfs.ext4 -d $root into the partition of $image failed" || return
        rig_disk_grub "$image" "$size" || return
        echo "offset=$RIG_DISK_OFFSET" >"$image.disk" || rig_err "vm_disk_image: cannot write $image.disk" || return
}

# rig_disk_grub IMAGE SIZE_MB: vm_disk_image's second half. Loop devices here get no
# partition nodes (losetup -P makes none), so the whole disk has one loop device, for
# grub-install, and the partition another (at its offset), mounted; grub-install (with
# part_msdos and ext2 in its core image: the partition's device looks like a disk of its own
# to it, so its core image finds /boot/grub by UUID) and update-grub run in a chroot of it.
# Its /dev gets, for that while, the two loop devices and the /dev/disk/by-uuid link without
# which update-grub writes root=/dev/loopN instead of root=UUID= (in the root's own /dev, not
# a mount on it: update-grub would take a mount there for the file system of a loop
# device's backing file and boot through GRUB's loopback). update-grub writes no menu entry
# at all for a root on /dev/loop[0-9] backed by a file (it asks losetup for the backing
# device), so for that run the chroot's losetup is shadowed by a bind mount of a script
# that names /dev/vda1, the guest's partition. Everything is undone after.
rig_disk_grub() {
        local image=$1 size=$2 disk part mnt uuid rc=0 m
        disk=$(losetup -f --show "$image") || rig_err "vm_disk_image: no loop device for $image" || return
        part=$(losetup -f --show -o "$RIG_DISK_OFFSET" --sizelimit "$((size * 1048576))" "$image") ||
                { losetup -d "$disk"; rig_err "vm_disk_image: no loop device for the partition of $image"; return 1; }
        uuid=$(PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h "$part" 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')
        mnt=$(mktemp -d "$(dirname "$image")/disk.XXXXXX") || rc=1
        if [ "$rc" = 0 ] && [ -n "$uuid" ] && mount "$part" "$mnt"; then
                rig_disk_grub_in "$mnt" "$disk" "$part" "$uuid" || rc=1
                for m in usr/sbin/losetup sys proc; do
                        if mountpoint -q "$mnt/$m"; then umount "$mnt/$m" || umount -l "$mnt/$m" || rc=1; fi
                done
                rm -f "$mnt$disk" "$mnt$part" "$mnt/dev/.rig-losetup" || rc=1
                # /dev/mapper: libdevmapper (in grub-probe) makes it with its control node
                [ ! -L "$mnt/dev/disk/by-uuid/$uuid" ] || rm -rf "$mnt/dev/disk" "$mnt/dev/mapper" || rc=1
                umount "$mnt" || { umount -l "$mnt"; rc=1; }
        else
                rig_err "vm_disk_image: cannot mount the partition of $image ($part, UUID '${uuid}')" || rc=1
        fi
        [ -z "$mnt" ] || rmdir "$mnt" || rc=1
        losetup -d "$part" || rc=1
        losetup -d "$disk" || rc=1
        return "$rc"
}

# rig_disk_grub_in MNT DISK PART UUID: the rig's files in the mounted partition, then GRUB.
rig_disk_grub_in() {
        local mnt=$1 disk=$2 part=$3 uuid=$4 dev
        printf '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s / ext4 rw,errors=remount-ro 0 1\n' "$uuid" \
                >"$mnt/etc/fstab" || rig_err "vm_disk_image: cannot write /etc/fstab" || return
        mkdir -p "$mnt/etc/default/grub.d" || return
        cat >"$mnt/etc/default/grub.d/00-rig.cfg" <<'EOF' || rig_err "vm_disk_image: cannot write 00-rig.cfg" || return
# The test rig's disk image (vm_disk_image in tests/rig/lib.sh): the kernel's console on the
# serial port, a panic ends the VM, / read-write from the start (as the rig's -kernel boots
# have them), and the words the rig passes for one boot: GRUB expands $rig_cmdline, which
# it loads from /boot/grub/grubenv. GRUB itself talks on the serial port, without a menu.
GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0 panic=-1 rw \$rig_cmdline"
GRUB_TIMEOUT=0
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
        if [ -e "$mnt/etc/default/grub.d/kdump-tools.cfg" ]; then
                echo '# Emptied by the test rig (vm_disk_image): no crashkernel= reservation in its 2 GiB VM' \
                        >"$mnt/etc/default/grub.d/kdump-tools.cfg" || return
        fi
        [ ! -e "$mnt/dev/disk" ] && [ ! -e "$mnt/dev/mapper" ] && [ -c "$mnt/dev/null" ] ||
                rig_err "vm_disk_image: the root's /dev has disk/ or mapper/, or lacks null: not a fresh root" || return
        for dev in "$disk" "$part"; do
                cp -a "$dev" "$mnt/dev/" || rig_err "vm_disk_image: cannot make $dev in the chroot" || return
        done
        mkdir -p "$mnt/dev/disk/by-uuid" && ln -s "../../${part#/dev/}" "$mnt/dev/disk/by-uuid/$uuid" || return
        mount --bind /proc "$mnt/proc" && mount --bind /sys "$mnt/sys" ||
                rig_err "vm_disk_image: cannot bind /proc and /sys into the chroot" || return
        PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$mnt" grub-install --target=i386-pc --modules='part_msdos ext2' "$disk" >&2 ||
                rig_err "vm_disk_image: grub-install --target=i386-pc $disk failed (its messages above)" || return
        printf '#!/bin/sh\necho "%s: [0]:0 (/dev/vda1)"\n' "$part" >"$mnt/dev/.rig-losetup" &&
                chmod 755 "$mnt/dev/.rig-losetup" && mount --bind "$mnt/dev/.rig-losetup" "$mnt/usr/sbin/losetup" ||
                rig_err "vm_disk_image: cannot shadow losetup in the chroot" || return
        PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$mnt" update-grub >&2 ||
                rig_err "vm_disk_image: update-grub failed (its messages above)" || return
        umount "$mnt/usr/sbin/losetup" || rig_err "vm_disk_image: cannot unmount the chroot's losetup" || return
        # shellcheck disable=SC2016 # GRUB's variable, literally
        grep -q "root=UUID=$uuid " "$mnt/boot/grub/grub.cfg" && grep -qF ' $rig_cmdline' "$mnt/boot/grub/grub.cfg" ||
                rig_err "vm_disk_image: the generated grub.cfg does not boot root=UUID=$uuid with \$rig_cmdline" || return
        [ -f "$mnt/boot/grub/grubenv" ] || grub-editenv "$mnt/boot/grub/grubenv" create ||
                rig_err "vm_disk_image: cannot create /boot/grub/grubenv" || return
}

# rig_disk_cmdline IMAGE WORDS: sets rig_cmdline=WORDS in a disk image's /boot/grub/grubenv
# (read with debugfs, changed with the host's grub-editenv, which keeps the 1024-byte block
# GRUB reads, written back with vm_put). Only a change is written, so that a boot after
# vm_kill with the same words needs no vm_fsck first.
rig_disk_cmdline() {
        local image=$1 words=$2 tmp cur rc=0
        command -v grub-editenv >/dev/null || rig_err "vm_start: grub-editenv is not installed (package grub-common)" || return
        tmp=$(mktemp "$image.grubenv.XXXXXX") || return
        rig_debugfs -R "dump /boot/grub/grubenv \"$tmp\"" "$(rig_fs_spec "$image")" >/dev/null 2>&1
        if [ "$(stat -c %s "$tmp")" != 1024 ]; then
                rm -f "$tmp"
                rig_err "vm_start: $image has no 1024-byte /boot/grub/grubenv (not made by vm_disk_image?)"
                return 1
        fi
        cur=$(grub-editenv "$tmp" list | sed -n 's/^rig_cmdline=//p')
        if [ "$cur" != "$words" ]; then
                rig_log "vm: grubenv of $image: rig_cmdline=$words"
                grub-editenv "$tmp" set "rig_cmdline=$words" && vm_put "$image" "$tmp" /boot/grub/grubenv 0644 || rc=1
        fi
        rm -f "$tmp"
        [ "$rc" = 0 ] || rig_err "vm_start: cannot set rig_cmdline in /boot/grub/grubenv of $image (after vm_kill: vm_fsck first)" || return
}

# rig_generic_hardware DIR: adds to RIG_QEMU_ARGS what a server board shows the kernel,
# beside the rig's virtio disk and NIC, so that a generic kernel loads the modules it loads
# on real hardware: a USB controller with a tablet and a keyboard, an HDA sound card, an
# AHCI CD-ROM, a floppy drive (its blank disk is DIR/floppy.img), a legacy NIC, a parallel
# port, the PC speaker and a watchdog (the q35 board has the i2c SMBus controller, the
# serial port and the LPC bridge already).
rig_generic_hardware() {
        local dir=${1:?rig_generic_hardware DIR}
        truncate -s 1440K "$dir/floppy.img" || rig_err "cannot create $dir/floppy.img" || return
        RIG_QEMU_ARGS="${RIG_QEMU_ARGS:-} -device qemu-xhci -device usb-tablet -device usb-kbd
                -audiodev none,id=snd0 -device intel-hda -device hda-duplex,audiodev=snd0 -machine pcspk-audiodev=snd0
                -device ahci,id=ahci -device ide-cd,bus=ahci.0
                -device isa-fdc -drive if=none,id=fd0,format=raw,file=$dir/floppy.img -device floppy,drive=fd0
                -netdev user,id=legacy -device e1000,netdev=legacy
                -chardev null,id=lpt -device isa-parallel,chardev=lpt -device i6300esb"
        export RIG_QEMU_ARGS
}

vm_running() { # IMAGE -> true while its qemu runs
        local pid
        [ -s "${1:?vm_running IMAGE}.pid" ] || return 1
        pid=$(cat "$1.pid") && rig_pid_alive "$pid"
}

# vm_start IMAGE LOG [CMDLINE...]: starts qemu in the background; returns at once. An image
# from vm_image boots its IMAGE.vmlinuz and IMAGE.initrd with CMDLINE appended, a disk image
# (vm_disk_image) boots from its disk through GRUB, CMDLINE set in its grubenv.
vm_start() {
        local image=${1:?vm_start IMAGE LOG [CMDLINE...]} log=${2:?vm_start IMAGE LOG [CMDLINE...]}
        shift 2
        local extra=() boot=() pid nic=user,model=virtio-net-pci
        command -v qemu-system-x86_64 >/dev/null || rig_err "qemu-system-x86_64 is not installed (package qemu-system-x86)" || return
        if [ -n "${RIG_VM_HOSTFWD:-}" ]; then
                [[ $RIG_VM_HOSTFWD =~ ^[1-9][0-9]{0,4}$ ]] && [ "$RIG_VM_HOSTFWD" -le 65535 ] ||
                        rig_err "vm_start: RIG_VM_HOSTFWD='$RIG_VM_HOSTFWD' is not a port number" || return
                nic+=",hostfwd=tcp:127.0.0.1:$RIG_VM_HOSTFWD-:22"
        fi
        [ -f "$image" ] || rig_err "vm_start: no image $image (vm_image first)" || return
        rig_is_disk "$image" || { [ -f "$image.vmlinuz" ] && [ -f "$image.initrd" ]; } ||
                rig_err "vm_start: no $image.vmlinuz / $image.initrd next to the image (made by vm_image)" || return
        if vm_running "$image"; then
                rig_err "vm_start: a VM already runs on $image (pid $(cat "$image.pid"))"
                return 1
        fi
        if rig_is_disk "$image"; then
                rig_disk_cmdline "$image" "$*" || return
                boot=(-drive "file=$image,if=none,id=rigdisk,format=raw" -device "virtio-blk-pci,drive=rigdisk,bootindex=0")
        else
                boot=(-kernel "$image.vmlinuz" -initrd "$image.initrd"
                        -append "root=/dev/vda rw console=ttyS0 panic=-1 $*"
                        -drive "file=$image,if=virtio,format=raw")
        fi
        # Words over any number of lines (read stops at the first newline without -d '').
        read -r -d '' -a extra <<<"${RIG_QEMU_ARGS:-}" || true
        : >"$log" || rig_err "vm_start: cannot write $log" || return
        rig_log "vm: booting $image (serial: $log${RIG_VM_HOSTFWD:+; ssh: 127.0.0.1:$RIG_VM_HOSTFWD})"
        qemu-system-x86_64 -machine q35 -accel tcg -m 2048 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot \
                "${boot[@]}" \
                -device virtio-rng-pci -nic "$nic" \
                "${extra[@]}" </dev/null >"$log.qemu" 2>&1 &
        pid=$!
        echo "$pid" >"$image.pid"
        sleep 0.2
        if ! rig_pid_alive "$pid"; then
                wait "$pid" 2>/dev/null || true
                cat "$log.qemu" >&2
                rig_err "vm: qemu exited at once (its messages above)"
                return 1
        fi
}

# vm_wait IMAGE [TIMEOUT=300]: waits for qemu to exit (the guest powered off); on timeout it
# kills qemu and fails.
vm_wait() {
        local image=${1:?vm_wait IMAGE [TIMEOUT]} timeout=${2:-${RIG_VM_TIMEOUT:-300}} pid t0=$SECONDS
        [ -s "$image.pid" ] || rig_err "vm_wait: no VM was started on $image" || return
        pid=$(cat "$image.pid")
        while rig_pid_alive "$pid"; do
                if ((SECONDS - t0 >= timeout)); then
                        vm_kill "$image" || true
                        rig_err "vm: $image still running after $timeout s; killed it"
                        return 1
                fi
                sleep 0.5
        done
        wait "$pid" 2>/dev/null || true
        rm -f "$image.pid"
}

# vm_boot IMAGE LOG [CMDLINE...]: boots and waits until the guest powers off or reboots
# (RIG_VM_TIMEOUT, default 300 s). Prints the seconds it took; vm_last_shutdown LOG tells
# which of the two it was.
vm_boot() {
        local image=${1:?vm_boot IMAGE LOG [CMDLINE...]} log=${2:?vm_boot IMAGE LOG [CMDLINE...]} t0=$SECONDS
        vm_start "$@" || return
        if ! vm_wait "$image"; then
                tail -n 40 "$log" >&2
                rig_err "vm: the boot of $image did not finish (serial log above: $log)"
                return 1
        fi
        rig_log "vm: $image stopped ($(vm_last_shutdown "$log" || true)) after $((SECONDS - t0)) s"
        echo "$((SECONDS - t0))"
}

# vm_last_shutdown LOG: how the guest of a finished boot went down, from the kernel's last
# such words on its serial console: "reboot" (reboot: Restarting system; -no-reboot makes
# qemu exit there, so the next vm_boot is the guest's next boot), "poweroff" (reboot: Power
# down), "halt" or "panic". Prints "none" and fails when the log has none of them (qemu
# killed, a timeout, or a guest that silenced its console: the kernel prints these at
# KERN_EMERG, which even quiet lets through, but kernel.printk = 0 does not).
vm_last_shutdown() {
        local log=${1:?vm_last_shutdown LOG} last
        last=$(grep -aoE 'reboot: (Restarting system|Power down|System halted)|Kernel panic - not syncing' "$log" 2>/dev/null | tail -n1) || true
        case $last in
        *Restarting*) echo reboot ;;
        *Power*) echo poweroff ;;
        *halted*) echo halt ;;
        Kernel*) echo panic ;;
        *) echo none; return 1 ;;
        esac
}

# vm_wait_log LOG REGEX [TIMEOUT=300]: waits until the serial log has a line matching REGEX
# (grep -E); fails on timeout or when no qemu writes LOG any more.
vm_wait_log() {
        local log=${1:?vm_wait_log LOG REGEX [TIMEOUT]} re=${2:?vm_wait_log LOG REGEX [TIMEOUT]} timeout=${3:-300} t0=$SECONDS
        until grep -aEq -- "$re" "$log" 2>/dev/null; do
                if ((SECONDS - t0 >= timeout)); then
                        tail -n 20 "$log" >&2
                        rig_err "vm: no line matching '$re' in $log after $timeout s"
                        return 1
                fi
                sleep 0.2
        done
}

# vm_kill IMAGE: hard power-off (SIGKILL to qemu): what the guest had not written is lost.
vm_kill() {
        local image=${1:?vm_kill IMAGE} pid
        [ -s "$image.pid" ] || rig_err "vm_kill: no VM was started on $image" || return
        pid=$(cat "$image.pid")
        rig_log "vm: power cut on $image (SIGKILL qemu $pid)"
        kill -KILL "$pid" 2>/dev/null || true
        while rig_pid_alive "$pid"; do sleep 0.1; done
        wait "$pid" 2>/dev/null || true
        rm -f "$image.pid"
}

rig_vm_idle() { # IMAGE: fails if a VM runs on it (debugfs must not touch a mounted image)
        ! vm_running "$1" || rig_err "a VM still runs on $1; stop it first" || return
        [ -f "$1" ] || rig_err "no image $1" || return
}

rig_debugfs() { PATH=$PATH:/usr/sbin:/sbin debugfs "$@"; }

# vm_exists IMAGE PATH: true if PATH exists in the image (symlinks are not followed).
vm_exists() {
        local image=${1:?vm_exists IMAGE PATH} path=${2:?vm_exists IMAGE PATH}
        rig_vm_idle "$image" || return
        rig_debugfs -R "stat \"$path\"" "$(rig_fs_spec "$image")" 2>&1 | grep -q '^Inode:'
}

# vm_read IMAGE PATH: prints the file PATH of the image (debugfs, no mount). Note that after
# vm_kill the ext4 journal has not been replayed: read after the next boot instead.
vm_read() {
        local image=${1:?vm_read IMAGE PATH} path=${2:?vm_read IMAGE PATH}
        rig_vm_idle "$image" || return
        vm_exists "$image" "$path" || rig_err "vm_read: $path does not exist in $image" || return
        rig_debugfs -R "cat \"$path\"" "$(rig_fs_spec "$image")" 2>/dev/null ||
                rig_err "vm_read: debugfs cannot read $path from $image" || return
}

# vm_fsck IMAGE: e2fsck -fy on the host, which replays the journal after vm_kill (what the
# initramfs would do at the next boot), so that vm_read sees the last state and vm_put works.
# A disk image's partition is checked through a loop device at its offset: e2fsck opens
# IMAGE?offset= (rig_fs_spec), but after replaying the journal it re-opens the file system
# without the offset and stops ("Bad magic number in super-block while trying to re-open").
vm_fsck() {
        local image=${1:?vm_fsck IMAGE} rc=0 dev
        rig_vm_idle "$image" || return
        if rig_is_disk "$image"; then
                dev=$(losetup -f --show -o "$RIG_DISK_OFFSET" "$image") ||
                        rig_err "vm_fsck: no loop device for the partition of $image" || return
                PATH=$PATH:/usr/sbin:/sbin e2fsck -fy "$dev" >&2 || rc=$?
                losetup -d "$dev" || rig_err "vm_fsck: cannot detach $dev" || return
        else
                PATH=$PATH:/usr/sbin:/sbin e2fsck -fy "$(rig_fs_spec "$image")" >&2 || rc=$?
        fi
        # 0: clean, 1: errors corrected (a journal replay counts), others: not fixed
        [ "$rc" -le 1 ] || rig_err "vm_fsck: e2fsck -fy $image exited $rc" || return
}

# vm_rebuild_initramfs IMAGE LOG: rebuilds the initramfs of the image's kernel as the
# system in it would (update-initramfs -u, in its own userspace: systemd-nspawn on the
# host, since under TCG it would take minutes) and makes it the one the next vm_start
# boots (IMAGE.initrd; a disk image's GRUB boots the new /boot/initrd.img itself). The image
# must be idle and clean (vm_fsck after vm_kill). Prints
# "KVER OLD-SHA256 NEW-SHA256 SECONDS"; fails if update-initramfs fails (its output: LOG).
vm_rebuild_initramfs() {
        local image=${1:?vm_rebuild_initramfs IMAGE LOG} log=${2:?vm_rebuild_initramfs IMAGE LOG}
        local mnt kver before after t=$SECONDS rc=0 opts=loop
        rig_vm_idle "$image" || return
        ! rig_is_disk "$image" || opts+=",offset=$RIG_DISK_OFFSET"
        mnt=$(mktemp -d "$(dirname "$image")/initramfs.XXXXXX") || return
        mount -o "$opts" "$image" "$mnt" || { rmdir "$mnt"; rig_err "vm_rebuild_initramfs: cannot mount $image"; return 1; }
        kver=$(ls "$mnt/usr/lib/modules" | head -n1)
        before=$(sha256sum <"$mnt/boot/initrd.img-$kver" 2>/dev/null | cut -d' ' -f1) || true
        # The root's MODULES=dep looks for the root's device, which the container does not
        # have: here the image is made as the root was first built, with MODULES=most.
        printf 'MODULES=most\nFSTYPE=ext4\nCOMPRESSLEVEL=1\n' >"$mnt.conf"
        systemd-nspawn --quiet --register=no --keep-unit -D "$mnt" --bind-ro="$mnt.conf:/etc/initramfs-tools/conf.d/rig.conf" \
                update-initramfs -u -k "$kver" >"$log" 2>&1 || rc=$?
        rm -f "$mnt.conf"
        after=$(sha256sum <"$mnt/boot/initrd.img-$kver" 2>/dev/null | cut -d' ' -f1) || true
        [ "$rc" = 0 ] && ! rig_is_disk "$image" && { cp "$mnt/boot/initrd.img-$kver" "$image.initrd" || rc=1; }
        umount "$mnt" || umount -l "$mnt"
        rmdir "$mnt"
        [ "$rc" = 0 ] || { rig_err "vm_rebuild_initramfs: update-initramfs -u -k $kver failed (exit $rc; $log)"; return 1; }
        echo "$kver $before $after $((SECONDS - t))"
}

# vm_rm IMAGE PATH: removes the file PATH from the image if it is there (e.g. /rig/test.sh,
# /rig/keep-running, a stamp). Same refusal as vm_put after a power cut.
vm_rm() {
        local image=${1:?vm_rm IMAGE PATH} path=${2:?vm_rm IMAGE PATH}
        rig_vm_idle "$image" || return
        vm_exists "$image" "$path" || return 0
        if PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h "$(rig_fs_spec "$image")" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery'; then
                rig_err "vm_rm: $image needs journal recovery (killed VM?); boot it before changing it"
                return 1
        fi
        rig_debugfs -w -R "rm \"$path\"" "$(rig_fs_spec "$image")" >/dev/null 2>&1 || true
        ! vm_exists "$image" "$path" || rig_err "vm_rm: could not remove $path from $image" || return
}

# vm_put IMAGE SRC PATH [MODE=0644]: writes the host file SRC as PATH (root-owned, MODE)
# into the image; PATH's directory must exist there. Refuses an image whose journal needs
# recovery (after vm_kill): boot it first.
vm_put() {
        local image=${1:?vm_put IMAGE SRC PATH [MODE]} src=${2:?vm_put IMAGE SRC PATH [MODE]} path=${3:?vm_put IMAGE SRC PATH [MODE]} mode=${4:-0644}
        local dir base out
        rig_vm_idle "$image" || return
        [ -f "$src" ] || rig_err "vm_put: no file $src" || return
        case $path in /*) ;; *) rig_err "vm_put: $path is not absolute"; return 1 ;; esac
        [[ $mode =~ ^0?[0-7]{3}$ ]] || rig_err "vm_put: mode $mode is not like 0644" || return
        if PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h "$(rig_fs_spec "$image")" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery'; then
                rig_err "vm_put: $image needs journal recovery (killed VM?); boot it before writing into it"
                return 1
        fi
        dir=$(dirname "$path") base=$(basename "$path")
        out=$(rig_debugfs -w -f - "$(rig_fs_spec "$image")" 2>&1 <<EOD
cd "$dir"
rm "$base"
write "$src" "$base"
sif "$base" mode 0100${mode#0}
sif "$base" uid 0
sif "$base" gid 0
EOD
)
        vm_exists "$image" "$path" || { printf '%s\n' "$out" >&2; rig_err "vm_put: could not write $path into $image"; return 1; }
}
