#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attack case 6: file names with newlines, spaces, tabs, control characters, leading dashes,
# glob and shell characters and invalid UTF-8. Inside a pattern they are removed; next to
# it, names that differ from a matched one by one such character (a newline, a trailing
# space) survive; and the plan and report.json stay valid JSON (and valid UTF-8) with such
# names in them (a protected file, an entry that cannot be removed).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "an attack fixture with root-owned files"
need_tool jq

odd_names=(
        $'new\nline' $'\nleading-newline' $'trailing-newline\n' 'with space' ' leading-space'
        'trailing-space ' $'tab\there' $'cr\rhere' $'ctrl\x01\x1f\x7f' '-rf' '--' '-' '--help'
        '-v --root=x' $'\xff\xfe' $'bad\xc3\x28utf8' $'surrogate\xed\xa0\x80' $'too-big\xf4\x90\x80\x80'
        'ünïcödé ✓' '*' '?' '[a]' '\' '\\n' '\x41' '"quote' "'single" '$(touch pwned)' '`id`'
        '..a' '.hidden' '...' 'a%sb%n%x' '%' ';rm -rf ~;'
        "$(printf 'L%.0s' {1..254})"
)

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim"
doc=$ROOT/usr/share/doc

# Inside Remove=/usr/share/doc/weird: a directory full of odd names, and directories with
# odd names full of odd names.
mkdir -p "$doc/weird"
i=0
for n in "${odd_names[@]}"; do
        printf 'file %d\n' $i >"$doc/weird/$n"
        i=$((i + 1))
done
for n in $'dir\nwith newline' $'\xff' '--dir' ' ' $'\t'; do
        mkdir -p "$doc/weird/$n/$n"
        for m in "${odd_names[@]:0:12}"; do
                printf 'nested\n' >"$doc/weird/$n/$n/$m"
        done
done
# Next to it, names that differ from "weird" by one character: not matched.
near=($'weird\n' $'\nweird' 'weird ' ' weird' $'weird\t' $'weird\r' 'weird\' 'weir' 'weirdd'
      'weird*' 'weird?' $'weird\xff' 'Weird' '-weird')
for n in "${near[@]}"; do
        mkdir -p "$doc/$n/sub"
        printf 'survives\n' >"$doc/$n/sub/data"
        printf 'survives\n' >"$doc/$n/weird"
done
printf 'a file\n' >"$doc/weird.txt"

# Inside Remove=/usr/share/doc/odd/**, the same names, removed from below the pattern.
mkdir -p "$doc/odd"
for n in "${odd_names[@]}"; do
        printf 'odd\n' >"$doc/odd/$n"
        mkdir -p "$doc/odd/d$n"
        printf 'odd\n' >"$doc/odd/d$n/$n"
done
# Its sibling that only differs by a newline is outside the pattern.
mkdir -p "$doc/"$'odd\n'
printf 'survives\n' >"$doc/"$'odd\n'"/data"

# A glob over odd names: '*' matches a newline inside a segment, and a name that differs
# from the literal last segment by a trailing newline or space does not match.
man=$ROOT/usr/share/man
mkdir -p "$man/"$'man\n9' "$man/man 9"
for d in man1 $'man\n9' 'man 9'; do
        printf 'page\n' >"$man/$d/x.1"
        printf 'survives\n' >"$man/$d/"$'x.1\n'
        printf 'survives\n' >"$man/$d/x.1 "
        printf 'survives\n' >"$man/$d/"$'\nx.1'
        printf 'survives\n' >"$man/$d/x.1x"
done

# A protected file with an odd name, so that the name shows up in the plan and the report.
odd_libc=$'libc.so.6\n"\\\t\xff\x01 -rf'
printf 'ELF odd libc\n' >"$ROOT/usr/lib/x86_64-linux-gnu/$odd_libc"

policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/weird /usr/share/doc/odd/** /usr/share/man/*/x.1
Remove=/usr/lib/x86_64-linux-gnu/**
EOF

# json_ok FILE WHAT: FILE parses as JSON and, where iconv is there to tell, is valid UTF-8.
json_ok() {
        expect "case 6: $2 is valid JSON" jq empty "$1"
        if command -v iconv >/dev/null; then
                expect "case 6: $2 is valid UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$1"
        else
                missing "iconv is not installed: whether $2 is valid UTF-8"
        fi
        expect_eq "case 6: $2 has no raw control characters" 0 \
                "$(tr -d '\n' <"$1" | LC_ALL=C tr -d '\040-\176\200-\377' | wc -c)"
}

run_trim --dry-run --json
expect_eq "case 6: the dry run exits 0" 0 "$RC"
cp "$OUT" "$SCRATCH/plan.json"
json_ok "$SCRATCH/plan.json" "the --dry-run --json plan"
expect_eq "case 6: the plan lists the oddly named libc as protected" protected \
        "$(jq -r '.actions[] | select(.target | startswith("/usr/lib/x86_64-linux-gnu/libc.so.6\n\"\\\t")) | .state' "$SCRATCH/plan.json")"

gone=(usr/share/doc/weird usr/share/man/man1/x.1
      usr/share/man/$'man\n9'/x.1 'usr/share/man/man 9/x.1' usr/lib/x86_64-linux-gnu/libfoo.so.1)
for n in "${odd_names[@]}"; do
        gone+=("usr/share/doc/odd/$n" "usr/share/doc/odd/d$n")
done
fp_begin "${gone[@]}"
run_trim
expect_eq "case 6: apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || tail -n 20 "$ERR" | sed "s/^/    /"
fp_check "case 6 odd names"
for n in "${near[@]}"; do
        expect "case 6: the sibling $(printf %q "$n") of the removed 'weird' survives" test -f "$doc/$n/sub/data"
done
expect "case 6: the sibling of odd/ that differs by a newline survives" test -f "$doc/"$'odd\n'"/data"
expect "case 6: no \$(touch pwned) ran anywhere" test ! -e pwned -a ! -e "$ROOT/pwned" -a ! -e "$doc/odd/pwned"
json_ok "$(report)" "report.json"
expect_eq "case 6: report.json lists the oddly named libc as protected" protected \
        "$(jq_report '.actions[] | select(.target | startswith("/usr/lib/x86_64-linux-gnu/libc.so.6\n\"\\\t")) | .outcome')"

# Entries that cannot be removed are listed by name in the report (as failures): an
# immutable directory with odd names, on file systems that support the attribute.
if ! command -v chattr >/dev/null; then
        missing "chattr is not installed: the failure listing of entries that cannot be removed"
else
        ROOT=$SCRATCH/immutable
        make_os_tree "$ROOT"
        mkdir -p "$ROOT/var/lib/dpuos-trim"
        imm=$ROOT/usr/share/doc/$'imm\n\xff"\\ -rf'
        mkdir -p "$imm"
        for n in "${odd_names[@]:0:14}"; do
                printf 'stuck\n' >"$imm/$n"
        done
        if chattr +i "$imm" 2>/dev/null; then
                trap 'chattr -i "$imm" 2>/dev/null; cleanup' EXIT
                policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/**
EOF
                fp_begin usr/share/doc/bash usr/share/doc/coreutils
                run_trim
                expect_eq "case 6 immutable: apply exits 1 (entries cannot be removed)" 1 "$RC"
                fp_check "case 6 immutable"
                json_ok "$(report)" "report.json with failures on odd names"
                expect "case 6 immutable: the report names the entries that could not be removed" \
                        test "$(jq_report '[.actions[] | select(.outcome == "failed" and (.target | startswith("/usr/share/doc/imm\n")))] | length')" -ge 14
                chattr -i "$imm"
        else
                missing "this file system has no immutable attribute: the failure listing of entries that cannot be removed"
        fi
fi

finish
