#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attack case 7: a 5,000-deep directory chain inside a pattern is removed completely, with
# no crash (one descriptor and one stack frame per level) and in reasonable time; a
# 5,000-deep chain right next to it, and one that a '**' pattern walks all the way down
# without matching, survive; patterns with three and four '**' are planned over the chains
# in bounded time. Paths this deep are far longer than PATH_MAX.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_test_hooks
need_root "an attack fixture with root-owned files"
need_tool jq
need_tool timeout

DEPTH=${DPUOS_TRIM_TEST_DEPTH:-5000}
# A walk linear or quadratic in the depth needs a few seconds here (about 10 s under the
# sanitizers); beyond this limit the run counts as hung.
LIMIT=${DPUOS_TRIM_TEST_DEEP_LIMIT:-30}

# chain DIR DEPTH: DIR/d/d/.../d, DEPTH (a multiple of 500) directories deep, with a file at
# the bottom and one every 1,000 levels. Built bottom-up, 500 levels at a time, by renaming
# the chain so far below a fresh 500-level piece: no command names a path longer than about
# 1,000 bytes (going down by cd is quadratic: the shell checks each new $PWD by full path).
chain() {
        local seg i w=$FAST_DIR/chain-build
        seg=$(printf 'd/%.0s' {1..500})
        seg=${seg%/}
        rm -rf "$w"
        mkdir -p "$w/cur/$seg"
        printf 'bottom of %s\n' "$1" >"$w/cur/$seg/bottom"
        for ((i = 2; i <= $2 / 500; i++)); do
                mkdir -p "$w/new/$seg"
                mv "$w/cur/d" "$w/new/$seg/d"
                rmdir "$w/cur"
                mv "$w/new" "$w/cur"
                ((i % 2 == 0)) && printf 'level %d from the bottom\n' $((i * 500)) >"$w/cur/d/at-$((i * 500))"
        done
        mv "$w/cur" "$1"
        rmdir "$w"
}

fast_dir deep
echo "# fixture on $FAST_DIR_FS"
ROOT=$FAST_DIR/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim"
chain "$ROOT/usr/share/doc/chain-in" "$DEPTH"       # removed: the pattern names it
chain "$ROOT/usr/share/doc/chain-inx" "$DEPTH"      # next to it, not matched
chain "$ROOT/usr/share/man/chain-out" "$DEPTH"      # walked by **/gone, nothing matches
printf 'gone\n' >"$ROOT/usr/share/man/man1/gone"
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/chain-in /usr/share/man/**/gone
EOF

fp_begin usr/share/doc/chain-in usr/share/man/man1/gone
expect_eq "case 7: the fixture's chains are $DEPTH deep" $((2 * (DEPTH + 1 + DEPTH / 1000))) \
        "$(grep -c '^/usr/share/\(doc/chain-inx\|man/chain-out\)/' "$SCRATCH/fp.before")"

start=$EPOCHREALTIME
RC=$(timeout -s KILL "$LIMIT" "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR"; echo $?)
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "# apply on ${DEPTH}-deep chains took ${took} s (limit ${LIMIT} s)"
if [[ $RC -eq 137 ]]; then
        fail "case 7: apply finishes within ${LIMIT} s (killed after ${took} s; it is still walking)"
elif [[ $RC -ge 128 ]]; then
        fail "case 7: apply does not crash (killed by signal $((RC - 128)))"
else
        expect_eq "case 7: apply exits 0" 0 "$RC"
        [[ $RC -eq 0 ]] || tail -n 20 "$ERR" | sed "s/^/    /"
        expect_eq "case 7: report.json counts the whole chain" "$((DEPTH + 1)) $((DEPTH / 1000 + 1))" \
                "$(jq_report '.actions[] | select(.target == "/usr/share/doc/chain-in") | "\(.dirs) \(.files)"')"
fi
fp_check "case 7 deep chains"

# Patterns with several '**' that match nothing in the chains left: each level of the walk
# asks whether the pattern matches, and a backtracking matcher's work grows with the depth
# to the power of the number of '**' (days at this depth); it must stay polynomial.
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/man/**/d/**/d/**/gone-deep
Remove=/usr/share/doc/chain-inx/**/d/**/d/**/d/**/gone-deep
EOF
start=$EPOCHREALTIME
RC=$(timeout -s KILL "$LIMIT" "$DPUOS_TRIM" --root="$ROOT" --dry-run >"$OUT" 2>"$ERR"; echo $?)
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "# planning three and four '**' over ${DEPTH}-deep chains took ${took} s (limit ${LIMIT} s)"
if [[ $RC -eq 137 ]]; then
        fail "case 7: patterns with several '**' are planned within ${LIMIT} s (killed after ${took} s)"
else
        expect_eq "case 7: patterns with several '**' over deep chains: --dry-run exits 0" 0 "$RC"
fi

finish
