#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-explain.sh -- `instar-img fuzz-explain' decodes an input in words and
# gives the planner's answer.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img

in="$TMPD/raw-grow"
printf '\000\021\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$in"
printf '\000\000\020\000\000\000\000\000\000\000\000\000\000\000\000\000' >>"$in"
"$INSTAR_IMG" fuzz-explain "$in" >"$TMPD/out" 2>&1
ok $? "fuzz-explain exits 0"
grep -q 'format selector *0 -> raw' "$TMPD/out"; ok $? "names the target"
grep -q 'flags *0x11 (allow_shrink=1 .*prealloc=metadata tight_scratch=0)' "$TMPD/out"; ok $? "decodes the flags"
grep -q 'planner scratch *16777216$' "$TMPD/out"; ok $? "names the planner's scratch"
grep -q 'new virtual size *1048576 ' "$TMPD/out"; ok $? "decodes the new size"
grep -q 'planner: error unsupported-prealloc: ' "$TMPD/out"
ok $? "gives the planner's error (raw refuses metadata preallocation)"

printf '\000\001' | dd of="$in" bs=1 seek=1 conv=notrunc 2>/dev/null
"$INSTAR_IMG" fuzz-explain "$in" >"$TMPD/out" 2>&1
grep -q 'planner: ok, grow 0 -> 1048576, total file size 1048576, 1 patches' "$TMPD/out"
ok $? "gives the plan"
grep -q 'invariants: all 4 hold' "$TMPD/out"; ok $? "checks the invariants"

for f in "$abs_top_srcdir"/corpus/fuzz_resize_planners/*; do
    if "$INSTAR_IMG" fuzz-explain "$f" | grep -q '^qcow2-grow options:'; then
        "$INSTAR_IMG" fuzz-explain "$f" >"$TMPD/out"
        grep -q 'l1_size' "$TMPD/out" && grep -q 'refblocks staged' "$TMPD/out"
        ok $? "explains a qcow2 corpus input ($(basename "$f"))"
        break
    fi
done

head -c 10 /dev/zero >"$TMPD/short"
"$INSTAR_IMG" fuzz-explain "$TMPD/short" >"$TMPD/out" 2>&1
[ $? -eq 1 ] && grep -q 'not a fuzz input' "$TMPD/out"
ok $? "a 10-byte file is refused"
"$INSTAR_IMG" fuzz-explain >/dev/null 2>&1
[ $? -eq 2 ]; ok $? "missing FILE is a usage error"

done_testing
