#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# create-options-vs-qemu.sh -- bad `create' options, every format, side by
# side with qemu-img 7.2: option list syntax (empty, stray commas, ",,"
# escapes), unknown, empty and duplicated keys, bare flags, help, sizes
# given twice or never, bad and out-of-range sizes, and out-of-range or
# malformed values of every typed option.  Each runs against a file that
# already exists: the exit class must be qemu-img's, a refusal must carry
# qemu-img's message, and after any instar refusal the file must be
# byte-identical (qemu-img truncates or even deletes it for many of these;
# instar checks everything before it opens the file).
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

hash() { cksum < "$1"; }

# The first line of the message, without program name and path.
msg() {  # msg ERRFILE
    head -n 1 "$1" | sed -e 's/^[a-z-]*: //' -e 's|^/[^:]*/x: ||'
}

# run FMT SIZE [OPT...]: SIZE "-" for none; each OPT is one -o argument
# (none: no -o at all).
run() {
    fmt=$1 size=$2
    shift 2
    d="create -f $fmt"
    for o in "$@"; do d="$d -o '$o'"; done
    [ "$size" = - ] || d="$d $size"
    for t in q i; do
        rm -rf "$TMPD/$t"; mkdir "$TMPD/$t"
        printf 'precious data\n' > "$TMPD/$t/x"
    done
    before=$(hash "$TMPD/i/x")
    # Each OPT becomes "-o OPT" (rotating "$@": no shell strings).
    for o in "$@"; do
        set -- "$@" -o "$o"
        shift
    done
    if [ "$size" = - ]; then
        "$QEMU_IMG" create -q -f "$fmt" "$@" "$TMPD/q/x" >"$TMPD/q.out" 2>"$TMPD/q.err"; qrc=$?
        "$INSTAR_IMG" create -q -f "$fmt" "$@" "$TMPD/i/x" >"$TMPD/i.out" 2>"$TMPD/i.err"; irc=$?
    else
        "$QEMU_IMG" create -q -f "$fmt" "$@" "$TMPD/q/x" "$size" >"$TMPD/q.out" 2>"$TMPD/q.err"; qrc=$?
        "$INSTAR_IMG" create -q -f "$fmt" "$@" "$TMPD/i/x" "$size" >"$TMPD/i.out" 2>"$TMPD/i.err"; irc=$?
    fi
    [ $qrc -eq 0 ] && qc=ok || qc=refused
    [ $irc -eq 0 ] && ic=ok || ic=refused
    [ $qc = $ic ]; ok $? "$d: qemu $qc, instar $ic"
    [ $qc = $ic ] || diag "qemu: $(msg "$TMPD/q.err")" "instar: $(msg "$TMPD/i.err")"
    if [ $ic = refused ]; then
        [ "$(hash "$TMPD/i/x")" = "$before" ]; ok $? "$d: refused with the file byte-identical"
    fi
    if [ $qc = refused ] && [ $ic = refused ]; then
        qm=$(msg "$TMPD/q.err"); im=$(msg "$TMPD/i.err")
        [ "$qm" = "$im" ]; ok $? "$d: qemu's message ($qm)"
        [ "$qm" = "$im" ] || diag "instar said: $im"
    fi
}

