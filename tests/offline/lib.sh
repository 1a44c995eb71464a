# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the offline black-box tests (DESIGN §7.2). A test sources this file with the path
# of the built dpuos-trim as its first argument; it gets a fresh scratch directory that is
# removed (after unmounting whatever the test mounted) however the test ends.
set -euo pipefail
shopt -s nullglob

DPUOS_TRIM=${1:?usage: $0 PATH-TO-dpuos-trim}
if [[ ! -x $DPUOS_TRIM ]]; then
        echo "$DPUOS_TRIM: not an executable" >&2
        exit 1
fi
export LC_ALL=C

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dpuos-trim-test.XXXXXX")
SCRATCH=$(realpath "$SCRATCH")
MOUNTS=()
FAILED=0
PASSED=0

cleanup() {
        local i
        for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
                umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
        done
        # --one-file-system: never follow a mount that failed to go away into another tree.
        rm -rf --one-file-system "$SCRATCH"
}
trap cleanup EXIT

skip() {
        echo "SKIP: $*" >&2
        exit 77
}

need_root() {
        [[ $(id -u) -eq 0 ]] || skip "$* needs root"
}

need_tool() {
        command -v "$1" >/dev/null || skip "$1 is not installed"
}

# Checks print one line each and the test goes on, so one run shows every broken outcome.
pass() {
        PASSED=$((PASSED + 1))
        echo "ok - $*"
}

fail() {
        FAILED=$((FAILED + 1))
        echo "not ok - $*"
}

# expect DESCRIPTION COMMAND...: the command must succeed.
expect() {
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
        if [[ $2 == "$3" ]]; then
                pass "$1"
        else
                fail "$1"
                diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /' || true
        fi
}

finish() {
        echo "$PASSED passed, $FAILED failed"
        [[ $FAILED -eq 0 ]]
}

# run_trim ARGS...: runs the binary on $ROOT, keeping its output in $OUT and $ERR and its
# exit status in $RC (never aborting the test).
OUT=$SCRATCH/stdout
ERR=$SCRATCH/stderr
RC=0
run_trim() {
        RC=0
        "$DPUOS_TRIM" --root="$ROOT" "$@" >"$OUT" 2>"$ERR" || RC=$?
}

# Everything a user could notice about a tree: names, types, sizes, modes, owners, inodes,
# mtimes, link targets, and the content of every regular file. Paths given after DIR (in-tree,
# without a leading '/') are left out, e.g. var/lib/dpuos-trim, which every apply rewrites.
tree_state() {
        local dir=$1 p
        shift
        local prune=()
        for p; do
                prune+=(-path "$dir/$p" -prune -o)
        done
        {
                find "$dir" "${prune[@]}" -printf '%P|%y|%s|%m|%U:%G|%i|%T@|%l\n'
                find "$dir" "${prune[@]}" -type f -exec sha256sum -- {} +
        } | sort
}

# expect_tree_unchanged DESCRIPTION BEFORE-FILE [PRUNE...]
expect_tree_unchanged() {
        local what=$1 before=$2
        shift 2
        if diff -u "$before" <(tree_state "$ROOT" "$@") >"$SCRATCH/tree.diff"; then
                pass "$what"
        else
                fail "$what"
                sed 's/^/    /' "$SCRATCH/tree.diff" | head -40
        fi
}

POLICY_DIR=/etc/dpuos-trim/policy.d

# policy NAME [DIR]: writes stdin as a policy file of the tree (default: /etc/.../policy.d).
policy() {
        local dir=${2:-$POLICY_DIR}
        mkdir -p "$ROOT$dir"
        cat >"$ROOT$dir/$1"
}

# A unit file that `systemctl is-enabled` reports as "disabled" until masked (an empty file
# would already count as masked).
unit_file() {
        mkdir -p "$(dirname "$1")"
        printf '[Unit]\nDescription=%s\n\n[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n' \
                "$(basename "$1")" >"$1"
}

