#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-many-l2.sh -- shrinks of a 512-byte-cluster image whose L1 names
# thousands of distinct L2 tables (the planner stages them as index ranges
# in a few rounds), side by side with `qemu-img resize --shrink' (7.2):
# both succeed, equal normalised `qemu-img info', ours checks clean, equal
# guest data.  N is small enough for qemu (it writes an L2 table per
# dropped entry); the benchmark measures the large sizes.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

N=3000
"$QEMU_IMG" create -q -f qcow2 -o cluster_size=512 "$TMPD/orig" $((N * 32768)) >/dev/null 2>&1
# One sector at the head of every L2 table's range: N tables, N data clusters.
i=0
while [ $i -lt $N ]; do
    echo "write -q -P 0x5a $((i * 32768)) 512"
    i=$((i + 1))
done > "$TMPD/cmds"
"$QEMU_IO" -f qcow2 "$TMPD/orig" < "$TMPD/cmds" >/dev/null 2>&1
l1=$(be_u32 "$TMPD/orig" 36)
ok $([ "$l1" -eq $N ]; echo $?) "an image whose L1 has $N entries ($l1)"

for end in 1M 1064960 50M; do
    resize_both $end -q -f qcow2 --shrink
    desc="$N L2 tables --shrink $end"
    r=0; [ $qrc -eq 0 ] && [ $irc -eq 0 ] || r=1
    ok $r "$desc: both succeed"
    [ $r -eq 0 ] || { diag "qemu: $(cat "$TMPD/q.err")" "instar: $(cat "$TMPD/i.err")"; continue; }
    same_info
    ours_clean
    "$QEMU_IMG" compare -q -f qcow2 -F qcow2 "$TMPD/q" "$TMPD/i" >/dev/null 2>&1; r=$?
    ok $r "$desc: same guest data"
done

done_testing
