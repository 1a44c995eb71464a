#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [Packages] with rpm, offline (--root): a real rpm database in a tree, built here from
# small packages that rpmbuild makes (with Requires between them) and `rpm --root`
# installs. A set is removed in one transaction and rpm itself (-q, -Va) agrees with the
# plan afterwards; a second run changes nothing; a package required by a kept one, one dnf
# protects and one that owns PID 1 are refused with the chain named and nothing removed;
# an unknown name, a glob matching nothing, a name in Remove= and Keep=, a database locked
# by a running rpm transaction and a missing rpm command are errors that remove nothing.
# PreventReinstall= writes dnf's exclusion; a package installed again is drift; --revert
# drops the exclusion and says that removed packages stay removed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root "rpm --root (it chroots into the tree)"
need_tool rpm
need_tool rpmbuild
need_tool jq

# The dry run queries rpm as the user nobody, and sqlite's read-only open checks access(2)
# along the path, which no capability passes: the tree must be readable by every user, as
# /var/lib/rpm is.
chmod 755 "$SCRATCH"
ROOT=$SCRATCH/root
TOP=$SCRATCH/rpmbuild
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/rpm" "$ROOT/etc/dnf/protected.d"
echo dt-guard >"$ROOT/etc/dnf/protected.d/dt.conf"

# mkrpm NAME "REQUIRES" FILE KIB [LUA]: a noarch package of one file of KIB KiB; LUA is a
# %pre scriptlet in rpm's own Lua (no shell is needed in the tree).
mkrpm() {
        local name=$1 req=$2 file=$3 kib=$4 pre=${5:-}
        mkdir -p "$TOP/SPECS"
        {
                printf 'Name: %s\nVersion: 1.0\nRelease: 1\nSummary: %s\nLicense: MIT\nBuildArch: noarch\n' "$name" "$name"
                [[ -z $req ]] || printf 'Requires: %s\n' "$req"
                printf '%%description\n%s, built by the test.\n' "$name"
                printf '%%install\nmkdir -p %%{buildroot}%s\n' "$(dirname "$file")"
                printf 'head -c %d /dev/urandom >%%{buildroot}%s\n' $((kib * 1024)) "$file"
                [[ -z $pre ]] || printf '%%pre -p <lua>\n%s\n' "$pre"
                printf '%%files\n%s\n' "$file"
        } >"$TOP/SPECS/$name.spec"
        rpmbuild --quiet -bb --define "_topdir $TOP" --define "_build_id_links none" "$TOP/SPECS/$name.spec" >/dev/null 2>&1 ||
                { echo "rpmbuild of $name failed" >&2; exit 1; }
}
rpmq() { rpm --root "$ROOT" --dbpath /var/lib/rpm "$@" 2>/dev/null; }

mkrpm dt-lib "" /usr/share/dt/lib.dat 64
mkrpm dt-app "dt-lib" /usr/share/dt/app.dat 32
mkrpm dt-tool "dt-lib" /usr/share/dt/tool.dat 16
mkrpm dt-dep "" /usr/share/dt/dep.dat 8
mkrpm dt-kept "dt-dep" /usr/share/dt/kept.dat 8
mkrpm dt-guard "" /usr/share/dt/guard.dat 8
mkrpm dt-init "" /usr/lib/systemd/systemd 8
# Holds the database's lock while its %pre waits for a line on a FIFO in the tree.
mkrpm dt-slow "" /usr/share/dt/slow.dat 4 'local f = io.open("/run/dt-slow.fifo", "r"); if f then f:read("*l"); f:close() end'
RPMS=$TOP/RPMS/noarch
rpmq --initdb
rpm --root "$ROOT" --dbpath /var/lib/rpm -i "$RPMS"/dt-{lib,app,tool,dep,kept,guard,init}-1.0-1.noarch.rpm >/dev/null 2>&1 ||
        { echo "rpm -i into the tree failed" >&2; exit 1; }
installed() { rpmq -qa --qf '%{NAME}\n' | sort | paste -sd' '; }
ALL="dt-app dt-dep dt-guard dt-init dt-kept dt-lib dt-tool"
expect_same "the tree's rpm database holds the test's packages" "$ALL" "$(installed)"

