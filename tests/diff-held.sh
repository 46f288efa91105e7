#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-held.sh -- resize-diff's held start mode (resize-held): each side's
# qcow2 image is held open read-write by qemu-io during the resize.  The
# in-process engine and instar-img must refuse like qemu-img (no
# findings: each case is an expected refusal of family held, verdict
# refused); an engine that takes no locks (tests/wrong-engines/
# ignore-locks) must be found, titled held:engine-accepted.
. "$abs_top_srcdir/tests/diff-wrong-lib.sh"
require "$INSTAR_IMG" instar-img

held_args="--ops resize-held --formats qcow2 --seed 5 --iterations 3"

for engine in in-process instar-img; do
    out="$TMPD/clean-$engine"
    if [ $engine = in-process ]; then set --; else set -- --instar "$INSTAR_IMG"; fi
    # shellcheck disable=SC2086
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" "$@" --out "$out" --tmpdir "$TMPD" \
        --reduce-time 2 -q $held_args >"$TMPD/$engine.log" 2>&1; rc=$?
    # Both sides refuse every held resize: each iteration is an expected
    # refusal (family held), excused by the refuses-held rule alone.
    [ $rc -eq 0 ] && grep -q "^engine: $engine " "$TMPD/$engine.log" &&
        grep -q 'verdicts: 0 match, 0 divergence, 0 known, 0 inconclusive, 3 refused' "$TMPD/$engine.log" &&
        grep -q '^whitelist refuses-held: 3 hits$' "$TMPD/$engine.log" &&
        grep -q '^refused: 3 x qcow2 resize: held$' "$TMPD/$engine.log"
    ok $? "$engine refuses every held resize like qemu-img (exit $rc)"
done
ls "$TMPD" | grep -q '^instar-chain\.' 
ok $([ $? -ne 0 ]; echo $?) "no case directory left behind"
pgrep -f "qemu-io -f qcow2 $TMPD/" >/dev/null
ok $([ $? -ne 0 ]; echo $?) "no qemu-io holder left behind"

# shellcheck disable=SC2086
check_engine ignore-locks "op=resize|held:engine-accepted|held:engine-changed-file" $held_args

done_testing
