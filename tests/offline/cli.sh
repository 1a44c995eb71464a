#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The command line (dpuos-trim(8)): --help and --version, exit status 2 for usage errors with
# nothing changed, --check, -q and --json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 50-dpu.conf <<'EOF'
[Policy]
Name=cli
[Units]
Mask=cups.service
[Files]
Remove=/usr/share/doc/**
EOF

rc=0
"$DPUOS_TRIM" --help >"$OUT" 2>"$ERR" || rc=$?
expect_eq "--help exits 0" 0 "$rc"
expect "--help prints the usage" grep -q '^Usage: dpuos-trim' "$OUT"
for opt in --dry-run --check --root= --policy= --only= --json --verbose --quiet --version; do
        expect "--help mentions $opt" grep -qe "$opt" "$OUT"
done
rc=0
"$DPUOS_TRIM" -h >/dev/null 2>&1 || rc=$?
expect_eq "-h exits 0" 0 "$rc"
rc=0
version=$("$DPUOS_TRIM" --version 2>&1) || rc=$?
expect_eq "--version exits 0" 0 "$rc"
expect "--version prints the name and a version" grep -qE '^dpuos-trim [0-9]' <<<"$version"

# Usage errors: exit 2, a message, and nothing changed.
before=$SCRATCH/before
tree_state "$ROOT" >"$before"
usage_error() {
        local what=$1
        shift
        rc=0
        "$DPUOS_TRIM" "$@" >"$OUT" 2>"$ERR" || rc=$?
        expect_eq "$what: exits 2" 2 "$rc"
        expect "$what: says why on stderr" test -s "$ERR"
}
usage_error "an unknown option" --root="$ROOT" --bogus
usage_error "an unexpected argument" --root="$ROOT" extra
usage_error "--only with an unknown kind" --root="$ROOT" --only=units,bogus
usage_error "--only with nothing" --root="$ROOT" --only=,
usage_error "--dry-run with --check" --root="$ROOT" --dry-run --check
usage_error "--root without a value" --root=
usage_error "--root that does not exist" --root="$SCRATCH/missing"
usage_error "--root that is a file" --root="$ROOT/etc/passwd"
usage_error "--policy without a value" --root="$ROOT" --policy=
usage_error "--policy that does not exist" --root="$ROOT" --policy="$SCRATCH/missing.conf"
usage_error "--root missing its argument" --root
expect_tree_unchanged "usage errors change nothing" "$before"

# --check: valid policy, nothing changed.
run_trim --check
expect_eq "--check on a valid policy exits 0" 0 "$RC"
expect "--check says the policy is valid" grep -q 'valid' "$OUT"
run_trim --check -q
expect_eq "--check -q exits 0" 0 "$RC"
expect_eq "--check -q prints nothing" "" "$(cat "$OUT")"
expect_tree_unchanged "--check changes nothing" "$before"

# -q: an apply prints nothing but errors.
run_trim -q
expect_eq "apply -q exits 0" 0 "$RC"
expect_eq "apply -q prints nothing" "" "$(cat "$OUT" "$ERR")"
expect "apply -q still applies" test -L "$ROOT/etc/systemd/system/cups.service"

# --json: the report on stdout is the one written to report.json.
run_trim --json
expect_eq "apply --json exits 0" 0 "$RC"
expect_same "apply --json prints the report" \
        "$(jq -c 'del(.started, .duration, .kinds[].seconds)' "$(report)")" \
        "$(jq -c 'del(.started, .duration, .kinds[].seconds)' "$OUT")"

finish
