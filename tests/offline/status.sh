#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --status: one word and an exit code for a health check or a fleet's inventory, from
# /var/lib/dpuos-trim/status: pending before any application, running while one runs,
# done, degraded when some actions failed, failed when the first boot's policy was invalid
# or the run was cut off; the policy's name and a hash that follows its content.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq
need_test_hooks

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 10-docs.conf <<'EOF'
[Policy]
Name=status-test

[Files]
Remove=/usr/share/doc/**
EOF

# status: runs --status [ARGS], the word in $WORD, its exit code in $RC.
status() {
        run_trim --status "$@"
        WORD=$(head -n1 "$OUT")
}
field() { sed -n "s/^$1=//p" "$ROOT/var/lib/dpuos-trim/status"; }

status
expect_eq "before any run: pending" pending "$WORD"
expect_eq "pending: exit 10" 10 "$RC"
expect "--status writes nothing" test ! -e "$ROOT/var/lib/dpuos-trim/status"

# A dry run, --check and --verify leave it as it is.
run_trim --dry-run
run_trim --check
status
expect_eq "after a dry run and --check: still pending" "pending 10" "$WORD $RC"

run_trim
expect_eq "apply: exit 0" 0 "$RC"
status
expect_eq "after a clean apply: done" done "$WORD"
expect_eq "done: exit 0" 0 "$RC"
expect_eq "the status file names the policy" status-test "$(field POLICY_NAME)"
hash1=$(field POLICY_HASH)
expect "the policy hash is fnv1a64: and 16 hex digits ($hash1)" grep -qE '^fnv1a64:[0-9a-f]{16}$' <<<"$hash1"
expect_eq "the status file says the run's exit status" 0 "$(field EXIT_STATUS)"
status --json
expect_eq "--status --json: the same word" done "$(jq -r .status "$OUT")"
expect_eq "--status --json: the exit code" 0 "$(jq -r .exit_code "$OUT")"
expect_eq "--status --json: the policy" "status-test $hash1" "$(jq -r '"\(.policy_name) \(.policy_hash)"' "$OUT")"
expect "--status --json: started and finished are times" jq -e '.finished >= .started and .started > 1600000000' "$OUT"

# The same policy gives the same hash; another content another one.
run_trim
expect_eq "a second apply: the same hash" "$hash1" "$(field POLICY_HASH)"
policy 10-docs.conf <<'EOF'
[Policy]
Name=status-test

[Files]
Remove=/usr/share/doc/** /usr/share/man/**
EOF
run_trim
hash2=$(field POLICY_HASH)
differs() { [ -n "$1" ] && [ "$1" != "$2" ]; }
expect "a changed policy: another hash ($hash2)" differs "$hash2" "$hash1"

# Some actions fail, the rest apply: degraded.
policy 40-sysctl.conf <<'EOF'
[Sysctl]
kernel.dmesg_restrict = 1
EOF
mkdir -p "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
run_trim
expect_eq "a persisted file that is a directory: exit 1" 1 "$RC"
status
expect_eq "some actions failed: degraded" degraded "$WORD"
expect_eq "degraded: exit 12" 12 "$RC"
expect "degraded: the failures are counted" [ "$(field FAILED)" -ge 1 ]
rmdir "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"

# A manual run with a bad policy changes nothing, the status file included.
cp "$ROOT/var/lib/dpuos-trim/status" "$SCRATCH/status.before"
printf '[Units]\nBogus=1\n' >"$ROOT$POLICY_DIR/99-bad.conf"
run_trim
expect_eq "a bad policy: exit 2" 2 "$RC"
expect "a bad policy, run by hand: the status file is as it was" cmp "$SCRATCH/status.before" "$ROOT/var/lib/dpuos-trim/status"

# The first boot with a bad policy: failed.
RC=0
DPUOS_TRIM_PROC_CMDLINE=quiet "$DPUOS_TRIM" --root="$ROOT" --firstboot >"$OUT" 2>"$ERR" || RC=$?
expect_eq "the first boot with a bad policy: exit 2" 2 "$RC"
status
expect_eq "the first boot's policy is invalid: failed" failed "$WORD"
expect_eq "failed: exit 13" 13 "$RC"
expect_eq "failed: the exit status of the run" 2 "$(field EXIT_STATUS)"
rm "$ROOT$POLICY_DIR/99-bad.conf"

# While a run holds between plan and apply: running, with its pid.
if pause_start; then
        status
        expect_eq "during a run: running" running "$WORD"
        expect_eq "running: exit 11" 11 "$RC"
        status --json
        expect_eq "running: --json gives the run's pid" "$PAUSE_PID" "$(jq -r .pid "$OUT")"
        pause_release
        expect_eq "the paused run ends: exit 0" 0 "$RC"
else
        fail "the run did not reach its pause point (exit $RC)"
fi
status
expect_eq "after it: done" "done 0" "$WORD $RC"

# A run killed in the middle: its status says running, and nothing runs.
mkdir -p "$ROOT/usr/share/doc/more"
for i in 1 2 3 4 5; do echo "$i" >"$ROOT/usr/share/doc/more/f$i"; done
RC=0
DPUOS_TRIM_TEST_KILL_AT=2 "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "the killed run ended by SIGKILL" 137 "$RC"
expect_eq "its status file still says running" running "$(field STATUS)"
status
expect_eq "a run cut off: failed" failed "$WORD"
expect_eq "cut off: exit 13" 13 "$RC"
status --json
expect_eq "cut off: --json says interrupted" true "$(jq -r .interrupted "$OUT")"
run_trim
status
expect_eq "the next run converges: done" "done 0" "$WORD $RC"

# A tree trimmed before the status file existed: the stamp says done.
rm "$ROOT/var/lib/dpuos-trim/status"
mkdir -p "$ROOT/etc/dpuos-trim"
: >"$ROOT/etc/dpuos-trim/applied"
status
expect_eq "only the first-boot stamp: done" "done 0" "$WORD $RC"

# Usage.
run_trim --status --policy="$ROOT$POLICY_DIR"
expect_eq "--status takes no policy: exit 2" 2 "$RC"
run_trim --status --verify
expect_eq "--status and --verify: exit 2" 2 "$RC"

finish
