#!/usr/bin/env bash
# rig-vm-firstboot: dpuos-trim as it is meant to run, by itself at the first boot of a
# Debian VM with the agent and the Debian variant of the reference policy installed.
#   boot 1, dpuos_trim=0: nothing runs, nothing changes;
#   boot 2, dpuos_trim=dry-run: the plan is in the journal, nothing changes;
#   boot 3, dpuos_trim.policy=/root/extra.conf (an added policy, as a PXE initrd would
#           pass): the machine is powered off hard (qemu killed) while the agent removes
#           files;
#   boot 4, the same command line: the run starts again and completes; the masked units
#           never started in this boot, nothing failed, the stamp and the journal summary
#           exist, and the state equals what the agent makes of the same tree offline;
#   boot 5: the service is skipped by its condition and everything still holds.
# The VM has a CD-ROM drive (virtio-scsi), whose drivers (sr_mod, cdrom) the initramfs
# loads: boot 1 shows them loaded; the policy blacklists them, the run rebuilds the
# initramfs, and boot 5, from that initramfs, has neither loaded and refuses modprobe.
# Then a separate image with a broken policy: the generator and the service change
# nothing, the service fails with FILE:LINE in the journal, the machine reaches
# multi-user.
#   vm-firstboot.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

rig_require_root
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs meson jq

rig_test_begin vm-firstboot
image=$work/root.img
# A CD-ROM drive without a disc on a virtio-scsi controller: the cloud kernel's
# initramfs has the SCSI CD driver, and udev there loads it for the drive.
RIG_QEMU_ARGS="${RIG_QEMU_ARGS:-} -device virtio-scsi-pci,id=scsi0 -drive if=none,id=cd0,media=cdrom
        -device scsi-cd,bus=scsi0.0,drive=cd0"
export RIG_QEMU_ARGS

boot() { # IMAGE N [CMDLINE...]: boots, prints how long, leaves /rig/result in $out
        local img=$1 n=$2 t0=$SECONDS
        shift 2
        vm_boot "$img" "$work/serial$n.log" "$@" >/dev/null
        echo "boot $n took $((SECONDS - t0)) s"
        out=$(vm_read "$img" /rig/result)
        printf '%s\n' "$out" | sed "s/^/  boot $n: /"
}
field() { sed -n "s/^$1: //p" <<<"$out" | head -n1 | sed 's/ *$//'; }

