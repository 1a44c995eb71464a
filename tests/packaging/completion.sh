#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion (conf/completion/dpuos-trim), driven the way bash drives it: the
# command line split into COMP_WORDS as bash splits it, the function called, COMPREPLY
# checked. Every option of `dpuos-trim --help` must be offered, and nothing else, so a new
# option without its completion fails here.
#
# Usage: completion.sh DPUOS-TRIM COMPLETION-SCRIPT
source "$(dirname "${BASH_SOURCE[0]}")/../offline/lib.sh"
SCRIPT=${2:?usage: $0 DPUOS-TRIM COMPLETION-SCRIPT}

# Outside a completion compopt fails; record what the function asks for instead.
COMPOPTS=
compopt() {
        COMPOPTS+=" $*"
}

# shellcheck source=/dev/null
source "$SCRIPT"
expect_eq "the script registers its function for dpuos-trim" \
        "complete -F _dpuos_trim dpuos-trim" "$(complete -p dpuos-trim 2>&1)"

# complete_line LINE: completes at the end of LINE, with '=' a word break as in bash's
# default COMP_WORDBREAKS ("--only=units," is the three words "--only" "=" "units,"), or
# as one word when $WHOLE is set. REPLY gets the sorted replies, one a line.
WHOLE=
complete_line() {
        local line=$1 w
        local -a words=()
        read -ra words <<<"$line"
        [[ $line == *' ' ]] && words+=('')
        COMP_WORDS=()
        for w in "${words[@]}"; do
                if [[ -z $WHOLE && $w == --*=* ]]; then
                        COMP_WORDS+=("${w%%=*}" =)
                        [[ -n ${w#*=} ]] && COMP_WORDS+=("${w#*=}")
                else
                        COMP_WORDS+=("$w")
                fi
        done
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        COMPOPTS=
        _dpuos_trim
        REPLY=$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort)
}

lines() {
        printf '%s\n' "$@" | LC_ALL=C sort
}

complete_line "dpuos-trim --dry"
expect_eq "--dry completes to --dry-run" "--dry-run" "$REPLY"
complete_line "dpuos-trim --ro"
expect_eq "--ro completes to --root=" "--root=" "$REPLY"
expect "... with no space after the '='" grep -q nospace <<<"$COMPOPTS"
complete_line "dpuos-trim --json --ver"
expect_eq "--ver offers --verbose, --verify and --version" "$(lines --verbose --verify --version)" "$REPLY"

complete_line "dpuos-trim --only="
expect_eq "--only= lists the seven kinds" "$(lines units modules kernel sysctl sysfs packages files)" "$REPLY"
complete_line "dpuos-trim --only=sys"
expect_eq "--only=sys offers sysctl and sysfs" "$(lines sysctl sysfs)" "$REPLY"
complete_line "dpuos-trim --only=units,"
expect_eq "--only=units, goes on with the other six kinds" \
        "$(lines units,modules units,kernel units,sysctl units,sysfs units,packages units,files)" "$REPLY"
complete_line "dpuos-trim --only=units,sysfs,f"
expect_eq "--only=units,sysfs,f completes the third kind" "units,sysfs,files" "$REPLY"
complete_line "dpuos-trim --only=units,modules,kernel,sysctl,sysfs,packages,files,"
expect_eq "--only= with every kind offers nothing more" "" "$REPLY"
complete_line "dpuos-trim --only=files,u"
expect_eq "--only=files,u completes units" "files,units" "$REPLY"
complete_line "dpuos-trim --only "
expect_eq "--only KINDS (a separate argument) lists the kinds" \
        "$(lines units modules kernel sysctl sysfs packages files)" "$REPLY"
expect "the kinds get no space after them, for a comma" grep -q nospace <<<"$COMPOPTS"
WHOLE=1
complete_line "dpuos-trim --only=units,s"
expect_eq "without '=' in COMP_WORDBREAKS, the replies keep --only=" \
        "$(lines --only=units,sysctl --only=units,sysfs)" "$REPLY"
WHOLE=

# --root= completes directories, --policy= files and directories.
mkdir -p "$SCRATCH/t/tree" "$SCRATCH/t/policies"
: >"$SCRATCH/t/trim.conf"
: >"$SCRATCH/t/tarball"
complete_line "dpuos-trim --root=$SCRATCH/t/t"
expect_eq "--root= offers directories only" "$SCRATCH/t/tree" "$REPLY"
expect "... as file names" grep -q filenames <<<"$COMPOPTS"
complete_line "dpuos-trim --root $SCRATCH/t/t"
expect_eq "--root DIR (a separate argument) offers directories" "$SCRATCH/t/tree" "$REPLY"
complete_line "dpuos-trim --policy=$SCRATCH/t/"
expect_eq "--policy= offers files and directories" \
        "$(lines "$SCRATCH/t/policies" "$SCRATCH/t/tarball" "$SCRATCH/t/trim.conf" "$SCRATCH/t/tree")" "$REPLY"
WHOLE=1
complete_line "dpuos-trim --root=$SCRATCH/t/t"
expect_eq "without '=' in COMP_WORDBREAKS, --root= replies keep the option" \
        "--root=$SCRATCH/t/tree" "$REPLY"
WHOLE=

# The options against --help: both ways.
help_opts=$("$DPUOS_TRIM" --help | grep -oE -- '(^|[[:space:]])--?[a-z][a-z-]*' | tr -d ' \t' | LC_ALL=C sort -u)
expect "--help lists options" test -n "$help_opts"
complete_line "dpuos-trim -"
offered=$(sed 's/=$//' <<<"$REPLY" | LC_ALL=C sort -u)
expect_eq "the completion offers exactly the options of --help" "$help_opts" "$offered"
complete_line "dpuos-trim "
expect_same "an empty word offers the options too" "$(complete_line "dpuos-trim -"; echo "$REPLY")" "$REPLY"

finish
