#!/usr/bin/env bash
# rig-container-metrics: the metrics reach Prometheus the way an operator's would. The
# container (a real systemd as PID 1) gets Debian's prometheus-node-exporter, installed
# from the package fetched on this machine; an application and the hardened
# dpuos-trim-verify.service (--verify, as the daily timer runs it) write
# dpuos-trim.prom into its textfile directory, and a real node exporter there serves them
# over HTTP: the status, the actions and the drift as the runs left them, with no textfile
# scrape error; the host's promtool passes the file.
#   ct-metrics.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson apt-get promtool

rig_test_begin ct-metrics
name=$RIG_CT
rig_test_root   # the test drives the agent: no first-boot run

# The node exporter, fetched on this machine (same Debian release): the container has no
# network of its own to fetch it.
(cd "$root/root" && apt-get download -q prometheus-node-exporter >/dev/null 2>&1) ||
        (apt-get update -q >/dev/null && cd "$root/root" && apt-get download -q prometheus-node-exporter >/dev/null) ||
        { echo "cannot download prometheus-node-exporter from the Debian mirror" >&2; exit 1; }
deb=$(cd "$root/root" && ls prometheus-node-exporter_*.deb)
chroot "$root" env DEBIAN_FRONTEND=noninteractive dpkg -i "/root/$deb" >"$work/dpkg.log" 2>&1 ||
        { cat "$work/dpkg.log" >&2; echo "dpkg -i $deb failed in the root" >&2; exit 1; }
check "the node exporter's textfile directory exists" [ -d "$root/var/lib/prometheus/node-exporter" ]

# The test's policy alone on the search path, which the verify service reads.
rm -f "$root"/usr/lib/dpuos-trim/policy.d/*.conf
mkdir -p "$root/etc/dpuos-trim/policy.d"
cat >"$root/etc/dpuos-trim/policy.d/50-metrics.conf" <<'POLICY'
[Policy]
Name=container-metrics

[Units]
Mask=man-db.timer
Stop=yes

[Files]
Remove=/usr/share/doc/**
Keep=/usr/share/doc/**/copyright
POLICY

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null
trim() { ct_exec "$name" "$bin" "$@"; }

rc=0
trim >"$work/apply.out" 2>&1 || rc=$?
check "apply in the container: exit 0" [ "$rc" = 0 ]
# --verify as the daily timer runs it: the hardened dpuos-trim-verify.service.
rc=0
ct_exec "$name" systemctl start dpuos-trim-verify.service >"$work/verify.out" 2>&1 || rc=$?
check "dpuos-trim-verify.service in the container succeeds" [ "$rc" = 0 ]
check "and it wrote the drift families" \
        ct_exec "$name" grep -q '^dpuos_trim_drift_items' /var/lib/prometheus/node-exporter/dpuos-trim.prom

prom=$(ct_exec "$name" cat /var/lib/prometheus/node-exporter/dpuos-trim.prom)
if printf '%s\n' "$prom" | promtool check metrics >"$work/promtool.out" 2>&1; then
        ok "promtool check metrics passes the file the runs wrote"
else
        not_ok "promtool check metrics passes the file the runs wrote"
        sed 's/^/  promtool: /' "$work/promtool.out"
fi

# A node exporter of this test's own on a port of its own, with the textfile collector
# pointed at the directory explicitly (whatever the package's defaults are).
ct_exec "$name" systemd-run --quiet --unit=rig-node-exporter /usr/bin/prometheus-node-exporter \
        --web.listen-address=127.0.0.1:9199 --collector.textfile.directory=/var/lib/prometheus/node-exporter
scrape() { # the exporter's /metrics over HTTP/1.0, from inside the container
        ct_exec "$name" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9199 &&
                printf "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3' 2>/dev/null
}
metrics=""
for _ in $(seq 60); do
        metrics=$(scrape || true)
        grep -q '^dpuos_trim_' <<<"$metrics" && break
        sleep 1
done
printf '%s\n' "$metrics" | grep -E '^(dpuos_trim_status|dpuos_trim_drift_items|node_textfile)' | sed 's/^/  scraped: /'
has() { grep -qxF -- "$1" <<<"$metrics"; }
check "the node exporter serves dpuos_trim_status{status=\"done\"} 1" has 'dpuos_trim_status{status="done"} 1'
check "and the drift of the --verify: none" has 'dpuos_trim_drift_items{what="drift"} 0'
units_done=$(awk '$1 == "dpuos_trim_actions{kind=\"units\",outcome=\"done\"}" { print $2 }' <<<"$metrics")
check "and the units masked (${units_done:-none} done)" [ "${units_done:-0}" -ge 1 ]
check "and the policy" grep -q '^dpuos_trim_policy_info{.*name="container-metrics"' <<<"$metrics"
check "the textfile collector read the file without error" has 'node_textfile_scrape_error 0'
ct_stop "$name"

rig_test_end
