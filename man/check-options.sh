#!/bin/sh
# Usage: check-options.sh DPUOS-TRIM PAGE.scd
# Fails when an option of "DPUOS-TRIM --help" is not described in PAGE, or PAGE describes
# an option that --help does not have.
set -eu

help_opts=$("$1" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
page_opts=$(grep -o -- '^\*--[a-z][a-z-]*[=*]\|^\*-[a-z]\*, \*--[a-z][a-z-]*\*' "$2" |
        grep -o -- '--[a-z][a-z-]*' | sort -u)

status=0
for o in $help_opts; do
        echo "$page_opts" | grep -qx -- "$o" || { echo "$2: $o (from --help) is not described" >&2; status=1; }
done
for o in $page_opts; do
        echo "$help_opts" | grep -qx -- "$o" || { echo "$2: $o is described but --help does not have it" >&2; status=1; }
done
exit $status
