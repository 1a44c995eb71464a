#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# File removal never follows a symlink out of its pattern, never touches protected paths
# (dpuos-trim.conf(5)), and counts the bytes of hard-linked files once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool jq

ROOT=$SCRATCH/root
make_os_tree "$ROOT"

# Symlinks inside a pattern that point out of it: relative into the tree's /etc, and
# absolute to a directory of the host (here a scratch directory standing in for one).
OUTSIDE=$SCRATCH/outside
mkdir -p "$OUTSIDE/sub"
printf 'precious\n' >"$OUTSIDE/sub/data"
mkdir -p "$ROOT/usr/share/doc/links"
ln -s ../../../../etc "$ROOT/usr/share/doc/links/evil-relative"
ln -s "$OUTSIDE" "$ROOT/usr/share/doc/links/evil-absolute"
ln -s ../../../../etc/passwd "$ROOT/usr/share/doc/links/passwd-link"
# A pattern whose own directory is reached through a symlink must not be walked at all.
ln -s ../../etc "$ROOT/usr/share/info"

# Hard links: a pair wholly inside one pattern frees its bytes once; a file with a link
# outside the pattern frees nothing.
mkdir -p "$ROOT/usr/share/doc/hardlinks" "$ROOT/usr/share/doc/split"
head -c 50000 /dev/urandom >"$ROOT/usr/share/doc/hardlinks/a"
ln "$ROOT/usr/share/doc/hardlinks/a" "$ROOT/usr/share/doc/hardlinks/b"
head -c 30000 /dev/urandom >"$ROOT/usr/share/doc/split/inside"
ln "$ROOT/usr/share/doc/split/inside" "$ROOT/usr/share/split-outside"
pair_bytes=$(($(stat -c '%b*%B' "$ROOT/usr/share/doc/hardlinks/a")))

# Protected whatever the policy says: PID 1, dpuos-trim's own unit, generator, policy and
# state, /etc/passwd and the os-release files.
printf 'ELF systemd-udevd\n' >"$ROOT/usr/lib/systemd/systemd-udevd"
printf 'not a binary the system runs on\n' >"$ROOT/usr/lib/systemd/resolv.conf"
printf '[Unit]\n' >"$ROOT/usr/lib/systemd/system/dpuos-trim.service"
mkdir -p "$ROOT/usr/lib/systemd/system-generators"
printf 'ELF\n' >"$ROOT/usr/lib/systemd/system-generators/dpuos-trim-generator"
printf 'ELF\n' >"$ROOT/usr/lib/systemd/system-generators/other-generator"
mkdir -p "$ROOT/var/lib/dpuos-trim/saved"
printf 'vm.swappiness=60\n' >"$ROOT/var/lib/dpuos-trim/saved/sysctl"
policy 90-vendor.conf /usr/lib/dpuos-trim/policy.d <<'EOF'
[Policy]
Name=vendor
EOF

policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/links/** /usr/share/info/**
Remove=/usr/share/doc/hardlinks/** /usr/share/doc/split/**
Remove=/usr/lib/systemd/** /usr/lib/x86_64-linux-gnu/**
Remove=/etc/passwd /etc/shadow /etc/os-release /usr/lib/os-release /etc/machine-id
EOF
# The agent's own state and policies, and the API file systems, named directly: still
# protected, although the walk starts inside them.
mkdir -p "$ROOT/run/user/0" "$ROOT/sys/kernel/mm"
printf 'session\n' >"$ROOT/run/user/0/data"
printf 'never\n' >"$ROOT/sys/kernel/mm/attr"
policy 60-self.conf <<'EOF'
[Files]
Remove=/var/lib/dpuos-trim/** /usr/lib/dpuos-trim/** /etc/dpuos-trim/**
Remove=/run/user/** /sys/kernel/**
EOF

run_trim --dry-run --json
cp "$OUT" "$SCRATCH/plan.json"
dry_bytes() {
        jq -r --arg t "$1" '.actions[] | select(.target == $t) | .bytes' "$SCRATCH/plan.json"
}
expect_eq "the plan counts a hard-linked pair once" "$pair_bytes" "$(dry_bytes '/usr/share/doc/hardlinks/**')"
expect_eq "the plan frees nothing for a file still linked elsewhere" 0 "$(dry_bytes '/usr/share/doc/split/**')"

before_etc=$(tree_state "$ROOT/etc" dpuos-trim)
before_outside=$(tree_state "$OUTSIDE")
run_trim
# The symlinked pattern directory is refused, so the run reports a failure.
expect_eq "apply exits 1 (one pattern's directory is a symlink)" 1 "$RC"

# Symlinks: the links go, what they point to stays.
expect "a relative symlink out of the pattern is removed" test ! -L "$ROOT/usr/share/doc/links/evil-relative"
expect "an absolute symlink out of the pattern is removed" test ! -L "$ROOT/usr/share/doc/links/evil-absolute"
expect "a symlink to /etc/passwd is removed" test ! -L "$ROOT/usr/share/doc/links/passwd-link"
expect_eq "the host directory an absolute link pointed to is intact" "$before_outside" "$(tree_state "$OUTSIDE")"
expect_eq "the tree's /etc is intact" "$before_etc" "$(tree_state "$ROOT/etc" dpuos-trim)"
expect "a pattern directory reached through a symlink is left alone" test -L "$ROOT/usr/share/info"
expect_eq "the report says why it did not walk it" \
        "failed its directory is reached through a symlink; name the real path" \
        "$(jq_report '.actions[] | select(.target == "/usr/share/info/**") | "\(.outcome) \(.reason)"')"

# Hard links.
expect "both links of the pair are removed" test ! -e "$ROOT/usr/share/doc/hardlinks/a" -a ! -e "$ROOT/usr/share/doc/hardlinks/b"
expect_eq "report.json counts the pair's allocated bytes once" "$pair_bytes" \
        "$(jq_report '.actions[] | select(.target == "/usr/share/doc/hardlinks/**") | .bytes')"
expect_eq "report.json frees nothing for a file still linked outside the pattern" 0 \
        "$(jq_report '.actions[] | select(.target == "/usr/share/doc/split/**") | .bytes')"
expect "the link outside the pattern keeps the data" test "$(stat -c %s "$ROOT/usr/share/split-outside")" -eq 30000

# Protected paths.
for f in usr/lib/systemd/systemd usr/lib/systemd/systemd-udevd usr/lib/systemd/system/dpuos-trim.service \
         usr/lib/systemd/system-generators/dpuos-trim-generator usr/lib/x86_64-linux-gnu/libc.so.6 \
         usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 etc/passwd etc/shadow etc/machine-id \
         usr/lib/os-release; do
        expect "/$f survives" test -e "$ROOT/$f"
        expect_eq "/$f is listed as protected" protected \
                "$(jq_report --arg t "/$f" '.actions[] | select(.target == $t and .state == "protected") | .outcome')"
done
expect "/etc/os-release (a symlink) survives" test -L "$ROOT/etc/os-release"
expect_eq "/etc/os-release is listed as protected" protected \
        "$(jq_report '.actions[] | select(.target == "/etc/os-release" and .state == "protected") | .outcome')"
expect "unprotected files next to protected ones are removed" \
        test ! -e "$ROOT/usr/lib/systemd/resolv.conf" -a ! -e "$ROOT/usr/lib/systemd/system-generators/other-generator" \
        -a ! -e "$ROOT/usr/lib/x86_64-linux-gnu/libfoo.so.1"
# dpuos-trim's state and policy directories are protected even when a pattern starts
# inside them.
expect "dpuos-trim's saved old values survive Remove=/var/lib/dpuos-trim/**" \
        test -f "$ROOT/var/lib/dpuos-trim/saved/sysctl"
expect "dpuos-trim's vendor policy survives Remove=/usr/lib/dpuos-trim/**" \
        test -f "$ROOT/usr/lib/dpuos-trim/policy.d/90-vendor.conf"
expect "dpuos-trim's own policy survives Remove=/etc/dpuos-trim/**" \
        test -f "$ROOT/etc/dpuos-trim/policy.d/60-self.conf"
expect "/run survives Remove=/run/user/**" test -f "$ROOT/run/user/0/data"
expect "/sys survives Remove=/sys/kernel/**" test -f "$ROOT/sys/kernel/mm/attr"
expect_eq "patterns inside protected trees are reported as protected" \
"/etc/dpuos-trim/** protected
/run/user/** protected
/sys/kernel/** protected
/usr/lib/dpuos-trim/** protected
/var/lib/dpuos-trim/** protected" \
        "$(jq_report '.actions[] | select(.target | test("^/(etc|usr/lib|var/lib)/dpuos-trim/|^/run/|^/sys/")) | "\(.target) \(.outcome)"' | sort)"

finish
