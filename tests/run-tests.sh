#!/usr/bin/env bash
# The one command that runs every test: installs dependencies, builds, runs the unit and
# offline tests in a build with the address and undefined-behaviour sanitizers, then
# `meson test` of the normal build (unit, offline black-box, container and VM tests).
# Under CI=true nothing may skip: the rig tests are configured to fail instead of
# skipping, and a skipped test fails the run.
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

# The rig's two Debian roots take minutes to build from the package mirror, mostly waiting
# on it and on dpkg: built now, in the background, while the agent compiles and the
# sanitizer build runs, and cached under the build directory. The rig tests wait for each
# on its lock (tests/rig/lib.sh, rig_root), and build it themselves if this did not.
roots_pid=""
if [ "$(id -u)" = 0 ] && command -v mmdebstrap >/dev/null; then
        mkdir -p "$build/rig"
        (
                set +e
                # shellcheck source=tests/rig/lib.sh
                BUILD_DIR=$build source tests/rig/lib.sh
                rig_root "$build"
                RIG_IMAGE=generic rig_root "$build"
        ) >"$build/rig/roots.log" 2>&1 &
        roots_pid=$!
        trap 'kill "$roots_pid" 2>/dev/null || true' EXIT
fi

# The same unit and offline tests under AddressSanitizer and UBSan: any report fails them.
asan=$build-sanitizers
setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=disabled -Dman=disabled -Dtest_hooks=true
meson compile -C "$asan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        meson test -C "$asan" --print-errorlogs --suite unit --suite offline || status=$?

meson compile -C "$build"
meson test -C "$build" --print-errorlogs "$@" || status=$?
if [ -n "$roots_pid" ]; then
        wait "$roots_pid" || echo "run-tests: building the rig roots in the background failed (the tests built them): $build/rig/roots.log" >&2
fi

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
check_skips "$asan" || status=1

exit "$status"
