#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhdx-consistency.sh -- qemu-img 7.2 cannot resize VHDX, so qemu is the
# independent reader that judges our grows.  For every case: create the
# start image (with qemu-img, and again with instar-img), write known
# patterns with qemu-io (the first and the last bytes of the disk), resize
# with instar-img, then require: qemu-img info shows the new size,
# qemu-img check is clean, the old patterns read back, the new range reads
# as zeros, qemu-io can write into the new range and read it back, and the
# image still checks clean.  For the qemu-made start images, every crash
# prefix of the plan (tests/tools/apply-prefix) must leave an image
# qemu opens and checks clean, showing the old or the new size and the old
# data.
. "$abs_top_srcdir/tests/lib.sh"
require_tools instar-img qemu-img qemu-io apply-prefix
qemu_reads vhdx

# The zero check of the new range reads at most 2 MiB at each of its ends.
zero_reads() {  # zero_reads OLD NEW: qemu-io read commands
    len=$(($2 - $1))
    if [ $len -le 4194304 ]; then
        echo "read -P 0 $1 $len"
    else
        echo "read -P 0 $1 2097152"
        echo "read -P 0 $(($2 - 2097152)) 2097152"
    fi
}

# start_image CREATOR START OPTIONS: $img, START bytes, made by qemu-img or
# instar-img with OPTIONS; when it cannot be made, a failed check and 1.
start_image() {
    img="$TMPD/img.vhdx"
    rm -f "$img" "$TMPD/start.vhdx"
    create_by "$1" -q -f vhdx ${3:+-o "$3"} "$img" "$2" >/dev/null ||
        { ok 1 "create $2 $3"; return 1; }
}

# qio_lines FILE LINES: qio FILE with each line of LINES as a command.
qio_lines() {
    _ql=$1
    echo "$2" | { set --; while read -r l; do set -- "$@" "$l"; done; qio "$_ql" "$@"; }
}

# resize_checked [--shrink]: instar-img resizes $img to $end; it succeeds,
# qemu reads $end bytes and checks the image clean (three checks of $desc).
resize_checked() {
    "$INSTAR_IMG" resize -q -f vhdx "$@" "$img" "$end" 2>"$TMPD/err"
    ok $? "$desc: instar-img resize${1:+ $1}"
    [ -s "$TMPD/err" ] && diag "$(cat "$TMPD/err")"
    ok $([ "$(vsize "$img")" = "$end" ]; echo $?) "$desc: qemu-img info shows $end"
    checks_clean "$img"; ok $? "$desc: qemu-img check clean"
}

# Every crash prefix of the plan start.vhdx -> END (tests/tools/apply-prefix)
# opens with the old or the new size, checks clean and passes DATAFN FILE SIZE.
crash_prefixes() {  # crash_prefixes START END DESC DATAFN
    n=$("$PREFIX" -f vhdx --shrink "$TMPD/start.vhdx" "$2") || { ok 1 "$3: plan for prefixes"; return; }
    bad=""
    k=0
    while [ $k -le "$n" ]; do
        cp --sparse=always "$TMPD/start.vhdx" "$TMPD/p.vhdx"
        "$PREFIX" -f vhdx --shrink "$TMPD/p.vhdx" "$2" $k >/dev/null || bad="$bad $k(apply)"
        s=$(vsize "$TMPD/p.vhdx")
        { [ "$s" = "$1" ] || [ "$s" = "$2" ]; } || bad="$bad $k(size=$s)"
        checks_clean "$TMPD/p.vhdx" || bad="$bad $k(check)"
        "$4" "$TMPD/p.vhdx" "$s" || bad="$bad $k(data)"
        k=$((k + 1))
    done
    ok $([ -z "$bad" ]; echo $?) "$3: all $((n + 1)) crash prefixes open, check clean, keep the data${bad:+ (bad:$bad)}"
}

# Grow prefixes keep every pattern written before the resize ($pats).
grow_data() {  # grow_data FILE SIZE
    [ -z "$pats" ] || qio_lines "$1" "$pats"
}

# Shrink prefixes keep what stays visible, and the old tail while the old
# size still shows.
shrink_data() {  # shrink_data FILE SIZE
    qio "$1" "$keep1" "$keep2" || return 1
    [ "$2" != "$start" ] || qio "$1" "read -P 0xa5 $((start - 512)) 512"
}

