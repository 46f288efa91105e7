# SPDX-License-Identifier: GPL-3.0-or-later
# campaign-lib.sh -- sourced by tests/campaign-*.sh: the campaign both
# engines run (resize-diff against a deliberately wrong engine, so there
# are findings to compare), the local --jobs 1 run it must equal, and
# helpers.
. "$abs_top_srcdir/tests/lib.sh"
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
PYTHON3=${PYTHON3:-python3}
require "$(command -v "$PYTHON3")" python3
export QEMU_IMG QEMU_IO GUILE_AUTO_COMPILE=0

WRONG="$abs_top_srcdir/tests/wrong-engines/wrong-rounding"
SEED=7
ITERATIONS=16
# The recipe's options after RECIPE: the same for the local run and
# every shard.
RECIPE_OPTS="--instar $WRONG --formats raw --reduce-time 1 --tmpdir $TMPD"

fz() { "$abs_top_builddir/pre-inst-env" instar-fuzz "$@"; }
# free_port, wait_for, slurm_start, slurm_stop
. "$abs_top_srcdir/tests/slurm-cluster.sh"

# local_run OUT: the reference, one process, one job.
local_run() {
    # shellcheck disable=SC2086
    fz run resize-diff --seed $SEED --iterations $ITERATIONS --jobs 1 --out "$1" -q \
        $RECIPE_OPTS >"$1.log" 2>&1
}

# compare LOCAL MERGED: campaign-compare.py, its output as diagnostics.
compare() {
    "$PYTHON3" "$abs_top_srcdir/tests/campaign-compare.py" "$1" "$2" >"$TMPD/compare.log" 2>&1
    st=$?
    while IFS= read -r l; do diag "$l"; done <"$TMPD/compare.log"
    return $st
}


# sha FILE...: content hashes, to see files left alone.
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }


# Checks shared by both engines, after a first campaign into $1 (DIR)
# and the local run into $2.
check_first_campaign() {
    dir=$1 local_out=$2
    ok $([ -s "$dir/merged/summary.json" ]; echo $?) "the merge wrote $dir/merged/summary.json"
    for k in 1 2 3 4; do
        grep -q "\"shard\": \"$k/4\"" "$dir/shards/$k/summary.json" 2>/dev/null
        ok $? "shard $k ran as --shard $k/4 into its own directory"
    done
    n=$(ls "$local_out/findings" | wc -l)
    ok $([ "$n" -ge 2 ]; echo $?) "the local run has findings to compare ($n)"
    compare "$local_out" "$dir/merged"
    ok $? "merged summary and store equal the local --jobs 1 run, finding for finding"
    # The comparison can fail: one hit less is seen.
    cp -R "$local_out" "$TMPD/fewer"
    rm "$(find "$TMPD/fewer/findings" -path '*/hits/*' | head -1)"
    compare "$TMPD/fewer" "$dir/merged"
    ok $([ $? -eq 1 ]; echo $?) "the comparison sees one hit less"
    rm -rf "$TMPD/fewer"
    grep -q '"shard":"3/4"' "$dir/merged/stats.jsonl"
    ok $? "merged stats.jsonl: every shard's lines, tagged with the shard"
}
