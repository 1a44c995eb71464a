#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A catalogue of broken policies (dpuos-trim.conf(5)): each must exit 2, name FILE:LINE: on
# stderr and leave the tree byte for byte as it was, although a valid file beside it asks
# for changes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$SCRATCH/root
make_os_tree "$ROOT"
# Valid, and would change all five kinds if it were applied.
policy 10-good.conf <<'EOF'
[Policy]
Name=good
[Units]
Mask=cups.service
[Modules]
Blacklist=floppy
[Sysctl]
vm.swappiness = 10
[Sysfs]
/sys/kernel/mm/transparent_hugepage/enabled = never
[Files]
Remove=/usr/share/doc/** /usr/share/man/**
EOF
BAD=$POLICY_DIR/50-bad.conf
before=$SCRATCH/before
tree_state "$ROOT" >"$before"

long_value=$(printf 'x%.0s' {1..220})

# bad LINE DESCRIPTION: the policy text on stdin must fail at LINE.
bad() {
        local line=$1 what=$2 file=${BAD_FILE:-$BAD}
        mkdir -p "$(dirname "$ROOT$file")"
        cat >"$ROOT$file"
        tree_state "$ROOT" >"$before"
        run_trim
        expect_eq "$what: exits 2" 2 "$RC"
        if grep -qF "$ROOT$file:$line: " "$ERR"; then
                pass "$what: stderr names $(basename "$file"):$line:"
        else
                fail "$what: stderr names $(basename "$file"):$line:"
                sed 's/^/    stderr: /' "$ERR"
        fi
        expect_tree_unchanged "$what: the tree is unchanged" "$before"
        rm -f "$ROOT$file"
}

bad 4 "unknown section" <<'EOF'
[Policy]
Name=x

[Bogus]
Foo=1
EOF
bad 3 "unknown key" <<'EOF'
[Units]
Mask=bluetooth.service
Colour=red
EOF
bad 2 "relative path" <<'EOF'
[Files]
Remove=usr/share/locale/**
EOF
bad 2 "empty sysfs path" <<'EOF'
[Sysfs]
= never
EOF
bad 3 "bad boolean" <<'EOF'
[Units]
Mask=bluetooth.service
Stop=maybe
EOF
bad 3 "glob in a sysctl key" <<'EOF'
[Sysctl]
kernel.sysrq = 0
net.ipv4.conf.*.rp_filter = 1
EOF
bad 2 "glob in a sysfs path" <<'EOF'
[Sysfs]
/sys/class/net/*/mtu = 9000
EOF
bad 3 "a line longer than 200 bytes" <<EOF
# too long for inih's buffer: an error, never split
[Files]
Remove=/usr/share/$long_value/**
EOF
bad 1 "assignment outside a section" <<'EOF'
Name=early
[Policy]
EOF
bad 3 "missing ']'" <<'EOF'
[Policy]
Name=x
[Units
Mask=bluetooth.service
EOF
bad 2 "a line without '='" <<'EOF'
[Units]
Mask bluetooth.service
EOF
bad 2 "bad OnFailure" <<'EOF'
[Policy]
OnFailure=panic
EOF
bad 2 "invalid unit name" <<'EOF'
[Units]
Mask=bluetooth.service bluetooth
EOF
bad 2 "invalid module name" <<'EOF'
[Modules]
Blacklist=floppy.ko
EOF
bad 2 "Remove=/usr/**" <<'EOF'
[Files]
Remove=/usr/**
EOF
bad 2 "'..' in a pattern" <<'EOF'
[Files]
Remove=/usr/share/doc/../../../etc/**
EOF
printf '[Policy]\nName=a\0b\n' | bad 2 "a NUL byte"
bad 2 "Remove=/" <<'EOF'
[Files]
Remove=/
EOF
bad 2 "Remove=/etc/pass* (a top-level directory emptied)" <<'EOF'
[Files]
Remove=/etc/pass*
EOF
bad 2 "'//' in a pattern" <<'EOF'
[Files]
Remove=/usr//share/doc/**
EOF
bad 2 "a sysfs path outside /sys and /proc" <<'EOF'
[Sysfs]
/etc/shadow = x
EOF
bad 2 "a bad sysctl name" <<'EOF'
[Sysctl]
vm..swappiness = 1
EOF
bad 1 "text after a section header" <<'EOF'
[Units] Mask=bluetooth.service
EOF
bad 7 "line numbers count comments, blank and indented lines" <<'EOF'
# header comment
; another comment style

  [Units]
	Mask = bluetooth.service   # an inline comment
[Modules]
Blacklist=floppy pc$speaker
EOF
# An error in a file of a lower directory is named by that file's path.
BAD_FILE=/usr/lib/dpuos-trim/policy.d/70-vendor.conf bad 3 "an error in a vendor directory" <<'EOF'
[Units]
Mask=bluetooth.service
Keep=../sshd.service
EOF

# --check validates without changing anything.
run_trim --check
expect_eq "--check on the valid policy exits 0" 0 "$RC"
printf '[Units]\nStop=perhaps\n' >"$ROOT$BAD"
tree_state "$ROOT" >"$before"
run_trim --check
expect_eq "--check on a broken policy exits 2" 2 "$RC"
expect "--check names FILE:LINE:" grep -qF "$ROOT$BAD:2: " "$ERR"
expect_tree_unchanged "--check changes nothing" "$before"
# A broken --policy file is named as given.
run_trim --policy="$ROOT$BAD"
expect_eq "a broken --policy file exits 2" 2 "$RC"
expect "a broken --policy file is named as given" grep -qF "$ROOT$BAD:2: " "$ERR"
run_trim --dry-run
expect_eq "--dry-run with a broken policy exits 2" 2 "$RC"
expect_tree_unchanged "--dry-run with a broken policy changes nothing" "$before"

finish
