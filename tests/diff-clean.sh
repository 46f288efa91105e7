#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-clean.sh -- resize-diff with qemu-img as the engine under test:
# no divergence may show (no false positives), the results must not
# depend on --jobs or --shard, and the run's outputs and exit codes
# must be what resize-diff(1) promises.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup

rd() { "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --instar "$QEMU_IMG" --tmpdir "$TMPD" "$@"; }
# The iteration rows of a JUnit file (names and verdicts, no times).
rows() { grep '<testcase' "$1" | sed 's/ time="[^"]*"//; s/ timestamp="[^"]*"//' | sort; }

rd --seed 42 --iterations 12 --out "$TMPD/a" --junit "$TMPD/a.xml" >"$TMPD/a.log" 2>&1
ok $? "qemu-img against itself: exit 0"
# 4 of the 12 cases lie in a refusal family (both sides refuse; the
# family's whitelist rule expects it).
grep -q 'verdicts: 8 match, 0 divergence, 0 known, 0 inconclusive, 4 refused' "$TMPD/a.log"
ok $? "qemu-img against itself: 8 matches, 4 expected refusals, no divergence"
ok $([ ! -d "$TMPD/a/findings" ] || [ -z "$(ls "$TMPD/a/findings")" ]; echo $?) "no findings stored"
ok $([ -s "$TMPD/a/summary.json" ]; echo $?) "summary.json written"
grep -q '"never-matched-rules"' "$TMPD/a/summary.json"
ok $? "summary.json reports whitelist rules that never matched"
ok $([ "$(grep -c '<testcase' "$TMPD/a.xml")" -eq 12 ]; echo $?) "JUnit: one test case per iteration"
grep -q '^resize-diff: 12/12 done' "$TMPD/a.log"
ok $? "plain progress lines when not on a terminal"

rd --seed 42 --iterations 12 --jobs 2 --out "$TMPD/b" --junit "$TMPD/b.xml" -q >/dev/null 2>&1
ok $? "--jobs 2: exit 0"
rows "$TMPD/a.xml" > "$TMPD/a.rows"; rows "$TMPD/b.xml" > "$TMPD/b.rows"
cmp -s "$TMPD/a.rows" "$TMPD/b.rows"
ok $? "--jobs 2 runs the same cases with the same verdicts"

rd --seed 42 --iterations 12 --shard 1/2 --out "$TMPD/c" --junit "$TMPD/c1.xml" -q >/dev/null 2>&1
r1=$?
rd --seed 42 --iterations 12 --shard 2/2 --out "$TMPD/c" --junit "$TMPD/c2.xml" -q >/dev/null 2>&1
r2=$?
{ rows "$TMPD/c1.xml"; rows "$TMPD/c2.xml"; } | sort > "$TMPD/c.rows"
ok $([ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$TMPD/a.rows" "$TMPD/c.rows"; echo $?) \
    "--shard 1/2 + 2/2 together are the whole run"
ok $([ "$(grep -c '<testcase' "$TMPD/c1.xml")" -eq 6 ]; echo $?) "a shard runs its share"

rd --seed 42 --iterations 3 --out "$TMPD/d" --replay 42:6 >"$TMPD/r.log" 2>&1
ok $([ $? -eq 0 ] && grep -q '^verdict: match' "$TMPD/r.log"; echo $?) "--replay S:I runs one case"
# Iteration 5 is a shrink without --shrink: both refuse, the file stays
# as it was, and the family's rule expects it.
rd --seed 42 --iterations 3 --out "$TMPD/d" --replay 42:5 >"$TMPD/r.log" 2>&1
ok $([ $? -eq 0 ] && grep -q '^verdict: refused' "$TMPD/r.log" \
     && grep -q '^whitelist: refuses-shrink-without-flag' "$TMPD/r.log"; echo $?) \
    "--replay of an expected refusal: refused, by its family's rule"

rd --bogus >/dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "unknown flag: exit 2"
rd --shard 3/2 >/dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "bad --shard: exit 2"
rd --ops nosuch >/dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "unknown op: exit 2"
rd --replay nosuchsig --out "$TMPD/a" >/dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "unknown finding: exit 2"
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --qemu-img "$TMPD/no-qemu-img" --iterations 1 --out "$TMPD/e" >/dev/null 2>&1
ok $([ $? -eq 3 ]; echo $?) "qemu-img missing: exit 3"

done_testing