rig_test_root --first-boot
# The Debian variant of the reference policy, over the installed (openEuler) one.
mkdir -p "$root/etc/dpuos-trim/policy.d"
cp "$src"/conf/debian/*.conf "$root/etc/dpuos-trim/policy.d/"
# The added policy of boot 3 and 4, and enough files that the hard power-off lands while
# they are being removed.
printf '[Units]\nMask=cron.service\n' >"$root/root/extra.conf"
for d in $(seq 1 300); do
        mkdir -p "$root/usr/share/doc/bulk-test/d$d"
        (cd "$root/usr/share/doc/bulk-test/d$d" && seq -f 'f%g' 1 200 | xargs touch)
done
install -m 0755 "$here/trim-state.sh" "$root/rig/trim-state.sh"
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)

# What the agent makes of the same tree offline: the reference for boot 4.
ref=$work/ref
cp -a "$root" "$ref"
cp "$root/root/extra.conf" "$ref/etc/dpuos-trim/policy.d/99-extra.conf"
"$BUILD_DIR/agent/dpuos-trim" --root="$ref" -q || true
reference=$(bash "$here/trim-state.sh" "$ref")
rm -rf "$ref"

masked=(avahi-daemon.service avahi-daemon.socket man-db.timer debug-shell.service cron.service)
watch='^(Starting|Started|Listening on) ('$(IFS='|'; echo "${masked[*]}" | sed 's/\./\\./g')')'

# Boot 1 and 2 leave the system as it was; the script reports what a user would see.
cat >"$root/rig/test.sh" <<T
#!/bin/bash
echo "stamp: \$(test -e /etc/dpuos-trim/applied && echo yes || echo no)"
echo "report: \$(test -e /var/lib/dpuos-trim/report.json && echo yes || echo no)"
echo "modprobe-conf: \$(test -e /etc/modprobe.d/dpuos-trim.conf && echo yes || echo no)"
echo "avahi: \$(systemctl is-enabled avahi-daemon.service) \$(systemctl is-active avahi-daemon.service)"
echo "started-masked: \$(journalctl -b _PID=1 -o cat | grep -cE '$watch')"
echo "skip-logged: \$(journalctl -b -u dpuos-trim.service -o cat | grep -c 'dpuos_trim=0 on the kernel command line')"
echo "plan-entries: \$(journalctl -b MESSAGE_ID=27270dcbc1a048cd803b1a76dc9bf0ac DPUOS_TRIM_MODE=dry-run -o cat | wc -l)"
echo "summary: \$(journalctl -b MESSAGE_ID=a41e3e0afd4b4df6a4e60b503a2160c5 -o cat)"
echo "cd-modules: \$(grep -cE '^(sr_mod|cdrom) ' /proc/modules)"
T
chmod 755 "$root/rig/test.sh"

cat >"$work/boot4.sh" <<T
#!/bin/bash
echo "stamp: \$(test -e /etc/dpuos-trim/applied && echo yes || echo no)"
echo "service: \$(systemctl is-active dpuos-trim.service)"
echo "condition: \$(systemctl show -p ConditionResult --value dpuos-trim.service)"
echo "started-masked: \$(journalctl -b _PID=1 -o cat | grep -cE '$watch')"
for u in ${masked[*]}; do echo "enabled-\$u: \$(systemctl is-enabled \$u)"; done
echo "failed-units: \$(systemctl --failed --no-legend --plain | wc -l)"
systemctl --failed --no-legend --plain
echo "summary: \$(journalctl -b MESSAGE_ID=a41e3e0afd4b4df6a4e60b503a2160c5 -o cat)"
echo "dmesg_restrict: \$(sysctl -n kernel.dmesg_restrict)"
echo "bulk: \$(ls /usr/share/doc/bulk-test 2>/dev/null | wc -l)"
echo "reached: \$(systemctl is-active multi-user.target)"
echo "cd-modules: \$(grep -cE '^(sr_mod|cdrom) ' /proc/modules)"
echo "modprobe-sr_mod: \$(modprobe sr_mod >/dev/null 2>&1 && echo loaded || echo refused)"
echo "cd-modules-after-modprobe: \$(grep -cE '^(sr_mod|cdrom) ' /proc/modules)"
echo "initramfs-blacklist: \$(lsinitramfs /boot/initrd.img-\$(uname -r) | grep -c 'etc/modprobe.d/dpuos-trim.conf\$')"
echo "initramfs-sr_mod: \$(lsinitramfs /boot/initrd.img-\$(uname -r) | grep -c '/sr_mod\.ko')"
bash /rig/trim-state.sh /
T

vm_image "$root" "$image"

# A second image: the same tree with a broken policy.
printf '[Units]\nMask=avahi-daemon.service\nBogus=1\n' >"$root/etc/dpuos-trim/policy.d/99-broken.conf"
cat >"$root/rig/test.sh" <<'T'
#!/bin/bash
echo "service: $(systemctl is-active dpuos-trim.service)"
echo "error-logged: $(journalctl -b -u dpuos-trim.service -o cat | grep -c '99-broken.conf:3: ')"
echo "generator-logged: $(journalctl -b -o short | grep -c 'dpuos-trim-generator.*99-broken.conf:3: ')"
echo "avahi: $(systemctl is-enabled avahi-daemon.service) $(systemctl is-active avahi-daemon.service)"
echo "modprobe-conf: $(test -e /etc/modprobe.d/dpuos-trim.conf && echo yes || echo no)"
echo "stamp: $(test -e /etc/dpuos-trim/applied && echo yes || echo no)"
echo "reached: $(systemctl is-active multi-user.target)"
T
vm_image "$root" "$work/broken.img"
rm -rf "$root"

# --- boot 1: dpuos_trim=0
boot "$image" 1 dpuos_trim=0
check "dpuos_trim=0: no stamp" [ "$(field stamp)" = no ]
check "dpuos_trim=0: no report" [ "$(field report)" = no ]
check "dpuos_trim=0: avahi-daemon enabled and running" [ "$(field avahi)" = "enabled active" ]
check "dpuos_trim=0: the skip is logged" [ "$(field skip-logged)" = 1 ]
# Without the agent the units it masks later start, and PID 1's journal says so in the
# form that boot 4 and 5 count: their 0 is not a count that never matches anything.
check "dpuos_trim=0: the journal shows the policy's units starting ($(field started-masked))" \
        [ "$(field started-masked)" -gt 0 ]
check "dpuos_trim=0: the CD-ROM's drivers sr_mod and cdrom are loaded ($(field cd-modules))" [ "$(field cd-modules)" = 2 ]
initrd_before=$(sha256sum <"$image.initrd" | cut -d' ' -f1)

# --- boot 2: dpuos_trim=dry-run
boot "$image" 2 dpuos_trim=dry-run
check "dry-run: no stamp, no report, no blacklist" [ "$(field stamp) $(field report) $(field modprobe-conf)" = "no no no" ]
check "dry-run: avahi-daemon enabled and running" [ "$(field avahi)" = "enabled active" ]
check "dry-run: the plan is in the journal ($(field plan-entries) entries)" [ "$(field plan-entries)" -gt 10 ]
check "dry-run: the summary says planned" grep -q "^dpuos-trim planned policy" <<<"$(field summary)"

# --- boot 3: killed hard while removing files. The root is mounted with commit=1, so
# that what the agent removed a second before the cut is on disk (ext4 commits every 5 s
# by default); the delay after the agent says it removes files adapts until the cut lands
# in the middle: too late (all gone) shortens it, too early (nothing gone) lengthens it.
vm_put "$image" "$work/boot4.sh" /rig/test.sh 0755
cp --sparse=always "$image" "$work/before-cut.img"
ds=${RIG_CUT_DELAY_DS:-30}   # the delay in tenths of a second
for attempt in 1 2 3 4 5; do
        delay=$((ds / 10)).$((ds % 10))
        vm_start "$image" "$work/serial3.log" rootflags=commit=1 "dpuos_trim.policy=/root/extra.conf"
        # Before the files, the modules kind rebuilds the initramfs: minutes under TCG.
        vm_wait_log "$work/serial3.log" 'dpuos-trim\[[0-9]+\]: files: applying' 900
        sleep "$delay"
        vm_kill "$image"
        # Look at what a reboot would find: a copy with the ext4 journal replayed.
        cp --sparse=always "$image" "$work/cut.img"
        PATH=$PATH:/usr/sbin:/sbin e2fsck -E journal_only -y "$work/cut.img" >/dev/null 2>&1 || true
        left=$(rig_debugfs -R "ls -p /usr/share/doc/bulk-test" "$work/cut.img" 2>/dev/null | grep -c '/d[0-9]*/' || true)
        stamp=$(vm_exists "$work/cut.img" /etc/dpuos-trim/applied && echo yes || echo no)
        rm -f "$work/cut.img"
        echo "power cut ${delay} s into the removal (attempt $attempt): $left of 300 bulk directories left, stamp $stamp"
        if [ "$stamp" = no ] && [ "$left" -gt 0 ] && [ "$left" -lt 300 ]; then
                break
        fi
        if [ "$left" -ge 300 ]; then ds=$((ds * 3 / 2 + 10)); else ds=$((ds / 2 > 2 ? ds / 2 : 2)); fi
        cp --sparse=always "$work/before-cut.img" "$image"
