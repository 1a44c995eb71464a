#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attacks on file removal (docs/design.md, File removal and protected paths) with fixture
# trees that try to make the agent remove what it must not: symlinks out of a pattern (case
# 1), patterns over protected paths (case 4), refused patterns (case 5) and hard links to
# protected files (case 9). Every case fingerprints the whole tree (and any directory
# outside it that a link points to) before and after: nothing but the expected removals may
# change, and those must be gone. The races, mounts, odd names, deep and wide trees are in
# attack-*.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "root-owned fixtures and a private mount namespace"
need_tool jq

report_protected() {
        jq_report --arg t "$1" '[.actions[] | select(.target == $t and .state == "protected") | .outcome] | join(",")'
}
report_field() {
        jq_report --arg t "$1" "[.actions[] | select(.target == \$t) | .$2 | tostring] | join(\",\")"
}

# ---------------------------------------------------------------------------------------
# Case 1: symlinks to /etc inside removal patterns — absolute (/etc), relative into the
# tree's /etc, and absolute to a directory of the host outside the root — and patterns
# whose walk would pass through such a link.
ROOT=$SCRATCH/symlinks
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim" "$ROOT/etc/ssh" "$ROOT/etc/important/deeper"
printf 'Port 22\n' >"$ROOT/etc/ssh/sshd_config"
head -c 3000 /dev/urandom >"$ROOT/etc/important/deeper/blob"
printf 'keep me\n' >"$ROOT/etc/important/notes"
ln -s usr/lib "$ROOT/lib"

# A directory of "the host" outside the root, standing in for the host's /etc.
DECOY=$SCRATCH/host-decoy
mkdir -p "$DECOY/sub/deeper"
printf 'root:x:0:0::/root:/bin/sh\n' >"$DECOY/passwd"
head -c 2000 /dev/urandom >"$DECOY/sub/deeper/data"
printf 'LC_MESSAGES\n' >"$DECOY/sub/LC_MESSAGES"

d=$ROOT/usr/share/doc
mkdir -p "$d/links" "$d/pkg/sub"
printf 'doc\n' >"$d/pkg/README"
ln -s ../../../etc "$d/etc-rel3"                       # ../../../etc from usr/share/doc
ln -s ../../../../etc "$d/links/etc-rel4"              # the same from one level deeper
ln -s "$DECOY" "$d/links/host-dir"                      # a host directory outside the root
ln -s "$DECOY/passwd" "$d/links/host-file"
ln -s ../../../../etc/passwd "$d/links/passwd"
ln -s ../../../../../etc/important "$d/pkg/sub/important"
ln -s .. "$d/links/dotdot"
ln -s . "$d/links/dot"
ln -s loop "$d/links/loop"
# Globs whose walk meets a link where a directory could be.
mkdir -p "$ROOT/usr/share/locale/de/LC_MESSAGES"
ln -s ../../../etc "$ROOT/usr/share/locale/xx"
ln -s "$DECOY/sub" "$ROOT/usr/share/locale/yy"
# A pattern whose own literal directory is a link: refused for that pattern.
ln -s "$DECOY" "$ROOT/usr/share/man/host"
ln -s ../../../etc "$ROOT/usr/share/man/etc"
# A pattern naming the link itself.
mkdir -p "$ROOT/usr/share/info"
ln -s "$DECOY" "$ROOT/usr/share/info/dir-link"
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/**
Remove=/usr/share/locale/*/LC_MESSAGES /usr/share/locale/*/passwd /usr/share/locale/*/sub/**
Remove=/usr/share/man/host/** /usr/share/man/etc/** /usr/share/man/*/passwd
Remove=/usr/share/info/dir-link /lib/x86_64-linux-gnu/libfoo.so.1
EOF

