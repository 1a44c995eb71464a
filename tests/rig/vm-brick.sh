#!/usr/bin/env bash
# rig-vm-brick: no policy can brick the device (docs/design.md, the protected paths; the
# agent's protection rails). A Debian VM with the agent installed for a real first boot, the
# shipped policy files removed from /usr/lib/dpuos-trim/policy.d and one hostile policy
# installed there instead (HOSTILE_POLICY below: mask every unit and stop it, blacklist and
# unload every module, silence the console and forbid module loading, remove every library):
#   boot 1, the first boot: dpuos-trim.service applies it; the report is read from the
#           image and every refusal printed (counts by outcome, the actions on the
#           essential targets of ESSENTIAL below, the failed and protected ones);
#   boot 2, the next boot (/rig/keep-running, so the VM stays up): the machine reaches
#           multi-user, root is logged in on the serial console, root logs in over SSH with
#           a throwaway key through a port forwarded on 127.0.0.1, the journal reads, an
#           `apt-get install --reinstall` of libc6 from a local .deb (the version the root
#           has, fetched with the host's apt from the mirror the root was built from)
#           leaves the C library and the loader in place and commands still run
#           afterwards; then the VM is powered off over SSH.
# The wall time of each boot and of the whole test is printed. The guest's network is
# systemd-networkd with DHCP from qemu's user-mode NIC (rig_enable_network), and the host's
# 127.0.0.1:PORT, a free port, reaches its sshd (RIG_VM_HOSTFWD in lib.sh).
#
# Debugging aid: BRICK_POLICY=benign uses a harmless policy instead (BENIGN_POLICY below),
# so that the harness itself can be shown to pass every check:
#   BRICK_POLICY=benign RIG_KEEP=1 bash tests/rig/vm-brick.sh BUILD_DIR
#
# rig-vm-generic runs the same test with BRICK_POLICY=shipped RIG_IMAGE=generic: the
# shipped Debian reference policy (conf/debian/) at the first boot of the generic server
# image (tests/rig/generic.packages: NetworkManager manages its NICs; firewalld, which
# the policy masks, lets SSH in until then), booted with the devices a server board shows
# the kernel (rig_generic_hardware in lib.sh).
# Every boot 2 also runs the package manager's checks (dpkg --audit, apt-get check); on the
# generic image the VM then reboots over SSH, the trimmed system rebuilds its initramfs
# (update-initramfs -u), and boot 3, from that initramfs, must come up and let root in.
# The generic image boots from its disk through GRUB (vm_disk_image), and its policy has
# a [Kernel] drop-in too (hugepages=64): boot 1 must end in exactly one reboot, made by
# dpuos-trim-reboot.service; boot 2 runs the arguments (/proc/cmdline, 64 hugepages), has
# the AHCI CD-ROM's drivers (which the untouched initramfs loads) out because the first
# boot rebuilt the initramfs, and does not reboot again; then `dpuos-trim --revert
# --only=kernel` over SSH takes the arguments back, and boot 3 runs without them.
#
#   vm-brick.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

# The hostile policy: everything the agent can be told to do, aimed at what the device
# needs to boot, log in and be repaired. Extend it here.
HOSTILE_POLICY='[Policy]
Name=brick-hostile

[Units]
Mask=*
Stop=yes

[Modules]
Blacklist=*
Unload=*

[Sysctl]
kernel.printk = 0 0 0 0
kernel.modules_disabled = 1
kernel.pid_max = 100
vm.nr_hugepages = 100000
vm.min_free_kbytes = 1900000

[Sysfs]
/sys/power/state = mem
/sys/bus/pci/drivers/virtio-pci/unbind = 0000:00:02.0

[Files]
Remove=/usr/lib/x86_64-linux-gnu/**
PreventReinstall=yes
'

# The benign policy (BRICK_POLICY=benign): one harmless action of each kind.
BENIGN_POLICY='[Policy]
Name=brick-benign

[Units]
Mask=cups.service avahi-daemon.service
Stop=yes

[Modules]
Blacklist=pcspkr floppy
Unload=pcspkr floppy

[Sysctl]
kernel.dmesg_restrict = 1

[Files]
Remove=/usr/share/doc/**
Keep=/usr/share/doc/**/copyright
PreventReinstall=yes
'

# What the report is searched for after the first boot: what a login, the journal, SSH and
# a repair with apt need.
ESSENTIAL=(systemd-journald.service dbus.service multi-user.target getty@.service
        serial-getty@.service ssh.service systemd-networkd.service ext4 virtio_blk virtio_net
        /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
        kernel.modules_disabled kernel.printk)

