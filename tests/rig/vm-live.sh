#!/usr/bin/env bash
# rig-vm-live: the live modules, sysctl and sysfs backends on a real Debian kernel under
# qemu. Boot 1: the agent unloads modules the cloud kernel loaded at boot (serio_raw,
# qemu_fw_cfg, and ip_tables with x_tables, its dependency that nothing uses after it) and
# blacklists them, sets a sysctl and a sysfs value; virtio_net, the NIC's driver, is asked
# for too and protected, with net_failover and failover that it needs; a policy that
# unloads virtio_blk (the root disk's driver: protected) and evdev (held open by logind:
# refused, in use) leaves both; a second run reports
# everything unchanged; --verify finds nothing, then a module loaded again and a sysctl
# written by hand. Boot 2: the blacklisted modules stay unloaded, `modprobe` of one
# fails, so does `modprobe btrfs` (a module with soft dependencies, whose install line
# libkmod would ignore) and `modprobe fs-squashfs` (an alias) loads nothing, and the sysctl and the sysfs value set by the agent hold; --revert puts the saved
# values back and leaves no file of its own. (The cloud kernel has no
# driver for an emulated CD-ROM, so sr_mod is not among them.)
#   vm-live.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs meson jq

rig_test_begin vm-live
image=$work/root.img

rig_test_root   # the test drives the agent: no first-boot run

cat >"$root/root/vm.conf" <<'POLICY'
[Policy]
Name=vm-live

[Modules]
Unload=serio_raw qemu_fw_cfg virtio_net ip_tables
Blacklist=serio_raw qemu_fw_cfg virtio_net net_failover failover ip_tables x_tables
# btrfs has soft dependencies (libkmod then ignores an install line), fs-squashfs is an alias.
Blacklist=btrfs fs-squashfs

[Sysctl]
vm.swappiness = 13

