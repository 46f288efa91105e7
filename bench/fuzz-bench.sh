#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-bench.sh -- `make bench': the libFuzzer targets against a target that
# only reads its input once (fuzz_read_once: FNV over every byte), built
# with the same flags and measured side by side in this run, so the ratios
# factor out the machine and libFuzzer's own cost.  JSON lines:
#
#   per-input cost: CPU time per execution over the committed seed corpus
#     (each file run R times; a run with R = 1 is subtracted to cancel
#     start-up; the best of FUZZ_BENCH_REPEAT tries, interleaved with the
#     read-once target's, to shrug off other load on the machine);
#   fuzzing rate: executions per second of a plain libFuzzer session of
#     FUZZ_BENCH_TIME seconds from the seed corpus (libFuzzer's final
#     average), target and read-once target with the same options.
#
#   FUZZ_DIR           where the targets are (make fuzz-build)
#   FUZZ_BASE_DIR      optional: the same targets built from an earlier
#                      commit (make fuzz-build FUZZ_DIR=...), measured in
#                      the same loops: "base_*" fields, before -> after
#   FUZZ_BENCH_TIME    seconds per fuzzing-rate measurement (default 5)
#   FUZZ_BENCH_REPEAT  tries per cost measurement (default 3)
set -u
: "${FUZZ_DIR:=fuzz-build}" "${FUZZ_BENCH_TIME:=5}" "${FUZZ_BENCH_REPEAT:=3}" "${srcdir:=.}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/instar-fuzz-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ro="$FUZZ_DIR/fuzz_read_once"

# Children's CPU seconds so far (user + system), from the `times' this
# shell wrote to FILE (a builtin with a redirection runs in this shell; in
# a command substitution it would count a fresh subshell's children).
cpu() {
    sed -n 2p "$1" | awk '{ t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
        printf "%.4f\n", t }'
}

# cost BINARY RUNS FILE... -> CPU seconds of BINARY -runs=RUNS FILE...
cost() {
    b=$1; r=$2; shift 2
    times >"$tmp/t0"
    "$b" -runs="$r" "$@" >/dev/null 2>&1
    times >"$tmp/t1"
    awk -v a="$(cpu "$tmp/t0")" -v b="$(cpu "$tmp/t1")" 'BEGIN { printf "%.4f\n", b - a }'
}

# per_input BINARY RUNS FILE... -> microseconds of CPU per execution.
per_input() {
    b=$1; r=$2; shift 2
    n=$#
    one=$(cost "$b" 1 "$@")
    many=$(cost "$b" "$r" "$@")
    awk -v one="$one" -v many="$many" -v r="$r" -v n="$n" \
        'BEGIN { v = (many - one) / ((r - 1) * n) * 1e6; if (v < 0) v = 0; printf "%.2f\n", v }'
}

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

# rate BINARY SEEDS OPTS... -> execs/s (libFuzzer's final average)
rate() {
    b=$1; seeds=$2; shift 2
    rm -rf "$tmp/c"
    mkdir "$tmp/c"
    # A crash (an older FUZZ_BASE_DIR target meeting a since-fixed bug)
    # leaves its artifact in the private directory, not in the cwd.
    "$b" -max_total_time="$FUZZ_BENCH_TIME" -print_final_stats=1 -artifact_prefix="$tmp/" \
        "$@" "$tmp/c" "$seeds" 2>&1 |
        sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p'
}

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }

for t in fuzz_resize_planners fuzz_resize_engine; do
    if [ ! -x "$FUZZ_DIR/$t" ] || [ ! -x "$ro" ] || [ ! -x "$FUZZ_DIR/fuzz_empty" ]; then
        printf '{"bench": "%s per-input cost", "value": null, "skipped": "not built (no clang?)"}\n' "$t"
        printf '{"bench": "%s fuzzing rate", "value": null, "skipped": "not built (no clang?)"}\n' "$t"
        continue
    fi
    seeds="$srcdir/corpus/$t"
    set -- $(find "$seeds" -type f ! -name README ! -name '.*' | sort)
    # Enough runs that the read-once target's share is well above the
    # clock's 10 ms resolution.
    # Enough runs that the read-once target's share (~100 us an input)
    # is well above the clock's 10 ms resolution with 200+ inputs.
    case $t in
    fuzz_resize_planners) runs=40; goal=3 ;;
    *) runs=40; goal=10 ;;
    esac
    base=
    [ -n "${FUZZ_BASE_DIR:-}" ] && [ -x "$FUZZ_BASE_DIR/$t" ] && base=$FUZZ_BASE_DIR/$t
    tc=
    rc=
    bc=
    i=0
    while [ "$i" -lt "$FUZZ_BENCH_REPEAT" ]; do
        tc=$(min "$tc" "$(per_input "$FUZZ_DIR/$t" "$runs" "$@")")
        rc=$(min "$rc" "$(per_input "$ro" "$runs" "$@")")
        [ -n "$base" ] && bc=$(min "$bc" "$(per_input "$base" "$runs" "$@")")
        i=$((i + 1))
    done
    extra=
    [ -n "$base" ] && extra=$(printf ', "base_us": %s, "base_ratio_to_read_once": %s' "$bc" "$(ratio "$bc" "$rc")")
    printf '{"bench": "%s per-input cost", "unit": "us", "value": %s, "read_once_us": %s, "ratio_to_read_once": %s, "goal_ratio": %s, "inputs": %d, "runs_each": %d%s}\n' \
        "$t" "$tc" "$rc" "$(ratio "$tc" "$rc")" "$goal" "$#" "$runs" "$extra"

    # The target's own libFuzzer options (max_len, timeout) for all three.
    opts=$(sed -n 's/^[[:space:]]*\([a-z_]*\)[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/-\1=\2/p' \
        "$srcdir/core/fuzz/$t.options" 2>/dev/null | grep -v '^-dict=')
    # shellcheck disable=SC2086
    r=$(rate "$FUZZ_DIR/$t" "$seeds" $opts)
    # shellcheck disable=SC2086
    e=$(rate "$ro" "$seeds" $opts)
    # shellcheck disable=SC2086
    z=$(rate "$FUZZ_DIR/fuzz_empty" "$seeds" $opts)
    extra=
    if [ -n "$base" ]; then
        # shellcheck disable=SC2086
        br=$(rate "$base" "$seeds" $opts)
        extra=$(printf ', "base_execs_per_s": %s, "base_ratio_to_read_once": %s' "${br:-null}" "$(ratio "$br" "$e")")
    fi
    printf '{"bench": "%s fuzzing rate", "unit": "execs/s", "value": %s, "read_once_execs_per_s": %s, "ratio_to_read_once": %s, "empty_target_execs_per_s": %s, "ratio_to_empty": %s, "goal_ratio": 0.1, "seconds": %s%s}\n' \
        "$t" "${r:-null}" "${e:-null}" "$(ratio "$r" "$e")" "${z:-null}" "$(ratio "$r" "$z")" \
        "$FUZZ_BENCH_TIME" "$extra"
done