case ${BRICK_POLICY:-hostile} in
hostile) policy=$HOSTILE_POLICY ;;
benign) policy=$BENIGN_POLICY ;;
shipped) policy="" ;;
*) echo "vm-brick: BRICK_POLICY must be hostile, benign or shipped, not '$BRICK_POLICY'" >&2; exit 2 ;;
esac

generic=no
[ "${RIG_IMAGE:-minbase}" = generic ] && generic=yes
if [ "$generic" = yes ]; then
        ESSENTIAL=("${ESSENTIAL[@]/systemd-networkd.service/NetworkManager.service}")
fi

rig_require_root
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs dumpe2fs e2fsck meson jq \
        ssh ssh-keygen apt-get

t_test=$SECONDS
rig_test_begin vm-brick
trap 'exit 143' TERM INT   # so that a timeout still runs the cleanup (and kills qemu)
image=$work/brick.img
key=$work/id_ed25519
libdir=/usr/lib/x86_64-linux-gnu

# A free TCP port on 127.0.0.1 for the forward to the guest's sshd: one nothing answers on
# (qemu refuses to start on a port in use, which vm_start reports).
free_port() {
        local p i
        for ((i = 0; i < 50; i++)); do
                p=$((20000 + RANDOM % 40000))
                if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                        echo "$p"
                        return 0
                fi
        done
        rig_err "no free port on 127.0.0.1 after 50 tries"
}

