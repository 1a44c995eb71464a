#!/usr/bin/env bash
# rig-vm-disk-smoke: the VM rig's disk images work (vm_disk_image in lib.sh). Builds (or
# reuses) the generic root (RIG_IMAGE=generic unless set: it has grub-pc), makes a disk image
# with GRUB on it and boots it from its disk four times; the boot-time test script prints
# /proc/cmdline and does what the step (rig.step=N, passed through grubenv) says:
#   boot 1: GRUB booted it (BOOT_IMAGE=, which only a bootloader sets; GRUB's own
#           "Loading Linux" on the serial port), the rig's arguments and the grubenv word
#           are on the command line (/rig/result, read back with vm_read, and the serial
#           log) and kdump-tools's crashkernel= is not; it powered off. Then, on the host,
#           an initramfs hook that prints a mark is put into the image (vm_put) and
#           vm_rebuild_initramfs rebuilds the initramfs;
#   boot 2: the mark is on the console (GRUB booted the rebuilt initramfs); the script
#           writes /etc/default/grub.d/50-test.cfg adding an argument, runs update-grub
#           and `systemctl reboot`: vm_last_shutdown must say reboot, and grub.cfg read
#           back from the image has the argument;
#   boot 3: the argument is on /proc/cmdline, and the guest powered off;
#   boot 4: a power cut (vm_kill) once the test script has started: vm_last_shutdown says
#           none, vm_fsck replays the partition's journal, and vm_rm then removes the test
#           script from it.
# The wall time of each boot is printed.
#   vm-disk-smoke.sh [BUILD_DIR]
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
export RIG_IMAGE=${RIG_IMAGE:-generic}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")
: "${RIG_VM_TIMEOUT:=600}"
export RIG_VM_TIMEOUT

rig_require_root
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs dumpe2fs e2fsck sfdisk losetup grub-editenv systemd-nspawn

rig_smoke_begin vm-disk-smoke
image=$work/disk.img

t0=$SECONDS
rig_new_root "$BUILD_DIR" "$work/root"
cat >"$work/root/rig/test.sh" <<'T'
#!/bin/sh
cmdline=$(cat /proc/cmdline)
echo "cmdline: $cmdline"
case " $cmdline " in
*" rig.step=2 "*)
        printf '%s\n' '# vm-disk-smoke.sh: one argument more' \
                'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX rig.added=from-update-grub"' \
                >/etc/default/grub.d/50-test.cfg
        update-grub >/rig/update-grub.log 2>&1
        echo "update-grub: rc=$?"
        # the runner must not power off: this boot ends in the reboot
        touch /rig/keep-running
        systemctl reboot
        ;;
*" rig.step=3 "*)
        rm -f /rig/keep-running
        ;;
esac
T
chmod 755 "$work/root/rig/test.sh"
vm_disk_image "$work/root" "$image"
rm -rf "$work/root"
echo "disk image ready after $((SECONDS - t0)) s"

# serial LOG: the log without carriage returns (GRUB starts its lines with one) and colours
serial() { sed -e 's/\r//g' -e 's/\x1b\[[0-9;]*m//g' "$1"; }
# cmdline: the /proc/cmdline the test script printed in the last boot, from /rig/result (on
# the console its lines may share one with the autologin shell's prompt)
cmdline() { vm_read "$image" /rig/result | sed -n 's/^cmdline: //p'; }
show() { serial "$1" | tail -n 40 >&2; }
has_arg() { [[ " $1 " == *" $2 "* ]]; }

# Boot 1
secs=$(vm_boot "$image" "$work/boot1.log" rig.step=1 rig.extra=through-grubenv)
echo "boot 1 (GRUB, test script, poweroff) took $secs s"
cl=$(cmdline)
[ -n "$cl" ] || { show "$work/boot1.log"; fail "boot 1: the test script printed no command line (serial log above)"; }
echo "boot 1: /proc/cmdline: $cl"
[[ $cl == BOOT_IMAGE=* ]] || fail "boot 1: no BOOT_IMAGE= on the command line: not booted by GRUB"
serial "$work/boot1.log" | grep -q '^Loading Linux ' || { show "$work/boot1.log"; fail "boot 1: no 'Loading Linux' from GRUB on the serial port"; }
for a in console=ttyS0 panic=-1 rw rig.step=1 rig.extra=through-grubenv; do
        has_arg "$cl" "$a" || fail "boot 1: '$a' is not on the command line"
