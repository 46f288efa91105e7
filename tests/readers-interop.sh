#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# readers-interop.sh -- images instar-img resizes must open in readers that
# were written independently of qemu, exactly as qemu-img's own images do.
# Each block below is the regression test of a bug one of those readers
# found, and it runs that reader:
#   7-Zip    a dynamic VHD whose Max Table Entries differs from the block
#            count the size needs ("Cannot open the file as [VHD] archive");
#   libvhdi  a VHD whose Original Size stays above Current Size after a
#            shrink (vhdiinfo reports Original Size as the disk's size);
#   qemu     a VMDK grown to exactly 2 TiB (qemu-img creates and reads
#            one; instar-img refused it), and the real bound: qemu's
#            32 Mi grain-directory entries (1 PiB with qemu's grains).
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
require "$QEMU_IO" qemu-io
require "$SEVENZIP" 7zz
require "$VHDIINFO" vhdiinfo
require "$VMDKINFO" vmdkinfo

M=1048576

be() {  # be FILE OFFSET WIDTH: a big-endian unsigned field, in decimal
    od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n' | { read -r h; echo $((0x$h)); }
}
vsize() {  # vsize FORMAT FILE: the virtual size qemu reads
    "$QEMU_IMG" info --output=json -f "$1" "$2" 2>/dev/null |
        sed -n 's/^ *"virtual-size": \([0-9]*\),*$/\1/p' | head -1
}
sz_7z() {  # sz_7z TYPE FILE: the size 7-Zip lists, or nothing when it refuses
    "$SEVENZIP" l -slt -t"$1" "$2" 2>/dev/null | sed -n 's/^Size = \([0-9]*\)$/\1/p' | head -1
}
sz_vhdi() {  # sz_vhdi FILE: libvhdi's media size in bytes
    "$VHDIINFO" "$1" 2>/dev/null | sed -n 's/.*Media size.*(\([0-9]*\) bytes).*/\1/p'
}
sz_vmdk() {  # sz_vmdk FILE: libvmdk's media size in bytes
    "$VMDKINFO" "$1" 2>/dev/null | sed -n 's/.*Media size.*(\([0-9]*\) bytes).*/\1/p'
}
qio() {  # qio FORMAT FILE CMD...: every qemu-io command must succeed
    _f=$1 _g=$2; shift 2
    _n=$#
    for c in "$@"; do set -- "$@" -c "$c"; done
    shift "$_n"
    out=$("$QEMU_IO" -f "$_f" "$@" "$_g" 2>&1) && ! echo "$out" | grep -qi 'fail\|error'
}
# The dynamic header's Max Table Entries, and what the size needs.
vhd_entries() { be "$1" $((512 + 28)) 4; }
vhd_needed() {
    bs=$(be "$1" $((512 + 32)) 4)
    echo $((($(be "$1" 48 8) + bs - 1) / bs))
}
# 7-Zip's extracted disk: the size and the first 64 KiB pattern.
x7z_ok() {  # x7z_ok TYPE FILE SIZE BYTE
    "$SEVENZIP" e -so -t"$1" "$2" 2>/dev/null >"$TMPD/x.raw" || return 1
    [ "$(stat -c %s "$TMPD/x.raw")" = "$3" ] || return 1
    [ "$(head -c 65536 "$TMPD/x.raw" | od -An -v -tx1 | tr -s ' ' '\n' | grep -v '^$' |
        sort -u)" = "$4" ]
}

# ---- 7-Zip: Max Table Entries equals the block count ----
v=$TMPD/a.vhd
"$QEMU_IMG" create -q -f vpc "$TMPD/q.vhd" 20M
[ -n "$(sz_7z vhd "$TMPD/q.vhd")" ]
ok $? "7-Zip opens qemu-img's own 20M dynamic VHD"