# An absolute link to /etc: if anything followed it, it would reach the host's /etc. The
# run therefore happens in a private mount namespace in which a copy of the host's /etc
# that is safe to lose is mounted over /etc, and that copy is what gets fingerprinted.
HOST_ETC=$SCRATCH/host-etc
ABS_ETC=
if command -v unshare >/dev/null && unshare -m --propagation private true 2>/dev/null; then
        mkdir -p "$HOST_ETC/ssl/private"
        for f in passwd group nsswitch.conf hosts ld.so.cache ld.so.conf; do
                [[ -e /etc/$f ]] && cp -a "/etc/$f" "$HOST_ETC/$f"
        done
        head -c 1000 /dev/urandom >"$HOST_ETC/ssl/private/key.pem"
        printf 'host fstab\n' >"$HOST_ETC/fstab"
        ln -s /etc "$d/links/etc-abs"
        ln -s /etc/passwd "$d/links/etc-abs-passwd"
        ABS_ETC=1
else
        missing "no private mount namespace (unshare -m): the absolute link to /etc in case 1"
fi

# What goes: everything below /usr/share/doc, the locale's LC_MESSAGES (and the locale
# directory it leaves empty), the named link. The links in locale/ and man/ stay.
fp_begin usr/share/doc/etc-rel3 usr/share/doc/links usr/share/doc/pkg usr/share/doc/bash \
        usr/share/doc/coreutils usr/share/locale/de usr/share/locale/fr usr/share/locale/en_US \
        usr/share/info/dir-link
dir_fp_begin decoy "$DECOY"
[[ -z $ABS_ETC ]] || dir_fp_begin hostetc "$HOST_ETC"

RC=0
if [[ -n $ABS_ETC ]]; then
        unshare -m --propagation private sh -c 'mount --bind "$1" /etc && shift && exec "$@"' sh \
                "$HOST_ETC" "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
else
        run_trim
fi
expect_eq "case 1: apply exits 1 (patterns reached through a link fail)" 1 "$RC"
fp_check "case 1 symlinks"
dir_fp_check decoy "$DECOY" "case 1: the host directory the links point to is intact"
[[ -z $ABS_ETC ]] || dir_fp_check hostetc "$HOST_ETC" "case 1: the host's /etc (a stand-in mounted over it) is intact"
expect "case 1: the tree's /etc/passwd still reads root" grep -qx 'root:x:0:0:root:/root:/bin/bash' "$ROOT/etc/passwd"
for t in '/usr/share/man/host/**' '/usr/share/man/etc/**' /lib/x86_64-linux-gnu/libfoo.so.1; do
        expect_eq "case 1: $t (its directory is a symlink) fails and removes nothing" failed "$(report_field "$t" outcome)"
done
expect_eq "case 1: report.json is valid JSON" 0 "$(jq empty "$(report)" >/dev/null 2>&1; echo $?)"

