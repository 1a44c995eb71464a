#!/usr/bin/env bash
# rig-container-ansible: the Ansible role of contrib/ansible, run by the distribution's
# ansible-playbook over SSH against the container rig (a real systemd as PID 1, reached
# through a veth pair): the first play places the policy, checks and plans it, applies it
# and fetches the report and the status (done); the unit is masked in the container. The
# second play is the same play again and changes nothing (changed=0), as a role must.
# The package is not installed by the role here (dpuos_trim_install=false): the rig
# installs the built agent, and the container has no package repository.
#   ct-ansible.sh BUILD_DIR
set -euo pipefail
export BUILD_DIR=${1:-${BUILD_DIR:-$(dirname "$0")/../../build}}
# shellcheck source=tests/rig/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/rig/checks.sh
source "$(dirname "$0")/checks.sh"
BUILD_DIR=$(rig_abs "$BUILD_DIR")

rig_require_root
rig_require_tools mmdebstrap systemd-nspawn nsenter meson ip ssh ssh-keygen ansible-playbook jq

rig_test_begin ct-ansible
name=$RIG_CT
rig_test_root   # the play drives the agent: no first-boot run

# Ansible's modules run with the target's Python.
chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -q && apt-get install -y -q --no-install-recommends python3' \
        >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; echo "cannot install python3 in the root" >&2; exit 1; }
rm -f "$root"/usr/lib/dpuos-trim/policy.d/*.conf
ssh-keygen -q -t ed25519 -N '' -C ct-ansible -f "$work/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

links_before=$(ip -o link show)
RIG_NSPAWN_ARGS="--network-veth" ct_start "$name" "$root"
ct_wait "$name" 180 >/dev/null
veth=$(ct_veth_up "$name" "$links_before" 10.231.9.1 10.231.9.2 || true)
check "the container has a veth pair to this side (${veth:-none})" [ -n "$veth" ]
ct_exec "$name" systemctl start ssh.service

cat >"$work/inventory" <<EOF
[dpus]
ct ansible_host=10.231.9.2 ansible_user=root ansible_ssh_private_key_file=$work/id_ed25519 ansible_python_interpreter=/usr/bin/python3
EOF
cat >"$work/play.yml" <<EOF
- hosts: dpus
  gather_facts: false
  roles:
    - role: dpuos_trim
      vars:
        dpuos_trim_install: false
        dpuos_trim_fetch_dir: $work/results
        dpuos_trim_policies:
          90-vendor.conf: |
            [Policy]
            Name=ansible-vendor

            [Units]
            Mask=man-db.timer
            Stop=yes

            [Files]
            Remove=/usr/share/doc/**
            Keep=/usr/share/doc/**/copyright
EOF
play() { # LOG: one play; its exit status in $rc
        rc=0
        ANSIBLE_ROLES_PATH="$RIG_SRC_DIR/contrib/ansible/roles" ANSIBLE_HOST_KEY_CHECKING=False \
                ANSIBLE_SSH_ARGS="-o UserKnownHostsFile=/dev/null -o ConnectTimeout=30" ANSIBLE_NOCOLOR=1 \
                ansible-playbook -i "$work/inventory" "$work/play.yml" >"$work/$1" 2>&1 || rc=$?
        grep -E '^ct +:' "$work/$1" | sed "s/^/  $1: /"
}
# The ok=, changed= and failed= of the play's recap line.
recap() { sed -n "s/^ct *: .*\\b$2=\\([0-9]*\\).*/\\1/p" "$work/$1"; }

for _ in $(seq 30); do   # sshd answers
        ssh -i "$work/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o ConnectTimeout=5 root@10.231.9.2 true 2>/dev/null && break
        sleep 1
done

play first.log
[ "$rc" = 0 ] || tail -n 30 "$work/first.log" | sed 's/^/  first: /'
check "the first play succeeds" [ "$rc" = 0 ]
check "the first play changes the host (changed=$(recap first.log changed))" [ "$(recap first.log changed)" -ge 2 ]
check "the policy is in place" ct_exec "$name" test -f /etc/dpuos-trim/policy.d/90-vendor.conf
check "the unit is masked in the container" \
        [ "$(ct_exec "$name" systemctl is-enabled man-db.timer 2>/dev/null || true)" = masked ]
check "the report was fetched" jq -e '.policy.name == "ansible-vendor"' "$work/results/ct/report.json"
check "the status was fetched: done" grep -qx 'STATUS=done' "$work/results/ct/status"

play second.log
[ "$rc" = 0 ] || tail -n 30 "$work/second.log" | sed 's/^/  second: /'
check "the second play succeeds" [ "$rc" = 0 ]
check "the second play changes nothing (changed=$(recap second.log changed))" [ "$(recap second.log changed)" = 0 ]
check "and fails nothing" [ "$(recap second.log failed)" = 0 ]
ct_stop "$name"

rig_test_end
