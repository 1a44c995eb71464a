#!/usr/bin/env bash
# Benchmarks dpuos-trim against what users would run instead, side by side in one run (as
# root, from a clean clone):
#
#   bash tests/bench/compare.sh [--runs=N] [--keep]
#
# It installs what it needs (tests/setup.sh, and GNU time), builds dpuos-trim, and times
# each case below N times (default 5; the file removals 3N times), the methods of a case
# taking turns so that other load on the machine falls on all of them alike. It prints the
# median, the spread and the ratio dpuos-trim / method of each, then the goals met or
# missed, and ends. It exits non-zero when a run went wrong (a method failed or left the
# wrong result), not for a missed goal.
#
#   units    masking 8 and 32 unit files made for the test, in a container booted with
#            systemd as PID 1 (tests/rig/lib.sh): dpuos-trim live over D-Bus (Mask= of
#            those units, --only=units) against a `systemctl mask` loop, one
#            `systemctl mask` with all the names, and one bare `systemctl daemon-reload`
#            (the floor: one reload is unavoidable). The daemon reloads of each run are
#            counted from the manager's "Reloading." journal lines. The masks are removed
#            (and the manager reloaded) before each run, outside the timed part.
#   sysctl   50 writes of per-network-namespace net.* keys (a container with its own
#            network may write those; the rest of /proc/sys is read-only there):
#            dpuos-trim (--only=sysctl; it also persists them and saves the old values)
#            against a `sysctl -w` loop, `sysctl -p FILE` and TuneD (`tuned-adm profile`
#            of a profile with the same keys, the daemon running). The old values are
#            written back before each run.
#   files    removing /usr/share/doc, /usr/share/man and /usr/share/locale of the Debian
#            root: dpuos-trim offline (--root, Remove= of the three trees, every rail on)
#            against `rm -rf` and `find -delete`. Each run gets a fresh copy, made and
#            synced outside the timed part (so its caches are warm alike for all), on one
#            ext4 file system made for the benchmark: a loop device backed by memory, so
#            that other work's disk traffic does not swamp the numbers (BENCH_FILES_DIR=DIR
#            uses DIR's file system instead). Every timed run ends with `sync -f` on it,
#            so that each tool's removal is on disk when the clock stops (dpuos-trim
#            fsyncs its report, which commits the removal with it).
#   footprint  dpuos-trim's peak RSS on the files case (GNU time), against a bare program
#            linking the same five libraries; its stripped size; that no process of it is
#            left; TuneD's resident memory.
#   policy   the whole shipped policy (conf/debian/) on a fresh container at its first
#            boot: the run's wall time, by kind, from the agent's report, and the
#            service's from systemd.
#
# Where TuneD cannot be installed or started in the container, the table says so and the
# rest runs without it.
#
# The containers run from the rig's cached Debian root (BUILD_DIR/rig/); TuneD runs from a
# copy of it with the tuned package added, made once and cached in BUILD_DIR/bench/.
# BUILD_DIR picks the build directory (default build/); --keep leaves the work directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
t_start=$SECONDS

runs=${BENCH_RUNS:-5}
keep=0
for arg in "$@"; do
        case $arg in
        --runs=*) runs=${arg#--runs=} ;;
        --keep) keep=1 ;;
        -h | --help)
                sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "compare: unknown argument '$arg' (--runs=N, --keep)" >&2
                exit 2
                ;;
        esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "compare: --runs wants a positive number" >&2; exit 2; }

