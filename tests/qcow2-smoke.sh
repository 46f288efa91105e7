#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-smoke.sh -- a handful of qcow2 resizes by instar-img next to
# qemu-img 7.2 (the broad matrix lives elsewhere).  Each case: one start
# image (made by qemu-img, data written by qemu-io), resized by both tools;
# require the same exit class, and then a clean `qemu-img check' (no leaks
# where qemu has none), equal normalised `qemu-img info' and equal guest
# data (`qemu-img compare'); on refusal the file must be untouched.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io

info() {  # normalised info: drop path- and allocation-dependent fields
    "$QEMU_IMG" info --output=json "$1" | grep -v -e '"filename"' -e '"actual-size"'
}

leaks() {
    "$QEMU_IMG" check --output=json "$1" 2>/dev/null | grep -c -e '"leaks"' -e '"corruptions"'
}

run_case() {  # run_case CREATE-OPTS SIZE SETUP END FLAGS...
    opts=$1 size=$2 setup=$3 end=$4; shift 4
    rm -f "$TMPD/orig" "$TMPD/q" "$TMPD/i"
    "$QEMU_IMG" create -q -f qcow2 -o "$opts" "$TMPD/orig" "$size" || { ok 1 "create $opts $size"; return; }
    for step in $setup; do
        case $step in
            snap) "$QEMU_IMG" snapshot -c s1 "$TMPD/orig" ;;
            bitmap) "$QEMU_IMG" bitmap --add "$TMPD/orig" b0 ;;
            bitmap512) "$QEMU_IMG" bitmap --add -g 512 "$TMPD/orig" b512 ;;
            c@*) "$QEMU_IO" -c "write -c -P 0xcd ${step#c@} 64k" "$TMPD/orig" >/dev/null ;;
            z@*) "$QEMU_IO" -c "write -z ${step#z@} 64k" "$TMPD/orig" >/dev/null ;;
            @*) "$QEMU_IO" -c "write -P 0xab ${step#@} 64k" "$TMPD/orig" >/dev/null ;;
        esac
    done
    cp "$TMPD/orig" "$TMPD/q"
    cp "$TMPD/orig" "$TMPD/i"
    "$QEMU_IMG" resize -q -f qcow2 "$@" "$TMPD/q" "$end" >/dev/null 2>"$TMPD/q.err"; qrc=$?
    "$INSTAR_IMG" resize -q -f qcow2 "$@" "$TMPD/i" "$end" >/dev/null 2>"$TMPD/i.err"; irc=$?
    desc="qcow2 [$opts] $size [$setup] -> $end $*"
    if [ $qrc -ne 0 ] || [ $irc -ne 0 ]; then
        same=1
        [ $qrc -ne 0 ] && [ $irc -ne 0 ] && cmp -s "$TMPD/orig" "$TMPD/i" && same=0
        ok $same "$desc: both refuse, file untouched"
        [ $same -eq 0 ] || diag "qemu($qrc): $(cat "$TMPD/q.err")" "instar($irc): $(cat "$TMPD/i.err")"
        return
    fi
    "$QEMU_IMG" check -q "$TMPD/i" >/dev/null 2>&1
    ok $? "$desc: qemu-img check is clean"
    [ "$(leaks "$TMPD/i")" -le "$(leaks "$TMPD/q")" ]
    ok $? "$desc: no leaks or corruptions where qemu has none"
    [ "$(info "$TMPD/q")" = "$(info "$TMPD/i")" ]
    ok $? "$desc: same normalised qemu-img info"
    "$QEMU_IMG" compare -q "$TMPD/q" "$TMPD/i" >/dev/null 2>&1
    ok $? "$desc: same guest data"
    case $setup in
    *bitmap*)   # qemu must still load (and store back) our bitmaps
        "$QEMU_IMG" bitmap --add "$TMPD/i" smoke-check >/dev/null 2>&1 &&
            "$QEMU_IMG" check -q "$TMPD/i" >/dev/null 2>&1
        ok $? "$desc: qemu loads and stores the bitmaps afterwards" ;;
    esac
}

run_case "cluster_size=65536" 16M "" 1G
run_case "cluster_size=65536" 16M "@0 @15M" 2T
run_case "cluster_size=65536" 16M "@0 @15M" 8M --shrink
run_case "cluster_size=65536" 16M "@15M" 15729152 --shrink
run_case "cluster_size=65536" 1G "@0 @600M" 512M --shrink
run_case "cluster_size=65536" 64G "" 1G --shrink
run_case "cluster_size=512" 1M "@0 @512K" 8G
run_case "cluster_size=512,refcount_bits=1" 1M "@0 @512K" 100G
run_case "cluster_size=4096,refcount_bits=64" 64M "@0 @20M @40M @60M" 16M --shrink
run_case "refcount_bits=2" 64M "@0 @40M" 16M --shrink
run_case "extended_l2=on" 16M "@0 @7M" 2G
run_case "extended_l2=on" 16M "@0 @7M @15M" 8M --shrink
run_case "compat=0.10" 16M "@0" 1G
run_case "compat=0.10" 16M "@0 snap" 1G
run_case "lazy_refcounts=on" 16M "@0" 1G
run_case "cluster_size=65536" 16M "@0 @15M snap @14M" 8M --shrink
run_case "cluster_size=65536" 16M "@0 c@15M c@7M z@12M" 8M --shrink
run_case "cluster_size=65536" 16M "@0" 64M --preallocation=metadata
run_case "cluster_size=65536" 16M "@15M" +1M --preallocation=falloc
run_case "cluster_size=512" 1M "@0" 2M --preallocation=full
run_case "cluster_size=65536" 16M "bitmap @0 @15M" 8M --shrink
run_case "cluster_size=65536" 16M "bitmap @0" 1G
run_case "cluster_size=65536" 16M "bitmap512 @0 bitmap @5M" 1G
run_case "cluster_size=4096,refcount_bits=1" 64M "bitmap512 @0 @60M" 8M --shrink
run_case "cluster_size=65536" 16M "" +513
run_case "cluster_size=65536" 2P "" +512
run_case "cluster_size=65536" 16M "" 16M --preallocation=falloc

done_testing
