#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian 12 machine (as root):
#
#   bash tests/demo.sh [--mode=offline|container] [--keep]
#
# installs the build and rig packages (tests/setup.sh), builds dpuos-trim, builds (once;
# cached under build/rig/) a Debian 12 root with services, modules, docs, man pages and
# locales, copies it to a throwaway directory, installs the agent there with the shipped
# Debian policy, measures the tree, trims it, prints the agent's summary and report.json
# and a before/after table.
#
# Modes (how the agent runs; the measuring is the same):
#   container  (the default) boot the tree with systemd-nspawn, so the installed
#              first-boot service (dpuos-trim.service) runs the agent with systemd as
#              PID 1; an earlier boot with the agent's stamp in place counts the running
#              services without it
#   offline    build/agent/dpuos-trim --root=DIR on the tree (what image builders do)
# (A VM mode needs the measuring to read the image back; see tests/rig/lib.sh vm_*.)
#
# --keep leaves the trimmed tree (its path is printed); BUILD_DIR picks the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=container
keep=0
for arg in "$@"; do
        case $arg in
        --mode=offline | --mode=container) mode=${arg#--mode=} ;;
        --keep) keep=1 ;;
        -h | --help)
                sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "demo: unknown argument '$arg' (--mode=offline|container, --keep)" >&2
                exit 2
                ;;
        esac
done

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (it installs packages, builds a Debian root and boots containers)" >&2
        exit 1
fi

section() { printf '\n==== %s\n' "$*"; }

section "packages (tests/setup.sh)"
bash tests/setup.sh

section "build"
export BUILD_DIR=${BUILD_DIR:-build}
if [ -d "$BUILD_DIR/meson-private" ]; then
        meson setup --reconfigure "$BUILD_DIR" >/dev/null
else
        meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"

# shellcheck source=tests/rig/lib.sh
source tests/rig/lib.sh
BUILD_DIR=$(rig_abs "$BUILD_DIR")
agent=$BUILD_DIR/agent/dpuos-trim

section "Debian root (built once, then cached in $BUILD_DIR/rig/)"
t0=$SECONDS
tarball=$(rig_root "$BUILD_DIR")
echo "root tarball: $tarball ($((SECONDS - t0)) s)"
work=$(mktemp -d "$BUILD_DIR/rig/demo.XXXXXX")
root=$work/root
ct_name=demo-$$
# shellcheck disable=SC2317 # called by the trap
cleanup() {
        if ct_running "$ct_name" 2>/dev/null; then ct_kill "$ct_name"; fi
        if [ "$keep" = 1 ]; then echo "demo: kept the trimmed tree at $root"; else rm -rf "$work"; fi
}
trap cleanup EXIT
rig_unpack "$tarball" "$root"

section "agent and policy"
rig_install_agent "$root" "$BUILD_DIR"
policy_dir=$root/etc/dpuos-trim/policy.d
mkdir -p "$policy_dir"
if compgen -G 'conf/debian/*.conf' >/dev/null; then
        # The Debian variant of the shipped policy, as an administrator would place it: same
        # basenames replace the installed (openEuler) files; the installed files it lacks are
        # disabled with a link to /dev/null.
        cp conf/debian/*.conf "$policy_dir/"
        for f in "$root"/usr/lib/dpuos-trim/policy.d/*.conf "$root"/usr/local/lib/dpuos-trim/policy.d/*.conf; do
                [ -e "$f" ] || continue
                [ -e "$policy_dir/$(basename "$f")" ] || ln -s /dev/null "$policy_dir/$(basename "$f")"
        done
        echo "policy: conf/debian/ copied to /etc/dpuos-trim/policy.d/"
else
        cat >"$policy_dir/50-demo.conf" <<'EOF'
# Inline demo policy (conf/debian/ is not there yet).
[Policy]
Name=demo

[Units]
Mask=avahi-daemon.service avahi-daemon.socket man-db.timer e2scrub_all.timer e2scrub_reap.service

[Modules]
Blacklist=floppy pcspkr snd snd_*

[Sysctl]
vm.swappiness = 10
kernel.dmesg_restrict = 1

[Files]
Remove=/usr/share/doc/** /usr/share/man/** /usr/share/locale/** /usr/share/info/**
Keep=/usr/share/doc/*/copyright /usr/share/locale/locale.alias
EOF
        echo "policy: conf/debian/ not found; using an inline demo policy"
fi
ls -l "$policy_dir"
"$agent" --root="$root" --check

# ---------------------------------------------------------------------------------------
declare -A before after

