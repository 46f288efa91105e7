#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# coverage.sh -- planner line/branch coverage of fuzz_resize_planners
# (make fuzz-coverage): the seed corpus alone, then (FUZZ_TIME > 0) after a
# libFuzzer session of FUZZ_TIME seconds started from it.
#
# Builds the target with the replay driver and clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) into fuzz-coverage/, replays
# the inputs, and reports per planner file (core/resize/*.c) with llvm-cov.
set -eu
: "${FUZZ_CC:=clang}" "${FUZZ_TIME:=60}" "${srcdir:=.}" "${FUZZ_DIR:=fuzz-build}"
: "${FUZZ_CPPFLAGS:=-DHAVE_CONFIG_H -I. -I$srcdir/core/include -I$srcdir/core}"
: "${FUZZ_SOURCES:?list of core sources}"
LLVM_COV=${LLVM_COV:-llvm-cov}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
dir=fuzz-coverage
mkdir -p "$dir/obj" "$dir/corpus"
flags="-O0 -g -fprofile-instr-generate -fcoverage-mapping"
objs=
for s in $FUZZ_SOURCES core/fuzz/fuzz-resize-planners.c core/fuzz/replay-main.c; do
    o="$dir/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
    # shellcheck disable=SC2086
    $FUZZ_CC $FUZZ_CPPFLAGS $flags -c "$srcdir/$s" -o "$o"
    objs="$objs $o"
done
# shellcheck disable=SC2086
$FUZZ_CC $flags -o "$dir/replay-planners" $objs

report() {  # report LABEL DIR...
    label=$1; shift
    rm -f "$dir"/*.profraw
    LLVM_PROFILE_FILE="$dir/%p.profraw" "$dir/replay-planners" "$@" >"$dir/replay.out" 2>/dev/null
    "$LLVM_PROFDATA" merge -sparse "$dir"/*.profraw -o "$dir/$label.profdata"
    "$LLVM_COV" report "$dir/replay-planners" -instr-profile="$dir/$label.profdata" \
        -show-branch-summary $(ls "$srcdir"/core/resize/*.c) >"$dir/$label.txt"
    echo "== planner coverage, $label ($(cat "$dir/replay.out"))"
    # Filename Regions Missed Cover Functions Missed Cover Lines Missed Cover Branches Missed Cover
    # Per file, then per format (files named raw*, qcow2*, vhd.c/vhd-*,
    # vhdx*, vmdk*; the rest is shared).
    awk 'NR > 2 && $1 !~ /^-/ && NF >= 13 && $1 != "TOTAL" {
            n = split($1, p, "/"); f = p[n]
            printf "  %-18s lines %6s of %5s   branches %6s of %5s\n", f, $10, $8, $13, $11
            fmt = "shared"
            if (f ~ /^qcow2/) fmt = "qcow2"
            else if (f ~ /^vhdx/) fmt = "vhdx"
            else if (f ~ /^vhd/) fmt = "vhd"
            else if (f ~ /^vmdk/) fmt = "vmdk"
            else if (f ~ /^raw/) fmt = "raw"
            L[fmt] += $8; LM[fmt] += $9; B[fmt] += $11; BM[fmt] += $12 }
        END { for (k in L)
                printf "  format %-11s lines %5.1f%% of %5d   branches %5.1f%% of %5d\n", k,
                    L[k] ? 100 * (L[k] - LM[k]) / L[k] : 0, L[k],
                    B[k] ? 100 * (B[k] - BM[k]) / B[k] : 0, B[k] }' "$dir/$label.txt"
}

report seeds "$srcdir/corpus/fuzz_resize_planners"
if [ "$FUZZ_TIME" -gt 0 ]; then
    if [ ! -x "$FUZZ_DIR/fuzz_resize_planners" ]; then
        echo "coverage.sh: build $FUZZ_DIR/fuzz_resize_planners first (make fuzz-build)" >&2
        exit 1
    fi
    # Fork mode goes on after a crash, so findings do not cut the run short.
    "$FUZZ_DIR/fuzz_resize_planners" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$FUZZ_TIME" -artifact_prefix="$dir/" \
        -dict="$srcdir/core/fuzz/fuzz_resize_planners.dict" -max_len=73760 \
        "$dir/corpus" "$srcdir/corpus/fuzz_resize_planners" >"$dir/fuzz.log" 2>&1 || true
    echo "   (libFuzzer: $(grep -E '^#[0-9]+: cov' "$dir/fuzz.log" | tail -1))"
    report "after-${FUZZ_TIME}s" "$srcdir/corpus/fuzz_resize_planners" "$dir/corpus"
fi
