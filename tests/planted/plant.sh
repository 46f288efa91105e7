#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# plant.sh -- write a copy of a planner source with one planted fault.
#
#   plant.sh SOURCE FROM TO > OUT
#
# FROM must occur on exactly one line of SOURCE (a literal string, not a
# pattern); that occurrence becomes TO.  Anything else is an error, so a
# planted fault never silently stops being planted when the code moves.
# One exception: a SOURCE that already carries the fault (TO on one line,
# FROM on none -- make mutants' mutant of that very line) is copied as is,
# so the planted build still builds and its test still judges.
set -eu
src=$1 from=$2 to=$3
n=$(grep -cF -- "$from" "$src" || true)
if [ "$n" = 0 ] && [ "$(grep -cF -- "$to" "$src" || true)" = 1 ]; then
    cat "$src"
    exit 0
fi
if [ "$n" != 1 ]; then
    echo "plant.sh: '$from' is on $n lines of $src, not 1" >&2
    exit 1
fi
FROM=$from TO=$to awk '{
    i = index($0, ENVIRON["FROM"])
    if (i > 0)
        $0 = substr($0, 1, i - 1) ENVIRON["TO"] substr($0, i + length(ENVIRON["FROM"]))
    print
}' "$src"