# shellcheck disable=SC2154,SC2034 # m is a name reference to an associative array
measure() { # ROOT ARRAY-NAME
        local r=$1
        local -n m=$2
        m[bytes]=$(du -sx --block-size=1 "$r" | cut -f1)
        m[files]=$(find "$r" -xdev ! -type d | wc -l)
        m[dirs]=$(find "$r" -xdev -type d | wc -l)
        m[enabled]=$(systemctl --root="$r" list-unit-files --state=enabled --no-legend --no-pager 2>/dev/null | wc -l)
        m[masked]=$(systemctl --root="$r" list-unit-files --state=masked --no-legend --no-pager 2>/dev/null | wc -l)
        m[blacklisted]=$(cat "$r"/etc/modprobe.d/*.conf 2>/dev/null | grep -c '^[[:space:]]*blacklist[[:space:]]' || true)
        m[sysctl]=$(cat "$r"/etc/sysctl.d/*.conf 2>/dev/null | grep -Ec '^[[:space:]]*-?[a-z]' || true)
        m[tmpfiles_w]=$(cat "$r"/etc/tmpfiles.d/*.conf 2>/dev/null | grep -Ec '^[[:space:]]*w' || true)
}

masked_units() { systemctl --root="$1" list-unit-files --state=masked --no-legend --no-pager | awk '{print $1}' | sort -u; }

section "before"
measure "$root" before
masked_before=$(masked_units "$root")
echo "disk used (allocated): $(numfmt --to=iec-i --suffix=B "${before[bytes]}") (${before[bytes]} bytes)"
echo "files: ${before[files]}, directories: ${before[dirs]}"
echo "enabled units (${before[enabled]}):"
systemctl --root="$root" list-unit-files --state=enabled --no-legend --no-pager | awk '{print "  " $1}'

# ---------------------------------------------------------------------------------------
# How the agent runs. Each sets $agent_status and leaves report.json in the tree.

run_offline() {
        section "dpuos-trim --root (offline)"
        echo "+ $agent --root=$root"
        agent_status=0
        "$agent" --root="$root" || agent_status=$?
}

running_services() { ct_exec "$ct_name" systemctl list-units --type=service --state=running --no-legend --plain | wc -l; }

run_container() {
        local state stamp=$root/etc/dpuos-trim/applied
        section "a boot without the agent (its stamp in place), to count the running services"
        mkdir -p "$(dirname "$stamp")"
        echo "demo" >"$stamp"
        ct_start "$ct_name" "$root"
        ct_wait "$ct_name" 300 >/dev/null || true
        before[running]=$(running_services)
        echo "running services: ${before[running]}"
        ct_stop "$ct_name" 120
        rm -f "$stamp"

        section "the first boot: dpuos-trim.service runs the agent (systemd-nspawn)"
        ct_start "$ct_name" "$root"
        state=$(ct_wait "$ct_name" 300) || true
        echo "system state after boot: ${state:-unknown}"
        ct_exec "$ct_name" systemctl status --no-pager --lines=0 dpuos-trim.service || true
        ct_exec "$ct_name" journalctl -b -u dpuos-trim.service --no-pager -o cat || true
        agent_status=$(ct_exec "$ct_name" systemctl show -P ExecMainStatus dpuos-trim.service || echo "?")
        after[running]=$(running_services)
        echo "stamp: $(ct_exec "$ct_name" cat /etc/dpuos-trim/applied 2>/dev/null || echo absent)"
        ct_stop "$ct_name" 120
}

"run_$mode"
case $agent_status in
0) echo "dpuos-trim: exit 0 (all done)" ;;
1) echo "dpuos-trim: exit 1 (some actions failed; the report says which)" ;;
*) echo "dpuos-trim: exit $agent_status" ;;
esac

section "report.json"
report=$root/var/lib/dpuos-trim/report.json
if [ -f "$report" ]; then
        if command -v jq >/dev/null; then
                lines=$(jq . "$report" | wc -l)
                if [ "$lines" -le 400 ]; then
                        jq . "$report"
                else
                        jq 'del(.actions)' "$report"
                        echo "(actions: $(jq '.actions | length' "$report") in all; by kind and outcome:)"
                        jq -r '.actions | group_by(.kind, .outcome)[] | "  \(.[0].kind) \(.[0].outcome): \(length)"' "$report"
                fi
        else
                cat "$report"
        fi
else
        echo "no report at /var/lib/dpuos-trim/report.json"
fi

section "after"
measure "$root" after
printf '%-34s %14s %14s %14s\n' "" before after change
row() { # LABEL KEY [bytes]
        local b=${before[$2]} a=${after[$2]}
        if [ "${3:-}" = bytes ]; then
                printf '%-34s %14s %14s %14s\n' "$1" "$(numfmt --to=iec-i --suffix=B "$b")" \
                        "$(numfmt --to=iec-i --suffix=B "$a")" "$(numfmt --to=iec-i --suffix=B -- "$((a - b))")"
        else
                printf '%-34s %14s %14s %14s\n' "$1" "$b" "$a" "$((a - b))"
        fi
}
row "disk used (allocated)" bytes bytes
row "files (not directories)" files
row "directories" dirs
row "enabled unit files" enabled
[ -n "${before[running]:-}" ] && row "running services" running
row "masked unit files" masked
row "blacklisted modules (modprobe.d)" blacklisted
row "persisted sysctls (sysctl.d)" sysctl
row "persisted /sys writes (tmpfiles)" tmpfiles_w
echo
echo "units masked now that were not before:"
comm -13 <(printf '%s\n' "$masked_before") <(masked_units "$root") | sed 's/^/  /'
case $agent_status in 0 | 1) exit 0 ;; *) exit 1 ;; esac
