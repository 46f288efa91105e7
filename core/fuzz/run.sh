#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run.sh TARGET... -- libFuzzer sessions (make fuzz-resize / fuzz-engine).
#
# Environment (set by core/fuzz/local.mk): FUZZ_TIME seconds (split evenly
# between the targets named), FUZZ_JOBS parallel workers, FUZZ_DIR
# (binaries), FUZZ_WORK (scratch corpus and raw artifacts), FUZZ_FINDINGS
# (deduplicated crashes), FUZZ_STATUS_INTERVAL seconds between status
# lines (default 5), srcdir.
#
# One worker runs plain libFuzzer (fork mode's job restarts and merges cost
# most of its executions); after a crash it starts again with the time
# left, so one session still collects every crash it meets.  FUZZ_JOBS > 1
# uses -fork=N (-ignore_crashes: workers go on after a crash).
#
# While fuzzing, a status line every FUZZ_STATUS_INTERVAL seconds: runs,
# exec/s over the last interval, coverage, corpus size, crashes so far; the
# same figures go to $FUZZ_WORK/TARGET/stats as one JSON object per line.
# Executions come from a counter the targets keep (INSTAR_FUZZ_EXEC_COUNTER,
# core/fuzz/exec-count.h); coverage and corpus from libFuzzer's log.
#
# New inputs go to $FUZZ_WORK/TARGET/corpus (the committed seed corpus is
# read, never written).  Every crash is re-run once to get its signature --
# the INSTAR-FINDING line (target and invariant; for the engine's re-parse
# failures also the reason, numbers blanked) or the sanitizer's error
# kind plus its DEDUP_TOKEN (top three frames) -- and kept once per
# signature under $FUZZ_FINDINGS/TARGET/<sha1 of signature>/ with its input,
# report and a minimised copy.  Ends with a one-line summary per target;
# exits 1 when this session found a new unique crash.
set -u
: "${FUZZ_TIME:=60}" "${FUZZ_JOBS:=1}" "${FUZZ_DIR:=fuzz-build}" "${FUZZ_WORK:=fuzz-work}"
: "${FUZZ_FINDINGS:=fuzz-findings}" "${FUZZ_STATUS_INTERVAL:=5}" "${srcdir:=.}"

