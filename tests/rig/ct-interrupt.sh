#!/usr/bin/env bash
# rig-container-interrupt: a run killed with SIGKILL at any point, then started again, ends
# exactly where an uninterrupted run ends. In a container with systemd as PID 1, the agent
# applies a policy of every kind that can act there (unit masks and stops over D-Bus, a
# module blacklist, a sysctl of the container's network namespace, removal of the real
# docs, man pages and locales) and is killed at 12 points spread over its run (through
# DPUOS_TRIM_TEST_KILL_AT, at action boundaries and inside the file removal), each time
# from the same starting state; the state after the next run must equal a clean run's:
# the trees, the masks and unit states, the three configuration files, the sysctl, and the
# report's actions (done or unchanged).
#   ct-interrupt.sh BUILD_DIR
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

rig_test_begin ct-interrupt
name=$RIG_CT

rig_test_root   # the test drives the agent: no first-boot run

units="apt-daily.service dpkg-db-backup.service man-db.service logrotate.service fstrim.service e2scrub_all.service cron.service"
all_units="$units apt-daily.timer dpkg-db-backup.timer man-db.timer logrotate.timer fstrim.timer e2scrub_all.timer"
cat >"$root/root/policy.conf" <<POLICY
[Policy]
Name=interrupt

[Units]
Mask=$units
Stop=yes

[Modules]
Blacklist=sr_mod cdrom serio_raw evdev

[Sysctl]
net.ipv4.icmp_echo_ignore_broadcasts = 0

[Files]
Remove=/usr/share/doc/** /usr/share/man/** /usr/share/locale/**
Keep=/usr/share/doc/*/copyright /usr/share/locale/locale.alias
POLICY

# The starting state, restored before every run.
cat >"$root/root/reset.sh" <<RESET
set -e
rm -rf /usr/share/doc /usr/share/man /usr/share/locale
tar -C / -xf /root/snapshot.tar
systemctl unmask --quiet $all_units
systemctl reset-failed --quiet $all_units 2>/dev/null || true
systemctl start --quiet timers.target cron.service $(echo $all_units | tr ' ' '\n' | grep timer | tr '\n' ' ')
rm -f /etc/modprobe.d/dpuos-trim.conf /etc/sysctl.d/90-dpuos-trim.conf /etc/tmpfiles.d/dpuos-trim.conf
rm -rf /var/lib/dpuos-trim
sysctl -q -w net.ipv4.icmp_echo_ignore_broadcasts=1
RESET

# What a run leaves that matters, in one comparable text.
cat >"$root/root/state.sh" <<STATE
set -e
echo "tree \$(find /usr/share/doc /usr/share/man /usr/share/locale -printf '%p %y %s %l\n' 2>/dev/null | sort | sha256sum)"
for u in $all_units; do echo "\$u \$(systemctl is-enabled \$u 2>&1) \$(systemctl is-active \$u 2>&1)"; done
for f in /etc/modprobe.d/dpuos-trim.conf /etc/sysctl.d/90-dpuos-trim.conf /etc/tmpfiles.d/dpuos-trim.conf; do
        if [ -f \$f ]; then echo "\$f \$(sha256sum <\$f)"; else echo "\$f absent"; fi
done
echo "leftovers \$(find /etc /var/lib/dpuos-trim -name '.#*' | wc -l)"
echo "sysctl \$(sysctl -n net.ipv4.icmp_echo_ignore_broadcasts)"
STATE

# The state inside, plus the report's actions as done-or-unchanged (jq runs on the host).
state() {
        ct_exec "$name" bash /root/state.sh
        ct_exec "$name" cat /var/lib/dpuos-trim/report.json | jq -c '
                ([.actions[] | {kind, action, target,
                   ok: (.outcome == "done" or .outcome == "unchanged" or .outcome == "skipped" or .outcome == "protected")}]
                 | sort_by(.kind, .action, .target)), "failed \(.totals.failed)"'
}

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null
ct_exec "$name" tar -C / -cf /root/snapshot.tar usr/share/doc usr/share/man usr/share/locale
ct_exec "$name" bash /root/reset.sh

# The reference: one clean run.
ct_exec "$name" "$bin" --policy=/root/policy.conf
state >"$work/reference"
report=$(ct_exec "$name" cat /var/lib/dpuos-trim/report.json)
[ "$(jq .totals.failed <<<"$report")" = 0 ] || { echo "FAIL: the clean run has failed actions"; jq '.actions[] | select(.outcome == "failed")' <<<"$report"; exit 1; }
steps=$(jq '.totals.done + .totals.files_removed + .totals.dirs_removed' <<<"$report")
echo "a clean run takes $steps steps ($(jq .totals.done <<<"$report") actions done, $(jq .totals.files_removed <<<"$report") files and $(jq .totals.dirs_removed <<<"$report") directories removed)"

# Twelve points: each early action boundary (masks, stops, blacklist, sysctl) and spread
# through the file removal.
points=(1 2 3 5 8 13 21 34 $((steps / 10)) $((steps * 3 / 10)) $((steps * 6 / 10)) $((steps * 9 / 10)))
killed=0
for k in "${points[@]}"; do
        ct_exec "$name" bash /root/reset.sh
        rc=0
        ct_exec "$name" env DPUOS_TRIM_TEST_KILL_AT="$k" "$bin" --policy=/root/policy.conf -q || rc=$?
        if [ "$rc" = 137 ]; then
                killed=$((killed + 1))
        else
                not_ok "kill point $k: the run was not killed (exit $rc)"
                continue
        fi
        rc=0
        ct_exec "$name" "$bin" --policy=/root/policy.conf -q || rc=$?
        state >"$work/state-$k"
        if [ "$rc" = 0 ] && diff -u "$work/reference" "$work/state-$k" >"$work/diff-$k"; then
                ok "killed at step $k of $steps, the next run (exit $rc) converged"
        else
                cat "$work/diff-$k"
                not_ok "killed at step $k of $steps, the next run (exit $rc) ended elsewhere (diff above)"
        fi
done

ct_stop "$name" 60
check "at least 10 runs were killed ($killed)" [ "$killed" -ge 10 ]
rig_test_end
