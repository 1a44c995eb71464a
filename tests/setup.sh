#!/usr/bin/env bash
# Installs what building dpuos-trim and running every test needs on Debian 12 (as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
        # build
        meson ninja-build gcc pkg-config scdoc
        libsystemd-dev libkmod-dev libmount-dev libinih-dev libcap-dev
        # the real tools the tests read the agent's output back with
        systemd kmod procps util-linux jq
        # fault injection (an I/O error where no file system would give one on demand)
        strace
        # container and VM rigs
        mmdebstrap systemd-container qemu-system-x86 qemu-utils e2fsprogs
        # the VM rig's disk images (vm_disk_image): sfdisk partitions them, grub-editenv
        # sets the words GRUB adds to the kernel command line at each boot
        fdisk grub-common
        # the brick test logs in to its VM over SSH
        openssh-client
        # the packaging test builds the openEuler package with rpmbuild; the package
        # layer's tests build small rpm and deb packages and a local apt repository
        rpm dpkg-dev
        # promtool checks the metrics file for the node exporter's textfile collector
        prometheus
        # the collector of the journal forwarding test (systemd-journal-remote)
        systemd-journal-remote iproute2
        # the Ansible role's test runs the distribution's ansible-playbook
        ansible-core
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
                exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
