#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [Kernel]: the kernel arguments, offline, on each boot loader configuration the agent
# knows: Debian's /etc/default/grub.d drop-in, classic /etc/default/grub, and BLS entries
# with /etc/kernel/cmdline. What GRUB's defaults files end up saying is read the way
# grub-mkconfig reads them: sourced by a real shell. The vendor's arguments (comma lists,
# '=' in values, quoted values) stay as they are; a policy change drops what is no longer
# asked for; --revert gives back the files byte for byte; a reservation over the memory
# rule and an unreadable defaults file are refused with nothing written; a bad policy
# writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool sh
need_tool jq
need_test_hooks

# grub_eval ROOT: GRUB_CMDLINE_LINUX|GRUB_CMDLINE_LINUX_DEFAULT as grub-mkconfig sees them
# (Debian's sources /etc/default/grub, then /etc/default/grub.d/*.cfg in order).
grub_eval() {
        (cd "$1" && sh -c '
                lsb_release() { echo Debian; }
                . ./etc/default/grub
                for f in ./etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done
                echo "$GRUB_CMDLINE_LINUX|$GRUB_CMDLINE_LINUX_DEFAULT"')
}

# report_has ACTION TARGET: the outcome of that kernel action in the last report.
report_has() {
        jq_report --arg v "$1" --arg t "$2" '.actions[] | select(.kind == "kernel" and .action == $v and .target == $t) | .outcome'
}

# ---------------------------------------------------------------------------------------
# 1. Debian: the drop-in.
ROOT=$SCRATCH/debian
make_os_tree "$ROOT"
mkdir -p "$ROOT/etc/default/grub.d" "$ROOT/boot/grub"
# Debian's own /etc/default/grub (its GRUB_DISTRIBUTOR line runs a command: that is not
# the variables the agent reads), with a vendor's arguments.
cat >"$ROOT/etc/default/grub" <<'EOF'
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="modprobe.blacklist=mlx5_core,mlx5_ib isolcpus=2-7,10 foo=a=b"
EOF
# kdump-tools' drop-in, as Debian ships it.
printf 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX crashkernel=384M-:128M"\n' >"$ROOT/etc/default/grub.d/kdump-tools.cfg"
printf '#!/bin/sh\nexec grub-mkconfig -o /boot/grub/grub.cfg "$@"\n' >"$ROOT/usr/sbin/update-grub"
chmod 755 "$ROOT/usr/sbin/update-grub"
printf '# grub.cfg\n' >"$ROOT/boot/grub/grub.cfg"
touch -d '2020-01-01' "$ROOT/boot/grub/grub.cfg"
original=$(grub_eval "$ROOT")
expect_eq "the fixture's defaults read as update-grub reads them" \
        "modprobe.blacklist=mlx5_core,mlx5_ib isolcpus=2-7,10 foo=a=b crashkernel=384M-:128M|quiet" "$original"

policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepagesz=1G hugepages=4 default_hugepagesz=1G iommu=pt
RemoveArguments=quiet rhgb
EOF
tree_state "$ROOT" >"$SCRATCH/before"
run_trim --dry-run -v
expect_eq "dry run: exit 0" 0 "$RC"
expect "dry run: the plan sets the drop-in" grep -q 'kernel .*/etc/default/grub.d/zz-dpuos-trim.cfg .*would set' "$OUT"
expect "dry run: the plan names the regeneration (update-grub)" grep -q '/boot/grub/grub.cfg .*update-grub' "$OUT"
expect_tree_unchanged "dry run: nothing written" "$SCRATCH/before"

run_trim
expect_eq "apply: exit 0" 0 "$RC"
expect_eq "the drop-in gives GRUB the policy's arguments after the vendor's, and takes quiet out" \
        "modprobe.blacklist=mlx5_core,mlx5_ib isolcpus=2-7,10 foo=a=b crashkernel=384M-:128M hugepagesz=1G hugepages=4 default_hugepagesz=1G iommu=pt|" \
        "$(grub_eval "$ROOT")"
expect "the vendor's files keep their content" \
        grep -q 'GRUB_CMDLINE_LINUX="modprobe.blacklist=mlx5_core,mlx5_ib isolcpus=2-7,10 foo=a=b"' "$ROOT/etc/default/grub"
expect_eq "offline, grub.cfg is not regenerated: skipped, with the command named" "skipped" \
        "$(report_has rebuild /boot/grub/grub.cfg)"
expect_eq "grub.cfg is as it was" "# grub.cfg" "$(cat "$ROOT/boot/grub/grub.cfg")"

tree_state "$ROOT" var/lib/dpuos-trim >"$SCRATCH/applied"
run_trim
expect_eq "second apply: exit 0" 0 "$RC"
expect_eq "second apply: the drop-in is unchanged" "unchanged" "$(report_has set /etc/default/grub.d/zz-dpuos-trim.cfg)"
expect_tree_unchanged "second apply: nothing rewritten" "$SCRATCH/applied" var/lib/dpuos-trim

# A vendor drop-in that sets hugepages= for the default entries: the policy's hugepages
# would come first and lose to it, so the drop-in takes it out of the default entries.
printf 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT hugepages=2 splash=silent"\n' \
        >"$ROOT/etc/default/grub.d/50-vendor.cfg"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepages=64
RemoveArguments=quiet splash
EOF
run_trim
expect_eq "policy change: exit 0" 0 "$RC"
expect_eq "policy change: what it no longer asks for is gone, the new argument is in, the vendor's stay" \
        "modprobe.blacklist=mlx5_core,mlx5_ib isolcpus=2-7,10 foo=a=b crashkernel=384M-:128M hugepages=64|" \
        "$(grub_eval "$ROOT")"
rm "$ROOT/etc/default/grub.d/50-vendor.cfg"

run_trim --revert
expect_eq "revert: exit 0" 0 "$RC"
expect "revert: the drop-in is gone" test ! -e "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"
expect_eq "revert: GRUB's defaults are the vendor's again" "$original" "$(grub_eval "$ROOT")"

# The memory rule: on a 4 GiB machine the OS keeps 2 GiB.
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepagesz=1G hugepages=3
EOF
tree_state "$ROOT" var/lib/dpuos-trim >"$SCRATCH/before"
RC=0
DPUOS_TRIM_TEST_MEMTOTAL=$((4 << 30)) "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "3 GiB of hugepages on a 4 GiB machine: exit 1" 1 "$RC"
expect "the refusal gives the numbers" grep -q 'reserve 3[0-9]* MiB of the 4096 MiB .*2048 MiB' "$OUT"
expect "no drop-in written" test ! -e "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"
printf '[Kernel]\nArguments=hugepagesz=1G hugepages=1\n' >"$SCRATCH/two.conf"
RC=0
DPUOS_TRIM_TEST_MEMTOTAL=$((4 << 30)) "$DPUOS_TRIM" --root="$ROOT" --policy="$SCRATCH/two.conf" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "1 GiB of hugepages beside the crash kernel's 128 MiB on a 4 GiB machine: allowed" 0 "$RC"
expect "1 GiB of hugepages on a 4 GiB machine: written" grep -q 'hugepages=1' "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"
rm -f "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"
printf '[Kernel]\nArguments=hugepages=5200 crashkernel=1G-4G:192M,4G-64G:2G,64G-:4G\n' >"$SCRATCH/crash.conf"
RC=0
DPUOS_TRIM_TEST_MEMTOTAL=$((16 << 30)) "$DPUOS_TRIM" --root="$ROOT" --policy="$SCRATCH/crash.conf" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "10400 MiB of 2 MiB pages and a 2 GiB crash kernel on 16 GiB: refused" 1 "$RC"
expect "the crash kernel's range for 16 GiB counts" grep -q 'reserve 12448 MiB of the 16384 MiB' "$OUT"
expect "no drop-in written" test ! -e "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"

# A defaults file that computes the variable: not read, not guessed at.
printf 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $(cat /etc/extra-args)"\n' >"$ROOT/etc/default/grub.d/60-computed.cfg"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=iommu=pt
EOF
run_trim
expect_eq "a computed GRUB_CMDLINE_LINUX: exit 1" 1 "$RC"
expect "the refusal names the file and line" grep -q '60-computed.cfg:1: cannot read how it sets GRUB_CMDLINE_LINUX' "$OUT"
expect "no drop-in written" test ! -e "$ROOT/etc/default/grub.d/zz-dpuos-trim.cfg"
rm "$ROOT/etc/default/grub.d/60-computed.cfg"

# Bad policies: exit 2, nothing written.
tree_state "$ROOT" >"$SCRATCH/before"
bad() { # WHAT LINE...
        local what=$1
        shift
        printf '[Kernel]\n' >"$ROOT$POLICY_DIR/70-kernel.conf"
        printf '%s\n' "$@" >>"$ROOT$POLICY_DIR/70-kernel.conf"
        tree_state "$ROOT" >"$SCRATCH/before"
        run_trim
        expect_eq "bad policy ($what): exit 2" 2 "$RC"
        expect_tree_unchanged "bad policy ($what): nothing written" "$SCRATCH/before"
}
bad "root= is protected" "Arguments=root=/dev/sda2"
bad "init= is protected" "RemoveArguments=init"
bad "a quote" 'Arguments=foo="a'
bad "shell syntax" 'Arguments=x=$(reboot)'
bad "added and removed" "Arguments=iommu=pt" "RemoveArguments=iommu"
bad "Reboot=maybe" "Reboot=maybe"
bad "dpuos-trim's own switch" "Arguments=dpuos_trim=0"

# ---------------------------------------------------------------------------------------
# 2. Classic GRUB: /etc/default/grub alone (openEuler), grub2-mkconfig -o the grub.cfg
# that exists.
ROOT=$SCRATCH/classic
make_os_tree "$ROOT"
mkdir -p "$ROOT/etc/default" "$ROOT/boot/grub2"
cat >"$ROOT/etc/default/grub" <<'EOF'
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="resume=/dev/mapper/openeuler-swap rd.lvm.lv=openeuler/root crashkernel=512M rhgb quiet"
GRUB_DISABLE_RECOVERY="true"
EOF
cp "$ROOT/etc/default/grub" "$SCRATCH/grub.orig"
printf '# grub.cfg\n' >"$ROOT/boot/grub2/grub.cfg"
touch "$ROOT/usr/sbin/grub2-mkconfig"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepagesz=1G hugepages=4 default_hugepagesz=1G iommu=pt isolcpus=2-7,10
RemoveArguments=quiet rhgb
EOF
run_trim --dry-run -v
expect "classic: the plan names grub2-mkconfig with the grub.cfg that exists" \
        grep -q '/boot/grub2/grub.cfg .*grub2-mkconfig -o /boot/grub2/grub.cfg' "$OUT"
run_trim
expect_eq "classic: exit 0" 0 "$RC"
val=$(cd "$ROOT" && sh -c '. ./etc/default/grub 2>/dev/null; echo "$GRUB_CMDLINE_LINUX"')
expect_eq "classic: GRUB_CMDLINE_LINUX with the policy applied, the vendor's arguments in their place" \
        "resume=/dev/mapper/openeuler-swap rd.lvm.lv=openeuler/root crashkernel=512M hugepagesz=1G hugepages=4 default_hugepagesz=1G iommu=pt isolcpus=2-7,10" "$val"
expect "classic: the vendor's lines stay as they were, the block comes after them" \
        cmp -s "$SCRATCH/grub.orig" <(head -n "$(wc -l <"$SCRATCH/grub.orig")" "$ROOT/etc/default/grub")
tree_state "$ROOT" var/lib/dpuos-trim >"$SCRATCH/applied"
run_trim
expect_tree_unchanged "classic: a second apply rewrites nothing" "$SCRATCH/applied" var/lib/dpuos-trim
run_trim --revert
expect_eq "classic: revert exit 0" 0 "$RC"
expect "classic: revert gives back /etc/default/grub byte for byte" cmp "$SCRATCH/grub.orig" "$ROOT/etc/default/grub"

# ---------------------------------------------------------------------------------------
# 3. BLS entries and /etc/kernel/cmdline, edited in place with a record of the edit.
ROOT=$SCRATCH/bls
make_os_tree "$ROOT"
E=$ROOT/boot/loader/entries
mkdir -p "$E" "$ROOT/etc/kernel"
cat >"$E/abc-6.6.0-1.oe2403.x86_64.conf" <<'EOF'
title openEuler (6.6.0-1.oe2403.x86_64) 24.03 (LTS)
version 6.6.0-1.oe2403.x86_64
linux /vmlinuz-6.6.0-1.oe2403.x86_64
initrd /initramfs-6.6.0-1.oe2403.x86_64.img
options root=/dev/mapper/oe-root ro hugepages=2 quiet  dyndbg="file drivers/x.c +p" modprobe.blacklist=mlx5_core,mlx5_ib
grub_users $grub_users
EOF
cat >"$E/abc-0-rescue.conf" <<'EOF'
title openEuler (0-rescue)
linux /vmlinuz-0-rescue
options root=/dev/mapper/oe-root ro
EOF
printf 'root=/dev/mapper/oe-root ro quiet\n' >"$ROOT/etc/kernel/cmdline"
mkdir -p "$SCRATCH/bls.orig"
cp -a "$E" "$ROOT/etc/kernel/cmdline" "$SCRATCH/bls.orig/"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepages=64 iommu=pt
RemoveArguments=quiet
EOF
run_trim
expect_eq "BLS: exit 0" 0 "$RC"
expect_eq "BLS: the entry's options edited word by word (hugepages in place, quoted value kept)" \
        'options root=/dev/mapper/oe-root ro hugepages=64 dyndbg="file drivers/x.c +p" modprobe.blacklist=mlx5_core,mlx5_ib iommu=pt' \
        "$(grep '^options' "$E/abc-6.6.0-1.oe2403.x86_64.conf")"
expect_eq "BLS: the entry's other lines stay" "grub_users \$grub_users" "$(tail -n1 "$E/abc-6.6.0-1.oe2403.x86_64.conf")"
expect_eq "BLS: the rescue entry gets them too" "options root=/dev/mapper/oe-root ro hugepages=64 iommu=pt" \
        "$(grep '^options' "$E/abc-0-rescue.conf")"
expect_eq "BLS: /etc/kernel/cmdline for kernels installed later" "root=/dev/mapper/oe-root ro hugepages=64 iommu=pt" \
        "$(cat "$ROOT/etc/kernel/cmdline")"
expect "BLS: the record says what was removed" \
        grep -qxF "removed	/boot/loader/entries/abc-6.6.0-1.oe2403.x86_64.conf	hugepages=2" "$ROOT/var/lib/dpuos-trim/saved/kernel-arguments"
expect_eq "BLS: nothing to regenerate" "" "$(jq_report '.actions[] | select(.verb == "rebuild") | .target')"
tree_state "$ROOT" var/lib/dpuos-trim >"$SCRATCH/applied"
cp "$ROOT/var/lib/dpuos-trim/saved/kernel-arguments" "$SCRATCH/record"
run_trim
expect_tree_unchanged "BLS: a second apply rewrites nothing" "$SCRATCH/applied" var/lib/dpuos-trim
expect "BLS: nor the record" cmp "$SCRATCH/record" "$ROOT/var/lib/dpuos-trim/saved/kernel-arguments"

# Someone edits an entry meanwhile: theirs stays; a policy change drops iommu=pt.
sed -i 's/^options \(.*\)$/options \1 console=ttyS0/' "$E/abc-0-rescue.conf"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=hugepages=32
EOF
run_trim
expect_eq "BLS policy change: exit 0" 0 "$RC"
expect_eq "BLS policy change: iommu=pt dropped, quiet back in its place, hugepages=32" \
        'options root=/dev/mapper/oe-root ro hugepages=32 quiet dyndbg="file drivers/x.c +p" modprobe.blacklist=mlx5_core,mlx5_ib' \
        "$(grep '^options' "$E/abc-6.6.0-1.oe2403.x86_64.conf")"
expect_eq "BLS policy change: the rescue entry, with the admin's console= kept" "options root=/dev/mapper/oe-root ro console=ttyS0 hugepages=32" \
        "$(grep '^options' "$E/abc-0-rescue.conf")"
sed -i 's/ console=ttyS0//' "$E/abc-0-rescue.conf"
run_trim --revert
expect_eq "BLS revert: exit 0" 0 "$RC"
expect "BLS revert: the entries are as they were, byte for byte" diff -r "$SCRATCH/bls.orig/entries" "$E"
expect_eq "BLS revert: /etc/kernel/cmdline as it was" "root=/dev/mapper/oe-root ro quiet" "$(cat "$ROOT/etc/kernel/cmdline")"
expect "BLS revert: the record is gone" test ! -e "$ROOT/var/lib/dpuos-trim/saved/kernel-arguments"

# An entry whose options come from grubenv's $kernelopts is not edited.
printf 'title x\nlinux /vmlinuz-x\noptions $kernelopts\n' >"$E/old.conf"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=iommu=pt
EOF
run_trim
expect_eq "\$kernelopts: exit 1" 1 "$RC"
expect "\$kernelopts: said so" grep -q 'old.conf.*kernelopts' "$OUT"
expect_eq "\$kernelopts: the entry stays" 'options $kernelopts' "$(grep '^options' "$E/old.conf")"

# ---------------------------------------------------------------------------------------
# 4. No boot loader configuration at all.
ROOT=$SCRATCH/none
make_os_tree "$ROOT"
policy 70-kernel.conf <<'EOF'
[Kernel]
Arguments=iommu=pt
EOF
run_trim
expect_eq "no boot loader configuration: exit 1" 1 "$RC"
expect "no boot loader configuration: said so" grep -q 'no boot loader configuration found' "$OUT"

finish
