#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# coverage.sh -- line/branch coverage of the resize planners
# (core/resize/*.c) reached by the two resize fuzz targets (make
# fuzz-coverage): the committed seed corpus alone; then, when a
# `make fuzz-resize' left corpora in FUZZ_WORK, the seeds plus those; then
# (FUZZ_TIME > 0) after a planner-target libFuzzer session of FUZZ_TIME
# seconds started from the seeds.
#
# Builds both targets with the replay driver and clang source-based
# coverage (-fprofile-instr-generate -fcoverage-mapping) into
# fuzz-coverage/, replays the inputs, merges the two targets' profiles and
# reports per planner file with llvm-cov.
set -eu
: "${FUZZ_CC:=clang}" "${FUZZ_TIME:=60}" "${srcdir:=.}" "${FUZZ_DIR:=fuzz-build}"
: "${FUZZ_WORK:=fuzz-work}"
: "${FUZZ_CPPFLAGS:=-DHAVE_CONFIG_H -I. -I$srcdir/core/include -I$srcdir/core}"
: "${FUZZ_SOURCES:?list of core sources}"
LLVM_COV=${LLVM_COV:-llvm-cov}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
dir=fuzz-coverage
mkdir -p "$dir/obj" "$dir/corpus"
flags="-O0 -g -fprofile-instr-generate -fcoverage-mapping"
compile() {  # compile SOURCE -> object path on stdout
    o="$dir/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')"
    # shellcheck disable=SC2086
    $FUZZ_CC $FUZZ_CPPFLAGS $flags -c "$srcdir/$1" -o "$o"
    echo "$o"
}
objs=
for s in $FUZZ_SOURCES core/fuzz/replay-main.c; do
    objs="$objs $(compile "$s")"
done
p_obj=$(compile core/fuzz/fuzz-resize-planners.c)
e_objs=
for s in core/fuzz/fuzz-resize-engine.c core/fuzz/reparse.c core/fuzz/sparse-io.c \
    core/fuzz/engine-input.c core/fuzz/oracle.c; do
    e_objs="$e_objs $(compile "$s")"
done
# shellcheck disable=SC2086
$FUZZ_CC $flags -o "$dir/replay-planners" $objs $p_obj
# shellcheck disable=SC2086
$FUZZ_CC $flags -o "$dir/replay-engine" $objs $e_objs

# Existing directories among the arguments.
dirs() { for d in "$@"; do [ -d "$d" ] && echo "$d"; done; }

report() {  # report LABEL "PLANNER DIRS" "ENGINE DIRS"
    label=$1
    rm -f "$dir"/*.profraw
    # shellcheck disable=SC2046
    LLVM_PROFILE_FILE="$dir/p%p.profraw" "$dir/replay-planners" $(dirs $2) >"$dir/replay.out" 2>/dev/null
    # shellcheck disable=SC2046
    LLVM_PROFILE_FILE="$dir/e%p.profraw" "$dir/replay-engine" $(dirs $3) >"$dir/replay-e.out" 2>/dev/null
    "$LLVM_PROFDATA" merge -sparse "$dir"/*.profraw -o "$dir/$label.profdata"
    # One binary's mapping serves both: the planner sources are the same
    # objects in each.
    "$LLVM_COV" report "$dir/replay-planners" -object "$dir/replay-engine" \
        -instr-profile="$dir/$label.profdata" \
        -show-branch-summary $(ls "$srcdir"/core/resize/*.c) >"$dir/$label.txt"
    echo "== planner coverage, $label (planner target $(sed 's/^replayed //' "$dir/replay.out"), engine target $(sed 's/^replayed //' "$dir/replay-e.out"))"
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

P="$srcdir/corpus/fuzz_resize_planners $srcdir/corpus/crashes/fuzz_resize_planners"
E="$srcdir/corpus/fuzz_resize_engine $srcdir/corpus/crashes/fuzz_resize_engine"
report seeds "$P" "$E"
if [ -n "$(ls "$FUZZ_WORK"/fuzz_resize_planners/corpus "$FUZZ_WORK"/fuzz_resize_engine/corpus 2>/dev/null)" ]; then
    report with-fuzz-work "$P $FUZZ_WORK/fuzz_resize_planners/corpus" \
        "$E $FUZZ_WORK/fuzz_resize_engine/corpus"
fi
if [ "$FUZZ_TIME" -gt 0 ]; then
    if [ ! -x "$FUZZ_DIR/fuzz_resize_planners" ]; then
        echo "coverage.sh: build $FUZZ_DIR/fuzz_resize_planners first (make fuzz-build)" >&2
        exit 1
    fi
    opts=$(sed -n 's/^[[:space:]]*\(max_len\)[[:space:]]*=[[:space:]]*\([0-9]*\).*/-\1=\2/p' \
        "$srcdir/core/fuzz/fuzz_resize_planners.options")
    # Fork mode goes on after a crash, so findings do not cut the run short.
    # shellcheck disable=SC2086
    "$FUZZ_DIR/fuzz_resize_planners" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$FUZZ_TIME" -artifact_prefix="$dir/" \
        -dict="$srcdir/core/fuzz/fuzz_resize_planners.dict" $opts \
        "$dir/corpus" "$srcdir/corpus/fuzz_resize_planners" >"$dir/fuzz.log" 2>&1 || true
    echo "   (libFuzzer: $(grep -E '^#[0-9]+: cov' "$dir/fuzz.log" | tail -1))"
    report "after-${FUZZ_TIME}s" "$P $dir/corpus" "$E"
fi
