#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The openEuler package (dpuos-trim.spec): it parses, its Version is meson.build's, it
# builds with rpmbuild the way an openEuler build root would (openeuler.macros supplies the
# macros Debian's rpm lacks), and the package holds exactly what `meson install` installs,
# plus the directories that are the package's own. Each unit it installs is named in the
# systemd scriptlets.
#
# Usage: spec.sh DPUOS-TRIM SOURCE-DIR PROJECT-VERSION
source "$(dirname "${BASH_SOURCE[0]}")/../offline/lib.sh"
SRC=${2:?usage: $0 DPUOS-TRIM SOURCE-DIR PROJECT-VERSION}
VERSION=${3:?usage: $0 DPUOS-TRIM SOURCE-DIR PROJECT-VERSION}
SPEC=$SRC/dpuos-trim.spec
MACROS=$(dirname "${BASH_SOURCE[0]}")/openeuler.macros
need_tool rpmspec
need_tool rpmbuild
need_tool python3

# rpm reads ~/.rpmmacros: keep the user's settings out of the test.
export HOME=$SCRATCH
BUILD=$SCRATCH/build
BUILDROOT=$SCRATCH/buildroot
rpm_args=(--load "$MACROS" --define "_topdir $SCRATCH/rpmbuild"
        --define "_vpath_srcdir $SRC" --define "_vpath_builddir $BUILD")
UNITDIR=$(rpm "${rpm_args[@]}" --eval '%{_unitdir}')

# 1. The spec parses, with every macro it uses defined.
rc=0
rpmspec -P "${rpm_args[@]}" "$SPEC" >"$SCRATCH/spec.expanded" 2>"$ERR" || rc=$?
expect_eq "rpmspec -P succeeds" 0 "$rc"
sed 's/^/    /' "$ERR"
expect_eq "rpmspec -P has no complaint" "" "$(cat "$ERR")"
left=$(grep -o '%{[^}]*}' "$SCRATCH/spec.expanded" || true)
expect_eq "no macro is left unexpanded" "" "$left"

rc=0
spec_version=$(rpmspec -q --srpm --qf '%{VERSION}\n' "${rpm_args[@]}" "$SPEC" 2>"$ERR") || rc=$?
expect_eq "Version is meson.build's project version" "$VERSION" "$spec_version"

# 2. rpmbuild runs %build and %install from the source tree and packages the result; it
# fails by itself on a %files entry that was not installed or an installed file that no
# %files entry holds.
rc=0
(cd "$SRC" && rpmbuild -bb --build-in-place --nodeps --nocheck --noclean "${rpm_args[@]}" \
        --buildroot "$BUILDROOT" "$SPEC") >"$SCRATCH/rpmbuild.log" 2>&1 || rc=$?
expect_eq "rpmbuild -bb succeeds" 0 "$rc"
if [[ $rc -ne 0 ]]; then
        tail -n 25 "$SCRATCH/rpmbuild.log" | sed 's/^/    /'
        finish
        exit 1
fi
rpms=("$SCRATCH"/rpmbuild/RPMS/*/dpuos-trim-[0-9]*.rpm)
expect_eq "one binary package" 1 "${#rpms[@]}"
[[ ${#rpms[@]} -eq 1 ]] || { finish; exit 1; }

# 3. What the package holds against what `meson install` installs, path by path. Manual
# pages are compressed after %install; the documentation comes from %doc.
rpm -qp --qf '[%{FILENAMES}\t%{FILEMODES:perms}\n]' "${rpms[0]}" | LC_ALL=C sort >"$SCRATCH/package"
cut -f1 "$SCRATCH/package" | grep -v '^/usr/share/doc/' | sed 's/\.gz$//' >"$SCRATCH/package.paths"
python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' \
        < <(meson introspect --installed "$BUILD") | LC_ALL=C sort >"$SCRATCH/meson.paths"
own_dirs=$(awk -F'\t' '$2 ~ /^d/ { print $1 }' "$SCRATCH/package")
non_dirs=$(awk -F'\t' '$2 !~ /^d/ { print $1 }' "$SCRATCH/package" | grep -Ev '^/usr/share/(doc|licenses)/' | sed 's/\.gz$//')
expect_eq "the package's files are exactly those meson installs" \
        "$(cat "$SCRATCH/meson.paths")" "$non_dirs"

# Every directory the package makes for itself is its own, so that it goes with it; the
# shared ones (/usr/lib/systemd/system, ...) are not.
ours=$(cd "$BUILDROOT" && find . -type d -path '*dpuos-trim*' ! -path './usr/share/doc/*' ! -path './usr/share/licenses/*' -printf '/%P\n' |
        LC_ALL=C sort)
expect_eq "the package owns the directories named for it" "$ours" \
        "$(grep -Ev '^/usr/share/(doc|licenses)/' <<<"$own_dirs" | grep 'dpuos-trim' || true)"
for d in /etc/dpuos-trim/policy.d /usr/lib/dpuos-trim/policy.d /var/lib/dpuos-trim; do
        expect "the package owns $d" grep -qx -- "$d" <<<"$own_dirs"
done
expect "the package has the licence" grep -q '^/usr/share/licenses/dpuos-trim[^/]*/LICENSE$' <<<"$(cut -f1 "$SCRATCH/package")"
expect "the package has the README" grep -q '^/usr/share/doc/dpuos-trim[^/]*/README.md$' <<<"$(cut -f1 "$SCRATCH/package")"

# 4. The scriptlets name each unit the package installs, and nothing else.
units=$(grep "^$UNITDIR/[^/]*$" "$SCRATCH/package.paths" | xargs -r -n1 basename | LC_ALL=C sort)
expect "the package installs units" test -n "$units"
for macro in systemd_post systemd_preun systemd_postun; do
        named=$(sed -n "s/^%$macro //p" "$SCRATCH/spec.expanded" | tr ' ' '\n' | grep . | LC_ALL=C sort)
        expect_eq "%$macro names the installed units" "$units" "$named"
done

# 5. The shipped binary has no test hooks: $DPUOS_TRIM_PROC_CMDLINE, which a test build reads
# in place of /proc/cmdline, means nothing to it (dpuos_trim=0 there would skip the run).
shipped=$BUILDROOT/usr/bin/dpuos-trim
expect "the packaged binary is there" test -x "$shipped"
expect "the packaged binary is built without test hooks" test -z "$("$shipped" --version | grep -F '(test hooks)')"
tree=$SCRATCH/tree
mkdir -p "$tree/etc/dpuos-trim/policy.d" "$tree/usr/lib/systemd/system"
printf '[Sysctl]\nvm.swappiness = 10\n' >"$tree/etc/dpuos-trim/policy.d/50-test.conf"
rc=0
DPUOS_TRIM_PROC_CMDLINE=dpuos_trim=0 DPUOS_TRIM_TEST_KILL_AT=1 "$shipped" --root="$tree" --firstboot >/dev/null 2>&1 || rc=$?
expect_eq "the packaged binary ignores the hooks' variables (exit $rc)" 0 "$rc"
expect "and applied the policy, as /proc/cmdline says to" test -f "$tree/etc/dpuos-trim/applied"

finish
