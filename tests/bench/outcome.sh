#!/usr/bin/env bash
# The outcome benchmark: what the shipped DPU policy (its Debian variant, conf/debian/)
# changes on a real machine, measured on two boots of the same Debian 12 VM image.
#
#   bash tests/bench/outcome.sh [--keep]        (as root, from a clean clone)
#
# It installs what the build and the rigs need (tests/setup.sh), builds dpuos-trim, builds
# (once; cached under BUILD_DIR/rig/) the rig's Debian root, installs the agent there with
# the Debian policy in /etc/dpuos-trim/policy.d/, makes one ext4 image of it and copies it:
#   without  booted twice with dpuos_trim=0: the generator and the first-boot service do
#            nothing, so this is the machine as installed;
#   with     booted twice normally: dpuos-trim.service trims it at the first boot, the
#            second boot skips it by its stamp.
# Both are measured at the end of their second boot (the steady state), by /rig/test.sh,
# which the rig's rig-test.service runs once the boot has finished (tests/rig/lib.sh).
# It prints the before/after table, the agent's own run time from its report, and the
# acceptance checks (ok/not ok); it exits non-zero if any check fails, among them: the
# policy frees at least 30 % of the disk used on /, nothing failed, the machine reaches
# multi-user.target and root is logged in on the serial console.
#
# The VMs run under qemu with TCG (no KVM needed), one after the other so that their boot
# times compare; a boot takes about a minute. BUILD_DIR picks the build directory (default
# build/), RIG_VM_TIMEOUT the time a boot may take (default 600 s), --keep (RIG_KEEP=1)
# leaves the images and serial logs in BUILD_DIR/rig/outcome.*.
set -euo pipefail
cd "$(dirname "$0")/../.."
t_start=$SECONDS

for arg in "$@"; do
        case $arg in
        --keep) export RIG_KEEP=1 ;;
        -h | --help)
                sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "outcome: unknown argument '$arg' (--keep)" >&2
                exit 2
                ;;
        esac
done

