#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every failure reaches the exit status and the report (docs/design.md, "Failures"). Each
# file dpuos-trim persists or keeps state in is, in turn, a directory, a dangling symlink,
# on a read-only bind mount and on a full file system; the state directory is read-only,
# report.json cannot be written, and the file system is full while files are removed. Each
# case must end in exit 1 with the reason (the file's path) in the output and in
# report.json, no stamp after --firstboot, --verify not 0, and nothing changed that the
# failed step guards. Needs root (mounts), in a private mount namespace of its own.
if [[ -z ${DPUOS_TRIM_FAULTS_NS:-} && $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
        DPUOS_TRIM_FAULTS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_test_hooks
need_root "mounting file systems in the fixture"
need_tool jq
[[ -n ${DPUOS_TRIM_FAULTS_NS:-} ]] || skip "unshare cannot make a private mount namespace"

# The policy of each kind of file, and the file it persists.
declare -A FILE=(
        [modules]=etc/modprobe.d/dpuos-trim.conf
        [sysctl]=etc/sysctl.d/90-dpuos-trim.conf
        [sysfs]=etc/tmpfiles.d/dpuos-trim.conf
        [dpkg]=etc/dpkg/dpkg.cfg.d/dpuos-trim
        [rpm]=etc/rpm/macros.dpuos-trim
        [record]=var/lib/dpuos-trim/saved/masked-units
)

kind_policy() {
        case $1 in
        modules) printf '[Modules]\nBlacklist=floppy pcspkr\n' ;;
        sysctl) printf '[Sysctl]\nvm.swappiness = 10\n' ;;
        sysfs) printf '[Sysfs]\n/sys/kernel/mm/transparent_hugepage/enabled = never\n' ;;
        dpkg | rpm) printf '[Files]\nRemove=/usr/share/doc/**\nPreventReinstall=yes\n' ;;
        record) printf '[Units]\nMask=cups.service bluetooth.service\n' ;;
        esac
}

setup() { # NAME KIND
        ROOT=$SCRATCH/$1
        make_os_tree "$ROOT"
        mkdir -p "$ROOT/var/lib/dpuos-trim"   # so that only the report differs after a run
        case $2 in
        dpkg) mkdir -p "$ROOT/var/lib/dpkg" && : >"$ROOT/var/lib/dpkg/status" ;;
        rpm) mkdir -p "$ROOT/var/lib/rpm" ;;
        esac
        kind_policy "$2" | policy 50-fault.conf
}

mount_or_fail() {
        local target=${*: -1}
        if mount "$@" 2>"$SCRATCH/mount.err"; then
                MOUNTS+=("$target")
        else
                fail "fixture: cannot mount $target: $(cat "$SCRATCH/mount.err")"
                return 1
        fi
}

# A tmpfs with no room left, on DIR.
mount_full() {
        mount_or_fail -t tmpfs -o size=64k,nr_inodes=64 tmpfs "$1" || return
        dd if=/dev/zero of="$1/.fill" bs=4k 2>/dev/null || true
        if dd if=/dev/zero of="$1/.probe" bs=1 count=1 2>/dev/null; then
                fail "fixture: $1 is not full"
        fi
        rm -f "$1/.probe"
}

mount_readonly() {
        mount_or_fail --bind "$1" "$1" && mount_or_fail -o remount,bind,ro "$1"
}

# fault KIND FAULT: puts the fault in the place of (or under) the kind's file.
fault() {
        local f=$ROOT/${FILE[$1]} dir
        dir=$(dirname "$f")
        mkdir -p "$dir"
        case $2 in
        directory) mkdir "$f" && touch "$f/keep" ;;
        dangling) ln -s /nonexistent/dpuos-trim.conf "$f" ;;
        read-only) mount_readonly "$dir" ;;
        full) mount_full "$dir" ;;
        esac
}

