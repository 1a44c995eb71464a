#!/usr/bin/env bash
# rig-container-verify: --verify, --revert and PreventReinstall= on a live system (a real
# systemd as PID 1 in systemd-nspawn, with a network namespace of its own, so net.* sysctls
# are live). After an application --verify finds nothing (exit 0); drift injected by hand
# in each kind the container has (a unit unmasked, a sysctl written, a removed file back, a
# blacklist line edited out) is each found (exit 3), listed, and logged to the journal
# under the verify MESSAGE_ID, also by the hardened dpuos-trim-verify.service; applying
# again converges. `apt-get install --reinstall` of
# a package whose documentation was removed leaves it removed. --revert then takes back
# every mask dpuos-trim made (not the administrator's), removes its modprobe.d, sysctl.d,
# tmpfiles.d and dpkg files, writes the saved sysctl values back, and --verify with an
# empty policy finds nothing left. (Modules loaded again are drift on a real kernel: see
# vm-live.sh.)
#   ct-verify.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson jq apt-get

rig_test_begin ct-verify
name=$RIG_CT

rig_test_root   # the test drives the agent: no first-boot run

# The package to reinstall, fetched on this machine (same Debian release): the container
# has no network.
(cd "$root/root" && apt-get download -q less >/dev/null 2>&1) ||
        (apt-get update -q >/dev/null && cd "$root/root" && apt-get download -q less >/dev/null) ||
        { echo "cannot download the less package from the Debian mirror" >&2; exit 1; }
deb=$(cd "$root/root" && ls less_*.deb)

mkdir -p "$root/root/empty.d"
cat >"$root/root/verify.conf" <<'POLICY'
[Policy]
Name=container-verify

[Units]
Mask=man-db.timer avahi-daemon.service
# Masked by the administrator before the first run: never taken back by --revert.
Mask=fstrim.timer
Stop=yes

[Modules]
Blacklist=serio_raw

[Sysctl]
net.core.somaxconn = 1024
net.ipv4.conf.all.accept_redirects = 0

[Files]
Remove=/usr/share/doc/** /usr/share/man/**
Keep=/usr/share/doc/**/copyright
PreventReinstall=yes
POLICY

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null

trim() { ct_exec "$name" "$bin" "$@"; }
sysctl_get() { ct_exec "$name" cat "/proc/sys/$(tr . / <<<"$1")"; }
verify() { # NAME [ARGS...]: runs --verify, keeps its output in $work/NAME.out, echoes the exit status
        local out=$1 rc=0
        shift
        trim --verify "$@" >"$work/$out.out" 2>&1 || rc=$?
        sed "s/^/  $out: /" "$work/$out.out" >&2
        echo "$rc"
}

ct_exec "$name" systemctl mask fstrim.timer >/dev/null 2>&1
somaxconn_before=$(sysctl_get net.core.somaxconn)
redirects_before=$(sysctl_get net.ipv4.conf.all.accept_redirects)
echo "before: net.core.somaxconn=$somaxconn_before accept_redirects=$redirects_before"
check "the sysctls differ from the policy before the run" [ "$somaxconn_before" != 1024 ]

rc=0
trim --policy=/root/verify.conf >"$work/apply.out" 2>&1 || rc=$?
cat "$work/apply.out"
check "the application exits 0" [ "$rc" = 0 ]
check "a clean system verifies (exit 0)" [ "$(verify clean --policy=/root/verify.conf)" = 0 ]

# Drift, one kind at a time; each is found alone, then all together.
ct_exec "$name" systemctl unmask man-db.timer >/dev/null 2>&1
check "an unmasked unit is drift (exit 3)" [ "$(verify unit --policy=/root/verify.conf)" = 3 ]
check "and it is named: man-db.timer not masked" grep -Eq '^units +man-db\.timer +not masked' "$work/unit.out"
ct_exec "$name" systemctl mask man-db.timer >/dev/null 2>&1

ct_exec "$name" sysctl -q -w net.core.somaxconn=2048
check "a sysctl written by hand is drift (exit 3)" [ "$(verify sysctl --policy=/root/verify.conf)" = 3 ]
check "and it is named with both values" grep -Eq '^sysctl +net\.core\.somaxconn +differs +live 2048, policy 1024' "$work/sysctl.out"
ct_exec "$name" sysctl -q -w net.core.somaxconn=1024

