#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# store-run.sh TARGET... -- make fuzz-resize / fuzz-engine / fuzz-diff in a
# Guile build: each target through `instar-fuzz fuzz', the path `instar-fuzz
# fuzz' users take, so the open findings of TARGET stored in FUZZ_STORE are
# replayed first (one still failing fails the run), then core/fuzz/run.sh
# fuzzes for the target's share of FUZZ_TIME, and its new crashes enter the
# store.  Environment as run.sh's, plus FUZZ_STORE (the findings store)
# and builddir (where pre-inst-env is).  Exits 1 when a finding fails
# (stored or new), 2 or 3 when a session could not run, else 0.
set -u
: "${FUZZ_TIME:=60}" "${FUZZ_JOBS:=1}" "${FUZZ_FINDINGS:=fuzz-findings}"
: "${FUZZ_STORE:=instar-out}" "${builddir:=.}"
export FUZZ_DIR FUZZ_WORK FUZZ_STATUS_INTERVAL 2>/dev/null
n=$#
left=$FUZZ_TIME
rc=0
for t in "$@"; do
    share=$((left / n))
    [ "$FUZZ_TIME" -eq 0 ] || [ "$share" -ge 1 ] || share=1
    "$builddir/pre-inst-env" instar-fuzz fuzz "$t" --time "$share" --jobs "$FUZZ_JOBS" \
        --out "$FUZZ_STORE" --findings "$FUZZ_FINDINGS"
    st=$?
    # The worst status wins: 3/2 (could not run) over 1 (a finding) over 0.
    [ "$st" -gt "$rc" ] && rc=$st
    left=$((left - share))
    n=$((n - 1))
done
exit $rc
