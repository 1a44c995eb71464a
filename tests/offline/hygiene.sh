#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No silent no-ops, and what the agent creates is readable: directories it makes are 0755
# whatever the umask; /etc/dpuos-trim/policy.d being a file is an error, not an empty
# policy; a relative symlink to /dev/null disables a drop-in as an absolute one does;
# Remove= where the first-boot service's sandbox cannot reach is refused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/umask
make_os_tree "$ROOT"
printf '[Modules]\nBlacklist=floppy\n[Sysctl]\nvm.swappiness = 10\n[Sysfs]\n/sys/kernel/mm/transparent_hugepage/enabled = never\n' |
        policy 50-dpu.conf
(umask 077 && "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR") || fail "the run under umask 077 failed: $(cat "$ERR")"
for d in etc/modprobe.d etc/sysctl.d etc/tmpfiles.d var/lib/dpuos-trim; do
        expect_eq "under umask 077, /$d is made 0755" 755 "$(stat -c %a "$ROOT/$d" 2>&1)"
done
expect_eq "under umask 077, sysctl.d's file is 0644" 644 "$(stat -c %a "$ROOT/etc/sysctl.d/90-dpuos-trim.conf" 2>&1)"

ROOT=$SCRATCH/notdir
make_os_tree "$ROOT"
mkdir -p "$ROOT/etc/dpuos-trim"
printf '[Units]\nMask=cups.service\n' >"$ROOT/etc/dpuos-trim/policy.d"
fp_begin
run_trim
expect_eq "policy.d that is a file: exit 2" 2 "$RC"
expect "policy.d that is a file: the error says so" grep -q "/etc/dpuos-trim/policy.d: not a directory" "$ERR"
fp_check "policy.d that is a file: nothing changed"

ROOT=$SCRATCH/relative
make_os_tree "$ROOT"
policy 50-vendor.conf /usr/lib/dpuos-trim/policy.d <<'EOF'
[Units]
Mask=cups.service
EOF
mkdir -p "$ROOT/etc/dpuos-trim/policy.d"
ln -s ../../../dev/null "$ROOT/etc/dpuos-trim/policy.d/50-vendor.conf"
run_trim --dry-run --json
expect_eq "a relative link to /dev/null disables the drop-in: no source read" "" \
        "$(jq -r '.policy.sources | join(" ")' "$OUT")"
expect_eq "a relative link to /dev/null disables the drop-in: nothing planned" 0 \
        "$(jq '[.actions[] | select(.kind == "units")] | length' "$OUT")"

for pattern in '/tmp/cache/**' '/var/tmp/cache' '/home/*/.cache/**' '/root/.cache/**'; do
        ROOT=$SCRATCH/sandbox
        rm -rf "$ROOT" && make_os_tree "$ROOT"
        printf '[Files]\nRemove=%s\n' "$pattern" | policy 50-files.conf
        run_trim --check
        expect_eq "Remove=$pattern: refused (exit 2)" 2 "$RC"
        expect "Remove=$pattern: the error says why" grep -q "lies where the first-boot service cannot reach" "$ERR"
done

# Output hygiene: control bytes never reach the terminal raw, and in JSON a byte that is
# no UTF-8 cannot be mistaken for the text "\xff".
ROOT=$SCRATCH/names
make_os_tree "$ROOT"
mkdir -p "$ROOT/usr/share/doc/odd"
raw=$'esc\e[2Jraw\xff'
text='text\xff'
printf 'a\n' >"$ROOT/usr/share/doc/odd/$raw"
printf 'b\n' >"$ROOT/usr/share/doc/odd/$text"
printf '[Files]\nRemove=/usr/share/doc/odd/%s\nRemove=/usr/share/doc/odd/%s\n' "$raw" "$text" | policy 50-files.conf
run_trim --dry-run
expect "the table has no raw escape byte" test -z "$(grep -a $'\e' "$OUT")"
expect "the table shows the escape as \\x1b" grep -qF 'esc\x1b[2Jraw\xff' "$OUT"
run_trim --dry-run --json
expect_eq "JSON: a byte that is no UTF-8 is U+DCFF" 'esc\u001b[2Jraw\udcff' \
        "$(grep -o 'esc[^"]*raw[^"]*' "$OUT" | head -n1)"
expect_eq "JSON: the text \\xff stays text" 'text\\xff' "$(grep -o '"/usr/share/doc/odd/text[^"]*"' "$OUT" | head -n1 | sed 's|.*/||; s|"$||')"
ROOT=$SCRATCH/name
make_os_tree "$ROOT"
printf '[Policy]\nName=\033[2Jdpu\n' | policy 50-name.conf
run_trim --check
expect_eq "Name= with a control character: refused (exit 2)" 2 "$RC"
expect "Name= with a control character: the error says why" grep -q 'Name=: must be printable text' "$ERR"

finish
