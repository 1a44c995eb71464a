#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every section of a policy applied to an OS tree with --root: what the agent leaves behind
# (mask links, modprobe.d, sysctl.d, tmpfiles.d, removed and kept files, the report), and a
# second run that finds everything done and changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"

policy 50-dpu.conf <<'EOF'
# A vendor policy using every section.
[Policy]
Name=dpu-test
OnFailure=continue   # keep going after a failed action

[Units]
Mask=cups.service avahi-daemon.* bluetooth.service postfix.service not-installed.service
Keep=postfix.service
Stop=yes

[Modules]
Unload=floppy
Blacklist=floppy pcspkr snd-* mlx5_* mem not_a_module
Keep=mlx5_* virtio_*

[Sysctl]
vm.swappiness = 10
kernel/sysrq = 0
-net.core.bpf_jit_harden = 1

[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
-/sys/kernel/mm/ksm/run = 0

[Files]
Remove=/usr/share/doc/** /usr/share/man/** /usr/share/locale/**
Remove=/usr/lib/x86_64-linux-gnu/**
Keep=/usr/share/locale/en_US/** /usr/share/doc/*/copyright
EOF

run_trim
expect_eq "apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || sed 's/^/    stderr: /' "$ERR"

# [Units]: masks are /dev/null links in /etc, triggers included; Keep= wins over Mask=.
for u in cups.service cups.socket cups.path avahi-daemon.service avahi-daemon.socket bluetooth.service; do
        expect_eq "$u is masked (link to /dev/null)" /dev/null "$(readlink "$ROOT/etc/systemd/system/$u" || true)"
done
expect "postfix.service (Keep=) is not masked" test ! -e "$ROOT/etc/systemd/system/postfix.service" -a ! -L "$ROOT/etc/systemd/system/postfix.service"
expect "an uninstalled unit gets no mask" test ! -L "$ROOT/etc/systemd/system/not-installed.service"
expect "unrelated units stay untouched" test ! -L "$ROOT/etc/systemd/system/chronyd.service"
expect_eq "the report says postfix.service was kept" "skipped kept by the policy (Keep=)" \
        "$(jq_report '.actions[] | select(.kind == "units" and .target == "postfix.service") | "\(.outcome) \(.reason)"')"
expect_eq "the report says not-installed.service is not installed" "skipped" \
        "$(jq_report '.actions[] | select(.target == "not-installed.service") | .outcome')"

# [Modules]: globs expand over the kernel's modules, Keep= wins, built-ins cannot be
# blacklisted through modprobe.d.
expect_eq "modprobe.d lists blacklist and install lines for the blacklisted modules" \
"blacklist floppy
install floppy /bin/false
softdep floppy pre: post:
blacklist pcspkr
install pcspkr /bin/false
softdep pcspkr pre: post:
blacklist snd_hda_intel
install snd_hda_intel /bin/false
softdep snd_hda_intel pre: post:
blacklist snd_pcm
install snd_pcm /bin/false
softdep snd_pcm pre: post:
blacklist snd_timer
install snd_timer /bin/false
softdep snd_timer pre: post:
blacklist not_a_module
install not_a_module /bin/false
softdep not_a_module pre: post:" "$(conf_lines "$ROOT/etc/modprobe.d/dpuos-trim.conf")"
expect_eq "a built-in module is skipped with the reason" "skipped" \
        "$(jq_report '.actions[] | select(.kind == "modules" and .target == "mem") | .outcome')"
# Named but in no installed kernel: blacklisted as written, for a kernel that brings it.
expect_eq "a module no kernel has is blacklisted all the same" "done" \
        "$(jq_report '.actions[] | select(.kind == "modules" and .target == "not_a_module") | .outcome')"
expect_eq "and the report says why" "no installed kernel has it: blacklisted for one that brings it" \
        "$(jq_report '.actions[] | select(.kind == "modules" and .target == "not_a_module") | .reason')"
expect_eq "mlx5_core (Keep=) is not blacklisted" "" \
        "$(jq_report '.actions[] | select(.kind == "modules" and .target == "mlx5_core" and .outcome == "done") | .target')"

# [Sysctl] and [Sysfs]: persisted in sysctl.d and tmpfiles.d.
expect_eq "sysctl.d holds the settings, dotted, with '-' kept" \
"vm.swappiness = 10
kernel.sysrq = 0
-net.core.bpf_jit_harden = 1" "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"
expect_eq "tmpfiles.d holds 'w' lines ('w-' for optional attributes)" \
"w /sys/kernel/mm/transparent_hugepage/enabled - - - - never
w- /sys/kernel/mm/ksm/run - - - - 0" "$(conf_lines "$ROOT/etc/tmpfiles.d/dpuos-trim.conf")"
for f in etc/modprobe.d/dpuos-trim.conf etc/sysctl.d/90-dpuos-trim.conf etc/tmpfiles.d/dpuos-trim.conf; do
        expect_eq "$f is a regular file with mode 644" "regular file 644" "$(stat -c '%F %a' "$ROOT/$f")"
done
expect_eq "no temporary files are left next to the persisted files" "" \
        "$(cd "$ROOT/etc" && find modprobe.d sysctl.d tmpfiles.d -name '.#*')"

# [Files]: removed, kept, protected.
expect "docs are removed" test ! -e "$ROOT/usr/share/doc/bash/README" -a ! -e "$ROOT/usr/share/doc/coreutils/NEWS.gz"
expect "copyright files (Keep=) survive" test -f "$ROOT/usr/share/doc/bash/copyright" -a -f "$ROOT/usr/share/doc/coreutils/copyright"
expect "man pages and their directories are removed" test -z "$(ls -A "$ROOT/usr/share/man")"
expect "a trailing '**' keeps the directory itself" test -d "$ROOT/usr/share/man" -a -d "$ROOT/usr/share/locale"
expect "other locales are removed" test ! -e "$ROOT/usr/share/locale/de" -a ! -e "$ROOT/usr/share/locale/fr"
expect "the kept locale survives" test -f "$ROOT/usr/share/locale/en_US/LC_MESSAGES/coreutils.mo"
expect "an unprotected library is removed" test ! -e "$ROOT/usr/lib/x86_64-linux-gnu/libfoo.so.1"
expect "libc survives" test -f "$ROOT/usr/lib/x86_64-linux-gnu/libc.so.6"
expect "the dynamic loader survives" test -f "$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
expect_eq "the report lists libc and the loader as protected" \
"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 protected
/usr/lib/x86_64-linux-gnu/libc.so.6 protected" \
        "$(jq_report '.actions[] | select(.kind == "files" and .state == "protected") | "\(.target) \(.outcome)"' | sort)"

# The report: one JSON document with what was done.
expect_eq "report.json names the mode, policy and root" "apply dpu-test $ROOT" \
        "$(jq_report '"\(.mode) \(.policy.name) \(.root)"')"
expect_eq "nothing failed" 0 "$(jq_report '.totals.failed')"
expect "bytes freed are counted" test "$(jq_report '.totals.bytes_freed')" -gt 14000
expect_eq "every change the plan made is done" "" \
        "$(jq_report '.actions[] | select(.state == "change" and .outcome != "done") | .target')"

# A second run: everything is already as the policy says.
before=$SCRATCH/before
tree_state "$ROOT" var/lib/dpuos-trim >"$before"
run_trim
expect_eq "the second run exits 0" 0 "$RC"
expect_eq "the second run does nothing" 0 "$(jq_report '.totals.done')"
expect_eq "the second run finds every action unchanged, skipped or protected" "" \
        "$(jq_report '.actions[] | select(.outcome | IN("unchanged", "skipped", "protected") | not) | "\(.kind) \(.target) \(.outcome)"')"
expect_eq "the second run reports every mask unchanged" 6 \
        "$(jq_report '[.actions[] | select(.kind == "units" and .outcome == "unchanged")] | length')"
expect_tree_unchanged "the second run changes nothing in the tree" "$before" var/lib/dpuos-trim

# --only limits the run to some kinds.
ROOT=$SCRATCH/only
make_os_tree "$ROOT"
policy 50-dpu.conf <"$SCRATCH/root$POLICY_DIR/50-dpu.conf"
run_trim --only=files,sysctl
expect_eq "--only=files,sysctl exits 0" 0 "$RC"
expect "--only=files,sysctl removes files" test ! -e "$ROOT/usr/share/doc/bash/README"
expect "--only=files,sysctl writes sysctl.d" test -f "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
expect "--only=files,sysctl masks nothing" test ! -L "$ROOT/etc/systemd/system/cups.service"
expect "--only=files,sysctl writes neither modprobe.d nor tmpfiles.d" \
        test ! -e "$ROOT/etc/modprobe.d/dpuos-trim.conf" -a ! -e "$ROOT/etc/tmpfiles.d/dpuos-trim.conf"
expect_eq "--only=files,sysctl reports only those kinds" "files sysctl" \
        "$(jq_report '[.actions[].kind] | unique | join(" ")')"

finish
