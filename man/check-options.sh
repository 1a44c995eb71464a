#!/bin/sh
# Usage: check-options.sh DPUOS-TRIM PAGE.scd
# Fails when an option of "DPUOS-TRIM --help" is not described in PAGE, or PAGE describes
# an option that --help does not have.
set -eu

help_opts=$("$1" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
page_opts=$(grep -o -- '^\*--[a-z][a-z-]*[=*]\|^\*-[a-z]\*, \*--[a-z][a-z-]*\*' "$2" |
        grep -o -- '--[a-z][a-z-]*' | sort -u)

# Two empty lists would agree: a --help that prints nothing, or a page the pattern finds
# nothing in, must fail instead.
[ -n "$help_opts" ] || { echo "$1 --help lists no options" >&2; exit 1; }
[ -n "$page_opts" ] || { echo "$2: no options found" >&2; exit 1; }

status=0
for o in $help_opts; do
        echo "$page_opts" | grep -qx -- "$o" || { echo "$2: $o (from --help) is not described" >&2; status=1; }
done
for o in $page_opts; do
        echo "$help_opts" | grep -qx -- "$o" || { echo "$2: $o is described but --help does not have it" >&2; status=1; }
done
exit $status
