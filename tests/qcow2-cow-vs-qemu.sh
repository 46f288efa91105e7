#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-cow-vs-qemu.sh -- a grow that starts inside a cluster the backing
# file shows, side by side with qemu-img 7.2 (what qemu's iotests 125 and
# 271 look at).  qemu copies the bytes before the old size from the
# backing file into the image first (copy-on-write): into a new cluster
# when it preallocates with standard L2 entries, or when the new range
# must read as zeros over a longer backing file (then, with extended L2,
# only the subcluster it zeroes); extended L2 preallocation without a
# longer backing file leaves the subclusters showing the backing file.
# Each case: both succeed, same guest data (through the chain), qemu-img
# check clean, the same map of what reads from where (depth), disk usage
# within the differential oracle's tolerance; and every crash prefix of
# the plan leaves an image without corruption whose old guest data is
# intact.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
APPLY=$abs_top_builddir/tests/tools/apply-prefix
require "$APPLY" apply-prefix

cd "$TMPD" || exit 99
ncase=0

# mkbase NAME FMT SIZE: a file of 0x55 with 0x66 over [983040, 991232),
# the start of the cluster (and subclusters) every case's old end lies in.
mkbase() {
    rm -f "$1"
    "$QEMU_IMG" create -q -f "$2" "$1" "$3" &&
        "$QEMU_IO" -f "$2" -c "write -q -P 0x55 0 $3" -c "write -q -P 0x66 983040 8192" \
            "$1" >/dev/null
}

# mkover NAME BACKING OPTS CMD: a 2 MiB qcow2 file over BACKING holding
# what qemu-io CMD writes.
mkover() {
    rm -f "$1"
    "$QEMU_IMG" create -q -f qcow2 -o "${3:+$3,}backing_file=$2,backing_fmt=qcow2" "$1" 2M &&
        "$QEMU_IO" -f qcow2 -c "$4" "$1" >/dev/null
}

# depth_map FILE: qemu-img map's ranges as "start+length:depth", ranges
# of one depth merged (host offsets and allocation flags left out: the
# layouts may differ, what the guest reads from where may not).
depth_map() {
    "$QEMU_IMG" map -f qcow2 --output=json "$1" | tr -d ' {}[]' | tr ',' '\n' |
        awk -F: '$1 == "\"start\"" { s = $2 } $1 == "\"length\"" { l = $2 }
                 $1 == "\"depth\"" { if (n && d == $2 && e == s) { e = s + l; next }
                                     if (n) print b "+" (e - b) ":" d
                                     b = s; e = s + l; d = $2; n = 1 }
                 END { if (n) print b "+" (e - b) ":" d }'
}

# within_usage Q I CS: I's allocated bytes within the differential
# oracle's tolerance of Q's (usage-tolerance in (instar oracles)).
within_usage() {
    qa=$(alloc "$1") ia=$(alloc "$2")
    [ "$ia" -le $((qa + 4 * $3 + qa / 16)) ] && [ "$ia" -ge $((qa - 8 * $3 - qa / 4)) ]
}

# crash_prefixes FILE SIZE FLAGS...: each prefix of instar's plan applied
# to a copy: no corruption, the old guest data unchanged.
crash_prefixes() {
    cf=$1 cs=$2; shift 2
    n=$("$APPLY" "$@" "$cf" "$cs" 2>/dev/null) || return 1
    "$QEMU_IMG" convert -O raw "$cf" before.raw || return 1
    old=$(stat -c %s before.raw)
    k=0
    while [ $k -le "$n" ]; do
        cp --sparse=always "$cf" pre.qcow2
        "$APPLY" "$@" pre.qcow2 "$cs" $k >/dev/null 2>&1 || return 1
        no_corruption pre.qcow2 pre.check || { diag "prefix $k: $(tr -d '\n' < pre.check)"; return 1; }
        "$QEMU_IMG" convert -O raw pre.qcow2 after.raw || return 1
        cmp -s -n "$old" before.raw after.raw || { diag "prefix $k: old guest data changed"; return 1; }
        k=$((k + 1))
    done
}