say() { echo "outcome: $*" >&2; }
section() { printf '\n==== %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
        say "run as root (it installs packages, builds a Debian root and boots VMs)"
        exit 1
fi

section "packages (tests/setup.sh)"
bash tests/setup.sh

section "build"
export BUILD_DIR=${BUILD_DIR:-build}
if [ -d "$BUILD_DIR/meson-private" ]; then
        meson setup --reconfigure "$BUILD_DIR" >&2
else
        meson setup "$BUILD_DIR" >&2
fi
meson compile -C "$BUILD_DIR" >&2
echo "built $BUILD_DIR/agent/dpuos-trim"

# A missing tool is a failure here, not a skip: this is run by hand to get numbers.
export RIG_NO_SKIP=1
# A first boot under TCG on a busy machine can take minutes.
export RIG_VM_TIMEOUT=${RIG_VM_TIMEOUT:-600}
# shellcheck source=tests/rig/lib.sh
source tests/rig/lib.sh
# shellcheck source=tests/rig/checks.sh
source tests/rig/checks.sh
BUILD_DIR=$(rig_abs "$BUILD_DIR")
rig_require_tools mmdebstrap qemu-system-x86_64 mkfs.ext4 debugfs jq

# ---------------------------------------------------------------------------------------
# The image: the rig's root with the agent and the Debian policy, as demo.sh installs them.

install_policy() { # ROOT: conf/debian/ over the installed (openEuler) policy
        local root=$1 dir=$1/etc/dpuos-trim/policy.d f
        mkdir -p "$dir"
        cp conf/debian/*.conf "$dir/"
        # An installed file without a Debian twin of the same name is disabled.
        for f in "$root"/usr/lib/dpuos-trim/policy.d/*.conf "$root"/usr/local/lib/dpuos-trim/policy.d/*.conf; do
                [ -e "$f" ] || continue
                [ -e "$dir/$(basename "$f")" ] || ln -s /dev/null "$dir/$(basename "$f")"
        done
        say "policy: conf/debian/ in /etc/dpuos-trim/policy.d/ ($(cd "$dir" && echo *.conf))"
}

# What a user would look at after a boot, as "key: value" lines. Runs as root in the VM
# once systemctl is-system-running --wait has returned.
write_measure_script() { # PATH
        cat >"$1" <<'EOF'
#!/bin/bash
# The serial console logs root in automatically; give that login up to 60 s to show in utmp.
# (The root has no pam_systemd, so logind keeps no sessions: utmp and the shell are the proof.)
for _ in $(seq 120); do
        who | grep -q '^root *ttyS0 ' && break
        sleep 0.5
done
# Memory first, before the commands below fill the page cache.
echo "mem-available-kb: $(awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo)"
echo "cmdline: $(cat /proc/cmdline)"
read -r used iused < <(df -k --output=used,iused / | tail -n1)
echo "disk-used-kb: $used"
echo "inodes-used: $iused"
echo "enabled-units: $(systemctl list-unit-files --state=enabled --no-legend --no-pager | wc -l)"
echo "running-units: $(systemctl list-units --state=running --no-legend --no-pager --plain | wc -l)"
echo "running-services: $(systemctl list-units --type=service --state=running --no-legend --no-pager --plain | wc -l)"
echo "loaded-modules: $(wc -l </proc/modules)"
echo "net-interfaces: $(ls /sys/class/net | sort | tr '\n' ' ')"
echo "userspace-us: $(($(systemctl show -P FinishTimestampMonotonic) - $(systemctl show -P UserspaceTimestampMonotonic)))"
echo "analyze: $(systemd-analyze time 2>&1 | head -n1)"
echo "system-state: $(systemctl is-system-running)"
echo "failed-units: $(systemctl --failed --no-legend --plain | wc -l)"
systemctl --failed --no-legend --plain | sed 's/^/failed: /'
echo "multi-user: $(systemctl is-active multi-user.target)"
echo "who-ttyS0: $(who | awk '$1 == "root" && $2 == "ttyS0"' | wc -l)"
echo "shell-ttyS0: $(ps -t ttyS0 -o user=,comm= | awk '$1 == "root" && $2 == "bash"' | wc -l)"
echo "stamp: $(test -e /etc/dpuos-trim/applied && echo yes || echo no)"
echo "report: $(test -e /var/lib/dpuos-trim/report.json && echo yes || echo no)"
echo "blacklist-file: $(test -e /etc/modprobe.d/dpuos-trim.conf && echo yes || echo no)"
echo "generator-masks: $(find /run/systemd/generator.early -maxdepth 1 -lname /dev/null 2>/dev/null | wc -l)"
echo "service: $(systemctl is-active dpuos-trim.service) condition=$(systemctl show -P ConditionResult dpuos-trim.service)"
echo "skip-logged: $(journalctl -b -u dpuos-trim.service -o cat | grep -c 'dpuos_trim=0 on the kernel command line')"
echo "udev-errors: $(journalctl -b -u systemd-udevd.service -p err -o cat | wc -l)"
journalctl -b -u systemd-udevd.service -p err -o cat | head -n 5 | sed 's/^/udev-error: /'
EOF
        chmod 755 "$1"
}

rig_test_begin outcome
rig_test_root --first-boot
install_policy "$root"
"$BUILD_DIR/agent/dpuos-trim" --root="$root" --check
write_measure_script "$root/rig/test.sh"

section "VM image"
vm_image "$root" "$work/without.img"
for ext in "" .vmlinuz .initrd; do
        cp --sparse=always "$work/without.img$ext" "$work/with.img$ext"
done
rm -rf "$root"

# ---------------------------------------------------------------------------------------
# The boots, one after the other. Each leaves its /rig/result in $work/NAME-N.result.

declare -A m   # m[NAME-N.key] = value

boot() { # NAME N [CMDLINE...]
        local name=$1 n=$2 secs out key value line
        shift 2
        say "boot $n of '$name'${*:+ ($*)}"
        # Other VMs on this machine slow this one down: note them next to the times.
        m[$name-$n.other-vms]=$(pgrep -c -f '^qemu-system' || true)
        secs=$(vm_boot "$work/$name.img" "$work/$name-$n.serial" "$@")
        out=$(vm_read "$work/$name.img" /rig/result)
        printf '%s\n' "$out" >"$work/$name-$n.result"
        m[$name-$n.boot-s]=$secs
        m[$name-$n.load]=$(cut -d' ' -f1 /proc/loadavg)
        while IFS= read -r line; do
                [[ $line =~ ^([a-zA-Z0-9-]+):\ ?(.*)$ ]] || continue
                key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
                [ -n "${m[$name-$n.$key]+set}" ] || m[$name-$n.$key]=$value
        done <<<"$out"
        echo "$name, boot $n: powered off after $secs s (host load ${m[$name-$n.load]}); $(grep -m1 '^RIG-BEGIN' <<<"$out" || echo 'no RIG-BEGIN line')"
}

section "boots (qemu, TCG; the measuring script runs after each boot)"
boot without 1 dpuos_trim=0
boot without 2 dpuos_trim=0
boot with 1
boot with 2
report=$(vm_read "$work/with.img" /var/lib/dpuos-trim/report.json)
printf '%s\n' "$report" >"$work/report.json"

# ---------------------------------------------------------------------------------------
# The table: the second boot of each.

v() { printf '%s' "${m[$1-2.$2]:-}"; }
num() { [[ ${1:-} =~ ^-?[0-9]+$ ]]; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }
row() { # LABEL WITHOUT WITH [DIFF]
        printf '%-40s %12s %12s %12s\n' "$1" "$2" "$3" "${4:-}"
}
diff_row() { # LABEL KEY [FORMAT]: integers, optionally shown through FORMAT (mb|secs)
        local a b fmt=${3:-}
        a=$(v without "$2") b=$(v with "$2")
        if ! num "$a" || ! num "$b"; then
                row "$1" "${a:-?}" "${b:-?}" "(not measured)"
                return
        fi
        if [ -n "$fmt" ]; then
                row "$1" "$($fmt "$a")" "$($fmt "$b")" "$($fmt $((b - a)))"
        else
                row "$1" "$a" "$b" "$((b - a))"
        fi
}

section "outcome: the second boot of each image"
row "" "without" "with" "change"
diff_row "disk used on / (MB, df)" disk-used-kb mb
diff_row "inodes used on /" inodes-used
diff_row "enabled unit files" enabled-units
diff_row "running units" running-units
diff_row "running services" running-services
diff_row "loaded modules (/proc/modules)" loaded-modules
diff_row "MemAvailable (MB)" mem-available-kb mb
diff_row "userspace boot time (s)" userspace-us secs
used_without=$(v without disk-used-kb) used_with=$(v with disk-used-kb)
freed_pct=0
if num "$used_without" && num "$used_with" && [ "$used_without" -gt 0 ]; then
        freed_pct=$(awk -v a="$used_without" -v b="$used_with" 'BEGIN { printf "%.1f", (a - b) * 100 / a }')
fi
row "disk freed on / (% of used)" "" "$freed_pct %" ""
echo
echo "systemd-analyze, second boot without: $(v without analyze)"
echo "systemd-analyze, second boot with:    $(v with analyze)"
echo "first boot with the agent: userspace $(num "${m[with-1.userspace-us]:-}" && secs "${m[with-1.userspace-us]}") s; $(printf '%s' "${m[with-1.analyze]:-}")"
echo "boot wall times (s): without ${m[without-1.boot-s]:-?} + ${m[without-2.boot-s]:-?}, with ${m[with-1.boot-s]:-?} + ${m[with-2.boot-s]:-?}"
others=$((${m[without-1.other-vms]:-0} + ${m[without-2.other-vms]:-0} + ${m[with-1.other-vms]:-0} + ${m[with-2.other-vms]:-0}))
if [ "$others" -gt 0 ]; then
        echo "note: other VMs ran on this machine when $others of the boots started: the times are not comparable"
fi
# One VM keeps about as many cores busy as it has (2); much more means other work competed.
busiest=$(printf '%s\n' "${m[without-1.load]:-0}" "${m[without-2.load]:-0}" "${m[with-1.load]:-0}" "${m[with-2.load]:-0}" | sort -g | tail -n1)
if awk -v l="$busiest" -v n="$(nproc)" 'BEGIN { exit !(l > 2 * n) }'; then
        echo "note: the host was busy (load up to $busiest on $(nproc) cores): the times and MemAvailable are not comparable"
fi

section "the agent's first-boot run (report.json)"
jq -r '"run time: \(.duration) s (" + ([.kinds | to_entries[] | "\(.key) \(.value.seconds) s"] | join(", ")) + ")"' <<<"$report"
jq -r '.totals | "freed: \(.bytes_freed) bytes (\(.bytes_freed / 1048576 * 10 | floor / 10) MiB), \(.files_removed) files, \(.dirs_removed) directories"' <<<"$report"
jq -r '.totals | "actions: \(.done) done, \(.unchanged) unchanged, \(.skipped) skipped, \(.protected) protected, \(.failed) failed"' <<<"$report"
echo "skipped, by reason:"
jq -r '.actions[] | select(.outcome == "skipped") | .reason' <<<"$report" | sort | uniq -c | sed 's/^/  /'

# ---------------------------------------------------------------------------------------
section "checks"
# The baseline really is the untouched machine.
check "without: dpuos_trim=0 left no stamp, no report and no blacklist" \
        [ "$(v without stamp) $(v without report) $(v without blacklist-file)" = "no no no" ]
check "without: the generator masked nothing ($(v without generator-masks) masks)" [ "$(v without generator-masks)" = 0 ]
check "without: the service logged that it skipped the boot" [ "${m[without-1.skip-logged]:-0}" -ge 1 ]
check "without: systemctl --failed is empty ($(v without failed-units))" [ "$(v without failed-units)" = 0 ]
# The trimmed machine.
check "with: the first boot ran the agent (service active, stamp written)" \
        [ "${m[with-1.service]:-} stamp=${m[with-1.stamp]:-}" = "active condition=yes stamp=yes" ]
check "with: the second boot skipped it by its stamp" [ "$(v with service)" = "inactive condition=no" ]
check "with: systemctl --failed is empty after the first boot (${m[with-1.failed-units]:-?})" [ "${m[with-1.failed-units]:-}" = 0 ]
check "with: systemctl --failed is empty after the second boot ($(v with failed-units))" [ "$(v with failed-units)" = 0 ]
check "with: multi-user.target is reached" [ "$(v with multi-user)" = active ]
check "with: the system state is 'running' ($(v with system-state))" [ "$(v with system-state)" = running ]
check "with: root is logged in on the serial console (who)" [ "$(v with who-ttyS0)" -ge 1 ]
check "with: root's login shell runs on the serial console" [ "$(v with shell-ttyS0)" -ge 1 ]
check "with: udev logged no errors ($(v with udev-errors))" [ "$(v with udev-errors)" = 0 ]
check "with: the network interfaces have the same names ($(v with net-interfaces))" \
        [ "$(v with net-interfaces)" = "$(v without net-interfaces)" ]
check "with: the report has no failed action" [ "$(jq .totals.failed <<<"$report")" = 0 ]
odd=$(jq -r '.actions[] | select(.outcome == "skipped") | .reason
        | select(test("^(not installed|not present|not loaded)|does not exist on this kernel") | not)' <<<"$report")
check "with: every skipped action is one for something not there${odd:+ (others: $(tr '\n' ';' <<<"$odd"))}" [ -z "$odd" ]
check "with: the policy frees at least 30 % of the disk used on / ($freed_pct %)" \
        awk -v p="$freed_pct" 'BEGIN { exit !(p >= 30) }'

echo
echo "wall time: $((SECONDS - t_start)) s"
rig_test_end
