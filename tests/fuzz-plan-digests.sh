#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-plan-digests.sh -- every plan over the fuzz corpora (seeds and saved
# crashes) and a fixed set of variants of each (core/fuzz/plan-digest.c)
# digests as recorded in tests/plan-digests/: work that makes the
# planners faster must leave every plan, refusal and need byte-identical.
# A deliberate change of plans re-records them (make plan-digests) and
# says why in its commit.
. "$abs_top_srcdir/tests/lib.sh"

bin="$abs_top_builddir/core/fuzz/plan-digest"
require "$bin" "plan-digest"
for t in planners engine; do
    want="$abs_top_srcdir/tests/plan-digests/$t.txt"
    # The recorded inputs, not whatever the corpus holds now: a corpus
    # grown later is not judged against digests it never had.
    set --
    for name in $(cut -d' ' -f1 "$want" | uniq); do
        f="$abs_top_srcdir/corpus/fuzz_resize_$t/$name"
        [ -f "$f" ] || f="$abs_top_srcdir/corpus/crashes/fuzz_resize_$t/$name"
        set -- "$@" "$f"
    done
    n=$#
    [ "$n" -ge 10 ]
    ok $? "$t: $n recorded inputs"
    "$bin" "$t" "$@" >"$TMPD/$t.txt" 2>"$TMPD/err"
    ok $? "$t: plan-digest ran"
    diff "$want" "$TMPD/$t.txt" >"$TMPD/diff"
    st=$?
    [ $st -eq 0 ] || head -20 "$TMPD/diff" | sed 's/^/# /'
    ok $st "$t: $(wc -l <"$want") plans byte-identical to the recorded ones"
done
done_testing