say() { echo "compare: $*" >&2; }
section() { printf '\n==== %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
        say "run as root (it installs packages, builds a Debian root, boots containers and mounts a file system)"
        exit 1
fi

section "packages (tests/setup.sh, GNU time)"
bash tests/setup.sh
# GNU time measures the peak resident memory; only this benchmark needs it.
if ! dpkg-query -W -f='${Status}' time 2>/dev/null | grep -q "install ok installed"; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends time
fi

section "build"
export BUILD_DIR=${BUILD_DIR:-build}
if [ -d "$BUILD_DIR/meson-private" ]; then
        meson setup --reconfigure "$BUILD_DIR" >/dev/null
else
        meson setup "$BUILD_DIR" >/dev/null
fi
meson compile -C "$BUILD_DIR" >/dev/null

# shellcheck source=tests/rig/lib.sh
source tests/rig/lib.sh
BUILD_DIR=$(rig_abs "$BUILD_DIR")
agent=$BUILD_DIR/agent/dpuos-trim
src=$PWD

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$BUILD_DIR/bench"
work=$(mktemp -d "$BUILD_DIR/bench/compare.XXXXXX")
ct=bench-$$
ct_fb=bench-fb-$$
files_mnt=""
files_img=""
files_base=""
bench_failed=0
tuned_ok=1
tuned_why=""
tuned_mem=""

# shellcheck disable=SC2317 # called by the trap
cleanup() {
        local c
        for c in "$ct" "$ct_fb"; do
                if ct_running "$c" 2>/dev/null; then ct_kill "$c"; fi
        done
        if [ -n "$files_mnt" ] && mountpoint -q "$files_mnt"; then umount "$files_mnt" || true; fi
        [ -z "$files_img" ] || rm -f "$files_img"
        [ -z "${BENCH_FILES_DIR:-}" ] || [ -z "$files_base" ] || rm -rf "$files_base"
        if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------
# Samples: "CASE/METHOD" -> microseconds, space-separated, one per run.

declare -A us notes
methods_units=(agent loop one reload)
methods_sysctl=(agent loop file tuned)
methods_files=(agent rm find)

add_sample() { us[$1]+="$2 "; }

median() { # VALUES... -> the median (the mean of the middle two for an even count)
        printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
                printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# ---------------------------------------------------------------------------------------
# The bench root: the rig root plus TuneD, built once per rig root.

BENCH_ROOT_REV=1
BENCH_ROOT_PACKAGES=(tuned)

bench_root_chroot() { # DIR: what apt-get needs inside, and no service started by dpkg
        mount -t proc proc "$1/proc" && mount --bind /dev "$1/dev" || return
        if [ -e "$1/etc/resolv.conf" ] || [ -L "$1/etc/resolv.conf" ]; then
                mv "$1/etc/resolv.conf" "$1/etc/resolv.conf.saved" || return
        fi
        cp /etc/resolv.conf "$1/etc/resolv.conf" &&
                printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d" &&
                chmod 755 "$1/usr/sbin/policy-rc.d"
}

bench_root_unchroot() { # DIR
        rm -f "$1/usr/sbin/policy-rc.d" "$1/etc/resolv.conf"
        if [ -e "$1/etc/resolv.conf.saved" ] || [ -L "$1/etc/resolv.conf.saved" ]; then
                mv "$1/etc/resolv.conf.saved" "$1/etc/resolv.conf"
        fi
        ! mountpoint -q "$1/dev" || umount "$1/dev"
        ! mountpoint -q "$1/proc" || umount "$1/proc"
}

bench_root_build() { # DIR TARBALL: installs the packages into DIR and packs it
        local dir=$1 tarball=$2 tmp=$2.tmp
        if ! bench_root_chroot "$dir" ||
                ! chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Retries=3 update >&2 ||
                ! chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                        --no-install-recommends "${BENCH_ROOT_PACKAGES[@]}" >&2 ||
                ! chroot "$dir" apt-get clean; then
                bench_root_unchroot "$dir"
                return 1
        fi
        bench_root_unchroot "$dir" || return
        rm -rf "$dir"/var/lib/apt/lists/*
        # TuneD is started by the benchmark when it is measured, not at every boot.
        systemctl --root="$dir" disable tuned.service >/dev/null 2>&1 || true
        tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -cpf "$tmp" . &&
                mv -f "$tmp" "$tarball"
}

# bench_root: prints the path of the cached bench root tarball, building it if needed.
bench_root() {
        local rig tarball dir lockfd rc=0
        rig=$(rig_root "$BUILD_DIR") || return
        tarball=$BUILD_DIR/bench/$(basename "$rig" .tar)-bench$BENCH_ROOT_REV.tar
        exec {lockfd}>"$BUILD_DIR/bench/.root.lock"
        flock "$lockfd" || { exec {lockfd}>&-; return 1; }
        if [ ! -s "$tarball" ]; then
                say "bench root: the rig root plus ${BENCH_ROOT_PACKAGES[*]} (apt-get in a chroot, once)"
                dir=$BUILD_DIR/bench/.root.tmp
                rm -rf "$dir" "$tarball.tmp"
                rig_unpack "$rig" "$dir" && bench_root_build "$dir" "$tarball" || rc=$?
                rm -rf "$dir" "$tarball.tmp"
                [ "$rc" = 0 ] && find "$BUILD_DIR/bench" -maxdepth 1 -name 'root-*-bench*.tar' \
                        ! -name "$(basename "$tarball")" -delete
        fi
        exec {lockfd}>&-
        [ "$rc" = 0 ] || { say "could not build the bench root (apt-get output above)"; return 1; }
        say "bench root: $tarball"
        printf '%s\n' "$tarball"
}

# ---------------------------------------------------------------------------------------
# Units and sysctl: one container, timings taken inside it by compare-ct.sh.

ct_prepare() {
        local tarball=$1 root=$work/ct-root
        rig_unpack "$tarball" "$root"
        rig_install_agent "$root" "$BUILD_DIR"
        mkdir -p "$root/etc/dpuos-trim"
        echo "bench" >"$root/etc/dpuos-trim/applied"  # no first-boot run: the benchmark drives it
        install -m 0755 tests/bench/compare-ct.sh "$root/usr/local/sbin/bench-ct"
        ct_start "$ct" "$root"
        ct_wait "$ct" 300 >/dev/null
        ct_exec "$ct" bench-ct prepare
}

ct_sample() { # CASE METHOD -> adds the sample; checks the result
        local case=$1 method=$2 out t reloads ok rc
        out=$(ct_exec "$ct" bench-ct run "$case" "$method")
        read -r t reloads ok rc <<<"$out"
        t=${t#us=} reloads=${reloads#reloads=} ok=${ok#ok=} rc=${rc#rc=}
        add_sample "$case/$method" "$t"
        notes[$case/$method.reloads]+="$reloads "
        if [ "$rc" != 0 ] || [ "${ok%/*}" != "${ok#*/}" ]; then
                notes[$case/$method.bad]+="run: exit $rc, $ok right; "
                say "$case $method: exit $rc, $ok right"
        fi
        printf '  %-9s %-7s %9s ms  reloads %-3s result %s\n' "$case" "$method" "$(ms "$t")" "$reloads" "$ok"
}

run_units() {
        local r n m
        for n in 8 32; do
                for ((r = 1; r <= runs; r++)); do
                        for m in "${methods_units[@]}"; do ct_sample "units$n" "$m"; done
                done
        done
}

tuned_start() {
        if [ "$tuned_ok" != 1 ]; then
                return 1
        elif ! ct_exec "$ct" systemctl start tuned.service; then
                tuned_why="tuned.service does not start in the container"
        elif ! ct_exec "$ct" tuned-adm profile bench-none; then
                tuned_why="tuned-adm cannot switch profiles in the container"
        else
                return 0
        fi
        tuned_ok=0
        ct_exec "$ct" journalctl -b -u tuned.service --no-pager -n 20 >&2 || true
        return 1
}

run_sysctl() {
        local r m
        if ! tuned_start; then
                methods_sysctl=(agent loop file)
                notes[sysctl50/tuned.why]=$tuned_why
        fi
        for ((r = 1; r <= runs; r++)); do
                for m in "${methods_sysctl[@]}"; do ct_sample sysctl50 "$m"; done
        done
        if [ "$tuned_ok" = 1 ]; then
                tuned_mem=$(ct_exec "$ct" bench-ct rss-tuned)
                ct_exec "$ct" systemctl stop tuned.service
        fi
}

# ---------------------------------------------------------------------------------------
# Files: fresh copies of the same three trees on one file system.

TREES=(usr/share/doc usr/share/man usr/share/locale)

files_prepare() {
        local rig=$1 base
        files_src=$work/files-src
        mkdir -p "$files_src"
        tar -C "$files_src" --numeric-owner --xattrs --xattrs-include='*' -xpf "$rig" "${TREES[@]/#/./}"
        if [ -n "${BENCH_FILES_DIR:-}" ]; then
                base=$(rig_abs "$BENCH_FILES_DIR")/bench-files-$$
                files_base=$base
                mkdir -p "$base"
                files_where="$(findmnt -n -o FSTYPE -T "$base") file system of $BENCH_FILES_DIR"
        else
                files_img=/dev/shm/dpuos-trim-bench-$$.img
                files_mnt=$work/files-mnt
                mkdir -p "$files_mnt"
                truncate -s 512M "$files_img"
                mkfs.ext4 -q -F "$files_img"
                mount -o loop "$files_img" "$files_mnt"
                base=$files_mnt
                files_where="ext4 on a loop device backed by memory"
        fi
        files_copy=$base/copy
        cat >"$work/files.conf" <<'EOF'
[Policy]
Name=bench-files

[Files]
Remove=/usr/share/doc /usr/share/man /usr/share/locale
EOF
        files_count=$(find "${TREES[@]/#/$files_src/}" | wc -l)
        files_bytes=$(du -sc --block-size=1 "${TREES[@]/#/$files_src/}" | tail -n1 | cut -f1)
}

files_fresh_copy() { # not timed: the same state for every method, caches warm from the copy
        rm -rf "$files_copy"
        mkdir -p "$files_copy"
        cp -a "$files_src/." "$files_copy/"
        sync -f "$files_copy"
}

files_run() { # METHOD
        case $1 in
        agent) "$agent" --root="$files_copy" --policy="$work/files.conf" -q ;;
        rm) rm -rf "${TREES[@]/#/$files_copy/}" ;;
        find) find "${TREES[@]/#/$files_copy/}" -delete ;;
        esac
}