# Several targets: one session each, the time split between them.
if [ $# -gt 1 ]; then
    n=$#
    left=$FUZZ_TIME
    rc=0
    for t in "$@"; do
        share=$((left / n))
        [ "$share" -ge 1 ] || share=1
        FUZZ_TIME=$share "${SHELL:-/bin/sh}" "$0" "$t" || rc=1
        left=$((left - share))
        n=$((n - 1))
    done
    exit $rc
fi

target=$1
bin="$FUZZ_DIR/$target"
seeds="$srcdir/corpus/$target"
work="$FUZZ_WORK/$target"
findings="$FUZZ_FINDINGS/$target"
mkdir -p "$work/corpus" "$work/artifacts" "$findings"
export ASAN_OPTIONS="${ASAN_OPTIONS:-dedup_token_length=3:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:dedup_token_length=3}"

# libFuzzer options from the target's .options file ([libfuzzer] key = value).
opts=
if [ -f "$srcdir/core/fuzz/$target.options" ]; then
    opts=$(sed -n 's/^[[:space:]]*\([a-z_]*\)[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/-\1=\2/p' \
        "$srcdir/core/fuzz/$target.options" | grep -v '^-dict=')
fi
dict=
[ -f "$srcdir/core/fuzz/$target.dict" ] && dict="-dict=$srcdir/core/fuzz/$target.dict"

before=$(find "$work/corpus" -type f | wc -l)
log="$work/fuzz.log"
stats="$work/stats"
counter="$work/execs"
if [ "$FUZZ_JOBS" -gt 1 ]; then mode="fork=$FUZZ_JOBS"; else mode=plain; fi
echo "fuzz: $target for ${FUZZ_TIME}s, $FUZZ_JOBS worker(s) ($mode); log in $log"
: >"$log"
: >"$stats"
head -c 8 /dev/zero >"$counter"
export INSTAR_FUZZ_EXEC_COUNTER="$counter"
t0=$(date +%s)

# shellcheck disable=SC2086
if [ "$FUZZ_JOBS" -gt 1 ]; then
    "$bin" -fork="$FUZZ_JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$FUZZ_TIME" -artifact_prefix="$work/artifacts/" $dict $opts \
        "$work/corpus" "$seeds" >>"$log" 2>&1 &
else
    (
        # Plain mode stops at the first crash: go on with the time left.
        # A crash's input never enters the corpus, so a restart resumes
        # where the last one stopped.
        starts=0
        while :; do
            left=$((FUZZ_TIME - ($(date +%s) - t0)))
            [ "$left" -ge 1 ] || exit 0
            "$bin" -max_total_time="$left" -print_final_stats=1 \
                -artifact_prefix="$work/artifacts/" $dict $opts \
                "$work/corpus" "$seeds" >>"$log" 2>&1
            st=$?
            starts=$((starts + 1))
            # Time used up, or a start that fails at once every time.
            [ "$st" -eq 0 ] && exit 0
            [ "$starts" -lt 100 ] || exit "$st"
            echo "fuzz: (libFuzzer stopped with status $st; starting again)" >>"$log"
        done
    ) &
fi
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM

# Executions so far: the targets' counter, or for a target without one
# (built elsewhere) what libFuzzer printed: each finished plain run's
# total plus the current run's last "#N" (fork mode's are cumulative).
execs_now() {
    v=$(od -An -tu8 -N8 "$counter" 2>/dev/null | tr -d ' ')
    if [ "${v:-0}" -eq 0 ]; then
        v=$(awk '/^stat::number_of_executed_units:/ { done += $2; cur = 0; next }
                 /^#[0-9]+/ { n = substr($1, 2); sub(":", "", n); cur = n + 0 }
                 END { print done + cur }' "$log")
    fi
    echo "${v:-0}"
}
# The last libFuzzer line with coverage figures: plain "#N  NEW  cov: C
# ft: F corp: K/SIZE ..." or fork mode's "#N: cov: C ft: F corp: K ...".
log_field() {  # log_field NAME -> last value printed for NAME
    grep -E '^#[0-9]+' "$log" | grep -o " $1: [0-9]*" | tail -1 | sed 's/.*: //'
}
crashes_now() {
    find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l
}
status() {  # status FINAL
    now=$(date +%s)
    el=$((now - t0))
    ex=$(execs_now)
    dt=$((now - last_t))
    if [ "$dt" -gt 0 ]; then rate=$(((ex - last_ex) / dt)); else rate=0; fi
    if [ "$el" -gt 0 ]; then avg=$((ex / el)); else avg=$ex; fi
    cov=$(log_field cov)
    ft=$(log_field ft)
    corp=$(find "$work/corpus" -type f | wc -l)
    cr=$(crashes_now)
    printf '{"target": "%s", "mode": "%s", "elapsed_s": %d, "execs": %s, "exec_per_s": %d, "avg_exec_per_s": %d, "cov": %s, "ft": %s, "corpus": %d, "crashes": %d, "final": %s}\n' \
        "$target" "$mode" "$el" "$ex" "$rate" "$avg" "${cov:-0}" "${ft:-0}" "$corp" "$cr" "$1" >>"$stats"
    [ "$1" = true ] ||
        echo "fuzz: $target ${el}s: $ex runs, $rate exec/s, cov ${cov:-0}, ft ${ft:-0}, corpus $corp, crashes $cr"
    last_t=$now
    last_ex=$ex
}
last_t=$t0
last_ex=0
next=$((t0 + FUZZ_STATUS_INTERVAL))
while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$(date +%s)" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
        status false
        next=$((next + FUZZ_STATUS_INTERVAL))
    fi
done
wait "$pid"
fuzz_rc=$?
trap - INT TERM
elapsed=$(($(date +%s) - t0))
runs=$(execs_now)
cov=$(log_field cov)
[ "$elapsed" -gt 0 ] || elapsed=1
eps=$((runs / elapsed))
last_t=$t0
last_ex=0
status true
after=$(find "$work/corpus" -type f | wc -l)

# Triage: one folder per signature.  The counter is off: re-runs are not
# fuzzing.  A re-run or a minimisation can take a while (minimising is
# given 30 s): each runs in the background while a line is printed every
# FUZZ_STATUS_INTERVAL seconds, so the session is never silent for long.
unset INSTAR_FUZZ_EXEC_COUNTER
with_status() {  # with_status WHAT OUTPUT-FILE COMMAND...
    what=$1 wout=$2
    shift 2
    "$@" >"$wout" 2>&1 &
    wpid=$!
    ws=$(date +%s)
    wnext=$((ws + FUZZ_STATUS_INTERVAL))
    trap 'kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; exit 130' INT TERM
    while kill -0 "$wpid" 2>/dev/null; do
        sleep 0.2
        wnow=$(date +%s)
        if [ "$wnow" -ge "$wnext" ] && kill -0 "$wpid" 2>/dev/null; then
            echo "fuzz: $target triage: $what ($((wnow - ws))s)"
            wnext=$((wnext + FUZZ_STATUS_INTERVAL))
        fi
    done
    wait "$wpid"
    wst=$?
    trap - INT TERM
    return $wst
}
ntriage=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
[ "$ntriage" -eq 0 ] || echo "fuzz: $target: triage of $ntriage artifact(s)"
new=0
dups=0
for a in "$work/artifacts"/crash-* "$work/artifacts"/leak-* "$work/artifacts"/timeout-* \
         "$work/artifacts"/oom-*; do
    [ -f "$a" ] || continue
    kind=$(basename "$a" | sed 's/-.*//')
    out="$work/repro.txt"
    with_status "re-running $(basename "$a")" "$out" "$bin" -runs=1 "$a"
    sig=$(grep -m1 '^INSTAR-FINDING:' "$out")
    # "re-parse failed" covers every way a result can be wrong: the
    # reason (numbers blanked) tells one bug from another.
    case $sig in
    *"re-parse failed"*)
        why=$(grep -A1 -m1 '^INSTAR-FINDING:' "$out" | sed -n 2p |
              sed 's/\b0x[0-9a-fA-F]\+\b/#/g; s/\b[0-9]\+\b/#/g; s/^ *//')
        sig="$sig: $why" ;;
    *": oracle: "*)
        # The oracle's reason is on the line itself: numbers blanked too.
        sig=$(printf '%s\n' "$sig" | sed 's/\b0x[0-9a-fA-F]\+\b/#/g; s/\b[0-9]\+\b/#/g') ;;
    esac
    if [ -z "$sig" ]; then
        err=$(grep -m1 -E '^SUMMARY: ' "$out" | sed 's/^SUMMARY: \([A-Za-z]*Sanitizer\|libFuzzer\): \([^ ]*\).*/\1 \2/')
        tok=$(grep -m1 '^DEDUP_TOKEN:' "$out")
        sig="$kind: ${err:-no summary} ${tok:-}"
    fi
    id=$(printf '%s\n' "$sig" | sha1sum | cut -c1-16)
    dir="$findings/$id"
    if [ -d "$dir" ]; then
        dups=$((dups + 1))
        echo "$(basename "$a")" >>"$dir/duplicates"
    else
        mkdir -p "$dir"
        cp "$a" "$dir/input"
        printf '%s\n' "$sig" >"$dir/signature"
        cp "$out" "$dir/report.txt"
        if [ "$kind" = crash ] || [ "$kind" = leak ]; then
            with_status "minimising $(basename "$a") (at most 30 s)" "$dir/minimize.log" \
                "$bin" -minimize_crash=1 -max_total_time=30 -exact_artifact_path="$dir/minimized" \
                "$dir/input"
            [ -f "$dir/minimized" ] || cp "$dir/input" "$dir/minimized"
        fi
        new=$((new + 1))
        echo "fuzz: NEW finding $dir: $sig"
    fi
    rm -f "$a"
done
unique=$(find "$findings" -mindepth 1 -maxdepth 1 -type d | wc -l)
# Inputs slower than -report_slow_units (10 s) are not crashes, but near
# the timeout: counted, and left in the artifacts directory.
slow=$(find "$work/artifacts" -type f -name 'slow-unit-*' | wc -l)
echo "fuzz: $target ($mode): $runs runs in ${elapsed}s ($eps exec/s), cov ${cov:-?}, corpus $before -> $after, new unique crashes $new (duplicates $dups), unique crashes kept $unique, slow units $slow (in $work/artifacts)"
echo "SUMMARY $target mode=$mode runs=$runs seconds=$elapsed exec_per_s=$eps cov=${cov:-0} corpus=$after new_crashes=$new unique_crashes=$unique slow_units=$slow" >"$work/summary"
if [ "$fuzz_rc" -ne 0 ] && [ "$runs" -eq 0 ]; then
    echo "fuzz: $target did not run (status $fuzz_rc); see $log" >&2
    exit 2
fi
[ "$new" -eq 0 ]