# ---------------------------------------------------------------------------------------
# Case 4: patterns over protected paths. Each is listed as protected in the --dry-run
# --json plan and in the report, and survives with what it holds.
ROOT=$SCRATCH/protected
make_os_tree "$ROOT"
lib=$ROOT/usr/lib/x86_64-linux-gnu
printf 'INPUT ( libc.so.6 )\n' >"$lib/libc.so"
mkdir -p "$lib/gconv"
printf 'gconv\n' >"$lib/gconv/UTF-16.so"
alib=$ROOT/usr/lib/aarch64-linux-gnu
mkdir -p "$alib"
printf 'ELF libc aarch64\n' >"$alib/libc.so.6"
printf 'ELF ld aarch64\n' >"$alib/ld-linux-aarch64.so.1"
printf 'ELF libbar\n' >"$alib/libbar.so.1"
printf 'ELF dpuos-trim\n' >"$ROOT/usr/bin/dpuos-trim"
printf 'ELF init\n' >"$ROOT/usr/sbin/init"
printf '[Unit]\n' >"$ROOT/usr/lib/systemd/system/dpuos-trim.service"
printf 'root:*::\n' >"$ROOT/etc/gshadow"
mkdir -p "$ROOT/var/lib/dpuos-trim/saved" "$ROOT/var/lib/other/cache" "$ROOT/usr/lib/dpuos-trim/policy.d"
printf 'vm.swappiness=60\n' >"$ROOT/var/lib/dpuos-trim/saved/sysctl"
printf 'state\n' >"$ROOT/var/lib/other/cache/data"
printf '[Policy]\nName=vendor\n' >"$ROOT/usr/lib/dpuos-trim/policy.d/10-vendor.conf"
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/lib/x86_64-linux-gnu/** /usr/lib/aarch64-linux-gnu
Remove=/etc/dpuos-trim/** /var/lib/dpuos-trim/** /usr/lib/dpuos-trim/** /var/lib/**
Remove=/etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/fstab /etc/machine-id
Remove=/etc/os-release /usr/lib/os-release /usr/bin/dpuos-trim /usr/sbin/init
Remove=/usr/lib/systemd/systemd /usr/lib/systemd/system/**
EOF
protected_paths=(
        /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
        /usr/lib/x86_64-linux-gnu/libc.so /usr/lib/aarch64-linux-gnu/libc.so.6
        /usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1
        /etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/fstab /etc/machine-id /etc/os-release
        /usr/lib/os-release /usr/bin/dpuos-trim /usr/sbin/init /usr/lib/systemd/systemd
        /usr/lib/systemd/system/dpuos-trim.service /var/lib/dpuos-trim
        "/etc/dpuos-trim/**" "/var/lib/dpuos-trim/**" "/usr/lib/dpuos-trim/**"
)
gone=(usr/lib/x86_64-linux-gnu/libfoo.so.1 usr/lib/x86_64-linux-gnu/gconv
      usr/lib/aarch64-linux-gnu/libbar.so.1 var/lib/other)
for u in "$ROOT"/usr/lib/systemd/system/*; do
        [[ $u == */dpuos-trim.service ]] || gone+=("${u#"$ROOT/"}")
done

run_trim --dry-run --json
expect_eq "case 4: the dry run exits 0" 0 "$RC"
jq -r '.actions[] | select(.state == "protected") | .target' "$OUT" >"$SCRATCH/plan-protected"
for p in "${protected_paths[@]}"; do
        expect "case 4: the plan lists $p as protected" grep -qxF -- "$p" "$SCRATCH/plan-protected"
done
fp_begin "${gone[@]}"
run_trim
expect_eq "case 4: apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || sed 's/^/    /' "$ERR"
fp_check "case 4 protected paths"
jq_report '.actions[] | select(.state == "protected" and .outcome == "protected") | .target' >"$SCRATCH/report-protected"
for p in "${protected_paths[@]}"; do
        expect "case 4: the report lists $p as protected" grep -qxF -- "$p" "$SCRATCH/report-protected"
done
expect "case 4: the directory holding a protected libc stays" test -d "$alib"

# ---------------------------------------------------------------------------------------
# Case 5: patterns that are refused: '..', '.', '//', '/', top-level directories, globs
# over top-level directories. The run exits 2 and changes nothing at all, also not the
# valid pattern next to the bad one, and writes no report.
ROOT=$SCRATCH/refused
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim"
# Refused in Remove= and in Keep=: malformed paths.
# (Quoted: these are globs, and the shell must not expand them over the host.)
bad_any=(
        '/usr/share/doc/../../../etc/**' '/usr/share/doc/..' '/usr/share/../../etc/passwd'
        '/usr/share/doc/./bash' '/usr/share/doc/.' '/usr//share/doc/**' '//usr/share/doc/**'
        '/usr/share/doc//bash' '/usr/share/doc/' 'usr/share/doc/**' '/usr/share/doc/**/**/**/**/**'
)
# Refused in Remove= only: the root, top-level directories, globs over them.
bad_remove=('/' '/*' '/**' '/usr/**' '/usr/*' '/usr' '/etc' '/u*/share/doc/**' '/usr/s*/doc/**' '/[eu]*/**'
            '/*/passwd' '/**/passwd')
