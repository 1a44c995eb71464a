#!/usr/bin/env bash
# rig-container-journal: the journal forwarding recipe of the README ("Running a fleet"),
# for real: the container (a real systemd as PID 1) gets systemd-journal-upload, pointed
# by /etc/systemd/journal-upload.conf at a collector, systemd-journal-remote, run here on
# the host side of a veth pair. An application and a --verify with drift log their
# summary and drift entries; the upload service sends them, and they are found in the
# collector's journal files by their MESSAGE_IDs, with their fields.
#   ct-journal.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

SUMMARY_ID=a41e3e0afd4b4df6a4e60b503a2160c5
DRIFT_ID=cea0112747fb458c85c385aa314ff1df
remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || remote=/usr/lib/systemd/systemd-journal-remote

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson ip journalctl "$remote"

rig_test_begin ct-journal
name=$RIG_CT
rig_test_root   # the test drives the agent: no first-boot run

# systemd-journal-upload from the Debian mirror, installed into this test's root (its apt
# sources are the mirror's; the chroot uses this machine's network).
chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -q && apt-get install -y -q --no-install-recommends systemd-journal-remote' \
        >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; echo "cannot install systemd-journal-remote in the root" >&2; exit 1; }

# The collector's side of the veth pair is 10.231.7.1, the container's 10.231.7.2.
mkdir -p "$root/etc/systemd/journal-upload.conf.d" "$root/etc/systemd/network"
printf '[Upload]\nURL=http://10.231.7.1:19532\n' >"$root/etc/systemd/journal-upload.conf.d/50-collector.conf"
rm -f "$root"/usr/lib/dpuos-trim/policy.d/*.conf
mkdir -p "$root/etc/dpuos-trim/policy.d"
cat >"$root/etc/dpuos-trim/policy.d/50-journal.conf" <<'POLICY'
[Policy]
Name=container-journal

[Files]
Remove=/usr/share/doc/**
Keep=/usr/share/doc/**/copyright
POLICY

links_before=$(ip -o link show)
RIG_NSPAWN_ARGS="--network-veth" ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null
veth=$(ct_veth_up "$name" "$links_before" 10.231.7.1 10.231.7.2 || true)
check "the container has a veth pair to this side (${veth:-none})" [ -n "$veth" ]

# The collector: systemd-journal-remote on this side, into a journal file of its own.
mkdir -p "$work/collected"
"$remote" --listen-http=10.231.7.1:19532 --split-mode=none --output="$work/collected/remote.journal" \
        >"$work/remote.log" 2>&1 &
remote_pid=$!
trap 'kill "$remote_pid" 2>/dev/null || true; rig_test_cleanup' EXIT

rc=0
ct_exec "$name" "$bin" >"$work/apply.out" 2>&1 || rc=$?
check "apply in the container: exit 0" [ "$rc" = 0 ]
# Drift: a removed file back, as a package update would bring it.
ct_exec "$name" sh -c 'mkdir -p /usr/share/doc/back && echo x >/usr/share/doc/back/README'
rc=0
ct_exec "$name" "$bin" --verify >"$work/verify.out" 2>&1 || rc=$?
check "--verify finds the drift: exit 3" [ "$rc" = 3 ]

# The upload service, as the recipe enables it.
rc=0
ct_exec "$name" systemctl start systemd-journal-upload.service >"$work/upload.out" 2>&1 || rc=$?
check "systemd-journal-upload.service starts in the container" [ "$rc" = 0 ]
found=0 drift=0
for _ in $(seq 60); do
        found=$(journalctl --file="$work/collected/remote.journal" MESSAGE_ID=$SUMMARY_ID -o cat 2>/dev/null | grep -c 'container-journal' || true)
        drift=$(journalctl --file="$work/collected/remote.journal" MESSAGE_ID=$DRIFT_ID -o cat 2>/dev/null | grep -c . || true)
        [ "$found" -ge 1 ] && [ "$drift" -ge 1 ] && break
        sleep 1
done
journalctl --file="$work/collected/remote.journal" MESSAGE_ID=$SUMMARY_ID -o cat 2>/dev/null | sed 's/^/  collected summary: /' | head -n 3
check "the collector has the application's summary entry, by its MESSAGE_ID ($found)" [ "$found" -ge 1 ]
check "the collector has the drift entry of --verify, by its MESSAGE_ID ($drift)" [ "$drift" -ge 1 ]
n=$(journalctl --file="$work/collected/remote.journal" MESSAGE_ID=$DRIFT_ID -o export 2>/dev/null | grep -cE '^DPUOS_TRIM_DRIFT=[1-9]' || true)
check "the drift entry keeps its fields (DPUOS_TRIM_DRIFT=)" [ "$n" -ge 1 ]
ct_stop "$name"

rig_test_end
