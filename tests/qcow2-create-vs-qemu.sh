#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-create-vs-qemu.sh -- `instar-img create -f qcow2' side by side with
# `qemu-img create -f qcow2' (7.2).  For each case: the same exit class and,
# on refusal, the same message; on success an equal normalised
# `qemu-img info', a clean `qemu-img check' with the same cluster counts,
# equal guest data (`qemu-img compare'), and -- where qemu keeps its
# standard layout (refcount table at cluster 1, one refcount block,
# preallocation off) -- the very same bytes.
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img

run_case() {  # run_case OPTIONS SIZE
    opts=$1 size=$2
    rm -f "$TMPD/q.qcow2" "$TMPD/i.qcow2"
    set -- -q -f qcow2
    [ -n "$opts" ] && set -- "$@" -o "$opts"
    "$QEMU_IMG" create "$@" "$TMPD/q.qcow2" "$size" >/dev/null 2>"$TMPD/q.err"; qrc=$?
    "$INSTAR_IMG" create "$@" "$TMPD/i.qcow2" "$size" >/dev/null 2>"$TMPD/i.err"; irc=$?
    outcome "create -o '$opts' $size"
    split_outcome && return
    if [ $qc = fail ]; then
        qm=$(err_text "$TMPD/q.err"); im=$(err_text "$TMPD/i.err")
        [ "$qm" = "$im" ]; ok $? "$desc: same message ($qm)"
        [ "$qm" = "$im" ] || diag "instar said: $im"
        # qemu-img deletes the file of a failed qcow2 create.
        r=0; [ -e "$TMPD/q.qcow2" ] && r=1; [ -e "$TMPD/i.qcow2" ] && r=1
        ok $r "$desc: no file left behind (as qemu)"
        return
    fi
    same_info "$TMPD/q.qcow2" "$TMPD/i.qcow2"

    check_json "$TMPD/q.qcow2" "$TMPD/q.check"
    check_clean "$TMPD/i.qcow2" "$TMPD/i.check"; r=$?
    for k in total-clusters allocated-clusters; do
        [ "$(json_num $k "$TMPD/q.check")" = "$(json_num $k "$TMPD/i.check")" ] || r=1
    done
    ok $r "$desc: check clean, same cluster counts"
    [ $r -eq 0 ] || diag "$(cat "$TMPD/i.check")"

    # compare walks the whole guest range: seconds per PiB, so only up to 2T
    # (bigger images are covered by the byte comparison and check below).
    if [ "$(json_num virtual-size "$TMPD/q.info")" -le 2199023255552 ]; then
        "$QEMU_IMG" compare -q -f qcow2 -F qcow2 "$TMPD/q.qcow2" "$TMPD/i.qcow2" >/dev/null 2>&1
        ok $? "$desc: same guest data"
    fi

    # qemu's standard layout: refcount table at cluster 1 whose only entry
    # is cluster 2.  There our layout is the same, so the bytes must be.
    case "$opts" in *preallocation=metadata*|*preallocation=falloc*|*preallocation=full*) return ;; esac
    cb=$(be_u32 "$TMPD/q.qcow2" 20); cs=$((1 << cb))
    rt=$(be_u64 "$TMPD/q.qcow2" 48)
    e0=$(be_u64 "$TMPD/q.qcow2" $((cs))); e1=$(be_u64 "$TMPD/q.qcow2" $((cs + 8)))
    if [ "$rt" -eq "$cs" ] && [ "$e0" -eq $((2 * cs)) ] && [ "$e1" -eq 0 ]; then
        cmp -s "$TMPD/q.qcow2" "$TMPD/i.qcow2"
        ok $? "$desc: byte-identical (standard layout)"
    fi
}

# Valid option sets x sizes: each set meets every size of its ladder
# (preallocation only on small sizes, so the run stays short).
valid="
-
cluster_size=512
cluster_size=4k
cluster_size=2M
refcount_bits=1
refcount_bits=2,cluster_size=1k
refcount_bits=4
refcount_bits=8,cluster_size=512
refcount_bits=32
refcount_bits=64,cluster_size=512
extended_l2=on
extended_l2=on,cluster_size=16k
extended_l2=on,cluster_size=2M
lazy_refcounts=on
compat=0.10
compat=0.10,cluster_size=4k
compat=1.1,lazy_refcounts=on,refcount_bits=64,extended_l2=on
"
set -- 512 1000 16M 1G 2T 100G 3M
for o in $valid; do
    [ "$o" = - ] && o=
    # Size 0 and two sizes of the ladder, rotating, so every set meets
    # several sizes and every size several sets.
    run_case "$o" 0
    run_case "$o" "$1"
    run_case "$o" "$2"
    first=$1; shift; set -- "$@" "$first"