mkdir -p "$ROOT$POLICY_DIR"
fp_begin
# (Written without forking where the shell can: this loop runs the binary 80 times.)
refuse() {
        local key=$1 p=$2 err
        printf '[Files]\nRemove=/usr/share/doc/bash/README\n%s=%s\n' "$key" "$p" >"$ROOT$POLICY_DIR/50-files.conf"
        run_trim
        expect_eq "case 5: $key=$p is refused (exit 2)" 2 "$RC"
        err=$(<"$ERR")
        expect "case 5: $key=$p: the error names the file and line" test "${err/*50-files.conf:3:*/found}" = found
        run_trim --dry-run --json
        expect_eq "case 5: $key=$p: the dry run refuses it too" 2 "$RC"
}
for p in "${bad_any[@]}"; do
        refuse Remove "$p"
        refuse Keep "$p"
done
for p in "${bad_remove[@]}"; do
        refuse Remove "$p"
done
# The same in a low-priority drop-in while a high-priority one is valid.
rm -f "$ROOT$POLICY_DIR"/*.conf
printf '[Files]\nRemove=/usr/share/doc/**\n' | policy 50-files.conf
printf '[Files]\nRemove=/usr/share/../../etc/**\n' | policy 60-vendor.conf /usr/lib/dpuos-trim/policy.d
run_trim
expect_eq "case 5: a refused pattern in another drop-in refuses the whole policy (exit 2)" 2 "$RC"
rm -f "$ROOT/usr/lib/dpuos-trim/policy.d/60-vendor.conf"
rmdir "$ROOT/usr/lib/dpuos-trim/policy.d" "$ROOT/usr/lib/dpuos-trim"
rm -f "$ROOT$POLICY_DIR"/*.conf
expect "case 5: no report was written" test ! -e "$(report)"
fp_check "case 5 refused patterns"

# Patterns that are accepted but must not reach anything through escapes or globs that
# could spell '.' or '..': backslash escapes, bracket expressions, '.*', '.?'.
odd_patterns=(
        '/usr/share/doc/\.\./\.\./\.\./etc/**' '/usr/share/doc/\.\./\.\./\.\./etc/passwd'
        '/usr/share/doc/.[.]/.[.]/.[.]/etc/passwd' '/usr/share/doc/[.][.]/**' '/usr/share/doc/.?/**'
        '/usr/share/doc/.*' '/usr/share/doc/.*/**' '/usr/share/doc/?' '/usr/share/doc/[.]'
        '/usr/share/doc/bash/\.\.' '/usr/share/doc/bash/[.][.]' '/usr/share/doc/bash/.[.]/coreutils/**'
)
for p in "${odd_patterns[@]}"; do
        printf '[Files]\nRemove=%s\n' "$p" >"$ROOT$POLICY_DIR/50-files.conf"
        run_trim
        expect "case 5: Remove=$p is refused or removes nothing (exit $RC)" test "$RC" -eq 0 -o "$RC" -eq 2
