#!/usr/bin/env bash
# rig-container-packages: [Packages] with dpkg, live, on a real Debian root booted with
# systemd as PID 1 in systemd-nspawn. A set of real packages is removed with what apt marks
# as no longer needed, in one dpkg transaction; dpkg --audit and apt-get check are clean
# afterwards and a second run changes nothing. An Essential package, and a package that a
# kept one depends on, are refused with the chain named and nothing removed; so are an
# unknown name, a glob matching nothing, and a database locked by a dpkg transaction that
# is running. With PreventReinstall=yes, apt-get install of a removed package (from a local
# repository that has it) refuses; a package forced back with dpkg -i is drift for
# --verify; --revert drops apt's pin and leaves the packages removed.
#   ct-packages.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson jq apt-get dpkg-deb dpkg-scanpackages

rig_test_begin ct-packages
name=$RIG_CT
rig_test_root   # the test drives the agent: no first-boot run

# A local repository in the root with the packages the test removes, fetched on this
# machine (same Debian release: the container has no network), so that apt could install
# them again but for the pin.
repo=$root/root/repo
mkdir -p "$repo"
(cd "$repo" && apt-get download -q man-db avahi-daemon >/dev/null 2>&1) ||
        (apt-get update -q >/dev/null && cd "$repo" && apt-get download -q man-db avahi-daemon >/dev/null) ||
        { echo "cannot download man-db and avahi-daemon from the Debian mirror" >&2; exit 1; }
(cd "$repo" && dpkg-scanpackages --multiversion . 2>/dev/null >Packages)
echo "deb [trusted=yes] file:/root/repo ./" >"$root/etc/apt/sources.list.d/rig-local.list"

# A package whose preinst waits on a FIFO: while it waits, its dpkg holds the database lock.
slow=$work/dt-slow
mkdir -p "$slow/DEBIAN"
printf 'Package: dt-slow\nVersion: 1.0\nArchitecture: all\nMaintainer: rig <rig@localhost>\nDescription: waits\n' \
        >"$slow/DEBIAN/control"
printf '#!/bin/sh\n[ -p /run/dt-slow.fifo ] && read line </run/dt-slow.fifo\nexit 0\n' >"$slow/DEBIAN/preinst"
chmod 755 "$slow/DEBIAN/preinst"
dpkg-deb --root-owner-group -b "$slow" "$root/root/dt-slow.deb" >/dev/null

ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null

