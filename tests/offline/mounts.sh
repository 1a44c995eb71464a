#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A removal never crosses a mount point (docs/design.md, File removal and protected paths):
# a tmpfs, a bind mount of the same file system (same st_dev, so only the mount table or
# statx tells), and a file bind mount inside a pattern are listed as protected "mount point"
# and nothing beneath them is removed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "mounting file systems in the fixture"
need_tool jq
need_tool mountpoint

# mount_or_skip ARGS... TARGET: mounts, or skips the test where mounting is not allowed
# (e.g. a container without CAP_SYS_ADMIN).
mount_or_skip() {
        local target=${*: -1}
        if ! mount "$@" 2>"$SCRATCH/mount.err"; then
                skip "cannot mount here: $(cat "$SCRATCH/mount.err")"
        fi
        MOUNTS+=("$target")
}

# One tree per kind of mount, so each detection is tested on its own.
setup_tree() {
        ROOT=$SCRATCH/$1
        make_os_tree "$ROOT"
        mkdir -p "$ROOT/usr/share/doc/pkg/mnt"
        printf 'removable\n' >"$ROOT/usr/share/doc/pkg/README"
        policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/**
EOF
}

check_tree() {
        local what=$1 mnt=/usr/share/doc/pkg/mnt
        local before=$SCRATCH/$what.before
        tree_state "$ROOT$mnt" >"$before"

        run_trim --dry-run --json
        expect_eq "$what: the plan lists the mount point as protected" "protected mount point" \
                "$(jq -r --arg t "$mnt" '.actions[] | select(.target == $t) | "\(.state) \(.reason | split(" (")[0])"' "$OUT")"

        run_trim
        expect_eq "$what: apply exits 0" 0 "$RC"
        [[ $RC -eq 0 ]] || sed 's/^/    /' "$OUT" "$ERR"
        expect "$what: files next to the mount point are removed" test ! -e "$ROOT/usr/share/doc/pkg/README"
        expect "$what: other packages' docs are removed" test ! -e "$ROOT/usr/share/doc/bash/README"
        expect "$what: the mount point is still there" mountpoint -q "$ROOT$mnt"
        if diff -q "$before" <(tree_state "$ROOT$mnt") >/dev/null; then
                pass "$what: nothing beneath the mount point is removed"
        else
                fail "$what: nothing beneath the mount point is removed"
                diff -u "$before" <(tree_state "$ROOT$mnt") | sed 's/^/    /' | head -20
        fi
        expect_eq "$what: the report lists it as protected" protected \
                "$(jq_report --arg t "$mnt" '.actions[] | select(.target == $t) | .outcome')"
}

# A tmpfs: another file system.
setup_tree tmpfs
mount_or_skip -t tmpfs -o size=1m,mode=0755 dpuos-trim-test "$ROOT/usr/share/doc/pkg/mnt"
mkdir -p "$ROOT/usr/share/doc/pkg/mnt/deeper"
printf 'on tmpfs\n' >"$ROOT/usr/share/doc/pkg/mnt/deeper/data"
check_tree tmpfs

# A mount point whose name needs escaping everywhere: in /proc/self/mountinfo, in the table
# and in JSON.
setup_tree odd-name
odd=$'/usr/share/doc/we"ird \\ name\n\xff'
mkdir -p "$ROOT$odd"
mount_or_skip -t tmpfs -o size=1m dpuos-trim-test "$ROOT$odd"
printf 'keep\n' >"$ROOT$odd/data"
run_trim --dry-run --json
expect_eq "odd name: the plan is valid JSON and lists the mount point as protected" protected \
        "$(jq -r '.actions[] | select(.target | startswith("/usr/share/doc/we\"ird")) | .state' "$OUT")"
run_trim
expect_eq "odd name: apply exits 0" 0 "$RC"
expect "odd name: nothing beneath the mount point is removed" grep -qx keep "$ROOT$odd/data"

# A bind mount of a directory of the same file system: st_dev does not change.
setup_tree bind
mkdir -p "$SCRATCH/bind-source/deeper"
printf 'bound\n' >"$SCRATCH/bind-source/deeper/data"
mount_or_skip --bind "$SCRATCH/bind-source" "$ROOT/usr/share/doc/pkg/mnt"
check_tree bind
expect "bind: the bind mount's source is intact" test -f "$SCRATCH/bind-source/deeper/data"

# A file bind-mounted over a file inside the pattern: also a mount point, so protected and
# not a failed removal.
setup_tree file
printf 'file source\n' >"$SCRATCH/file-source"
printf 'shadowed\n' >"$ROOT/usr/share/doc/pkg/bound-file"
mount_or_skip --bind "$SCRATCH/file-source" "$ROOT/usr/share/doc/pkg/bound-file"
run_trim --dry-run --json
expect_eq "file: the plan lists a bind-mounted file as a protected mount point" "protected" \
        "$(jq -r '.actions[] | select(.target == "/usr/share/doc/pkg/bound-file") | .state' "$OUT")"
run_trim
expect_eq "file: apply exits 0" 0 "$RC"
expect "file: the bind-mounted file is still there" mountpoint -q "$ROOT/usr/share/doc/pkg/bound-file"
expect "file: its source is intact" grep -qx 'file source' "$SCRATCH/file-source"

finish