files_sample() { # METHOD
        local m=$1 t0 t1 left
        files_fresh_copy
        t0=${EPOCHREALTIME/./}
        files_run "$m"
        sync -f "$files_copy"
        t1=${EPOCHREALTIME/./}
        left=$({ find "${TREES[@]/#/$files_copy/}" 2>/dev/null || true; } | wc -l)
        [ "$left" = 0 ] || notes[files/$m.bad]+="$left entries left; "
        add_sample "files/$m" "$((t1 - t0))"
        printf '  %-9s %-7s %9s ms  entries left %s\n' files "$m" "$(ms $((t1 - t0)))" "$left"
}

# A removal takes a fraction of a second: three times as many runs steady its median.
run_files() {
        local r m
        for ((r = 1; r <= 3 * runs; r++)); do
                for m in "${methods_files[@]}"; do files_sample "$m"; done
        done
}

# ---------------------------------------------------------------------------------------
# Footprint

tiny_program() { # builds the bare program with the agent's five libraries
        mkdir -p "$work/tiny"
        cat >"$work/tiny/tiny.c" <<'EOF'
/* Links dpuos-trim's five libraries and calls one function of each, nothing else. */
#include <ini.h>
#include <libkmod.h>
#include <libmount.h>
#include <sys/capability.h>
#include <systemd/sd-id128.h>

static int on_entry(void *user, const char *section, const char *name, const char *value) {
        (void) user, (void) section, (void) name, (void) value;
        return 1;
}

int main(void) {
        struct kmod_ctx *kmod = kmod_new(NULL, NULL);
        struct libmnt_table *table = mnt_new_table();
        cap_t caps = cap_get_proc();
        sd_id128_t id;

        (void) sd_id128_get_boot(&id);
        (void) ini_parse_string("[a]\nb=c\n", on_entry, NULL);
        cap_free(caps);
        mnt_unref_table(table);
        kmod_unref(kmod);
        return 0;
}
EOF
        # shellcheck disable=SC2046 # pkg-config prints one flag per word
        gcc -O2 -o "$work/tiny/tiny" "$work/tiny/tiny.c" $(pkg-config --cflags --libs libsystemd libkmod mount inih libcap)
}

