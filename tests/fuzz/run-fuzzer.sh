#!/usr/bin/env bash
# Runs a libFuzzer campaign on the policy parser: builds build-fuzz/ with clang and
# address+undefined sanitizers, fuzzes for SECONDS (default 600) starting from the saved
# corpus, and copies any crashing input into tests/fuzz/corpus/ so that it replays in every
# build from then on. Exit status is non-zero when the fuzzer found something.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-600}
build=build-fuzz
command -v clang >/dev/null || { echo "run-fuzzer: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

if [ ! -d "$build/meson-private" ]; then
        CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi
ninja -C "$build" tests/fuzz/fuzz-policy

work="$build/fuzz-corpus"
mkdir -p "$work" "$build/fuzz-artifacts"
cp -n tests/fuzz/corpus/* "$work/" 2>/dev/null || true

status=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
        "$build/tests/fuzz/fuzz-policy" -max_total_time="$seconds" -max_len=4096 -timeout=30 \
        -artifact_prefix="$build/fuzz-artifacts/" -print_final_stats=1 "$work" || status=$?

for f in "$build"/fuzz-artifacts/*; do
        [ -e "$f" ] || continue
        cp "$f" "tests/fuzz/corpus/found-$(basename "$f")"
        echo "run-fuzzer: saved $f as a regression input" >&2
done
exit "$status"
