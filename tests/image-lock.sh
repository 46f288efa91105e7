#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# image-lock.sh -- qemu's image locks: instar-img against qemu holders,
# qemu against a paused instar-img, two instar-img resizes at once.
#
# Expected outcomes were measured with qemu-img 7.2 against the same
# holders; each case also runs qemu-img on the held image and requires the
# same refusal message (program name aside).
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
QEMU_NBD=${QEMU_NBD:-$(command -v qemu-nbd)}
require "$QEMU_NBD" qemu-nbd

holder_pid=
fifo_open=0

has_locks() {  # has_locks FILE: some OFD lock is held on FILE's inode
    ino=$(stat -c %i "$1")
    grep -q "OFDLCK.*:$ino " /proc/locks
}

wait_for() {  # wait_for CMD...: up to 20 s for CMD to succeed
    i=0
    while ! "$@"; do
        i=$((i + 1))
        [ $i -gt 200 ] && return 1
        sleep 0.1
    done
}

start_holder() {  # start_holder KIND FMT FILE; KIND: rw ro roU nbd
    case $1 in
        nbd)
            "$QEMU_NBD" -f "$2" -k "$TMPD/nbd.sock" "$3" </dev/null >"$TMPD/holder.out" 2>&1 &
            holder_pid=$! ;;
        *)
            rm -f "$TMPD/fifo"; mkfifo "$TMPD/fifo"
            case $1 in
                rw) set -- "$2" "$3" ;;
                ro) set -- "$2" "$3" -r ;;
                roU) set -- "$2" "$3" -r -U ;;
            esac
            fmt=$1 file=$2; shift 2
            "$QEMU_IO" "$@" -f "$fmt" "$file" <"$TMPD/fifo" >"$TMPD/holder.out" 2>&1 &
            holder_pid=$!
            exec 7>"$TMPD/fifo"
            fifo_open=1
            set -- x x "$file" ;;
    esac
    wait_for has_locks "$3" || { echo "Bail out! holder did not lock $3"; exit 99; }
}

stop_holder() {
    if [ $fifo_open -eq 1 ]; then
        echo quit >&7
        exec 7>&-
        fifo_open=0
    else
        kill "$holder_pid" 2>/dev/null
    fi
    wait "$holder_pid" 2>/dev/null
    holder_pid=
}

# ---- qemu holders against instar-img resize, every format ----------------
# expect FMT HOLDER -> "ok" or the permission qemu-img names.
expect() {
    case "$1:$2" in
        raw:nbd) echo resize ;;
        raw:*) echo ok ;;
        *:roU) echo ok ;;
        *) echo write ;;
    esac
}

cd "$TMPD" || exit 99
for fmt in raw qcow2 vpc vhdx vmdk; do
    for h in rw ro roU nbd; do
        rm -f t.img
        "$QEMU_IMG" create -q -f "$fmt" t.img 1M || exit 99
        "$QEMU_IO" -f "$fmt" -c 'write -P 0x5a 0 64k' t.img >/dev/null || exit 99
        start_holder "$h" "$fmt" t.img
        cp t.img before.img
        "$INSTAR_IMG" resize -f "$fmt" t.img 2M >i.out 2>i.err; irc=$?
        want=$(expect "$fmt" "$h")
        if [ "$want" = ok ]; then
            ok $irc "$fmt held $h: instar-img resizes (qemu-img 7.2's locks allow it)"
        else
            [ $irc -eq 1 ] && grep -q "Could not open 't.img': Failed to get \"$want\" lock" i.err \
                && grep -q 'Is another process using the image \[t.img\]?' i.err
            ok $? "$fmt held $h: refused with qemu's \"$want\" lock message"
            cmp -s t.img before.img
            ok $? "$fmt held $h: the refusal leaves the file byte-identical"
            "$QEMU_IMG" resize -f "$fmt" t.img 2M >q.out 2>q.err
            sed 's/^instar-img: /qemu-img: /' i.err | cmp -s - q.err
            ok $? "$fmt held $h: qemu-img refuses with the same message"
        fi
        if [ "$fmt" = raw ] || [ "$fmt" = qcow2 ]; then
            # qemu-img resizes these formats: its class must be ours.
            cp before.img t.img 2>/dev/null
            "$QEMU_IMG" resize -f "$fmt" t.img 2M >/dev/null 2>&1; qrc=$?
            [ $qrc -eq $irc ]
            ok $? "$fmt held $h: qemu-img 7.2 exits $qrc too"
        fi
        stop_holder
    done
done

# ---- -U: qemu-img 7.2's resize does not take it ---------------------------
rm -f t.img; "$QEMU_IMG" create -q -f qcow2 t.img 1M
cp t.img before.img
"$QEMU_IMG" resize -U t.img 2M >/dev/null 2>q.err; qrc=$?
"$INSTAR_IMG" resize -U t.img 2M >/dev/null 2>i.err; irc=$?
[ $qrc -ne 0 ] && [ $irc -ne 0 ] && grep -q "unrecognized option '-U'" q.err \
    && grep -q "unrecognized option '-U'" i.err && cmp -s t.img before.img
