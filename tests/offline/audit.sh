#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The audit: --dry-run -v and --json name every path a file pattern would remove, with
# kept and protected matches marked; the application then removes exactly that set, with
# the same bytes, and appends a manifest of it (/var/lib/dpuos-trim/removed/TIME.list:
# path, bytes, the owning package where dpkg's file lists say) that lists exactly the
# files that went.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/usr/share/doc/tool/examples/deep" "$ROOT/var/lib/dpkg/info"
head -c 20000 /dev/urandom >"$ROOT/usr/share/doc/tool/examples/deep/big.bin"
printf 'x\n' >"$ROOT/usr/share/doc/tool/examples/small.txt"
printf 'name with\ttab\n' >"$ROOT/usr/share/doc/tool/odd	name"
printf 'GPL\n' >"$ROOT/usr/share/doc/tool/copyright"
# dpkg's file lists: bash owns its documentation, "tool" its examples.
printf '/usr/share/doc/bash\n/usr/share/doc/bash/README\n/usr/share/doc/bash/copyright\n' >"$ROOT/var/lib/dpkg/info/bash.list"
printf '/usr/share/doc/tool/examples/small.txt\n/usr/share/doc/tool/examples/deep/big.bin\n' >"$ROOT/var/lib/dpkg/info/tool:amd64.list"
policy 10-docs.conf <<'EOF'
[Files]
Remove=/usr/share/doc/** /usr/share/man/**
Keep=/usr/share/doc/**/copyright
# the C library is protected, whatever a pattern says
Remove=/usr/lib/x86_64-linux-gnu/libc.so.*
EOF

find "$ROOT" \( -type f -o -type d \) -printf '%P\n' | sort >"$SCRATCH/before"

run_trim --dry-run --json
expect_eq "dry run --json: exit 0" 0 "$RC"
jq -r '.actions[] | select(.kind == "files" and .action == "remove") | .paths[]? | select(.mark == null) |
        .path + (if .dir then "/" else "" end)' "$OUT" | sort >"$SCRATCH/planned"
jq -r '[.actions[] | select(.kind == "files") | .paths[]? | select(.mark == null) | .bytes] | add // 0' "$OUT" >"$SCRATCH/planned.bytes"
expect "the plan lists the paths it would remove ($(wc -l <"$SCRATCH/planned"))" [ "$(wc -l <"$SCRATCH/planned")" -ge 8 ]
expect_eq "the listed bytes add up to the plan's total" "$(jq .totals.bytes_freed "$OUT")" "$(cat "$SCRATCH/planned.bytes")"
expect "a kept match is marked kept" \
        jq -e '[.actions[].paths[]? | select(.mark == "kept" and .path == "/usr/share/doc/tool/copyright")] | length == 1' "$OUT"
expect "a protected match is marked protected" \
        jq -e '[.actions[].paths[]? | select(.mark == "protected" and .path == "/usr/lib/x86_64-linux-gnu/libc.so.6")] | length == 1' "$OUT"
expect "an odd name is listed as it is" grep -qxF '/usr/share/doc/tool/odd	name' "$SCRATCH/planned"

run_trim --dry-run -v
expect "dry run -v: each path under its pattern" grep -qE '^ +[0-9.]+ KiB  /usr/share/doc/tool/examples/deep/big\.bin$' "$OUT"
expect "dry run -v: directories end in /" grep -qE '  /usr/share/doc/tool/examples/deep/$' "$OUT"
expect "dry run -v: the kept one marked" grep -qE '^ +kept  /usr/share/doc/tool/copyright$' "$OUT"
expect "dry run -v: the protected one marked" grep -qE '^ +protected  /usr/lib/x86_64-linux-gnu/libc\.so\.6$' "$OUT"
run_trim --dry-run
expect "dry run without -v: no path lines" test -z "$(grep -E '^    ' "$OUT" || true)"
expect "a dry run writes no manifest" test ! -e "$ROOT/var/lib/dpuos-trim/removed"

run_trim --json
expect_eq "apply: exit 0" 0 "$RC"
jq -r '.actions[] | select(.kind == "files" and .action == "remove") | .paths[]? | .path + (if .dir then "/" else "" end)' "$OUT" |
        sort >"$SCRATCH/removed"
expect_same "the application removed exactly the planned paths" "$(cat "$SCRATCH/planned")" "$(cat "$SCRATCH/removed")"
expect_eq "with the same bytes" "$(cat "$SCRATCH/planned.bytes")" \
        "$(jq '[.actions[] | select(.kind == "files") | .paths[]? | .bytes] | add // 0' "$OUT")"

find "$ROOT" \( -type f -o -type d \) -printf '%P\n' | sort >"$SCRATCH/after"
comm -23 "$SCRATCH/before" "$SCRATCH/after" | sed 's|^|/|' | sort >"$SCRATCH/gone"
manifests=("$ROOT"/var/lib/dpuos-trim/removed/*.list)
expect_eq "one manifest" 1 "${#manifests[@]}"
m=${manifests[0]}
grep -v '^#' "$m" | cut -f1 | sed 's|/$||; s|\\x09|\t|g' | sort >"$SCRATCH/manifest.paths"
expect_same "the manifest lists exactly what is gone from the tree" "$(cat "$SCRATCH/gone")" "$(cat "$SCRATCH/manifest.paths")"
expect "the manifest names the owner from dpkg's file list" \
        grep -qxF "$(printf '/usr/share/doc/tool/examples/deep/big.bin\t20480\ttool')" "$m"
expect "a file no package lists has '-'" grep -qE $'^/usr/share/doc/tool/examples/\t[0-9]+\t-$|^/usr/share/doc/tool/examples/\t' "$m"
expect "the tab in a name is escaped, so a line stays three fields" grep -qF '/usr/share/doc/tool/odd\x09name	' "$m"
expect_eq "the manifest's bytes add up to what was freed" "$(jq .totals.bytes_freed "$OUT")" \
        "$(grep -v '^#' "$m" | awk -F'\t' '{ s += $2 } END { print s + 0 }')"

run_trim
expect_eq "a second apply: exit 0" 0 "$RC"
manifests=("$ROOT"/var/lib/dpuos-trim/removed/*.list)
expect_eq "nothing removed, no new manifest" 1 "${#manifests[@]}"

finish