done
[[ $cl =~ (^| )root=UUID= ]] || fail "boot 1: the root is not given by UUID"
[[ $cl != *crashkernel=* ]] || fail "boot 1: kdump-tools's crashkernel= is on the command line"
last=$(vm_last_shutdown "$work/boot1.log") || true
[ "$last" = poweroff ] || fail "boot 1 ended with '$last', expected poweroff"
result=$(vm_read "$image" /rig/result)
grep -qx 'RIG-END rc=0' <<<"$result" || { printf '%s\n' "$result" >&2; fail "boot 1: /rig/result has no RIG-END rc=0"; }
serial "$work/boot1.log" | grep -qF "cmdline: $cl" || { show "$work/boot1.log"; fail "boot 1: the serial log lacks the command line of /rig/result"; }
echo "boot 1: booted by GRUB with the rig's arguments and the grubenv word, powered off; /rig/result read back"

# The initramfs, rebuilt on the host (update-initramfs in the image's own userspace), with a
# hook whose mark the next boot must print
cat >"$work/rig-mark" <<'H'
#!/bin/sh
case $1 in prereqs) exit 0 ;; esac
echo "rig-initramfs-mark: rebuilt by vm-disk-smoke" >/dev/console
H
vm_put "$image" "$work/rig-mark" /etc/initramfs-tools/scripts/init-top/rig-mark 0755
out=$(vm_rebuild_initramfs "$image" "$work/initramfs.log")
read -r kver before after secs <<<"$out"
[ "$before" != "$after" ] || fail "vm_rebuild_initramfs left /boot/initrd.img-$kver as it was"
echo "initramfs of $kver rebuilt in the image in $secs s"

# Boot 2
secs=$(vm_boot "$image" "$work/boot2.log" rig.step=2)
echo "boot 2 (update-grub, reboot) took $secs s"
serial "$work/boot2.log" | grep -q '^rig-initramfs-mark: ' || { show "$work/boot2.log"; fail "boot 2: GRUB did not boot the rebuilt initramfs (no mark)"; }
serial "$work/boot2.log" | grep -q 'update-grub: rc=0$' ||
        { show "$work/boot2.log"; vm_read "$image" /rig/update-grub.log >&2 || true; fail "boot 2: update-grub failed in the guest"; }
last=$(vm_last_shutdown "$work/boot2.log") || true
[ "$last" = reboot ] || { show "$work/boot2.log"; fail "boot 2 ended with '$last', expected reboot"; }
vm_read "$image" /boot/grub/grub.cfg | grep -q '^[[:space:]]*linux[[:space:]].* rig.added=from-update-grub' ||
        fail "boot 2: grub.cfg read back from the image has no rig.added=from-update-grub"
echo "boot 2: booted the rebuilt initramfs; update-grub in the guest, then it rebooted"

# Boot 3
secs=$(vm_boot "$image" "$work/boot3.log" rig.step=3)
echo "boot 3 took $secs s"
cl=$(cmdline)
echo "boot 3: /proc/cmdline: $cl"
for a in rig.added=from-update-grub rig.step=3 console=ttyS0; do
        has_arg "$cl" "$a" || { show "$work/boot3.log"; fail "boot 3: '$a' is not on the command line"; }
done
[[ $cl == BOOT_IMAGE=* ]] || fail "boot 3: no BOOT_IMAGE= on the command line"
last=$(vm_last_shutdown "$work/boot3.log") || true
[ "$last" = poweroff ] || fail "boot 3 ended with '$last', expected poweroff"

# Boot 4, cut
t=$SECONDS
vm_start "$image" "$work/boot4.log" rig.step=4
vm_wait_log "$work/boot4.log" 'RIG-BEGIN' "$RIG_VM_TIMEOUT"
vm_kill "$image"
echo "boot 4 cut after $((SECONDS - t)) s"
last=$(vm_last_shutdown "$work/boot4.log") && fail "boot 4 was cut, but vm_last_shutdown says '$last'"
vm_fsck "$image"
! PATH=$PATH:/usr/sbin:/sbin dumpe2fs -h "$(rig_fs_spec "$image")" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery' ||
        fail "the partition still needs journal recovery after vm_fsck"
vm_rm "$image" /rig/test.sh
! vm_exists "$image" /rig/test.sh || fail "vm_rm left /rig/test.sh in the disk image"
echo "boot 4: power cut; vm_fsck, vm_rm and vm_exists work on the partition"
echo "PASS: disk image booted through GRUB four times (one cut); the guest's update-grub and the rebuilt initramfs took effect; total $((SECONDS - t0)) s"