trim() { ct_exec "$name" "$bin" "$@"; }
installed() { # NAME: is it installed?
        [ "$(ct_exec "$name" dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
n_installed() { ct_exec "$name" dpkg-query -W -f='${db:Status-Status}\n' | grep -cx installed; }
policy() { cat >"$root/root/pkg.conf"; }
run() { # NAME [ARGS...]: an application with the test's policy; output in $work/NAME.json, status echoed
        local out=$1 rc=0
        shift
        trim --policy=/root/pkg.conf --json "$@" >"$work/$out.json" 2>"$work/$out.err" || rc=$?
        sed "s/^/  $out: /" "$work/$out.err" >&2
        echo "$rc"
}
reason_has() { # NAME REGEX: some package action's reason matches
        jq -e --arg re "$2" '[.actions[] | select(.kind == "packages") | .reason // ""] | any(test($re))' \
                "$work/$1.json" >/dev/null
}
outcomes() { # NAME: "target:outcome" of the removals
        jq -r '[.actions[] | select(.kind == "packages" and .action == "remove") | .target + ":" + .outcome] | sort | join(" ")' \
                "$work/$1.json"
}

ct_exec "$name" apt-get update -q -o Dir::Etc::sourcelist=- -o Dir::Etc::sourceparts=- \
        -o Dir::Etc::sourcelist=sources.list.d/rig-local.list >/dev/null 2>&1 || true
for p in man-db avahi-daemon libavahi-core7; do
        check "before: $p is installed" installed "$p"
done
before=$(n_installed)

# --- Refusals, before anything is removed: the set goes as a whole or not at all.
refused() { # NAME DESCRIPTION REGEX
        local rc n
        rc=$(run "$1")
        n=$(n_installed)
        check "$2: exit 1 ($rc)" [ "$rc" = 1 ]
        check "$2: the reason names it" reason_has "$1" "$3"
        check "$2: nothing removed ($n installed, $before before)" same "$n" "$before"
}
policy <<'EOF'
[Packages]
Remove=man-db coreutils
EOF
refused essential "an Essential package" 'coreutils: never removed: essential'
policy <<'EOF'
[Packages]
Remove=man-db libavahi-core7
Keep=avahi-daemon
EOF
refused kept "a package a kept one depends on" 'avahi-daemon depends on libavahi-core7'
printf '[Packages]\nRemove=man-db man-dbb\n' | policy
refused unknown "an unknown name" 'man-dbb: no package of this name is installed'
printf '[Packages]\nRemove=man-db nothing-here*\n' | policy
refused glob "a glob matching nothing" 'no installed package matches'

printf '[Packages]\nRemove=man-db avahi-daemon\n' | policy
ct_exec "$name" mkfifo /run/dt-slow.fifo
ct_exec "$name" sh -c 'dpkg -i /root/dt-slow.deb >/run/dt-slow.log 2>&1 &'
for _ in $(seq 100); do
        ct_exec "$name" sh -c 'ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q dt-slow.fifo' && break
        sleep 0.2
done
refused locked "the database locked by a running dpkg" 'database is locked by process [0-9]+: another package transaction'
ct_exec "$name" sh -c 'echo go >/run/dt-slow.fifo'
for _ in $(seq 100); do installed dt-slow && break; sleep 0.2; done
check "the other transaction finished (dt-slow installed)" installed dt-slow
before=$(n_installed)

# --- The set, with what apt marks as no longer needed.
policy <<'EOF'
[Policy]
Name=ct-packages
[Packages]
Remove=man-db avahi-daemon dt-*
RemoveUnneeded=yes
PreventReinstall=yes
EOF
rc=$(run dry --dry-run)
check "dry run: exit 0 ($rc)" [ "$rc" = 0 ]
planned=$(jq -r '[.actions[] | select(.kind == "packages" and .action == "remove" and .state == "change") | .target] | sort | join(" ")' "$work/dry.json")
echo "planned: $planned"
check "dry run: the plan has the named packages and libavahi-core7 as unneeded" \
        bash -c "grep -qw man-db <<<'$planned' && grep -qw avahi-daemon <<<'$planned' && grep -qw dt-slow <<<'$planned' && grep -qw libavahi-core7 <<<'$planned'"
check "dry run: each with its version" jq -e \
        '[.actions[] | select(.kind == "packages" and .state == "change" and .action == "remove") | .package | test("^[^:]+:[a-z0-9]+=.")] | all' \
        "$work/dry.json"
check "dry run: and their installed sizes ($(jq .totals.package_bytes_freed "$work/dry.json") bytes)" \
        [ "$(jq .totals.package_bytes_freed "$work/dry.json")" -gt 1000000 ]
check "dry run: nothing removed" installed man-db

rc=$(run apply)
check "apply: exit 0 ($rc)" [ "$rc" = 0 ]
gone=1
for p in $planned; do installed "$p" && { gone=0; echo "still installed: $p"; }; done
check "apply: every planned package is gone from dpkg's database" [ "$gone" = 1 ]
check "apply: their files are gone" bash -c "[ ! -e '$root/usr/bin/man' ] && [ ! -e '$root/usr/sbin/avahi-daemon' ]"
check "apply: the report counts them and the bytes ($(jq .totals.packages_removed "$work/apply.json"))" \
        [ "$(jq .totals.packages_removed "$work/apply.json")" = "$(wc -w <<<"$planned")" ]
check "apply: the bytes are counted" [ "$(jq .totals.package_bytes_freed "$work/apply.json")" -gt 1000000 ]
audit=$(ct_exec "$name" dpkg --audit 2>&1 || true)
check "dpkg --audit is clean ('$audit')" [ -z "$audit" ]
check "apt-get check is clean" ct_exec "$name" apt-get check -q
check "the record lists what reinstalls each" grep -q '^man-db man-db:amd64=' "$root/var/lib/dpuos-trim/saved/removed-packages"

rc=$(run second)
check "second run: exit 0 ($rc)" [ "$rc" = 0 ]
check "second run: nothing to change" [ "$(jq '[.actions[] | select(.kind == "packages" and .state == "change")] | length' "$work/second.json")" = 0 ]

out=$(ct_exec "$name" apt-get install -s man-db 2>&1 || true)
echo "$out" | tail -n 2
check "PreventReinstall: apt-get install man-db refuses" grep -q "has no installation candidate" <<<"$out"
check "the pin names the removed packages" grep -Eq '^Package: .*\bman-db\b' "$root/etc/apt/preferences.d/dpuos-trim"

ct_exec "$name" sh -c 'rm /run/dt-slow.fifo && dpkg -i /root/dt-slow.deb >/dev/null 2>&1' || true
check "dt-slow forced back with dpkg -i" installed dt-slow
rc=0
trim --verify --policy=/root/pkg.conf >"$work/verify.out" 2>&1 || rc=$?
cat "$work/verify.out"
check "--verify: a package that came back is drift (exit 3, was $rc)" [ "$rc" = 3 ]
check "--verify names it" grep -Eq '^packages +dt-slow +present' "$work/verify.out"

rc=0
trim --revert >"$work/revert.out" 2>&1 || rc=$?
cat "$work/revert.out"
check "--revert: exit 0 ($rc)" [ "$rc" = 0 ]
check "--revert says removed packages are not reinstalled" grep -q "Removed packages are not reinstalled" "$work/revert.out"
check "--revert drops apt's pin" [ ! -e "$root/etc/apt/preferences.d/dpuos-trim" ]
if installed avahi-daemon; then not_ok "--revert brought avahi-daemon back"; else ok "--revert leaves avahi-daemon removed"; fi

rig_test_end
