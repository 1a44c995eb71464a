#!/usr/bin/env bash
# rig-container-smoke: the container rig works. Builds (or reuses) the cached Debian root,
# installs the agent into a copy, boots it with systemd-nspawn, checks that systemd is up
# (running or degraded), that D-Bus answers and that the agent runs inside, then powers
# the container off cleanly.
#   container-smoke.sh [BUILD_DIR]
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter pgrep meson

name=rig-smoke-$$
rig_smoke_begin ct-smoke

t0=$SECONDS
rig_new_root "$BUILD_DIR" "$work/root"
echo "root ready after $((SECONDS - t0)) s"
rig_install_agent "$work/root" "$BUILD_DIR"
bin=$(rig_agent_path "$BUILD_DIR")

t1=$SECONDS
ct_start "$name" "$work/root"
state=$(ct_wait "$name" 180)
echo "container booted in $((SECONDS - t1)) s: $state"

state=$(ct_exec "$name" systemctl is-system-running) || true
case $state in
running | degraded) echo "systemctl is-system-running inside: $state" ;;
*) fail "systemctl is-system-running inside says '$state'" ;;
esac
[ "$state" = running ] || ct_exec "$name" systemctl --failed --no-pager || true

# A real PID 1 that answers on the system bus: what the agent's live backend talks to.
ct_exec "$name" busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
        org.freedesktop.DBus.Peer Ping >/dev/null || fail "systemd does not answer on the system bus inside"
pid1=$(ct_exec "$name" cat /proc/1/comm)
[ "$pid1" = systemd ] || fail "PID 1 inside is '$pid1', not systemd"

version=$(ct_exec "$name" "$bin" --version) || fail "$bin --version fails inside the container"
[[ $version == "dpuos-trim "* ]] || fail "$bin --version printed '$version'"
echo "inside: $version ($bin)"

ct_stop "$name" 60
echo "PASS: container booted, answered and stopped; total $((SECONDS - t0)) s"
