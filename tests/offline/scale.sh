#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Policies at the scale of dpuos-trim.conf(5), Limits, are planned in bounded time (a first
# boot that never finishes writes no stamp and starts over at every boot), and policies
# beyond the limits are refused with a message that names the limit. Prints how long each
# plan took; a run counts as hung after $LIMIT seconds (the planning here takes a second or
# two, about five times that under the sanitizers).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool timeout
need_tool python3

LIMIT=${DPUOS_TRIM_TEST_SCALE_LIMIT:-30}
fast_dir scale
ROOT=$FAST_DIR/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim"
# 100,000 small files in 200 package directories: each pattern below names one of them.
python3 - "$ROOT/usr/share/doc" <<'EOF'
import os, sys
for d in range(200):
    os.mkdir(f"{sys.argv[1]}/p{d}")
for c in range(100000):
    with open(f"{sys.argv[1]}/p{c % 200}/x{c}", "w") as f:
        f.write("x\n")
EOF

# write_policy FILES PER-FILE [WORDS-PER-LINE]: FILES drop-ins holding PER-FILE Remove=
# words each, each word naming a file of its own (they wrap around after 100,000).
write_policy() {
        rm -rf "$ROOT$POLICY_DIR"
        mkdir -p "$ROOT$POLICY_DIR"
        python3 - "$ROOT$POLICY_DIR" "$1" "$2" "${3:-1}" <<'EOF'
import sys
d, files, per, words = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = 0
for f in range(files):
    with open(f"{d}/{f:06d}.conf", "w") as out:
        out.write("[Files]\n")
        for _ in range(0, per, words):
            out.write("Remove=" + " ".join(f"/usr/share/doc/p{(c + i) % 200}/x{(c + i) % 100000}" for i in range(words)) + "\n")
            c += words
EOF
}

# plan WHAT WANT-RC: --dry-run --json within $LIMIT seconds, exit WANT-RC.
plan() {
        local start took
        start=$EPOCHREALTIME
        RC=$(timeout -s KILL "$LIMIT" "$DPUOS_TRIM" --root="$ROOT" --dry-run --json >"$OUT" 2>"$ERR"; echo $?)
        took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
        echo "# $1: planned in $took s"
        if [[ $RC -eq 137 ]]; then
                fail "$1: planned within $LIMIT s (killed after $took s)"
                return 1
        fi
        expect_eq "$1: --dry-run exits $2" "$2" "$RC"
        [[ $RC -eq $2 ]] || tail -n 5 "$ERR" | sed 's/^/    /'
        [[ $RC -eq $2 ]]
}

# The scale of dpuos-trim.conf(5), Limits: 100,000 patterns; 10,000 drop-ins; one file of
# nearly 1 MiB full of patterns (37,100 of them, 7 to a 196-byte line).
write_policy 100 1000
if plan "100,000 patterns in 100 files" 0; then
        expect_eq "100,000 patterns: each plans its file" "100000 100000" \
                "$(jq -r '[.actions[] | select(.kind == "files" and .action == "remove" and .state == "change")] | "\(length) \(map(.files) | add)"' "$OUT")"
fi
write_policy 10000 1
plan "10,000 drop-ins of one pattern each" 0 || true
write_policy 1 37100 7
expect "the one-file policy is just under 1 MiB" test "$(stat -c %s "$ROOT$POLICY_DIR/000000.conf")" -le 1048576 -a \
        "$(stat -c %s "$ROOT$POLICY_DIR/000000.conf")" -gt 1000000
plan "37,100 patterns in one file of nearly 1 MiB" 0 || true

# Beyond the limits: refused (exit 2) before anything is looked at, naming the limit.
write_policy 4 25001
if plan "100,004 list entries" 2; then
        expect "100,004 list entries: the message names the limit" grep -q 'more than 100000 list entries' "$ERR"
fi
write_policy 16385 1
if plan "16,385 policy files" 2; then
        expect "16,385 policy files: the message names the limit" grep -q 'at most 16384 are read' "$ERR"
fi
rm -rf "$ROOT$POLICY_DIR"
mkdir -p "$ROOT$POLICY_DIR"
# 17 files of 1 MiB of comments: each within its own limit, too much together.
for ((f = 0; f < 17; f++)); do
        python3 -c 'import sys; sys.stdout.write("[Files]\n" + ("# " + "c" * 97 + "\n") * 10400)' \
                >"$ROOT$POLICY_DIR/$f.conf"
done
if plan "17 MiB of policy files" 2; then
        expect "17 MiB of policy files: the message names the limit" grep -q 'more than 16 MiB together' "$ERR"
fi
rm -rf "$ROOT$POLICY_DIR"
mkdir -p "$ROOT$POLICY_DIR"
python3 -c 'import sys; sys.stdout.write("[Sysctl]\n" + "".join(f"-net.ipv4.conf.if{i}.forwarding=0\n" for i in range(10001)))' \
        >"$ROOT$POLICY_DIR/50-sysctl.conf"
if plan "10,001 [Sysctl] settings" 2; then
        expect "10,001 [Sysctl] settings: the message names the limit" grep -q 'more than 10000 settings in \[Sysctl\]' "$ERR"
fi

finish
