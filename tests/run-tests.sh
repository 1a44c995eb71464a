#!/usr/bin/env bash
# The one command that runs every test: installs dependencies, builds, runs `meson test`
# (unit, offline black-box, container and VM tests), then runs the unit and offline tests
# again in a build with the address and undefined-behaviour sanitizers. Under CI=true
# nothing may skip: the rig tests are configured to fail instead of skipping, and a
# skipped test fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh

build=${BUILD_DIR:-build}
vm_tests=auto
[ "${CI:-}" = true ] && vm_tests=enabled

setup() { # DIR ARGS...
        local dir=$1
        shift
        if [ -d "$dir/meson-private" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@"
        fi
}

status=0
setup "$build" -Dvm_tests="$vm_tests" -Dtest_hooks=true
meson compile -C "$build"
meson test -C "$build" --print-errorlogs "$@" || status=$?

check_skips() { # DIR
        local log=$1/meson-logs/testlog.json skipped
        [ "${CI:-}" = true ] && [ -f "$log" ] || return 0
        skipped=$(grep -c '"result": "SKIP"' "$log" || true)
        if [ "$skipped" -gt 0 ]; then
                echo "run-tests: $skipped test(s) skipped under CI, where nothing may skip:" >&2
                grep '"result": "SKIP"' "$log" | grep -o '"name": "[^"]*"' >&2 || true
                return 1
        fi
}
check_skips "$build" || status=1

# The same unit and offline tests under AddressSanitizer and UBSan: any report fails them.
asan=$build-sanitizers
setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=disabled -Dman=disabled -Dtest_hooks=true
meson compile -C "$asan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        meson test -C "$asan" --print-errorlogs --suite unit --suite offline || status=$?
check_skips "$asan" || status=1

exit "$status"
