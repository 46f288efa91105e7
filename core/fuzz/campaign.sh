#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# campaign.sh TARGET... -- the nightly shape (make fuzz FUZZ_BUDGET=SECONDS):
# every target in turn with an equal share of the budget (run.sh), then its
# new corpus entries merged back into corpus/TARGET (-merge=1 keeps only
# inputs that add coverage, named by content, so nothing is stored twice),
# then one summary table.  Exits 1 when any target found a new crash.
set -u
: "${FUZZ_BUDGET:=600}" "${FUZZ_DIR:=fuzz-build}" "${FUZZ_WORK:=fuzz-work}" "${srcdir:=.}"
n=$#
share=$((FUZZ_BUDGET / n))
[ "$share" -ge 1 ] || share=1
rc=0
table=
for t in "$@"; do
    FUZZ_TIME=$share "$SHELL" "$srcdir/core/fuzz/run.sh" "$t" || rc=1
    seeds="$srcdir/corpus/$t"
    before=$(find "$seeds" -type f ! -name README ! -name '.*' | wc -l)
    "$FUZZ_DIR/$t" -merge=1 "$seeds" "$FUZZ_WORK/$t/corpus" >"$FUZZ_WORK/$t/merge.log" 2>&1 ||
        echo "fuzz: merge of $t failed; see $FUZZ_WORK/$t/merge.log" >&2
    after=$(find "$seeds" -type f ! -name README ! -name '.*' | wc -l)
    s=$(cat "$FUZZ_WORK/$t/summary" 2>/dev/null)
    table="$table
$(printf '%-22s %10s %6s %8s %8s %8s' "$t" \
    "$(echo "$s" | sed -n 's/.*runs=\([0-9]*\).*/\1/p')" \
    "$(echo "$s" | sed -n 's/.*cov=\([0-9]*\).*/\1/p')" \
    "$before->$after" \
    "$(echo "$s" | sed -n 's/.*new_crashes=\([0-9]*\).*/\1/p')" \
    "$(echo "$s" | sed -n 's/.*unique_crashes=\([0-9]*\).*/\1/p')")"
done
echo
echo "fuzz campaign: ${FUZZ_BUDGET}s over $n targets (${share}s each)"
printf '%-22s %10s %6s %8s %8s %8s' target runs cov seeds new-crash unique
echo "$table"
exit $rc
