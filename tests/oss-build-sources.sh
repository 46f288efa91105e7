#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# oss-build-sources.sh -- the OSS-Fuzz build script (core/fuzz/build.sh)
# compiles exactly the sources automake builds the library and the two
# fuzz targets from.  It cannot read the automake lists (OSS-Fuzz runs it
# without configure), so a moved or added file shows up here, in seconds,
# instead of only in the slow ClusterFuzzLite build of check-scale.
. "$abs_top_srcdir/tests/lib.sh"

[ -n "${INSTAR_OSS_SOURCES:-}" ] || { echo "Bail out! INSTAR_OSS_SOURCES unset (run through make check)"; exit 99; }
for w in $INSTAR_OSS_SOURCES; do echo "$w"; done | sed 's/:/ /' | sort > "$TMPD/expected"
bash "$abs_top_srcdir/core/fuzz/build.sh" --list-sources > "$TMPD/script"
st=$?
ok $st "build.sh --list-sources runs"
sort "$TMPD/script" > "$TMPD/listed"

for unit in core fuzz_resize_planners fuzz_resize_engine; do
    grep "^$unit " "$TMPD/expected" > "$TMPD/e.$unit"
    grep "^$unit " "$TMPD/listed" > "$TMPD/l.$unit"
    ok $([ -s "$TMPD/e.$unit" ]; echo $?) "automake lists sources for $unit"
    if diff "$TMPD/e.$unit" "$TMPD/l.$unit" > "$TMPD/d.$unit"; then
        ok 0 "build.sh compiles automake's sources for $unit"
    else
        diag "$unit: < automake only, > build.sh only:"
        grep '^[<>]' "$TMPD/d.$unit" | while IFS= read -r l; do diag "$l"; done
        ok 1 "build.sh compiles automake's sources for $unit"
    fi
done
# Every listed file exists (a glob that matched nothing stays literal).
missing=0
while read -r _ f; do
    [ -f "$abs_top_srcdir/$f" ] || { diag "listed but missing: $f"; missing=1; }
done < "$TMPD/listed"
ok $missing "every source build.sh lists exists"
done_testing
