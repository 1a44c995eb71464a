#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No policy can brick the device (dpuos-trim.conf(5), PROTECTED): offline with --root, the
# worst policy of each layer leaves what the boot, the journal, the bus, the console and
# the management access need. Mask=* masks every unit but the protected ones, which the
# plan lists as protected with the reason; a Mask= that names one is a policy error.
# Blacklist=* never blacklists the root file system's module and what it depends on.
# Settings that would stop the system (no modules, a silent console, too few processes)
# are protected and never persisted, nor are writes that detach a device. The dpkg
# exclusion written for Remove=/usr/lib/x86_64-linux-gnu/** keeps the C library and the
# loader installable: real dpkg, given those lines, installs them and skips the rest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq
need_tool systemctl

setup() {
        ROOT=$SCRATCH/$1
        make_os_tree "$ROOT"
        local u
        for u in systemd-journald.service systemd-journald.socket systemd-udevd.service dbus.service \
                 dbus.socket multi-user.target basic.target sysinit.target graphical.target \
                 serial-getty@.service ssh.service dpuos-trim.service rsyslog.service cron.service; do
                unit_file "$ROOT/usr/lib/systemd/system/$u"
        done
        printf '[Unit]\nDescription=Graphical\nRequires=multi-user.target\n' >"$ROOT/usr/lib/systemd/system/graphical.target"
        printf '[Unit]\nDescription=Multi-User\nRequires=basic.target\n' >"$ROOT/usr/lib/systemd/system/multi-user.target"
        ln -s graphical.target "$ROOT/usr/lib/systemd/system/default.target"
        printf 'UUID=0 / ext4 defaults 0 1\nUUID=1 /boot vfat defaults 0 2\n' >"$ROOT/etc/fstab"
        cat >"$ROOT/usr/lib/modules/$KVER/modules.dep" <<'EOF'
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/lib/crc16.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/fs/jbd2/jbd2.ko.xz:
kernel/fs/fat/vfat.ko.xz: kernel/fs/fat/fat.ko.xz
kernel/fs/fat/fat.ko.xz:
kernel/drivers/block/floppy.ko.xz:
kernel/drivers/input/misc/pcspkr.ko.xz:
EOF
        : >"$ROOT/usr/lib/modules/$KVER/modules.builtin"
}

unit_outcome() { jq_report --arg u "$1" '.actions[] | select(.kind == "units" and .action == "mask" and .target == $u) | "\(.outcome) \(.reason)"'; }
is_masked() { [[ $(readlink "$ROOT/etc/systemd/system/$1" 2>/dev/null) == /dev/null ]]; }

# --- units
setup units
printf '[Units]\nMask=*\nStop=yes\n' | policy 50-worst.conf
run_trim
expect_eq "Mask=*: exit 0 (protected is not failed)" 0 "$RC"
for u in systemd-journald.service systemd-journald.socket systemd-udevd.service dbus.service dbus.socket \
         sysinit.target basic.target getty@.service serial-getty@.service ssh.service sshd.service \
         dpuos-trim.service default.target graphical.target multi-user.target; do
        expect "Mask=*: $u is not masked" test ! -e "$ROOT/etc/systemd/system/$u" -a ! -L "$ROOT/etc/systemd/system/$u"
        expect "Mask=*: the plan lists $u as protected ($(unit_outcome "$u"))" grep -q '^protected protected: ' <<<"$(unit_outcome "$u")"
done
expect_eq "Mask=*: the default target's chain is protected as such" \
        "protected protected: the boot (the default target and what it requires)" "$(unit_outcome multi-user.target)"
for u in cups.service rsyslog.service cron.service chronyd.service; do
        expect "Mask=*: $u is masked" is_masked "$u"
done
state=$(systemctl --root="$ROOT" is-enabled systemd-journald.service 2>&1 || true)
expect "systemctl --root agrees: systemd-journald.service is not masked ($state)" test -n "$state" -a "$state" != masked

setup named
printf '[Units]\nMask=cups.service\nMask=systemd-journald.service\n' | policy 50-named.conf
fp_begin
run_trim --check
expect_eq "Mask=systemd-journald.service: --check exits 2" 2 "$RC"
expect_eq "Mask=systemd-journald.service: FILE:LINE says why" \
        "$ROOT/etc/dpuos-trim/policy.d/50-named.conf:3: Mask=: 'systemd-journald.service' is protected (the journal) and is never masked" \
        "$(grep -F 50-named.conf "$ERR")"
run_trim
expect_eq "Mask=systemd-journald.service: an application exits 2" 2 "$RC"
fp_check "Mask=systemd-journald.service: nothing changed"

# --- modules
setup modules
printf '[Modules]\nBlacklist=*\n' | policy 50-worst.conf
run_trim
expect_eq "Blacklist=*: exit 0" 0 "$RC"
conf=$(conf_lines "$ROOT/etc/modprobe.d/dpuos-trim.conf")
for m in ext4 jbd2 mbcache crc16 vfat fat; do
        expect "Blacklist=*: $m is not blacklisted" test -z "$(grep -E "^(blacklist|install) $m( |$)" <<<"$conf")"
        expect_eq "Blacklist=*: the plan lists $m as protected" protected \
                "$(jq_report --arg m "$m" '.actions[] | select(.kind == "modules" and .target == $m) | .outcome')"
done
for m in floppy pcspkr; do
        expect "Blacklist=*: $m is blacklisted" grep -qx "install $m /bin/false" <<<"$conf"
done
expect "modprobe -C agrees: ext4 has no install command" \
        test -z "$(modprobe -C "$ROOT/etc/modprobe.d" --showconfig 2>/dev/null | grep -E '^install ext4 ')"

