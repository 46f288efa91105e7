#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# cli-instar-fuzz.sh -- the instar-fuzz command: recipes run by name from
# any directory, replay by ID with the recorded engine (or --instar), one
# findings table over two output directories, an exact merge, show, the
# REPL with (instar), and the exit statuses (2 usage, 3 environment).
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
WRONG="$abs_top_srcdir/tests/wrong-engines"
export QEMU_IMG QEMU_IO
fz() { "$abs_top_builddir/pre-inst-env" instar-fuzz "$@"; }
cd "$TMPD" || exit 99

fz --version >out 2>&1
ok $([ $? -eq 0 ] && grep -q '^instar-fuzz [0-9]' out; echo $?) "--version"
fz --help >out 2>&1
ok $([ $? -eq 0 ] && grep -q 'findings merge A B... --into C' out; echo $?) "--help lists the commands"
fz frobnicate >out 2>&1
ok $([ $? -eq 2 ]; echo $?) "an unknown command is a usage error (2)"
fz run no-such-recipe >out 2>&1; rc=$?
ok $([ $rc -eq 2 ] && grep -q 'known: .*resize-diff' out; echo $?) "an unknown recipe: exit 2, the known ones named"
fz recipes >out 2>&1
ok $([ $? -eq 0 ] && grep -q '^resize-consistency ' out; echo $?) "recipes lists the build tree's recipes"
fz findings list no-such-dir >out 2>&1
ok $([ $? -eq 2 ]; echo $?) "findings list of a missing directory: exit 2"

# Two stores with the same wrong engine, from a directory that is not the tree.
common="--instar $WRONG/wrong-rounding --tmpdir $TMPD --reduce-time 1 -q --formats raw --ops resize,resize-shared"
# shellcheck disable=SC2086
fz run resize-diff $common --out A --seed 7 --iterations 16 >a.log 2>&1; rc=$?
ok $([ $rc -eq 1 ] && [ "$(ls A/findings | wc -l)" -eq 1 ]; echo $?) "run resize-diff by name: one finding (exit $rc)"
# shellcheck disable=SC2086
fz run resize-diff $common --out B --seed 1001 --iterations 6 >b.log 2>&1; rc=$?
ok $([ $rc -eq 1 ] && [ "$(ls B/findings | wc -l)" -eq 1 ]; echo $?) "a second store (exit $rc)"
sig=$(ls A/findings)
ok $([ "$(ls B/findings)" = "$sig" ]; echo $?) "the same bug has the same ID in both stores"
ha=$(ls "A/findings/$sig/hits" | wc -l) hb=$(ls "B/findings/$sig/hits" | wc -l)

fz replay "$sig" --out A >r.log 2>&1; rc=$?
ok $([ $rc -eq 1 ] && grep -q "^engine: .*wrong-rounding" r.log; echo $?) \
    "replay ID: the recorded engine reproduces it (exit $rc)"
fz replay "$(echo "$sig" | cut -c1-8)" --out A --instar "$QEMU_IMG" >r.log 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q "^engine: .*qemu-img" r.log; echo $?) \
    "replay PREFIX --instar: the override is used (exit $rc)"

fz findings list A B >list.log 2>&1; rc=$?
row=$(grep "^$(echo "$sig" | cut -c1-16) " list.log)
hits=$(echo "$row" | awk '{print $4}')
ok $([ $rc -eq 0 ] && [ "$hits" -eq $((ha + hb)) ]; echo $?) "list A B: one row, hits added ($ha + $hb = $hits)"
echo "$row" | grep -q ' divergence  open ' && echo "$row" | grep -q 'raw .*differs'
ok $? "list: kind, status and title"
grep -q '^1 finding: 1 open, 0 flaky, 0 fixed$' list.log
ok $? "list: the totals line"

fz findings merge A B --into C >m.log 2>&1; rc=$?
hc=$(ls "C/findings/$sig/hits" | wc -l)
ok $([ $rc -eq 0 ] && [ "$hc" -eq $((ha + hb)) ]; echo $?) "merge A B --into C: hits added exactly ($hc)"
fz findings merge A B --into C >m.log 2>&1
ok $([ "$(ls "C/findings/$sig/hits" | wc -l)" -eq "$hc" ]; echo $?) "merging again counts nothing twice"
grep -q "\"hits\": $hc" "C/findings/$sig/finding.json"
ok $? "merge: finding.json's hit count"
fz findings merge A >m.log 2>&1
ok $([ $? -eq 2 ]; echo $?) "merge without --into: exit 2"

fz findings show "$(echo "$sig" | cut -c1-6)" C >show.log 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q "^id: *$sig" show.log && grep -q '^repro.sh:' show.log \
    && grep -q '^engine: *external .*wrong-rounding xxh3-128:' show.log; echo $?) \
    "show PREFIX: the finding, its engine and files"

# The REPL loads (instar): the run loop and the store are there.
echo '(display (list (procedure? run-recipe) (procedure? merge-stores!) (procedure? plan-resize-raw)))' |
    fz repl -q >repl.log 2>&1
grep -q '(#t #t #t)' repl.log
ok $? "repl: (instar) loaded"

# The README's command keeps working beside the new one.
"$abs_top_builddir/pre-inst-env" guile --no-auto-compile -s "$abs_top_srcdir/recipes/resize-diff.scm" \
    --instar "$QEMU_IMG" --seed 42 --iterations 2 --out D -q --tmpdir "$TMPD" >d.log 2>&1
ok $? "guile -s recipes/resize-diff.scm --seed 42 still runs"

done_testing