# A small installed OS: units, one kernel's module index, docs, man pages, locales, the C
# library and the files DESIGN §4 protects.
KVER=6.1.0-99-test
make_os_tree() {
        local r=$1 u
        mkdir -p "$r"/{etc,usr/bin,usr/sbin,var/lib,proc,sys,dev,run,tmp}
        ln -s usr/bin "$r/bin"
        ln -s usr/sbin "$r/sbin"
        printf 'root:x:0:0:root:/root:/bin/bash\n' >"$r/etc/passwd"
        printf 'root:*:19000:0:99999:7:::\n' >"$r/etc/shadow"
        printf 'root:x:0:\n' >"$r/etc/group"
        printf 'UUID=0 / ext4 defaults 0 1\n' >"$r/etc/fstab"
        printf '0123456789abcdef0123456789abcdef\n' >"$r/etc/machine-id"
        mkdir -p "$r/usr/lib"
        printf 'NAME="Test OS"\nID=test\n' >"$r/usr/lib/os-release"
        ln -s ../usr/lib/os-release "$r/etc/os-release"

        for u in cups.service cups.socket cups.path avahi-daemon.service avahi-daemon.socket \
                 bluetooth.service sshd.service chronyd.service postfix.service getty@.service; do
                unit_file "$r/usr/lib/systemd/system/$u"
        done
        mkdir -p "$r/etc/systemd/system"

        mkdir -p "$r/usr/lib/modules/$KVER"
        cat >"$r/usr/lib/modules/$KVER/modules.dep" <<'EOF'
kernel/drivers/block/floppy.ko.xz:
kernel/drivers/input/misc/pcspkr.ko.xz:
kernel/sound/core/snd-pcm.ko.xz: kernel/sound/core/snd-timer.ko.xz
kernel/sound/core/snd-timer.ko.xz:
kernel/sound/pci/hda/snd-hda-intel.ko.xz: kernel/sound/core/snd-pcm.ko.xz
kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko.xz:
kernel/drivers/net/virtio_net.ko.xz:
EOF
        printf 'kernel/fs/ext4/ext4.ko\nkernel/drivers/char/mem.ko\n' >"$r/usr/lib/modules/$KVER/modules.builtin"

        mkdir -p "$r"/usr/share/doc/{bash,coreutils} "$r"/usr/share/man/{man1,man8} \
                 "$r"/usr/share/locale/{de,fr,en_US}/LC_MESSAGES "$r/usr/lib/x86_64-linux-gnu"
        head -c 5000 /dev/urandom >"$r/usr/share/doc/bash/README"
        printf 'GPL-3+\n' >"$r/usr/share/doc/bash/copyright"
        head -c 9000 /dev/urandom >"$r/usr/share/doc/coreutils/NEWS.gz"
        printf 'GPL-3+\n' >"$r/usr/share/doc/coreutils/copyright"
        printf '.TH LS 1\n' >"$r/usr/share/man/man1/ls.1.gz"
        printf '.TH INIT 8\n' >"$r/usr/share/man/man8/init.8.gz"
        local l
        for l in de fr en_US; do
                printf 'mo %s\n' "$l" >"$r/usr/share/locale/$l/LC_MESSAGES/coreutils.mo"
        done
        printf 'ELF libc\n' >"$r/usr/lib/x86_64-linux-gnu/libc.so.6"
        printf 'ELF ld.so\n' >"$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        printf 'ELF libfoo\n' >"$r/usr/lib/x86_64-linux-gnu/libfoo.so.1"
        printf '#!/bin/sh\n' >"$r/usr/bin/bash"
        mkdir -p "$r/usr/lib/systemd"
        printf 'ELF systemd\n' >"$r/usr/lib/systemd/systemd"
}

# The persisted configuration without the header comment.
conf_lines() {
        grep -v '^#' "$1" || true
}

report() {
        echo "$ROOT/var/lib/dpuos-trim/report.json"
}

# jq_report FILTER: runs a jq filter over the last report.
jq_report() {
        jq -r "$@" "$(report)"
}
