#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# apply-nospace.sh -- a grow that runs out of space leaves the file as it
# was.  Each case creates an image with qemu-img in a private 2 MiB tmpfs,
# fills what is left (all of it, or all but 64 KiB) and asks instar-img for
# a grow that needs more: exit status 1, "No space left on device", and the
# same length, bytes and virtual size afterwards -- for every format and
# preallocation mode.  (qemu-img 7.2 in the same spot exits 1 too but
# leaves a qcow2 file longer, with new refcount structures: we do not
# follow it there.)  A retry must fail the same way, not grow again.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

# Without a tmpfs, tests/c/test-apply-failure covers the same paths.
private_tmpfs 2M

vsize() { qemu_vsize "$@"; }  # vsize FMT FILE

# run_case FMT CREATE-OPTS PREALLOC SIZE FREE-KIB (or "all": no filler)
run_case() {
    fmt=$1 copts=$2 pre=$3 size=$4 free=$5
    rm -f "$MNT/t" "$MNT/fill"
    if [ -n "$copts" ]; then
        "$QEMU_IMG" create -q -f "$fmt" -o "$copts" "$MNT/t" 1M >/dev/null
    else
        "$QEMU_IMG" create -q -f "$fmt" "$MNT/t" 1M >/dev/null
    fi || { ok 1 "create $fmt $copts"; return; }
    if [ "$free" != all ]; then
        dd if=/dev/zero of="$MNT/fill" bs=4096 status=none 2>/dev/null
        [ "$free" -gt 0 ] && truncate -s "-${free}K" "$MNT/fill"
    fi
    len0=$(stat -c %s "$MNT/t"); sum0=$(md5sum < "$MNT/t"); v0=$(vsize "$fmt" "$MNT/t")
    blk0=$(stat -c %b "$MNT/t")
    for try in 1 2; do
        "$INSTAR_IMG" resize -f "$fmt" --preallocation="$pre" "$MNT/t" "$size" \
            >"$TMPD/out" 2>"$TMPD/err"
        rc=$?
        len1=$(stat -c %s "$MNT/t"); sum1=$(md5sum < "$MNT/t"); v1=$(vsize "$fmt" "$MNT/t")
        d="$fmt${copts:+ ($copts)} $pre $size, $free KiB free, try $try"
        [ $rc -eq 1 ]; ok $? "$d: exit 1 (got $rc)"
        grep -q 'No space left on device' "$TMPD/err"
        ok $? "$d: says 'No space left on device' ($(cat "$TMPD/err"))"
        [ "$len1" = "$len0" ]; ok $? "$d: length $len0 -> $len1"
        [ "$sum1" = "$sum0" ]; ok $? "$d: bytes unchanged"
        [ "$v1" = "$v0" ]; ok $? "$d: virtual size $v0 -> $v1"
        # What was reserved for the attempt is given back.
        blk1=$(stat -c %b "$MNT/t")
        [ "$blk1" = "$blk0" ]; ok $? "$d: blocks in use $blk0 -> $blk1"
    done
}

# The metadata fits, the preallocated data does not (the 1M -> 10M case).
for pre in falloc full; do
    run_case qcow2 "" $pre +9M all
    run_case raw "" $pre +9M all
    run_case vpc "subformat=fixed" $pre +9M all
done
for pre in metadata falloc full; do
    run_case qcow2 "" $pre +9M 0
    run_case qcow2 "" $pre +9M 64
done
run_case qcow2 "" off +900G 0
run_case qcow2 "cluster_size=512" metadata +4M 0
for pre in falloc full; do
    run_case raw "" $pre +9M 0
done
for pre in off falloc full; do
    run_case vpc "subformat=fixed" $pre +9M 0
done
run_case vpc "" off +100G 0
run_case vhdx "" off +1T 0
run_case vmdk "" off +9G 0

done_testing
