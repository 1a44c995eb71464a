#!/usr/bin/env bash
# rig-container-live: the live units backend against a real systemd as PID 1, in
# systemd-nspawn. A policy masks real Debian units (timers and services with their
# triggers, a running service with Stop=yes, a glob with a kept unit); then every unit is
# masked and inactive, its triggers masked too, exactly one daemon reload came from the
# run, the kept unit is untouched, and a second run reports everything unchanged. Also
# prints `systemd-analyze security` for the first-boot unit.
#   ct-live.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson jq

rig_test_begin ct-live
name=$RIG_CT

rig_test_root   # the test drives the agent: no first-boot run

cat >"$root/root/live.conf" <<'POLICY'
[Policy]
Name=container-live

[Units]
# Timers' services: their timers must be masked with them (TriggeredBy=).
Mask=apt-daily.service apt-daily-upgrade.service dpkg-db-backup.service
Mask=man-db.service logrotate.service fstrim.service
# A glob, with one of its matches kept.
Mask=e2scrub*
Keep=e2scrub_reap.service
# Running services, stopped with Stop=yes.
Mask=cron.service avahi-daemon.service
Stop=yes
POLICY

masked=(apt-daily.service apt-daily.timer apt-daily-upgrade.service apt-daily-upgrade.timer
        dpkg-db-backup.service dpkg-db-backup.timer man-db.service man-db.timer
        logrotate.service logrotate.timer fstrim.service fstrim.timer
        e2scrub_all.service e2scrub_all.timer e2scrub@.service e2scrub_fail@.service
        cron.service avahi-daemon.service avahi-daemon.socket)

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null

kept_before=$(ct_exec "$name" systemctl is-enabled e2scrub_reap.service || true)
cron_before=$(ct_exec "$name" systemctl is-active cron.service || true)
timer_before=$(ct_exec "$name" systemctl is-active apt-daily.timer || true)
echo "before: e2scrub_reap.service $kept_before, cron.service $cron_before, apt-daily.timer $timer_before"
check "cron.service runs before the agent" [ "$cron_before" = active ]

# systemd 252 logs "Reloading." once per daemon reload.
reloads_logged() {
        ct_exec "$name" journalctl --sync
        ct_exec "$name" journalctl -b _PID=1 -o cat | grep -c '^Reloading\.$' || true
}
reloads_before=$(reloads_logged)
t0=$(date +%s.%N)
rc=0
ct_exec "$name" "$bin" --policy=/root/live.conf >"$work/run1.out" 2>&1 || rc=$?
t1=$(date +%s.%N)
cat "$work/run1.out"
echo "first run: exit $rc in $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s"
check "the first run exits 0" [ "$rc" = 0 ]

for u in "${masked[@]}"; do
        state=$(ct_exec "$name" systemctl is-enabled "$u" || true)
        check "$u is masked ($state)" [ "$state" = masked ]
        case $u in *@.service) continue ;; esac
        active=$(ct_exec "$name" systemctl is-active "$u" || true)
        check "$u is inactive ($active)" [ "$active" = inactive ]
done

kept_after=$(ct_exec "$name" systemctl is-enabled e2scrub_reap.service || true)
check "the kept e2scrub_reap.service is untouched ($kept_before -> $kept_after)" same "$kept_after" "$kept_before"

reloads=$(($(reloads_logged) - reloads_before))
check "exactly one daemon reload during the run ($reloads)" [ "$reloads" = 1 ]

report=$(ct_exec "$name" cat /var/lib/dpuos-trim/report.json)
done_masks=$(jq '[.actions[] | select(.action == "mask" and .outcome == "done")] | length' <<<"$report")
check "the report lists ${#masked[@]} masks done ($done_masks)" [ "$done_masks" = "${#masked[@]}" ]
check "the report has no failed action" [ "$(jq .totals.failed <<<"$report")" = 0 ]
check "the report names the trigger of apt-daily.service" \
        [ "$(jq -r '.actions[] | select(.target == "apt-daily.timer" and .action == "mask") | .reason' <<<"$report")" = "triggers apt-daily.service" ]

# The same policy again: nothing to do.
rc=0
ct_exec "$name" "$bin" --policy=/root/live.conf >"$work/run2.out" 2>&1 || rc=$?
cat "$work/run2.out"
report2=$(ct_exec "$name" cat /var/lib/dpuos-trim/report.json)
check "the second run exits 0" [ "$rc" = 0 ]
check "the second run changes nothing (done = $(jq .totals.done <<<"$report2"))" [ "$(jq .totals.done <<<"$report2")" = 0 ]
check "the second run reports every action unchanged" \
        [ "$(jq '[.actions[] | select(.outcome != "unchanged" and .outcome != "skipped")] | length' <<<"$report2")" = 0 ]
check "the second run reports the ${#masked[@]} masks unchanged" \
        [ "$(jq '[.actions[] | select(.action == "mask" and .outcome == "unchanged")] | length' <<<"$report2")" = "${#masked[@]}" ]

echo "--- systemd-analyze security dpuos-trim.service (inside the container)"
ct_exec "$name" systemd-analyze security dpuos-trim.service --no-pager | tee "$work/security.out" | tail -n 3
exposure=$(sed -n 's/.*Overall exposure level for dpuos-trim.service: \([0-9.]*\).*/\1/p' "$work/security.out")
echo "exposure: ${exposure:-unknown}"
check "systemd-analyze rates the unit's exposure ($exposure) at 6.0 or lower" \
        awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 6.0) }'
# The figure the README gives is the one measured here.
readme_exposure=$(sed -n 's/.*`systemd-analyze security` exposure is \([0-9.]*[0-9]\).*/\1/p' "$RIG_SRC_DIR/README.md")
check "the README's exposure figure (${readme_exposure:-none}) is the measured one ($exposure)" \
        same "$readme_exposure" "$exposure"

ct_stop "$name" 60
rig_test_end
