#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Data flows one way through the agent (docs/design.md, "Code"): no two of its files call
# each other round a circle, and no header includes itself round a circle. The calls are
# read from the built library's symbol tables (nm: who defines, who uses each symbol), the
# includes from the sources; tsort finds any loop.
#   no-cycles.sh LIBAGENT.a SOURCE_DIR
set -euo pipefail
lib=${1:?usage: $0 LIBAGENT.a SOURCE_DIR}
src=${2:?usage: $0 LIBAGENT.a SOURCE_DIR}
status=0

# "file.o symbol" for every definition and every use.
nm -A --defined-only -g "$lib" | awk '{ split($1, p, ":"); n = split(p[2], q, "/"); print q[n], $NF }' | sort -k2 >"${TMPDIR:-/tmp}/defs.$$"
nm -A --undefined-only "$lib" | awk '{ split($1, p, ":"); n = split(p[2], q, "/"); print q[n], $NF }' | sort -k2 >"${TMPDIR:-/tmp}/uses.$$"
calls=$(join -1 2 -2 2 -o 1.1,2.1 "${TMPDIR:-/tmp}/uses.$$" "${TMPDIR:-/tmp}/defs.$$" | sed 's/\.c\.o//g' | awk '$1 != $2' | sort -u)
rm -f "${TMPDIR:-/tmp}/defs.$$" "${TMPDIR:-/tmp}/uses.$$"
n=$(grep -c . <<<"$calls" || true)
if [[ $n -lt 20 ]]; then
        echo "not ok - only $n calls between the agent's files found in $lib: the scan is broken"
        exit 1
fi
if out=$(tsort <<<"$calls" 2>&1 >/dev/null) && [[ -z $out ]]; then
        echo "ok - $n calls between $(tr ' ' '\n' <<<"$calls" | sort -u | wc -l) files of the agent, no circle"
else
        echo "not ok - the agent's files call each other round a circle:"
        sed 's/^/  /' <<<"$out"
        status=1
fi

includes=$(cd "$src" && grep -H '^#include "' -- *.c *.h | sed 's/:#include "\(.*\)"/ \1/' | sed 's/\.[ch]\b//g' | awk '$1 != $2' | sort -u)
if out=$(tsort <<<"$includes" 2>&1 >/dev/null) && [[ -z $out ]]; then
        echo "ok - $(grep -c . <<<"$includes") includes among the agent's files, no circle"
else
        echo "not ok - includes round a circle:"
        sed 's/^/  /' <<<"$out"
        status=1
fi
exit "$status"