peak_rss_kib() { # CMD... -> peak resident set size in KiB (GNU time)
        /usr/bin/time -f '%M' -o "$work/time.out" "$@" >/dev/null
        tail -n1 "$work/time.out"
}

run_footprint() {
        local rss=() tiny=() i
        tiny_program
        for ((i = 1; i <= runs; i++)); do
                files_fresh_copy
                rss+=("$(peak_rss_kib "$agent" --root="$files_copy" --policy="$work/files.conf" -q)")
                tiny+=("$(peak_rss_kib "$work/tiny/tiny")")
        done
        agent_rss=$(median "${rss[@]}")
        tiny_rss=$(median "${tiny[@]}")
        strip -o "$work/dpuos-trim.stripped" "$agent"
        agent_size=$(stat -c %s "$agent")
        agent_stripped=$(stat -c %s "$work/dpuos-trim.stripped")
        # Only this build's binary: other work on the machine may run its own.
        left_host=0
        for p in $(pgrep -x dpuos-trim || true); do
                [ "$(readlink "/proc/$p/exe" 2>/dev/null)" != "$agent" ] || left_host=$((left_host + 1))
        done
        left_ct=$(ct_exec "$ct" sh -c 'pgrep -x dpuos-trim | wc -l' || echo "?")
}

# ---------------------------------------------------------------------------------------
# The shipped policy at a first boot

