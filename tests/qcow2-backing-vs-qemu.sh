#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-backing-vs-qemu.sh -- resizing a qcow2 overlay, side by side with
# qemu-img 7.2 (what qemu's iotests 274, 271 and 292 check).  A grow over
# a longer backing file must make the new range read as zeros, not as the
# backing file's bytes: zero clusters (compat 1.1), zero subclusters
# (extended L2), in every preallocation mode; compat 0.10 is refused as
# qemu refuses it.  The backing chain is opened as qemu-img opens it:
# relative to the overlay's directory, its format from the header or
# probed, read-only under qemu's locks; a missing file, a locked one and a
# loop are refused with qemu's words, the overlay untouched.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

cd "$TMPD" || exit 99
ncase=0

# mkbase NAME FMT SIZE: a backing file full of 0x55.
mkbase() {
    rm -f "$1"
    "$QEMU_IMG" create -q -f "$2" "$1" "$3" &&
        "$QEMU_IO" -f "$2" -c "write -q -P 0x55 0 $3" "$1" >/dev/null
}

# run_case OPTS BACKING BFMT START END WRITES FLAGS...: an overlay of START
# bytes over BACKING, WRITES (a list of PAT:OFF:LEN, or none) written into
# it, resized by qemu-img and by instar-img.
run_case() {
    opts=$1 bk=$2 bf=$3 start=$4 end=$5 writes=$6; shift 6
    ncase=$((ncase + 1))
    desc="#$ncase -o '$opts' over $bk ($bf) $start -> $end [$writes] $*"
    rm -f orig q i
    overlay_with orig "$opts" "$bk" "$bf" "$start" "$writes" ||
        { ok 1 "$desc: qemu-img create"; diag "$(cat c.err)"; return; }
    resize_both "$end" -q "$@"
    outcome "$desc"
    if [ $qc = ok ] && [ $ic = fail ] && unsupported i.err && cmp -s orig i; then
        todo "$desc ($(err_text i.err); file untouched)"
        return
    fi
    split_outcome && return
    if [ $qc = fail ]; then
        same_refusal
        return
    fi
    same_info
    check_json q q.check; qck=$?
    check_clean i i.check; r=$?
    ok $r "$desc: check clean (qemu: $qck)"
    [ $r -eq 0 ] || diag "$(tr -d '\n' < i.check)"
    # Through the backing chain: the guest's view.
    "$QEMU_IMG" compare -f qcow2 -F qcow2 q i >cmp.out 2>&1; r=$?
    ok $r "$desc: same guest data"
    [ $r -eq 0 ] || diag "$(cat cmp.out)"
}

mkbase base.qcow2 qcow2 4M
mkbase base.raw raw 4M
mkbase big.qcow2 qcow2 3G

# The grown range over the backing file, every preallocation mode.
for mode in off metadata falloc full; do
    p=--preallocation=$mode
    run_case "" base.qcow2 qcow2 1M 3M a1:0:65536 $p
    run_case "" base.qcow2 qcow2 1M 8M a1:0:65536 $p
    run_case extended_l2=on base.qcow2 qcow2 1M 3M a1:0:65536 $p
    run_case extended_l2=on,cluster_size=512k base.qcow2 qcow2 1M 3M none $p
    run_case compat=0.10 base.qcow2 qcow2 1M 3M a1:0:65536 $p
    run_case cluster_size=4k base.raw raw 1M 2M a1:0:4096 $p
    # Unaligned old sizes: the head of the old end's cluster.
    run_case "" base.qcow2 qcow2 1000448 3M c3:983040:17408 $p
    run_case extended_l2=on base.qcow2 qcow2 1000448 3M c3:983040:17408 $p
    run_case "" base.qcow2 qcow2 1000448 3M a1:0:512 $p
done
# Through the L1 growth, over a backing file shorter than the new size,
# within one subcluster, same size, shrink.
run_case "" big.qcow2 qcow2 1M 2G a1:0:65536
run_case extended_l2=on big.qcow2 qcow2 1M 1G none
run_case "" base.qcow2 qcow2 3M 8M a1:0:65536
run_case "" base.qcow2 qcow2 4M 8M a1:0:65536
run_case extended_l2=on base.qcow2 qcow2 1000448 +512 c3:983040:17408
run_case compat=0.10 base.qcow2 qcow2 1000448 +512 c3:983040:17408
run_case "" base.qcow2 qcow2 1M 1M none
run_case "" base.qcow2 qcow2 2M 1M a1:0:65536 --shrink
# After an internal snapshot (L2 tables shared: copied before linking).
rm -f snap.qcow2
"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 snap.qcow2 1M
"$QEMU_IO" -c 'write -q -P 0xa1 0 64k' snap.qcow2 >/dev/null
"$QEMU_IMG" snapshot -c s1 snap.qcow2
cp snap.qcow2 q; cp snap.qcow2 i
"$QEMU_IMG" resize -q q 3M && "$INSTAR_IMG" resize -q i 3M &&
    "$QEMU_IMG" compare q i >/dev/null && check_clean i i.check
ok $? "a snapshot shares the L2 table: copied, new range reads zeros"

