# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the offline black-box tests (docs/design.md, Tests). A test sources this file
# with the path of the built dpuos-trim as its first argument; it gets a fresh scratch
# directory that is removed (after unmounting whatever the test mounted) however the test
# ends.
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

# Under CI (CI=true) nothing may skip: what would be a skip is a failure there.
under_ci() {
        [[ ${CI:-} == true ]]
}

# skip REASON: the whole test cannot run here; exit 77 (meson's SKIP), or fail under CI.
skip() {
        if under_ci; then
                echo "not ok - cannot run: $* (CI=true: nothing may skip)"
                exit 1
        fi
        echo "SKIP: $*" >&2
        exit 77
}

need_root() {
        [[ $(id -u) -eq 0 ]] || skip "$* needs root"
}

# The test hooks ($DPUOS_TRIM_TEST_PAUSE, ..._TEST_KILL_AT, ..._PROC_CMDLINE) exist only in
# a build made with -Dtest_hooks=true, as tests/run-tests.sh makes it.
need_test_hooks() {
        "$DPUOS_TRIM" --version 2>/dev/null | grep -qF '(test hooks)' ||
                skip "$DPUOS_TRIM was built without -Dtest_hooks=true"
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

# expect_same DESCRIPTION EXPECTED ACTUAL: as expect_eq, but an empty or null EXPECTED
# fails: two empty strings (a missing file, a field that is not there) prove nothing.
expect_same() {
        if [[ -z $2 || $2 == null ]]; then
                fail "$1 (nothing to compare: '$2' and '$3')"
        else
                expect_eq "$@"
        fi
}

# missing REASON: a tool or feature that part of the test needs is not here, and that part
# is left out. The rest runs; then the test ends as skipped (exit 77) instead of passing,
# unless a check failed. Under CI this is a failure at once.
MISSING=()
missing() {
        if under_ci; then
                fail "cannot test: $* (CI=true: nothing may skip)"
        else
                echo "# SKIP part: $*"
                MISSING+=("$*")
        fi
}

finish() {
        echo "$PASSED passed, $FAILED failed"
        [[ $FAILED -eq 0 ]] || return 1
        if [[ ${#MISSING[@]} -gt 0 ]]; then
                printf 'SKIP: not tested here: %s\n' "${MISSING[@]}" >&2
                exit 77
        fi
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
# library and the files dpuos-trim.conf(5) protects.
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
                 bluetooth.service sshd.service chronyd.service postfix.service getty@.service e2scrub@.service; do
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

# jq_report FILTER: runs a jq filter over the last report. Without a report, or when it is
# empty or not JSON, it prints a line saying so instead of nothing, so that a check that
# expects no output (no such action) cannot pass on a report that is not there.
jq_report() {
        local r
        r=$(report)
        if [[ ! -s $r ]]; then
                echo "<no report: $r is missing or empty>"
                return 0
        fi
        jq -r "$@" "$r" || echo "<jq failed on $r>"
}

# ---------------------------------------------------------------------------------------
# Helpers of the attack tests (attack*.sh, dryrun-privs.sh): a fingerprint that survives any
# file name, checks that exactly the expected paths went, and running the binary paused
# between plan and apply.

# glob_quote VAR STRING: sets VAR to STRING as a find -path pattern that matches only itself.
glob_quote() {
        local s=${2//\\/\\\\}
        s=${s//\*/\\*}
        s=${s//\?/\\?}
        printf -v "$1" '%s' "${s//\[/\\[}"
}

# tree_fp DIR [PRUNE...]: a fingerprint of everything below DIR (crossing mount points) that
# removing other entries cannot change: one line per entry with its path, type, mode, owner
# and inode; for a regular file also its size and mtime, and a line with the SHA-256 of its
# content; for a symlink its target. Backslashes, newlines and tabs in names are escaped, so
# any name stays on one line and two names never give the same line. Left out: directory
# sizes and mtimes and link counts, which removing a sibling or another link changes; and
# the content of files deeper than PATH_MAX, which cannot be opened by name (their inode,
# size and mtime still stand for them). PRUNE paths (in-tree, no leading '/') are left out
# with all they hold, and are taken literally.
tree_fp() {
        local dir=$1 p q
        shift
        local prune=()
        for p; do
                glob_quote q "./$p"
                prune+=(-path "$q" -prune -o)
        done
        (
                cd "$dir"
                find . "${prune[@]}" \
                        \( -type d -printf '/%P\0d %m %U:%G %i\0\0' \
                        -o -type l -printf '/%P\0l %m %U:%G %i\0%l\0' \
                        -o -type f -printf '/%P\0f %m %U:%G %i %s %T@\0\0' \
                        -o -printf '/%P\0%y %m %U:%G %i\0\0' \) |
                        sed -z 's/\\/\\\\/g; s/\n/\\n/g; s/\t/\\t/g' | paste -z -d '\t' - - - | tr '\0' '\n'
                # sha256sum escapes backslashes and newlines in the names it prints.
                { find . "${prune[@]}" -type f -print0 | xargs -0 -r sha256sum -- 2>/dev/null || true; } |
                        sed 's/^/sha256 /'
        ) | sort
}

# fp_begin [PRUNE...]: the fingerprint of $ROOT without the paths the run is expected to
# remove (in-tree, no leading '/') and without the report, the status file and the
# manifests of removed files; fp_check compares with it.
fp_begin() {
        local p
        FP_GONE=("$@")
        for p in "${FP_GONE[@]}"; do
                [[ -e $ROOT/$p || -L $ROOT/$p ]] || fail "fixture: /$(printf %q "$p") exists before the run"
        done
        tree_fp "$ROOT" "${FP_GONE[@]}" var/lib/dpuos-trim/report.json var/lib/dpuos-trim/status var/lib/dpuos-trim/removed >"$SCRATCH/fp.before"
}

# fp_check WHAT: nothing outside the expected removals changed (byte for byte), and every
# expected removal is gone.
fp_check() {
        local what=$1 p missing=()
        tree_fp "$ROOT" "${FP_GONE[@]}" var/lib/dpuos-trim/report.json var/lib/dpuos-trim/status var/lib/dpuos-trim/removed >"$SCRATCH/fp.after"
        if diff -u "$SCRATCH/fp.before" "$SCRATCH/fp.after" >"$SCRATCH/fp.diff"; then
                pass "$what: nothing outside the expected removals changed ($(wc -l <"$SCRATCH/fp.before") entries)"
        else
                fail "$what: nothing outside the expected removals changed"
                head -40 "$SCRATCH/fp.diff" | sed "s/^/    /"
        fi
        for p in "${FP_GONE[@]}"; do
                [[ -e $ROOT/$p || -L $ROOT/$p ]] && missing+=("/$(printf %q "$p")")
        done
        if [[ ${#FP_GONE[@]} -eq 0 ]]; then
                :
        elif [[ ${#missing[@]} -eq 0 ]]; then
                pass "$what: all ${#FP_GONE[@]} expected removals are gone"
        else
                fail "$what: expected removals still there: ${missing[*]}"
        fi
}

# dir_fp_begin NAME DIR / dir_fp_check NAME DIR WHAT: the same for a directory outside the
# tree (a decoy, a bind mount's source) that must not change at all.
dir_fp_begin() {
        tree_fp "$2" >"$SCRATCH/dirfp.$1"
}

dir_fp_check() {
        if diff -u "$SCRATCH/dirfp.$1" <(tree_fp "$2") >"$SCRATCH/dirfp.diff"; then
                pass "$3 ($(wc -l <"$SCRATCH/dirfp.$1") entries unchanged)"
        else
                fail "$3"
                head -40 "$SCRATCH/dirfp.diff" | sed "s/^/    /"
        fi
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
        local stat
        [[ -r /proc/$1/stat ]] && read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
        stat=${stat##*) }
        [[ ${stat:0:1} != Z ]]
}

# pause_start ARGS...: runs the binary on $ROOT in the background with the test hook
# $DPUOS_TRIM_TEST_PAUSE, and returns once it has made its plan and waits before applying
# (status 0; $PAUSE_PID is the binary), or once it exited without getting there (status 1,
# its exit status in $RC). pause_release lets it go on and waits for it ($RC).
pause_start() {
        local i
        PAUSE_FIFO=$SCRATCH/pause.fifo
        rm -f "$PAUSE_FIFO" "$SCRATCH/pause.go" "$SCRATCH/pause.reached"
        mkfifo "$PAUSE_FIFO" "$SCRATCH/pause.go"
        RC=0
        DPUOS_TRIM_TEST_PAUSE=$PAUSE_FIFO "$DPUOS_TRIM" --root="$ROOT" "$@" >"$OUT" 2>"$ERR" &
        PAUSE_PID=$!
        # Opening the FIFO for writing returns only once the binary opens it to read, at its
        # pause point; the byte that lets it go on is written when the test says so.
        (exec 3>"$PAUSE_FIFO"; : >"$SCRATCH/pause.reached"; read -r _ <"$SCRATCH/pause.go"; printf x >&3) &
        PAUSE_WRITER=$!
        for ((i = 0; i < 6000; i++)); do
                [[ -e $SCRATCH/pause.reached ]] && return 0
                pid_alive "$PAUSE_PID" || break
                sleep 0.01
        done
        kill "$PAUSE_WRITER" 2>/dev/null || true
        wait "$PAUSE_WRITER" 2>/dev/null || true
        if pid_alive "$PAUSE_PID"; then
                kill -KILL "$PAUSE_PID" 2>/dev/null || true
        fi
        wait "$PAUSE_PID" || RC=$?
        echo "    the binary did not reach its pause point (exit status $RC):" >&2
        sed 's/^/    /' "$ERR" >&2
        return 1
}

# pause_held: the binary started by pause_start still waits at its pause point: it is
# alive and the byte that lets it go on has not been written (the writer that holds the
# FIFO open still waits for the test). A change the test made to the tree before this
# check happened between the plan and the apply.
pause_held() {
        pid_alive "$PAUSE_PID" && pid_alive "$PAUSE_WRITER"
}

pause_release() {
        echo go >"$SCRATCH/pause.go"
        wait "$PAUSE_WRITER" || true
        RC=0
        wait "$PAUSE_PID" || RC=$?
}

# fast_dir NAME: sets FAST_DIR to a fresh directory $SCRATCH/NAME, on a tmpfs where the test
# may mount one (big fixtures are made and removed much faster there than on a slow disk),
# else on the scratch directory's own file system.
fast_dir() {
        FAST_DIR=$SCRATCH/$1
        FAST_DIR_FS=$(stat -f -c %T "$SCRATCH")
        mkdir -p "$FAST_DIR"
        if [[ $(id -u) -eq 0 ]] && mount -t tmpfs -o mode=0755,size=75% dpuos-trim-test "$FAST_DIR" 2>/dev/null; then
                MOUNTS+=("$FAST_DIR")
                FAST_DIR_FS=tmpfs
        fi
}