# The failure is named: the path in the output, and in report.json as the reason of a
# failed action or as a run error.
expect_named() { # WHAT PATH
        local what=$1 path=$2 n
        expect "$what: the output names $path" grep -qF -- "$path" "$OUT" "$ERR"
        n=$(jq_report --arg p "$path" '[(.actions[] | select(.outcome == "failed") | .reason), .errors[]]
                | map(select(. != null and contains($p))) | length')
        expect "$what: report.json names $path in a failure ($n)" test "${n:-0}" -gt 0 2>/dev/null
}

expect_verify_fails() { # WHAT
        run_trim --verify
        expect "$1: --verify does not say the policy holds (exit $RC)" test "$RC" = 1 -o "$RC" = 3
}

for kind in modules sysctl sysfs dpkg rpm record; do
        for f in directory dangling read-only full; do
                what="$kind, ${FILE[$kind]} $f"
                setup "$kind-$f" "$kind"
                fault "$kind" "$f" || continue
                fp_begin
                DPUOS_TRIM_PROC_CMDLINE=quiet run_trim --firstboot
                expect_eq "$what: exit 1" 1 "$RC"
                expect_named "$what" "/${FILE[$kind]}"
                expect "$what: no stamp" test ! -e "$ROOT/etc/dpuos-trim/applied"
                fp_check "$what"
                expect_verify_fails "$what"
        done
done

# report.json cannot be written: everything else is applied, the run still fails, and the
# stamp is not written, so that the next boot tries again.
setup report sysctl
mkdir -p "$ROOT/var/lib/dpuos-trim/report.json"
DPUOS_TRIM_PROC_CMDLINE=quiet run_trim --firstboot
expect_eq "report.json a directory: exit 1" 1 "$RC"
expect "report.json a directory: stderr names it" grep -qF /var/lib/dpuos-trim/report.json "$ERR"
expect "report.json a directory: the summary names it" grep -qF "error: cannot write $ROOT/var/lib/dpuos-trim/report.json" "$OUT"
expect "report.json a directory: no stamp" test ! -e "$ROOT/etc/dpuos-trim/applied"
expect "report.json a directory: the directory is left alone" test -d "$ROOT/var/lib/dpuos-trim/report.json"
expect_eq "report.json a directory: the policy itself was applied" "vm.swappiness = 10" \
        "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"

# The whole state directory read-only: the mask record cannot be written, so no mask is
# written, and neither is the report.
setup state record
mkdir -p "$ROOT/var/lib/dpuos-trim"
mount_readonly "$ROOT/var/lib/dpuos-trim"
fp_begin
DPUOS_TRIM_PROC_CMDLINE=quiet run_trim --firstboot
expect_eq "state directory read-only: exit 1" 1 "$RC"
expect "state directory read-only: the output names the record" grep -qF /var/lib/dpuos-trim/saved/masked-units "$OUT" "$ERR"
expect "state directory read-only: the output names report.json" grep -qF /var/lib/dpuos-trim/report.json "$ERR"
expect "state directory read-only: no stamp" test ! -e "$ROOT/etc/dpuos-trim/applied"
fp_check "state directory read-only"
expect_verify_fails "state directory read-only"

# An I/O error when the directory is synced after the rename: the new file may not survive
# a power cut, so the write failed. strace makes fsync() fail, the file's first, then the
# directory's: fsyncs 3 and 4, after the two of the status file's "running" (a failure
# there is only a warning: the status written at the end is what counts).
if command -v strace >/dev/null; then
        for n in 3 4; do
                setup "fsync-$n" sysctl
                RC=0
                # LeakSanitizer cannot run under ptrace: no leak check in a sanitizer build here.
                ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 DPUOS_TRIM_PROC_CMDLINE=quiet \
                        strace -f -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=$n \
                        "$DPUOS_TRIM" --root="$ROOT" --firstboot >"$OUT" 2>"$ERR" || RC=$?
                what="fsync number $n fails with EIO"
                expect_eq "$what: exit 1" 1 "$RC"
                expect "$what: the error is named" grep -q "Input/output error" "$OUT"
                expect_named "$what" /etc/sysctl.d/90-dpuos-trim.conf
                expect "$what: no stamp" test ! -e "$ROOT/etc/dpuos-trim/applied"
        done
else
        missing "strace, to make fsync() fail"
fi

# The state files are input: a line of the mask record that is no unit name is never
# acted on. This one would point --revert at the administrator's own disable link.
setup record-entry record
mkdir -p "$ROOT/var/lib/dpuos-trim/saved" "$ROOT/etc/dpuos-trim/policy.d"
ln -s /dev/null "$ROOT/etc/dpuos-trim/policy.d/50-firmware.conf"
printf '# Units masked by dpuos-trim, for --revert. Do not edit.\ncups.service\n../../../etc/dpuos-trim/policy.d/50-firmware.conf\n' \
        >"$ROOT/var/lib/dpuos-trim/saved/masked-units"
ln -s /dev/null "$ROOT/etc/systemd/system/cups.service"
run_trim --revert
expect_eq "a bad line in the mask record: --revert exits 1" 1 "$RC"
expect "a bad line in the mask record: the administrator's disable link stays" \
        test -L "$ROOT/etc/dpuos-trim/policy.d/50-firmware.conf"
expect "a bad line in the mask record: the good line is still unmasked" test ! -e "$ROOT/etc/systemd/system/cups.service"
expect_eq "a bad line in the mask record: the report names the file and line" \
        "failed /var/lib/dpuos-trim/saved/masked-units:3 not a unit name; left alone" \
        "$(jq_report '.actions[] | select(.kind == "units" and .outcome == "failed") | "\(.outcome) \(.target) \(.reason)"')"

# A sysctl name whose file would lie outside /proc/sys is refused when the policy is read.
setup sysctl-escape sysctl
printf '[Sysctl]\n//.//.tmp.x = 1\n' | policy 60-escape.conf
run_trim --check
expect_eq "a sysctl name that leaves /proc/sys: --check exits 2" 2 "$RC"
expect "a sysctl name that leaves /proc/sys: FILE:LINE names it" grep -q '60-escape.conf:2: ' "$ERR"

# A mask that cannot be written fails with the error, not with the note of why it was
# planned: cups.socket is masked because it triggers cups.service, and /etc/systemd/system
# is read-only.
setup mask-error record
printf '[Units]\nMask=cups.service\n' | policy 50-fault.conf
mkdir -p "$ROOT/etc/systemd/system"
if mount_readonly "$ROOT/etc/systemd/system"; then
        run_trim
        expect_eq "masks on a read-only unit directory: exit 1" 1 "$RC"
        expect_eq "masks on a read-only unit directory: cups.socket fails with the error" \
                "failed Read-only file system" \
                "$(jq_report '.actions[] | select(.target == "cups.socket") | "\(.outcome) \(.reason)"')"
        expect "masks on a read-only unit directory: the summary gives the error" \
                grep -q 'cups.socket.*Read-only file system' "$OUT"
fi

# The record cannot be updated after a mask was taken back: the mask is gone, the record
# still lists it, and the run says so (a later --revert would otherwise trust a record that
# is wrong).
setup record-trim record
run_trim
expect_eq "record update, first run: exit 0" 0 "$RC"
printf '[Units]\nMask=cups.service\n' | policy 50-fault.conf
if mount_readonly "$ROOT/var/lib/dpuos-trim/saved"; then
        run_trim
        expect_eq "record update on a read-only state directory: exit 1" 1 "$RC"
        expect "record update on a read-only state directory: the mask dropped is gone" \
                test ! -e "$ROOT/etc/systemd/system/bluetooth.service"
        expect_named "record update on a read-only state directory" /var/lib/dpuos-trim/saved/masked-units
fi

# An I/O error on any statx() of a removal: the run either fails and names the error, or
# exits 0 with exactly the planned removals done. strace fails the Nth statx() of the run,
# for every N (the re-check of a directory just opened among them, once taken for a swap).
if command -v strace >/dev/null; then
        ROOT=$SCRATCH/statx-count
        make_os_tree "$ROOT"
        mkdir -p "$ROOT/var/lib/dpuos-trim"
        printf '[Files]\nRemove=/usr/share/doc/**\n' | policy 50-files.conf
        # (No leak check under the sanitizers: LeakSanitizer does not work under ptrace.)
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o "$SCRATCH/statx.trace" -e trace=statx "$DPUOS_TRIM" --root="$ROOT" >/dev/null 2>&1 || true
        n_statx=$(grep -c 'statx(' "$SCRATCH/statx.trace" || true)
        expect "statx faults: a removal makes statx() calls to fail ($n_statx)" test "${n_statx:-0}" -gt 5
        bad=()
        for ((n = 1; n <= n_statx; n++)); do
                ROOT=$SCRATCH/statx-$n
                make_os_tree "$ROOT"
                mkdir -p "$ROOT/var/lib/dpuos-trim"
                printf '[Files]\nRemove=/usr/share/doc/**\n' | policy 50-files.conf
                tree_fp "$ROOT" var/lib/dpuos-trim/report.json usr/share/doc/bash usr/share/doc/coreutils >"$SCRATCH/statx.before"
                RC=0
                ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
                        strace -f -o /dev/null -e trace=statx -e inject=statx:error=EIO:when=$n \
                        "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
                if [[ $RC -eq 0 ]]; then
                        tree_fp "$ROOT" var/lib/dpuos-trim/report.json usr/share/doc/bash usr/share/doc/coreutils >"$SCRATCH/statx.after"
                        if [[ -e $ROOT/usr/share/doc/bash || -e $ROOT/usr/share/doc/coreutils ]] ||
                           ! cmp -s "$SCRATCH/statx.before" "$SCRATCH/statx.after"; then
                                bad+=("statx $n: exit 0, but the tree is not as planned")
                        fi
                elif [[ $RC -ne 1 ]] || ! grep -q "Input/output error" "$OUT" "$ERR"; then
                        bad+=("statx $n: exit $RC without the error named")
                fi
                rm -rf "$ROOT"
        done
        expect_eq "statx faults: each of the $n_statx fails the run with the error, or changes nothing the plan does not" \
                "" "${bad[*]}"
else
        missing "strace, to make statx() fail"
fi

# A full file system while files are removed: removing needs no room, so it goes on, and
# the bytes it says it freed are the bytes the file system got back.
ROOT=$SCRATCH/full-removal
mkdir -p "$ROOT"
mount_or_fail -t tmpfs -o size=8m tmpfs "$ROOT"
make_os_tree "$ROOT"
for i in $(seq 1 200); do head -c 8192 /dev/urandom >"$ROOT/usr/share/doc/bash/file$i"; done
printf '[Files]\nRemove=/usr/share/doc/**\nKeep=/usr/share/doc/*/copyright\n' | policy 50-files.conf
dd if=/dev/zero of="$ROOT/fill" bs=4k 2>/dev/null || true
used_before=$(df -B1 --output=used "$ROOT" | tail -n1)
run_trim
used_after=$(df -B1 --output=used "$ROOT" | tail -n1)
expect_eq "full file system, removal: exit 0" 0 "$RC"
expect "full file system, removal: the files are gone" test ! -e "$ROOT/usr/share/doc/bash/file1" -a ! -e "$ROOT/usr/share/doc/bash/README"
expect "full file system, removal: the kept files stay" test -f "$ROOT/usr/share/doc/bash/copyright"
freed=$(jq_report .totals.bytes_freed)
expect "full file system, removal: bytes freed ($freed) > 1.6 MB" test "${freed:-0}" -gt 1600000 2>/dev/null
# The state written after the removal (the report, the status, the manifest of the removed
# files) takes some of what was freed back.
state=$(du -sB1 "$ROOT/var/lib/dpuos-trim" | cut -f1)
expect "full file system, removal: bytes freed = what df got back ($((used_before - used_after)) + the state, $state)" \
        test "$((used_before - used_after))" -le "${freed:-0}" -a "$((used_before - used_after + state + 8192))" -ge "${freed:-0}"

# The same with the state directory on a full file system of its own: the files go, the
# report cannot be written, and the run says so.
ROOT=$SCRATCH/full-state
make_os_tree "$ROOT"
printf '[Files]\nRemove=/usr/share/doc/**\n' | policy 50-files.conf
mkdir -p "$ROOT/var/lib/dpuos-trim"
mount_full "$ROOT/var/lib/dpuos-trim"
DPUOS_TRIM_PROC_CMDLINE=quiet run_trim --firstboot
expect_eq "full state directory: exit 1" 1 "$RC"
expect "full state directory: stderr names report.json" grep -qF /var/lib/dpuos-trim/report.json "$ERR"
expect "full state directory: stderr gives the error" grep -q "No space left on device" "$ERR"
expect "full state directory: no stamp" test ! -e "$ROOT/etc/dpuos-trim/applied"

finish