"$INSTAR_IMG" create -q -f vpc -o subformat=dynamic "$v" 64M &&
    qio vpc "$v" "write -P 0x21 0 64k" &&
    "$INSTAR_IMG" resize -q --shrink -f vpc "$v" 20M
ok $? "dynamic VHD 64M shrunk to 20M"
s=$(vsize vpc "$v")
[ "$(vhd_entries "$v")" = "$(vhd_needed "$v")" ]
ok $? "shrink: Max Table Entries $(vhd_entries "$v") = blocks the size needs ($(vhd_needed "$v"))"
[ "$(sz_7z vhd "$v")" = "$s" ]
ok $? "shrink: 7-Zip opens it with qemu's size $s (7-Zip says '$(sz_7z vhd "$v")')"
x7z_ok vhd "$v" "$s" 21
ok $? "shrink: 7-Zip extracts $s bytes, the written 0x21 data first"
qio vpc "$v" "read -P 0x21 0 64k" "read -P 0 64k 64k"
ok $? "shrink: qemu reads the old data"

"$INSTAR_IMG" resize -q -f vpc "$v" 40M
s=$(vsize vpc "$v")
[ "$(vhd_entries "$v")" = "$(vhd_needed "$v")" ] && [ "$(sz_7z vhd "$v")" = "$s" ]
ok $? "grow 20M -> 40M (inside the old table): entries $(vhd_entries "$v"), 7-Zip size '$(sz_7z vhd "$v")' = $s"
"$INSTAR_IMG" resize -q -f vpc "$v" 300M
s=$(vsize vpc "$v")
[ "$(vhd_entries "$v")" = "$(vhd_needed "$v")" ] && [ "$(sz_7z vhd "$v")" = "$s" ] &&
    x7z_ok vhd "$v" "$s" 21 && qio vpc "$v" "read -P 0x21 0 64k" "read -P 0 64k 64k"
ok $? "grow 40M -> 300M (past the old table): entries $(vhd_entries "$v"), 7-Zip reads it all"

f=$TMPD/f.vhd
"$INSTAR_IMG" create -q -f vpc -o subformat=fixed "$f" 64M &&
    qio vpc "$f" "write -P 0x21 0 64k" &&
    "$INSTAR_IMG" resize -q --shrink -f vpc "$f" 20M
s=$(vsize vpc "$f")
[ "$(sz_7z vhd "$f")" = "$s" ] && x7z_ok vhd "$f" "$s" 21
ok $? "fixed VHD 64M shrunk to 20M: 7-Zip reads $s bytes and the data"

# ---- libvhdi: Original Size never above Current Size ----
s=$(vsize vpc "$TMPD/q.vhd")
[ "$(sz_vhdi "$TMPD/q.vhd")" = "$s" ]
ok $? "libvhdi reads qemu-img's own 20M VHD as $s bytes"
"$INSTAR_IMG" create -q -f vpc -o subformat=dynamic "$v" 64M &&
    "$INSTAR_IMG" resize -q --shrink -f vpc "$v" 20M
s=$(vsize vpc "$v")
[ "$(be "$v" 40 8)" = "$s" ] && [ "$(be "$v" $(($(stat -c %s "$v") - 512 + 40)) 8)" = "$s" ]
ok $? "dynamic shrink: Original Size lowered to $s in both footers"
[ "$(sz_vhdi "$v")" = "$s" ]
ok $? "dynamic shrink: vhdiinfo reports $s bytes (says '$(sz_vhdi "$v")')"
"$INSTAR_IMG" create -q -f vpc -o subformat=fixed "$f" 64M &&
    "$INSTAR_IMG" resize -q --shrink -f vpc "$f" 20M
