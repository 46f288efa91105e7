#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz-oracle.sh -- the engine target's oracle (core/fuzz/oracle.c) catches
# planners that are wrong but well-formed.  Each tests/planted/replay-* is
# the engine target's replay driver linked with one planner source carrying
# a deliberate fault (core/fuzz/local.mk says which); replaying the
# committed corpus must report it.  With INSTAR_FUZZ_ORACLE=0 (structural
# re-parse only) the faults the oracle alone sees must go unreported, which
# shows what it adds; the unplanted driver must replay clean both ways.
# A planted fault that makes the engine refuse every VHDX image is caught
# by the accepted-seed mark (core/fuzz/seed-mark.h); one that accepts
# VMDK images with a parent, by the refused-seed mark.
. "$abs_top_srcdir/tests/lib.sh"

corpus="$abs_top_srcdir/corpus/fuzz_resize_engine"
clean="$abs_top_builddir/core/fuzz/replay-resize-engine"
require "$clean" replay-resize-engine

"$clean" "$corpus" >/dev/null 2>"$TMPD/err"
st=$?
[ $st -eq 0 ] || tail -5 "$TMPD/err" | sed 's/^/# /'
ok $st "unplanted engine: the corpus replays clean under the oracle"

# planted NAME EXPECTED-REGEX ORACLE-ONLY(yes/no) [MORE-INPUTS]
planted() {
    bin="$abs_top_builddir/tests/planted/replay-$1"
    require "$bin" "replay-$1"
    "$bin" "$corpus" ${4:+"$4"} >/dev/null 2>"$TMPD/err"
    st=$?
    [ "$st" -ge 128 ]
    ok $? "$1: the corpus replay aborts (status $st)"
    grep -F "INSTAR-FINDING: fuzz_resize_engine/" "$TMPD/err" | head -1 | sed 's/^/# /'
    grep -E -- "$2" "$TMPD/err" >/dev/null
    ok $? "$1: the finding matches '$2'"
    if [ "$3" = yes ]; then
        INSTAR_FUZZ_ORACLE=0 "$bin" "$corpus" ${4:+"$4"} >/dev/null 2>"$TMPD/err"
        ok $? "$1: without the oracle the fault goes unreported"
    fi
}

# A refcount block believed present one index past its run.
planted refblock-range "oracle: qcow2: cluster" no
# The first free cluster one too early: metadata over the last cluster.
planted free-boundary "oracle: qcow2: " no
# The VMDK descriptor's number parser stops at '9': the engine refuses the
# descriptor it wrote itself, or a seed marked accepted (seed-mark.h).
planted digit-nine "refuses to grow its own result|refused a seed it accepted" yes
# A qcow2 shrink that leaks the first dropped cluster.
planted release-range "bookkeeping exact before, not after" yes
# A VHD grow that unmaps the block holding the old end.
planted vhd-partial-block "lost its data" yes
# VMDK cylinders off by one for large disks.
planted vmdk-cylinders "geometry matched the size before, not after" yes
# One byte of the VHDX metadata region GUID wrong: every VHDX is refused.
planted vhdx-refuse-all "vhdx: refused a seed it accepted" yes
# A VMDK planner that ignores the parent: the parentCID-only child seed,
# marked refused, is accepted.
planted vmdk-accept-parent "vmdk: accepted a seed it refused" yes
# A VMDK planner that guesses the adapter of an unreadable adapterType
# line: the cylinders it writes are for heads nobody can know (the
# finding crash-4465355e, kept in the crash corpus).
planted vmdk-adapter-guess "oracle: resized a VMDK whose descriptor's adapter" yes \
    "$abs_top_srcdir/corpus/crashes/fuzz_resize_engine/4465355e8cfefdc2"
# A VMDK grow that leaves the redundant grain directory alone although
# header flag bit 1 says it is in use.
planted vmdk-no-rgd "vmdk: RGD entry" no
# A VMDK descriptor reader matching key prefixes: the seed with a
# "ddb.geometry.headsX" line and no heads line gets cylinders for 255.
planted vmdk-key-prefix "geometry matched the size before, not after" yes

done_testing
