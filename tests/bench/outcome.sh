#!/usr/bin/env bash
# The outcome benchmark: what the shipped DPU policy (its Debian variant, conf/debian/)
# changes on a real machine, measured on two boots of the same Debian 12 VM image.
#
#   bash tests/bench/outcome.sh [--image=minbase|generic] [--keep]   (as root, from a clean clone)
#
# It installs what the build and the rigs need (tests/setup.sh), builds dpuos-trim, builds
# (once; cached under BUILD_DIR/rig/) the rig's Debian root, installs the agent there with
# the Debian policy in /etc/dpuos-trim/policy.d/, makes one ext4 image of it and copies it:
#   without  booted twice with dpuos_trim=0: the generator and the first-boot service do
#            nothing, so this is the machine as installed;
#   with     booted twice normally: dpuos-trim.service trims it at the first boot, the
#            second boot skips it by its stamp; then its initramfs is rebuilt
#            (update-initramfs -u, so that the blacklist reaches the modules the
#            initramfs loads) and it boots a third time.
# Both are measured at the end of their second boot (the steady state: once the running
# services have been the same for 15 s), by /rig/test.sh, which the rig's rig-test.service
# runs once the boot has finished (tests/rig/lib.sh).
# Then "without" boots a third time and does the agent's first-boot work with the
# distribution's tools (systemctl mask, modprobe -r, sysctl -p, rm -rf), timed at the same
# point of its boot, for the agent's time by kind beside theirs.
# It prints the before/after table, what still runs and loads after the trim, the agent's
# own run time by kind from its report, and the acceptance checks (ok/not ok); it exits
# non-zero if any check fails, among them: the policy frees the share of the disk used on /
# that is its goal, nothing failed, the machine reaches multi-user.target and root is
# logged in on the serial console.
#
# --image picks the root (RIG_IMAGE in tests/rig/lib.sh): "minbase" (the default), the
# minimal root with the cloud kernel; or "generic", the generic server install of
# tests/rig/generic.packages with the generic kernel, booted with the devices a server
# board shows the kernel (rig_generic_hardware), where the goals are those of a DPU vendor
# starting from a full install: running services -60 %, loaded modules -40 %, disk used
# -60 % with files and packages together.
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
        --image=minbase | --image=generic) export RIG_IMAGE=${arg#--image=} ;;
        -h | --help)
                sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "outcome: unknown argument '$arg' (--image=minbase|generic, --keep)" >&2
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
# The steady state: D-Bus-activated helpers (systemd-hostnamed, NetworkManager-dispatcher)
# run for a while after the boot and exit when idle. Wait until the running services have
# been the same for 15 s (at most 120 s).
last="" same=0
for _ in $(seq 120); do
        now=$(systemctl list-units --type=service --state=running --no-legend --no-pager --plain | awk '{print $1}' | sort | tr '\n' ' ')
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0 last=$now; fi
        [ "$same" -lt 15 ] || break
        sleep 1
done
echo "settled-after-s: $SECONDS"
# Memory first, before the commands below fill the page cache.
echo "mem-available-kb: $(awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo)"
echo "slab-kb: $(awk '$1 == "Slab:" {print $2}' /proc/meminfo)"
echo "percpu-kb: $(awk '$1 == "Percpu:" {print $2}' /proc/meminfo)"
echo "modules-kb: $(awk '{ s += $2 } END { printf "%d", s / 1024 }' /proc/modules)"
echo "cmdline: $(cat /proc/cmdline)"
read -r used iused < <(df -k --output=used,iused / | tail -n1)
echo "disk-used-kb: $used"
echo "inodes-used: $iused"
echo "packages-installed: $(dpkg-query -W -f '${db:Status-Abbrev}\n' | grep -c '^ii')"
echo "enabled-units: $(systemctl list-unit-files --state=enabled --no-legend --no-pager | wc -l)"
echo "running-units: $(systemctl list-units --state=running --no-legend --no-pager --plain | wc -l)"
services=$(systemctl list-units --type=service --state=running --no-legend --no-pager --plain | awk '{print $1}' | sort)
echo "running-services: $(grep -c . <<<"$services")"
# Not the rig's own: this script's service and the session of root's login on the console.
echo "dpu-services: $(grep -c -v -x -e rig-test.service -e user@0.service <<<"$services")"
echo "loaded-modules: $(wc -l </proc/modules)"
# Userspace processes: everything but kthreadd (pid 2) and the kernel threads it forks.
echo "processes: $(ps -e -o pid=,ppid= | awk '$1 != 2 && $2 != 2' | wc -l)"
echo "service-list: $(tr '\n' ' ' <<<"$services")"
echo "module-list: $(awk '{print $1}' /proc/modules | sort | tr '\n' ' ')"
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
# What rig-tools.service wrote, on the boot that has it (outcome.sh, install_tools).
cat /rig/tools.result 2>/dev/null
journalctl -b -u systemd-udevd.service -p err -o cat | head -n 5 | sed 's/^/udev-error: /'
EOF
        chmod 755 "$1"
}