ct_exec "$name" sh -c 'mkdir -p /usr/share/doc/less && echo back >/usr/share/doc/less/README'
check "a removed file back is drift (exit 3)" [ "$(verify file --policy=/root/verify.conf)" = 3 ]
check "and it is named: /usr/share/doc/** present, 1 file" grep -Eq '^files +/usr/share/doc/\*\* +present .* 1 files' "$work/file.out"

ct_exec "$name" sed -i '/serio_raw/d' /etc/modprobe.d/dpuos-trim.conf
ct_exec "$name" systemctl unmask man-db.timer >/dev/null 2>&1
ct_exec "$name" sysctl -q -w net.core.somaxconn=2048
check "all drift together (exit 3)" [ "$(verify all --policy=/root/verify.conf)" = 3 ]
check "the blacklist lines edited out are drift" grep -Eq '^modules +serio_raw +not blacklisted' "$work/all.out"
json=$(trim --verify --json --policy=/root/verify.conf || true)
check "--verify --json counts 4 drifted items ($(jq .drift <<<"$json"))" [ "$(jq .drift <<<"$json")" = 4 ]
ct_exec "$name" journalctl --sync
entry=$(ct_exec "$name" journalctl -o json -n 1 MESSAGE_ID=cea0112747fb458c85c385aa314ff1df)
check "the journal has the verify entry with DPUOS_TRIM_DRIFT=4 ($(jq -r .DPUOS_TRIM_DRIFT <<<"$entry"))" \
        [ "$(jq -r .DPUOS_TRIM_DRIFT <<<"$entry")" = 4 ]
check "and one DPUOS_TRIM_DRIFT_ITEM= per item" \
        [ "$(jq '.DPUOS_TRIM_DRIFT_ITEM | length' <<<"$entry")" = 4 ]

# The daily check, as the timer starts it: hardened, as nobody, drift is not a failure.
# The service reads the search path: this test's policy, with the shipped drop-ins
# disabled the way a vendor would, by links to /dev/null of the same names.
ct_exec "$name" sh -c 'mkdir -p /etc/dpuos-trim/policy.d && cd /etc/dpuos-trim/policy.d &&
        for f in /usr/lib/dpuos-trim/policy.d/*.conf; do ln -s /dev/null "${f##*/}"; done &&
        cp /root/verify.conf 50-verify.conf'
ct_exec "$name" systemctl enable --quiet --now dpuos-trim-verify.timer
check "dpuos-trim-verify.timer is active" [ "$(ct_exec "$name" systemctl is-active dpuos-trim-verify.timer)" = active ]
ct_exec "$name" systemctl start dpuos-trim-verify.service || true
show=$(ct_exec "$name" systemctl show -p Result -p ExecMainStatus dpuos-trim-verify.service | sort | tr '\n' ' ')
check "dpuos-trim-verify.service ends with its drift status 3, not failed ($show)" \
        [ "$show" = "ExecMainStatus=3 Result=success " ]
ct_exec "$name" journalctl --sync
entry=$(ct_exec "$name" journalctl -o json -n 1 _SYSTEMD_UNIT=dpuos-trim-verify.service MESSAGE_ID=cea0112747fb458c85c385aa314ff1df)
jq -r '.DPUOS_TRIM_DRIFT_ITEM[]?' <<<"$entry"
check "the service logged the drift entry ($(jq -r .MESSAGE <<<"$entry"))" [ "$(jq -r .DPUOS_TRIM_DRIFT <<<"$entry")" = 4 ]
ct_exec "$name" systemctl disable --quiet --now dpuos-trim-verify.timer
ct_exec "$name" sh -c 'rm /etc/dpuos-trim/policy.d/*.conf'

trim --policy=/root/verify.conf -q
check "applying again converges: verify exits 0" [ "$(verify again --policy=/root/verify.conf)" = 0 ]

