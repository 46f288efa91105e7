#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-corpus.sh -- corpus-diff: the committed coverage corpus judged by
# qemu-img, and a planted deep bug only it reaches.
#
# tests/wrong-engines/refcount1-l1-leak is qemu-img with one deep bug: a
# grow that moves the L1 table of an image with 1-bit refcounts leaks the
# old table's cluster.  resize-diff's pickers do not reach it in 200
# iterations at seed 42 (the run is clean); corpus-diff over a frozen
# copy of the fuzz_resize_engine corpus (tests/corpus-diff-seeds, its 57
# inputs of the day this test was written: the live corpus grows with
# every session, and judging all of it is make fuzz-diff's job, too slow
# for make check) -- its qcow2 start images only, to keep this
# test fast: the wrong engine is qemu-img, which resizes no other format)
# finds it as one finding, which its repro.sh reproduces, a rerun replays
# first (still failing: exit 1), and the correct engine marks fixed.
# The in-process engine over the same corpus (every format) is clean, and
# --new-only judges only inputs the judged list does not hold.
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
GUILE=${GUILE:-guile}
RD="$abs_top_srcdir/recipes/resize-diff.scm"
CD="$abs_top_srcdir/recipes/corpus-diff.scm"
CORPUS="$abs_top_srcdir/tests/corpus-diff-seeds"
BUG="$abs_top_srcdir/tests/wrong-engines/refcount1-l1-leak"
export QEMU_IMG QEMU_IO GUILE_AUTO_COMPILE=0
GUILE_LOAD_COMPILED_PATH="$abs_top_builddir/scm${GUILE_LOAD_COMPILED_PATH:+:$GUILE_LOAD_COMPILED_PATH}"
export GUILE_LOAD_COMPILED_PATH
run() {  # run RECIPE OUT LOG ARGS... -> exit status in $rc
    recipe=$1 out=$2 log=$3; shift 3
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$recipe" --out "$out" --tmpdir "$TMPD" \
        -q --jobs 2 "$@" >"$TMPD/$log" 2>&1
    rc=$?
}
nfind() { ls "$1/findings" 2>/dev/null | wc -l; }
inputs=$(ls "$CORPUS" | wc -l)

# 1. The correct engine: the whole engine corpus, every format, is clean.
run "$CD" "$TMPD/clean" clean.log --corpus "$CORPUS"
ok $([ $rc -eq 0 ] && [ "$(nfind "$TMPD/clean")" -eq 0 ]; echo $?) \
    "in-process engine over the frozen engine corpus: no finding (exit $rc)"
grep -q "\"iterations-run\": $inputs" "$TMPD/clean/summary.json"
ok $? "every input of the corpus is a case ($inputs)"
grep -q '"match": [1-9]' "$TMPD/clean/summary.json"
ok $? "inputs are judged, not only skipped"
ok $([ "$(wc -l <"$TMPD/clean/corpus-judged")" -eq "$inputs" ]; echo $?) \
    "judged list: one line per input"
run "$CD" "$TMPD/clean" new.log --corpus "$CORPUS" --new-only
grep -q '"iterations": 0,' "$TMPD/clean/summary.json"
ok $([ $? -eq 0 ] && [ $rc -eq 0 ]; echo $?) "--new-only: nothing judged twice (exit $rc)"

# 2. resize-diff misses the planted bug: seed 42, 200 iterations.
run "$RD" "$TMPD/rd" rd.log --instar "$BUG" --seed 42 --iterations 200
ok $([ $rc -eq 0 ] && [ "$(nfind "$TMPD/rd")" -eq 0 ]; echo $?) \
    "resize-diff --seed 42 --iterations 200 does not reach the bug (exit $rc)"
# Seen once (a distcheck under load), not reproduced: say what it found.
[ $rc -eq 0 ] || diag "$(grep -v '^refused:\|^whitelist' "$TMPD/rd.log" | tail -n 20)" \
    "$(cat "$TMPD"/rd/findings/*/finding.json 2>/dev/null | grep '"title"')"

# 3. corpus-diff finds it.
out="$TMPD/bug"
run "$CD" "$out" bug.log --corpus "$CORPUS" --formats qcow2 --instar "$BUG"
ok $([ $rc -eq 1 ] && [ "$(nfind "$out")" -eq 1 ]; echo $?) \
    "corpus-diff finds the planted bug as one finding (exit $rc)"
sig=$(ls "$out/findings" | head -1)
dir="$out/findings/$sig"
shape=$(sed -n 's/^ *"shape": "\(.*\)",*$/\1/p' "$dir/finding.json")
ok $([ "$shape" = "op=resize|check:leaks|check:status" ]; echo $?) "shape: $shape"
grep -q '"op": "corpus"' "$dir/finding.json"
ok $? "the finding keeps the corpus case"
(cd / && sh "$dir/repro.sh") >"$TMPD/repro.log" 2>&1; rc=$?
grep -q 'Leaked cluster' "$TMPD/repro.log"
ok $([ $? -eq 0 ] && [ $rc -eq 1 ]; echo $?) "repro.sh reproduces from / (exit $rc)"

# 4. Regression first: a rerun with --new-only judges no input, yet
# replays the stored finding and stays red; the correct engine fixes it.
run "$CD" "$out" rerun.log --corpus "$CORPUS" --formats qcow2 --instar "$BUG" --new-only
grep -q '1 stored findings\? replayed: 1 still fail' "$TMPD/rerun.log"
ok $([ $? -eq 0 ] && [ $rc -eq 1 ]; echo $?) "rerun: the stored finding still fails (exit $rc)"
run "$CD" "$out" fixed.log --corpus "$CORPUS" --formats qcow2 --new-only
grep -q '"status": "fixed"' "$dir/finding.json"
ok $([ $? -eq 0 ] && [ $rc -eq 0 ]; echo $?) "the correct engine: marked fixed (exit $rc)"

done_testing
