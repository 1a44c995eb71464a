#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What the agent persisted, read back by the tools that use it at boot: systemctl (masks),
# modprobe (blacklist, install), systemd-tmpfiles (w lines, applied to a fake /sys inside the
# tree). systemd-sysctl has no --root; it is exercised in tools-sysctl.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool systemctl
need_tool systemd-tmpfiles
PATH=$PATH:/usr/sbin:/sbin
need_tool modprobe
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 50-tools.conf <<'EOF'
[Policy]
Name=tools
[Units]
Mask=cups.service avahi-daemon.service e2scrub@.service
Keep=sshd.service
[Modules]
Blacklist=floppy snd-pcm
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
/sys/kernel/mm/transparent_hugepage/defrag = defer+madvise
/sys/class/net/eth0/queues/rx-0/rps_cpus = f
-/sys/kernel/mm/ksm/run = 0
/sys/class/net/eth0/ifalias = uplink 50% \x41 "q" %n
/sys/bus/pci/devices/0000:03:00.0/power/control = auto
EOF

run_trim
expect_eq "apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || sed 's/^/    stderr: /' "$ERR"

# systemctl reads the unit search path under --root the way PID 1 does.
for u in cups.service cups.socket cups.path avahi-daemon.service avahi-daemon.socket e2scrub@.service; do
        expect_eq "systemctl --root is-enabled $u: masked" masked \
                "$(systemctl --root="$ROOT" is-enabled "$u" 2>&1 || true)"
done
expect_eq "systemctl --root is-enabled sshd.service: disabled (kept)" disabled \
        "$(systemctl --root="$ROOT" is-enabled sshd.service 2>&1 || true)"
expect_eq "systemctl --root is-enabled chronyd.service: disabled (not in the policy)" disabled \
        "$(systemctl --root="$ROOT" is-enabled chronyd.service 2>&1 || true)"

# modprobe reads exactly the tree's modprobe.d with -C.
config=$(modprobe -C "$ROOT/etc/modprobe.d" --showconfig 2>&1 || true)
# (The empty softdep lines are not shown; what they do is checked on a real module tree
# in tests/rig/agree.sh.)
for line in "blacklist floppy" "install floppy /bin/false" "blacklist snd_pcm" "install snd_pcm /bin/false"; do
        expect "modprobe --showconfig lists '$line'" grep -qxF "$line" <<<"$config"
done
expect "modprobe --showconfig lists no module the policy did not name" \
        test -z "$(grep -E '^(blacklist|install) (pcspkr|snd_timer|snd_hda_intel|mlx5_core)( |$)' <<<"$config")"

# systemd-tmpfiles finds the file in its own search path under --root and lists it...
cat_config=$(systemd-tmpfiles --root="$ROOT" --cat-config 2>&1 || true)
expect "systemd-tmpfiles --cat-config shows the agent's file" \
        grep -qxF "# $ROOT/etc/tmpfiles.d/dpuos-trim.conf" <<<"$cat_config"
expect "systemd-tmpfiles --cat-config shows the w line" \
        grep -qxF "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never" <<<"$cat_config"

# ...and applies it: the attributes are empty files in the tree's /sys, the optional one is
# absent (the '-' must keep that from failing).
for a in kernel/mm/transparent_hugepage/enabled kernel/mm/transparent_hugepage/defrag \
         class/net/eth0/queues/rx-0/rps_cpus class/net/eth0/ifalias bus/pci/devices/0000:03:00.0/power/control; do
        mkdir -p "$(dirname "$ROOT/sys/$a")"
        : >"$ROOT/sys/$a"
done
tmpfiles_rc=0
systemd-tmpfiles --root="$ROOT" --create dpuos-trim.conf >"$SCRATCH/tmpfiles.log" 2>&1 || tmpfiles_rc=$?
expect_eq "systemd-tmpfiles --create applies the file without errors" 0 "$tmpfiles_rc"
[[ $tmpfiles_rc -eq 0 ]] || sed 's/^/    /' "$SCRATCH/tmpfiles.log"
expect_eq "systemd-tmpfiles wrote 'never'" never "$(cat "$ROOT/sys/kernel/mm/transparent_hugepage/enabled")"
expect_eq "systemd-tmpfiles wrote 'defer+madvise'" defer+madvise "$(cat "$ROOT/sys/kernel/mm/transparent_hugepage/defrag")"
expect_eq "systemd-tmpfiles wrote 'f'" f "$(cat "$ROOT/sys/class/net/eth0/queues/rx-0/rps_cpus")"
expect_eq "'%' and '\\' in a value reach the attribute literally" 'uplink 50% \x41 "q" %n' \
        "$(cat "$ROOT/sys/class/net/eth0/ifalias")"
expect "the optional attribute was not created" test ! -e "$ROOT/sys/kernel/mm/ksm/run"
# PCI device paths contain ':'; the whole path is the attribute.
expect_eq "systemd-tmpfiles wrote 'auto' to a PCI device attribute" auto \
        "$(cat "$ROOT/sys/bus/pci/devices/0000:03:00.0/power/control")"

# A unit that is masked already, by a relative link to /dev/null, as systemctl agrees: the
# agent must find nothing to do, not fail.
ROOT=$SCRATCH/relative-mask
make_os_tree "$ROOT"
ln -s ../../../dev/null "$ROOT/etc/systemd/system/cups.service"
policy 50-mask.conf <<'EOF'
[Units]
Mask=cups.service
EOF
expect_eq "systemctl --root is-enabled cups.service (relative link): masked" masked \
        "$(systemctl --root="$ROOT" is-enabled cups.service 2>&1 || true)"
run_trim
expect_eq "a unit masked by a relative /dev/null link: apply exits 0" 0 "$RC"
expect_eq "a unit masked by a relative /dev/null link: reported unchanged" unchanged \
        "$(jq -r '.actions[] | select(.target == "cups.service") | .outcome' "$ROOT/var/lib/dpuos-trim/report.json")"

finish
