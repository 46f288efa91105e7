#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-make-replay.sh -- make fuzz-resize replays the stored findings
# first, as `instar-fuzz fuzz' does: a stored finding that still fails
# fails the make run; once fixed it is marked fixed and the run passes.
# The "target" is the planner target's test build that breaks plans on
# request (INSTAR_FUZZ_BREAK, see fuzz-store.sh); FUZZ_TIME=0 runs no
# libFuzzer session, and the libFuzzer binaries are not built
# (fuzz_targets= on make's command line: nothing here needs clang).
. "$abs_top_srcdir/tests/lib.sh"
brk="$abs_top_builddir/tests/c/fuzz-break-planners"
require "$brk" fuzz-break-planners
cd "$TMPD" || exit 99
mk() {  # mk LOG: make fuzz-resize with the store in $TMPD/O -> $rc
    make -s -C "$abs_top_builddir" --no-print-directory fuzz-resize FUZZ_TIME=0 \
        fuzz_targets= fuzz_session_deps= FUZZ_STORE="$TMPD/O" \
        FUZZ_FINDINGS="$TMPD/none" >"$TMPD/$1" 2>&1
    rc=$?
}

# A stored finding of fuzz_resize_planners (what run.sh leaves, imported).
printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >in
printf '\000\000\020\000\000\000\000\000\000\000\000\000\000\000\000\000' >>in
raw=ff/fuzz_resize_planners/0123456789abcdef
mkdir -p "$raw"
cp in "$raw/input"
INSTAR_FUZZ_BREAK=count "$brk" in 2>&1 | grep -m1 '^INSTAR-FINDING:' >"$raw/signature"
INSTAR_FUZZ_BREAK=count "$abs_top_builddir/pre-inst-env" instar-fuzz fuzz fuzz_resize_planners \
    --time 0 --findings ff --out O --instar "$brk" >import.log 2>&1
ok $([ "$(ls O/findings | wc -l)" -eq 1 ]; echo $?) "one stored finding"

INSTAR_FUZZ_BREAK=count mk 1.log
grep -q '^1 stored finding replayed: 1 still fail' 1.log
ok $([ $? -eq 0 ] && [ $rc -ne 0 ]; echo $?) "make fuzz-resize: the stored finding still fails, make fails (exit $rc)"

( unset INSTAR_FUZZ_BREAK; mk 2.log; exit $rc ); rc=$?
grep -q '^1 stored finding replayed: 0 still fail, 1 fixed' 2.log
ok $([ $? -eq 0 ] && [ $rc -eq 0 ]; echo $?) "after the fix: marked fixed, make passes (exit $rc)"
grep -q '"status": "fixed"' O/findings/*/finding.json
ok $? "finding.json: status fixed"

done_testing
