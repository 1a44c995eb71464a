#!/usr/bin/env bash
# The container side of tests/bench/compare.sh: compare.sh copies this file into the
# benchmark container as /usr/local/sbin/bench-ct and runs it there with ct_exec, so that
# every timing is taken inside the container, without nsenter's start-up in it.
#
#   bench-ct prepare                 unit files, policies, TuneD profiles, saved defaults
#   bench-ct run CASE METHOD         resets the state (not timed), then times one run and
#                                    prints "us=MICROSECONDS reloads=N ok=GOOD/WANTED rc=RC"
#   bench-ct rss-tuned               TuneD's resident and peak memory (KiB), "rss=N hwm=N"
#
# Cases and methods:
#   units8, units32   agent | loop | one | reload     (masking 8 or 32 unit files)
#   sysctl50          agent | loop | file | tuned      (50 per-network-namespace keys)
# "reloads" counts the system manager's "Reloading." journal lines during the timed part.
set -euo pipefail

BENCH_DIR=/root/bench
AGENT=${BENCH_AGENT:-dpuos-trim}
UNIT_DIR=/usr/lib/systemd/system

# 50 keys that a container with its own network namespace may write, each with a value
# that differs from the kernel's default; the same list for every method. All exist on
# Debian 12's kernel (6.1) and later ones. tcp_invalid_ratelimit is kept in jiffies: 1000 ms
# reads back as written whatever the kernel's HZ.
SYSCTLS=(
        "net.ipv4.tcp_keepalive_time=600"
        "net.ipv4.tcp_keepalive_intvl=30"
        "net.ipv4.tcp_keepalive_probes=5"
        "net.ipv4.tcp_fin_timeout=30"
        "net.ipv4.tcp_syn_retries=4"
        "net.ipv4.tcp_synack_retries=3"
        "net.ipv4.tcp_retries2=8"
        "net.ipv4.tcp_max_syn_backlog=8192"
        "net.ipv4.tcp_slow_start_after_idle=0"
        "net.ipv4.tcp_mtu_probing=1"
        "net.ipv4.tcp_rfc1337=1"
        "net.ipv4.tcp_fastopen=3"
        "net.ipv4.tcp_tw_reuse=1"
        "net.ipv4.tcp_no_metrics_save=1"
        "net.ipv4.tcp_ecn=1"
        "net.ipv4.tcp_reordering=5"
        "net.ipv4.tcp_orphan_retries=2"
        "net.ipv4.tcp_autocorking=0"
        "net.ipv4.tcp_notsent_lowat=131072"
        "net.ipv4.tcp_min_snd_mss=536"
        "net.ipv4.tcp_probe_interval=300"
        "net.ipv4.tcp_invalid_ratelimit=1000"
        "net.ipv4.tcp_max_tw_buckets=65536"
        "net.ipv4.tcp_rmem=4096 87380 16777216"
        "net.ipv4.tcp_wmem=4096 65536 16777216"
        "net.ipv4.ip_default_ttl=128"
        "net.ipv4.ip_local_port_range=10000 65000"
        "net.ipv4.ip_nonlocal_bind=1"
        "net.ipv4.icmp_ratelimit=500"
        "net.ipv4.icmp_msgs_per_sec=500"
        "net.ipv4.icmp_msgs_burst=25"
        "net.ipv4.icmp_echo_ignore_all=1"
        "net.ipv4.icmp_errors_use_inbound_ifaddr=1"
        "net.ipv4.igmp_max_memberships=40"
        "net.ipv4.ipfrag_time=15"
        "net.ipv4.ping_group_range=0 2147483647"
        "net.ipv4.conf.all.log_martians=1"
        "net.ipv4.conf.default.log_martians=1"
        "net.ipv4.conf.all.arp_ignore=1"
        "net.ipv4.conf.default.arp_ignore=1"
        "net.ipv4.conf.all.arp_announce=2"
        "net.ipv4.conf.default.arp_announce=2"
        "net.ipv4.conf.all.rp_filter=2"
        "net.ipv4.conf.default.rp_filter=2"
        "net.ipv6.conf.all.accept_ra=0"
        "net.ipv6.conf.default.accept_ra=0"
        "net.ipv6.conf.default.hop_limit=128"
        "net.ipv6.conf.default.use_tempaddr=2"
        "net.core.somaxconn=8192"
        "net.unix.max_dgram_qlen=256"
)

die() { echo "bench-ct: $*" >&2; exit 1; }

unit_names() { # N
        local i
        for ((i = 1; i <= $1; i++)); do printf 'bench-%02d.service\n' "$i"; done
}