# --- settings
setup settings
cat <<'EOF' | policy 50-worst.conf
[Sysctl]
kernel.modules_disabled = 1
kernel.printk = 0 0 0 0
fs.file-max = 100
kernel.pid_max = 100
vm.swappiness = 10
[Sysfs]
/sys/bus/pci/devices/0000:00:01.0/remove = 1
/sys/bus/pci/drivers/virtio-pci/unbind = 0000:00:01.0
/proc/sysrq-trigger = b
/sys/power/state = mem
/sys/kernel/mm/transparent_hugepage/enabled = never
EOF
run_trim
expect_eq "dangerous settings: exit 0" 0 "$RC"
expect_eq "dangerous settings: only the harmless sysctl is persisted" "vm.swappiness = 10" \
        "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"
expect_eq "dangerous settings: only the harmless attribute is persisted" \
        "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never" "$(conf_lines "$ROOT/etc/tmpfiles.d/dpuos-trim.conf")"
expect_eq "dangerous settings: the plan lists 8 as protected" 8 \
        "$(jq_report '[.actions[] | select(.outcome == "protected")] | length')"
expect_eq "dangerous settings: kernel.modules_disabled says why" \
        "protected: no module could be loaded any more, at every boot: drivers that load late never would" \
        "$(jq_report '.actions[] | select(.target == "kernel.modules_disabled") | .reason')"

# --- the package manager's exclusion never covers a protected file
setup exclusions
mkdir -p "$ROOT/var/lib/dpkg" && : >"$ROOT/var/lib/dpkg/status"
printf '[Files]\nRemove=/usr/lib/x86_64-linux-gnu/**\nPreventReinstall=yes\n' | policy 50-worst.conf
run_trim
expect_eq "Remove=/usr/lib/x86_64-linux-gnu/**: exit 0" 0 "$RC"
expect "the C library stays" test -f "$ROOT/usr/lib/x86_64-linux-gnu/libc.so.6"
expect "the loader stays" test -f "$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
expect "another library goes" test ! -e "$ROOT/usr/lib/x86_64-linux-gnu/libfoo.so.1"
excl=$ROOT/etc/dpkg/dpkg.cfg.d/dpuos-trim
expect "the exclusion is written" test -s "$excl"
if command -v dpkg-deb >/dev/null && command -v dpkg >/dev/null; then
        # A package that ships the three files, installed by the real dpkg into a scratch
        # root with the exclusion's lines as its options, as an upgrade of libc6 would be.
        pkg=$SCRATCH/pkg
        mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib/x86_64-linux-gnu"
        printf 'Package: fake-libc\nVersion: 1\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: test\n' >"$pkg/DEBIAN/control"
        for f in libc.so.6 ld-linux-x86-64.so.2 libfoo.so.1; do echo "new $f" >"$pkg/usr/lib/x86_64-linux-gnu/$f"; done
        dpkg-deb --build --root-owner-group "$pkg" "$SCRATCH/fake-libc.deb" >/dev/null
        inst=$SCRATCH/inst
        mkdir -p "$inst/var/lib/dpkg/updates" "$inst/var/lib/dpkg/info" && : >"$inst/var/lib/dpkg/status"
        mapfile -t opts < <(grep -E '^path-(exclude|include)=' "$excl" | sed 's/^/--/')
        dpkg --root="$inst" --force-not-root --force-script-chrootless --log=/dev/null "${opts[@]}" -i "$SCRATCH/fake-libc.deb" >"$SCRATCH/dpkg.out" 2>&1 ||
                fail "dpkg -i with the exclusion: $(cat "$SCRATCH/dpkg.out")"
        expect "dpkg with the exclusion installs libc.so.6" grep -qx 'new libc.so.6' "$inst/usr/lib/x86_64-linux-gnu/libc.so.6"
        expect "dpkg with the exclusion installs the loader" grep -qx 'new ld-linux-x86-64.so.2' "$inst/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        expect "dpkg with the exclusion skips the other library" test ! -e "$inst/usr/lib/x86_64-linux-gnu/libfoo.so.1"
else
        missing "dpkg and dpkg-deb, to install a package under the exclusion"
fi

# --- policy files: only regular files are read
kinds() { # NAME: makes a policy file of that kind at 40-NAME.conf
        local f=$ROOT$POLICY_DIR/40-$1.conf
        mkdir -p "$ROOT$POLICY_DIR"
        case $1 in
        fifo) mkfifo "$f" ;;
        device) mknod "$f" c 1 3 ;;
        socket) python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$f" ;;
        loop) ln -s 40-loop2.conf "$f" && ln -s 40-loop.conf "$ROOT$POLICY_DIR/40-loop2.conf" ;;
        large) { echo '[Units]'; for i in $(seq 1 70000); do echo "Mask=u$i.service"; done; } >"$f" ;;
        esac
}
for k in fifo device socket loop large; do
        [[ $k == device && $(id -u) -ne 0 ]] && { missing "root, to make a device node"; continue; }
        [[ $k == socket ]] && ! command -v python3 >/dev/null && { missing "python3, to make a socket"; continue; }
        setup "kind-$k"
        printf '[Units]\nMask=cups.service\n' | policy 50-good.conf
        kinds "$k"
        fp_begin
        RC=0
        timeout 20 "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
        expect_eq "a policy file that is a $k: exit 2" 2 "$RC"
        expect "a policy file that is a $k: the error names it and says why" \
                grep -Eq "40-$k.conf: cannot read policy: (not a regular file|a loop of symbolic links|larger than 1 MiB)$" "$ERR"
        fp_check "a policy file that is a $k: nothing changed"
done

finish
