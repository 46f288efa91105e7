#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# diff-stop.sh -- how the recipes stop: on a signal, on unusable output
# places, on a broken reference, and on a timeout.  resize-diff(1)'s
# promises: SIGINT writes summary.json for the cases that ran (marked
# interrupted), leaves no case directory and no child process, exits 130;
# --out naming a file exits 2 before the first case; a broken reference
# (/bin/false, garbage JSON from `info') exits 3 naming the tool, with no
# finding; a timeout kills the child's whole process group.
. "$abs_top_srcdir/tests/lib.sh"
recipe_setup

# Each scenario's wrappers write their pids to its own $PIDS file.
PIDS="$TMPD/pids.int"
export PIDS
# Never leave the test's own sleepers behind, whatever the recipe did.
cleanup() {
    for f in "$TMPD"/pids.*; do
        [ -f "$f" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done < "$f"
    done
    rm -rf "$TMPD"
}
trap cleanup EXIT

rd() { "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" "$@"; }
# alive FILE: how many of the pids listed in FILE still run (a zombie
# is dead: where PID 1 does not reap, killed orphans stay zombies).
alive() {
    n=0
    [ -f "$1" ] && while read -r p; do
        st=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$p/stat" 2>/dev/null)
        [ -n "$st" ] && [ "$st" != Z ] && n=$((n + 1))
    done < "$1"
    echo $n
}
# A directory (the case directories' parent) with nothing in it.
empty() { [ -d "$1" ] && [ -z "$(ls -A "$1")" ]; }

# An engine whose resize hangs in a child of its own: the wrapper and
# its `sleep' write their pids to $PIDS.
cat > "$TMPD/hang" <<'EOS'
#!/bin/sh
[ "$1" = resize ] || exec "$QEMU_IMG" "$@"
echo $$ >> "$PIDS"
sleep 1000 &
echo $! >> "$PIDS"
wait
EOS
chmod +x "$TMPD/hang"
# An engine that notes every call (to prove none happened).
cat > "$TMPD/noting" <<'EOS'
#!/bin/sh
echo "$@" >> "$CALLS"
exec "$QEMU_IMG" "$@"
EOS
chmod +x "$TMPD/noting"
CALLS="$TMPD/calls"
export CALLS

## SIGINT mid-campaign (as Ctrl-C delivers it: to the recipe, with the
## default disposition a terminal's shell would give it).
mkdir "$TMPD/t1"
env --default-signal=INT "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" \
    --instar "$TMPD/hang" --timeout 60 --seed 5 --iterations 20 --jobs 2 \
    --formats raw --out "$TMPD/int" --tmpdir "$TMPD/t1" -q >"$TMPD/int.log" 2>&1 &
rpid=$!
i=0
while [ "$(cat "$PIDS" 2>/dev/null | wc -l)" -lt 4 ] && [ $i -lt 200 ]; do
    sleep 0.1; i=$((i + 1))
done
diag "children started: $(cat "$PIDS" 2>/dev/null | wc -l) pids after $i polls"
kill -INT $rpid
i=0
while kill -0 $rpid 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $rpid 2>/dev/null && { diag "still running after 15 s"; kill -9 $rpid; }
wait $rpid; rc=$?
ok $([ $rc -eq 130 ]; echo $?) "SIGINT: exit 130 (got $rc)"
grep -q '"interrupted": true' "$TMPD/int/summary.json" 2>/dev/null
ok $? "SIGINT: summary.json written, marked interrupted"
grep -q '"signal": "SIGINT"' "$TMPD/int/summary.json" 2>/dev/null
ok $? "SIGINT: summary.json names the signal"
ok $(empty "$TMPD/t1"; echo $?) "SIGINT: no case directory left ($(ls -A "$TMPD/t1" | tr '\n' ' '))"
n=$(alive "$PIDS")
ok $([ "$n" -eq 0 ]; echo $?) "SIGINT: no child or grandchild survives ($n alive)"
grep -q 'interrupted by SIGINT' "$TMPD/int.log"
ok $? "SIGINT: says it was interrupted"

## SIGTERM: the same, exit 143.
PIDS="$TMPD/pids.term"
: > "$PIDS"
mkdir "$TMPD/t2"
"$abs_top_builddir/pre-inst-env" "$GUILE" -s "$RECIPE" \
    --instar "$TMPD/hang" --timeout 60 --seed 5 --iterations 20 \
    --formats raw --out "$TMPD/term" --tmpdir "$TMPD/t2" -q >"$TMPD/term.log" 2>&1 &
rpid=$!
i=0
while [ "$(wc -l < "$PIDS")" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $rpid
i=0
while kill -0 $rpid 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $rpid 2>/dev/null && { diag "still running after 15 s"; kill -9 $rpid; }
wait $rpid; rc=$?
ok $([ $rc -eq 143 ] && grep -q '"interrupted": true' "$TMPD/term/summary.json" \
     && empty "$TMPD/t2" && [ "$(alive "$PIDS")" -eq 0 ]; echo $?) \
    "SIGTERM: exit 143 (got $rc), summary, nothing left behind"

## --out that is a file, or cannot be created: refused before any case.
: > "$TMPD/a-file"
rd --instar "$TMPD/noting" --seed 1 --iterations 2 --out "$TMPD/a-file" \
    --tmpdir "$TMPD" -q >"$TMPD/o1.log" 2>&1; rc=$?
ok $([ $rc -eq 2 ]; echo $?) "--out a file: exit 2 (got $rc)"
grep -q 'out.*a-file.*not a directory' "$TMPD/o1.log"
ok $? "--out a file: says so"
ok $([ ! -e "$CALLS" ]; echo $?) "--out a file: no case ran"
ok $([ -f "$TMPD/a-file" ] && [ ! -s "$TMPD/a-file" ]; echo $?) "--out a file: the file is untouched"
rd --instar "$TMPD/noting" --seed 1 --iterations 2 --out "$TMPD/a-file/sub" \
    --tmpdir "$TMPD" -q >/dev/null 2>&1; rc=$?
ok $([ $rc -eq 2 ] && [ ! -e "$CALLS" ]; echo $?) "--out under a file: exit 2, no case ran (got $rc)"
# /proc takes no new directories, even from root.
rd --instar "$TMPD/noting" --seed 1 --iterations 2 --out /proc/instar-no-such-out \
    --tmpdir "$TMPD" -q >"$TMPD/o3.log" 2>&1; rc=$?
ok $([ $rc -eq 3 ] && [ ! -e "$CALLS" ]; echo $?) "--out not creatable: exit 3, no case ran (got $rc)"
grep -q 'instar-no-such-out: cannot write there' "$TMPD/o3.log"
ok $? "--out not creatable: says why"
rd --instar "$TMPD/noting" --seed 1 --iterations 2 --out "$TMPD/o4" --junit "$TMPD/a-file/j.xml" \
    --tmpdir "$TMPD" -q >/dev/null 2>&1; rc=$?
ok $([ $rc -eq 2 ] && [ ! -e "$CALLS" ]; echo $?) "--junit under a file: exit 2, no case ran (got $rc)"

## A broken reference is an environment error: exit 3, the tool named,
## no finding.
# rd_reference QEMU-IMG OUT ARG...: the recipe (seed 1, ARG...) with the
# engine qemu-img itself and QEMU-IMG as the reference, into $TMPD/OUT
# (its log $TMPD/OUT.log); the exit status in $rc.
rd_reference() {
    _rq=$1 _ro=$2; shift 2
    rd --instar "$QEMU_IMG" --qemu-img "$_rq" --seed 1 "$@" --out "$TMPD/$_ro" -q \
        >"$TMPD/$_ro.log" 2>&1; rc=$?
}
# reference_on NAME VERB ACTION: $TMPD/NAME, a qemu-img that runs ACTION
# (sh) when it is run as `qemu-img VERB' on a reference image, and is the
# real one otherwise.
reference_on() {
    cat > "$TMPD/$1" <<EOS
#!/bin/sh
if [ "\$1" = $2 ]; then
    for a in "\$@"; do
        case \$a in */reference.*) $3;; esac
    done
fi
exec "\$QEMU_IMG" "\$@"
EOS
    chmod +x "$TMPD/$1"
}

rd_reference /bin/false f --iterations 3 --tmpdir "$TMPD"
ok $([ $rc -eq 3 ]; echo $?) "--qemu-img /bin/false: exit 3 (got $rc)"
grep -q 'qemu-img (/bin/false)' "$TMPD/f.log"
ok $? "--qemu-img /bin/false: the tool is named"
ok $([ ! -d "$TMPD/f/findings" ]; echo $?) "--qemu-img /bin/false: no findings directory"

cat > "$TMPD/garbage" <<'EOS'
#!/bin/sh
[ "$1" = info ] && { echo 'garbage {'; exit 0; }
exec "$QEMU_IMG" "$@"
EOS
chmod +x "$TMPD/garbage"
rd_reference "$TMPD/garbage" g --iterations 3 --tmpdir "$TMPD"
ok $([ $rc -eq 3 ]; echo $?) "garbage JSON from info: exit 3 (got $rc)"
grep -q "qemu-img ($TMPD/garbage).*info.*no valid JSON" "$TMPD/g.log"
ok $? "garbage JSON from info: the tool and the command are named"
ok $([ ! -d "$TMPD/g/findings" ]; echo $?) "garbage JSON from info: no findings directory"

# A reference that passes the first check and breaks inside a case (its
# info turns to garbage on the case's reference image): still exit 3,
# still no finding blamed on the engine.
reference_on garbage-later info "echo 'garbage {'; exit 0"
mkdir "$TMPD/t3"
rd_reference "$TMPD/garbage-later" gl --iterations 3 --tmpdir "$TMPD/t3"
ok $([ $rc -eq 3 ]; echo $?) "garbage JSON inside a case: exit 3 (got $rc)"
grep -q "environment error: the reference qemu-img ($TMPD/garbage-later), step info on the reference side, printed no valid JSON" "$TMPD/gl.log"
ok $? "garbage JSON inside a case: the tool and the step are named"
ok $([ ! -d "$TMPD/gl/findings" ] && grep -q '"environment-error": "' "$TMPD/gl/summary.json"; echo $?) \
    "garbage JSON inside a case: no finding; summary.json says why it stopped"
ok $(empty "$TMPD/t3"; echo $?) "garbage JSON inside a case: no case directory left"

# A reference whose disk is full (as qemu-img reports it): the
# machine's fault, exit 3, not a finding.
reference_on full-disk resize \
    'echo "qemu-img: Could not resize file: No space left on device" >&2; exit 1'
rd_reference "$TMPD/full-disk" fd --iterations 2 --formats raw --ops resize --tmpdir "$TMPD"
ok $([ $rc -eq 3 ] && [ ! -d "$TMPD/fd/findings" ]; echo $?) \
    "reference out of disk space: exit 3, no finding (got $rc)"
grep -q "the reference qemu-img ($TMPD/full-disk), step resize on the reference side.*No space left" "$TMPD/fd.log"
ok $? "reference out of disk space: the tool and the errno are named"

# A reference that crashes on its own image: inconclusive, not a
# finding blamed on the engine.
reference_on crashing resize 'kill -SEGV $$'
rd_reference "$TMPD/crashing" cr --iterations 2 --formats raw --ops resize --tmpdir "$TMPD"
ok $([ $rc -eq 0 ] && [ ! -d "$TMPD/cr/findings" ]; echo $?) \
    "reference crashing: no finding, exit 0 (got $rc)"
grep -q 'inconclusive: 2 x resize on reference: killed by a signal' "$TMPD/cr.log"
ok $? "reference crashing: both cases inconclusive, the reason reported"

## A timeout kills the child's whole process group.
PIDS="$TMPD/pids.timeout"
: > "$PIDS"
rd --instar "$TMPD/hang" --timeout 1 --seed 3 --iterations 1 --formats raw \
    --out "$TMPD/to" --tmpdir "$TMPD" -q >"$TMPD/to.log" 2>&1; rc=$?
ok $([ $rc -eq 0 ] && grep -q 'inconclusive: 1 x resize on engine: timeout' "$TMPD/to.log"; echo $?) \
    "timeout: inconclusive, exit 0 (got $rc)"
ok $([ "$(wc -l < "$PIDS")" -ge 2 ]; echo $?) "timeout: the wrapper and its sleep started"
sleep 0.2
n=$(alive "$PIDS")
ok $([ "$n" -eq 0 ]; echo $?) "timeout: neither the wrapper nor its child survives ($n alive)"

## The convention is in every recipe's --help.
for r in resize-diff create-diff resize-consistency; do
    "$abs_top_builddir/pre-inst-env" "$GUILE" -s "$abs_top_srcdir/recipes/$r.scm" --help >"$TMPD/h.txt" 2>&1
    grep -q '^Exit status: 0 no finding fails, 1 a finding fails (new, seen again, or$' "$TMPD/h.txt" &&
        grep -q '^stored and still failing), 2 usage error' "$TMPD/h.txt" &&
        grep -q '^Every run first replays the open findings stored in --out' "$TMPD/h.txt" &&
        grep -q '130 Ctrl-C, 143 SIGTERM' "$TMPD/h.txt"
    ok $? "$r --help: the exit status convention"
done

done_testing
