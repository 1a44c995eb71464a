#!/usr/bin/env bash
# rig-agree: dpuos-trim agrees with the distribution's own tools on a real Debian root (the
# rig root: its unit files and aliases, the cloud kernel's module tree with its softdeps and
# aliases). Two copies of the root: dpuos-trim applies a policy offline to one, the
# reference tool does the same by hand to the other, and what the reference tools then read
# must be the same:
#   units    `systemctl --root mask` of the units the policy means (instances of installed
#            templates, the units aliases name) against Mask= with instances, globs and
#            aliases; `systemctl --root list-unit-files` of both copies must be identical;
#            a template mask that would defeat a kept instance is not made;
#   modules  `modprobe -n -v` (libkmod's own resolution, dry) on the copy: a blacklisted
#            module with softdeps (btrfs) runs the install command instead of loading, an
#            alias (fs-squashfs) names its module, and what a kept module needs
#            (nf_conntrack, against Blacklist=nf_*) still loads;
#   files    Remove= patterns plan the files bash's globstar lists;
#   sysctl   every TuneD profile Debian ships (from the tuned package, fetched from the
#            Debian mirror): its [sysctl] section is either persisted exactly (the same
#            keys and values, as systemd-sysctl reads them) or refused with FILE:LINE.
#   agree.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")
PATH=$PATH:/usr/sbin:/sbin

rig_require_root
rig_require_tools mmdebstrap systemctl modprobe jq apt-get dpkg-deb python3

rig_test_begin agree
bin=$BUILD_DIR/agent/dpuos-trim
tarball=$(rig_root "$BUILD_DIR")
mine=$work/mine
ref=$work/ref
rig_unpack "$tarball" "$mine"
rig_unpack "$tarball" "$ref"
kver=$(ls "$mine/usr/lib/modules" | head -n1)
policy_dir=$mine/etc/dpuos-trim/policy.d
mkdir -p "$policy_dir" "$mine/var/lib/dpuos-trim"

trim() { # ARGS...: dpuos-trim on the copy; output in $work/out, exit status in $rc
        rc=0
        "$bin" --root="$mine" "$@" >"$work/out" 2>"$work/err" || rc=$?
}
report() { jq -r "$1" "$mine/var/lib/dpuos-trim/report.json"; }

# ---- units -----------------------------------------------------------------------------
cat >"$policy_dir/50-units.conf" <<'EOF'
[Units]
# Instances of installed templates.
Mask=e2scrub@dev-vda.service systemd-backlight@backlight:acpi_video0.service
# Aliases "systemctl enable" made (Alias=): syslog.service names rsyslog.service, and
# dbus-org.freedesktop.Avahi.service avahi-daemon.service.
Mask=syslog.service dbus-org.freedesktop.Avahi*
EOF
trim
check "units: apply exits 0 (aliases are no failure)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/    /' "$work/err" "$work/out" | tail -n 20
# The reference: what systemctl masks for the same intent (systemctl refuses to mask over
# an alias link, so the units they name). avahi-daemon.socket triggers avahi-daemon.service,
# and dpuos-trim masks what would start a masked service.
systemctl --root="$ref" mask e2scrub@dev-vda.service systemd-backlight@backlight:acpi_video0.service \
        rsyslog.service avahi-daemon.service avahi-daemon.socket >"$work/systemctl.log" 2>&1 ||
        not_ok "units: systemctl --root mask (reference) failed: $(tail -n1 "$work/systemctl.log")"
for u in e2scrub@dev-vda.service systemd-backlight@backlight:acpi_video0.service syslog.service rsyslog.service \
         dbus-org.freedesktop.Avahi.service avahi-daemon.service avahi-daemon.socket e2scrub@dev-vdb.service; do
        a=$(systemctl --root="$mine" is-enabled "$u" 2>&1 || true)
        b=$(systemctl --root="$ref" is-enabled "$u" 2>&1 || true)
        check "units: systemctl is-enabled $u agrees ($a / $b)" same "$a" "$b"
done
systemctl --root="$mine" list-unit-files --no-pager >"$work/luf.mine" 2>&1 || true
systemctl --root="$ref" list-unit-files --no-pager >"$work/luf.ref" 2>&1 || true
if diff -u "$work/luf.ref" "$work/luf.mine" >"$work/luf.diff"; then
        ok "units: systemctl --root list-unit-files is the same on both copies ($(wc -l <"$work/luf.ref") lines)"
