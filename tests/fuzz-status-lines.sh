#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-status-lines.sh -- core/fuzz/run.sh (make fuzz-resize) is never
# silent for longer than its status interval: not while fuzzing, and not
# while it re-runs and minimises the crashes it found afterwards (the
# minimiser alone may take 30 s).  Its summary has exec/s, and stats gets
# one JSON object per status line.  The "fuzzer" is a stand-in with
# libFuzzer's command line: it reports one crash, and its minimiser takes
# 6 s.
. "$abs_top_srcdir/tests/lib.sh"
cd "$TMPD" || exit 99
mkdir -p bin
cat >bin/fuzz_standin <<'EOF'
#!/bin/sh
# Stand-in for a libFuzzer binary: fuzzing (-max_total_time) reports one
# crash the first time, then idles; -runs=1 reproduces it; the minimiser
# is slow.
for a in "$@"; do
    case $a in
    -artifact_prefix=*) prefix=${a#-artifact_prefix=} ;;
    -exact_artifact_path=*) exact=${a#-exact_artifact_path=} ;;
    -minimize_crash=1) minimize=1 ;;
    -runs=1) rerun=1 ;;
    -max_total_time=*) t=${a#-max_total_time=} ;;
    esac
done
if [ -n "${minimize:-}" ]; then
    sleep 6
    printf 'min' >"$exact"
    exit 0
fi
if [ -n "${rerun:-}" ]; then
    echo "==1==ERROR: AddressSanitizer: heap-buffer-overflow"
    echo "SUMMARY: AddressSanitizer: heap-buffer-overflow f1"
    echo "DEDUP_TOKEN: f1--f2--f3"
    exit 1
fi
echo "#2 INITED cov: 10 ft: 12 corp: 1/1b exec/s: 0 rss: 30Mb" >&2
if [ ! -e "$prefix/../crashed-once" ]; then
    : >"$prefix/../crashed-once"
    printf 'boom' >"${prefix}crash-0123456789abcdef"
    echo "#40 NEW cov: 12 ft: 15 corp: 2/3b" >&2
    exit 1
fi
sleep "$t"
echo "stat::number_of_executed_units: 100" >&2
exit 0
EOF
chmod +x bin/fuzz_standin

# Each output line with the second it appeared.
FUZZ_TIME=3 FUZZ_JOBS=1 FUZZ_DIR=bin FUZZ_WORK=work FUZZ_FINDINGS=findings \
    FUZZ_STATUS_INTERVAL=1 srcdir="$abs_top_srcdir" \
    sh "$abs_top_srcdir/core/fuzz/run.sh" fuzz_standin 2>&1 |
    while IFS= read -r line; do echo "$(date +%s) $line"; done >out.txt
cat out.txt | sed 's/^/# /'
ok $(grep -q 'fuzz: NEW finding findings/fuzz_standin/' out.txt; echo $?) "the crash was triaged"
ok $([ "$(cat findings/fuzz_standin/*/minimized)" = min ]; echo $?) "and minimised"
gap=$(awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 } END { print max + 0 }' out.txt)
ok $([ "$gap" -le 3 ]; echo $?) "never more than 3 s without a line at a 1 s interval (longest: ${gap}s)"
grep -q 'fuzz: fuzz_standin triage: minimising crash-0123456789abcdef' out.txt
ok $? "status lines while minimising"
grep -Eq 'fuzz: fuzz_standin \(plain\): [0-9]+ runs in [0-9]+s \([0-9]+ exec/s\)' out.txt
ok $? "the summary has exec/s"
n=$(grep -c '"exec_per_s"' work/fuzz_standin/stats)
s=$(grep -c 'fuzz: fuzz_standin [0-9]*s: .* exec/s' out.txt)
ok $([ "$n" -eq $((s + 1)) ]; echo $?) "stats: one object per status line and the final one ($n = $s + 1)"

done_testing