# A value the kernel refuses when it is written (the port range's upper end is beyond 65535)
# is a failed action, and is not persisted for every boot.
printf '[Sysctl]\nnet.ipv4.ip_local_port_range = 70000 80000\n' >"$root/root/einval.conf"
port_range_before=$(sysctl_get net.ipv4.ip_local_port_range)
rc=0
trim --policy=/root/einval.conf --only=sysctl >"$work/einval.out" 2>&1 || rc=$?
check "a value the kernel refuses: exit 1 ($rc)" [ "$rc" = 1 ]
check "a value the kernel refuses: the failure says so" grep -q 'ip_local_port_range: .*the kernel refused the value' "$work/einval.out"
check "a value the kernel refuses: the live value is unchanged" \
        same "$port_range_before" "$(sysctl_get net.ipv4.ip_local_port_range)"
check "a value the kernel refuses: it is not persisted" \
        test -z "$(ct_exec "$name" grep ip_local_port_range /etc/sysctl.d/90-dpuos-trim.conf || true)"
trim --policy=/root/verify.conf -q

# Updates do not bring the documentation back.
echo "--- /etc/dpkg/dpkg.cfg.d/dpuos-trim"
ct_exec "$name" cat /etc/dpkg/dpkg.cfg.d/dpuos-trim
rc=0
ct_exec "$name" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "/root/$deb" \
        >"$work/apt.out" 2>&1 || rc=$?
tail -n 3 "$work/apt.out"
check "apt-get install --reinstall $deb succeeds" [ "$rc" = 0 ]
check "the package is installed ($(ct_exec "$name" dpkg-query -W -f='${Status}' less))" \
        [ "$(ct_exec "$name" dpkg-query -W -f='${Status}' less)" = "install ok installed" ]
docs=$(ct_exec "$name" find /usr/share/doc/less -mindepth 1 | sort | tr '\n' ' ')
check "its /usr/share/doc holds only the copyright ($docs)" [ "$docs" = "/usr/share/doc/less/copyright " ]
check "its manual page was not installed again" ct_exec "$name" test ! -e /usr/share/man/man1/less.1.gz
check "its program was ($(ct_exec "$name" sh -c 'command -v less'))" ct_exec "$name" test -x /usr/bin/less
check "after the reinstall the system still verifies (exit 0)" [ "$(verify reinstall --policy=/root/verify.conf)" = 0 ]

# Revert.
rc=0
trim --revert >"$work/revert.out" 2>&1 || rc=$?
cat "$work/revert.out"
check "--revert exits 0" [ "$rc" = 0 ]
check "--revert says the removed files stay removed" grep -q "Removed files stay removed" "$work/revert.out"
for u in man-db.timer avahi-daemon.service avahi-daemon.socket; do
        state=$(ct_exec "$name" systemctl is-enabled "$u" || true)
        check "$u is no longer masked ($state)" differs "$state" masked
done
state=$(ct_exec "$name" systemctl is-enabled fstrim.timer || true)
check "the administrator's own mask of fstrim.timer stays ($state)" [ "$state" = masked ]
for f in /etc/modprobe.d/dpuos-trim.conf /etc/sysctl.d/90-dpuos-trim.conf /etc/tmpfiles.d/dpuos-trim.conf \
        /etc/dpkg/dpkg.cfg.d/dpuos-trim /var/lib/dpuos-trim/saved/masked-units /var/lib/dpuos-trim/saved/sysctl.conf; do
        check "$f is gone" ct_exec "$name" test ! -e "$f"
done
masks=$(ct_exec "$name" find /etc/systemd/system -maxdepth 1 -lname /dev/null | sort | tr '\n' ' ')
check "the only mask left is the administrator's ($masks)" [ "$masks" = "/etc/systemd/system/fstrim.timer " ]
check "net.core.somaxconn is back to $somaxconn_before" [ "$(sysctl_get net.core.somaxconn)" = "$somaxconn_before" ]
check "accept_redirects is back to $redirects_before" \
        [ "$(sysctl_get net.ipv4.conf.all.accept_redirects)" = "$redirects_before" ]
check "--verify with an empty policy finds nothing of dpuos-trim left (exit 0)" \
        [ "$(verify empty --policy=/root/empty.d)" = 0 ]
check "a second --revert has nothing to do" \
        [ "$(trim --revert --json | jq .totals.done)" = 0 ]

ct_stop "$name" 60
rig_test_end
