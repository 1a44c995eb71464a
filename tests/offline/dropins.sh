#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The policy search path as the binary sees it under --root (dpuos-trim.conf(5)): a file in
# a higher directory replaces the same name in a lower one, a symlink to /dev/null disables
# it, the rest merge in basename order, and --policy replaces the search path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
ETC=/etc/dpuos-trim/policy.d
RUN=/run/dpuos-trim/policy.d
LOCAL=/usr/local/lib/dpuos-trim/policy.d
VENDOR=/usr/lib/dpuos-trim/policy.d

# Replaced by the file of the same name in /etc.
policy 10-base.conf "$VENDOR" <<'EOF'
[Policy]
Name=vendor
[Units]
Mask=cups.service bluetooth.service
EOF
policy 10-base.conf "$ETC" <<'EOF'
[Policy]
Name=admin
[Units]
Mask=chronyd.service
EOF

# Disabled by a /dev/null link in a higher directory.
policy 20-extra.conf "$VENDOR" <<'EOF'
[Units]
Mask=avahi-daemon.service
[Files]
Remove=/usr/share/man/**
EOF
mkdir -p "$ROOT$RUN"
ln -s /dev/null "$ROOT$RUN/20-extra.conf"

# Merged by name across directories: 30 < 40 < 50, so 50's sysctl value wins even though
# it sits in the lowest directory.
policy 30-run.conf "$RUN" <<'EOF'
[Sysctl]
vm.swappiness = 30
kernel.sysrq = 0
EOF
policy 40-local.conf "$LOCAL" <<'EOF'
[Sysctl]
vm.swappiness = 40
[Modules]
Blacklist=floppy pcspkr
EOF
policy 50-vendor-late.conf "$VENDOR" <<'EOF'
[Sysctl]
vm.swappiness = 50
# An empty value drops a setting of an earlier file.
kernel.sysrq =
[Units]
Mask=postfix.service
EOF
# An empty assignment clears a list collected from earlier files.
policy 60-reset.conf "$ETC" <<'EOF'
[Modules]
Blacklist=
Blacklist=pcspkr
EOF
# Not policy files.
printf '[Bogus]\n' >"$ROOT$ETC/README"
printf '[Bogus]\n' >"$ROOT$ETC/70-old.conf.dpkg-old"

run_trim
expect_eq "apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || sed 's/^/    stderr: /' "$ERR"

masked() {
        local u out=""
        for u in "$ROOT"/etc/systemd/system/*; do
                [[ $(readlink "$u") == /dev/null ]] && out+="$(basename "$u") "
        done
        echo "${out% }"
}
expect_eq "only units of the effective files are masked" "chronyd.service postfix.service" "$(masked)"
expect "a file in /etc replaces the vendor file of the same name" test ! -L "$ROOT/etc/systemd/system/cups.service"
expect "a /dev/null link disables the file of that name" test ! -L "$ROOT/etc/systemd/system/avahi-daemon.service"
expect "the disabled file's [Files] section is not applied either" test -f "$ROOT/usr/share/man/man1/ls.1.gz"
expect_eq "the last file by name sets the sysctl value; an empty value drops a key" "vm.swappiness = 50" \
        "$(conf_lines "$ROOT/etc/sysctl.d/90-dpuos-trim.conf")"
expect_eq "an empty assignment clears the list of earlier files" \
"blacklist pcspkr
install pcspkr /bin/false
softdep pcspkr pre: post:" "$(conf_lines "$ROOT/etc/modprobe.d/dpuos-trim.conf")"
expect_eq "the report names the policy from the effective files" admin "$(jq_report '.policy.name')"
expect_eq "the report lists the merged files in order" \
"$ROOT$ETC/10-base.conf
$ROOT$RUN/30-run.conf
$ROOT$LOCAL/40-local.conf
$ROOT$VENDOR/50-vendor-late.conf
$ROOT$ETC/60-reset.conf" "$(jq_report '.policy.sources[]')"

# --policy replaces the search path: only the named files count; of two with one name the
# earlier wins.
mkdir -p "$SCRATCH/a" "$SCRATCH/b"
printf '[Units]\nMask=bluetooth.service\n' >"$SCRATCH/a/10-x.conf"
printf '[Units]\nMask=cups.service\n' >"$SCRATCH/b/10-x.conf"
printf '[Units]\nMask=postfix.service\n' >"$SCRATCH/b/20-y.conf"
ROOT=$SCRATCH/explicit
make_os_tree "$ROOT"
policy 10-base.conf <<'EOF'
[Units]
Mask=chronyd.service
EOF
run_trim --policy="$SCRATCH/a" --policy="$SCRATCH/b"
expect_eq "apply with --policy exits 0" 0 "$RC"
expect_eq "--policy replaces the search path; the earlier directory wins a shared name" \
        "bluetooth.service postfix.service" "$(masked)"
run_trim --dry-run --json --policy="$SCRATCH/b/20-y.conf"
expect_eq "--policy=FILE reads just that file" "$SCRATCH/b/20-y.conf" "$(jq -r '.policy.sources | join(" ")' "$OUT")"

# No policy at all: nothing to do, nothing changed but the report.
ROOT=$SCRATCH/empty
make_os_tree "$ROOT"
before=$SCRATCH/before
tree_state "$ROOT" var >"$before"
run_trim
expect_eq "without policy files the run exits 0" 0 "$RC"
expect_tree_unchanged "without policy files nothing is changed" "$before" var

finish
