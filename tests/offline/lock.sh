#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One run at a time on a tree (dpuos-trim(8), EXIT STATUS): while one application holds the
# lock, a second exits 4 at once, says so and changes nothing; the modes that only look
# still run. Once the first has finished, the next run takes the lock.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_test_hooks
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 50-dpu.conf <<'EOF'
[Units]
Mask=cups.service
[Sysctl]
vm.swappiness = 10
[Files]
Remove=/usr/share/doc/**
EOF

pause_start || fail "the first run reached its pause point"
expect "the first run holds, between plan and apply" pid_alive "$PAUSE_PID"
fp_begin
RC2=0
"$DPUOS_TRIM" --root="$ROOT" >"$SCRATCH/second.out" 2>"$SCRATCH/second.err" || RC2=$?
expect_eq "a second application meanwhile exits 4" 4 "$RC2"
expect "it says another run holds the lock" grep -q "Another dpuos-trim run holds the lock on $ROOT" "$SCRATCH/second.err"
RC2=0
"$DPUOS_TRIM" --root="$ROOT" --revert >/dev/null 2>"$SCRATCH/revert.err" || RC2=$?
expect_eq "so does --revert" 4 "$RC2"
RC2=0
DPUOS_TRIM_PROC_CMDLINE=quiet "$DPUOS_TRIM" --root="$ROOT" --firstboot >/dev/null 2>&1 || RC2=$?
expect_eq "so does --firstboot" 4 "$RC2"
fp_check "the second runs changed nothing"
RC2=0
"$DPUOS_TRIM" --root="$ROOT" --dry-run >/dev/null 2>&1 || RC2=$?
expect_eq "a dry run meanwhile runs (exit 0)" 0 "$RC2"
RC2=0
"$DPUOS_TRIM" --root="$ROOT" --verify >/dev/null 2>&1 || RC2=$?
expect_eq "--verify meanwhile runs (drift: exit 3)" 3 "$RC2"
pause_release
expect_eq "the first run then finishes (exit 0)" 0 "$RC"
expect "and did its work" test -L "$ROOT/etc/systemd/system/cups.service"
run_trim
expect_eq "the next run takes the lock (exit 0)" 0 "$RC"
expect_eq "and finds everything done" 0 "$(jq_report .totals.done)"

finish
