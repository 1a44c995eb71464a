#!/usr/bin/env bash
# rig-vm-smoke: the VM rig works. Builds (or reuses) the cached Debian root, installs the
# agent, makes an ext4 image and boots it under qemu (TCG) with the root's own kernel and
# initramfs. The boot-time test script prints the kernel release, the number of loaded
# modules and the systemd state; they are checked in the serial log and in /rig/result
# read back from the image with debugfs.
#   vm-smoke.sh [BUILD_DIR]
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs dumpe2fs meson

rig_smoke_begin vm-smoke
image=$work/root.img

t0=$SECONDS
rig_new_root "$BUILD_DIR" "$work/root"
rig_install_agent "$work/root" "$BUILD_DIR"
bin=$(rig_agent_path "$BUILD_DIR")
kver=$(ls "$work/root/lib/modules" | sort -V | tail -n1)

cat >"$work/root/rig/test.sh" <<T
#!/bin/sh
echo "uname: \$(uname -r)"
echo "modules: \$(wc -l </proc/modules)"
echo "state: \$(systemctl is-system-running)"
echo "agent: \$($bin --version)"
T
chmod 755 "$work/root/rig/test.sh"
vm_image "$work/root" "$image"
rm -rf "$work/root"
echo "image ready after $((SECONDS - t0)) s"

# dpuos_trim=0: the installed agent's first-boot service skips this boot; this tests the
# rig, and the agent's own boots are tested elsewhere.
secs=$(vm_boot "$image" "$work/serial.log" dpuos_trim=0)
echo "VM boot, test script and poweroff took $secs s"

serial=$(sed -e 's/\r$//' -e 's/\x1b\[[0-9;]*m//g' "$work/serial.log")
show() { printf '%s\n' "$serial" | tail -n 40 >&2; }
grep -q '^RIG-END rc=0$' <<<"$serial" || { show; fail "the boot-time test script did not end with rc=0 (serial log above)"; }
got=$(sed -n 's/^uname: //p' <<<"$serial")
[ "$got" = "$kver" ] || { show; fail "uname -r in the VM is '$got', expected the root's kernel $kver"; }
mods=$(sed -n 's/^modules: //p' <<<"$serial")
if ! [[ $mods =~ ^[0-9]+$ ]] || [ "$mods" -eq 0 ]; then show; fail "no modules loaded in the VM ('$mods')"; fi
state=$(sed -n 's/^state: //p' <<<"$serial")
case $state in running | degraded) ;; *) show; fail "systemctl is-system-running in the VM said '$state'" ;; esac
grep -q "^agent: dpuos-trim " <<<"$serial" || { show; fail "the agent did not run in the VM"; }
grep -q 'login: root (automatic login)' <<<"$serial" || { show; fail "no automatic root login on ttyS0"; }
echo "serial log: kernel $got, $mods modules loaded, system $state, autologin on ttyS0"

result=$(vm_read "$image" /rig/result)
for line in "uname: $kver" "modules: $mods" "state: $state" "RIG-END rc=0"; do
        grep -qxF "$line" <<<"$result" || { printf '%s\n' "$result" >&2; fail "/rig/result read back from the image lacks '$line'"; }
done
echo "/rig/result read back with debugfs matches the serial log"
echo "PASS: VM booted kernel $kver and powered off; total $((SECONDS - t0)) s"
