#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-backing-header.sh -- the backing file fields of a qcow2 header, as
# qemu-img 7.2 opens them: a backing file name starting past cluster 0
# ("Invalid backing file offset") or longer than 1023 bytes or than the
# rest of cluster 0 ("Backing file name too long") makes an image qemu
# cannot open; instar-img must refuse to resize it and leave it
# byte-identical, and still resize the images just inside both limits.
# (Found by corpus-diff: a fuzz input whose header pointed the name past
# cluster 0 was resized while qemu-img refused it.)
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

# mk OFFSET LENGTH: a 1 MiB qcow2 (64 KiB clusters) with those fields.
mk() {
    rm -f "$TMPD/a.qcow2"
    "$QEMU_IMG" create -q -f qcow2 "$TMPD/a.qcow2" 1M || exit 99
    # be64 offset at 8, be32 length at 16.
    printf "$(printf '\\%03o' $(( ($1 >> 56) & 255 )) $(( ($1 >> 48) & 255 )) \
        $(( ($1 >> 40) & 255 )) $(( ($1 >> 32) & 255 )) $(( ($1 >> 24) & 255 )) \
        $(( ($1 >> 16) & 255 )) $(( ($1 >> 8) & 255 )) $(( $1 & 255 )) \
        $(( ($2 >> 24) & 255 )) $(( ($2 >> 16) & 255 )) $(( ($2 >> 8) & 255 )) \
        $(( $2 & 255 )))" | dd of="$TMPD/a.qcow2" bs=1 seek=8 conv=notrunc status=none
}

for c in "65537 0 Invalid backing file offset" "1000000 0 Invalid backing file offset" \
         "65000 537 Backing file name too long" "512 1024 Backing file name too long"; do
    set -- $c
    off=$1 len=$2; shift 2
    mk "$off" "$len"
    "$QEMU_IMG" info "$TMPD/a.qcow2" >/dev/null 2>"$TMPD/q.err"
    grep -q "$*" "$TMPD/q.err"
    ok $? "offset $off length $len: qemu-img cannot open it ($*)"
    before=$(cksum <"$TMPD/a.qcow2")
    "$INSTAR_IMG" resize -f qcow2 "$TMPD/a.qcow2" +1M >/dev/null 2>&1; rc=$?
    ok $([ $rc -ne 0 ] && [ "$before" = "$(cksum <"$TMPD/a.qcow2")" ]; echo $?) \
        "offset $off length $len: instar-img refuses, file untouched (exit $rc)"
done
for c in "65536 0" "65000 536" "512 1023"; do
    set -- $c
    mk "$1" "$2"
    "$QEMU_IMG" info "$TMPD/a.qcow2" >/dev/null 2>&1; q=$?
    "$INSTAR_IMG" resize -f qcow2 "$TMPD/a.qcow2" +1M >/dev/null 2>&1; rc=$?
    ok $([ $q -eq 0 ] && [ $rc -eq 0 ]; echo $?) \
        "offset $1 length $2: qemu-img opens it, instar-img resizes it (exit $rc)"
done

# A name of length 0 is no backing file (qemu reads the name as a C
# string): an old end's cluster with no data reads zeros, so a
# preallocation from inside it copies nothing and goes ahead.
rm -f "$TMPD/a.qcow2"
"$QEMU_IMG" create -q -f qcow2 "$TMPD/a.qcow2" 1000448 || exit 99
printf '\000\000\000\000\000\000\002\000\000\000\000\000' |
    dd of="$TMPD/a.qcow2" bs=1 seek=8 conv=notrunc status=none
cp "$TMPD/a.qcow2" "$TMPD/q.qcow2"
"$QEMU_IMG" resize -q --preallocation=metadata "$TMPD/q.qcow2" 1500160; q=$?
"$INSTAR_IMG" resize -q --preallocation=metadata "$TMPD/a.qcow2" 1500160 2>"$TMPD/err"; rc=$?
ok $([ $q -eq 0 ] && [ $rc -eq 0 ] && "$QEMU_IMG" compare -q "$TMPD/q.qcow2" "$TMPD/a.qcow2"
     echo $?) "empty backing name: a preallocation from a partly used cluster, as qemu (exit $rc)"
[ $rc -eq 0 ] || diag "$(cat "$TMPD/err")"

done_testing
