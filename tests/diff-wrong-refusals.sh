#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-refusals.sh -- resize-diff at seed 7 must find each engine of
# tests/wrong-engines/ that accepts what qemu-img refuses (one refusal
# family each, see their headers), as exactly one finding whose key and
# title name the family; an engine that refuses every resize must be
# found too (a refusal is a verdict, never a pass).  resize-consistency
# must find an engine that refuses every VHDX resize.
#
# Each engine is run for as many seed-7 iterations as reach the family's
# first draw (the picker is deterministic: iteration I of seed 7 is the
# same case everywhere); the late ones replay that iteration alone.  The
# whole 100-iteration claim is checked by hand (see the manual).
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"

check_refusal() {  # check_refusal ENGINE SHAPE TITLE ARGS...
    engine=$1 shape=$2 title=$3; shift 3
    out="$TMPD/$engine"
    diff_run "$engine" "$out" --seed 7 "$@" >"$TMPD/$engine.log" 2>&1; rc=$?
    ok $([ $rc -eq 1 ]; echo $?) "$engine: found (exit $rc)"
    n=$(ls "$out/findings" 2>/dev/null | wc -l)
    ok $([ "$n" -eq 1 ]; echo $?) "$engine: one finding ($n)"
    f=$(ls -d "$out"/findings/*/finding.json 2>/dev/null | head -1)
    got=$(sed -n 's/^ *"shape": "\(.*\)",*$/\1/p' "$f" 2>/dev/null)
    ok $([ "$got" = "$shape" ]; echo $?) "$engine: shape $got"
    grep -q "\"title\": \".*$title" "$f" 2>/dev/null
    ok $? "$engine: title says: $title"
}

check_replay() {  # check_replay ENGINE SHAPE ITERATION
    engine=$1 shape=$2 i=$3
    diff_run "$engine" "$TMPD/$engine" --replay "7:$i" >"$TMPD/$engine.log" 2>&1; rc=$?
    ok $([ $rc -eq 1 ]; echo $?) "$engine: seed 7 iteration $i diverges (exit $rc)"
    grep -q "^shape: $shape\$" "$TMPD/$engine.log"
    ok $? "$engine: shape $shape"
}

a=exit-class:resize:ok/error
check_refusal shrink-without-flag "op=resize|$a:shrink-without-flag" \
    "engine accepted shrink without --shrink (qemu-img refused)" --iterations 2
check_refusal unaligned-size "op=resize|$a:unaligned" \
    "engine accepted a size that is not a multiple of 512" --iterations 1
check_refusal bad-create-option "op=create|exit-class:create:ok/error:bad-create-option" \
    "engine accepted create options the format refuses" --iterations 5
check_refusal refuse-resize "op=resize|exit-class:resize:error/ok" \
    "engine refused a case qemu-img accepted" --iterations 3
check_replay prealloc-on-shrink "op=resize|$a:prealloc-not-growing" 11
check_replay non-positive "op=resize|$a:non-positive" 13
check_replay corrupt-image "op=resize|$a:corrupt" 44
check_replay bad-spec "op=resize|$a:bad-spec" 56
check_replay past-limit "op=resize|$a:past-limit" 57

# resize-consistency has no reference: a VHDX parser that rejects every
# image must still fail the run.
REFUSE_FORMATS=vhdx INSTAR_ENGINE="$abs_top_builddir/core/cli/instar-img" \
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/resize-consistency.scm" \
    --instar "$WRONG/refuse-resize" --formats vhdx --seed 7 --iterations 3 \
    --out "$TMPD/cons" --tmpdir "$TMPD" --reduce-time 2 -q >"$TMPD/cons.log" 2>&1
ok $([ $? -eq 1 ]; echo $?) "resize-consistency: refusing every vhdx resize is a finding (exit 1)"
grep -q 'op=resize|refusal:supported' "$TMPD/cons.log"
ok $? "resize-consistency: named an unexpected refusal"
grep -q 'unexpected refusal' "$TMPD/cons.log"
ok $? "resize-consistency: the title says so"
# The same engine on vpc (which it does not refuse) passes.
REFUSE_FORMATS=vhdx INSTAR_ENGINE="$abs_top_builddir/core/cli/instar-img" \
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/resize-consistency.scm" \
    --instar "$WRONG/refuse-resize" --formats vpc --seed 7 --iterations 3 \
    --out "$TMPD/cons-vpc" --tmpdir "$TMPD" --reduce-time 2 -q >"$TMPD/cons-vpc.log" 2>&1
ok $? "resize-consistency: the engine passes on the formats it resizes"

done_testing