# --- the image
rig_test_root --first-boot
echo "policy: ${BRICK_POLICY:-hostile}, image: ${RIG_IMAGE:-minbase}"
if [ -n "$policy" ]; then
        rm -f "$root"/usr/lib/dpuos-trim/policy.d/*.conf
        printf '%s' "$policy" >"$root/usr/lib/dpuos-trim/policy.d/50-brick.conf"
        sed 's/^/  policy: /' "$root/usr/lib/dpuos-trim/policy.d/50-brick.conf"
        policy_dir=$root/usr/lib/dpuos-trim/policy.d
else
        # The shipped Debian variant, as vm-firstboot.sh installs it.
        mkdir -p "$root/etc/dpuos-trim/policy.d"
        cp "$RIG_SRC_DIR"/conf/debian/*.conf "$root/etc/dpuos-trim/policy.d/"
        policy_dir=$root/etc/dpuos-trim/policy.d
fi
if [ "$generic" = yes ]; then
        # The vendor's kernel arguments: hugepages for a data plane, one reboot into them.
        printf '[Kernel]\nArguments=hugepages=64\nReboot=auto\n' >"$policy_dir/70-kernel.conf"
fi
ls -A "$policy_dir" | sed 's/^/  policy.d: /'
# What the parser makes of it (a policy refused here changes nothing at the first boot).
rc=0
"$BUILD_DIR/agent/dpuos-trim" --check --policy="$policy_dir" >&2 || rc=$?
echo "  policy: dpuos-trim --check exits $rc"

# The network for SSH: systemd-networkd with DHCP on the NIC (lib.sh, root-setup.sh); the
# generic image has NetworkManager for that, and the server board's devices.
if [ "$generic" = yes ]; then
        rig_generic_hardware "$work"
else
        rig_enable_network "$root"
fi
# Root's SSH key: a throwaway pair in the work directory.
ssh-keygen -q -t ed25519 -N '' -C vm-brick -f "$key"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$key.pub" "$root/root/.ssh/authorized_keys"
[ -x "$root/usr/sbin/sshd" ] || rig_err "the root has no /usr/sbin/sshd (openssh-server in RIG_PACKAGES)"

# libc6 as a local .deb, the very version the root has (a reinstall, not an up- or
# downgrade), fetched on the host from the same Debian release.
libc_ver=$(chroot "$root" dpkg-query -W -f='${Version}' libc6)
echo "libc6 in the root: $libc_ver"
deb=""
if (cd "$work" && apt-get download -q "libc6=$libc_ver" >&2); then
        deb=$(ls "$work"/libc6_*.deb 2>/dev/null | head -n1)
        cp "$deb" "$root/root/libc6.deb"
        echo "downloaded $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
else
        echo "apt-get download libc6=$libc_ver failed on the host (see above)"
fi

# The boot-time script: at the first boot (rig.step=1) what the agent left; at the next
# (rig.step=2) what a user logging in would see. The VM powers off after step 1; step 2
# runs with /rig/keep-running, and the host logs in over SSH afterwards.
cat >"$root/rig/test.sh" <<'T'
#!/bin/bash
step=$(sed -n 's/.*rig\.step=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "step: $step"
echo "service: $(systemctl is-active dpuos-trim.service)"
echo "stamp: $(test -e /etc/dpuos-trim/applied && echo yes || echo no)"
echo "failed-units-now: $(systemctl --failed --no-legend --plain | awk '{print $1}' | paste -sd' ')"
[ "$step" = 2 ] || [ "$step" = 3 ] || exit 0
echo "state: $(systemctl is-system-running)"
echo "multi-user: $(systemctl is-active multi-user.target)"
# agetty starts Type=idle, once the boot jobs are done: give the login a minute
for i in $(seq 60); do who | grep -q ' ttyS0 ' && break; sleep 1; done
echo "who-ttyS0: $(who | grep -c '^root  *ttyS0 ')"
who | sed 's/^/who: /'
n=$(journalctl -b --no-pager -q | wc -l)
echo "journal-lines: $n"
echo "journal-kernel: $(journalctl -b -k --no-pager -q | grep -c 'Linux version')"
echo "sshd: $(systemctl is-active ssh.service)"
echo "network: $(systemctl is-active systemd-networkd.service NetworkManager.service 2>/dev/null | paste -sd/)"
echo "modules: $(wc -l </proc/modules)"
echo "services: $(systemctl list-units --type=service --state=running --no-legend | wc -l)"
echo "addr: $(ip -4 -o addr show scope global | awk '{print $2 " " $4}' | head -n1)"
echo "failed-units: $(systemctl --failed --no-legend --plain | wc -l)"
systemctl --failed --no-legend --plain | sed 's/^/failed: /'
echo "masked-units: $(find /etc/systemd/system -maxdepth 1 -type l -lname /dev/null | wc -l)"
for u in poweroff.target reboot.target systemd-poweroff.service systemd-logind.service user@.service; do
        echo "unit-$u: $(systemctl is-enabled "$u" 2>&1)"
done
echo "cmdline: $(cat /proc/cmdline)"
echo "hugepages: $(sed -n 's/^HugePages_Total: *//p' /proc/meminfo)"
echo "reboot-unit: $(systemctl show -p ConditionResult --value dpuos-trim-reboot.service) $(systemctl show -p ActiveState --value dpuos-trim-reboot.service)"
echo "cd-modules: $(grep -cE '^(sr_mod|cdrom) ' /proc/modules)"
echo "modprobe-sr_mod: $(modprobe sr_mod >/dev/null 2>&1 && echo loaded || echo refused)"
# The journal is persistent: what the reboot unit did in the boot before.
echo "prev-reboot-unit: $(journalctl -b -1 -o cat -u dpuos-trim-reboot.service 2>/dev/null | grep -cE '^(Finished|dpuos-trim-reboot.service: Deactivated successfully)')"
T
chmod 755 "$root/rig/test.sh"
if [ "$generic" = yes ]; then
        # Boot 1 ends in the agent's reboot, not the boot-time script's power-off.
        : >"$root/rig/keep-running"
        vm_disk_image "$root" "$image"
else
        vm_image "$root" "$image"
fi
rm -rf "$root"

port=$(free_port)
export RIG_VM_HOSTFWD=$port
echo "ssh: 127.0.0.1:$port forwarded to the guest's port 22"

