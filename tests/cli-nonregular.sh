#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# cli-nonregular.sh -- regular files only, never blocking; `ulimit -f'
# gives "File too large", not a silent SIGXFSZ death.  Messages as
# measured with qemu-img 7.2.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

cd "$TMPD" || exit 99
mkfifo fifo

timeout 20 "$INSTAR_IMG" plan fifo +1M >/dev/null 2>err; rc=$?
[ $rc -eq 1 ] && grep -q "Could not open 'fifo': 'file' driver requires 'fifo' to be a regular file" err
ok $? "plan FIFO: refused at once with qemu's file-driver message (rc=$rc)"
timeout 20 "$INSTAR_IMG" resize fifo +1M >/dev/null 2>err; rc=$?
timeout 20 "$QEMU_IMG" resize fifo +1M >/dev/null 2>qerr
[ $rc -eq 1 ] && sed 's/^instar-img: /qemu-img: /' err | cmp -s - qerr
ok $? "resize FIFO: refused with qemu-img's message (rc=$rc)"
timeout 20 "$INSTAR_IMG" resize /dev/null 1M >/dev/null 2>err; rc=$?
[ $rc -eq 1 ] && grep -q "Cannot resize device files" err
ok $? "resize a character device: refused like qemu-img (rc=$rc)"

# ulimit -f counts 1024-byte blocks here (bash and dash).
"$QEMU_IMG" create -q -f raw r.img 1M
( ulimit -f 2048; exec "$INSTAR_IMG" resize -f raw r.img 4M ) >/dev/null 2>err; rc=$?
( ulimit -f 2048; exec "$QEMU_IMG" resize -f raw r.img 4M ) >/dev/null 2>qerr
[ $rc -eq 1 ] && sed 's/^instar-img: /qemu-img: /' err | cmp -s - qerr \
    && [ "$(stat -c %s r.img)" -eq 1048576 ]
ok $? "resize past ulimit -f: \"File too large\" like qemu-img, length kept (rc=$rc)"
"$QEMU_IMG" create -q -f qcow2 q.qcow2 1M
( ulimit -f 2048; exec "$INSTAR_IMG" resize --preallocation=full q.qcow2 8M ) >/dev/null 2>err; rc=$?
[ $rc -eq 1 ] && grep -q "File too large" err
ok $? "qcow2 preallocation past ulimit -f: reported, not killed (rc=$rc)"

done_testing