# run_case OPTS BACKING START END WRITES FLAGS...: an overlay of START bytes
# over BACKING, WRITES (PAT:OFF:LEN list, or none) written into it, resized
# by qemu-img and by instar-img.
run_case() {
    opts=$1 bk=$2 start=$3 end=$4 writes=$5; shift 5
    ncase=$((ncase + 1))
    desc="#$ncase -o '$opts' over $bk $start -> $end [$writes] $*"
    rm -f orig q i
    overlay_with orig "$opts" "$bk" "${bk##*.}" "$start" "$writes" ||
        { ok 1 "$desc: qemu-img create"; diag "$(cat c.err)"; return; }
    resize_both "$end" -q "$@"
    if [ $qrc -ne 0 ] || [ $irc -ne 0 ]; then
        ok 1 "$desc: both resize (qemu $qrc, instar $irc)"
        diag "qemu: $(cat q.err)" "instar: $(cat i.err)"
        return
    fi
    "$QEMU_IMG" compare -f qcow2 -F qcow2 q i >cmp.out 2>&1; r=$?
    ok $r "$desc: same guest data"
    [ $r -eq 0 ] || diag "$(cat cmp.out)"
    ours_clean
    depth_map q > q.map; depth_map i > i.map
    cmp -s q.map i.map; r=$?
    ok $r "$desc: same map depths"
    [ $r -eq 0 ] || diag "qemu: $(tr '\n' ' ' < q.map)" "instar: $(tr '\n' ' ' < i.map)"
    csz=$("$QEMU_IMG" info -f qcow2 --output=json orig | sed -n 's/.*"cluster-size": \([0-9]*\).*/\1/p')
    within_usage q i "$csz"; r=$?
    ok $r "$desc: disk usage (qemu $(alloc q), instar $(alloc i))"
    [ -n "$crash" ] || return
    crash_prefixes orig "$end" "$@"
    ok $? "$desc: every crash prefix keeps the old data"
}
# crash=1 run_case ...: the crash prefixes too (a few cases: each prefix
# costs a copy, a check and a conversion).
crash=

mkbase long.raw raw 2M
mkbase same.raw raw 1000448
mkbase short.raw raw 990208
mkbase bottom.qcow2 qcow2 2M
# Chains: the old end's cluster falls through to bottom.qcow2; is a zero
# cluster in the middle file; has one 2 KiB subcluster of its own there.
mkover chain.qcow2 bottom.qcow2 "" "write -q -P 0x77 65536 65536"
mkover zchain.qcow2 bottom.qcow2 "" "write -q -z 983040 65536"
mkover xchain.qcow2 bottom.qcow2 extended_l2=on "write -q -P 0x88 985088 2048"

# Old size 1000448: 17408 bytes into its last 64 KiB cluster (in subcluster
# 8 of 2 KiB with extended L2, 1 KiB into it).
for mode in metadata falloc full; do
    p=--preallocation=$mode
    for bk in same.raw short.raw long.raw chain.qcow2 zchain.qcow2 xchain.qcow2; do
        run_case "" $bk 1000448 1500160 a1:0:65536 $p
        run_case extended_l2=on $bk 1000448 1500160 a1:0:65536 $p
    done
    crash=1 run_case compat=0.10 same.raw 1000448 1500160 a1:0:65536 $p
    # No L2 table yet; a new L1 table; a partly allocated cluster.
    run_case "" long.raw 1000448 1500160 none $p
    run_case cluster_size=4k same.raw 1000448 3M a1:0:4096 $p
    crash=1 run_case extended_l2=on long.raw 1000448 1500160 c3:983040:2048 $p
