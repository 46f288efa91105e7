#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-slurm.sh -- `instar-fuzz campaign slurm' on a real Slurm: the
# test starts munged, slurmctld and slurmd itself (one node, loopback
# only, every file in a private directory, free ports), submits a
# 4-shard campaign, waits for the merge job, and compares the merged
# summary with a local --jobs 1 run of the same seed and iterations.
# Then resume (only an incomplete shard runs again) and a refusal (another
# campaign in the same directory).  The daemons are stopped by pid.
. "$abs_top_srcdir/tests/campaign-lib.sh"
for t in $slurm_tools; do
    require "$(command -v $t)" "$t (Debian: slurm-wlm, munge)"
done

S="$TMPD/slurm"
pids=
trap 'slurm_stop; rm -rf "$TMPD"' EXIT
trap 'exit 1' INT TERM HUP
slurm_start "$S"; st=$?
ok $([ -n "$munged_pid" ] && [ -S "$S/munge/socket" ]; echo $?) "munged (pid $munged_pid) listens on a private socket"
ok $st "slurmctld (pid $ctld_pid) and slurmd (pid $d_pid): the node is idle"
if [ $st -ne 0 ]; then
    diag "$(tail -5 "$S"/log/* 2>&1)"
    echo "Bail out! Slurm did not start"
    exit 1
fi

local_run "$TMPD/local"; rc=$?
ok $([ $rc -eq 1 ]; echo $?) "local --jobs 1 run: findings (exit $rc)"

D="$TMPD/campaign"
camp() {  # camp ARGS...: campaign slurm of this test's campaign, waited for
    # shellcheck disable=SC2086
    timeout 600 "$abs_top_builddir/pre-inst-env" instar-fuzz campaign slurm --shards 4 \
        --seed $SEED --iterations $ITERATIONS --partition instartest --wait "$@" \
        resize-diff $RECIPE_OPTS
}
camp --out "$D" >"$TMPD/c1.log" 2>&1; rc=$?
diag "$(cat "$TMPD/c1.log")"
ok $([ $rc -eq 1 ]; echo $?) "campaign slurm --wait: findings (exit $rc)"
grep -q '^campaign .*: job array [0-9]* (shards 1,2,3,4 of 4), merge job [0-9]*$' "$TMPD/c1.log"
ok $? "one job array of 4 shards and a merge job"
ls "$D"/slurm/shard-[1-4]-*.log >/dev/null 2>&1 && [ "$(ls "$D"/slurm/shard-*.log | wc -l)" -eq 4 ]
ok $? "Slurm ran 4 array tasks (their logs)"
ls "$D"/slurm/merge-*.log >/dev/null 2>&1
ok $? "Slurm ran the merge job (its log)"
check_first_campaign "$D" "$TMPD/local"

# Resume: shard 3 incomplete (its summary gone, as after a node failure
# before the end); only shard 3 runs again.
others=$(sha "$D/shards/1/summary.json" "$D/shards/2/summary.json" "$D/shards/4/summary.json")
rm "$D/shards/3/summary.json"
camp --out "$D" >"$TMPD/c2.log" 2>&1; rc=$?
diag "$(head -1 "$TMPD/c2.log")"
grep -q '(shards 3 of 4)' "$TMPD/c2.log"
ok $? "resubmitted: the array holds only the incomplete shard 3 (exit $rc)"
ok $([ "$(sha "$D/shards/1/summary.json" "$D/shards/2/summary.json" "$D/shards/4/summary.json")" = "$others" ]; echo $?) \
    "the complete shards did not run again"
compare "$TMPD/local" "$D/merged"
ok $? "after the resume the merged summary still equals the local run"
camp --out "$D" >"$TMPD/c3.log" 2>&1; rc=$?
grep -q 'every shard complete; merge job' "$TMPD/c3.log"
ok $? "all complete: only a merge job is submitted (exit $rc)"

# Another campaign in the same directory: refused, nothing changed.
before=$(sha "$D/campaign.json" "$D/merged/summary.json")
# shellcheck disable=SC2086
"$abs_top_builddir/pre-inst-env" instar-fuzz campaign slurm --shards 4 --seed 8 \
    --iterations $ITERATIONS --out "$D" resize-diff $RECIPE_OPTS >"$TMPD/c4.log" 2>&1; rc=$?
grep -q 'holds another campaign' "$TMPD/c4.log"
ok $([ $? -eq 0 ] && [ $rc -eq 2 ] && [ "$(sha "$D/campaign.json" "$D/merged/summary.json")" = "$before" ]; echo $?) \
    "another seed in the same --out: refused (exit $rc), files untouched"

# Stop the daemons (by pid) and see nothing of them left.
started="$pids"
slurm_stop
left=
for p in $started; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
ok $([ -z "$left" ]; echo $?) "munged, slurmctld, slurmd stopped${left:+ (left:$left)}"
steps=$(ps -eo args= | grep -c "[s]lurmstepd.*$S" )
ok $([ "$steps" -eq 0 ]; echo $?) "no slurmstepd of this cluster left ($steps)"

done_testing
