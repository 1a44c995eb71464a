#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prometheus: with the node exporter's textfile directory in the tree, an application and
# --verify each rewrite dpuos-trim.prom there, keeping what the other wrote; promtool
# passes it; the values are the report's. TextfileDirectory= moves it; without the
# directory nothing is written.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq
need_tool promtool
need_root "--verify forks its metrics writer as root, and"

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
PROM=$ROOT/var/lib/prometheus/node-exporter/dpuos-trim.prom
policy 10-docs.conf <<'EOF'
[Policy]
Name=metrics "test"

[Files]
Remove=/usr/share/doc/**
EOF

# value METRIC{LABELS}: the sample's value in the file ("" when it has none).
value() { awk -v m="$1" '$1 == m { print $2 }' "$PROM"; }
promtool_ok() { promtool check metrics <"$PROM" >"$SCRATCH/promtool.out" 2>&1; }

run_trim
expect_eq "no textfile directory: exit 0" 0 "$RC"
expect "no textfile directory: no metrics file" test ! -e "$PROM"

mkdir -p "$ROOT/var/lib/prometheus/node-exporter" "$ROOT/usr/share/doc/again"
head -c 5000 /dev/urandom >"$ROOT/usr/share/doc/again/README"
run_trim
expect_eq "apply: exit 0" 0 "$RC"
expect "apply: dpuos-trim.prom is written" test -s "$PROM"
expect "promtool check metrics passes" promtool_ok
sed 's/^/    /' "$SCRATCH/promtool.out"
expect_eq "the status is done" 1 "$(value 'dpuos_trim_status{status="done"}')"
expect_eq "and not failed" 0 "$(value 'dpuos_trim_status{status="failed"}')"
expect_eq "files removed: the report's count of done file actions" \
        "$(jq_report '[.actions[] | select(.kind == "files" and .outcome == "done")] | length')" \
        "$(value 'dpuos_trim_actions{kind="files",outcome="done"}')"
expect_same "bytes freed: the report's" "$(jq_report .totals.bytes_freed)" "$(value 'dpuos_trim_freed_bytes{what="files"}')"
hash=$(sed -n 's/^POLICY_HASH=//p' "$ROOT/var/lib/dpuos-trim/status")
expect "the policy's name (quotes escaped) and hash" \
        grep -qxF "dpuos_trim_policy_info{name=\"metrics \\\"test\\\"\",hash=\"$hash\"} 1" "$PROM"
expect "no drift families before a --verify" test -z "$(value 'dpuos_trim_drift_items{what="drift"}')"

# --verify adds its families and keeps the application's.
mkdir -p "$ROOT/usr/share/doc/back"
echo again >"$ROOT/usr/share/doc/back/README"
run_trim --verify
expect_eq "verify with drift: exit 3" 3 "$RC"
expect "after --verify promtool still passes" promtool_ok
expect_eq "the drift is counted" 1 "$(value 'dpuos_trim_drift_items{what="drift"}')"
expect "the verify time is there" test -n "$(value dpuos_trim_verify_timestamp_seconds)"
expect_eq "the application's status stays" 1 "$(value 'dpuos_trim_status{status="done"}')"

# An application keeps the verify's families, and replaces its own.
run_trim
expect_eq "apply again: exit 0" 0 "$RC"
expect "promtool passes" promtool_ok
expect_eq "the verify's drift count stays until the next --verify" 1 "$(value 'dpuos_trim_drift_items{what="drift"}')"
expect_eq "one status family, not two" 2 "$(grep -c '^# [A-Z]* dpuos_trim_status ' "$PROM")"
run_trim --verify
expect_eq "verify, no drift: exit 0" 0 "$RC"
expect_eq "no drift now" 0 "$(value 'dpuos_trim_drift_items{what="drift"}')"

# Some actions fail: degraded, and the failures counted.
policy 40-sysctl.conf <<'EOF'
[Sysctl]
kernel.dmesg_restrict = 1
EOF
mkdir -p "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
run_trim
expect_eq "a failing action: exit 1" 1 "$RC"
expect_eq "degraded" 1 "$(value 'dpuos_trim_status{status="degraded"}')"
expect "the failed action is counted" [ "$(value 'dpuos_trim_actions{kind="sysctl",outcome="failed"}')" -ge 1 ]
rmdir "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
rm "$ROOT$POLICY_DIR/40-sysctl.conf"

# TextfileDirectory= moves it.
mkdir -p "$ROOT/srv/metrics"
policy 05-metrics.conf <<'EOF'
[Policy]
TextfileDirectory=/srv/metrics
EOF
run_trim
expect_eq "TextfileDirectory=: exit 0" 0 "$RC"
expect "TextfileDirectory=: written there" test -s "$ROOT/srv/metrics/dpuos-trim.prom"
printf '[Policy]\nTextfileDirectory=srv/metrics\n' >"$ROOT$POLICY_DIR/05-metrics.conf"
run_trim --check
expect_eq "a relative TextfileDirectory=: exit 2" 2 "$RC"

# The file in the way is not followed: a symlink there fails the run.
rm "$ROOT$POLICY_DIR/05-metrics.conf"
rm -f "$PROM"
ln -s /etc/passwd "$PROM"
run_trim
expect_eq "a symlink in place of dpuos-trim.prom: exit 1" 1 "$RC"
expect "it is named" grep -q 'dpuos-trim.prom' "$OUT"
expect "what it points to is untouched" grep -q '^root:' "$ROOT/etc/passwd"

finish
