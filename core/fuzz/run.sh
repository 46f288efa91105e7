#!/bin/sh
# run.sh TARGET -- one libFuzzer session (make fuzz-resize / fuzz-engine).
#
# Environment (set by core/fuzz/local.mk): FUZZ_TIME seconds, FUZZ_JOBS
# parallel workers, FUZZ_DIR (binaries), FUZZ_WORK (scratch corpus and raw
# artifacts), FUZZ_FINDINGS (deduplicated crashes), srcdir.
#
# New inputs go to $FUZZ_WORK/TARGET/corpus (the committed seed corpus is
# read, never written).  Every crash is re-run once to get its signature --
# the INSTAR-FINDING line (target and invariant) or the sanitizer's error
# kind plus its DEDUP_TOKEN (top three frames) -- and kept once per
# signature under $FUZZ_FINDINGS/TARGET/<sha1 of signature>/ with its input,
# report and a minimised copy.  Ends with a one-line summary; exits 1 when
# this session found a new unique crash.
set -u
target=$1
: "${FUZZ_TIME:=60}" "${FUZZ_JOBS:=1}" "${FUZZ_DIR:=fuzz-build}" "${FUZZ_WORK:=fuzz-work}"
: "${FUZZ_FINDINGS:=fuzz-findings}" "${srcdir:=.}"
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
echo "fuzz: $target for ${FUZZ_TIME}s, $FUZZ_JOBS worker(s); log in $log"
# Fork mode keeps going after a crash (-ignore_crashes), so one session
# collects every crash it meets; workers share the scratch corpus.
# shellcheck disable=SC2086
"$bin" -fork="$FUZZ_JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$FUZZ_TIME" -artifact_prefix="$work/artifacts/" $dict $opts \
    "$work/corpus" "$seeds" >"$log" 2>&1
status=$?

# The parent's last status line: "#RUNS: cov: C ft: F corp: N ...".
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
runs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
cov=$(printf '%s' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
after=$(find "$work/corpus" -type f | wc -l)

# Triage: one folder per signature.
new=0
dups=0
for a in "$work/artifacts"/crash-* "$work/artifacts"/leak-* "$work/artifacts"/timeout-* \
         "$work/artifacts"/oom-*; do
    [ -f "$a" ] || continue
    kind=$(basename "$a" | sed 's/-.*//')
    out="$work/repro.txt"
    "$bin" -runs=1 "$a" >"$out" 2>&1
    sig=$(grep -m1 '^INSTAR-FINDING:' "$out")
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
            "$bin" -minimize_crash=1 -max_total_time=30 -exact_artifact_path="$dir/minimized" \
                "$dir/input" >"$dir/minimize.log" 2>&1
            [ -f "$dir/minimized" ] || cp "$dir/input" "$dir/minimized"
        fi
        new=$((new + 1))
        echo "fuzz: NEW finding $dir: $sig"
    fi
    rm -f "$a"
done
unique=$(find "$findings" -mindepth 1 -maxdepth 1 -type d | wc -l)
echo "fuzz: $target: ${runs:-?} runs, cov ${cov:-?}, corpus $before -> $after, new unique crashes $new (duplicates $dups), unique crashes kept $unique"
echo "SUMMARY $target runs=${runs:-0} cov=${cov:-0} corpus=$after new_crashes=$new unique_crashes=$unique" >"$work/summary"
if [ "$status" -ne 0 ] && [ -z "$runs" ]; then
    echo "fuzz: $target did not run (status $status); see $log" >&2
    exit 2
fi
[ "$new" -eq 0 ]
