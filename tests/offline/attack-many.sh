#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attack case 8: 200,000 files inside one pattern are all removed, and report.json counts
# exactly the bytes they had allocated, measured before the run (st_blocks × 512, each inode
# once, nothing for an inode that keeps a link outside the pattern). Prints how long the
# apply took. Made with coreutils only (split writes thousands of files per process).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "an attack fixture with root-owned files"
need_tool jq
need_tool split

N_DIRS=10
PER_DIR=20000         # split -b 100 of a 2,000,000-byte file

fast_dir many
echo "# fixture on $FAST_DIR_FS"
ROOT=$FAST_DIR/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim"
many=$ROOT/usr/share/doc/many
mkdir -p "$many"
head -c $((PER_DIR * 100)) /dev/urandom >"$FAST_DIR/blob"
start=$EPOCHREALTIME
for ((i = 0; i < N_DIRS; i++)); do
        mkdir "$many/d$i"
        (cd "$many/d$i" && split -b 100 -a 4 "$FAST_DIR/blob" f)
done
# Some variety: empty files, bigger ones, hard-linked pairs inside the pattern (bytes once),
# a file with a second link outside the pattern (no bytes), a symlink, nested directories.
: >"$many/d0/empty1"
: >"$many/d0/empty2"
head -c 1000000 /dev/urandom >"$many/d1/big"
for c in a b c d e f g h i j; do
        ln "$many/d2/faaa$c" "$many/d3/link-$c"
done
head -c 50000 /dev/urandom >"$many/d4/shared"
ln "$many/d4/shared" "$ROOT/usr/share/shared-outside"
ln -s ../../../../etc/passwd "$many/d5/passwd-link"
mkdir -p "$many/d6/a/b/c"
printf 'deep\n' >"$many/d6/a/b/c/file"
echo "# made $(find "$many" -mindepth 1 ! -type d | wc -l) files in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"

policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/many/**
EOF

# The bytes each inode below the pattern has allocated, counted once, and only where all
# its links are below the pattern; directories always (their own blocks).
want_bytes=$(find "$many" -mindepth 1 -printf '%y %D:%i %n %b\n' | awk '
        { key = $2; seen[key]++; nlink[key] = ($1 == "d") ? 1 : $3; blocks[key] = $4 }
        END { for (k in seen) if (seen[k] >= nlink[k]) s += blocks[k]; printf "%d\n", s * 512 }')
want_files=$(find "$many" -mindepth 1 ! -type d | wc -l)
want_dirs=$(find "$many" -mindepth 1 -type d | wc -l)
echo "# expecting $want_files files, $want_dirs directories, $want_bytes bytes"

run_trim --dry-run --json
expect_eq "case 8: the dry run exits 0" 0 "$RC"
expect_eq "case 8: the plan counts every file and directory and their allocated bytes" \
        "$want_files $want_dirs $want_bytes" \
        "$(jq -r '.actions[] | select(.target == "/usr/share/doc/many/**") | "\(.files) \(.dirs) \(.bytes)"' "$OUT")"

gone=()
for d in "$many"/*; do
        gone+=("${d#"$ROOT/"}")
done
fp_begin "${gone[@]}"
start=$EPOCHREALTIME
run_trim
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
echo "# apply (plan and removal of $want_files files) took $took s"
expect_eq "case 8: apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || tail -n 20 "$ERR" | sed "s/^/    /"
expect_eq "case 8: report.json counts every file and directory and the bytes allocated before" \
        "done $want_files $want_dirs $want_bytes" \
        "$(jq_report '.actions[] | select(.target == "/usr/share/doc/many/**") | "\(.outcome) \(.files) \(.dirs) \(.bytes)"')"
expect_eq "case 8: the totals agree" "$want_bytes" "$(jq_report '.totals.bytes_freed')"
expect_eq "case 8: nothing is left below the pattern's directory" "" "$(ls -A "$many" 2>&1)"
fp_check "case 8 many files"

finish
