#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every function of the agent fits on one screen: at most MAX lines from its signature to
# its closing brace (docs/design.md, "Code"). Function bodies in this code base start with a
# line ending in "{" outside any brace, and end with a "}" in the first column.
#   function-length.sh SOURCE_DIR [MAX=80]
set -euo pipefail
src=${1:?usage: $0 SOURCE_DIR [MAX]}
max=${2:-80}

lengths=$(awk '
        FNR == 1 { depth = 0; start = 0 }
        depth == 0 && /^[A-Za-z_].*\(/ && start == 0 { start = FNR; name = $0 }
        depth == 0 && start && /;[[:space:]]*$/ && !/\{/ { start = 0 }
        {
                opens = gsub(/\{/, "{"); closes = gsub(/\}/, "}")
                if (depth == 0 && opens > closes && start == 0) start = FNR
                depth += opens - closes
                if (depth == 0 && start && /^\}/) {
                        sub(/\(.*/, "", name); n = split(name, w, /[ *]+/)
                        printf "%d %s:%d %s\n", FNR - start + 1, FILENAME, start, w[n]
                        start = 0
                }
                if (depth == 0 && !/^\}/ && /;[[:space:]]*$/) start = 0
        }' "$src"/*.c | sort -rn)

echo "The five longest functions:"
head -n 5 <<<"$lengths" | sed 's/^/  /'
over=$(awk -v max="$max" '$1 > max' <<<"$lengths")
count=$(wc -l <<<"$lengths")
if [[ $count -lt 50 ]]; then
        echo "not ok - found only $count functions in $src: the scan is broken"
        exit 1
fi
if [[ -n $over ]]; then
        echo "not ok - functions longer than $max lines:"
        sed 's/^/  /' <<<"$over"
        exit 1
fi
echo "ok - all $count functions are at most $max lines"
