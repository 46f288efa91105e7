#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhdx-size-item-overlap.sh -- a VHDX whose Virtual Disk Size item sits at
# the File Parameters item's offset.  qemu-img 7.2 opens it (it does not
# check that metadata items are disjoint), but a resize rewrites the size
# item in place and so rewrote the block size with it: 1 MiB + 8 MiB gave
# "block size 9437184", an image qemu refuses.  instar-img must refuse the
# resize and leave the file byte-identical.  (Found by fuzz_resize_engine:
# oracle "vhdx: block size 9437184, sector size 512".)
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
img="$TMPD/a.vhdx"

# The metadata region's offset, from the first region table (64 KiB at
# 192 KiB; entry 2's file offset at 64 + 32).
meta_offset() {
    od -An -tu8 -j$((196608 + 64)) -N8 "$img" | tr -d ' '
}

# 1 MiB blocks and a 1 MiB disk: the File Parameters' first 8 bytes
# (block size 2^20, flags 0) read as a 64-bit size are 1 MiB as well, so
# the size item can point there and the image stays consistent.
"$QEMU_IMG" create -q -f vhdx -o block_size=1M "$img" 1M || exit 99
m=$(meta_offset)
# qemu writes File Parameters as entry 0 and Virtual Disk Size as entry 1;
# copy entry 0's offset (at +16) over entry 1's.
dd if="$img" of="$img" bs=1 skip=$((m + 32 + 16)) seek=$((m + 64 + 16)) count=4 \
    conv=notrunc status=none || exit 99
"$QEMU_IMG" info --output=json "$img" >"$TMPD/info" 2>&1 &&
    grep -q '"virtual-size": 1048576' "$TMPD/info" &&
    grep -q '"cluster-size": 1048576' "$TMPD/info"
ok $? "qemu-img opens the image: 1 MiB disk, 1 MiB blocks"
before=$(cksum <"$img")
"$INSTAR_IMG" resize -f vhdx "$img" +8M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -ne 0 ]; echo $?) "instar-img refuses to grow it (exit $rc)"
grep -q "Virtual Disk Size item overlaps" "$TMPD/err"
ok $? "the reason names the overlapping size item: $(cat "$TMPD/err")"
ok $([ "$before" = "$(cksum <"$img")" ]; echo $?) "the file is byte-identical"
"$QEMU_IMG" info --output=json "$img" 2>&1 | grep -q '"cluster-size": 1048576'
ok $? "qemu-img still opens it with 1 MiB blocks"

done_testing