# Every format: the option list itself, keys, sizes, preallocation.
for fmt in raw qcow2 vpc vhdx vmdk; do
    run $fmt 1M ,
    run $fmt 1M ""
    run $fmt 1M ,,
    run $fmt 1M size=1M,
    run $fmt 1M ,size=1M
    run $fmt 1M size=1M,,
    run $fmt 1M =
    run $fmt 1M =1M
    run $fmt 1M foo=bar
    run $fmt 1M foo
    run $fmt 1M nofoo
    run $fmt 1M foo,,bar
    run $fmt 1M size
    run $fmt 1M nosize
    run $fmt 1M size=
    run $fmt 1M size=abc
    run $fmt 1M size=-1
    run $fmt 1M size=1.5
    run $fmt - size=16E
    run $fmt - size=100000000000000000000
    run $fmt 1M size=1M
    run $fmt 1M size=1E
    run $fmt 1M size=1M,size=2M
    run $fmt - size=1M,size=abc
    run $fmt - size=abc,size=1M
    run $fmt 1M size=1M size=2M
    run $fmt - size=1M size=2M
    run $fmt 1M preallocation=off ,
    run $fmt 1M preallocation=off size=1M,
    run $fmt -
    # vmdk at 256 TiB and more: qemu-img writes a header nothing can open,
    # instar refuses (below).
    if [ $fmt != vmdk ]; then
        run $fmt - size=1E
        run $fmt - size=8E
    fi
    run $fmt abc
    run $fmt 1Q
    run $fmt 1.5
    run $fmt 8E
    run $fmt 99999999999999999999
    run $fmt 1M preallocation=
    run $fmt 1M preallocation=bogus
    run $fmt 1M preallocation=OFF
    run $fmt 1M preallocation=metadata
    run $fmt 1M help
    run $fmt 1M '?'
    run $fmt 1M size=1M,help
    run $fmt 1M foo=bar,help
done

# qcow2's typed options: sizes, numbers, booleans, enumerations.
for o in cluster_size= cluster_size=abc cluster_size=-1 cluster_size=16E \
         cluster_size=0 cluster_size=3000 cluster_size=4M cluster_size=1E cluster_size=1.5k \
         cluster_size=64k,cluster_size=3000 \
         refcount_bits= refcount_bits=abc refcount_bits=16k refcount_bits=0 refcount_bits=3 \
         refcount_bits=128 refcount_bits=-1 refcount_bits=18446744073709551616 \
         refcount_bits=99999999999999999999 \
         compat= compat=0.9 compat=v4 compat=V3 compat=1.1,, \
         extended_l2= extended_l2=maybe extended_l2=ON extended_l2=1 \
         lazy_refcounts= lazy_refcounts=1 lazy_refcounts,compat=0.10 \
         extended_l2,compat=0.10 extended_l2,cluster_size=4k \
         refcount_bits=8,compat=0.10 preallocation=Off; do
    run qcow2 1M "$o"
done
run qcow2 - size=8E
run qcow2 - size=9223372036854775807
run qcow2 - size=9223372036854775296
run qcow2 - size=2049T

# vpc: subformat and force_size.
for o in subformat= subformat=bogus subformat=Fixed force_size= force_size=maybe \
         force_size=ON; do
    run vpc 1M "$o"
done
run vpc - size=3000G

# vhdx: log and block sizes, the zero-state flag, subformat.
for o in log_size=0 log_size= log_size=abc log_size=-1 log_size=4G log_size=5G log_size=16E \
         block_size=3M block_size=-1 block_size=abc block_size=16E block_size=1E \
         block_state_zero= block_state_zero=maybe subformat= subformat=bogus; do
    run vhdx 1M "$o"
done
run vhdx - size=65T

# vmdk: adapter type, subformat, zeroed_grain.
for o in adapter_type= adapter_type=scsi adapter_type=IDE subformat= subformat=bogus \
         zeroed_grain= zeroed_grain=maybe; do
    run vmdk 1M "$o"
done

# What qemu-img creates and instar deliberately does not (other VMDK
# subformats; VMDK sizes qemu 7.2 cannot describe): a refusal, but one
# that leaves the existing file alone.
for o in subformat=monolithicFlat subformat=streamOptimized subformat=twoGbMaxExtentSparse \
         size=1E size=8E; do
    printf 'precious data\n' > "$TMPD/keep"
    before=$(hash "$TMPD/keep")
    case $o in size=*) sz= ;; *) sz=1M ;; esac
    "$INSTAR_IMG" create -q -f vmdk -o "$o" "$TMPD/keep" $sz >/dev/null 2>"$TMPD/err"; r=$?
    [ $r -eq 1 ] && [ "$(hash "$TMPD/keep")" = "$before" ]
    ok $? "create -f vmdk -o $o: refused ($(head -c 60 "$TMPD/err")), the file byte-identical"
done

done_testing
