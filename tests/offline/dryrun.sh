#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --dry-run changes nothing, and its plan is exactly what the following apply does: the
# actions --dry-run --json lists as "change" are the ones report.json lists as "done".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
# Some of the work is done already, so the plan mixes changes with unchanged actions.
ln -s /dev/null "$ROOT/etc/systemd/system/bluetooth.service"
mkdir -p "$ROOT/usr/share/doc/pkg"
printf 'x\n' >"$ROOT/usr/share/doc/pkg/a"
ln "$ROOT/usr/share/doc/pkg/a" "$ROOT/usr/share/doc/pkg/b"
policy 50-dpu.conf <<'EOF'
[Policy]
Name=dry
[Units]
Mask=cups.service avahi-daemon.* bluetooth.service not-installed.service
[Modules]
Blacklist=floppy snd_* ext4
Keep=snd_timer
[Sysctl]
vm.swappiness = 10
-kernel.sysrq = 0
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
[Files]
Remove=/usr/share/doc/** /usr/share/locale/** /usr/lib/x86_64-linux-gnu/** /usr/share/nothing-here/**
Keep=/usr/share/locale/en_US/**
EOF

before=$SCRATCH/before
tree_state "$ROOT" >"$before"

run_trim --dry-run
expect_eq "--dry-run exits 0" 0 "$RC"
cp "$OUT" "$SCRATCH/plan.txt"
expect "--dry-run prints the plan" grep -q 'cups.service' "$OUT"
expect_tree_unchanged "--dry-run changes nothing (not even the report)" "$before"

run_trim --dry-run --json
expect_eq "--dry-run --json exits 0" 0 "$RC"
plan=$SCRATCH/plan.json
cp "$OUT" "$plan"
is_json_object() {
        jq -e 'type == "object"' "$1" >/dev/null
}
expect "--dry-run --json prints one JSON document" is_json_object "$plan"
expect_eq "the plan says it is a dry run" dry-run "$(jq -r .mode "$plan")"
expect_tree_unchanged "--dry-run --json changes nothing" "$before"
expect_eq "no action of a dry run is done" "" \
        "$(jq -r '.actions[] | select(.outcome == "done") | .target' "$plan")"

planned=$(jq -r '.actions[] | select(.state == "change") | "\(.kind) \(.action) \(.target)"' "$plan" | sort)
expect "the plan has changes of every kind" \
        test "$(cut -d' ' -f1 <<<"$planned" | sort -u | xargs)" = "files modules sysctl sysfs units"

run_trim
expect_eq "apply exits 0" 0 "$RC"
done_=$(jq_report '.actions[] | select(.outcome == "done") | "\(.kind) \(.action) \(.target)"' | sort)
expect_eq "apply did exactly the changes the dry run planned" "$planned" "$done_"
expect_same "the plan's unchanged actions stay unchanged" \
        "$(jq -r '.actions[] | select(.state == "unchanged") | "\(.kind) \(.target)"' "$plan" | sort)" \
        "$(jq_report '.actions[] | select(.outcome == "unchanged") | "\(.kind) \(.target)"' | sort)"
expect_same "the plan's totals are the sum of its actions (bytes, files, directories)" \
        "$(jq -r '[.actions[] | select(.kind == "files" and .state == "change")] | "\(map(.bytes) | add) \(map(.files) | add) \(map(.dirs) | add)"' "$plan")" \
        "$(jq -r '.totals | "\(.bytes_freed) \(.files_removed) \(.dirs_removed)"' "$plan")"
expect_same "the plan's totals are what the summary says it would free" \
        "$(jq -r '.totals | "\(.files_removed) files, \(.dirs_removed) directories"' "$plan")" \
        "$(sed -n 's/^  files .*; \([0-9]* files, [0-9]* directories\),.*/\1/p' "$SCRATCH/plan.txt")"
expect_same "the bytes the plan expects to free are the bytes freed" \
        "$(jq -r '[.actions[] | select(.kind == "files" and .state == "change") | .bytes] | add' "$plan")" \
        "$(jq_report '.totals.bytes_freed')"

# After the apply, a dry run has nothing left to change (and it did make a plan: an empty
# or missing one would have nothing to change either).
run_trim --dry-run --json
expect_eq "the dry run after the apply exits 0" 0 "$RC"
expect "the dry run after the apply plans the policy's actions" \
        test "$(jq '.actions | length' "$OUT")" -gt 0
expect_eq "a dry run after the apply plans no change" "" \
        "$(jq -r '.actions[] | select(.state == "change") | .target' "$OUT")"

# Overlapping patterns: a file two patterns cover is still one file, and a file with a hard
# link outside every pattern frees nothing. The plan must promise what the apply then does.
ROOT=$SCRATCH/overlap
make_os_tree "$ROOT"
mkdir -p "$ROOT/usr/share/other"
head -c 40000 /dev/urandom >"$ROOT/usr/share/doc/bash/NEWS"
ln "$ROOT/usr/share/doc/bash/NEWS" "$ROOT/usr/share/other/NEWS"
policy 50-overlap.conf <<'EOF'
[Files]
Remove=/usr/share/doc/bash/** /usr/share/doc/**
EOF
run_trim --dry-run --json
expect_eq "overlapping patterns: the dry run exits 0" 0 "$RC"
cp "$OUT" "$plan"
run_trim
expect_eq "overlapping patterns: apply exits 0" 0 "$RC"
expect_same "overlapping patterns: the files the plan counts are the files removed" \
        "$(jq -r '[.actions[] | select(.kind == "files") | .files] | add' "$plan")" \
        "$(jq_report '.totals.files_removed')"
expect_same "overlapping patterns: the bytes the plan expects to free are the bytes freed" \
        "$(jq -r '[.actions[] | select(.kind == "files") | .bytes] | add' "$plan")" \
        "$(jq_report '.totals.bytes_freed')"
expect "overlapping patterns: the link outside the patterns keeps the data" \
        test "$(stat -c %s "$ROOT/usr/share/other/NEWS")" -eq 40000

finish
