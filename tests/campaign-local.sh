#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-local.sh -- the campaign machinery without an engine (what a
# Kubernetes Indexed Job or any other scheduler uses): `campaign init'
# records it, `run-shard DIR K' runs shard K (and nothing when it is
# complete), `merge' equals one local run; and the refusals.
. "$abs_top_srcdir/tests/campaign-lib.sh"
ITERATIONS=8
D="$TMPD/campaign"
init() {  # shellcheck disable=SC2086
    fz campaign init --shards 2 --seed $SEED --iterations $ITERATIONS --out "$D" "$@" \
        resize-diff $RECIPE_OPTS
}
init >"$TMPD/init.log" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && [ -s "$D/campaign.json" ] && grep -q 'incomplete: 1,2$' "$TMPD/init.log"; echo $?) \
    "init records the campaign; shards 1,2 to run (exit $rc)"
for k in 1 2; do
    fz campaign run-shard "$D" $k >"$TMPD/s$k.log" 2>&1; rc=$?
    grep -q "\"shard\": \"$k/2\"" "$D/shards/$k/summary.json" 2>/dev/null
    ok $([ $? -eq 0 ] && [ $rc -le 1 ]; echo $?) "run-shard $k: --shard $k/2 into shards/$k (exit $rc)"
done
before=$(sha "$D/shards/1/summary.json")
fz campaign run-shard "$D" 1 >"$TMPD/again.log" 2>&1; rc=$?
grep -q 'shard 1/2 is complete already' "$TMPD/again.log"
ok $([ $? -eq 0 ] && [ $rc -eq 0 ] && [ "$(sha "$D/shards/1/summary.json")" = "$before" ]; echo $?) \
    "run-shard of a complete shard: nothing run (exit $rc)"
init >"$TMPD/init2.log" 2>&1
grep -q 'incomplete: none$' "$TMPD/init2.log"
ok $? "init again: the same campaign, nothing incomplete"

fz campaign merge "$D" >"$TMPD/merge.log" 2>&1; rc=$?
ok $([ $rc -eq 1 ]; echo $?) "merge: findings (exit $rc)"
local_run "$TMPD/local"
compare "$TMPD/local" "$D/merged"
ok $? "merged summary and store equal the local --jobs 1 run"
fz campaign merge "$D" >/dev/null 2>&1
compare "$TMPD/local" "$D/merged"
ok $? "merging again changes nothing (hits are not counted twice)"

# An incomplete shard: merge says so (exit 3).
mv "$D/shards/2/summary.json" "$TMPD/s2.json"
fz campaign merge "$D" >"$TMPD/merge2.log" 2>&1; rc=$?
grep -q '"incomplete-shards": \[' "$D/merged/summary.json" && grep -q '"complete": false' "$D/merged/summary.json"
ok $([ $? -eq 0 ] && [ $rc -eq 3 ]; echo $?) "merge with shard 2 incomplete: complete false (exit $rc)"
mv "$TMPD/s2.json" "$D/shards/2/summary.json"

# Refusals: exit 2, campaign.json untouched.
before=$(sha "$D/campaign.json")
refused() {  # refused WHAT PATTERN ARGS...
    what=$1 pat=$2; shift 2
    fz campaign "$@" >"$TMPD/r.log" 2>&1; rc=$?
    grep -q -- "$pat" "$TMPD/r.log"
    ok $([ $? -eq 0 ] && [ $rc -eq 2 ] && [ "$(sha "$D/campaign.json")" = "$before" ]; echo $?) \
        "$what: refused (exit $rc)"
}
refused "another iteration count in the same --out" 'holds another campaign' \
    init --shards 2 --seed $SEED --iterations 9 --out "$D" resize-diff
refused "a recipe option the campaign sets" '--seed is set by the campaign' \
    init --shards 2 --seed $SEED --out "$TMPD/x" resize-diff --seed 3
refused "no --out" '--out DIR is required' init --shards 2 --seed 1 resize-diff
refused "--shards 0" '--shards wants an integer >= 1' init --shards 0 --seed 1 --out "$TMPD/x" resize-diff
refused "an unknown recipe" 'no recipe no-such' init --shards 2 --seed 1 --out "$TMPD/x" no-such
refused "run-shard K out of range" 'K must be 1..2' run-shard "$D" 3
refused "parallel without --sshloginfile" '--sshloginfile FILE is required' \
    parallel --shards 2 --seed 1 --out "$TMPD/x" resize-diff
ok $([ ! -e "$TMPD/x" ]; echo $?) "a refused campaign writes nothing"

done_testing
