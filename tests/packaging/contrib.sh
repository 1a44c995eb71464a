#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The install examples under contrib/: every policy they drop passes dpuos-trim --check,
# their shell parses, and the PXE entries pass the policy by an absolute path.
#
# Usage: contrib.sh DPUOS-TRIM SOURCE-DIR
source "$(dirname "${BASH_SOURCE[0]}")/../offline/lib.sh"
SRC=${2:?usage: $0 DPUOS-TRIM SOURCE-DIR}
C=$SRC/contrib

# The here-documents between <<'POLICY' and POLICY, one file each.
n=0
for f in "$C/kickstart/dpuos-trim.ks" "$C/bluefield/bf.cfg"; do
        awk -v out="$SCRATCH/$(basename "$f")" '
                /<<.POLICY.$/ { inside = 1; i++; next }
                inside && /^POLICY$/ { inside = 0; next }
                inside { print > (out "." i ".conf") }' "$f"
done
for p in "$SCRATCH"/*.conf; do
        n=$((n + 1))
        RC=0
        "$DPUOS_TRIM" --check --policy="$p" >"$OUT" 2>"$ERR" || RC=$?
        expect_eq "$(basename "$p"): the policy passes --check" 0 "$RC"
        sed 's/^/    /' "$ERR"
done
expect "the examples drop a policy each (${n} found)" [ "$n" -ge 2 ]

expect "bf.cfg is valid shell" bash -n "$C/bluefield/bf.cfg"
expect "bf.cfg defines bfb_modify_os" bash -c ". '$C/bluefield/bf.cfg' && declare -F bfb_modify_os"
# The kickstart %post body is shell too.
awk '/^%post/ { inside = 1; next } /^%end/ { inside = 0 } inside' "$C/kickstart/dpuos-trim.ks" >"$SCRATCH/post.sh"
expect "the kickstart %post is valid shell" bash -n "$SCRATCH/post.sh"
expect "the kickstart %post checks the policy" grep -q '^dpuos-trim --check$' "$SCRATCH/post.sh"

paths=$(grep -o 'dpuos_trim\.policy=[^ ]*' "$C/pxe/grub.cfg" | cut -d= -f2)
expect "the PXE entry passes a policy with dpuos_trim.policy=" [ -n "$paths" ]
for p in $paths; do
        expect "dpuos_trim.policy=$p is absolute" [ "${p#/}" != "$p" ]
done

finish
