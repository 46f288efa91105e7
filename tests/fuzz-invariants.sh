#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-invariants.sh -- the fuzz target reports broken plans: a test build
# of fuzz_resize_planners (tests/c/fuzz-break-hook.c) breaks a valid raw
# plan on request; each invariant must abort with a message naming it and
# the patches, and an unbroken plan must pass.  Likewise the qcow2
# header-field rule (core/fuzz/plan-rules.h).
. "$abs_top_srcdir/tests/lib.sh"

brk="$abs_top_builddir/tests/c/fuzz-break-planners"
replay="$abs_top_builddir/core/fuzz/replay-resize-planners"
require "$brk" fuzz-break-planners
require "$replay" replay-resize-planners

# raw target: 0 -> 1 MiB (a valid plan with one ZERO_FILL patch).
in="$TMPD/raw-grow"
printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$in"
printf '\000\000\020\000\000\000\000\000\000\000\000\000\000\000\000\000' >>"$in"

"$replay" "$in" >/dev/null 2>&1
ok $? "the unbroken plan passes the invariants (real target)"
env -u INSTAR_FUZZ_BREAK "$brk" "$in" >/dev/null 2>&1
ok $? "the unbroken plan passes the invariants (hooked target)"

check() {  # check BREAK EXPECTED-SIGNATURE EXPECTED-DETAIL
    INSTAR_FUZZ_BREAK=$1 "$brk" "$in" >"$TMPD/out" 2>"$TMPD/err"
    st=$?
    [ "$st" -ge 128 ]
    ok $? "$1: the target aborts (status $st)"
    grep -F "INSTAR-FINDING: fuzz_resize_planners/raw: invariant $2" "$TMPD/err" >/dev/null
    ok $? "$1: signature names invariant $2"
    grep -F -- "$3" "$TMPD/err" >/dev/null
    r=$?
    ok $r "$1: detail names the patches ($3)"
    [ $r -eq 0 ] || sed 's/^/# /' "$TMPD/err"
}

check count "1 (patch count exceeds 128)" "129 patches"
check overflow "2 (offset + length overflows u64)" "patch 1 (write offset=0xfffffffffffffffe length=0x10"
check beyond "3 (patch ends beyond total_file_size)" "patch 1 (zero-fill offset=0x100000 length=0x1, total_file_size=0x100000)"
check overlap "4 (WRITE patches overlap)" "patches 1 [0x0+0x10) and 2 [0x8+0x8)"

# plan-rules.h: a qcow2 grow from the corpus whose header commit is the
# 8-byte size; one byte longer, it writes part of crypt_method.
q="$abs_top_srcdir/corpus/fuzz_resize_planners/01c744d7eb439145ee40b9c1d01ba891b103aea6"
env -u INSTAR_FUZZ_BREAK "$brk" "$q" >/dev/null 2>&1
ok $? "the unbroken qcow2 plan keeps the header-field rule"
INSTAR_FUZZ_BREAK=torn "$brk" "$q" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ "$st" -ge 128 ]
ok $? "torn: the target aborts (status $st)"
grep -F "INSTAR-FINDING: fuzz_resize_planners/qcow2-grow: rule qcow2 header fields" "$TMPD/err" >/dev/null
ok $? "torn: signature names the rule"
grep -F "writes [24, 33): part of a header field" "$TMPD/err" >/dev/null
r=$?
ok $r "torn: detail names the patch's range"
[ $r -eq 0 ] || sed 's/^/# /' "$TMPD/err"

done_testing