run_case() {  # run_case CREATOR START END OPTIONS
    creator=$1 start=$2 end=$3 opts=$4
    start_image "$creator" "$start" "$opts" || return
    desc="$creator $start -> $end ${opts:-(defaults)}"
    # Patterns: the first 64 KiB, and the last 512 bytes of the old disk.
    pats=""
    if [ "$start" -gt 0 ]; then
        last=$((start - 512))
        qio "$img" "write -P 0xa1 0 65536" "write -P 0xa3 $last 512" ||
            { ok 1 "$desc: qemu-io writes the start patterns"; return; }
        pats="read -P 0xa1 0 65536
read -P 0xa3 $last 512"
    fi
    cp --sparse=always "$img" "$TMPD/start.vhdx"

    resize_checked
    if [ -n "$pats" ]; then    # (a 0-byte start image has no old content)
        qio_lines "$img" "$pats"
        ok $? "$desc: old content reads back"
    fi
    qio_lines "$img" "$(zero_reads "$start" "$end")"
    ok $? "$desc: the new range reads as zeros"
    w=$((end - 512)); [ $((end - start)) -ge 65536 ] && w=$((end - 65536))
    wl=$((end - w))
    qio "$img" "write -P 0xb7 $w $wl" && qio "$img" "read -P 0xb7 $w $wl"
    ok $? "$desc: qemu-io writes into the new range and reads it back"
    checks_clean "$img"; ok $? "$desc: still clean after the write"

    [ "$creator" = qemu ] || return
    crash_prefixes "$start" "$end" "$desc" grow_data
}

# Shrink: the data below the new size stays, and growing back (with
# instar-img) shows zeros, not the old data, past the new size.
run_shrink() {  # run_shrink CREATOR START END OPTIONS
    creator=$1 start=$2 end=$3 opts=$4
    start_image "$creator" "$start" "$opts" || return
    desc="$creator shrink $start -> $end ${opts:-(defaults)}"
    keep1="read -P 0xa1 0 512"
    keep2="read -P 0xa4 $((end - 512)) 512"
    qio "$img" "write -P 0xa1 0 512" "write -P 0xa4 $((end - 512)) 512" \
        "write -P 0xa5 $((start - 512)) 512" || { ok 1 "$desc: start patterns"; return; }
    cp --sparse=always "$img" "$TMPD/start.vhdx"
    resize_checked --shrink
    qio "$img" "$keep1" "$keep2"; ok $? "$desc: content below the new size reads back"
    "$INSTAR_IMG" resize -q -f vhdx "$img" "$start"
    ok $([ "$(vsize "$img")" = "$start" ]; echo $?) "$desc: grown back to $start"
    qio_lines "$img" "$(zero_reads "$end" "$start")
$keep1
$keep2"
    ok $? "$desc: grown back, the range past $end reads as zeros (no old data)"
    qio "$img" "write -P 0xb8 $((start - 512)) 512" && qio "$img" "read -P 0xb8 $((start - 512)) 512"
    ok $? "$desc: qemu-io writes there and reads it back"
    checks_clean "$img"; ok $? "$desc: still clean"

    [ "$creator" = qemu ] || return
    crash_prefixes "$start" "$end" "$desc" shrink_data
}

M=1048576
G=$((1024 * M))
for creator in qemu instar; do
    run_case $creator $((64 * M)) $((200 * M)) ""
    run_case $creator $((5 * M + 512)) $((5 * M + 1024)) "block_size=1M"
    run_case $creator $((5 * M + 512)) $((64 * M)) "block_size=1M"
    run_case $creator $((5 * M + 512)) $((64 * M)) "block_size=1M,block_state_zero=off"
    run_case $creator $((20 * M)) $((100 * M)) "subformat=fixed,block_state_zero=off"
    run_case $creator $((20 * M)) $((20 * M + 512)) "subformat=fixed,block_state_zero=off"
    run_case $creator $((5 * M)) $((13 * M)) "subformat=fixed,block_size=4M,block_state_zero=off"
    run_case $creator $((20 * M)) $((100 * M)) "subformat=fixed"
    run_case $creator $G $((2 * G + 512)) ""
    run_case $creator $((4095 * M)) $((4098 * M)) "block_size=1M"
    run_case $creator $((127 * G)) $((130 * G)) "block_size=1M"
    run_case $creator $((127 * G)) $((130 * G)) "block_size=1M,block_state_zero=off"
    run_case $creator 0 $((100 * M)) ""
    run_case $creator $((100 * M)) $((64 * 1024 * G)) "block_size=256M"
    run_case $creator 1000448 $((3 * M)) ""
    run_case $creator $((300 * M)) $((600 * M + 512)) "subformat=fixed,block_size=256M,block_state_zero=off"
    run_case $creator $((40 * M + 512)) $((100 * M)) "block_size=32M"
done
for creator in qemu instar; do
    run_shrink $creator $((64 * M)) $((10 * M + 524288)) "block_size=1M"
    run_shrink $creator $((200 * M)) $((64 * M)) ""
    run_shrink $creator $((20 * M)) $((12 * M)) "subformat=fixed,block_state_zero=off"
    run_shrink $creator $((100 * M)) $((20 * M + 512)) "subformat=fixed"
    run_shrink $creator $((130 * G)) $((100 * G)) "block_size=1M"
    run_shrink $creator $G 1024 ""
done

done_testing