ok $? "resize -U is refused as by qemu-img 7.2 (unrecognized option), file untouched"

# ---- plan and create against holders -------------------------------------
start_holder rw qcow2 t.img
"$INSTAR_IMG" plan t.img 2M >/dev/null 2>i.err; irc=$?
"$QEMU_IMG" measure -O qcow2 t.img >/dev/null 2>q.err; qrc=$?
[ $irc -eq 1 ] && [ $qrc -eq 1 ] && grep -q 'Failed to get shared "write" lock' i.err \
    && grep -q 'Failed to get shared "write" lock' q.err
ok $? "plan against a writer: refused like qemu-img measure (shared \"write\" lock)"
"$INSTAR_IMG" plan -U t.img 2M >/dev/null 2>&1
ok $? "plan -U against a writer: allowed like qemu-img measure -U"
"$INSTAR_IMG" create -q -f qcow2 t.img 4M 2>i.err; irc=$?
"$QEMU_IMG" create -q -f qcow2 t.img 4M 2>q.err; qrc=$?
[ $irc -eq 1 ] && [ $qrc -eq 1 ] && cmp -s t.img before.img \
    && sed 's/^instar-img: /qemu-img: /' i.err | cmp -s - q.err
ok $? "create over a held image: refused with qemu-img's message, file untouched"
stop_holder
start_holder ro qcow2 t.img
"$INSTAR_IMG" plan t.img 2M >/dev/null 2>&1
ok $? "plan against a read-only holder: allowed like qemu-img measure"
stop_holder

# ---- the reverse: qemu cannot write while instar-img resizes ---------------
pause_env() {  # the test hook (see core/image/engine.h)
    rm -f "$TMPD/ready" "$TMPD/resume"
    INSTAR_TEST_PAUSE_AFTER_PATCH=$1 INSTAR_TEST_PAUSE_READY=$TMPD/ready \
        INSTAR_TEST_PAUSE_RESUME=$TMPD/resume
    export INSTAR_TEST_PAUSE_AFTER_PATCH INSTAR_TEST_PAUSE_READY INSTAR_TEST_PAUSE_RESUME
}
no_pause_env() {
    unset INSTAR_TEST_PAUSE_AFTER_PATCH INSTAR_TEST_PAUSE_READY INSTAR_TEST_PAUSE_RESUME
}
ready() { [ -e "$TMPD/ready" ]; }
# resize_paused ARG...: `instar-img resize ARG...' in the background
# (pid $apid), paused after its first patch; 0 once it says it paused.
resize_paused() {
    pause_env 1
    "$INSTAR_IMG" resize "$@" >a.out 2>a.err &
    apid=$!
    no_pause_env
    wait_for ready
}
# resume_checked DESC SIZE PAT DESC2: the paused resize goes on and
# completes (DESC); t.img then checks clean, has SIZE bytes and PAT in
# its first 64k (DESC2).
resume_checked() {
    touch "$TMPD/resume"
    wait $apid; arc=$?
    ok $arc "$1"
    "$QEMU_IMG" check -q t.img &&
        [ "$("$QEMU_IMG" info --output=json t.img | grep '"virtual-size"')" = "    \"virtual-size\": $2," ] &&
        "$QEMU_IO" -f qcow2 -c "read -P $3 0 64k" t.img | grep -q 'read 65536/65536'
    ok $? "$4"
}

rm -f t.img; "$QEMU_IMG" create -q -f qcow2 t.img 1G
"$QEMU_IO" -f qcow2 -c 'write -P 0x33 0 64k' t.img >/dev/null
resize_paused t.img 2T
ok $? "instar-img resize paused after its first patch (test hook)"
"$QEMU_IO" -f qcow2 -c 'write -P 0x44 0 512' t.img >q.out 2>q.err; qrc=$?
grep -q 'Failed to get "write" lock' q.err && grep -q 'Is another process using the image' q.err
ok $? "qemu-io cannot open the image for writing while instar-img holds it"
"$QEMU_IMG" info t.img >/dev/null 2>q.err
grep -q 'Failed to get shared "write" lock' q.err
ok $? "qemu-img info sees instar-img's unshared write"
resume_checked "the paused resize then completes" 2199023255552 0x33 \
    "the image is consistent, 2T, data intact"

# ---- two instar-img resizes at once -----------------------------------------
rm -f t.img; "$QEMU_IMG" create -q -f qcow2 -o cluster_size=512 t.img 1M
"$QEMU_IO" -f qcow2 -c 'write -P 0x21 0 64k' t.img >/dev/null
resize_paused --preallocation=metadata t.img 64M
cp t.img mid.img
"$INSTAR_IMG" resize --preallocation=metadata t.img 96M >b.out 2>b.err; brc=$?
[ $brc -eq 1 ] && grep -q "Could not open 't.img': Failed to get \"write\" lock" b.err
ok $? "a second concurrent resize fails with qemu's lock message"
cmp -s t.img mid.img
ok $? "the second resize changed nothing"
resume_checked "the first resize completes" 67108864 0x21 \
    "the image is consistent (qemu-img check), 64M, data intact"

done_testing
