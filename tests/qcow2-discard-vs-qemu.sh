#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-discard-vs-qemu.sh -- a qcow2 shrink gives the space of the
# clusters it releases back to the file system, as qemu-img 7.2 does (it
# discards them: iotest 250), so the file's allocated bytes end close to
# qemu's.  Each case: qemu-img creates and qemu-io writes, the file is
# copied, one copy shrunk by qemu-img and one by instar-img; required: the
# same guest data, a clean check, and allocated bytes (st_blocks) within
# the tolerance resize-diff's disk-usage oracle uses: 4 clusters + 1/16 of
# qemu's.  Clusters a snapshot still uses keep their space.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

cd "$TMPD" || exit 99
# Without holes nothing can be given back (the engine then leaves the
# space allocated, as documented).
require_holes

run_case() {  # run_case OPTS START END "QEMU-IO COMMANDS" [snap]
    opts=$1 start=$2 end=$3 cmds=$4 snap=$5
    desc="-o '$opts' $start -> $end ($cmds${snap:+, snapshot})"
    rm -f orig q i
    "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} orig "$start"
    old_ifs=$IFS; IFS=';'
    for c in $cmds; do "$QEMU_IO" -f qcow2 -c "$c" orig >/dev/null; done
    IFS=$old_ifs
    [ -n "$snap" ] && "$QEMU_IMG" snapshot -c s1 orig
    cp --sparse=always orig q; cp --sparse=always orig i
    "$QEMU_IMG" resize -q --shrink q "$end"; qrc=$?
    "$INSTAR_IMG" resize -q --shrink i "$end"; irc=$?
    if [ $qrc -ne 0 ] || [ $irc -ne 0 ]; then
        ok 1 "$desc: both resize (qemu $qrc, instar $irc)"; return
    fi
    "$QEMU_IMG" compare q i >cmp.out 2>&1 && check_clean i i.check
    ok $? "$desc: same guest data, check clean"
    "$QEMU_IMG" info --output=json q > q.info
    cs=$(sed -n 's/.*"cluster-size": \([0-9]*\).*/\1/p' q.info)
    qa=$(alloc q); ia=$(alloc i); before=$(alloc orig)
    tol=$((4 * cs + qa / 16))
    [ "$ia" -le $((qa + tol)) ]
    ok $? "$desc: allocated $before -> $ia bytes, qemu $qa (tolerance $tol)"
}

# The recipe: data moved about, shrunk to 1M (33 MiB -> ~1.3 MiB).
run_case "" 64M 1M "write 32M 32M;write 0 1M"
run_case "" 64M 8M "write 0 64M"
run_case cluster_size=4k 16M 1M "write 8M 8M;write 0 512k"
run_case cluster_size=2M 256M 8M "write 0 256M"
run_case extended_l2=on 64M 1M "write 32M 32M;write 0 1M"
run_case refcount_bits=1 64M 1M "write 32M 32M;write 0 1M"
run_case refcount_bits=64,cluster_size=512 4M 1M "write 0 4M"
run_case compat=0.10 64M 1M "write 32M 32M;write 0 1M"
run_case "" 64M 1M "write -c 0 1M;write -c 32M 16M"
run_case "" 64M 2000896 "write 0 64M"
# Clusters a snapshot still references keep their space (qemu's too).
run_case "" 64M 1M "write 32M 32M;write 0 1M" snap

done_testing
