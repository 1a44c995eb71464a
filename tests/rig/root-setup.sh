#!/usr/bin/env bash
# mmdebstrap hooks for the rig's Debian root, called by rig_root in lib.sh:
#   root-setup.sh essential ROOTDIR   (--essential-hook: settings before the packages install)
#   root-setup.sh customize ROOTDIR   (--customize-hook: after them)
# Makes the root bootable both by systemd-nspawn and by qemu with the root's own kernel and
# initramfs, and adds the boot-time test runner (rig-test.service).
# Everything here is part of the root cache key: edit it and the root is rebuilt.
set -euo pipefail

phase=${1:?usage: root-setup.sh essential|customize ROOTDIR}
root=${2:?usage: root-setup.sh essential|customize ROOTDIR}
say() { echo "rig: root-setup: $*" >&2; }

if [ "$phase" = essential ]; then
        # Before the kernel and the other packages are installed, so that their postinst
        # scripts and triggers run once with these settings.
        # initramfs-tools would probe the device of / for its type to include fsck, and
        # /dev/vda does not exist here: the root is ext4. MODULES=most (Debian's default),
        # since MODULES=dep cannot see the VM's disk from here either.
        say "initramfs-tools: MODULES=most, FSTYPE=ext4"
        mkdir -p "$root/etc/initramfs-tools/conf.d"
        printf 'MODULES=most\nFSTYPE=ext4\n' >"$root/etc/initramfs-tools/conf.d/rig.conf"
        # man-db's trigger would index every manual page at each install: slow, and only a
        # cache (the man-db.timer is still there).
        echo 'man-db man-db/auto-update boolean false' | chroot "$root" debconf-set-selections
        exit 0
fi
[ "$phase" = customize ] || { say "ERROR: unknown phase $phase"; exit 1; }

say "hostname, fstab, serial autologin"
echo rig >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trig\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# The VM boots /dev/vda as root. Under systemd-nspawn the fstab generator ignores device
# entries, so the same file serves the container.
printf '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/vda / ext4 rw,errors=remount-ro 0 1\n' \
        >"$root/etc/fstab"

# The login check: root is logged in on the serial console without a password.
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
chroot "$root" passwd -d root >/dev/null

# The network: nothing brings the VM's virtio NIC up by itself (minbase has no ifupdown,
# and Debian ships systemd-networkd disabled). The brick test (vm-brick.sh) logs in over SSH
# through qemu's user-mode NIC, so the root has the configuration for systemd-networkd,
# which is part of the systemd package and so survives a trim (no extra daemon): DHCP on
# en* and eth* (qemu answers with 10.0.2.15 and a default route). It stays disabled here
# and a test that wants the network enables it in its own copy (rig_enable_network in
# lib.sh): with an address and a default route on the NIC the agent refuses to unload or
# blacklist its driver (the management network), and vm-live.sh unloads virtio_net on
# purpose. When enabled, systemd-networkd-wait-online.service stays off: nothing here
# needs network-online.target, and under systemd-nspawn --private-network (only lo) it
# would wait two minutes whenever something (apt-daily.service) pulls it in.
# sshd keeps Debian's defaults: root logs in with a key only, and no key is installed here.
say "network: a systemd-networkd configuration (DHCP on en* and eth*), networkd left disabled"
mkdir -p "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/50-rig-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF

# The generic image's NICs are NetworkManager's, as on openEuler, which has no ifupdown.
# Debian's standard system also enables ifupdown's networking.service, and with it
# kdump-tools.service (After=networking.service, Before=basic.target) and firewalld.service
# (Before=network-pre.target, After=dbus.service) form an ordering cycle, which systemd
# breaks by skipping a different job at each boot (firewalld, dbus, polkit or kdump-tools):
# the untrimmed machine would not be the same machine twice.
if [ -e "$root/lib/systemd/system/NetworkManager.service" ] && [ -e "$root/lib/systemd/system/networking.service" ]; then
        say "generic image: networking.service (ifupdown) disabled, NetworkManager has the NICs"
        chroot "$root" systemctl disable networking.service >/dev/null 2>&1 ||
                { say "ERROR: systemctl disable networking.service failed"; exit 1; }
