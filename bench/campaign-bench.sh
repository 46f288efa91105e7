#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-bench.sh -- campaigns at scale (part of `make bench'), JSON lines:
#   campaign-slurm-*   a 4-shard resize-diff campaign on a private
#                      one-node Slurm cluster (started here, stopped by
#                      pid; tests/slurm-cluster.sh) against the same work
#                      with --jobs 1 in one local process: both wall
#                      times and their ratio (the node has `nproc' CPUs),
#                      and whether the merged summary equals the local one
#   campaign-merge     `findings merge' of 8 synthetic shard stores
#                      holding 10,000 findings (bench/synthetic-stores.py)
# Skips the Slurm part, saying so, when slurm-wlm or munge is missing.
. "$(dirname "$0")/bench-lib.sh"
PYTHON3=${PYTHON3:-python3}
ITER=${CAMPAIGN_BENCH_ITERATIONS:-40}
SHARDS=4
MERGE_STORES=8
MERGE_FINDINGS=${CAMPAIGN_BENCH_FINDINGS:-10000}
pids=
. "$srcdir/tests/slurm-cluster.sh"
trap 'slurm_stop; rm -rf "$d"' EXIT
trap 'exit 1' INT TERM HUP
fz() { "$builddir/pre-inst-env" instar-fuzz "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

missing=
for t in $slurm_tools; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
if [ -z "$QEMU_IMG" ] || [ -z "$QEMU_IO" ]; then
    echo '{"bench": "campaign-slurm", "skipped": "qemu-img or qemu-io missing"}'
elif [ -n "$missing" ]; then
    echo "{\"bench\": \"campaign-slurm\", \"skipped\": \"slurm-wlm or munge not installed (missing:$missing)\"}"
elif ! slurm_start "$d/slurm"; then
    echo "{\"bench\": \"campaign-slurm\", \"skipped\": \"the private Slurm cluster did not start (logs: $(tail -1 "$d"/slurm/log/slurmctld.log 2>/dev/null | tr -d '"\\'))\"}"
    slurm_stop
else
    opts="--instar $QEMU_IMG --reduce-time 5 --tmpdir $d"
    t0=$(now)
    # shellcheck disable=SC2086
    fz run resize-diff --seed 42 --iterations "$ITER" --jobs 1 --out "$d/local" -q $opts \
        >"$d/local.log" 2>&1
    t1=$(now)
    # shellcheck disable=SC2086
    fz campaign slurm --shards $SHARDS --seed 42 --iterations "$ITER" --wait \
        --out "$d/campaign" resize-diff $opts >"$d/campaign.log" 2>&1
    t2=$(now)
    slurm_stop
    if "$PYTHON3" "$srcdir/tests/campaign-compare.py" "$d/local" "$d/campaign/merged" \
        >"$d/compare.log" 2>&1; then equal=true; else equal=false; fi
    lw=$(secs "$t0" "$t1") sw=$(secs "$t1" "$t2")
    # The shards' own seconds, summed: the same work as the local run's.
    shard_secs=$("$PYTHON3" -c 'import json, sys; print("%.2f" % json.load(open(sys.argv[1]))["shard-seconds"])' \
        "$d/campaign/merged/summary.json" 2>/dev/null || echo null)
    echo "{\"bench\": \"campaign-local-jobs1-wall\", \"unit\": \"s\", \"value\": $lw, \"iterations\": $ITER}"
    echo "{\"bench\": \"campaign-slurm-wall\", \"unit\": \"s\", \"value\": $sw, \"iterations\": $ITER, \"shards\": $SHARDS, \"node-cpus\": $(nproc), \"shard-seconds-sum\": $shard_secs, \"merged-equals-local\": $equal}"
    echo "{\"bench\": \"campaign-slurm-speedup\", \"unit\": \"local wall / slurm wall\", \"value\": $(awk -v a="$lw" -v b="$sw" 'BEGIN { printf "%.2f", a / b }'), \"shards\": $SHARDS, \"node-cpus\": $(nproc)}"
fi

if command -v "$PYTHON3" >/dev/null 2>&1; then
    "$PYTHON3" "$srcdir/bench/synthetic-stores.py" "$d/stores" $MERGE_STORES "$MERGE_FINDINGS"
    set --
    for i in $(seq 1 $MERGE_STORES); do set -- "$@" "$d/stores/$i"; done
    t0=$(now)
    fz findings merge "$@" --into "$d/merged" >"$d/merge.log" 2>&1
    t1=$(now)
    n=$(ls "$d/merged/findings" | wc -l)
    echo "{\"bench\": \"campaign-merge\", \"unit\": \"s\", \"value\": $(secs "$t0" "$t1"), \"stores\": $MERGE_STORES, \"findings\": $n}"
else
    echo "{\"bench\": \"campaign-merge\", \"skipped\": \"no $PYTHON3\"}"
fi