# A backing file in another directory, named relative to the overlay.
mkdir -p sub/deeper
mkbase sub/deeper/b.qcow2 qcow2 4M
"$QEMU_IMG" create -q -f qcow2 -b deeper/b.qcow2 -F qcow2 sub/o.qcow2 1M
"$INSTAR_IMG" resize -q sub/o.qcow2 3M &&
    "$QEMU_IO" -c 'read -P 0 1M 2M' sub/o.qcow2 2>&1 | grep -q 'read 2097152/2097152'
ok $? "relative backing name resolved against the overlay's directory"

# A chain: the immediate backing file's length counts (qemu's getlength).
mkbase long.qcow2 qcow2 8M
"$QEMU_IMG" create -q -f qcow2 -b long.qcow2 -F qcow2 mid.qcow2 2M
"$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 1M
cp top.qcow2 q; cp top.qcow2 i
"$QEMU_IMG" resize -q q 6M; "$INSTAR_IMG" resize -q i 6M
"$QEMU_IMG" compare q i >cmp.out 2>&1
ok $? "a chain of three: same guest data as qemu's"
# Without a backing format in the header: probed.
"$QEMU_IMG" create -q -f qcow2 -u -b base.raw nofmt.qcow2 1M 2>/dev/null ||
    "$QEMU_IMG" create -q -f qcow2 -b base.raw -F raw nofmt.qcow2 1M
cp nofmt.qcow2 q; cp nofmt.qcow2 i
"$QEMU_IMG" resize -q q 3M 2>/dev/null; "$INSTAR_IMG" resize -q i 3M
"$QEMU_IMG" compare q i >/dev/null 2>&1
ok $? "backing format probed when the header names none"

# Refusals: the backing file is missing, loops, or is held by a writer.
refusal() {  # refusal DESC FILE SIZE FLAGS...: same message, file untouched
    rd=$1 rf=$2 rs=$3; shift 3
    cp "$rf" q; cp "$rf" i
    "$QEMU_IMG" resize "$@" q "$rs" >/dev/null 2>q.err
    "$INSTAR_IMG" resize "$@" i "$rs" >/dev/null 2>i.err; irc=$?
    r=0; [ $irc -ne 0 ] || r=1
    [ "$(err_text q.err | sed 's/^Could not open .q.: //')" = \
      "$(err_text i.err | sed 's/^Could not open .i.: //')" ] || r=1
    cmp -s "$rf" i || r=1
    ok $r "$rd: refused with qemu's message, untouched"
    [ $r -eq 0 ] || diag "qemu: $(cat q.err)" "instar: $(cat i.err)"
}
"$QEMU_IMG" create -q -f qcow2 -b gone.qcow2 -F qcow2 -u missing.qcow2 1M
refusal "missing backing file" missing.qcow2 3M
refusal "missing backing file, on a shrink too" missing.qcow2 512K --shrink
rm -f q i
"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 q 1M; cp q i
"$QEMU_IMG" rebase -q -u -b q -F qcow2 q; "$QEMU_IMG" rebase -q -u -b i -F qcow2 i
cp i self.qcow2
"$QEMU_IMG" resize q 3M >/dev/null 2>q.err
"$INSTAR_IMG" resize i 3M >/dev/null 2>i.err; irc=$?
[ $irc -ne 0 ] && [ "$(sed "s/'q'/'i'/g; s/\[q\]/[i]/" q.err | tail -n 1)" = "$(tail -n 1 i.err)" ] &&
    [ "$(head -n 1 q.err | sed "s/'q'/'i'/g; s/^[a-z-]*: //")" = "$(err_text i.err)" ] &&
    cmp -s self.qcow2 i
r=$?
ok $r "a backing file that is the image itself: refused as qemu refuses it"
[ $r -eq 0 ] || diag "qemu: $(cat q.err)" "instar: $(cat i.err)"

"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 held.qcow2 1M
"$QEMU_IO" -f qcow2 -c 'sleep 20000' base.qcow2 >/dev/null 2>&1 &
hpid=$!
i=0; while ! grep -q "OFDLCK.*:$(stat -c %i base.qcow2) " /proc/locks && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1)); done
refusal "backing file held by a writer" held.qcow2 3M
kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null

# The locks on the backing file while instar-img resizes: qemu-img's
# (byte 100 consistent read; 201 and 203 not shared: write, resize).
lockbytes() {  # lockbytes FILE: the OFD lock bytes held on FILE, sorted
    ino=$(stat -c %i "$1")
    grep "OFDLCK.*:$ino " /proc/locks | awk '{print $7}' | sort -n | tr '\n' ' '
}
locks_during() {  # locks_during BASE FMT: lock bytes on BASE while a resize pauses
    rm -f ready resume lk.qcow2
    "$QEMU_IMG" create -q -f qcow2 -b "$1" -F "$2" lk.qcow2 1M
    INSTAR_TEST_PAUSE_AFTER_PATCH=1 INSTAR_TEST_PAUSE_READY=$TMPD/ready \
        INSTAR_TEST_PAUSE_RESUME=$TMPD/resume "$INSTAR_IMG" resize lk.qcow2 3M >/dev/null 2>&1 &
    apid=$!
    i=0; while [ ! -e ready ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    lockbytes "$1"
    touch resume; wait $apid
}
got=$(locks_during base.qcow2 qcow2)
[ "$got" = "100 201 203 " ]
ok $? "backing file locked as qemu-img locks it (held: $got)"
got=$(locks_during base.raw raw)
[ "$got" = "100 " ]
ok $? "raw backing file locked as qemu-img locks it (held: $got)"

done_testing
