#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vmdk-create.sh -- `instar-img create -f vmdk' side by side with qemu-img 7.2.
# Same options, same base name (in two directories): the files must be
# byte-identical outside the descriptor, the descriptors identical but for
# the random CID, `qemu-img info --output=json' identical once the CID,
# file name and allocation are dropped, and both must check clean.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

mkdir -p "$TMPD/q" "$TMPD/i"

info_norm() {
    "$QEMU_IMG" info -f vmdk --output=json "$1" 2>&1 \
        | grep -Ev '"(filename|actual-size|cid)"'
}
desc_norm() {  # the descriptor text without its CID line
    dd if="$1" bs=512 skip=1 count=20 status=none | tr -d '\000' | grep -v '^CID='
}
same_outside_desc() {  # same_outside_desc A B: equal but for sectors 1-20
    cmp -s -n 512 "$1" "$2" && cmp -s -i 10752 "$1" "$2"
}

same_create() {  # same_create SIZE [OPTS]
    size=$1 opts=${2:-}
    rm -f "$TMPD/q/d.vmdk" "$TMPD/i/d.vmdk"
    if [ -n "$opts" ]; then
        "$QEMU_IMG" create -q -f vmdk -o "$opts" "$TMPD/q/d.vmdk" "$size" >/dev/null 2>&1; qrc=$?
        "$INSTAR_IMG" create -q -f vmdk -o "$opts" "$TMPD/i/d.vmdk" "$size" >/dev/null 2>"$TMPD/err"; irc=$?
    else
        "$QEMU_IMG" create -q -f vmdk "$TMPD/q/d.vmdk" "$size" >/dev/null 2>&1; qrc=$?
        "$INSTAR_IMG" create -q -f vmdk "$TMPD/i/d.vmdk" "$size" >/dev/null 2>"$TMPD/err"; irc=$?
    fi
    d="create $size ${opts:-(defaults)}"
    [ $qrc -eq 0 ] && [ $irc -eq 0 ]
    ok $? "$d: both succeed $(head -c 200 "$TMPD/err")"
    [ "$(stat -c %s "$TMPD/q/d.vmdk")" = "$(stat -c %s "$TMPD/i/d.vmdk")" ]
    ok $? "$d: same file length ($(stat -c %s "$TMPD/i/d.vmdk"))"
    same_outside_desc "$TMPD/q/d.vmdk" "$TMPD/i/d.vmdk"
    ok $? "$d: header, directories and tables byte-identical"
    [ "$(desc_norm "$TMPD/q/d.vmdk")" = "$(desc_norm "$TMPD/i/d.vmdk")" ]
    ok $? "$d: descriptor identical but for the CID"
    if [ "$size" != 0 ]; then
        [ "$(info_norm "$TMPD/q/d.vmdk")" = "$(info_norm "$TMPD/i/d.vmdk")" ]
        ok $? "$d: qemu-img info identical (normalised)"
        # qemu-img check walks every grain (~5 s at 3T); the bytes already
        # equal qemu-img's own, so the largest sizes skip it.
        case $size in
        *T) ;;
        *)
            "$QEMU_IMG" check -q -f vmdk "$TMPD/i/d.vmdk" >/dev/null 2>&1
            ok $? "$d: qemu-img check clean" ;;
        esac
    fi
}

for size in 0 1000 512 1M 1000000 64M 1G 10G 100G 2T 3T; do
    same_create "$size"
done
for a in ide lsilogic buslogic legacyESX; do
    same_create 5G "adapter_type=$a"
done
same_create 5G "zeroed_grain=on"
same_create 1G "subformat=monolithicSparse,zeroed_grain=off,adapter_type=lsilogic"
same_create 1G "preallocation=falloc"

refused() {  # refused DESC WANT SIZE OPTS
    rm -f "$TMPD/i/r.vmdk"
    "$INSTAR_IMG" create -q -f vmdk -o "$4" "$TMPD/i/r.vmdk" "$3" >/dev/null 2>"$TMPD/err"
    r=$?
    [ $r -ne 0 ] && grep -qi -- "$2" "$TMPD/err"
    ok $? "create refuses $1 ($(head -c 160 "$TMPD/err" | tr '\n' ' '))"
}
refused "streamOptimized" "monolithicSparse only" 1G subformat=streamOptimized
refused "monolithicFlat" "monolithicSparse only" 1G subformat=monolithicFlat
refused "twoGbMaxExtentSparse" "monolithicSparse only" 1G subformat=twoGbMaxExtentSparse
refused "an unknown subformat (as qemu)" "invalid parameter value: vmfs" 1G subformat=vmfs
refused "an unknown adapter type (as qemu)" "invalid parameter value: scsi" 1G adapter_type=scsi
refused "preallocation=metadata (as qemu)" "Unsupported preallocation mode: metadata" 1G preallocation=metadata
refused "256 TiB (qemu writes an unusable header)" "256 TiB" 256T zeroed_grain=off

done_testing
