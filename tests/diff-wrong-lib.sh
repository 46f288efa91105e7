# SPDX-License-Identifier: GPL-3.0-or-later
# diff-wrong-lib.sh -- sourced by tests/diff-wrong-*.sh: resize-diff
# against an engine that is wrong on purpose (tests/wrong-engines/:
# qemu-img wrapped, each wrong in one way).  The wrong behaviour must be
# found, deduplicated to one finding, reduced, reproduced by --replay and
# by its repro.sh; a later run counts it under the same finding.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup

diff_run() {  # diff_run ENGINE OUT ARGS...
    engine=$1 out=$2; shift 2
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --instar "$WRONG/$engine" --out "$out" --tmpdir "$TMPD" \
        --reduce-time 2 -q "$@"
}

check_engine() {  # check_engine ENGINE EXPECTED-SHAPE ARGS...
    engine=$1 shape=$2; shift 2
    out="$TMPD/$engine"
    diff_run "$engine" "$out" "$@" >"$TMPD/$engine.log" 2>&1; rc=$?
    ok $([ $rc -eq 1 ]; echo $?) "$engine: found (exit $rc)"
    n=$(ls "$out/findings" 2>/dev/null | wc -l)
    ok $([ "$n" -eq 1 ]; echo $?) "$engine: one finding for one wrong behaviour ($n)"
    sig=$(ls "$out/findings" | head -1)
    dir="$out/findings/$sig"
    got=$(sed -n 's/^ *"shape": "\(.*\)",*$/\1/p' "$dir/finding.json")
    ok $([ "$got" = "$shape" ]; echo $?) "$engine: shape $got"
    for f in finding.json reduced.json repro.sh; do
        ok $([ -s "$dir/$f" ]; echo $?) "$engine: $f written"
    done
    grep -q '"seed"' "$dir/finding.json" && grep -q '"outputs"' "$dir/finding.json"
    ok $? "$engine: finding.json has the seed and every oracle's output"
    ENGINE="$WRONG/$engine" sh "$dir/repro.sh" >"$TMPD/repro.log" 2>&1; rc=$?
    ok $([ $rc -eq 1 ]; echo $?) "$engine: repro.sh reproduces (exit $rc)"
    # From another directory, with the engine it recorded (absolute paths).
    (cd / && env -u ENGINE -u QEMU_IMG -u QEMU_IO sh "$dir/repro.sh") >"$TMPD/repro.log" 2>&1; rc=$?
    grep -q '^engine .*: 127$' "$TMPD/repro.log"; ran=$?
    ok $([ $rc -eq 1 ] && [ $ran -ne 0 ]; echo $?) "$engine: repro.sh reproduces from / (exit $rc)"
    ENGINE="$TMPD/no-such-engine" sh "$dir/repro.sh" >"$TMPD/repro.log" 2>&1; rc=$?
    grep -q 'ENGINE not found' "$TMPD/repro.log"
    ok $([ $? -eq 0 ] && [ $rc -eq 3 ]; echo $?) "$engine: repro.sh exits 3 when a tool is missing (exit $rc)"
    diff_run "$engine" "$out" --replay "$sig" "$@" >"$TMPD/replay.log" 2>&1; rc=$?
    grep -q "^signature: $sig" "$TMPD/replay.log"
    ok $([ $? -eq 0 ] && [ $rc -eq 1 ]; echo $?) "$engine: --replay $sig reproduces (exit $rc)"
    # Without --instar: the engine the finding recorded, not the in-process one.
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --out "$out" --tmpdir "$TMPD" -q \
        --replay "$sig" >"$TMPD/replay.log" 2>&1; rc=$?
    # (the recorded path is canonical: compare the name, $WRONG may hold "..")
    grep -q "^engine: $engine (external /.*/wrong-engines/$engine)" "$TMPD/replay.log"
    ok $([ $? -eq 0 ] && [ $rc -eq 1 ]; echo $?) "$engine: --replay $sig uses the recorded engine (exit $rc)"
    si=$(sed -n 's/^ *"replay": "\(.*\)",*$/\1/p' "$dir/finding.json")
    diff_run "$engine" "$out" --replay "$si" "$@" >"$TMPD/replay.log" 2>&1; rc=$?
    grep -q "^signature: $sig" "$TMPD/replay.log"
    ok $([ $? -eq 0 ] && [ $rc -eq 1 ]; echo $?) "$engine: --replay $si reproduces (exit $rc)"
    hits=$(ls "$dir/hits" | wc -l)
    # A later run with another seed: counted, not duplicated, not new --
    # and still a failure (the stored finding still fails its replays).
    # (Other seeds may draw cases another oracle catches -- an independent
    # reader, say -- as findings of their own shape: only the stored
    # finding's shape must not be duplicated.)
    diff_run "$engine" "$out" "$@" --seed 1001 --iterations 6 >"$TMPD/$engine.log2" 2>&1; rc=$?
    shape1=$(sed -n 's/^ *"shape": "\(.*\)",*$/\1/p' "$dir/finding.json" | head -1)
    n=$(grep -l "^ *\"shape\": \"$shape1\"" "$out"/findings/*/finding.json | wc -l)
    hits2=$(ls "$dir/hits" | wc -l)
    ok $([ $rc -eq 1 ] && [ "$n" -eq 1 ] && [ "$hits2" -gt "$hits" ]; echo $?) \
        "$engine: seen again is counted ($hits -> $hits2 hits, exit $rc, $n finding of its shape)"
    grep -q '^1 stored finding replayed: 1 still fail, 0 fixed, 0 flaky$' "$TMPD/$engine.log2"
    ok $? "$engine: the rerun replays the stored finding first"
}

