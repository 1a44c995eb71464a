#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --verify, --revert and PreventReinstall= on an OS tree (--root). --verify lists what does
# not hold and exits 3, or 0 on a tree the policy was applied to; a change made by hand in
# each kind is found. PreventReinstall= writes dpkg's and rpm's exclusions, read back by
# rpm itself. A policy that drops a mask takes back only dpuos-trim's own mask; --revert
# takes back all of them and every persisted file, the removed files stay removed, and
# --verify with an empty policy then finds nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
ln -s usr/lib "$ROOT/lib"     # merged /usr: packages still name /lib/...
mkdir -p "$ROOT/var/lib/dpkg" "$ROOT/var/lib/rpm" "$ROOT/usr/lib/firmware/radeon"
: >"$ROOT/var/lib/dpkg/status"
printf 'fw\n' >"$ROOT/usr/lib/firmware/radeon/r100.bin"
# The administrator masked chronyd before dpuos-trim ever ran.
ln -s /dev/null "$ROOT/etc/systemd/system/chronyd.service"
EMPTY=$SCRATCH/empty.d
mkdir -p "$EMPTY"

policy 50-dpu.conf <<'EOF'
[Policy]
Name=verify-test
[Units]
Mask=cups.service bluetooth.service chronyd.service
[Modules]
Blacklist=floppy
[Sysctl]
vm.swappiness = 10
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
[Files]
Remove=/usr/share/doc/** /usr/share/man/** /usr/share/locale/** /usr/lib/firmware/radeon
Keep=/usr/share/doc/*/copyright /usr/share/locale/en_US/**
PreventReinstall=yes
EOF

drift_items() { # the TARGET column of --verify's table
        awk 'NR > 1 && !/^dpuos-trim:/ { print $1 " " $2 }' "$OUT"
}

run_trim --verify
expect_eq "before any run, --verify exits 3" 3 "$RC"
run_trim --dry-run --json
planned=$(jq '[.actions[] | select(.state == "change")] | length' "$OUT")
expect "the dry run before any run plans changes ($planned)" test "$planned" -gt 0
run_trim --verify --json
expect_same "the drift before a run is exactly the dry run's changes ($planned)" "$planned" "$(jq .drift "$OUT")"

run_trim
expect_eq "the application exits 0" 0 "$RC"
run_trim --verify
expect_eq "after it, --verify exits 0" 0 "$RC"
expect "and says the policy holds" grep -q 'holds, 0 items drifted' "$OUT"

expect_eq "dpkg is told not to install the removed files, the kept ones are included last" \
"path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/lib/firmware/radeon
path-exclude=/usr/lib/firmware/radeon/*
path-exclude=/lib/firmware/radeon
path-exclude=/lib/firmware/radeon/*
path-include=/usr/share/doc/*/copyright
path-include=/usr/share/doc/*/copyright/*
path-include=/usr/share/locale/en_US/*" "$(conf_lines "$ROOT/etc/dpkg/dpkg.cfg.d/dpuos-trim" | head -n 10)"
expect "then the protected files, included: the C library" \
        grep -qxF 'path-include=/usr/lib/*/libc.so*' "$ROOT/etc/dpkg/dpkg.cfg.d/dpuos-trim"
if command -v rpm >/dev/null; then
        expect_eq "rpm reads %_excludedocs and %_install_langs from its macros file" "1|C:en_US" \
                "$(rpm --load "$ROOT/etc/rpm/macros.dpuos-trim" --eval '%{_excludedocs}|%{_install_langs}')"
else
        fail "rpm is not installed (tests/setup.sh installs it): cannot read the macros back"
fi

# Drift, by hand, one kind at a time.
rm "$ROOT/etc/systemd/system/cups.socket"
run_trim --verify
expect_eq "an unmasked trigger is drift (exit 3)" 3 "$RC"
expect_eq "and the only item" "units cups.socket" "$(drift_items)"
run_trim -q

sed -i 's/^blacklist floppy$//' "$ROOT/etc/modprobe.d/dpuos-trim.conf"
run_trim --verify
expect_eq "a blacklist line edited out is drift (exit 3)" 3 "$RC"
expect "floppy is not blacklisted" grep -Eq '^modules +floppy +not blacklisted' "$OUT"
run_trim -q

