#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-bitmap-limits.sh -- grows of qcow2 images with persistent bitmaps
# near qemu's limits, side by side with `qemu-img resize' (7.2), in
# qcow2_co_truncate's order: bitmaps loadable and not in use, then the L1
# limit (4M entries: "Failed to grow the L1 table: File too large"), then
# the bitmaps stored at the new size -- one needing more than 512 MiB of
# bitmap data makes the store fail: the image is resized, every bitmap left
# marked in use with its old table, and a warning printed.
# Each case: the same exit class; on refusal qemu's message and our file
# byte-identical; on success equal normalised `qemu-img info' (size, bitmap
# flags, granularities) and a clean `qemu-img check'; with a warning, the
# same text from "Bitmap '" on (qemu names its internal node).
# Cases at and one sector past each limit; 1E.  (512-byte clusters exactly
# at their 128G L1 limit take qemu minutes: only one sector past is here.)
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img

# warn_text FILE: the stderr line's text from "Bitmap '" on, or "".
warn_text() {
    sed -n "s/^.*\(Bitmap '.*\)$/\1/p" "$1" | head -n 1
}

# make_image CS BITMAPS: BITMAPS is a comma list of NAME[:GRANULARITY].
make_image() {
    rm -f "$TMPD/orig"
    "$QEMU_IMG" create -q -f qcow2 -o cluster_size="$1" "$TMPD/orig" 1G >/dev/null 2>&1
    for b in $(echo "$2" | tr ',' ' '); do
        [ "$b" = none ] && continue
        name=${b%%:*}
        if [ "$name" = "$b" ]; then
            "$QEMU_IMG" bitmap -f qcow2 --add "$TMPD/orig" "$name" >/dev/null 2>&1
        else
            "$QEMU_IMG" bitmap -f qcow2 --add -g "${b#*:}" "$TMPD/orig" "$name" >/dev/null 2>&1
        fi || diag "qemu-img bitmap --add $b failed"
    done
}

# compare DESC TARGET: resize copies of $TMPD/orig with both tools.
compare() {
    resize_both "$2" -f qcow2
    outcome "$1 -> $2"
    split_outcome && return
    if [ $qc = fail ]; then
        same_refusal
        return
    fi
    qw=$(warn_text "$TMPD/q.err"); iw=$(warn_text "$TMPD/i.err")
    r=0; [ "$qw" = "$iw" ] || r=1
    cmp -s "$TMPD/q.out" "$TMPD/i.out" || r=1
    ok $r "$desc: same output and warning (${qw:-none})"
    [ $r -eq 0 ] || diag "qemu: $qw $(cat "$TMPD/q.out")" "instar: $iw $(cat "$TMPD/i.out")"
    same_info
    ours_clean
}

# case CS BITMAPS TARGET...
case_() {
    cs=$1 bms=$2; shift 2
    make_image "$cs" "$bms"
    for t in "$@"; do
        compare "cluster_size=$cs bitmaps=$bms" "$t"
    done
}

T2=2199023255552; T8=8796093022208; T256=281474976710656
# The issue's report: 4K clusters (default granularity 4K): the L1 limit
# (8T) comes first; 16T must be refused, not "resized".
case_ 4096 b0 $T8 $((T8 + 512)) 16T 1E
case_ 512 b0 137438953984 1E
case_ 512 b0:512 137438953984 1E
# 512-byte granularity: 2^32 * 512 = 2T is the data limit.
case_ 4096 b0:512 $T2 $((T2 + 512))
case_ 65536 b0:512 $T2 $((T2 + 512))
# 64K granularity (the default for 64K clusters): 256T.
case_ 65536 b0 $T256 $((T256 + 512)) 1E
case_ 2097152 b0:65536 $T256 $((T256 + 512))
# Several bitmaps: all are left in use; qemu names the last misfit.
case_ 65536 first,ok:2097152,last 257T
# No bitmap: the L1 limit alone (2M clusters reach 1E).
case_ 4096 none $((T8 + 512)) 1E
case_ 2097152 none 1E

# An image qemu left with in-use bitmaps: both refuse the next resize,
# naming the first in-use bitmap.
make_image 65536 first,ok:2097152,last
"$QEMU_IMG" resize -q -f qcow2 "$TMPD/orig" $((T256 + 512)) >/dev/null 2>&1
compare "after a resize past the limit" 300T

# Past 2^41 granules qemu-img 7.2 aborts (hbitmap assertion) after writing
# the new size; instar refuses with the file untouched (a deliberate
# difference, documented in the manual).
make_image 2097152 b0:65536
cp --sparse=always "$TMPD/orig" "$TMPD/i"
"$INSTAR_IMG" resize -f qcow2 "$TMPD/i" 1E >/dev/null 2>"$TMPD/i.err"; irc=$?
r=0; [ $irc -ne 0 ] || r=1
cmp -s "$TMPD/orig" "$TMPD/i" || r=1
grep -q "more than 2^41 bits" "$TMPD/i.err" || r=1
ok $r "2M clusters, 64K granularity -> 1E: refused, file untouched ($(err_text "$TMPD/i.err"))"

# Exactly 2^41 granules is still loadable (the limit is inclusive): 512-byte
# granularity at 1P is resized, the bitmap lost with qemu's warning (its
# data would take 256 GiB).  qemu-img 7.2 itself dies here, allocating
# those 256 GiB in memory, so this is the engine's side alone.
make_image 2097152 b0:512
cp --sparse=always "$TMPD/orig" "$TMPD/j"
"$INSTAR_IMG" resize -f qcow2 "$TMPD/j" 1125899906842624 >/dev/null 2>"$TMPD/j.err"; jrc=$?
r=0; [ $jrc -eq 0 ] || r=1
grep -q "Lost persistent bitmaps: Bitmap 'b0'" "$TMPD/j.err" || r=1
ok $r "2M clusters, 512 granularity -> exactly 2^41 granules (1P): resized, bitmap lost ($(warn_text "$TMPD/j.err"))"

done_testing
