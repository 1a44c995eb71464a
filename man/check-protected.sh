#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dpuos-trim.conf(5), PROTECTED, lists exactly the rules the code applies: the unit names
# and globs of agent/names.c, the mount points, sysctl keys and attribute globs of
# agent/protect.c.
#   check-protected.sh SOURCE_DIR PAGE.scd
set -euo pipefail
src=${1:?usage: $0 SOURCE_DIR PAGE.scd}
page=${2:?usage: $0 SOURCE_DIR PAGE.scd}
status=0

section() { # TITLE: the text of "## TITLE" up to the next heading, scdoc escapes undone
        awk -v t="## $1" '$0 == t { on = 1; next } /^#/ { on = 0 } on' "$page" | sed 's/\\//g'
}
compare() { # WHAT CODE-LIST PAGE-LIST
        local what=$1 code=$2 man=$3
        if [[ -z $code ]]; then
                echo "not ok - $what: none found in the code: the scan is broken"
                status=1
        elif [[ $code == "$man" ]]; then
                echo "ok - $what: $(wc -l <<<"$code") in the code and on the page"
        else
                echo "not ok - $what differ between the code and the page:"
                diff <(echo "$code") <(echo "$man") | sed 's/^/  /'
                status=1
        fi
}

code=$(awk '/protected_units\[\] = \{/ { on = 1; next } on && /^};/ { on = 0 } on' "$src/agent/names.c" |
        sed -n 's/^ *{ *"\([^"]*\)",.*/\1/p' | sort -u)
man=$(section "Protected units" | grep -o '_[^ ,;]*_' | sed 's/^_//; s/_$//' | sort -u || true)
compare "protected unit names and globs" "$code" "$man"

code=$(sed -n '/static void protect_mounts/,/^}/p' "$src/agent/protect.c" | grep -F 'targets[] =' | grep -o '"/[^"]*"' | tr -d '"' | sort -u)
man=$(section "Protected modules" | grep -oE '_/(usr|var|boot|boot/efi)?_' | tr -d '_' | sort -u || true)
compare "mount points whose modules are protected" "$code" "$man"

code=$(sed -n '/static const char \*protected_sysctl/,/^}/p' "$src/agent/protect.c" |
        grep -oE '"(kernel|vm|fs|net)\.[a-z_.-]+"' | tr -d '"' | sort -u)
man=$(section "Protected settings" | grep -oE '\*(kernel|vm|fs|net)\.[a-z_.-]+\*' | tr -d '*' | sort -u || true)
compare "protected sysctl keys" "$code" "$man"

code=$(sed -n '/static const char \*protected_sysfs/,/^}/p' "$src/agent/protect.c" |
        sed -n 's/^ *{ *"\([^"]*\)",.*/\1/p' | sed 's|/sys/\*\*/||' | sort -u)
man=$(section "Protected settings" | grep -oE '_(/proc/|/sys/)[^ ,;]*_|_(unbind|remove|delete)_' |
        sed 's/^_//; s/_$//' | grep -v -e hugepages -e meminfo | sort -u || true)
compare "protected attributes" "$code" "$man"
exit "$status"
