#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-rerun.sh -- regression-first reruns: a run reusing an output
# directory first replays the findings stored there against the current
# engine.  A stored finding that still fails keeps the run red (exit 1,
# status open); once the engine is right it is marked fixed and the run is
# green; an engine that fails only sometimes makes it flaky; a fixed
# finding that shows again is open again.  stats.jsonl only grows.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup
out="$TMPD/out"
rd() {  # rd LOG ARGS... -> exit status in $rc
    log=$1; shift
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --out "$out" --tmpdir "$TMPD" \
        --reduce-time 1 -q --formats raw --ops resize,resize-shared "$@" >"$TMPD/$log" 2>&1
    rc=$?
}
status_of() { sed -n 's/^ *"status": "\([a-z]*\)",*$/\1/p' "$out/findings/$sig/finding.json"; }
lines() { wc -l <"$out/stats.jsonl"; }

rd first.log --instar "$WRONG/wrong-rounding" --seed 7 --iterations 16
ok $([ $rc -eq 1 ]; echo $?) "wrong engine: found (exit $rc)"
sig=$(ls "$out/findings" | head -1)
ok $([ "$(ls "$out/findings" | wc -l)" -eq 1 ] && [ "$(status_of)" = open ]; echo $?) \
    "one finding, status open"
ok $([ "$(lines)" -eq 16 ]; echo $?) "stats.jsonl: one line per iteration ($(lines))"
for k in timestamp host instar-fuzz-version qemu-img-version engine-identity; do
    grep -q "\"$k\"" "$out/summary.json"
    ok $? "summary.json has $k"
done
grep -q '"qemu-img-version": "qemu-img version' "$out/summary.json"
ok $? "summary.json: the reference's --version"
grep -q '"hash": "xxh3-128:[0-9a-f]\{32\}"' "$out/findings/$sig/finding.json"
ok $? "finding.json: the engine's content hash"
for k in kind title first-seen last-seen hits status reference-version; do
    grep -q "\"$k\"" "$out/findings/$sig/finding.json"
    ok $? "finding.json has $k"
done

# The same wrong engine, no new iterations: the stored finding alone fails the run.
rd again.log --instar "$WRONG/wrong-rounding" --seed 7 --iterations 0 --junit "$TMPD/again.xml"
ok $([ $rc -eq 1 ]; echo $?) "rerun with the bug still there: exit 1 (was $rc)"
grep -q "<testcase classname=\"resize-diff\" name=\"stored $sig\"[^>]*>.*<failure" "$TMPD/again.xml"
ok $? "rerun: JUnit fails the stored finding's test case"
grep -q '^1 stored finding replayed: 1 still fail, 0 fixed, 0 flaky$' "$TMPD/again.log"
ok $? "rerun: summary line says it still fails"
ok $([ "$(status_of)" = open ]; echo $?) "rerun: still open"

# The engine fails every other resize: flaky, still red.
cat >"$TMPD/flaky" <<EOS
#!/bin/sh
# Wrong on every other resize (a counter file), qemu-img otherwise.
n=\$(cat "$TMPD/flaky.count" 2>/dev/null || echo 0)
[ "\$1" = resize ] && echo \$((n + 1)) >"$TMPD/flaky.count"
if [ "\$1" = resize ] && [ \$((n % 2)) -eq 0 ]; then exec "$WRONG/wrong-rounding" "\$@"; fi
exec "$QEMU_IMG" "\$@"
EOS
chmod +x "$TMPD/flaky"
rd flaky.log --instar "$TMPD/flaky" --seed 7 --iterations 0
ok $([ $rc -eq 1 ]; echo $?) "an engine failing sometimes: exit 1 (was $rc)"
grep -q '^1 stored finding replayed: 0 still fail, 0 fixed, 1 flaky$' "$TMPD/flaky.log"
ok $? "flaky: summary line"
ok $([ "$(status_of)" = flaky ]; echo $?) "flaky: status flaky ($(status_of))"

# A signal while the stored findings are replayed: exit 130, summary.json
# (interrupted, no case drawn), and the finding exactly as it was -- a
# stop marks a finding neither fixed nor open.
cat >"$TMPD/hang" <<EOS
#!/bin/sh
[ "\$1" = resize ] || exec "$QEMU_IMG" "\$@"
echo \$\$ >>"$TMPD/hang.pids"
sleep 1000 &
echo \$! >>"$TMPD/hang.pids"
wait
EOS
chmod +x "$TMPD/hang"
cp "$out/findings/$sig/finding.json" "$TMPD/finding.before"
n0=$(lines)
env --default-signal=INT "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" --out "$out" \
    --tmpdir "$TMPD" -q --formats raw --ops resize,resize-shared --instar "$TMPD/hang" \
    --timeout 60 --seed 7 --iterations 4 >"$TMPD/int.log" 2>&1 &
rpid=$!
i=0
while [ "$(cat "$TMPD/hang.pids" 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i + 1))
done
kill -INT $rpid
wait $rpid; rc=$?
while read -r p; do kill -9 "$p" 2>/dev/null; done <"$TMPD/hang.pids"
ok $([ $rc -eq 130 ]; echo $?) "signal during the replay: exit 130 (got $rc)"
grep -q '"interrupted": true' "$out/summary.json" && grep -q '"iterations-run": 0' "$out/summary.json"
ok $? "signal during the replay: summary.json written, no case run"
cmp -s "$TMPD/finding.before" "$out/findings/$sig/finding.json"
ok $? "signal during the replay: the finding is left as it was ($(status_of))"
ok $([ "$(lines)" -eq "$n0" ]; echo $?) "signal during the replay: no iteration in stats.jsonl"

# A correct engine: replayed 3 times without failing, fixed, green.
rd fixed.log --instar "$QEMU_IMG" --seed 7 --iterations 0
ok $([ $rc -eq 0 ]; echo $?) "after the fix: exit 0 (was $rc)"
grep -q '^1 stored finding replayed: 0 still fail, 1 fixed, 0 flaky$' "$TMPD/fixed.log"
ok $? "after the fix: summary line says fixed"
ok $([ "$(status_of)" = fixed ]; echo $?) "after the fix: status fixed"
grep -q '"tries": 3' "$out/findings/$sig/finding.json"
ok $? "after the fix: replayed 3 times"
rd fixed2.log --instar "$QEMU_IMG" --seed 7 --iterations 0
grep -q '^0 stored findings replayed' "$TMPD/fixed2.log"
ok $([ $? -eq 0 ] && [ $rc -eq 0 ]; echo $?) "a fixed finding is not replayed again"

# The bug comes back: hit by the campaign, open again, red.
rd back.log --instar "$WRONG/wrong-rounding" --seed 7 --iterations 16
ok $([ $rc -eq 1 ] && [ "$(status_of)" = open ]; echo $?) "regression: open again, exit $rc"
ok $([ "$(ls "$out/findings" | wc -l)" -eq 1 ]; echo $?) "regression: still one finding"
ok $([ "$(lines)" -eq 32 ]; echo $?) "stats.jsonl appended, never rewritten ($(lines) lines)"

done_testing