set_policy() { policy 50-pkg.conf; }
removals() { jq -r '[.actions[] | select(.kind == "packages" and .action == "remove") | .target + ":" + .outcome] | sort | join(" ")' "$OUT"; }

# --- A set, planned, then removed in one transaction.
set_policy <<'EOF'
[Policy]
Name=rpm-test
[Packages]
Remove=dt-app dt-tool dt-lib
PreventReinstall=yes
EOF
run_trim --dry-run --json
expect_eq "dry run: exit 0" 0 "$RC"
expect_same "dry run: the plan lists each package with its full version" \
        "dt-app-1.0-1.noarch dt-lib-1.0-1.noarch dt-tool-1.0-1.noarch" \
        "$(jq -r '[.actions[] | select(.kind == "packages" and .action == "remove") | .package] | sort | join(" ")' "$OUT")"
expect_same "dry run: the installed sizes add up (112 KiB)" 114688 "$(jq '.totals.package_bytes_freed' "$OUT")"
expect_eq "dry run: nothing removed" "$ALL" "$(installed)"

run_trim --json
expect_eq "apply: exit 0" 0 "$RC"
expect_same "apply: the three are done" "dt-app:done dt-lib:done dt-tool:done" "$(removals)"
expect_eq "rpm -q: the three are gone, the rest stays" "dt-dep dt-guard dt-init dt-kept" "$(installed)"
expect "rpm -q dt-app: not installed" bash -c "! rpm --root '$ROOT' --dbpath /var/lib/rpm -q dt-app >/dev/null 2>&1"
expect "rpm -Va: every file of what stays is there and intact" rpmq -Va
expect "their files are gone" bash -c "[[ ! -e $ROOT/usr/share/dt/app.dat && ! -e $ROOT/usr/share/dt/lib.dat ]]"
expect_same "the report records what reinstalls each" "dt-app-1.0-1.noarch dt-lib-1.0-1.noarch dt-tool-1.0-1.noarch" \
        "$(jq -r '[.actions[] | select(.kind == "packages" and .outcome == "done" and .package) | .package] | sort | join(" ")' \
                "$ROOT/var/lib/dpuos-trim/report.json")"
expect_same "dnf's exclusion lists them" "excludepkgs=dt-app,dt-lib,dt-tool" \
        "$(grep '^excludepkgs=' "$ROOT/etc/dnf/libdnf5.conf.d/80-dpuos-trim.conf")"

run_trim --json
expect_eq "second run: exit 0" 0 "$RC"
expect_same "second run: all unchanged" "dt-app:unchanged dt-lib:unchanged dt-tool:unchanged" "$(removals)"
expect_eq "second run: nothing changed in rpm's view" "dt-dep dt-guard dt-init dt-kept" "$(installed)"

# --- A package that came back is drift; applying again removes it.
rpm --root "$ROOT" --dbpath /var/lib/rpm -i "$RPMS"/dt-{lib,app}-1.0-1.noarch.rpm >/dev/null 2>&1
run_trim --verify
expect_eq "--verify after a reinstall: drift (exit 3)" 3 "$RC"
expect "--verify names the package that came back" grep -Eq '^packages +dt-app +present' "$OUT"

# --- Refusals: the set goes as a whole or not at all.
refused() { # DESCRIPTION EXPECTED-RC CHAIN-REGEX
        local before
        before=$(installed)
        run_trim --json
        expect_eq "$1: exit $2" "$2" "$RC"
        expect "$1: the reason names it" jq -e --arg re "$3" \
                '[.actions[] | select(.kind == "packages") | .reason // ""] | any(test($re))' "$OUT" >/dev/null
        expect_eq "$1: nothing removed" "$before" "$(installed)"
}
set_policy <<'EOF'
[Policy]
Name=rpm-test
[Packages]
Remove=dt-app dt-lib dt-dep
Keep=dt-kept
EOF
refused "required by a kept package" 1 'dt-dep is needed by \(installed\) dt-kept'
expect_same "required by a kept package: the others are refused with it" "dt-app:failed dt-dep:failed dt-lib:failed" "$(removals)"

