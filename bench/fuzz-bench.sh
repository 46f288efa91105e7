#!/bin/sh
# fuzz-bench.sh -- `make bench': executions per second of each libFuzzer
# target and of an empty target built with the same flags, in the same run
# and over the same seed corpus; the ratio target/empty is the figure that
# matters (it factors out the machine and libFuzzer's own cost).
#   FUZZ_DIR      where the targets are (make fuzz-build)
#   FUZZ_BENCH_TIME seconds per measurement (default 10)
set -u
: "${FUZZ_DIR:=fuzz-build}" "${FUZZ_BENCH_TIME:=10}" "${srcdir:=.}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/instar-fuzz-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rate() {  # rate BINARY SEEDS -> execs/s (libFuzzer's final average)
    rm -rf "$tmp/c"
    mkdir "$tmp/c"
    "$1" -max_total_time="$FUZZ_BENCH_TIME" -print_final_stats=1 "$tmp/c" "$2" 2>&1 |
        sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p'
}

for t in fuzz_resize_planners fuzz_resize_engine; do
    if [ ! -x "$FUZZ_DIR/$t" ] || [ ! -x "$FUZZ_DIR/fuzz_empty" ]; then
        printf '{"bench": "%s", "unit": "execs/s", "value": null, "skipped": "not built (no clang?)"}\n' "$t"
        continue
    fi
    seeds="$srcdir/corpus/$t"
    r=$(rate "$FUZZ_DIR/$t" "$seeds")
    e=$(rate "$FUZZ_DIR/fuzz_empty" "$seeds")
    ratio=$(awk -v r="${r:-0}" -v e="${e:-0}" 'BEGIN { if (e > 0) printf "%.3f", r / e; else print "null" }')
    printf '{"bench": "%s", "unit": "execs/s", "value": %s, "empty_target_execs_per_s": %s, "ratio_to_empty": %s, "seconds": %s}\n' \
        "$t" "${r:-null}" "${e:-null}" "$ratio" "$FUZZ_BENCH_TIME"
done