fi

say "boot-time test runner: rig-test.service runs /rig/test.sh once the boot has finished"
mkdir -p "$root/rig" "$root/usr/lib/rig"
cat >"$root/usr/lib/rig/rig-runner" <<'EOF'
#!/bin/bash
# Runs /rig/test.sh after the boot has finished (rig-test.service is Type=exec, so its own
# start job does not hold up the boot), copies its output to the console (the serial log
# under qemu, the console log under nspawn) and to /rig/result, then powers off unless
# /rig/keep-running exists. The console shows RIG-BEGIN ... RIG-END rc=N.
state=$(timeout 300 systemctl is-system-running --wait 2>/dev/null) || true
exec 3>/dev/console
{
        echo "RIG-BEGIN boot finished: ${state:-unknown}"
        if [ -x /rig/test.sh ]; then /rig/test.sh; else bash /rig/test.sh; fi
        echo "RIG-END rc=$?"
} 2>&1 | tee /rig/result.tmp >&3
mv -f /rig/result.tmp /rig/result
sync
[ -e /rig/keep-running ] || systemctl poweroff --no-block
EOF
chmod 755 "$root/usr/lib/rig/rig-runner"
cat >"$root/etc/systemd/system/rig-test.service" <<'EOF'
[Unit]
Description=dpuos-trim test rig: run /rig/test.sh after boot, then power off
ConditionPathExists=/rig/test.sh
After=multi-user.target

[Service]
Type=exec
ExecStart=/usr/lib/rig/rig-runner
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../rig-test.service "$root/etc/systemd/system/multi-user.target.wants/rig-test.service"

say "a locale, so that /usr/lib/locale has something in it"
echo 'en_US.UTF-8 UTF-8' >"$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null

say "checking the kernel and the initramfs"
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
[ -n "$kver" ] || { say "ERROR: no kernel under /lib/modules"; exit 1; }
[ -f "$root/boot/vmlinuz-$kver" ] || { say "ERROR: /boot/vmlinuz-$kver missing"; exit 1; }
if [ ! -f "$root/boot/initrd.img-$kver" ]; then
        chroot "$root" update-initramfs -c -k "$kver" >&2 || { say "ERROR: update-initramfs failed"; exit 1; }
fi
# An installed system checks its root in the initramfs (and replays the journal there after
# a power cut), so the initramfs must have fsck.ext4 (the essential phase made sure).
initrd_list=$(chroot "$root" lsinitramfs "/boot/initrd.img-$kver")
grep -Eq '(^|/)(sbin/)?(e2fsck|fsck\.ext4)$' <<<"$initrd_list" ||
        { say "ERROR: the initramfs has no fsck.ext4 for the root"; exit 1; }
for m in virtio_blk virtio_pci ext4; do
        if grep -q "/$m\.ko" <<<"$initrd_list"; then
                continue
        elif grep -q "/$m\.ko" "$root/lib/modules/$kver/modules.builtin"; then
                continue
        fi
        say "ERROR: $m is neither in /boot/initrd.img-$kver nor built into $kver"
        exit 1
done
say "kernel $kver; the initramfs has virtio_blk, virtio_pci, ext4 and fsck.ext4"

# From here on the initramfs is rebuilt inside the VM (dpuos-trim's first boot rebuilds the
# one that carries a blacklisted module), where the root's device is there to be seen:
# MODULES=dep, which takes what this machine needs, as a DPU vendor's image would, and
# zstd level 1. Under TCG a MODULES=most image at the default level takes minutes to make.
say "initramfs-tools: MODULES=dep, COMPRESSLEVEL=1 for the rebuilds in the VM"
printf 'MODULES=dep\nFSTYPE=ext4\nCOMPRESSLEVEL=1\n' >"$root/etc/initramfs-tools/conf.d/rig.conf"