done
cut_mid_removal() { [ "$stamp" = no ] && [ "$left" -gt 0 ] && [ "$left" -lt 300 ]; }
check "the power cut hit the run while it removed files ($left of 300 directories left, no stamp)" \
        cut_mid_removal

# --- boot 4: the run starts again and completes
boot "$image" 4 "dpuos_trim.policy=/root/extra.conf"
check "first boot: the stamp exists" [ "$(field stamp)" = yes ]
check "first boot: the service ran (active)" [ "$(field service)" = active ]
check "first boot: no masked unit started in this boot ($(field started-masked))" [ "$(field started-masked)" = 0 ]
for u in "${masked[@]}"; do
        check "first boot: $u is masked" [ "$(field "enabled-$u")" = masked ]
done
check "first boot: systemctl --failed is empty" [ "$(field failed-units)" = 0 ]
check "first boot: the summary entry is in the journal" grep -q "^dpuos-trim applied policy" <<<"$(field summary)"
check "first boot: kernel.dmesg_restrict is 1" [ "$(field dmesg_restrict)" = 1 ]
check "first boot: the bulk files are gone" [ "$(field bulk)" = 0 ]
check "first boot: multi-user.target is reached" [ "$(field reached)" = active ]
report=$(vm_read "$image" /var/lib/dpuos-trim/report.json)
check "first boot: the report has no failed action" [ "$(jq .totals.failed <<<"$report")" = 0 ]
state=$(grep -E '^(usr-|masks|etc/|leftovers)' <<<"$out")
if diff -u <(printf '%s\n' "$reference") <(printf '%s\n' "$state"); then
        ok "after the power cut and the next boot, the state equals the agent's clean offline result"
