#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [Files] patterns that remove module files leave each kernel's module index (modules.dep)
# as the files are: depmod rebuilds it after the removal, so that modprobe of a removed
# module says it is not there instead of loading its dependencies and failing on the
# missing file. The modules are small ELF objects built here, indexed by the real depmod.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tool gcc
need_tool depmod
need_tool modprobe

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
ln -s usr/lib "$ROOT/lib"  # merged /usr: depmod --basedir looks under lib/modules
KDIR=$ROOT/usr/lib/modules/$KVER
rm -f "$KDIR/modules.dep"
mkdir -p "$KDIR/kernel/sound/core" "$KDIR/kernel/drivers/net" "$KDIR/kernel/fs/foo"

# snd-pcm needs a symbol that snd exports, so depmod makes snd a dependency of snd-pcm.
cat >"$SCRATCH/snd.c" <<'EOF'
void snd_card_new(void) {}
static const char ksym[] __attribute__((section("__ksymtab_strings"), used)) = "snd_card_new";
static const char modinfo[] __attribute__((section(".modinfo"), used)) = "license=GPL";
EOF
cat >"$SCRATCH/pcm.c" <<'EOF'
extern void snd_card_new(void);
void snd_pcm_new(void) { snd_card_new(); }
static const char modinfo[] __attribute__((section(".modinfo"), used)) = "license=GPL";
EOF
cat >"$SCRATCH/plain.c" <<'EOF'
static const char modinfo[] __attribute__((section(".modinfo"), used)) = "license=GPL";
EOF
gcc -c "$SCRATCH/snd.c" -o "$KDIR/kernel/sound/core/snd.ko"
gcc -c "$SCRATCH/pcm.c" -o "$KDIR/kernel/sound/core/snd-pcm.ko"
gcc -c "$SCRATCH/plain.c" -o "$KDIR/kernel/drivers/net/virtio_net.ko"
gcc -c "$SCRATCH/plain.c" -o "$KDIR/kernel/fs/foo/foo.ko"
depmod --basedir="$ROOT" "$KVER" 2>/dev/null
cp "$KDIR/modules.dep" "$SCRATCH/modules.dep.before"
expect "the fixture's index makes snd a dependency of snd-pcm" \
        grep -qx "kernel/sound/core/snd-pcm.ko: kernel/sound/core/snd.ko" "$KDIR/modules.dep"

# What modprobe would load for a module, or its error.
would_load() {
        modprobe --dirname="$ROOT" --set-version="$KVER" --dry-run --show-depends "$1" 2>&1 |
                sed "s|$ROOT||g" || true
}

policy 50-modules.conf <<'EOF'
[Files]
Remove=/usr/lib/modules/*/kernel/sound
EOF

# The plan names the rebuild and why; a dry run changes nothing.
tree_state "$ROOT" >"$SCRATCH/before"
run_trim --dry-run
expect_eq "the dry run exits 0" 0 "$RC"
expect "the plan says the index of the kernel will be rebuilt, and why" \
        grep -Eq "^files +/usr/lib/modules/$KVER +would rebuild .*kernel/sound/core/snd.*which the removal takes: depmod" "$OUT"
expect_tree_unchanged "the dry run leaves the tree and its index as they were" "$SCRATCH/before"

# Apply: the files go, the index follows them.
run_trim --json
expect_eq "the apply exits 0" 0 "$RC"
expect "the sound modules are gone" [ ! -e "$KDIR/kernel/sound" ]
expect "modules.dep no longer lists them" bash -c "! grep -q sound '$KDIR/modules.dep'"
expect "modules.dep still lists the others" \
        bash -c "grep -qx 'kernel/drivers/net/virtio_net.ko:' '$KDIR/modules.dep' && grep -qx 'kernel/fs/foo/foo.ko:' '$KDIR/modules.dep'"
expect_eq "modprobe of a removed module loads nothing and says it is not there" \
        "modprobe: FATAL: Module snd-pcm not found in directory /lib/modules/$KVER" "$(would_load snd-pcm)"
expect_eq "modprobe of a module that stays still finds it" \
        "insmod /lib/modules/$KVER/kernel/drivers/net/virtio_net.ko " "$(would_load virtio_net)"
expect_eq "the report has the rebuild done" "done" \
        "$(jq -r --arg t "/usr/lib/modules/$KVER" '.actions[] | select(.action == "rebuild" and .target == $t) | .outcome' "$(report)")"

# Again: nothing to rebuild.
run_trim
expect_eq "a second run exits 0" 0 "$RC"
expect "a second run plans no rebuild" bash -c "! grep -q rebuild '$OUT'"
run_trim --verify
expect_eq "--verify finds no drift" 0 "$RC"

# A run that removed the files and ended before depmod: the index lists removed modules;
# --verify calls it stale and the next run rebuilds it.
cp "$SCRATCH/modules.dep.before" "$KDIR/modules.dep"
run_trim --verify
expect_eq "--verify reports the stale index as drift" 3 "$RC"
expect "--verify names it" grep -Eq "^files +/usr/lib/modules/$KVER +stale .*which was removed" "$OUT"
run_trim
expect_eq "the next run exits 0" 0 "$RC"
expect "and rebuilds the index" bash -c "! grep -q sound '$KDIR/modules.dep'"

# A module that went some other way (no pattern covers it) is not the policy's business.
cp "$KDIR/modules.dep" "$SCRATCH/modules.dep.clean"
rm "$KDIR/kernel/fs/foo/foo.ko"
run_trim
expect "a module removed by hand, outside every pattern, plans no rebuild" bash -c "! grep -q rebuild '$OUT'"
expect_same "and the index is left as it was" "$(cat "$SCRATCH/modules.dep.clean")" "$(cat "$KDIR/modules.dep")"
gcc -c "$SCRATCH/plain.c" -o "$KDIR/kernel/fs/foo/foo.ko"

# depmod failing, or not there: the run fails and says why; the files are still removed.
mkdir -p "$KDIR/kernel/sound/core" "$SCRATCH/bin" "$SCRATCH/nobin"
gcc -c "$SCRATCH/snd.c" -o "$KDIR/kernel/sound/core/snd.ko"
depmod --basedir="$ROOT" "$KVER" 2>/dev/null
printf '#!/bin/sh\necho "depmod: ERROR: could not open directory: Input/output error" >&2\nexit 1\n' >"$SCRATCH/bin/depmod"
chmod +x "$SCRATCH/bin/depmod"
RC=0
PATH=$SCRATCH/bin:$PATH "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "a failing depmod fails the run (exit 1)" 1 "$RC"
expect "the summary gives depmod's status and message" \
        grep -Fq "failed: files rebuild /usr/lib/modules/$KVER: depmod exited with status 1: depmod: ERROR: could not open directory" "$OUT"
expect "the files were removed all the same" [ ! -e "$KDIR/kernel/sound" ]
RC=0
PATH=$SCRATCH/nobin "$DPUOS_TRIM" --root="$ROOT" >"$OUT" 2>"$ERR" || RC=$?
expect_eq "without depmod the run fails (exit 1)" 1 "$RC"
expect "and says it cannot run depmod" grep -Fq "failed: files rebuild /usr/lib/modules/$KVER: cannot run depmod: No such file or directory" "$OUT"
run_trim
expect_eq "with depmod back, the next run exits 0" 0 "$RC"
expect "and the index is right again" bash -c "! grep -q sound '$KDIR/modules.dep'"

finish