# The lines "KEY: VALUE" that the boot-time script wrote to the serial log (or /rig/result).
serial_of() { sed -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$1"; }
field() { sed -n "s/^$1: //p" <<<"$out" | head -n1 | sed 's/ *$//'; }
# script_output LOG: the boot-time script's lines in a serial log, without the shell prompt
# that the console's automatic login may have put in front of one.
script_output() { serial_of "$1" | sed -n '/^RIG-BEGIN/,/^RIG-END/p' | sed -E 's/^[^ ]+@[^ ]+:[^ ]*[#$] //'; }
# wait_serial LOG REGEX TIMEOUT: 0 when a line matches, 1 on timeout, 2 when qemu exited.
wait_serial() {
        local t0=$SECONDS
        until grep -aEq -- "$2" "$1" 2>/dev/null; do
                vm_running "$image" || { grep -aEq -- "$2" "$1" 2>/dev/null && return 0; return 2; }
                ((SECONDS - t0 < $3)) || return 1
                sleep 1
        done
}
# Predicates for check: up STATE (running or degraded); all CMD... [-- CMD...]... (each
# command must succeed);
# has_line LINE TEXT (LINE is one of TEXT's lines), has_text STRING TEXT (in TEXT),
# has_re REGEX TEXT (grep -E).
up() { [ "$1" = running ] || [ "$1" = degraded ]; }
has_line() { [ -n "$1" ] && grep -qxF -- "$1" <<<"$2"; }
has_text() { [ -n "$1" ] && grep -qF -- "$1" <<<"$2"; }
has_re() { grep -qE -- "$1" <<<"$2"; }
not() { ! "$@"; }
all() {
        local cmd=()
        while [ $# -gt 0 ]; do
                if [ "$1" = -- ]; then "${cmd[@]}" || return; cmd=(); else cmd+=("$1"); fi
                shift
        done
        "${cmd[@]}"
}
ssh_vm() { # CMD...: as root on the guest, by key, through the forwarded port
        timeout 300 ssh -i "$key" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o LogLevel=ERROR \
                root@127.0.0.1 "$@"
}

# --- boot 1: the first boot. It should end with the boot-time script and a power-off; a
# machine that does not get there is cut 120 s after the agent's service ended (that at
# most RIG_VM_TIMEOUT, 300 s; 600 s for the shipped policy on the generic image, which
# also removes packages through dpkg, whose maintainer scripts are slow under TCG), and
# its journal replayed on the host to read the report.
first_boot_timeout=${RIG_VM_TIMEOUT:-300}
if [ "${BRICK_POLICY:-hostile}" = shipped ] && [ "${RIG_IMAGE:-minbase}" = generic ]; then
        first_boot_timeout=${RIG_VM_TIMEOUT:-900}   # and rebuilds the initramfs and grub.cfg
fi
t_boot=$SECONDS
vm_start "$image" "$work/serial1.log" rig.step=1
# systemd's status line (the unit name cut short and coloured) or the agent's summary
end_re='(Finished|Failed to start|Failed with result) .{0,16}dpuos-trim\.servic|dpuos-trim\[[0-9]+\]: dpuos-trim: policy '
if wait_serial "$work/serial1.log" "$end_re" "$first_boot_timeout"; then
        echo "boot 1: dpuos-trim.service ended after $((SECONDS - t_boot)) s"
else
        echo "boot 1: no end of dpuos-trim.service on the serial console after $((SECONDS - t_boot)) s"
fi
# Powered off by itself: qemu ended without being killed. (The console may lose the last
# lines of a power-off; /rig/result, read below, says whether the script finished.)
poweroff1=no
wait_serial "$work/serial1.log" 'RIG-END rc=' 120 || true
if vm_wait "$image" 300; then poweroff1=yes; fi
if vm_running "$image"; then
        echo "boot 1: still running; serial log tail:"
        serial_of "$work/serial1.log" | tail -n 25 | sed 's/^/  serial1: /'
        vm_kill "$image"
fi
shutdown1=$(vm_last_shutdown "$work/serial1.log" || true)
echo "boot 1 took $((SECONDS - t_boot)) s (ended by itself: $poweroff1, $shutdown1)"
vm_fsck "$image"
out=$(vm_read "$image" /rig/result 2>/dev/null || true)
if grep -q '^RIG-END rc=' <<<"$out"; then
        echo "boot 1: the boot-time script's output, from /rig/result:"
else
        echo "boot 1: the boot-time script's output, from the serial log (no /rig/result):"
        out=$(script_output "$work/serial1.log")
fi
printf '%s\n' "$out" | sed 's/^/  boot 1: /'
booted=$(sed -n 's/^RIG-BEGIN boot finished: //p' <<<"$out" | head -n1)
if [ "$generic" = yes ]; then
        # The reboot comes at the end of the boot, with the boot-time script (ordered
        # after multi-user.target too) started or not: only the agent's end is checked.
        check "boot 1 (first boot): dpuos-trim.service ended" has_re "$end_re" "$(serial_of "$work/serial1.log")"
else
        check "boot 1 (first boot): the boot finished (${booted:-no RIG-BEGIN}) and the boot-time script ran" \
                all [ "$(field step)" = 1 ] -- up "$booted"
fi
if [ "$generic" = yes ]; then
        serial1=$(serial_of "$work/serial1.log")
        check "boot 1: the first boot ended in a reboot by itself ($shutdown1)" all [ "$poweroff1" = yes ] -- [ "$shutdown1" = reboot ]
        check "boot 1: the agent asked for it because of the kernel arguments" \
                has_re 'The kernel arguments changed \(hugepages=64\)' "$serial1"
else
        check "boot 1: the VM powered off by itself afterwards (rig-test.service's systemctl poweroff)" [ "$poweroff1" = yes ]
fi

report=$(vm_read "$image" /var/lib/dpuos-trim/report.json 2>/dev/null || true)
n_actions=$(jq '.actions | length' <<<"$report" 2>/dev/null || true)
check "boot 1: the agent wrote its report (${n_actions:-no} actions)" [ "${n_actions:-0}" -gt 0 ]
if [ "${n_actions:-0}" -gt 0 ]; then
        echo "report: policy $(jq -r .policy.name <<<"$report"), mode $(jq -r .mode <<<"$report"), $(jq -r .duration <<<"$report") s"
        echo "report: by outcome: $(jq -r '[.actions[].outcome] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' <<<"$report")"
        jq -r '.actions | group_by(.kind)[] | "report: \(.[0].kind): " + ([.[].outcome] | group_by(.) | map("\(.[0]) \(length)") | join(", "))' <<<"$report"
        jq -r '.errors[]? | "report: run error: \(.)"' <<<"$report"
        for t in "${ESSENTIAL[@]}"; do
                line=$(jq -r --arg t "$t" '.actions[] | select(.target == $t) |
                        "\(.kind) \(.action) \(.outcome)" + (if .reason then " (\(.reason))" else "" end)' <<<"$report" | paste -sd ';' -)
                echo "report: essential $t: ${line:-no action}"
        done
        # Each refusal is visible: with the hostile policy every essential target the
        # policy reached is protected, never changed.
        if [ "${BRICK_POLICY:-hostile}" = hostile ]; then
                for t in "${ESSENTIAL[@]}" vm.nr_hugepages vm.min_free_kbytes kernel.pid_max /sys/power/state; do
                        [ "$t" = ext4 ] && continue   # built into the cloud kernel: nothing to refuse
                        outcomes=$(jq -r --arg t "$t" '[.actions[] | select(.target == $t) | .outcome] | unique | join(",")' <<<"$report")
                        check "boot 1: $t is protected (${outcomes:-no action})" same protected "$outcomes"
                done
        fi
        for o in failed protected; do
                n=$(jq --arg o "$o" '[.actions[] | select(.outcome == $o)] | length' <<<"$report")
                echo "report: $n $o actions (the first 40):"
                jq -r --arg o "$o" '[.actions[] | select(.outcome == $o)][:40][] |
                        "  \(.kind) \(.action) \(.target)" + (if .reason then ": \(.reason)" else "" end)' <<<"$report"
        done
fi
stamp1=$(vm_exists "$image" /etc/dpuos-trim/applied && echo yes || echo no)
echo "boot 1: first-boot stamp written: $stamp1"

# --- boot 2: the next boot, kept running; the host logs in over SSH.
: >"$work/keep-running"
vm_put "$image" "$work/keep-running" /rig/keep-running
t_boot=$SECONDS
vm_start "$image" "$work/serial2.log" rig.step=2
if wait_serial "$work/serial2.log" 'RIG-END rc=' "${RIG_VM_TIMEOUT:-300}"; then
        echo "boot 2: the boot-time script ended after $((SECONDS - t_boot)) s"
else
        echo "boot 2: the boot-time script did not end after $((SECONDS - t_boot)) s; serial log tail:"
        serial_of "$work/serial2.log" | tail -n 25 | sed 's/^/  serial2: /'
fi
t_up=$((SECONDS - t_boot))
# SSH: wait for sshd to answer (it may start after the boot-time script).
ssh_ok=no t_ssh=$SECONDS
while vm_running "$image" && ((SECONDS - t_ssh < 120)); do
        if ssh_vm true 2>"$work/ssh.err"; then ssh_ok=yes; break; fi
        sleep 5
done
echo "ssh: first login $([ "$ssh_ok" = yes ] && echo "after $((SECONDS - t_ssh)) s" || echo "failed: $(tail -n 2 "$work/ssh.err" | tr '\n' ' ')")"
serial2=$(serial_of "$work/serial2.log")
# The boot-time script's output: /rig/result over SSH, else the serial log, where the
# console's login may have put a shell prompt in front of a line.
out=""
if [ "$ssh_ok" = yes ]; then out=$(ssh_vm 'cat /rig/result' 2>/dev/null || true); fi
if grep -q '^RIG-END rc=' <<<"$out"; then
        echo "boot 2: the boot-time script's output, from /rig/result over SSH:"
else
        echo "boot 2: the boot-time script's output, from the serial log:"
        out=$(script_output "$work/serial2.log")
fi
printf '%s\n' "$out" | sed 's/^/  boot 2: /'
booted=$(sed -n 's/^RIG-BEGIN boot finished: //p' <<<"$out" | head -n1)
check "boot 2: the boot finished (${booted:-no RIG-BEGIN}) and the boot-time script ran" \
        all [ "$(field step)" = 2 ] -- up "$booted"
check "boot 2: systemctl is-system-running says running or degraded (${state2:=$(field state)})" up "$state2"
check "boot 2: multi-user.target is active" [ "$(field multi-user)" = active ]
check "boot 2: the serial console logs root in (automatic login on ttyS0)" \
        has_re 'login: root \(automatic login\)' "$serial2"
check "boot 2: who lists root on ttyS0" [ "$(field who-ttyS0)" = 1 ]
check "boot 2: journalctl -b reads this boot's journal (${jl:=$(field journal-lines)} lines, the kernel's included)" \
        all [ "${jl:-0}" -gt 20 ] -- [ "$(field journal-kernel)" = 1 ]
echo "boot 2: sshd $(field sshd), networkd/NetworkManager $(field network), address $(field addr)"
if [ "$generic" = yes ]; then
        check "boot 2: the kernel runs with hugepages=64 ($(field cmdline))" has_re '(^| )hugepages=64( |$)' "$(field cmdline)"
        check "boot 2: GRUB booted it (BOOT_IMAGE= on the command line)" has_re '(^| )BOOT_IMAGE=' "$(field cmdline)"
        check "boot 2: 64 hugepages are reserved ($(field hugepages))" [ "$(field hugepages)" = 64 ]
        check "boot 1's journal: dpuos-trim-reboot.service ran and made the reboot ($(field prev-reboot-unit))" \
                [ "$(field prev-reboot-unit)" -ge 1 ]
        check "boot 2: dpuos-trim-reboot.service was skipped: no second reboot ($(field reboot-unit))" \
                [ "$(field reboot-unit)" = "no inactive" ]
        check "boot 2: the CD-ROM's sr_mod and cdrom, which the untouched initramfs loads, are not loaded" \
                [ "$(field cd-modules)" = 0 ]
        check "boot 2: modprobe sr_mod is refused" [ "$(field modprobe-sr_mod)" = refused ]
        report1_rebuilds=$(jq -r '[.actions[] | select(.action == "rebuild" and .outcome == "done") | .target] | join(" ")' <<<"$report")
        check "boot 1's report: the initramfs and grub.cfg were rebuilt ($report1_rebuilds)" \
                all has_re '/boot/initrd\.img-' "$report1_rebuilds" -- has_re '/boot/grub/grub\.cfg' "$report1_rebuilds"
        check "boot 1's report: the reboot was asked for" \
                [ "$(jq -r '.actions[] | select(.kind == "kernel" and .action == "reboot") | .outcome' <<<"$report")" = done ]
fi
echo "boot 2: $(field services) services running, $(field modules) modules loaded"

# Without a first login there is nothing to wait for: every SSH check fails at once.
ssh_try() { # VAR CMD: runs CMD over SSH into $VAR, its exit status into ${VAR}rc
        local o rc=0
        if [ "$ssh_ok" = yes ]; then o=$(ssh_vm "$2" 2>&1) || rc=$?; else o="no SSH login" rc=255; fi
        printf -v "$1" '%s' "$o"
        printf -v "${1}rc" '%s' "$rc"
}
sshout="" sshoutrc="" aptout="" aptoutrc="" trueout="" trueoutrc=""
ssh_try sshout 'journalctl -b --no-pager | tail -n 3; state=$(systemctl is-system-running); echo "$state"'
printf '%s\n' "$sshout" | sed 's/^/  ssh: /'
check "ssh: root logs in with the key on 127.0.0.1:$port (exit $sshoutrc)" [ "$sshoutrc" = 0 ]
check "ssh: the system says running or degraded" up "$(tail -n1 <<<"$sshout")"
check "ssh: journalctl -b prints this boot's last lines" \
        all [ "$sshoutrc" = 0 ] -- [ "$(grep -vc -E '^(running|degraded)$' <<<"$sshout")" = 3 ]

# The repair: reinstall libc6 from the local .deb with apt.
ssh_try aptout 'test -f /root/libc6.deb || { echo "no /root/libc6.deb"; exit 9; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall /root/libc6.deb </dev/null 2>&1
        rc=$?; echo "apt-rc: $rc"
        echo "libc6: $(dpkg-query -W -f="\${Status} \${Version}" libc6)"
        ls -l /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib64/ld-linux-x86-64.so.2 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 2>&1
        cat /etc/dpkg/dpkg.cfg.d/dpuos-trim 2>/dev/null | sed "s/^/dpkg-cfg: /"
        exit $rc'
grep -v '^dpkg-cfg: ' <<<"$aptout" | tail -n 30 | sed 's/^/  apt: /'
echo "  apt: $(grep -c '^dpkg-cfg: ' <<<"$aptout") lines in /etc/dpkg/dpkg.cfg.d/dpuos-trim, the path-exclude ones:"
grep -m 20 '^dpkg-cfg: path-exclude' <<<"$aptout" | sed 's/^/  apt:   /'
check "apt-get install --reinstall of libc6 $libc_ver from a local .deb succeeds (exit $aptoutrc)" \
        all [ -n "$deb" ] -- [ "$aptoutrc" = 0 ] -- has_text "Setting up libc6:amd64 ($libc_ver)" "$aptout"
check "after the reinstall libc6 is installed at $libc_ver" \
        has_line "libc6: install ok installed $libc_ver" "$aptout"
check "after the reinstall libc.so.6 and the loader are in place" \
        all has_re "^-.* $libdir/libc\.so\.6\$" "$aptout" -- has_re "^-.* $libdir/ld-linux-x86-64\.so\.2\$" "$aptout" -- \
        has_re "^l.* /usr/lib64/ld-linux-x86-64\.so\.2 -> " "$aptout"
ssh_try trueout '/bin/true && echo true-ran; ls / >/dev/null && echo ls-ran'
check "after the reinstall a new SSH login runs commands (/bin/true, ls)" \
        all [ "$trueoutrc" = 0 ] -- [ "$(printf '%s\n' "$trueout" | tr '\n' ' ')" = "true-ran ls-ran " ]

last_boot=2
[ "$generic" = yes ] && last_boot=3
# The package manager still knows its system.
pkgout="" pkgoutrc=""
ssh_try pkgout 'echo "audit: $(dpkg --audit 2>&1 | wc -l) lines, rc ${PIPESTATUS[0]}"
        apt-get check -q >/tmp/apt-check 2>&1; echo "apt-check: rc $?"; tail -n 3 /tmp/apt-check'
printf '%s\n' "$pkgout" | sed 's/^/  packages: /'
check "dpkg --audit finds nothing to report" has_line "audit: 0 lines, rc 0" "$pkgout"
check "apt-get check passes" has_line "apt-check: rc 0" "$pkgout"

echo "boot 2: up and checked after $((SECONDS - t_boot)) s (boot-time script at $t_up s)"
if [ "$generic" = yes ]; then
        # The machine reboots (qemu runs with -no-reboot: the reboot ends it, and boot 3
        # starts it again), into an initramfs that the trimmed system rebuilt with
        # update-initramfs -u (vm_rebuild_initramfs): boot 3 starts from it.
        verout="" veroutrc=""
        ssh_try verout 'dpuos-trim --verify --only=kernel'
        printf '%s\n' "$verout" | tail -n 4 | sed 's/^/  verify: /'
        check "boot 2: dpuos-trim --verify --only=kernel finds the arguments configured and booted (exit $veroutrc)" \
                [ "$veroutrc" = 0 ]
        revout="" revoutrc=""
        ssh_try revout 't0=$(date +%s%N); dpuos-trim --revert --only=kernel; rc=$?
                echo "revert-ms: $((($(date +%s%N) - t0) / 1000000))"
                echo "grub-hugepages: $(grep -c "hugepages=64" /boot/grub/grub.cfg)"
                echo "dropin: $(test -e /etc/default/grub.d/zz-dpuos-trim.cfg && echo yes || echo no)"
                exit $rc'
        printf '%s\n' "$revout" | tail -n 12 | sed 's/^/  revert: /'
        check "dpuos-trim --revert --only=kernel over SSH exits 0" [ "$revoutrc" = 0 ]
        check "the revert took the drop-in away and regenerated grub.cfg without hugepages=64" \
                all has_line "dropin: no" "$revout" -- has_line "grub-hugepages: 0" "$revout"
        down=no
        if [ "$ssh_ok" = yes ] && vm_running "$image"; then
                ssh_vm 'rm -f /rig/keep-running; systemctl reboot' >/dev/null 2>&1 || true
                if vm_wait "$image" 180; then down=yes; fi
        fi
        check "boot 2: systemctl reboot over SSH ends the boot" [ "$down" = yes ]
        if vm_running "$image"; then vm_kill "$image"; fi
        echo "boot 2 took $((SECONDS - t_boot)) s"
        vm_fsck "$image"
        initrc=0 kver="" initrd_before="" initrd_after="" secs=""
        if read -r kver initrd_before initrd_after secs < <(vm_rebuild_initramfs "$image" "$work/initramfs.log"); then
                echo "update-initramfs -u took $secs s"
        else
                initrc=1
        fi
        tail -n 3 "$work/initramfs.log" | sed 's/^/  initramfs: /'
        check "update-initramfs -u succeeds on the trimmed system (exit $initrc)" [ "$initrc" = 0 ]
        check "update-initramfs -u wrote a new initramfs for $kver" differs "$initrd_after" "$initrd_before"
        vm_fsck "$image"
        vm_put "$image" "$work/keep-running" /rig/keep-running
        t_boot=$SECONDS
        vm_start "$image" "$work/serial3.log" rig.step=3
        wait_serial "$work/serial3.log" 'RIG-END rc=' "${RIG_VM_TIMEOUT:-300}" || true
        ssh_ok=no t_ssh=$SECONDS
        while vm_running "$image" && ((SECONDS - t_ssh < 120)); do
                if ssh_vm true 2>"$work/ssh.err"; then ssh_ok=yes; break; fi
                sleep 5
        done
        out=""
        if [ "$ssh_ok" = yes ]; then out=$(ssh_vm 'cat /rig/result' 2>/dev/null || true); fi
        grep -q '^RIG-END rc=' <<<"$out" || out=$(script_output "$work/serial3.log")
        printf '%s\n' "$out" | sed 's/^/  boot 3: /'
        check "boot 3 (from the rebuilt initramfs): the system says running or degraded ($(field state))" \
                all [ "$(field step)" = 3 ] -- up "$(field state)"
        check "boot 3: multi-user.target is active" [ "$(field multi-user)" = active ]
        check "boot 3: root logs in over SSH again" [ "$ssh_ok" = yes ]
        check "boot 3: the reverted argument is gone from /proc/cmdline ($(field cmdline))" \
                all has_re '(^| )BOOT_IMAGE=' "$(field cmdline)" -- not has_re '(^| )hugepages=64( |$)' "$(field cmdline)"
        check "boot 3: no hugepages reserved ($(field hugepages))" [ "$(field hugepages)" = 0 ]
        # The policy still asks for hugepages=64: --verify says the configuration and the
        # running kernel both lack it.
        verout="" veroutrc=""
        ssh_try verout 'dpuos-trim --verify --only=kernel'
        printf '%s\n' "$verout" | sed 's/^/  verify: /'
        check "boot 3: --verify exits 3 and reports the drop-in missing and the running kernel without the argument" \
                all [ "$veroutrc" = 3 ] -- has_re 'zz-dpuos-trim\.cfg +differs' "$verout" -- has_re '/proc/cmdline +not booted' "$verout"
        echo "boot 3: up after $((SECONDS - t_boot)) s; $(field services) services running, $(field modules) modules loaded"
fi
# Power off over SSH (the connection may drop before ssh returns); a VM that cannot be
# reached is cut.
poweroff2=no
if [ "$ssh_ok" = yes ] && vm_running "$image"; then
        offout=$(ssh_vm 'systemctl poweroff' 2>&1) || true
        if vm_wait "$image" 120; then poweroff2=yes; fi
        printf '%s\n' "$offout" | grep . | sed 's/^/  poweroff: /' || true
fi
check "boot $last_boot: systemctl poweroff over SSH powers the VM off" [ "$poweroff2" = yes ]
last_shutdown=$(vm_last_shutdown "$work/serial$last_boot.log" || true)
check "boot $last_boot: it powered off, and did not reboot by itself ($last_shutdown)" [ "$last_shutdown" = poweroff ]
if vm_running "$image"; then vm_kill "$image"; fi
echo "the last boot took $((SECONDS - t_boot)) s"
vm_fsck "$image"
check "after boot 2 the image has $libdir/libc.so.6 and ld-linux-x86-64.so.2" \
        all vm_exists "$image" "$libdir/libc.so.6" -- vm_exists "$image" "$libdir/ld-linux-x86-64.so.2"

echo "the whole test took $((SECONDS - t_test)) s"
rig_test_end