else
        not_ok "after the power cut and the next boot, the state differs from a clean run's (diff above)"
fi

blacklist_reaches_initramfs() { [ "$(field initramfs-blacklist)" -ge 1 ] || [ "$(field initramfs-sr_mod)" = 0 ]; }
check "first boot: the rebuilt initramfs has the blacklist in it, or no sr_mod" blacklist_reaches_initramfs

# The bootloader of this rig is qemu's -kernel: the next boot takes the initramfs that the
# system in the image rebuilt, as GRUB would.
vm_read "$image" "/boot/initrd.img-$kver" >"$image.initrd"
initrd_after=$(sha256sum <"$image.initrd" | cut -d' ' -f1)
check "first boot: /boot/initrd.img-$kver is a new image" differs "$initrd_after" "$initrd_before"

# --- boot 5: skipped by the condition, and booted from the rebuilt initramfs
boot "$image" 5
check "rebuilt initramfs: sr_mod and cdrom are not loaded ($(field cd-modules))" [ "$(field cd-modules)" = 0 ]
check "rebuilt initramfs: modprobe sr_mod is refused" [ "$(field modprobe-sr_mod)" = refused ]
check "rebuilt initramfs: and loads nothing" [ "$(field cd-modules-after-modprobe)" = 0 ]
check "second boot: the service is skipped by its condition" [ "$(field condition)" = no ]
check "second boot: no masked unit started" [ "$(field started-masked)" = 0 ]
check "second boot: systemctl --failed is empty" [ "$(field failed-units)" = 0 ]
check "second boot: kernel.dmesg_restrict is still 1" [ "$(field dmesg_restrict)" = 1 ]
state5=$(grep -E '^(usr-|masks|etc/|leftovers)' <<<"$out")
check "second boot: the state is as the first boot left it" same "$state5" "$state"

# --- a broken policy
boot "$work/broken.img" 6
check "broken policy: the service failed" [ "$(field service)" = failed ]
check "broken policy: FILE:LINE is in the service's journal" [ "$(field error-logged)" -ge 1 ]
check "broken policy: the generator logged it and masked nothing" [ "$(field generator-logged)" -ge 1 ]
check "broken policy: avahi-daemon untouched and running" [ "$(field avahi)" = "enabled active" ]
check "broken policy: nothing written, no stamp" [ "$(field modprobe-conf) $(field stamp)" = "no no" ]
check "broken policy: the machine reaches multi-user" [ "$(field reached)" = active ]

rig_test_end
