#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-replay.sh -- replay the committed seed corpus and every saved crash
# input through gcc builds of the fuzz targets (no libFuzzer): fixed bugs
# stay fixed, and the corpus is never empty.
. "$abs_top_srcdir/tests/lib.sh"

for t in planners engine; do
    bin="$abs_top_builddir/core/fuzz/replay-resize-$t"
    require "$bin" "replay-resize-$t"
    corpus="$abs_top_srcdir/corpus/fuzz_resize_$t"
    crashes="$abs_top_srcdir/corpus/crashes/fuzz_resize_$t"
    n=$(find "$corpus" -type f ! -name README ! -name '.*' | wc -l)
    [ "$n" -ge 10 ]
    ok $? "fuzz_resize_$t: seed corpus has $n inputs"
    # libFuzzer cuts every input to the target's max_len as it loads the
    # corpus: a longer seed is never run whole by make fuzz-resize (and a
    # marked one loses its mark), so each must fit.
    max=$(sed -n 's/^max_len *= *\([0-9]*\)$/\1/p' "$abs_top_srcdir/core/fuzz/fuzz_resize_$t.options")
    long=$(find "$corpus" "$crashes" -type f ! -name README ! -name '.*' -size +"${max:-0}"c 2>/dev/null | wc -l)
    [ -n "$max" ] && [ "$long" -eq 0 ]
    ok $? "fuzz_resize_$t: every corpus and crash input fits max_len ($max bytes; $long longer)"
    "$bin" "$corpus" >"$TMPD/out" 2>"$TMPD/err"
    st=$?
    [ $st -eq 0 ] || tail -20 "$TMPD/err" | sed 's/^/# /'
    ok $st "fuzz_resize_$t: corpus replays clean"
    grep -Fx "replayed $n inputs" "$TMPD/out" >/dev/null
    ok $? "fuzz_resize_$t: every corpus input was run"
    # The execution counter behind make fuzz-resize's status lines.
    head -c 8 /dev/zero >"$TMPD/execs"
    INSTAR_FUZZ_EXEC_COUNTER="$TMPD/execs" "$bin" "$corpus" >/dev/null 2>&1
    c=$(od -An -tu8 -N8 "$TMPD/execs" | tr -d ' ')
    [ "$c" = "$n" ]
    ok $? "fuzz_resize_$t: INSTAR_FUZZ_EXEC_COUNTER counted $c executions of $n"
    m=$(find "$crashes" -type f ! -name README ! -name '.*' 2>/dev/null | wc -l)
    if [ "$m" -gt 0 ]; then
        "$bin" "$crashes" >"$TMPD/out" 2>"$TMPD/err"
        st=$?
        [ $st -eq 0 ] || tail -20 "$TMPD/err" | sed 's/^/# /'
        ok $st "fuzz_resize_$t: $m saved crash inputs replay clean"
    else
        diag "fuzz_resize_$t: no saved crash inputs"
    fi
done

done_testing
