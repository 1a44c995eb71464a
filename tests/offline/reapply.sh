#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# After the policy changes, a run brings the persisted files in line with it: the files say
# "Do not edit: change the policy and run dpuos-trim again". A changed value, a new entry and
# a dropped entry must all show in modprobe.d, sysctl.d and tmpfiles.d.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
policy 50-dpu.conf <<'EOF'
[Modules]
Blacklist=floppy pcspkr
[Sysctl]
vm.swappiness = 10
kernel.sysrq = 0
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
/sys/kernel/mm/transparent_hugepage/defrag = never
EOF
run_trim
expect_eq "the first apply exits 0" 0 "$RC"

# A changed value is rewritten.
policy 50-dpu.conf <<'EOF'
[Modules]
Blacklist=floppy pcspkr
[Sysctl]
vm.swappiness = 20
kernel.sysrq = 0
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
/sys/kernel/mm/transparent_hugepage/defrag = never
EOF
run_trim
expect_eq "the apply after a changed value exits 0" 0 "$RC"
expect_eq "sysctl.d holds the changed value" \
"vm.swappiness = 20
kernel.sysrq = 0" "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"

# A new entry is added.
policy 50-dpu.conf <<'EOF'
[Modules]
Blacklist=floppy pcspkr snd_pcm
[Sysctl]
vm.swappiness = 20
kernel.sysrq = 0
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
/sys/kernel/mm/transparent_hugepage/defrag = never
EOF
run_trim
expect_eq "modprobe.d holds the new module" \
"blacklist floppy
install floppy /bin/false
softdep floppy pre: post:
blacklist pcspkr
install pcspkr /bin/false
softdep pcspkr pre: post:
blacklist snd_pcm
install snd_pcm /bin/false
softdep snd_pcm pre: post:" "$(conf_lines "$ROOT/etc/modprobe.d/dpuos-trim.conf")"

# Entries dropped from the policy, nothing else changed: the files must follow.
policy 50-dpu.conf <<'EOF'
[Modules]
Blacklist=floppy snd_pcm
[Sysctl]
vm.swappiness = 20
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
EOF
run_trim
expect_eq "the apply after dropping entries exits 0" 0 "$RC"
expect_eq "modprobe.d no longer blacklists a module dropped from the policy" \
"blacklist floppy
install floppy /bin/false
softdep floppy pre: post:
blacklist snd_pcm
install snd_pcm /bin/false
softdep snd_pcm pre: post:" "$(conf_lines "$ROOT/etc/modprobe.d/dpuos-trim.conf")"
expect_eq "sysctl.d no longer sets a key dropped from the policy" \
        "vm.swappiness = 20" "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"
expect_eq "tmpfiles.d no longer writes an attribute dropped from the policy" \
        "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never" \
        "$(conf_lines "$ROOT/etc/tmpfiles.d/dpuos-trim.conf")"

finish
