#!/usr/bin/env bash
# The one command that runs every test: installs dependencies, builds, runs `meson test`
# (unit, offline black-box, container and VM tests). Under CI=true a skipped test fails
# the run, since CI has everything the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh

build=${BUILD_DIR:-build}
if [ -d "$build/meson-private" ]; then
        meson setup --reconfigure "$build" >/dev/null
else
        meson setup "$build"
fi
meson compile -C "$build"

status=0
meson test -C "$build" --print-errorlogs "$@" || status=$?

if [ "${CI:-}" = true ] && [ -f "$build/meson-logs/testlog.json" ]; then
        skipped=$(grep -c '"result": "SKIP"' "$build/meson-logs/testlog.json" || true)
        if [ "$skipped" -gt 0 ]; then
                echo "run-tests: $skipped test(s) skipped under CI, where nothing may skip:" >&2
                grep '"result": "SKIP"' "$build/meson-logs/testlog.json" | grep -o '"name": "[^"]*"' >&2 || true
                status=1
        fi
fi
exit "$status"
