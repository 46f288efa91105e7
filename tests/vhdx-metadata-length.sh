#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhdx-metadata-length.sh -- the length field of a VHDX metadata table
# entry, as qemu-img 7.2 reads it: not at all.  qemu opens, checks and
# reads an image whose items declare length 0 (it reads each item's
# fixed size at its offset), so instar-img must resize it too; an item
# whose offset points into the table itself is refused by both, and
# instar-img leaves the file byte-identical.  (Found by corpus-diff: 16
# fuzz inputs with a zeroed length were refused as "too short".)
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img
img="$TMPD/a.vhdx"

# put_le32 OFFSET VALUE
put_le32() {
    printf "$(printf '\\%03o' $(($2 & 255)) $((($2 >> 8) & 255)) $((($2 >> 16) & 255)) \
        $((($2 >> 24) & 255)))" | dd of="$img" bs=1 seek="$1" conv=notrunc status=none
}
# The metadata region's offset, from the first region table (64 KiB at
# 192 KiB; entry 2's file offset at 64 + 32).
meta_offset() {
    od -An -tu8 -j$((196608 + 64)) -N8 "$img" | tr -d ' '
}

"$QEMU_IMG" create -q -f vhdx -o block_size=1M "$img" 8M || exit 99
m=$(meta_offset)
# Every one of the five items: length 0.
for i in 0 1 2 3 4; do put_le32 $((m + 32 + 32 * i + 20)) 0; done
"$QEMU_IMG" info "$img" >/dev/null 2>&1 && "$QEMU_IMG" check -q "$img" >/dev/null 2>&1
ok $? "qemu-img opens and checks an image whose metadata items declare length 0"
"$INSTAR_IMG" resize -f vhdx "$img" +8M >/dev/null 2>"$TMPD/err"; rc=$?
ok $([ $rc -eq 0 ]; echo $?) "instar-img resizes it too (exit $rc: $(cat "$TMPD/err"))"
"$QEMU_IMG" check -q "$img" >/dev/null 2>&1 &&
    "$QEMU_IMG" info --output=json "$img" | grep -q '"virtual-size": 16777216'
ok $? "the result: 16 MiB, clean check"

# An item inside the table (offset below 64 KiB): both refuse.
put_le32 $((m + 32 + 16)) 256
"$QEMU_IMG" info "$img" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "an item offset inside the table: qemu-img refuses"
before=$(cksum <"$img")
"$INSTAR_IMG" resize -f vhdx "$img" +8M >/dev/null 2>&1; rc=$?
ok $([ $rc -ne 0 ] && [ "$before" = "$(cksum <"$img")" ]; echo $?) \
    "instar-img refuses too, file untouched (exit $rc)"

done_testing