# The agent's first-boot work as inputs for the distribution's tools, in DIR: the units it
# masked, the modules it unloaded, its modprobe.d and sysctl.d files, and the topmost paths
# it removed (those of the untrimmed image under /usr that the trimmed one lacks: nothing
# else removes files there).
tools_inputs() { # REPORT WITHOUT-IMAGE WITH-IMAGE DIR
        local report=$1 a=$2 b=$3 dir=$4 ma mb
        mkdir -p "$dir"
        jq -r '.actions[] | select(.kind == "units" and .action == "mask" and .outcome == "done") | .target' "$report" >"$dir/units"
        jq -r '.actions[] | select(.kind == "modules" and .action == "unload" and .outcome == "done") | .target' "$report" >"$dir/modules"
        jq -r '.actions[] | select(.kind == "sysctl" and .action == "set" and .outcome == "done") | "\(.target) = \(.value)"' "$report" >"$dir/sysctl"
        vm_read "$b" /etc/modprobe.d/dpuos-trim.conf >"$dir/blacklist"
        ma=$(mktemp -d) mb=$(mktemp -d)
        mount -o loop,ro "$a" "$ma" && mount -o loop,ro "$b" "$mb"
        LC_ALL=C comm -23 <(cd "$ma" && find usr | LC_ALL=C sort) <(cd "$mb" && find usr | LC_ALL=C sort) |
                awk '{ n = split($0, p, "/"); pre = p[1]; top = 1
                       for (i = 2; i <= n && top; i++) { if (pre in gone) top = 0; pre = pre "/" p[i] }
                       if (top) { gone[$0] = 1; print "/" $0 } }' >"$dir/removals"
        umount "$ma" "$mb"
        rmdir "$ma" "$mb"
        say "tools: $(wc -l <"$dir/units") units, $(wc -l <"$dir/modules") modules, $(wc -l <"$dir/sysctl") keys, $(wc -l <"$dir/removals") paths to remove"
}

# The distribution's tools doing that work, each timed in seconds: one `systemctl mask` of
# the units (it reloads the manager), `modprobe -r` of each module and the modprobe.d file
# copied, the sysctl.d file copied and `sysctl -p`, `rm -rf` of the paths and `sync -f`.
# They run as rig-tools.service, ordered like dpuos-trim.service (after the local file
# systems, before sysinit.target), and the measuring script prints what they wrote.
install_tools() { # IMAGE DIR
        local image=$1 dir=$2 mnt f
        mnt=$(mktemp -d)
        mount -o loop "$image" "$mnt"
        for f in units modules sysctl blacklist removals; do cp "$dir/$f" "$mnt/rig/tools.$f"; done
        write_tools_script "$mnt/rig/tools.sh"
        cat >"$mnt/etc/systemd/system/rig-tools.service" <<'EOF'
[Unit]
Description=The agent's first-boot work done by the distribution's tools (outcome benchmark)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service systemd-udev-trigger.service
Before=sysinit.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash -c '/rig/tools.sh >/rig/tools.result 2>&1'
EOF
        mkdir -p "$mnt/etc/systemd/system/sysinit.target.d"
        printf '[Unit]\nWants=rig-tools.service\n' >"$mnt/etc/systemd/system/sysinit.target.d/rig-tools.conf"
        umount "$mnt"
        rmdir "$mnt"
}

write_tools_script() { # PATH
        cat >"$1" <<'EOF'
#!/bin/bash
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
t=$(now); mapfile -t units </rig/tools.units
[ "${#units[@]}" -eq 0 ] || systemctl mask "${units[@]}" >/dev/null 2>&1; echo "tools-units-rc: $?"
echo "tools-units-s: $(took "$t")"
# In passes, as the agent does: in the report's order a module may still be held by one
# later in the list (an HDA codec driver by the controller's). Done when none is loaded.
t=$(now) rc=0
mapfile -t all </rig/tools.modules
mods=("${all[@]}")
while [ "${#mods[@]}" -gt 0 ]; do
        left=()
        for m in "${mods[@]}"; do
                [ -e "/sys/module/$m/initstate" ] || continue
                modprobe -r "$m" 2>/dev/null || left+=("$m")
        done
        [ "${#left[@]}" -lt "${#mods[@]}" ] || break
        mods=("${left[@]}")
done
for m in "${all[@]}"; do [ ! -e "/sys/module/$m/initstate" ] || { echo "tools: $m is still loaded"; rc=1; }; done
cp /rig/tools.blacklist /etc/modprobe.d/dpuos-trim.conf || rc=$?
echo "tools-modules-rc: $rc"
echo "tools-modules-s: $(took "$t")"
t=$(now)
cp /rig/tools.sysctl /etc/sysctl.d/90-dpuos-trim.conf && sysctl -q -p /etc/sysctl.d/90-dpuos-trim.conf; echo "tools-sysctl-rc: $?"
echo "tools-sysctl-s: $(took "$t")"
t=$(now)
xargs -d '\n' -a /rig/tools.removals rm -rf -- && sync -f /; echo "tools-files-rc: $?"
echo "tools-files-s: $(took "$t")"
EOF
        chmod 755 "$1"
}

