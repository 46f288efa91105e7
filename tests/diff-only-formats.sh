#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-only-formats.sh -- --only-formats skips cases AFTER the draw: the
# cases it keeps are exactly the cases of those formats a run without it
# draws (same iterations, same case keys in stats.jsonl), and it runs no
# other.  `make mutants' relies on it to judge a format's mutant on that
# format's cases only.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup

recipe() {  # recipe NAME OUT ARGS...
    name=$1 out=$2; shift 2
    mkdir -p "$TMPD/tmp"
    "$abs_top_builddir/pre-inst-env" "$GUILE" --no-auto-compile \
        -s "$abs_top_srcdir/recipes/$name.scm" --out "$out" --tmpdir "$TMPD/tmp" \
        --reduce-time 0 -q "$@" >"$out.log" 2>&1
}

# ITERATION FORMAT CASE of each stats line (FORMAT filter optional).
keys() {  # keys STATS [FORMAT]
    sed -n 's/.*"iteration":\([0-9]*\),"format":"\([^"]*\)","case":"\([0-9a-f]*\)".*/\1 \2 \3/p' "$1" |
        awk -v f="${2:-}" 'f == "" || $2 == f' | sort -n
}

check() {  # check RECIPE ITERATIONS FORMAT OTHER-FORMAT
    r=$1 n=$2 f=$3 g=$4
    recipe "$r" "$TMPD/$r-all" --seed 42 --iterations "$n"; rc=$?
    ok $([ $rc -eq 0 ]; echo $?) "$r: the full run passes (exit $rc)"
    recipe "$r" "$TMPD/$r-$f" --seed 42 --iterations "$n" --only-formats "$f"; rc=$?
    ok $([ $rc -eq 0 ]; echo $?) "$r --only-formats $f: passes (exit $rc)"
    keys "$TMPD/$r-all/stats.jsonl" "$f" >"$TMPD/want"
    keys "$TMPD/$r-$f/stats.jsonl" >"$TMPD/got"
    ok $([ -s "$TMPD/want" ]; echo $?) "$r: seed 42 draws $f cases in $n iterations"
    keys "$TMPD/$r-all/stats.jsonl" "$g" | grep -q .
    ok $? "$r: and $g cases"
    cmp -s "$TMPD/want" "$TMPD/got"
    ok $? "$r --only-formats $f: the same iterations and case keys as the full run's $f cases"
    [ $? -eq 0 ] || diff "$TMPD/want" "$TMPD/got" | sed 's/^/# /'
    kept=$(wc -l <"$TMPD/got") all=$(keys "$TMPD/$r-all/stats.jsonl" | wc -l)
    grep -q "\"skipped\": *$((all - kept))" "$TMPD/$r-$f/summary.json"
    ok $? "$r --only-formats $f: summary counts $((all - kept)) skipped"
}

check resize-diff 10 qcow2 raw
check resize-consistency 8 vmdk vhdx

recipe resize-diff "$TMPD/bad" --seed 42 --iterations 1 --only-formats vmdk; rc=$?
ok $([ $rc -eq 2 ]; echo $?) "--only-formats with a format the recipe has not is a usage error (exit $rc)"
grep -q "only-formats: unknown format 'vmdk'" "$TMPD/bad.log"
ok $? "and says which"

done_testing
