#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A failed action (docs/design.md, Failures and the exit status): exit status 1 and the
# report says which; with OnFailure=continue the rest is applied, with OnFailure=stop
# nothing after it is.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

# cups.service has a unit file of its own in /etc: a mask link cannot be written there.
setup() {
        ROOT=$SCRATCH/$1
        make_os_tree "$ROOT"
        cp "$ROOT/usr/lib/systemd/system/cups.service" "$ROOT/etc/systemd/system/cups.service"
        policy 50-dpu.conf <<EOF
[Policy]
OnFailure=$1
[Units]
Mask=cups.service bluetooth.service
[Sysctl]
vm.swappiness = 10
[Files]
Remove=/usr/share/doc/**
EOF
}

setup continue
run_trim --dry-run
expect_eq "a dry run of a plan that would fail exits 1" 1 "$RC"
run_trim
expect_eq "continue: exit status 1" 1 "$RC"
expect_eq "continue: the report lists the failure with its reason" \
        "failed /etc/systemd/system/cups.service is a unit file of its own, not a link; masking would need to delete it" \
        "$(jq_report '.actions[] | select(.target == "cups.service") | "\(.outcome) \(.reason)"')"
expect "continue: the unit file in /etc is left alone" test -f "$ROOT/etc/systemd/system/cups.service" -a ! -L "$ROOT/etc/systemd/system/cups.service"
expect "continue: the other unit is masked" test -L "$ROOT/etc/systemd/system/bluetooth.service"
expect "continue: sysctl.d is written" test -f "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
expect "continue: files are removed" test ! -e "$ROOT/usr/share/doc/bash/README"
expect_eq "continue: the totals count one failure" 1 "$(jq_report '.totals.failed')"
expect "continue: the summary names the failure" grep -q 'cups.service' "$OUT"

setup stop
before=$SCRATCH/before
tree_state "$ROOT" var/lib >"$before"
run_trim
expect_eq "stop: exit status 1" 1 "$RC"
expect_eq "stop: the failure is reported" failed \
        "$(jq_report '.actions[] | select(.target == "cups.service") | .outcome')"
expect_eq "stop: nothing after the failure is done" "" \
        "$(jq_report '.actions[] | select(.outcome == "done") | .target')"
expect_eq "stop: the actions not reached are reported as pending" \
        "/usr/share/doc/** bluetooth.service cups.path cups.socket vm.swappiness" \
        "$(jq_report '[.actions[] | select(.outcome == "pending") | .target] | sort | join(" ")')"
expect_tree_unchanged "stop: the tree is unchanged apart from the report" "$before" var/lib

finish