done

# Preallocation: every mode, a few option sets, sizes that need one and
# several L2 tables (4k clusters: one L2 covers 2 MiB).
i=0
for o in "" cluster_size=4k refcount_bits=1,cluster_size=4k extended_l2=on,cluster_size=16k \
         compat=0.10 refcount_bits=64,cluster_size=512; do
    for mode in metadata falloc full; do
        i=$((i + 1))
        case $((i % 3)) in 0) size=1M ;; 1) size=5M ;; *) size=3000 ;; esac
        run_case "${o:+$o,}preallocation=$mode" "$size"
    done
done
run_case preallocation=off 16M
run_case preallocation=metadata 0

# Size limits: the largest L1 qemu allows, and one entry more.
run_case "" 2P
run_case "" 2049T
run_case cluster_size=512 16G
run_case cluster_size=512 129G
run_case extended_l2=on 1P
run_case extended_l2=on 1025T
run_case cluster_size=2M 4P
run_case cluster_size=4k,refcount_bits=64 8T

# Our two paths agree: create at SIZE, and create at 0 then resize to SIZE
# (how qemu itself creates), give the same info, clean checks and data.
two_paths() {  # two_paths OPTIONS SIZE [PREALLOC]
    rm -f "$TMPD/a.qcow2" "$TMPD/b.qcow2"
    "$INSTAR_IMG" create -q -f qcow2 -o "$1${3:+,preallocation=$3}" "$TMPD/a.qcow2" "$2" \
        >/dev/null 2>"$TMPD/a.err"; r=$?
    "$INSTAR_IMG" create -q -f qcow2 -o "$1" "$TMPD/b.qcow2" 0 >/dev/null 2>"$TMPD/b.err" || r=1
    "$INSTAR_IMG" resize -q -f qcow2 ${3:+--preallocation=$3} "$TMPD/b.qcow2" "$2" \
        >/dev/null 2>>"$TMPD/b.err" || r=1
    norm_info "$TMPD/a.qcow2" "$TMPD/a.info"; norm_info "$TMPD/b.qcow2" "$TMPD/b.info"
    cmp -s "$TMPD/a.info" "$TMPD/b.info" || r=1
    check_clean "$TMPD/a.qcow2" "$TMPD/a.check" || r=1
    check_clean "$TMPD/b.qcow2" "$TMPD/b.check" || r=1
    [ "$(json_num allocated-clusters "$TMPD/a.check")" = \
      "$(json_num allocated-clusters "$TMPD/b.check")" ] || r=1
    "$QEMU_IMG" compare -q -f qcow2 -F qcow2 "$TMPD/a.qcow2" "$TMPD/b.qcow2" >/dev/null 2>&1 || r=1
    ok $r "create -o '$1' $2 ${3:-}: same as create 0 + resize"
    [ $r -eq 0 ] || diag "$(cat "$TMPD/a.err" "$TMPD/b.err")"
}
two_paths cluster_size=64k 1G
two_paths cluster_size=512,refcount_bits=64 2G
two_paths extended_l2=on,refcount_bits=1 3M metadata
two_paths compat=0.10,cluster_size=4k 5M falloc
two_paths cluster_size=2M,lazy_refcounts=on 9M full
two_paths refcount_bits=8 2T

# Refusals, each with qemu-img's message.
for o in compat=0.10,lazy_refcounts=on compat=0.10,extended_l2=on \
         compat=0.10,extended_l2=on,cluster_size=4k extended_l2=on,cluster_size=4k \
         extended_l2=on,cluster_size=3000 refcount_bits=3 refcount_bits=0 refcount_bits=128 \
         compat=0.10,refcount_bits=8 compat=0.10,refcount_bits=3 \
         compat=0.10,lazy_refcounts=on,refcount_bits=3 cluster_size=256 cluster_size=4M \
         cluster_size=0 cluster_size=3000,compat=0.10,lazy_refcounts=on; do
    run_case "$o" 1G
done

done_testing
