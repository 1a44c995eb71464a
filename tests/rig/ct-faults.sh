#!/usr/bin/env bash
# rig-container-faults: failures of the live backends reach the exit status, the report and
# the journal (docs/design.md, "Failures"), with a real systemd as PID 1 in systemd-nspawn.
# 1. The manager refuses to reload (less than 16 MiB free on /run, systemd's own rule): the
#    masks written but not in effect are failed actions, no stamp is written, --verify
#    sees the masks the manager has not loaded; with room again, a run converges.
# 2. Property calls refused (a D-Bus policy that denies Properties.Get to the unprivileged
#    --verify): a masked service that runs cannot be checked, and --verify says so.
# 3. The connection to the manager goes away between plan and apply (daemon-reexec): the
#    masks fail, nothing is reported done that was not.
# 4. The saved old sysctl values cannot be written: the live value is not changed and the
#    setting is not persisted.
# 5. A saved value whose key points out of /proc/sys is never written back by --revert.
#   ct-faults.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
"$BUILD_DIR/agent/dpuos-trim" --version 2>/dev/null | grep -qF '(test hooks)' ||
        rig_skip "the agent in $BUILD_DIR was built without -Dtest_hooks=true"
rig_require_tools mmdebstrap systemd-nspawn nsenter meson jq

rig_test_begin ct-faults
name=$RIG_CT

rig_test_root   # the test drives the agent: no first-boot run