rig_test_begin outcome
echo "image: ${RIG_IMAGE:-minbase}"
goal_disk=30
if [ "${RIG_IMAGE:-minbase}" = generic ]; then
        goal_disk=60
        rig_generic_hardware "$work"
fi
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
# The first boot's report: later boots skip the agent by its stamp (checked below).
report=$(vm_read "$work/with.img" /var/lib/dpuos-trim/report.json)
printf '%s\n' "$report" >"$work/report.json"
boot with 2
# Modules that the initramfs loads come back at every boot until it is rebuilt with the
# blacklist in it: the third boot of "with" starts from an initramfs that the trimmed
# system rebuilt (update-initramfs -u), as rig-vm-generic's third boot does.
if read -r _ _ _ initramfs_s < <(vm_rebuild_initramfs "$work/with.img" "$work/initramfs.log"); then
        echo "with: update-initramfs -u took $initramfs_s s"
        boot with 3
else
        say "update-initramfs -u failed on the trimmed image: $work/initramfs.log"
fi

# The same work with the distribution's own tools, on the untrimmed machine at the same
# point of its boot: a third boot of "without" runs them from a unit ordered as
# dpuos-trim.service is, on what the agent did at its first boot (report.json) and what it
# removed (the trees of the two images compared).
tools_inputs "$work/report.json" "$work/without.img" "$work/with.img" "$work/tools"
install_tools "$work/without.img" "$work/tools"
boot without 3 dpuos_trim=0

# ---------------------------------------------------------------------------------------
# The table: the second boot of each.

v() { printf '%s' "${m[$1-${3:-2}.$2]:-}"; }  # NAME KEY [BOOT]
num() { [[ ${1:-} =~ ^-?[0-9]+$ ]]; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }
row() { # LABEL WITHOUT WITH DIFF REBUILT DIFF
        printf '%-40s %10s %10s %10s %10s %10s\n' "$1" "$2" "$3" "${4:-}" "${5:-}" "${6:-}"
}
diff_row() { # LABEL KEY [FORMAT]: integers, optionally shown through FORMAT (mb|secs)
        local a b c fmt=${3:-cat_} out=()
        a=$(v without "$2") b=$(v with "$2") c=$(v with "$2" 3)
        num "$a" || a=""
        for x in "$b" "$c"; do
                if num "$a" && num "$x"; then
                        out+=("$($fmt "$x")" "$($fmt $((x - a)))")
                else
                        out+=("?" "")
                fi
        done
        row "$1" "${a:+$($fmt "$a")}" "${out[@]}"
}
cat_() { printf '%s' "$1"; }

section "outcome: the second boot of each image (and the third of 'with', from the rebuilt initramfs)"
row "" "without" "with" "change" "rebuilt" "change"
diff_row "disk used on / (MB, df)" disk-used-kb mb
diff_row "inodes used on /" inodes-used
diff_row "packages installed (dpkg)" packages-installed
diff_row "enabled unit files" enabled-units
diff_row "running units" running-units
diff_row "running services" running-services
diff_row "  not the rig's own (*)" dpu-services
diff_row "running processes" processes
diff_row "loaded modules (/proc/modules)" loaded-modules
diff_row "memory of the loaded modules (MB)" modules-kb mb
diff_row "MemAvailable (MB)" mem-available-kb mb
diff_row "Slab (MB)" slab-kb mb
diff_row "Percpu (MB)" percpu-kb mb
diff_row "userspace boot time (s)" userspace-us secs
used_without=$(v without disk-used-kb) used_with=$(v with disk-used-kb)
freed_pct=0
if num "$used_without" && num "$used_with" && [ "$used_without" -gt 0 ]; then
        freed_pct=$(awk -v a="$used_without" -v b="$used_with" 'BEGIN { printf "%.1f", (a - b) * 100 / a }')