else
        not_ok "units: systemctl --root list-unit-files is the same on both copies"
        head -n 20 "$work/luf.diff" | sed 's/^/    /'
fi
check "units: the alias syslog.service is reported covered by rsyslog.service" \
        same "$(report '.actions[] | select(.kind == "units" and .target == "syslog.service") | .reason')" \
        "an alias of rsyslog.service, masked with it"

# A template's mask masks every instance: with an instance kept, Keep= wins, and says so.
cat >"$policy_dir/50-units.conf" <<'EOF'
[Units]
Mask=e2scrub@.service
Keep=e2scrub@dev-vda.service
EOF
trim
check "units: a template mask against a kept instance: apply exits 0" test "$rc" = 0
check "units: e2scrub@dev-vda.service (kept) is not masked" \
        differs "$(systemctl --root="$mine" is-enabled e2scrub@dev-vda.service 2>&1 || true)" masked
check "units: the template's mask is skipped, naming the kept instance" \
        grep -q 'e2scrub@dev-vda.service too, which Keep= keeps' <<<"$(report '.actions[] | select(.target == "e2scrub@.service") | .reason')"

# ---- modules ---------------------------------------------------------------------------
rm -f "$policy_dir/50-units.conf"
cat >"$policy_dir/50-modules.conf" <<'EOF'
[Modules]
Blacklist=btrfs fs-squashfs nf_*
Keep=nf_conntrack
EOF
trim
check "modules: apply exits 0" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/    /' "$work/err" | tail -n 20
mp() { modprobe -n -v -d "$mine" -S "$kver" -C "$mine/etc/modprobe.d" "$@" 2>&1 || true; }
check "modules: btrfs has softdeps in this kernel (the case is real)" \
        grep -q '^softdep btrfs ' "$mine/usr/lib/modules/$kver/modules.softdep"
out=$(mp btrfs)
check "modules: modprobe btrfs runs the install command" grep -q '^install /bin/false' <<<"$out"
check "modules: modprobe btrfs does not load btrfs.ko" test -z "$(grep '/btrfs\.ko' <<<"$out")"
check "modules: Blacklist=fs-squashfs blacklists the module it names" \
        same "$(report '.actions[] | select(.kind == "modules" and .target == "squashfs") | .state')" change
out=$(mp squashfs)
check "modules: modprobe squashfs runs the install command" grep -q '^install /bin/false' <<<"$out"
out=$(mp fs-squashfs)
check "modules: modprobe fs-squashfs does not load squashfs.ko" test -z "$(grep '/squashfs\.ko' <<<"$out")"
out=$(mp nf_conntrack)
check "modules: modprobe nf_conntrack (kept) loads it" grep -q '/nf_conntrack\.ko' <<<"$out"
check "modules: modprobe nf_conntrack (kept) loads what it needs (nf_defrag_ipv4)" grep -q '/nf_defrag_ipv4\.ko' <<<"$out"
check "modules: nothing nf_conntrack needs is blocked" test -z "$(grep '^install /bin/false' <<<"$out")"
check "modules: nf_defrag_ipv4 is skipped as needed by the kept module" \
        same "$(report '.actions[] | select(.kind == "modules" and .target == "nf_defrag_ipv4") | .reason')" \
        "needed by nf_conntrack, which Keep= keeps"
out=$(mp nf_nat)
check "modules: modprobe nf_nat (blacklisted, not needed) runs the install command" grep -q '^install /bin/false' <<<"$out"