done
rm -f "$ROOT$POLICY_DIR"/*.conf
fp_check "case 5 escaped and bracketed dots"

# ---------------------------------------------------------------------------------------
# Case 9: hard links to protected files inside a pattern: the link goes, the protected
# file stays with its content, and no bytes are counted for the inode (its other link
# stays).
ROOT=$SCRATCH/hardlinks
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim" "$ROOT/usr/share/doc/pw" "$ROOT/usr/share/doc/lib" "$ROOT/usr/share/doc/ext"
head -c 20000 /dev/urandom >>"$ROOT/etc/passwd"       # big enough to own blocks
head -c 20000 /dev/urandom >>"$ROOT/usr/lib/x86_64-linux-gnu/libc.so.6"
ln "$ROOT/etc/passwd" "$ROOT/usr/share/doc/pw/passwd"
ln "$ROOT/etc/shadow" "$ROOT/usr/share/doc/pw/shadow"
ln "$ROOT/usr/lib/x86_64-linux-gnu/libc.so.6" "$ROOT/usr/share/doc/lib/libc.so.6"
ln "$ROOT/usr/lib/x86_64-linux-gnu/libc.so.6" "$ROOT/usr/share/doc/libc-link"
# A file outside the root (same file system) with a link inside the pattern.
mkdir -p "$SCRATCH/outside-dir"
head -c 20000 /dev/urandom >"$SCRATCH/outside-dir/file"
ln "$SCRATCH/outside-dir/file" "$ROOT/usr/share/doc/ext/outside-link"
passwd_sum=$(sha256sum <"$ROOT/etc/passwd")
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/pw/** /usr/share/doc/lib/** /usr/share/doc/ext/**
Remove=/etc/passwd /usr/lib/x86_64-linux-gnu/** /usr/share/doc/libc-link
EOF
run_trim --dry-run --json
for t in '/usr/share/doc/pw/**' '/usr/share/doc/lib/**' '/usr/share/doc/ext/**' /usr/share/doc/libc-link; do
        expect_eq "case 9: the plan frees 0 bytes for $t (every inode keeps a link)" 0 \
                "$(jq -r --arg t "$t" '.actions[] | select(.target == $t) | .bytes' "$OUT")"
done
dir_fp_begin outside "$SCRATCH/outside-dir"
fp_begin usr/share/doc/pw/passwd usr/share/doc/pw/shadow usr/share/doc/lib/libc.so.6 \
        usr/share/doc/ext/outside-link usr/share/doc/libc-link usr/lib/x86_64-linux-gnu/libfoo.so.1
run_trim
expect_eq "case 9: apply exits 0" 0 "$RC"
fp_check "case 9 hard links"
for t in '/usr/share/doc/pw/**' '/usr/share/doc/lib/**' '/usr/share/doc/ext/**' /usr/share/doc/libc-link; do
        expect_eq "case 9: report.json frees 0 bytes for $t" "done 0" \
                "$(jq_report --arg t "$t" '.actions[] | select(.target == $t) | "\(.outcome) \(.bytes)"')"
done
expect_eq "case 9: /etc/passwd keeps its content" "$passwd_sum" "$(sha256sum <"$ROOT/etc/passwd")"
expect_eq "case 9: /etc/passwd is down to one link" 1 "$(stat -c %h "$ROOT/etc/passwd")"
expect_eq "case 9: /etc/passwd is listed as protected" protected "$(report_protected /etc/passwd)"
dir_fp_check outside "$SCRATCH/outside-dir" "case 9: the file outside the root is intact"

# ---------------------------------------------------------------------------------------
# Case 4, continued (last, so that its outcome ends the log): the same safety net on a
# distribution with glibc older than 2.34 (openEuler 20.03 LTS, a base of DPU-OS, ships
# 2.28). There libc.so.6 and ld-linux-x86-64.so.2 are symlinks; the C library and the
# dynamic loader themselves are libc-2.28.so and ld-2.28.so. Removing those leaves the
# protected links dangling, and no dynamically linked program can start any more.
ROOT=$SCRATCH/oldglibc
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim" "$ROOT/usr/lib64/gconv"
printf 'ELF libc 2.28\n' >"$ROOT/usr/lib64/libc-2.28.so"
printf 'ELF ld 2.28\n' >"$ROOT/usr/lib64/ld-2.28.so"
ln -s libc-2.28.so "$ROOT/usr/lib64/libc.so.6"
ln -s ld-2.28.so "$ROOT/usr/lib64/ld-linux-x86-64.so.2"
printf 'ELF libfoo\n' >"$ROOT/usr/lib64/libfoo.so.1"
printf 'gconv\n' >"$ROOT/usr/lib64/gconv/UTF-16.so"
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/lib64/**
EOF
fp_begin usr/lib64/libfoo.so.1 usr/lib64/gconv
run_trim
fp_check "case 4 (glibc < 2.34 layout): the loader and libc behind the protected links"
expect "case 4 (glibc < 2.34 layout): ld-linux-x86-64.so.2 still resolves to the loader" test -f "$ROOT/usr/lib64/ld-linux-x86-64.so.2"
expect "case 4 (glibc < 2.34 layout): libc.so.6 still resolves to the C library" test -f "$ROOT/usr/lib64/libc.so.6"

finish