printf '[Packages]\nRemove=dt-app dt-lib dt-guard\n' | set_policy
refused "a package dnf protects" 1 'protected by dnf'
printf '[Packages]\nRemove=dt-app dt-lib dt-init\n' | set_policy
refused "the package of PID 1" 1 'never removed'
printf '[Packages]\nRemove=dt-app dt-lib dt-apq\n' | set_policy
refused "an unknown name" 1 'no package of this name is installed'
printf '[Packages]\nRemove=dt-app dt-lib nothing-*\n' | set_policy
refused "a glob matching nothing" 1 'no installed package matches'

printf '[Packages]\nRemove=dt-app dt-lib\nKeep=dt-lib\n' | set_policy
before=$(installed)
run_trim --check
expect_eq "Remove= and Keep= naming one package: --check exit 2" 2 "$RC"
expect "Remove= and Keep= naming one package: said so" grep -q "'dt-lib' is in both Remove= and Keep=" "$ERR"
run_trim
expect_eq "Remove= and Keep= naming one package: apply exit 2" 2 "$RC"
expect_eq "Remove= and Keep= naming one package: nothing removed" "$before" "$(installed)"

# A glob passes protected and kept packages by: the rest goes.
printf '[Packages]\nRemove=dt-* -not-here\nKeep=dt-kept dt-dep\n' | set_policy
run_trim --dry-run --json
expect_eq "a glob over protected and kept packages: exit 0" 0 "$RC"
expect_same "a glob: protected, kept and optional ones are shown, not removed" \
        "dt-app:change dt-dep:skip dt-guard:protected dt-init:protected dt-kept:skip dt-lib:change dt-tool:unchanged not-here:skip" \
        "$(jq -r '[.actions[] | select(.kind == "packages" and .action == "remove") | .target + ":" + .state] | sort | join(" ")' "$OUT")"

# --- A database locked by a running rpm transaction.
printf '[Packages]\nRemove=dt-app dt-lib\n' | set_policy
mkfifo "$ROOT/run/dt-slow.fifo"
rpm --root "$ROOT" --dbpath /var/lib/rpm -i "$RPMS/dt-slow-1.0-1.noarch.rpm" >/dev/null 2>&1 &
slow=$!
for _ in $(seq 100); do
        ls -l "/proc/$slow/fd" 2>/dev/null | grep -q dt-slow.fifo && break
        sleep 0.1
done
refused "the database locked by another rpm transaction" 1 "database is locked by process $slow"
echo done >"$ROOT/run/dt-slow.fifo"
wait "$slow" || true
expect "the other transaction finished" rpmq -q dt-slow >/dev/null

# --- No rpm command to run.
before=$(installed)
RC=0
PATH=/nonexistent "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "no rpm command: exit 1" 1 "$RC"
expect "no rpm command: said so" grep -q "cannot list the installed packages with rpm" "$OUT"
expect_eq "no rpm command: nothing removed" "$before" "$(installed)"

# --- The policy stops asking for the exclusion; --revert.
printf '[Packages]\nRemove=dt-app dt-lib\nPreventReinstall=yes\n' | set_policy
run_trim
expect_eq "applying again: exit 0" 0 "$RC"
expect_same "the exclusion names the two removed now" "excludepkgs=dt-app,dt-lib" \
        "$(grep '^excludepkgs=' "$ROOT/etc/dnf/libdnf5.conf.d/80-dpuos-trim.conf")"
printf '[Packages]\nRemove=dt-app dt-lib\n' | set_policy
run_trim
expect_eq "PreventReinstall= no longer asked: exit 0" 0 "$RC"
expect "PreventReinstall= no longer asked: the exclusion is dropped" test ! -e "$ROOT/etc/dnf/libdnf5.conf.d/80-dpuos-trim.conf"
printf '[Packages]\nRemove=dt-app dt-lib\nPreventReinstall=yes\n' | set_policy
run_trim
run_trim --revert
expect_eq "--revert: exit 0" 0 "$RC"
expect "--revert says removed packages are not reinstalled" grep -q "Removed packages are not reinstalled" "$OUT"
expect "--revert: no exclusion left" test ! -e "$ROOT/etc/dnf/libdnf5.conf.d/80-dpuos-trim.conf"
expect "--revert: removed packages stay removed" bash -c "! rpm --root '$ROOT' --dbpath /var/lib/rpm -q dt-app >/dev/null 2>&1"

finish
