#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --dry-run and --check cannot write: before they read the policy or the tree they become
# the user nobody with no capability but CAP_DAC_READ_SEARCH (to read everything) and with
# no_new_privs. The test holds each run where it is reading (the dry run at its pause point
# between plan and apply, --check after reading the policy), reads the process's
# credentials from /proc/PID/status, checks that it has no descriptor open for writing into
# the tree, and shows with setpriv that a process with exactly those credentials cannot
# change the tree, though root can (the tree is on a writable tmpfs). Afterwards the tree
# is byte-identical.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_test_hooks
need_root "dropping to nobody and mounting a tmpfs"
need_tool jq

TMPFS=$SCRATCH/tmpfs
mkdir -p "$TMPFS"
if ! mount -t tmpfs -o mode=0755,size=64m dpuos-trim-test "$TMPFS" 2>"$SCRATCH/mount.err"; then
        skip "cannot mount a tmpfs here: $(cat "$SCRATCH/mount.err")"
fi
MOUNTS+=("$TMPFS")

ROOT=$TMPFS/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim" "$ROOT/etc/modprobe.d" "$ROOT/etc/sysctl.d"
chmod 000 "$ROOT/etc/shadow"
# A directory only root may enter, inside the pattern: the reader must still count it.
mkdir -p "$ROOT/usr/share/doc/secret"
head -c 10000 /dev/urandom >"$ROOT/usr/share/doc/secret/data"
chmod 700 "$ROOT/usr/share/doc/secret"
chmod 600 "$ROOT/usr/share/doc/secret/data"
policy 50-all.conf <<'EOF'
[Units]
Mask=cups.service avahi-daemon.service
[Modules]
Blacklist=floppy pcspkr
[Sysctl]
vm.swappiness = 10
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
[Files]
Remove=/usr/share/doc/** /usr/share/man/**
EOF

nobody_uid=$(id -u nobody 2>/dev/null || echo 65534)
nobody_gid=$(id -g nobody 2>/dev/null || echo 65534)

# Root can write this tree.
expect "root can write the tree (tmpfs, mode 0755)" sh -c "touch '$ROOT/usr/share/doc/.probe' && rm '$ROOT/usr/share/doc/.probe'"

# check_creds PID WHAT: the credentials a reader must have, from /proc/PID/status.
check_creds() {
        local pid=$1 what=$2 status key value
        status=$(cat "/proc/$pid/status")
        field() {
                awk -v k="$1:" '$1 == k { $1 = ""; sub(/^[ \t]+/, ""); print }' <<<"$status"
        }
        echo "# $what: $(field Uid | tr '\t' ' ') / $(field Gid | tr '\t' ' ') / groups '$(field Groups)'" \
                "/ CapInh $(field CapInh) CapPrm $(field CapPrm) CapEff $(field CapEff)" \
                "CapBnd $(field CapBnd) CapAmb $(field CapAmb) / NoNewPrivs $(field NoNewPrivs)"
        expect_eq "$what: runs as nobody (real, effective, saved and fs uid)" \
                "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" "$(field Uid | tr -s '\t ' ' ')"
        expect "$what: the uid is not 0" test "$(field Uid | awk '{ print $2 }')" -ne 0
        expect_eq "$what: with nobody's group (real, effective, saved and fs gid)" \
                "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" "$(field Gid | tr -s '\t ' ' ')"
        expect_eq "$what: and no supplementary groups" "" "$(field Groups)"
        for key in CapEff CapPrm CapBnd CapInh CapAmb; do
                value=$(field "$key")
                # Bit 2 is CAP_DAC_READ_SEARCH; no other bit may be set.
                expect "$what: $key=$value holds no capability but CAP_DAC_READ_SEARCH" \
                        test $((16#$value & ~4)) -eq 0
        done
        expect_eq "$what: keeps CAP_DAC_READ_SEARCH to read the tree" 0000000000000004 "$(field CapEff)"
        expect_eq "$what: NoNewPrivs is set" 1 "$(field NoNewPrivs)"
        # No descriptor open for writing into the tree (readable where the test may
        # inspect another user's descriptors).
        local fd target flags writable=() into_tree=0
        if ls "/proc/$pid/fd/" >/dev/null 2>&1; then
                for fd in /proc/"$pid"/fd/*; do
                        target=$(readlink "$fd" 2>/dev/null) || continue
                        [[ $target == "$ROOT" || $target == "$ROOT/"* ]] || continue
                        into_tree=$((into_tree + 1))
                        flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$pid/fdinfo/${fd##*/}")
                        (((8#$flags & 3) != 0)) && writable+=("$target")
                done
                # It holds the tree's root open: seeing none means the descriptors were not
                # seen at all, and "none open for writing" would prove nothing.
                expect "$what: its descriptors into the tree are seen ($into_tree)" test "$into_tree" -gt 0
                expect_eq "$what: no descriptor into the tree is open for writing" "" "${writable[*]}"
        else
                missing "/proc/$pid/fd is not readable here: the open descriptors of $what"
        fi
}

# as_reader CMD...: runs CMD with the credentials a reader has: nobody, no groups, only
# CAP_DAC_READ_SEARCH (effective through the ambient set), no_new_privs.
as_reader() {
        setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
                --inh-caps=-all,+dac_read_search --ambient-caps=-all,+dac_read_search \
                --bounding-set=-all,+dac_read_search --no-new-privs -- "$@"
}

# try_writes WHAT: as such a reader, every way of changing the tree fails.
try_writes() {
        local what=$1
        if ! command -v setpriv >/dev/null; then
                missing "setpriv is not installed: the write attempts with the reader's credentials ($what)"
                return
        fi
        expect_eq "$what: a process with the reader's credentials has just CAP_DAC_READ_SEARCH" \
                "0000000000000004 1" "$(as_reader awk '$1 == "CapEff:" { c = $2 } $1 == "NoNewPrivs:" { n = $2 } END { print c, n }' /proc/self/status)"
        expect "$what: it can read a file of mode 000 (/etc/shadow)" as_reader sh -c 'cat "$1" >/dev/null' _ "$ROOT/etc/shadow"
        expect "$what: and list a directory of mode 700" as_reader sh -c 'ls "$1" >/dev/null' _ "$ROOT/usr/share/doc/secret"
        local attempts=(
                "touch '$ROOT/usr/share/doc/new-file'"
                "rm -f '$ROOT/usr/share/doc/bash/README'"
                "rm -rf '$ROOT/usr/share/doc/secret'"
                "echo x >>'$ROOT/etc/passwd'"
                "mkdir '$ROOT/etc/new-dir'"
                "ln -s /dev/null '$ROOT/etc/systemd/system/cups.service'"
                "echo 'blacklist floppy' >'$ROOT/etc/modprobe.d/dpuos-trim.conf'"
                "mv '$ROOT/usr/share/man' '$ROOT/usr/share/man.moved'"
                "chmod 777 '$ROOT/etc/passwd'"
                "touch -d 2000-01-01 '$ROOT/etc/fstab'"
                "echo x >'$ROOT/var/lib/dpuos-trim/report.json'"
        )
        local a
        for a in "${attempts[@]}"; do
                expect "$what: as the reader, this fails: ${a//"$ROOT"/ROOT}" \
                        sh -c "! setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups --inh-caps=-all,+dac_read_search --ambient-caps=-all,+dac_read_search --bounding-set=-all,+dac_read_search --no-new-privs -- sh -c \"\$1\" 2>/dev/null" _ "$a"
        done
}

fp_begin
want_secret=$(($(stat -c %b "$ROOT/usr/share/doc/secret/data") * 512 + $(stat -c %b "$ROOT/usr/share/doc/secret") * 512))

# The dry run, held between plan and apply.
if pause_start --dry-run --json; then
        check_creds "$PAUSE_PID" "--dry-run"
        try_writes "--dry-run"
        pause_release
        expect_eq "--dry-run exits 0" 0 "$RC"
        [[ $RC -eq 0 ]] || tail -n 20 "$ERR" | sed "s/^/    /"
        expect "--dry-run printed a plan that would change things (so it had something to write)" \
                test "$(jq '[.actions[] | select(.state == "change")] | length' "$OUT")" -ge 5
        expect_eq "--dry-run read the mode-700 directory (its files count in the plan)" 1 \
                "$(jq --argjson b "$want_secret" '[.actions[] | select(.target == "/usr/share/doc/**" and .bytes >= $b)] | length' "$OUT")"
else
        fail "--dry-run reaches its pause point"
fi
fp_check "--dry-run"
expect "--dry-run wrote no report" test ! -e "$(report)"

# --check, held after it read the policy (the pause point of --check).
fp_begin
if pause_start --check; then
        check_creds "$PAUSE_PID" "--check"
        try_writes "--check"
        pause_release
        expect_eq "--check exits 0" 0 "$RC"
else
        fail "--check reaches its pause point"
        tail -n 20 "$ERR" | sed "s/^/    /"
fi
# A FIFO where a policy file is expected is refused at once, not read (which would hang).
fifo=$ROOT$POLICY_DIR/60-fifo.conf
mkfifo "$fifo"
RC=0
timeout 20 "$DPUOS_TRIM" --root="$ROOT" --check >"$OUT" 2>"$ERR" || RC=$?
expect_eq "--check refuses a FIFO for a policy file (exit 2)" 2 "$RC"
expect "--check says the FIFO is not a regular file" grep -q "60-fifo.conf: cannot read policy: not a regular file" "$ERR"
rm -f "$fifo"
fp_check "--check"
rm -f "$fifo"

finish
