#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Attack case 2: the tree changes between plan and apply. The binary is held at its test
# pause point ($DPUOS_TRIM_TEST_PAUSE) after planning; the test then swaps directories for
# symlinks (to a directory outside the root, to the tree's /etc), swaps the pattern's own
# directory, swaps a planned file for a hard link to /etc/passwd, moves /etc content into
# the pattern, mounts over a planned directory, and kills the run half-way (at its Nth step,
# $DPUOS_TRIM_TEST_KILL_AT). Apply removes only inodes the probe planned, so nothing that
# was swapped in may be removed, nor anything a link points to.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_test_hooks
need_root "an attack fixture with root-owned files and mounts"
need_tool jq

DECOY=$SCRATCH/decoy
fast_dir trees
echo "# fixtures on $FAST_DIR_FS, the directory outside them on $(stat -f -c %T "$SCRATCH")"

# A fresh tree for each race, and a directory outside it laid out like what the pattern
# matches, so a walk that followed a link there would find things to remove.
TEMPLATE=$FAST_DIR/template
make_os_tree "$TEMPLATE"
mkdir -p "$TEMPLATE/var/lib/dpuos-trim" "$TEMPLATE/etc/important/deeper" "$TEMPLATE/usr/share/doc/pkg/sub/deeper"
printf 'keep me\n' >"$TEMPLATE/etc/important/notes"
head -c 3000 /dev/urandom >"$TEMPLATE/etc/important/deeper/blob"
printf 'doc\n' >"$TEMPLATE/usr/share/doc/pkg/README"
head -c 4000 /dev/urandom >"$TEMPLATE/usr/share/doc/pkg/sub/file"
printf 'x\n' >"$TEMPLATE/usr/share/doc/pkg/sub/deeper/x"
setup() {
        ROOT=$FAST_DIR/$1
        cp -a "$TEMPLATE" "$ROOT"
        rm -rf "$DECOY"
        mkdir -p "$DECOY/sub/deeper" "$DECOY/doc/bash" "$DECOY/doc/pkg"
        printf 'host data\n' >"$DECOY/README"
        head -c 2000 /dev/urandom >"$DECOY/sub/deeper/data"
        printf 'host doc\n' >"$DECOY/doc/bash/README"
        printf 'host pkg\n' >"$DECOY/doc/pkg/README"
        policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/**
EOF
}

# race NAME EXPECTED-RC SWAP-FUNCTION GONE...: plans, runs SWAP-FUNCTION while the binary
# waits before applying, then lets it apply. Nothing but GONE may change in the tree, and
# nothing at all outside it.
race() {
        local name=$1 want_rc=$2 swap=$3
        shift 3
        if ! pause_start; then
                fail "case 2 $name: the binary reaches its pause point"
                return
        fi
        "$swap"
        # The swap counts only if it happened between plan and apply: the binary must still
        # be waiting at its pause point now.
        if pause_held; then
                pass "case 2 $name: the swap was made while the run waited between plan and apply"
        else
                fail "case 2 $name: the swap was made while the run waited between plan and apply"
        fi
        fp_begin "$@"
        dir_fp_begin decoy "$DECOY"
        pause_release
        expect_eq "case 2 $name: apply exits $want_rc" "$want_rc" "$RC"
        [[ $RC -eq $want_rc ]] || tail -n 20 "$ERR" | sed "s/^/    /"
        fp_check "case 2 $name"
        dir_fp_check decoy "$DECOY" "case 2 $name: the directory outside the root is intact"
}

# The docs of the other packages go; /usr/share/doc/pkg is what the swaps play with.
others=(usr/share/doc/bash usr/share/doc/coreutils)

# A planned directory becomes a symlink to a directory outside the root. The original goes
# somewhere outside the pattern (its inodes were planned, but it is no longer there).
swap_to_outside() {
        mv "$ROOT/usr/share/doc/pkg" "$ROOT/usr/share/pkg-moved"
        ln -s "$DECOY" "$ROOT/usr/share/doc/pkg"
}
setup dir-to-outside-link
race "dir -> link outside the root" 0 swap_to_outside "${others[@]}"
expect "case 2 dir -> link outside the root: the link swapped in is left alone" test -L "$ROOT/usr/share/doc/pkg"

# ... a symlink to the tree's /etc, relative and absolute-in-tree forms.
swap_to_etc() {
        mv "$ROOT/usr/share/doc/pkg" "$ROOT/usr/share/pkg-moved"
        ln -s ../../../etc "$ROOT/usr/share/doc/pkg"
        mkdir "$ROOT/usr/share/doc/bash/sub"
        mv "$ROOT/usr/share/doc/bash/README" "$ROOT/usr/share/pkg-moved/README.bash"
        ln -s ../../../../../etc/important "$ROOT/usr/share/doc/bash/sub/important"
}
setup dir-to-etc-link
race "dir -> link to the tree's /etc" 0 swap_to_etc usr/share/doc/coreutils usr/share/doc/bash/copyright
expect "case 2 dir -> link to the tree's /etc: /etc/passwd survives" grep -q '^root:' "$ROOT/etc/passwd"

# The pattern's own directory becomes a symlink: its walk cannot start (exit 1), and the
# directory it points to is not touched.
swap_pattern_dir() {
        mv "$ROOT/usr/share/doc" "$ROOT/usr/share/doc.real"
        ln -s "$DECOY/doc" "$ROOT/usr/share/doc"
}
setup pattern-dir-to-link
race "the pattern's directory -> link outside the root" 1 swap_pattern_dir

# A directory above the pattern's directory becomes a symlink to the tree's /etc, where a
# usr-like layout waits.
swap_parent_dir() {
        mkdir -p "$ROOT/etc/share/doc/etcpkg"
        printf 'etc content\n' >"$ROOT/etc/share/doc/etcpkg/conf"
        mv "$ROOT/usr/share" "$ROOT/usr/share.real"
        ln -s ../etc/share "$ROOT/usr/share"
}
setup parent-dir-to-link
race "a parent directory -> link into /etc" 1 swap_parent_dir

# A planned file is replaced by a hard link to /etc/passwd: that inode was not planned.
swap_file_to_hardlink() {
        rm "$ROOT/usr/share/doc/pkg/README"
        ln "$ROOT/etc/passwd" "$ROOT/usr/share/doc/pkg/README"
}
setup file-to-hardlink
passwd_sum=$(sha256sum <"$ROOT/etc/passwd")
race "planned file -> hard link to /etc/passwd" 0 swap_file_to_hardlink \
        "${others[@]}" usr/share/doc/pkg/sub
expect "case 2 planned file -> hard link: the swapped-in link is left alone" test -f "$ROOT/usr/share/doc/pkg/README"
expect_eq "case 2 planned file -> hard link: /etc/passwd keeps its content" "$passwd_sum" "$(sha256sum <"$ROOT/etc/passwd")"

# A directory of /etc is moved into the place of a planned directory.
swap_etc_into_pattern() {
        mv "$ROOT/usr/share/doc/pkg" "$ROOT/etc/pkg-moved-out"
        mv "$ROOT/etc/important" "$ROOT/usr/share/doc/pkg"
}
setup etc-into-pattern
race "/etc content moved into a planned directory's place" 0 swap_etc_into_pattern "${others[@]}"

# A bind mount appears over a planned directory after the plan: the apply's own mount
# table sees it. Where nothing can be mounted this race cannot happen: the case is then
# not tested (the test ends as skipped, or fails under CI), never passed.
swap_mount() {
        if mount --bind "$DECOY" "$ROOT/usr/share/doc/pkg/sub" 2>"$SCRATCH/mount.err"; then
                MOUNTS+=("$ROOT/usr/share/doc/pkg/sub")
        else
                fail "case 2 bind mount after the plan: mount --bind: $(head -n1 "$SCRATCH/mount.err")"
        fi
}
mkdir -p "$SCRATCH/mount-probe"
if mount --bind "$DECOY" "$SCRATCH/mount-probe" 2>"$SCRATCH/mount.err"; then
        umount "$SCRATCH/mount-probe"
        setup mount-after-plan
        race "a bind mount over a planned directory" 0 swap_mount "${others[@]}" usr/share/doc/pkg/README
        expect "case 2 bind mount after the plan: it is still mounted" mountpoint -q "$ROOT/usr/share/doc/pkg/sub"
        if mountpoint -q "$ROOT/usr/share/doc/pkg/sub"; then
                umount "$ROOT/usr/share/doc/pkg/sub"
                unset "MOUNTS[-1]"
        fi
else
        missing "cannot bind-mount here ($(head -n1 "$SCRATCH/mount.err")): the race of a mount made after the plan"
fi

# A run killed half-way ($DPUOS_TRIM_TEST_KILL_AT), then run again: together they remove
# exactly what one run would.
setup killed
mkdir -p "$ROOT/usr/share/man/extra"
printf 'extra\n' >"$ROOT/usr/share/man/extra/page.1"
policy 50-files.conf <<'EOF'
[Files]
Remove=/usr/share/doc/** /usr/share/man/**
EOF
fp_begin usr/share/doc/bash usr/share/doc/coreutils usr/share/doc/pkg usr/share/man/man1 \
        usr/share/man/man8 usr/share/man/extra
for at in 1 3 5; do
        # (In a command substitution, where the shell does not announce the kill.)
        RC=$(DPUOS_TRIM_TEST_KILL_AT=$at "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR"; echo $?)
        expect_eq "case 2 killed: the run killed at step $at dies of SIGKILL" 137 "$RC"
done
run_trim
expect_eq "case 2 killed: the run after three killed ones exits 0" 0 "$RC"
fp_check "case 2 killed and resumed"

finish
