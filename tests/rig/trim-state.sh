#!/bin/bash
# Prints what a trimming run leaves behind in the OS tree at ROOT (default /), in a form
# that compares across machines: the /usr tree (names, types, file sizes, link targets),
# the units masked in /etc, the three persisted configuration files, and any temporary file
# a write left behind. Used to compare a VM's state with the agent's offline result.
root=${1:-/}
cd "$root" || exit 1
echo "usr-tree $(find usr -xdev \( -type f -printf '%p f %s\n' \) -o \( ! -type f -printf '%p %y %l\n' \) | LC_ALL=C sort | sha256sum | cut -c1-16)"
echo "usr-entries $(find usr -xdev | wc -l)"
echo "masks $(find etc/systemd/system -maxdepth 1 -type l -lname /dev/null -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')"
for f in etc/modprobe.d/dpuos-trim.conf etc/sysctl.d/90-dpuos-trim.conf etc/tmpfiles.d/dpuos-trim.conf; do
        if [ -f "$f" ]; then echo "$f $(sha256sum <"$f" | cut -c1-16)"; else echo "$f absent"; fi
done
echo "leftovers $(find etc var/lib/dpuos-trim -name '.#*' 2>/dev/null | wc -l)"