run_policy() {
        local rig=$1 r root report f policy_dir service_us d u m sc sf f fail ndone svc
        for ((r = 1; r <= runs; r++)); do
                root=$work/fb-root
                rm -rf "$root"
                rig_unpack "$rig" "$root"
                rig_install_agent "$root" "$BUILD_DIR" >/dev/null
                policy_dir=$root/etc/dpuos-trim/policy.d
                mkdir -p "$policy_dir"
                cp conf/debian/*.conf "$policy_dir/"
                for f in "$root"/usr/lib/dpuos-trim/policy.d/*.conf; do
                        [ -e "$f" ] || continue
                        [ -e "$policy_dir/$(basename "$f")" ] || ln -s /dev/null "$policy_dir/$(basename "$f")"
                done
                ct_start "$ct_fb" "$root"
                ct_wait "$ct_fb" 300 >/dev/null || true
                service_us=$(ct_exec "$ct_fb" systemctl show -P ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic dpuos-trim.service |
                        paste -sd' ' | awk '{ print ($2 > $1 && $1 > 0) ? $2 - $1 : 0 }')
                ct_stop "$ct_fb" 120
                report=$root/var/lib/dpuos-trim/report.json
                if [ ! -s "$report" ]; then
                        notes[policy.bad]+="run $r: no report; "
                        continue
                fi
                jq -r --arg svc "$service_us" '"\(.duration) \(.kinds.units.seconds // 0) \(.kinds.modules.seconds // 0) \(.kinds.sysctl.seconds // 0) \(.kinds.sysfs.seconds // 0) \(.kinds.files.seconds // 0) \(.totals.failed // 0) \(.totals.done // 0) \($svc | tonumber / 1e6)"' "$report" >>"$work/policy.runs"
                read -r d u m sc sf f fail ndone svc < <(tail -n1 "$work/policy.runs")
                printf '  policy run %d: %s actions done, %s failed; run %s s (units %s, modules %s, sysctl %s, sysfs %s, files %s); service %s s\n' \
                        "$r" "$ndone" "$fail" "$d" "$u" "$m" "$sc" "$sf" "$f" "$svc"
        done
        rm -rf "$work/fb-root"
}

# ---------------------------------------------------------------------------------------
# The table

row() { # LABEL CASE METHOD [AGENT-METHOD]
        local label=$1 key=$2/$3 base=$2/${4:-agent} m mi ma am ratio note=""
        if [ -z "${us[$key]:-}" ]; then
                printf '%-46s %4s %10s %10s %10s %8s  %s\n' "$label" 0 - - - - "not run: ${notes[$key.why]:-}"
                return
        fi
        # shellcheck disable=SC2086
        m=$(median ${us[$key]})
        # shellcheck disable=SC2086
        read -r mi ma < <(printf '%s\n' ${us[$key]} | sort -n | sed -n '1p;$p' | paste -sd' ')
        # shellcheck disable=SC2086
        am=$(median ${us[$base]})
        ratio=$(awk -v a="$am" -v b="$m" 'BEGIN { printf "%.2f", a / b }')
        if [ -n "${notes[$key.reloads]:-}" ]; then
                # shellcheck disable=SC2086
                note="reloads $(printf '%s\n' ${notes[$key.reloads]} | sort -n | uniq | paste -sd/)"
        fi
        if [ -n "${notes[$key.bad]:-}" ]; then
                note+=" FAILED: ${notes[$key.bad]}"
                bench_failed=1
        fi
        # shellcheck disable=SC2086
        printf '%-46s %4s %10s %10s %10s %8s  %s\n' "$label" "$(printf '%s\n' ${us[$key]} | wc -l)" \
                "$(ms "$m")" "$(ms "$mi")" "$(ms "$ma")" "$ratio" "$note"
}

goal() { # MET(0/1) TEXT
        if [ "$1" = 1 ]; then echo "  met     $2"; else echo "  MISSED  $2"; fi
}

ratio_of() { # CASE/METHOD CASE/METHOD -> median(a) / median(b)
        # shellcheck disable=SC2086
        awk -v a="$(median ${us[$1]})" -v b="$(median ${us[$2]})" 'BEGIN { printf "%.2f", a / b }'
}

paired_ratio() { # CASE/METHOD CASE/METHOD -> the median of the runs' ratios; a run of one
        # method and the next of the other ran back to back, so load that drifts over the
        # benchmark cancels out of each ratio
        # shellcheck disable=SC2086
        paste -d' ' <(printf '%s\n' ${us[$1]}) <(printf '%s\n' ${us[$2]}) |
                awk '{ print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
                        printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

spread() { # CASE/METHOD -> max / min of its runs
        # shellcheck disable=SC2086
        printf '%s\n' ${us[$1]} | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f", hi / lo }'
}

noisy() { # CASE/METHOD... -> a warning if the runs of any spread by more than 1.5x
        local k s worst=1
        for k in "$@"; do
                s=$(spread "$k")
                worst=$(awk -v a="$worst" -v b="$s" 'BEGIN { print (b > a) ? b : a }')
        done
        awk -v w="$worst" 'BEGIN { exit !(w > 1.5) }' || return 0
        printf '; noisy: runs spread up to %sx (max/min), other load on the machine' "$worst"
}

reloads_always() { # CASE/METHOD N -> true if every run reloaded exactly N times
        # shellcheck disable=SC2086
        [ "$(printf '%s\n' ${notes[$1.reloads]} | sort -u | paste -sd' ')" = "$2" ]
}

print_results() {
        local r8 r32 loop32 fr p8 p32 pf rss_ok once m mi ma
        section "results: medians (ms) of n runs, ratio = dpuos-trim / method"
        printf '%-46s %4s %10s %10s %10s %8s  %s\n' "case, method" n median min max ratio notes
        echo "masking 8 unit files (container, systemd 252)"
        row "  dpuos-trim --only=units (D-Bus)" units8 agent
        row "  systemctl mask, one call per unit" units8 loop
        row "  systemctl mask with all 8 names" units8 one
        row "  systemctl daemon-reload alone (floor)" units8 reload
        echo "masking 32 unit files"
        row "  dpuos-trim --only=units (D-Bus)" units32 agent
        row "  systemctl mask, one call per unit" units32 loop
        row "  systemctl mask with all 32 names" units32 one
        row "  systemctl daemon-reload alone (floor)" units32 reload
        echo "50 sysctl writes (net.*, container's own network namespace)"
        row "  dpuos-trim --only=sysctl (+ sysctl.d, saved)" sysctl50 agent
        row "  sysctl -w, one call per key" sysctl50 loop
        row "  sysctl -p FILE" sysctl50 file
        row "  TuneD: tuned-adm profile (daemon running)" sysctl50 tuned
        echo "removing doc, man, locale ($files_count entries, $(numfmt --to=iec-i --suffix=B "$files_bytes"); $files_where; + sync)"
        row "  dpuos-trim --root (offline, all rails)" files agent
        row "  rm -rf" files rm
        row "  find -delete" files find

        section "footprint"
        printf '%-46s %s\n' "dpuos-trim peak RSS (files case, median)" "$(awk -v k="$agent_rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
        printf '%-46s %s\n' "bare program, same five libraries" "$(awk -v k="$tiny_rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
        printf '%-46s %s\n' "dpuos-trim binary, as built / stripped" "$(numfmt --to=iec-i --suffix=B "$agent_size") / $(numfmt --to=iec-i --suffix=B "$agent_stripped")"
        printf '%-46s %s\n' "dpuos-trim processes left (host / container)" "$left_host / $left_ct"
        if [ -n "$tuned_mem" ]; then
                read -r t_rss t_hwm <<<"$tuned_mem"
                printf '%-46s %s\n' "TuneD daemon resident / peak" "$(awk -v r="${t_rss#rss=}" -v h="${t_hwm#hwm=}" 'BEGIN { printf "%.1f MiB / %.1f MiB", r / 1024, h / 1024 }')"
        else
                printf '%-46s %s\n' "TuneD daemon" "not run: $tuned_why"
        fi

        section "the shipped policy (conf/debian/) at a first boot, fresh container each run"
        if [ -s "$work/policy.runs" ]; then
                printf '%-46s %10s %10s %10s\n' "" median min max
                local col label
                for col in 9:"dpuos-trim.service, start to exit (systemd)" 1:"the run (report: duration)" 2:"  units" 3:"  modules" 4:"  sysctl" 5:"  sysfs" 6:"  files"; do
                        label=${col#*:}
                        read -r m mi ma < <(awk -v c="${col%%:*}" '{ printf "%d\n", $c * 1e6 }' "$work/policy.runs" | sort -n |
                                awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d %d\n", m, v[1], v[NR] }')
                        printf '%-46s %10s %10s %10s\n' "$label" "$(ms "$m")" "$(ms "$mi")" "$(ms "$ma")"
                done
                echo "actions done per run: $(awk '{ print $8 }' "$work/policy.runs" | sort -u | paste -sd/), failed: $(awk '{ print $7 }' "$work/policy.runs" | sort -u | paste -sd/)"
        fi
        if [ -n "${notes[policy.bad]:-}" ]; then
                echo "FAILED: ${notes[policy.bad]}"
                bench_failed=1
        fi

        section "goals (the ratio of the medians decides; \"run by run\" is the median of each run's ratio to the run next to it)"
        r8=$(ratio_of units8/agent units8/reload)
        r32=$(ratio_of units32/agent units32/reload)
        loop32=$(ratio_of units32/loop units32/agent)
        fr=$(ratio_of files/agent files/rm)
        p8=$(paired_ratio units8/agent units8/reload)
        p32=$(paired_ratio units32/agent units32/reload)
        pf=$(paired_ratio files/agent files/rm)
        once=0
        reloads_always units8/agent 1 && reloads_always units32/agent 1 && once=1
        goal "$once" "dpuos-trim reloads the manager once whatever N (reloads in each run, 8 units: ${notes[units8/agent.reloads]% }; 32 units: ${notes[units32/agent.reloads]% })"
        goal "$(awk -v r="$r8" 'BEGIN { print (r <= 1.3) }')" "masking 8: dpuos-trim within 1.3x of a bare daemon-reload (${r8}x; run by run ${p8}x$(noisy units8/agent units8/reload))"
        goal "$(awk -v r="$r32" 'BEGIN { print (r <= 1.3) }')" "masking 32: dpuos-trim within 1.3x of a bare daemon-reload (${r32}x; run by run ${p32}x$(noisy units32/agent units32/reload))"
        goal "$(awk -v r="$loop32" 'BEGIN { print (r >= 20) }')" "masking 32: dpuos-trim at least 20x faster than a systemctl mask loop (${loop32}x)"
        goal "$(awk -v r="$fr" 'BEGIN { print (r <= 1.2) }')" "file removal: dpuos-trim within 1.2x of rm -rf (${fr}x; run by run ${pf}x$(noisy files/agent files/rm))"
        rss_ok=$(awk -v k="$agent_rss" 'BEGIN { print (k <= 6 * 1024) }')
        goal "$rss_ok" "dpuos-trim peak RSS 6 MiB or less ($(awk -v k="$agent_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
        goal "$([ "$left_host" = 0 ] && [ "$left_ct" = 0 ] && echo 1 || echo 0)" "no dpuos-trim process is left after the runs"
}

# ---------------------------------------------------------------------------------------

section "Debian roots (the rig's, and the bench copy with TuneD)"
rig_tarball=$(rig_root "$BUILD_DIR")
if ! bench_tarball=$(bench_root); then
        tuned_ok=0
        tuned_why="the tuned package could not be installed into the bench root"
        bench_tarball=$rig_tarball
fi

section "container: agent, 32 unit files, 50 sysctl keys, TuneD profiles"
ct_prepare "$bench_tarball"

section "units: masking 8 and 32 unit files ($runs runs each, methods taking turns)"
run_units

section "sysctl: 50 writes ($runs runs each)"
run_sysctl

section "files: removing doc, man and locale ($((3 * runs)) runs each)"
files_prepare "$rig_tarball"
echo "  $files_count entries, $(numfmt --to=iec-i --suffix=B "$files_bytes") on $files_where"
run_files

section "footprint"
run_footprint
ct_stop "$ct" 120

section "the shipped policy at a first boot ($runs fresh containers)"
run_policy "$rig_tarball"

print_results
section "machine"
echo "$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB memory"
echo "load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%d), wall time of this benchmark: $((SECONDS - t_start)) s"
exit "$bench_failed"