s=$(vsize vpc "$f")
[ "$(be "$f" $(($(stat -c %s "$f") - 512 + 40)) 8)" = "$s" ] && [ "$(sz_vhdi "$f")" = "$s" ]
ok $? "fixed shrink: Original Size $s, vhdiinfo reports '$(sz_vhdi "$f")'"
# A shrink that stays above Original Size keeps it (it is the creation size).
"$INSTAR_IMG" create -q -f vpc -o subformat=dynamic "$v" 20M &&
    o=$(be "$v" 40 8) && "$INSTAR_IMG" resize -q -f vpc "$v" 100M &&
    "$INSTAR_IMG" resize -q --shrink -f vpc "$v" 60M &&
    [ "$(be "$v" 40 8)" = "$o" ]
ok $? "a shrink that stays above Original Size keeps it ($o)"

# ---- VMDK: exactly 2 TiB, and qemu's real bound ----
k=$TMPD/a.vmdk
T2=2199023255552
"$QEMU_IMG" create -q -f vmdk "$TMPD/q.vmdk" 2T && [ "$(vsize vmdk "$TMPD/q.vmdk")" = $T2 ] &&
    [ "$(sz_vmdk "$TMPD/q.vmdk")" = $T2 ]
ok $? "qemu-img creates a 2T monolithicSparse VMDK; libvmdk reads its size"
rm -f "$TMPD/q.vmdk"
"$QEMU_IMG" create -q -f vmdk "$k" 1G && qio vmdk "$k" "write -P 0x21 0 64k" &&
    "$INSTAR_IMG" resize -q -f vmdk "$k" 2T 2>"$TMPD/err"
ok $? "VMDK 1G grown to exactly 2 TiB $(cat "$TMPD/err")"
[ "$(vsize vmdk "$k")" = $T2 ] &&
    qio vmdk "$k" "read -P 0x21 0 64k" "read -P 0 1G 64k" \
        "write -P 0x33 $((T2 - 65536)) 64k" "read -P 0x33 $((T2 - 65536)) 64k"
ok $? "2 TiB: qemu reads the old data and zeros, writes and reads the last 64 KiB"
[ "$(sz_vmdk "$k")" = $T2 ] && [ "$(sz_7z vmdk "$k")" = $T2 ]
ok $? "2 TiB: libvmdk and 7-Zip read $T2 bytes"
"$INSTAR_IMG" resize -q -f vmdk "$k" $((T2 + 512)) && [ "$(vsize vmdk "$k")" = $((T2 + 512)) ]
ok $? "2 TiB + 512: grows too (qemu-img creates that size as well)"
rm -f "$k"

# qemu opens at most 32 Mi grain-directory entries: 1 PiB with its 64 KiB
# grains and 512-entry tables (qemu-img creates 1 PiB + 512 but cannot
# open it: "L1 size too big").
P1=1125899906842624
"$QEMU_IMG" create -q -f vmdk "$k" 1G && cp "$k" "$TMPD/before" &&
    ! "$INSTAR_IMG" resize -q -f vmdk "$k" $((P1 + 512)) 2>"$TMPD/err" &&
    grep -q '32 Mi entries' "$TMPD/err" && cmp -s "$k" "$TMPD/before"
ok $? "1 PiB + 512 refused ($(cat "$TMPD/err")), file byte-identical"
"$QEMU_IMG" create -q -f vmdk "$TMPD/q.vmdk" $((P1 + 512)) &&
    ! "$QEMU_IO" -f vmdk -c 'read 0 512' "$TMPD/q.vmdk" >/dev/null 2>&1
ok $? "... as qemu cannot open its own 1 PiB + 512 image"
rm -f "$TMPD/q.vmdk" "$TMPD/before"
"$INSTAR_IMG" resize -q -f vmdk "$k" $P1 2>"$TMPD/err" && [ "$(vsize vmdk "$k")" = $P1 ] &&
    qio vmdk "$k" "read -P 0 $((P1 - 65536)) 64k" "write -P 0x44 $((P1 - 65536)) 64k" \
        "read -P 0x44 $((P1 - 65536)) 64k"
ok $? "grow to 1 PiB (32 Mi directory entries, qemu's bound): qemu reads and writes its end"
rm -f "$k"

done_testing
