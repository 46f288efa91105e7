#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-store.sh -- libFuzzer findings in the one findings store.
# core/fuzz/run.sh's findings (fuzz-findings/TARGET/SHA1-16/) are brought
# into the store under xxh3-128 IDs with the common finding.json, and
# `instar-fuzz fuzz TARGET' replays them first: still failing -> exit 1,
# fixed -> marked fixed, exit 0.  The "engine" is the planner target's
# test build that breaks plans on request (INSTAR_FUZZ_BREAK), so the bug
# is switched on and off without rebuilding; --time 0 runs no libFuzzer.
. "$abs_top_srcdir/tests/lib.sh"
brk="$abs_top_builddir/tests/c/fuzz-break-planners"
require "$brk" fuzz-break-planners
fz() { "$abs_top_builddir/pre-inst-env" instar-fuzz "$@"; }
cd "$TMPD" || exit 99

# raw target: 0 -> 1 MiB (see fuzz-invariants.sh).
printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >in
printf '\000\000\020\000\000\000\000\000\000\000\000\000\000\000\000\000' >>in
INSTAR_FUZZ_BREAK=count "$brk" in >/dev/null 2>err
line=$(grep -m1 '^INSTAR-FINDING:' err)
ok $([ -n "$line" ]; echo $?) "the broken target reports: $line"
# What core/fuzz/run.sh leaves behind for it.
raw=fuzz-findings/fuzz_resize_planners/0123456789abcdef
mkdir -p "$raw"
cp in "$raw/input"; printf '%s\n' "$line" >"$raw/signature"; cp err "$raw/report.txt"
echo crash-0000 >"$raw/duplicates"

INSTAR_FUZZ_BREAK=count fz fuzz fuzz_resize_planners --time 0 --findings fuzz-findings \
    --out O --instar "$brk" >1.log 2>&1; rc=$?
ok $([ $rc -eq 1 ] && grep -q '^fuzz: 1 new finding' 1.log; echo $?) "imported: one new finding, exit $rc"
id=$(ls O/findings)
f="O/findings/$id/finding.json"
ok $([ "$(echo "$id" | wc -c)" -eq 33 ] && [ -s "O/findings/$id/input" ]; echo $?) \
    "stored under a 32-digit ID with its input"
grep -q '"kind": "invariant"' "$f" &&
    grep -q '"title": "fuzz_resize_planners: invariant 1 (patch count exceeds 128) in raw"' "$f"
ok $? "finding.json: kind and title"
grep -q '"hits": 2' "$f" && grep -q '"status": "open"' "$f" && grep -q '"first-seen"' "$f"
ok $? "finding.json: hits (input and duplicate), status, first seen"
grep -q "\"program\": \"/.*/tests/c/fuzz-break-planners\"" "$f" && grep -q '"hash": "xxh3-128:' "$f"
ok $? "finding.json: the target binary and its hash"
grep -q '"target":"fuzz_resize_planners"' O/stats.jsonl
ok $? "stats.jsonl: a line for the session"

rm -rf fuzz-findings
INSTAR_FUZZ_BREAK=count fz fuzz fuzz_resize_planners --time 0 --out O >2.log 2>&1; rc=$?
ok $([ $rc -eq 1 ] && grep -q '^1 stored finding replayed: 1 still fail, 0 fixed, 0 flaky$' 2.log; echo $?) \
    "rerun, bug still there: replayed with the recorded target, still fails (exit $rc)"
INSTAR_FUZZ_BREAK=count fz replay "$id" --out O >r.log 2>&1; rc=$?
ok $([ $rc -eq 1 ]; echo $?) "replay ID of a fuzz finding reproduces (exit $rc)"
fz findings list O >l.log 2>&1
grep -q " invariant  *open " l.log
ok $? "findings list shows it"

env -u INSTAR_FUZZ_BREAK "$abs_top_builddir/pre-inst-env" instar-fuzz fuzz fuzz_resize_planners \
    --time 0 --out O >3.log 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q '^1 stored finding replayed: 0 still fail, 1 fixed, 0 flaky$' 3.log; echo $?) \
    "after the fix: fixed, exit $rc"
grep -q '"status": "fixed"' "$f"
ok $? "finding.json: status fixed"
env -u INSTAR_FUZZ_BREAK "$abs_top_builddir/pre-inst-env" instar-fuzz replay "$id" --out O >r.log 2>&1
ok $? "replay ID after the fix: exit 0"
fz replay "$id" --out O --instar "$TMPD/no-such-target" >r.log 2>&1; rc=$?
ok $([ $rc -eq 3 ]; echo $?) "replay with a missing target: exit 3 ($rc)"

done_testing
