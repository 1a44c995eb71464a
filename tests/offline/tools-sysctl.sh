#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sysctl.d file the agent writes, applied by systemd-sysctl, the tool that reads it at
# boot. systemd-sysctl has no --root and always writes /proc/sys, so it runs in a private
# mount namespace where /proc/sys is a tmpfs holding fake keys: the host is never touched.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "a private mount namespace over /proc/sys"
need_tool unshare

sysctl_bin=
for d in "$(pkg-config --variable=systemdutildir systemd 2>/dev/null || true)" /usr/lib/systemd /lib/systemd; do
        if [[ -n $d && -x $d/systemd-sysctl ]]; then
                sysctl_bin=$d/systemd-sysctl
                break
        fi
done
[[ -n $sysctl_bin ]] || skip "systemd-sysctl is not installed"

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 50-sysctl.conf <<'EOF'
[Sysctl]
vm.swappiness = 10
kernel/sysrq = 0
net/ipv4/conf/eth0.100/rp_filter = 2
kernel.printk = 4 4 1 7
net.ipv4.ip_local_port_range = 32768 60999
# Not present on this kernel: the '-' must keep systemd-sysctl from failing.
-net.core.bpf_jit_harden = 1
EOF

run_trim
expect_eq "apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || sed 's/^/    stderr: /' "$ERR"

# The fake /proc/sys: the keys the policy sets, with other values, and not the optional one.
cat >"$SCRATCH/in-namespace.sh" <<'EOF'
set -euo pipefail
sysctl_bin=$1 conf=$2 result=$3
mount -t tmpfs -o size=1m dpuos-trim-test /proc/sys
# Never let the tool near the real /proc/sys.
[[ $(stat -f -c %T /proc/sys) == tmpfs ]] || exit 99
mkdir -p /proc/sys/vm /proc/sys/kernel /proc/sys/net/ipv4/conf/eth0.100 /proc/sys/net/core
echo 60 >/proc/sys/vm/swappiness
echo 1 >/proc/sys/kernel/sysrq
echo 0 >/proc/sys/net/ipv4/conf/eth0.100/rp_filter
echo '7 4 1 7' >/proc/sys/kernel/printk
echo '1024 4999' >/proc/sys/net/ipv4/ip_local_port_range
rc=0
"$sysctl_bin" "$conf" >"$result.log" 2>&1 || rc=$?
echo "$rc" >"$result.rc"
cd /proc/sys
for k in vm/swappiness kernel/sysrq net/ipv4/conf/eth0.100/rp_filter kernel/printk net/ipv4/ip_local_port_range; do
        printf '%s=%s\n' "$k" "$(cat "$k")"
done >"$result"
[[ -e net/core/bpf_jit_harden ]] && echo "net/core/bpf_jit_harden created" >>"$result"
exit 0
EOF

host_swappiness=$(cat /proc/sys/vm/swappiness)
ns_rc=0
unshare --mount --propagation private bash "$SCRATCH/in-namespace.sh" \
        "$sysctl_bin" "$ROOT/etc/sysctl.d/90-dpuos-trim.conf" "$SCRATCH/result" 2>"$SCRATCH/ns.err" || ns_rc=$?
[[ $ns_rc -eq 0 ]] || skip "cannot set up a private /proc/sys (status $ns_rc): $(cat "$SCRATCH/ns.err")"

expect_eq "systemd-sysctl applies the file with status 0" 0 "$(cat "$SCRATCH/result.rc")"
expect_eq "systemd-sysctl has no complaint about the file" "" "$(cat "$SCRATCH/result.log")"
expect_eq "systemd-sysctl wrote every value, '/'-style keys included" \
"vm/swappiness=10
kernel/sysrq=0
net/ipv4/conf/eth0.100/rp_filter=2
kernel/printk=4 4 1 7
net/ipv4/ip_local_port_range=32768 60999" "$(cat "$SCRATCH/result")"
expect_eq "the host's vm.swappiness is unchanged" "$host_swappiness" "$(cat /proc/sys/vm/swappiness)"

finish