sysctl_path() { # KEY -> /proc/sys/...
        local k=${1//./\/}
        printf '/proc/sys/%s\n' "$k"
}

sysctl_read() { # KEY -> the value with white space squeezed, as written
        tr -s ' \t' '  ' <"$(sysctl_path "$1")" | sed 's/ $//'
}

reloads() { # the number of daemon reloads in this boot
        journalctl --sync
        journalctl -q -b _PID=1 -o cat | grep -c '^Reloading\.$' || true
}

prepare() {
        local i kv
        mkdir -p "$BENCH_DIR"
        for i in $(unit_names 32); do
                printf '[Unit]\nDescription=Benchmark unit %s\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n' "$i" >"$UNIT_DIR/$i"
        done
        for i in 8 32; do
                {
                        printf '[Policy]\nName=bench-mask-%s\n\n[Units]\n' "$i"
                        unit_names "$i" | sed 's/^/Mask=/'
                } >"$BENCH_DIR/mask-$i.conf"
        done
        systemctl daemon-reload

        : >"$BENCH_DIR/sysctl-defaults"
        for kv in "${SYSCTLS[@]}"; do
                local k=${kv%%=*} v=${kv#*=} cur
                [ -w "$(sysctl_path "$k")" ] || die "$k is not writable in this container"
                cur=$(sysctl_read "$k")
                [ "$cur" != "$v" ] || die "$k is already $v here: pick another value"
                printf '%s=%s\n' "$k" "$cur" >>"$BENCH_DIR/sysctl-defaults"
        done
        {
                printf '[Policy]\nName=bench-sysctl50\n\n[Sysctl]\n'
                printf '%s\n' "${SYSCTLS[@]}" | sed 's/=/ = /'
        } >"$BENCH_DIR/sysctl50.conf"
        printf '%s\n' "${SYSCTLS[@]}" | sed 's/=/ = /' >"$BENCH_DIR/sysctl50.sysctl"
        mkdir -p /etc/tuned/bench-sysctl50 /etc/tuned/bench-none
        {
                printf '[main]\nsummary=dpuos-trim benchmark: 50 network sysctl keys\n\n[sysctl]\n'
                printf '%s\n' "${SYSCTLS[@]}"
        } >/etc/tuned/bench-sysctl50/tuned.conf
        printf '[main]\nsummary=dpuos-trim benchmark: no tuning\n' >/etc/tuned/bench-none/tuned.conf
        echo "prepared: 32 unit files, 50 sysctl keys (defaults saved)"
}

# --- units

units_reset() { # unmask what any method masked, forget dpuos-trim's record of it; one reload
        rm -f /etc/systemd/system/bench-*.service /var/lib/dpuos-trim/saved/masked-units
        systemctl daemon-reload
}

units_run() { # N METHOD
        local n=$1
        case $2 in
        agent) "$AGENT" --policy="$BENCH_DIR/mask-$n.conf" --only=units -q ;;
        loop)
                local u
                for u in $(unit_names "$n"); do systemctl mask -q "$u"; done
                ;;
        one)
                # shellcheck disable=SC2046 # one argument per unit
                systemctl mask -q $(unit_names "$n")
                ;;
        reload) systemctl daemon-reload ;;
        *) die "unknown units method '$2'" ;;
        esac
}

units_check() { # N METHOD -> masked units as the manager sees them
        # shellcheck disable=SC2046
        systemctl show -p LoadState $(unit_names "$1") | grep -c '^LoadState=masked$' || true
}

# --- sysctl

sysctl_reset() {
        local kv
        if [ "$(tuned-adm active 2>/dev/null)" != "Current active profile: bench-none" ] &&
                systemctl -q is-active tuned.service; then
                tuned-adm profile bench-none >/dev/null
        fi
        while IFS= read -r kv; do
                printf '%s' "${kv#*=}" >"$(sysctl_path "${kv%%=*}")"
        done <"$BENCH_DIR/sysctl-defaults"
        rm -f /etc/sysctl.d/90-dpuos-trim.conf /var/lib/dpuos-trim/saved/sysctl.conf
}

sysctl_run() { # METHOD
        case $1 in
        agent) "$AGENT" --policy="$BENCH_DIR/sysctl50.conf" --only=sysctl -q ;;
        loop)
                local kv
                for kv in "${SYSCTLS[@]}"; do sysctl -q -w "$kv"; done
                ;;
        file) sysctl -q -p "$BENCH_DIR/sysctl50.sysctl" ;;
        tuned) tuned-adm profile bench-sysctl50 ;;
        *) die "unknown sysctl method '$1'" ;;
        esac
}

sysctl_check() { # -> keys that have the wanted value
        local kv good=0
        for kv in "${SYSCTLS[@]}"; do
                [ "$(sysctl_read "${kv%%=*}")" != "${kv#*=}" ] || good=$((good + 1))
        done
        echo "$good"
}

# --- one timed run

run() { # CASE METHOD
        local case=$1 method=$2 want r0 r1 t0 t1 rc=0 good
        case $case in
        units8 | units32)
                local n=${case#units}
                units_reset
                want=$n
                [ "$method" != reload ] || want=0
                ;;
        sysctl50)
                sysctl_reset
                want=${#SYSCTLS[@]}
                ;;
        *) die "unknown case '$case'" ;;
        esac
        r0=$(reloads)
        t0=${EPOCHREALTIME/./}
        case $case in
        units*) units_run "$n" "$method" >/dev/null 2>&1 || rc=$? ;;
        sysctl50) sysctl_run "$method" >/dev/null 2>&1 || rc=$? ;;
        esac
        t1=${EPOCHREALTIME/./}
        r1=$(reloads)
        case $case in
        units*) good=$(units_check "$n") ;;
        sysctl50) good=$(sysctl_check) ;;
        esac
        echo "us=$((t1 - t0)) reloads=$((r1 - r0)) ok=$good/$want rc=$rc"
}

rss_tuned() {
        local pid
        pid=$(systemctl show -P MainPID tuned.service)
        if [ -z "$pid" ] || [ "$pid" = 0 ]; then die "tuned.service is not running"; fi
        awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { print "rss=" rss " hwm=" hwm }' "/proc/$pid/status"
}

case ${1:-} in
prepare) prepare ;;
run) run "${2:?run CASE METHOD}" "${3:?run CASE METHOD}" ;;
rss-tuned) rss_tuned ;;
*) die "usage: bench-ct prepare | run CASE METHOD | rss-tuned" ;;
esac
