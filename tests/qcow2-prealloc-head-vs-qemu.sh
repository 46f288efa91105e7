#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-prealloc-head-vs-qemu.sh -- falloc/full preallocation reserves the
# old end's cluster too when it is allocated but was never written (a
# metadata-preallocated image; what qemu's iotest 125 grows), as qemu-img
# 7.2 does: qemu moves that cluster to a new preallocated one, instar
# reserves it in place.  Either way a guest write there afterwards needs no
# new space.  Each case: instar-img creates the image (qemu-img resizes a
# copy), both grow by 48K from an unaligned size; required: the same guest
# data, a clean check, and no growth of the allocated bytes when the new
# range's first 48K are written, as with qemu.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

cd "$TMPD" || exit 99
require_holes

run_case() {  # run_case MODE OPTS START GROW [WRITE]
    mode=$1 opts=$2 start=$3 grow=$4 w=$5
    desc="$mode -o '$opts' $start +$grow${w:+ after '$w'}"
    rm -f orig q i
    "$INSTAR_IMG" create -q -f qcow2 -o "preallocation=metadata${opts:+,$opts}" orig "$start" ||
        { ok 1 "$desc: create"; return; }
    [ -n "$w" ] && "$QEMU_IO" -f qcow2 -c "$w" orig >/dev/null
    cp --sparse=always orig q; cp --sparse=always orig i
    "$QEMU_IMG" resize -q --preallocation="$mode" q "+$grow" &&
        "$INSTAR_IMG" resize -q --preallocation="$mode" i "+$grow"
    ok $? "$desc: both resize"
    "$QEMU_IMG" compare q i >/dev/null 2>&1 && check_clean i i.check
    ok $? "$desc: same guest data, check clean"
    qa=$(alloc q); ia=$(alloc i)
    "$QEMU_IO" -f qcow2 -c "write -q -P 0x5e $start $grow" q >/dev/null
    "$QEMU_IO" -f qcow2 -c "write -q -P 0x5e $start $grow" i >/dev/null
    qb=$(alloc q); ib=$(alloc i)
    # Extended L2: qemu-io's write updates the subcluster bitmap and writes
    # the whole L2 table, which instar-img create leaves sparse (qemu's
    # resize rewrote it already): one cluster of metadata, not data.
    slack=0
    case $opts in *extended_l2=on*) slack=65536 ;; esac
    [ $((ib - ia)) -le $((qb - qa + slack)) ]
    ok $? "$desc: writing the new range allocates $((ib - ia)) bytes (qemu $((qb - qa)))"
}

for mode in falloc full; do
    run_case $mode cluster_size=64k 2048000 48K
    run_case $mode cluster_size=64k 2048000 48K "write -q -P 0x33 1966080 81920"
    run_case $mode cluster_size=4k 1000448 16K
    run_case $mode cluster_size=2M 3000320 1M
    run_case $mode extended_l2=on 2048000 48K
done

done_testing