done
crash=1 run_case "" same.raw 1000448 1500160 a1:0:65536 --preallocation=falloc
crash=1 run_case "" long.raw 1000448 1500160 a1:0:65536 --preallocation=metadata
# Without preallocation only a grow over a longer backing file copies.
for bk in long.raw chain.qcow2 xchain.qcow2; do
    crash=1 run_case "" $bk 1000448 1500160 a1:0:65536
    crash=1 run_case extended_l2=on $bk 1000448 1500160 a1:0:65536
    run_case extended_l2=on,cluster_size=128k $bk 1000448 1500160 none
done
crash=1 run_case extended_l2=on long.raw 1000448 1500160 c3:983040:2048
run_case compat=0.10 long.raw 1000448 1000960 a1:0:65536
run_case cluster_size=4k long.raw 1000448 3M a1:0:4096

# The backing file cannot be read where it must be copied: refused with a
# reason naming it, the image untouched.
rm -f packed.qcow2
"$QEMU_IMG" create -q -f qcow2 packed.qcow2 2M
"$QEMU_IO" -c "write -q -P 0x55 0 2M" packed.qcow2 >/dev/null
"$QEMU_IMG" convert -q -c -O qcow2 packed.qcow2 zpacked.qcow2
rm -f orig
"$QEMU_IMG" create -q -f qcow2 -b zpacked.qcow2 -F qcow2 orig 1000448
"$QEMU_IO" -c 'write -q -P 0xa1 0 64k' orig >/dev/null
cp orig i
"$INSTAR_IMG" resize -q --preallocation=metadata i 1500160 >/dev/null 2>i.err; irc=$?
[ $irc -ne 0 ] && grep -q 'compressed cluster of the backing file is not supported' i.err &&
    cmp -s orig i
r=$?
ok $r "a compressed backing cluster to copy: refused, named, untouched"
[ $r -eq 0 ] || diag "$(cat i.err)"

# instar-img plan opens the chain too: the plan it prints is the one a
# resize applies.  Over a longer backing file the new range becomes zero
# clusters: entries written into the L2 table besides the header (without
# the chain, a plan that writes only the header's size).
rm -f orig
"$QEMU_IMG" create -q -f qcow2 -b long.raw -F raw orig 1M
"$QEMU_IO" -c 'write -q -P 0xa1 0 64k' orig >/dev/null
"$INSTAR_IMG" plan orig 3M > plan.json 2>plan.err
npatch=$(grep -c '"kind"' plan.json)
cp orig i; "$INSTAR_IMG" resize -q i 3M
cp orig p; "$APPLY" p 3M all >/dev/null
[ "$npatch" -gt 1 ] && cmp -s i p
r=$?
ok $r "plan over a longer backing file: $npatch patches, the resize's"
[ $r -eq 0 ] || diag "$(cat plan.err)" "$(head -c 400 plan.json)"

# A hostile backing file: its L1 table offset lies past 2^63 (aligned, so
# only the bound catches it).  qemu will not open it; the copy must not
# read "zeros" there either: refused, the overlay byte-identical.
mkbase evil.qcow2 qcow2 2M
"$QEMU_IMG" create -q -f qcow2 -b evil.qcow2 -F qcow2 orig 1000448
printf '\377\377\377\377\377\377\000\000' |
    dd of=evil.qcow2 bs=1 seek=40 conv=notrunc 2>/dev/null
"$QEMU_IMG" resize -q --preallocation=metadata orig 1500160 >/dev/null 2>q.err; qrc=$?
cp orig i
"$INSTAR_IMG" resize -q --preallocation=metadata i 1500160 >/dev/null 2>i.err; irc=$?
r=0; [ $qrc -ne 0 ] && [ $irc -ne 0 ] && cmp -s orig i || r=1
ok $r "backing file with its L1 table past 2^63: both refuse (qemu $qrc, instar $irc), overlay untouched"
[ $r -eq 0 ] || diag "qemu: $(cat q.err)" "instar: $(cat i.err)"

done_testing
