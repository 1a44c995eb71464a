# shellcheck shell=bash
# The frame the rig tests share, on top of lib.sh: a work directory under the build's rig/
# that goes away at exit (RIG_KEEP=1 keeps it), with every container and VM the test
# started there stopped; and checks printed one per line as "ok - …" / "not ok - …",
# counted for the verdict.
#
#   source tests/rig/checks.sh
#   rig_test_begin NAME        sets $work
#   rig_test_root [--first-boot]
#                              a fresh root at $work/root with the agent installed, its
#                              path there in $bin; without --first-boot the stamp is set,
#                              so the test drives the agent and no first-boot run happens
#   ct_start "$RIG_CT" ROOT    $RIG_CT is a container name of this test's own
#   check "what" COMMAND...    runs COMMAND, prints ok/not ok
#   same A B, differs A B      predicates for check that fail when A is empty: two
#                              empty strings (a command that printed nothing) prove nothing
#   rig_test_end               prints the count, fails if any check failed

failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # DESCRIPTION COMMAND...
        local what=$1
        shift
        if "$@"; then ok "$what"; else not_ok "$what"; fi
}

same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
differs() { [ -n "$1" ] && [ "$1" != "$2" ]; }

rig_test_cleanup() {
        local img
        ct_running "$RIG_CT" && ct_kill "$RIG_CT"
        for img in "$work"/*.img; do
                [ -e "$img" ] && vm_running "$img" && vm_kill "$img"
        done
        if [ "${RIG_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

rig_test_begin() { # NAME
        RIG_CT=rig-$1-$$
        mkdir -p "$BUILD_DIR/rig"
        work=$(mktemp -d "$BUILD_DIR/rig/$1.XXXXXX")
        trap rig_test_cleanup EXIT
}

rig_test_root() {
        root=$work/root
        rig_new_root "$BUILD_DIR" "$root"
        rig_install_agent "$root" "$BUILD_DIR"
        bin=$(rig_agent_path "$BUILD_DIR")
        if [ "${1:-}" != --first-boot ]; then
                mkdir -p "$root/etc/dpuos-trim"
                echo "test" >"$root/etc/dpuos-trim/applied"
        fi
}

rig_test_end() {
        echo "$failures failed"
        [ "$failures" = 0 ]
}