# ---- file globs against bash's globstar --------------------------------------------------
# What a Remove= pattern plans is what bash (globstar, dotglob: '**' spans directories, '*'
# matches leading dots as fnmatch does) lists, counted as the files it would remove, but
# for paths through a symlinked directory: bash follows those, and a removal never does.
rm -f "$policy_dir/50-modules.conf"
for pattern in '/usr/share/doc/**/copyright' '/usr/share/locale/*/LC_MESSAGES/*.mo' '/usr/share/man/**/*.gz' \
               '/usr/share/doc/*/changelog*'; do
        printf '[Files]\nRemove=%s\n' "$pattern" >"$policy_dir/50-files.conf"
        trim --dry-run --json
        planned=$(jq -r --arg p "$pattern" '.actions[] | select(.kind == "files" and .target == $p) | .files' "$work/out")
        # shellcheck disable=SC2016
        listed=$(cd "$mine" && bash -O globstar -O dotglob -O nullglob -c \
                'n=0; for f in .'"$pattern"'; do
                        [ -d "$f" ] && [ ! -L "$f" ] && continue
                        d=${f%/*}
                        [ "$(cd "$d" && pwd -P)" = "$(cd "$d" && pwd -L)" ] && n=$((n + 1))
                done; echo $n')
        check "files: $pattern plans what bash's globstar lists ($planned / $listed)" \
                test -n "$planned" -a "$planned" = "$listed" -a "$listed" -gt 0
done
rm -f "$policy_dir/50-files.conf"

# ---- sysctl: every TuneD profile -------------------------------------------------------
(cd "$work" && apt-get download -q tuned >/dev/null 2>&1) ||
        (apt-get update -q >/dev/null && cd "$work" && apt-get download -q tuned >/dev/null) ||
        { not_ok "sysctl: cannot download the tuned package from the Debian mirror"; rig_test_end; exit 1; }
dpkg-deb -x "$work"/tuned_*.deb "$work/tuned"
n_profiles=0 n_same=0 n_refused=0
for conf in "$work"/tuned/usr/lib/tuned/*/tuned.conf; do
        profile=$(basename "$(dirname "$conf")")
        # The [sysctl] section, as TuneD reads it (key = value, comments dropped).
        python3 - "$conf" >"$work/profile.sysctl" <<'EOF'
import sys
section = None
for line in open(sys.argv[1], encoding="utf-8"):
    s = line.strip()
    if not s or s[0] in "#;":
        continue
    if s.startswith("[") and s.endswith("]"):
        section = s[1:-1]
        continue
    if section == "sysctl" and "=" in s:
        k, v = s.split("=", 1)
        print(f"{k.strip()} = {v.strip()}")
EOF
        # ...and the values TuneD writes to the kernel: its configuration reader takes off
        # the quotes around a value.
        python3 - "$work/profile.sysctl" >"$work/profile.effective" <<'EOF'
import sys
for line in open(sys.argv[1], encoding="utf-8"):
    k, v = line.rstrip("\n").split(" = ", 1)
    if len(v) >= 2 and v[0] in "\"'" and v[-1] == v[0]:
        v = v[1:-1]
    print(f"{k} = {v}")
EOF
        [ -s "$work/profile.sysctl" ] || continue
        n_profiles=$((n_profiles + 1))
        { echo "[Sysctl]"; cat "$work/profile.sysctl"; } >"$policy_dir/50-$profile.conf"
        trim --check
        if [ "$rc" = 2 ]; then
                if grep -q "50-$profile.conf:[0-9]*: " "$work/err"; then
                        n_refused=$((n_refused + 1))
                        echo "# TuneD profile $profile refused: $(grep -o "50-$profile.conf:[0-9]*: .*" "$work/err" | head -n1 | cut -c1-150)"
                else
                        not_ok "sysctl: TuneD profile $profile is refused without FILE:LINE: $(head -n1 "$work/err")"
                fi
        elif [ "$rc" = 0 ]; then
                rm -f "$mine/etc/sysctl.d/90-dpuos-trim.conf"
                trim --only=sysctl
                # What systemd-sysctl reads from the persisted file: key = value, the
                # optional '-' kept apart.
                got=$(grep -v '^#' "$mine/etc/sysctl.d/90-dpuos-trim.conf" 2>/dev/null | sed 's/ *= */ = /' | sort)
                want=$(sed 's/ *= */ = /' "$work/profile.effective" | sort)
                if [ "$rc" = 0 ] && same "$want" "$got"; then
                        n_same=$((n_same + 1))
                else
                        not_ok "sysctl: TuneD profile $profile round-trips (exit $rc)"
                        diff <(echo "$want") <(echo "$got") | head -n 10 | sed 's/^/    /'
                fi
        else
                not_ok "sysctl: TuneD profile $profile: --check exits $rc"
        fi
        rm -f "$policy_dir/50-$profile.conf"
done
check "sysctl: the tuned package ships profiles with [sysctl] ($n_profiles)" test "$n_profiles" -gt 10
check "sysctl: each of the $n_profiles profiles round-trips ($n_same) or is refused with FILE:LINE ($n_refused)" \
        test "$((n_same + n_refused))" = "$n_profiles"

rig_test_end