# The first-boot runs below read this policy alone from the search path.
rm -f "$root"/usr/lib/dpuos-trim/policy.d/*.conf

cat >"$root/usr/lib/dpuos-trim/policy.d/50-units.conf" <<'POLICY'
[Policy]
Name=container-faults
[Units]
Mask=cron.service man-db.timer
Stop=yes
POLICY
cat >"$root/root/sysctl.conf" <<'POLICY'
[Sysctl]
net.core.somaxconn = 1234
POLICY

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null

trim() { # OUT ARGS...: runs the agent, output in $work/OUT, prints the exit status
        local out=$1 rc=0
        shift
        ct_exec "$name" env DPUOS_TRIM_PROC_CMDLINE=quiet "$bin" "$@" >"$work/$out" 2>&1 || rc=$?
        sed "s/^/  $out: /" "$work/$out" >&2
        echo "$rc"
}
report() { ct_exec "$name" cat /var/lib/dpuos-trim/report.json; }
enabled() { ct_exec "$name" systemctl is-enabled "$1" 2>/dev/null || true; }
load_state() { ct_exec "$name" systemctl show -P LoadState "$1"; }
no_stamp() { ! ct_exec "$name" test -e /etc/dpuos-trim/applied; }
summary_failed() { # the journal's summary entry of the last run, its failure count
        ct_exec "$name" journalctl --sync
        ct_exec "$name" journalctl -o export MESSAGE_ID=a41e3e0afd4b4df6a4e60b503a2160c5 -n 1 |
                sed -n 's/^DPUOS_TRIM_FAILED=//p'
}

# --- 1. The manager refuses to reload.
ct_exec "$name" rm -f /etc/dpuos-trim/applied
free_kb=$(ct_exec "$name" df -k --output=avail /run | tail -n1 | tr -d ' ')
ct_exec "$name" fallocate -l "$(((free_kb - 8 * 1024) * 1024))" /run/fill
echo "/run: $(ct_exec "$name" df -h --output=avail /run | tail -n1) free"
check "cron.service runs before the run" [ "$(ct_exec "$name" systemctl is-active cron.service || true)" = active ]
rc=$(trim reload.out --firstboot)
check "reload refused: exit 1 ($rc)" [ "$rc" = 1 ]
check "reload refused: no stamp" no_stamp
reasons=$(report | jq -r '.actions[] | select(.target == "cron.service" and .action == "mask") | "\(.outcome): \(.reason)"')
echo "cron.service mask: $reasons"
check "reload refused: the mask of cron.service failed, naming the refused reload" \
        grep -q '^failed: written, but the system manager did not reload: .*[Rr]efusing to reload' <<<"$reasons"
check "reload refused: the summary says so" grep -q 'did not reload' "$work/reload.out"
check "reload refused: the journal's summary counts the failures ($(summary_failed))" [ "$(summary_failed)" -gt 0 ]
check "reload refused: cron.service is masked on disk ($(enabled cron.service))" same masked "$(enabled cron.service)"
check "reload refused: the manager has not loaded the mask ($(load_state cron.service))" differs masked "$(load_state cron.service)"
rc=$(trim verify-reload.out --verify)
check "reload refused: --verify does not say it holds ($rc)" [ "$rc" = 3 ]
check "reload refused: --verify says the manager has not loaded the mask" grep -q 'no reload since' "$work/verify-reload.out"
ct_exec "$name" rm -f /run/fill
rc=$(trim reload2.out --firstboot)
check "room again: the first-boot run converges (exit $rc)" [ "$rc" = 0 ]
check "room again: the manager has cron.service masked ($(load_state cron.service))" same masked "$(load_state cron.service)"
check "room again: cron.service is stopped" [ "$(ct_exec "$name" systemctl is-active cron.service || true)" != active ]
check "room again: the stamp is written" ct_exec "$name" test -e /etc/dpuos-trim/applied

# --- 2. Property calls refused to the unprivileged --verify. rsyslog.service is masked by
# hand while it runs: --verify with Stop=yes must not call that "holds".
ct_exec "$name" systemctl mask rsyslog.service syslog.socket >/dev/null 2>&1
# The policy keeps the masks of part 1, so that the running service is the only drift.
printf '[Units]\nMask=cron.service man-db.timer rsyslog.service\nStop=yes\n' >"$root/root/rsyslog.conf"
check "rsyslog.service runs, masked" [ "$(ct_exec "$name" systemctl is-active rsyslog.service || true)" = active ]
rc=$(trim verify-open.out --verify --policy=/root/rsyslog.conf)
check "properties readable: --verify finds the running masked service (exit $rc)" [ "$rc" = 3 ]
check "properties readable: the only drift is rsyslog.service running" \
        same "rsyslog.service running," \
        "$(grep -E '^units ' "$work/verify-open.out" | awk '{ print $2, $3 }' | sort | tr '\n' ,)"
cat >"$root/etc/dbus-1/system.d/zz-deny-properties.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="nobody">
    <deny send_destination="org.freedesktop.systemd1" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
</busconfig>
EOF
ct_exec "$name" systemctl reload dbus.service
rc=$(trim verify-denied.out --verify --policy=/root/rsyslog.conf)
check "properties refused: --verify does not say it holds (exit $rc)" grep -qx '[13]' <<<"$rc"
check "properties refused: --verify says what it could not read" \
        grep -Eq 'cannot (read its (ActiveState|LoadState)|ask the system manager what triggers it)' "$work/verify-denied.out"
rm -f "$root/etc/dbus-1/system.d/zz-deny-properties.conf"
ct_exec "$name" systemctl reload dbus.service
ct_exec "$name" systemctl unmask rsyslog.service syslog.socket >/dev/null 2>&1

# --- 3. The connection goes away between plan and apply.
printf '[Units]\nMask=cron.service man-db.timer avahi-daemon.service\nStop=yes\n' >"$root/root/avahi.conf"
ct_exec "$name" mkfifo /run/pause
ct_exec "$name" env DPUOS_TRIM_TEST_PAUSE=/run/pause "$bin" --policy=/root/avahi.conf >"$work/gone.out" 2>&1 &
runner=$!
for _ in $(seq 1 100); do
        ct_exec "$name" pgrep -x dpuos-trim >/dev/null && break
        sleep 0.1
done
sleep 1
check "bus gone: the run waits between plan and apply" ct_exec "$name" pgrep -x dpuos-trim
ct_exec "$name" systemctl daemon-reexec
ct_exec "$name" sh -c 'echo go >/run/pause'
rc=0
wait "$runner" || rc=$?
sed 's/^/  gone.out: /' "$work/gone.out" >&2
check "bus gone: exit 1 ($rc)" [ "$rc" = 1 ]
check "bus gone: nothing is reported done" [ "$(report | jq '.totals.done')" = 0 ]
check "bus gone: the failure is named" grep -q 'failed: units mask avahi-daemon.service' "$work/gone.out"
check "bus gone: avahi-daemon.service is not masked ($(enabled avahi-daemon.service))" differs masked "$(enabled avahi-daemon.service)"

# --- 4. The saved old values cannot be written.
ct_exec "$name" mkdir -p /var/lib/dpuos-trim/saved/sysctl.conf
before=$(ct_exec "$name" cat /proc/sys/net/core/somaxconn)
rc=$(trim saved.out --policy=/root/sysctl.conf)
check "saved values unwritable: exit 1 ($rc)" [ "$rc" = 1 ]
check "saved values unwritable: the live value is unchanged ($before)" same "$before" "$(ct_exec "$name" cat /proc/sys/net/core/somaxconn)"
check "saved values unwritable: nothing persisted" ct_exec "$name" test ! -e /etc/sysctl.d/90-dpuos-trim.conf
check "saved values unwritable: the report names the file" \
        grep -q 'saved/sysctl.conf' <<<"$(report | jq -r '.actions[] | select(.outcome == "failed") | .reason')"
rc=$(trim saved-verify.out --verify --policy=/root/sysctl.conf)
check "saved values unwritable: --verify does not say it holds ($rc)" [ "$rc" = 3 ]

# --- 5. The saved values are input: a key whose file would lie outside /proc/sys (here
# /proc/sys/../../tmp/victim) is never written to by --revert.
ct_exec "$name" rm -rf /var/lib/dpuos-trim/saved/sysctl.conf
ct_exec "$name" sh -c 'echo original >/tmp/victim'
ct_exec "$name" sh -c 'printf "//.//.tmp.victim = overwritten\n" >/var/lib/dpuos-trim/saved/sysctl.conf'
rc=$(trim revert.out --revert --only=sysctl)
check "a saved key outside /proc/sys: --revert exits 1 ($rc)" [ "$rc" = 1 ]
check "a saved key outside /proc/sys: the file there is untouched" \
        same original "$(ct_exec "$name" cat /tmp/victim)"
check "a saved key outside /proc/sys: the report names the file and line" \
        grep -q 'saved/sysctl.conf:1' <<<"$(report | jq -r '.actions[] | select(.outcome == "failed") | .target')"

ct_stop "$name" 60
rig_test_end