[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
POLICY
printf '[Modules]\nUnload=virtio_blk evdev\n' >"$root/root/busy.conf"

watched='serio_raw|qemu_fw_cfg|virtio_net|net_failover|failover|ip_tables|x_tables|evdev|virtio_blk'
cat >"$root/rig/test.sh" <<T
#!/bin/bash
loaded() { cut -d' ' -f1 /proc/modules | grep -xE '$watched' | sort | tr '\n' ' '; }
echo "before: \$(loaded)"
$bin --policy=/root/vm.conf; echo "run1: rc=\$?"
cp /var/lib/dpuos-trim/report.json /root/report-run1.json
echo "after: \$(loaded)"
$bin --policy=/root/vm.conf --policy=/root/busy.conf; echo "busy: rc=\$?"
cp /var/lib/dpuos-trim/report.json /root/report-busy.json
echo "after-busy: \$(loaded)"
$bin --policy=/root/vm.conf; echo "run2: rc=\$?"
cp /var/lib/dpuos-trim/report.json /root/report-run2.json
echo "swappiness: \$(cat /proc/sys/vm/swappiness)"
echo "thp: \$(cat /sys/kernel/mm/transparent_hugepage/enabled)"
$bin --verify --policy=/root/vm.conf; echo "verify-clean: rc=\$?"
modprobe --ignore-install serio_raw; sysctl -q -w vm.swappiness=20
$bin --verify --policy=/root/vm.conf >/root/verify-drift.out; echo "verify-drift: rc=\$?"
cat /root/verify-drift.out
$bin --policy=/root/vm.conf -q; $bin --verify --policy=/root/vm.conf -q; echo "verify-reapplied: rc=\$?"
T
chmod 755 "$root/rig/test.sh"

cat >"$work/boot2.sh" <<T
#!/bin/bash
echo "boot2: \$(cut -d' ' -f1 /proc/modules | grep -xE '$watched' | sort | tr '\n' ' ')"
modprobe serio_raw 2>&1; echo "modprobe: rc=\$?"
modprobe btrfs 2>&1; echo "modprobe-btrfs: rc=\$?"
modprobe fs-squashfs 2>&1; echo "modprobe-fs-squashfs: rc=\$?"
echo "boot2-btrfs-squashfs: \$(cut -d' ' -f1 /proc/modules | grep -xE 'btrfs|squashfs' | sort | tr '\n' ' ')"
echo "boot2-loaded: \$(cut -d' ' -f1 /proc/modules | grep -xE '$watched' | sort | tr '\n' ' ')"
echo "boot2-swappiness: \$(cat /proc/sys/vm/swappiness)"
echo "boot2-thp: \$(cat /sys/kernel/mm/transparent_hugepage/enabled)"
$bin --revert; echo "revert: rc=\$?"
echo "revert-swappiness: \$(cat /proc/sys/vm/swappiness)"
echo "revert-thp: \$(cat /sys/kernel/mm/transparent_hugepage/enabled)"
echo "revert-left: \$(ls /etc/modprobe.d/dpuos-trim.conf /etc/sysctl.d/90-dpuos-trim.conf /etc/tmpfiles.d/dpuos-trim.conf /var/lib/dpuos-trim/saved/*.conf 2>/dev/null | tr '\n' ' ')"
mkdir -p /root/empty.d; $bin --verify --policy=/root/empty.d; echo "verify-empty: rc=\$?"
T

vm_image "$root" "$image"
rm -rf "$root"

t0=$SECONDS
vm_boot "$image" "$work/serial1.log" >/dev/null
echo "boot 1 with the test took $((SECONDS - t0)) s"
out=$(vm_read "$image" /rig/result)
printf '%s\n' "$out"
field() { sed -n "s/^$1: //p" <<<"$out" | sed 's/ *$//'; }

before=$(field before)
for m in serio_raw qemu_fw_cfg virtio_net net_failover failover ip_tables x_tables evdev virtio_blk; do
        check "$m is loaded at boot" grep -qw "$m" <<<"$before"
done
check "the first run exits 0" [ "$(field run1)" = "rc=0" ]
check "the unloaded modules and their unused dependencies are gone from /proc/modules ($(field after))" \
        [ "$(field after)" = "evdev failover net_failover virtio_blk virtio_net" ]
r1=$(vm_read "$image" /root/report-run1.json)
check "x_tables went as ip_tables' unused dependency" \
        [ "$(jq -r '.actions[] | select(.action == "unload" and .target == "x_tables") | .reason' <<<"$r1")" = "dependency of ip_tables, unused after it" ]
for a in unload blacklist; do
        reason=$(jq -r --arg a $a '.actions[] | select(.action == $a and .target == "virtio_net") | "\(.outcome): \(.reason)"' <<<"$r1")
        check "the NIC's driver virtio_net is protected from $a ($reason)" grep -q "^protected: protected: the driver of the network controller" <<<"$reason"
done
reason=$(jq -r '.actions[] | select(.action == "blacklist" and .target == "net_failover") | "\(.outcome): \(.reason)"' <<<"$r1")
check "and so is net_failover, which it needs ($reason)" grep -q "^protected: protected: needed by virtio_net" <<<"$reason"
check "the unloading of virtio_blk is refused (exit 1)" [ "$(field busy)" = "rc=1" ]
rb=$(vm_read "$image" /root/report-busy.json)
reason=$(jq -r '.actions[] | select(.action == "unload" and .target == "evdev") | "\(.outcome): \(.reason)"' <<<"$rb")
check "evdev's refusal says why ($reason)" grep -q "^failed: in use" <<<"$reason"
reason=$(jq -r '.actions[] | select(.action == "unload" and .target == "virtio_blk") | "\(.outcome): \(.reason)"' <<<"$rb")
check "virtio_blk, the root disk's driver, is protected ($reason)" grep -q "^protected: protected: the file system of /" <<<"$reason"
check "virtio_blk and evdev are still loaded ($(field after-busy))" [ "$(field after-busy)" = "evdev failover net_failover virtio_blk virtio_net" ]
check "the second run exits 0" [ "$(field run2)" = "rc=0" ]
r2=$(vm_read "$image" /root/report-run2.json)
check "the second run has actions ($(jq '.actions | length' <<<"$r2"))" \
        [ "$(jq '.actions | length' <<<"$r2")" -gt 0 ]
check "the second run changes nothing" \
        [ "$(jq '[.actions[] | select(.outcome != "unchanged" and .outcome != "protected")] | length' <<<"$r2")" = 0 ]
jq -c '.actions[] | select(.outcome != "unchanged" and .outcome != "protected") | [.action, .target, .outcome, .reason]' <<<"$r2"
check "vm.swappiness is 13" [ "$(field swappiness)" = 13 ]
check "transparent hugepages are off" grep -q '\[never\]' <<<"$(field thp)"
saved=$(vm_read "$image" /var/lib/dpuos-trim/saved/sysctl.conf)
check "the old vm.swappiness is saved for a revert ($saved)" grep -qx 'vm.swappiness = 60' <<<"$saved"
thp_saved=$(vm_read "$image" /var/lib/dpuos-trim/saved/sysfs.conf | sed -n 's|^/sys/kernel/mm/transparent_hugepage/enabled = ||p')
check "the old transparent hugepage setting is saved ($thp_saved)" [ -n "$thp_saved" ]
check "a clean system verifies (exit 0)" [ "$(field verify-clean)" = "rc=0" ]
check "a module loaded again and a sysctl written by hand are drift (exit 3)" [ "$(field verify-drift)" = "rc=3" ]
check "serio_raw is listed as loaded" grep -Eq '^modules +serio_raw +loaded' <<<"$out"
check "vm.swappiness is listed with both values" grep -Eq '^sysctl +vm\.swappiness +differs +live 20, policy 13' <<<"$out"
check "after applying again the system verifies" [ "$(field verify-reapplied)" = "rc=0" ]

vm_put "$image" "$work/boot2.sh" /rig/test.sh 0755
t0=$SECONDS
vm_boot "$image" "$work/serial2.log" >/dev/null
echo "boot 2 took $((SECONDS - t0)) s"
out=$(vm_read "$image" /rig/result)
printf '%s\n' "$out"
# virtio_net and its dependencies are protected and load at boot; the blacklisted ones stay
# out.
check "after the reboot the blacklisted modules outside the initramfs are absent ($(field boot2))" \
        [ "$(field boot2)" = "evdev failover net_failover virtio_blk virtio_net" ]
check "modprobe serio_raw fails after the reboot ($(field modprobe))" grep -Eqx 'rc=[1-9][0-9]*' <<<"$(field modprobe)"
check "modprobe btrfs (soft dependencies) fails after the reboot ($(field modprobe-btrfs))" \
        grep -Eqx 'rc=[1-9][0-9]*' <<<"$(field modprobe-btrfs)"
check "and neither btrfs nor squashfs is loaded ($(field boot2-btrfs-squashfs))" [ -z "$(field boot2-btrfs-squashfs)" ]
check "and serio_raw is still not loaded" [ "$(field boot2-loaded)" = "evdev failover net_failover virtio_blk virtio_net" ]
check "vm.swappiness is 13 after the reboot" [ "$(field boot2-swappiness)" = 13 ]
check "transparent hugepages are off after the reboot" grep -q '\[never\]' <<<"$(field boot2-thp)"
check "--revert exits 0" [ "$(field revert)" = "rc=0" ]
check "vm.swappiness is back to the saved 60 ($(field revert-swappiness))" [ "$(field revert-swappiness)" = 60 ]
check "transparent hugepages are back to the saved setting ($(field revert-thp))" [ "$(field revert-thp)" = "$thp_saved" ]
check "the boot-2 script got as far as listing what --revert left" grep -q '^revert-left:' <<<"$out"
check "no modprobe.d, sysctl.d, tmpfiles.d or saved file is left ($(field revert-left))" [ -z "$(field revert-left)" ]
check "--verify with an empty policy finds nothing of dpuos-trim left" [ "$(field verify-empty)" = "rc=0" ]

rig_test_end
