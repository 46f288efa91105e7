#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# vhdx-hostile.sh -- damaged and unsupported VHDX images and requests:
# `instar-img resize' must fail with exit 1 and a message, and leave the
# file byte-identical.  (Finer cases -- LogGuid set, HasParent, sequence
# numbers near 2^64, absurd metadata -- are in tests/c/test-vhdx.c, which
# can recompute the CRCs.)
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

"$QEMU_IMG" create -q -f vhdx "$TMPD/good.vhdx" 64M || exit 99

refuse() {  # refuse WHAT PATTERN FILE RESIZE-ARGS...: exit 1, PATTERN in stderr, untouched
    what=$1 pat=$2 f=$3; shift 3
    cp "$f" "$TMPD/before"
    "$INSTAR_IMG" resize -f vhdx "$TMPD/x.vhdx" "$@" >/dev/null 2>"$TMPD/err"; rc=$?
    ok $([ $rc -eq 1 ] && grep -q -i -e "$pat" "$TMPD/err"; echo $?) "$what: exit 1, says '$pat'"
    [ $rc -eq 1 ] || diag "exit $rc: $(cat "$TMPD/err")"
    ok $(cmp -s "$TMPD/before" "$f"; echo $?) "$what: file byte-identical"
}

fresh() { cp "$TMPD/good.vhdx" "$TMPD/x.vhdx"; }
poke() {  # poke OFFSET BYTES...: overwrite bytes (octal escapes via printf)
    off=$1; shift
    printf "$@" | dd of="$TMPD/x.vhdx" bs=1 seek="$off" conv=notrunc status=none
}

fresh; refuse "shrink without --shrink" "shrink" "$TMPD/x.vhdx" 32M
fresh; refuse "preallocation on a shrink" "preallocation" "$TMPD/x.vhdx" --shrink --preallocation=falloc 32M
fresh; refuse "falloc" "preallocation" "$TMPD/x.vhdx" --preallocation=falloc 128M
fresh; refuse "full" "preallocation" "$TMPD/x.vhdx" --preallocation=full 128M
fresh; refuse "not a multiple of 512" "multiple" "$TMPD/x.vhdx" +1
fresh; refuse "65 TiB" "max of 64TB" "$TMPD/x.vhdx" 65T
fresh; truncate -s 512K "$TMPD/x.vhdx"; refuse "truncated in the header section" "truncated" "$TMPD/x.vhdx" 128M
fresh; truncate -s 3149824 "$TMPD/x.vhdx"; refuse "truncated in the metadata table" "truncated" "$TMPD/x.vhdx" 128M
fresh; poke 65636 'garbage'; poke 131172 'garbage'; refuse "both header CRCs bad" "no valid VHDX header" "$TMPD/x.vhdx" 128M
fresh; poke 197000 'garbage'; refuse "region table CRC bad" "region table CRC" "$TMPD/x.vhdx" 128M
fresh; poke 0 'vhdxFILE'; refuse "no signature" "vhdxfile" "$TMPD/x.vhdx" 128M
fresh; poke 3145728 'METADATA'; refuse "metadata signature" "metadata" "$TMPD/x.vhdx" 128M
# A present block far past the end of the file: BAT entry 0 = 1 TiB | 6.
fresh; poke 2097152 '\006\000\000\000\000\001\000\000'; refuse "block past EOF" "corrupt or truncated" "$TMPD/x.vhdx" 128M
# PARTIALLY_PRESENT (differencing only).
fresh; poke 2097152 '\007'; refuse "PARTIALLY_PRESENT block" "differencing" "$TMPD/x.vhdx" 128M
# HasParent in the File Parameters item (at metadata + 64 KiB + 4).
fresh; poke $((3145728 + 65536 + 4)) '\002'; refuse "HasParent" "differencing" "$TMPD/x.vhdx" 128M

# One valid header of two still resizes (qemu falls back the same way).
fresh; poke 65636 'garbage'
"$INSTAR_IMG" resize -q -f vhdx "$TMPD/x.vhdx" 128M; ok $? "one corrupt header: resize succeeds"
"$QEMU_IMG" check -q "$TMPD/x.vhdx"; ok $? "one corrupt header: result checks clean"

# Without -f the format is probed from content (never from the name).
cp "$TMPD/good.vhdx" "$TMPD/probe.img"
"$INSTAR_IMG" resize -q "$TMPD/probe.img" +16M; ok $? "probed vhdx: resize succeeds"
ok $("$QEMU_IMG" info --output=json "$TMPD/probe.img" | grep -q '"virtual-size": 83886080'; echo $?) \
   "probed vhdx: qemu-img info shows 80 MiB"
"$QEMU_IMG" check -q "$TMPD/probe.img"; ok $? "probed vhdx: checks clean"

done_testing