sed -i 's/^vm.swappiness = 10$/vm.swappiness = 60/' "$ROOT/etc/sysctl.d/90-dpuos-trim.conf"
run_trim --verify
expect_eq "a sysctl.d value edited by hand is drift (exit 3)" 3 "$RC"
expect_eq "the key is not persisted, the edited line is left behind" \
"sysctl vm.swappiness
sysctl vm.swappiness" "$(drift_items)"
run_trim -q

mkdir -p "$ROOT/usr/share/man/man1"
printf '.TH LS 1\n' >"$ROOT/usr/share/man/man1/ls.1.gz"
rm "$ROOT/etc/dpkg/dpkg.cfg.d/dpuos-trim"
run_trim --verify
expect_eq "a removed file back and a missing exclusion are drift (exit 3)" 3 "$RC"
expect "the manual page is present" grep -Eq '^files +/usr/share/man/\*\* +present .* 1 files' "$OUT"
expect "the dpkg exclusions are missing" grep -Eq '^files +/etc/dpkg/dpkg.cfg.d/dpuos-trim +not excluded' "$OUT"
run_trim -q
run_trim --verify
expect_eq "applying again converges" 0 "$RC"

# A policy that no longer masks cups or chronyd: dpuos-trim's own masks go, the
# administrator's stays.
sed -i 's/^Mask=.*/Mask=bluetooth.service/' "$ROOT$POLICY_DIR/50-dpu.conf"
run_trim
expect_eq "the application with fewer masks exits 0" 0 "$RC"
expect "cups.service, .socket and .path are unmasked" \
        test ! -e "$ROOT/etc/systemd/system/cups.service" -a ! -e "$ROOT/etc/systemd/system/cups.socket" \
        -a ! -e "$ROOT/etc/systemd/system/cups.path"
expect "the administrator's mask of chronyd stays" test -L "$ROOT/etc/systemd/system/chronyd.service"
expect_eq "the record lists what dpuos-trim still masks" "bluetooth.service" \
        "$(conf_lines "$ROOT/var/lib/dpuos-trim/saved/masked-units")"

# PreventReinstall=no removes the exclusions.
sed -i 's/^PreventReinstall=yes/PreventReinstall=no/' "$ROOT$POLICY_DIR/50-dpu.conf"
run_trim
expect "PreventReinstall=no removes the dpkg and rpm files" \
        test ! -e "$ROOT/etc/dpkg/dpkg.cfg.d/dpuos-trim" -a ! -e "$ROOT/etc/rpm/macros.dpuos-trim"
sed -i 's/^PreventReinstall=no/PreventReinstall=yes/' "$ROOT$POLICY_DIR/50-dpu.conf"
run_trim -q

# --revert.
run_trim --revert --dry-run
expect_eq "--revert --dry-run exits 0" 0 "$RC"
expect "and lists the unmask" grep -Eq '^units +bluetooth.service +would drop' "$OUT"
expect "and changes nothing yet" test -L "$ROOT/etc/systemd/system/bluetooth.service"
run_trim --revert
expect_eq "--revert exits 0" 0 "$RC"
expect "it says the removed files stay removed" grep -q 'Removed files stay removed' "$OUT"
expect "bluetooth.service is unmasked" test ! -e "$ROOT/etc/systemd/system/bluetooth.service"
expect "chronyd.service stays masked" test -L "$ROOT/etc/systemd/system/chronyd.service"
for f in etc/modprobe.d/dpuos-trim.conf etc/sysctl.d/90-dpuos-trim.conf etc/tmpfiles.d/dpuos-trim.conf \
        etc/dpkg/dpkg.cfg.d/dpuos-trim etc/rpm/macros.dpuos-trim var/lib/dpuos-trim/saved/masked-units; do
        expect "/$f is gone" test ! -e "$ROOT/$f"
done
expect "the removed files stay removed" test ! -e "$ROOT/usr/share/doc/bash/README" -a ! -e "$ROOT/usr/lib/firmware/radeon"
expect "the kept ones stay" test -e "$ROOT/usr/share/doc/bash/copyright"
run_trim --verify --policy="$EMPTY"
expect_eq "--verify with an empty policy finds nothing of dpuos-trim left" 0 "$RC"
run_trim --revert --json
expect_eq "a second --revert has nothing to do" 0 "$(jq .totals.done "$OUT")"

# Usage.
run_trim --revert --policy="$EMPTY"
expect_eq "--revert takes no policy (exit 2)" 2 "$RC"
run_trim --verify --dry-run
expect_eq "--verify and --dry-run do not combine (exit 2)" 2 "$RC"

finish
