#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-bench.sh -- throughput of the differential engine (part of `make bench').
# Runs resize-diff with qemu-img as the engine under test (so every
# operation is a child process and the "floor" is well defined) for a
# fixed seed with --jobs 1 and --jobs 2, and prints JSON lines: iterations
# per second, and the share of wall time spent inside qemu-img / qemu-io /
# cp children (the floor) -- the rest is orchestration overhead.
. "$(dirname "$0")/bench-lib.sh"
GUILE=${GUILE:-guile}
ITER=${DIFF_BENCH_ITERATIONS:-40}
if [ -z "$QEMU_IMG" ] || [ -z "$QEMU_IO" ]; then
    echo '{"bench": "diff", "skipped": "qemu-img or qemu-io missing"}'
    exit 0
fi
GUILE_LOAD_COMPILED_PATH="$builddir/scm${GUILE_LOAD_COMPILED_PATH:+:$GUILE_LOAD_COMPILED_PATH}"
export GUILE_LOAD_COMPILED_PATH

for jobs in 1 2; do
    "$GUILE" -s "$srcdir/recipes/resize-diff.scm" --instar "$QEMU_IMG" --seed 42 \
        --iterations "$ITER" --jobs "$jobs" --out "$d/out$jobs" --tmpdir "$d" -q \
        >/dev/null 2>&1
    "$GUILE" -c '
(use-modules (json))
(let* ((s (call-with-input-file (cadr (command-line)) json->scm))
       (jobs (string->number (caddr (command-line))))
       (secs (assoc-ref s "seconds"))
       (child (assoc-ref s "child-seconds"))
       (floor-share (/ child (* secs jobs))))
  (format #t "{\"bench\": \"diff-iterations-per-second\", \"unit\": \"it/s\", \"value\": ~,3f, \"jobs\": ~a, \"iterations\": ~a}~%"
          (assoc-ref s "rate") jobs (assoc-ref s "iterations"))
  (format #t "{\"bench\": \"diff-child-share\", \"unit\": \"fraction of worker wall time in child processes\", \"value\": ~,3f, \"jobs\": ~a, \"overhead\": ~,3f}~%"
          floor-share jobs (- 1 floor-share)))' "$d/out$jobs/summary.json" "$jobs"
done