fi
row "disk freed on / (% of used)" "" "" "$freed_pct %"
pct() { # KEY [BOOT]: the change of KEY from without to with, in per cent of without
        awk -v a="$(v without "$1")" -v b="$(v with "$1" "${2:-2}")" 'BEGIN { if (a + 0 > 0 && b != "") printf "%.1f", (b - a) * 100 / a; else print "?" }'
}
services_pct=$(pct dpu-services) modules_pct=$(pct loaded-modules)
services3_pct=$(pct dpu-services 3) modules3_pct=$(pct loaded-modules 3)
row "running services (*) (change in %)" "" "" "$services_pct %" "" "$services3_pct %"
row "loaded modules (change in %)" "" "" "$modules_pct %" "" "$modules3_pct %"
echo "(*) not counting rig-test.service, which measures, and user@0.service, root's session"
echo "    on the console that the rig logs in to check the login"
echo
# What is left, and what went: the names behind the counts.
words() { tr ' ' '\n' <<<"$1" | sed '/^$/d'; }
setdiff() { # BEFORE AFTER (space-separated, sorted): "still" in both, "gone", "new"
        comm -12 <(words "$1") <(words "$2") | paste -sd' ' | sed 's/^/  still: /'
        comm -23 <(words "$1") <(words "$2") | paste -sd' ' | sed 's/^/  gone:  /'
        comm -13 <(words "$1") <(words "$2") | paste -sd' ' | sed 's/^/  new:   /'
}
echo "running services:"
setdiff "$(v without service-list)" "$(v with service-list)"
echo "loaded modules:"
setdiff "$(v without module-list)" "$(v with module-list)"
if [ -n "$(v with module-list 3)" ]; then
        echo "loaded modules at the third boot of 'with' (the rebuilt initramfs), beside its second:"
        setdiff "$(v with module-list)" "$(v with module-list 3)" | grep -v '^  still:' || true
fi
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

section "the agent's first-boot run by kind, beside the same work done by the distribution's tools"
printf '%-8s %10s   %-58s %10s\n' kind agent "the distribution's tools (untrimmed, same point of the boot)" seconds
agent_s() { jq -r --arg k "$1" '.kinds[$k].seconds // 0' <<<"$report"; }
tools_row() { # KIND AGENT-SECONDS TOOLS-LABEL
        printf '%-8s %10s   %-58s %10s\n' "$1" "$2" "$3" "$(v without "tools-$1-s" 3)"
}
tools_row units "$(agent_s units)" "systemctl mask of the $(grep -c . "$work/tools/units") units"
tools_row modules "$(agent_s modules)" "modprobe -r of $(grep -c . "$work/tools/modules"), the modprobe.d file copied"
tools_row sysctl "$(awk -v a="$(agent_s sysctl)" -v b="$(agent_s sysfs)" 'BEGIN { print a + b }')" \
        "sysctl -p of $(grep -c . "$work/tools/sysctl") keys (the agent: sysctl and sysfs)"
tools_row files "$(agent_s files)" "rm -rf of $(grep -c . "$work/tools/removals") paths, sync -f"
for k in units modules sysctl files; do
        a=$(agent_s "$k")
        [ "$k" = sysctl ] && a=$(awk -v a="$a" -v b="$(agent_s sysfs)" 'BEGIN { print a + b }')
        b=$(v without "tools-$k-s" 3)
        awk -v a="$a" -v b="$b" -v k="$k" 'BEGIN { if (b == "") print "goal: " k ": not measured"
                else printf "goal: %s: the agent takes no longer than the tools (%.3f <= %.3f s): %s\n", k, a, b, (a <= b ? "met" : "missed") }'
done

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
check "with: the policy frees at least $goal_disk % of the disk used on / ($freed_pct %)" \
        awk -v p="$freed_pct" -v g="$goal_disk" 'BEGIN { exit !(p >= g) }'
if [ "${RIG_IMAGE:-minbase}" = generic ]; then
        check "with: running services fall by 60 % or more ($services_pct %)" awk -v p="$services_pct" 'BEGIN { exit !(p <= -60) }'
        check "with: loaded modules fall by 40 % or more ($modules_pct %)" awk -v p="$modules_pct" 'BEGIN { exit !(p <= -40) }'
fi
for k in units modules sysctl files; do
        check "tools: $k: the distribution's tools did the agent's work (exit $(v without "tools-$k-rc" 3))" \
                [ "$(v without "tools-$k-rc" 3)" = 0 ]
done
check "with, third boot (rebuilt initramfs): it came up with no failed unit ($(v with failed-units 3))" \
        [ "$(v with multi-user 3) $(v with failed-units 3)" = "active 0" ]
if [ "${RIG_IMAGE:-minbase}" = generic ]; then
        check "with, third boot (rebuilt initramfs): loaded modules fall by 40 % or more ($modules3_pct %)" \
                awk -v p="$modules3_pct" 'BEGIN { exit !(p <= -40) }'
fi

echo
echo "wall time: $((SECONDS - t_start)) s"
rig_test_end
