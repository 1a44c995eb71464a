#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attack case 3: mount points inside a removal pattern. A tmpfs, a bind mount of the tree's
# own /etc (same file system: st_dev does not change), a bind mount of a directory outside
# the tree, a file bind mount, a mount nested in a mount and a mount deep below a matched
# directory: each is listed as protected, and everything that can be reached through them —
# hashed before the run, through the mounts — is still there afterwards, as are the sources
# of the bind mounts outside the tree.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "mounting file systems in the fixture"
need_tool jq
need_tool mountpoint

mount_or_skip() {
        local target=${*: -1}
        if ! mount "$@" 2>"$SCRATCH/mount.err"; then
                skip "cannot mount here: $(cat "$SCRATCH/mount.err")"
        fi
        MOUNTS+=("$target")
}

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
mkdir -p "$ROOT/var/lib/dpuos-trim" "$ROOT/etc/important/deeper"
printf 'keep me\n' >"$ROOT/etc/important/notes"
head -c 3000 /dev/urandom >"$ROOT/etc/important/deeper/blob"
doc=$ROOT/usr/share/doc
mkdir -p "$doc"/pkg/{tmp,etc-bind,out-bind,sub/deeper/mnt} "$doc"/nest "$doc"/pkg2/a/b/mnt
printf 'removable\n' >"$doc/pkg/README"
printf 'removable\n' >"$doc/pkg/sub/deeper/file"
printf 'removable\n' >"$doc/pkg2/a/b/file"
printf 'shadowed\n' >"$doc/pkg/file-bind"

# Outside the tree: the sources of bind mounts.
OUTSIDE=$SCRATCH/outside
mkdir -p "$OUTSIDE/dir/deeper" "$OUTSIDE/nested/deeper"
printf 'outside\n' >"$OUTSIDE/dir/README"
head -c 5000 /dev/urandom >"$OUTSIDE/dir/deeper/data"
printf 'nested\n' >"$OUTSIDE/nested/deeper/data"
printf 'file source\n' >"$OUTSIDE/file"

mount_or_skip -t tmpfs -o size=4m,mode=0755 dpuos-trim-test "$doc/pkg/tmp"
mkdir -p "$doc/pkg/tmp/deeper"
printf 'on tmpfs\n' >"$doc/pkg/tmp/README"
head -c 3000 /dev/urandom >"$doc/pkg/tmp/deeper/data"
mount_or_skip --bind "$ROOT/etc" "$doc/pkg/etc-bind"
mount_or_skip --bind "$OUTSIDE/dir" "$doc/pkg/out-bind"
mount_or_skip --bind "$OUTSIDE/file" "$doc/pkg/file-bind"
mount_or_skip --bind "$OUTSIDE/dir" "$doc/pkg/sub/deeper/mnt"
# A tmpfs with a bind mount inside it.
mount_or_skip -t tmpfs -o size=1m dpuos-trim-test "$doc/nest"
mkdir -p "$doc/nest/inner" "$doc/nest/other"
printf 'on nest\n' >"$doc/nest/other/file"
mount_or_skip --bind "$OUTSIDE/nested" "$doc/nest/inner"
# Deep below a matched directory.
mount_or_skip --bind "$OUTSIDE/nested" "$doc/pkg2/a/b/mnt"

mount_points=(/usr/share/doc/pkg/tmp /usr/share/doc/pkg/etc-bind /usr/share/doc/pkg/out-bind
              /usr/share/doc/pkg/file-bind /usr/share/doc/pkg/sub/deeper/mnt /usr/share/doc/nest
              /usr/share/doc/pkg2/a/b/mnt)

policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/**
EOF

run_trim --dry-run --json
expect_eq "case 3: the dry run exits 0" 0 "$RC"
jq -r '.actions[] | select(.state == "protected") | .target' "$OUT" >"$SCRATCH/plan-protected"
for m in "${mount_points[@]}"; do
        expect "case 3: the plan lists the mount point $m as protected" grep -qxF -- "$m" "$SCRATCH/plan-protected"
done

fp_begin usr/share/doc/bash usr/share/doc/coreutils usr/share/doc/pkg/README \
        usr/share/doc/pkg/sub/deeper/file usr/share/doc/pkg2/a/b/file
dir_fp_begin outside "$OUTSIDE"
before_lines=$(wc -l <"$SCRATCH/fp.before")
for f in /usr/share/doc/pkg/tmp/deeper/data /usr/share/doc/pkg/etc-bind/important/deeper/blob \
         /usr/share/doc/pkg/out-bind/deeper/data /usr/share/doc/nest/inner/deeper/data; do
        expect "case 3: the fingerprint hashes $f, reached through a mount" \
                grep -q "^sha256 [0-9a-f]*  \.$f\$" "$SCRATCH/fp.before"
done

run_trim
expect_eq "case 3: apply exits 0" 0 "$RC"
[[ $RC -eq 0 ]] || cat "$OUT" "$ERR" | tail -n 20 | sed "s/^/    /"
fp_check "case 3 mounts"
dir_fp_check outside "$OUTSIDE" "case 3: the bind mounts' sources outside the tree are intact"
for m in "${mount_points[@]}"; do
        expect "case 3: $m is still a mount point" mountpoint -q "$ROOT$m"
done
jq_report '.actions[] | select(.state == "protected" and .outcome == "protected") | .target' >"$SCRATCH/report-protected"
for m in "${mount_points[@]}"; do
        expect "case 3: the report lists $m as protected" grep -qxF -- "$m" "$SCRATCH/report-protected"
done
echo "# $before_lines entries fingerprinted, mounted content included"

finish
