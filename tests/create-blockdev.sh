#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# create-blockdev.sh -- `instar-img create' on a block device full of old
# data (a loop device over a private file of random bytes, reached through
# a device node made in the private directory).  A device is never
# emptied, so every range the image does not write must still read as
# zeros: each format must pass `qemu-img check' and read as all zeros.
# Needs root and a free loop device; otherwise every line is a TAP skip.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

cases="qcow2: qcow2:preallocation=metadata qcow2:cluster_size=4k vmdk: vhdx: \
vhdx:block_state_zero=off vpc:"

LOOP=
cleanup() {
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
    rm -rf "$TMPD"
}
trap cleanup EXIT

head -c 8388608 /dev/urandom > "$TMPD/backing"
if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null 2>&1; then
    LOOP=$(losetup -f --show "$TMPD/backing" 2>/dev/null) || LOOP=
fi
if [ -z "$LOOP" ]; then
    for c in $cases; do
        tap_n=$((tap_n + 1))
        echo "ok $tap_n - create on a block device ($c) # SKIP needs root and a loop device"
    done
    done_testing
    exit $?
fi
mm=$(stat -c '%t %T' "$LOOP")
mknod "$TMPD/blk" b "$((0x${mm% *}))" "$((0x${mm#* }))" || exit 99
truncate -s 4M "$TMPD/zeros"

for c in $cases; do
    fmt=${c%%:*} opts=${c#*:}
    # Old data everywhere, as on a disk that was in use.
    head -c 8388608 /dev/urandom |
        dd of="$TMPD/blk" bs=1048576 conv=notrunc,fsync status=none
    set -- -q -f "$fmt"
    [ -n "$opts" ] && set -- "$@" -o "$opts"
    "$INSTAR_IMG" create "$@" "$TMPD/blk" 4M >/dev/null 2>"$TMPD/err"
    ok $? "create -f $fmt${opts:+ -o $opts} on a block device of random bytes"
    if [ "$fmt" != vpc ]; then
        "$QEMU_IMG" check -f "$fmt" "$TMPD/blk" >"$TMPD/check" 2>&1; r=$?
        ok $r "... qemu-img check clean"
        [ $r -eq 0 ] || diag "$(head -n 3 "$TMPD/check")"
    fi
    "$QEMU_IMG" compare -q -f "$fmt" -F raw "$TMPD/blk" "$TMPD/zeros" >/dev/null 2>&1
    ok $? "... the guest reads all zeros"
done

done_testing
