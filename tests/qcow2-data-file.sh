#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-data-file.sh -- qcow2 images with an external data file (qemu's
# iotest 244): qemu-img 7.2 resizes the data file along with the image
# (with data_file_raw it also maps the new range 1:1).  instar does not:
# it refuses, saying what is missing, and leaves the image and the data
# file as they were (the manual lists the difference).
. "$abs_top_srcdir/tests/lib.sh"
. "$abs_top_srcdir/tests/qcow2-lib.sh"
require_tools instar-img qemu-img qemu-io

cd "$TMPD" || exit 99
want="Cannot resize a qcow2 image with an external data file: resizing the data file along with the image (and, with data_file_raw, mapping the new range into it) is not supported"

for raw in off on; do
    for spec in 8M "--shrink 2M"; do
        rm -f q.qcow2 i.qcow2 q.raw i.raw
        "$QEMU_IMG" create -q -f qcow2 -o data_file=q.raw,data_file_raw=$raw q.qcow2 4M
        "$QEMU_IO" -c 'write -q -P 0x11 0 1M' q.qcow2
        "$QEMU_IMG" create -q -f qcow2 -o data_file=i.raw,data_file_raw=$raw i.qcow2 4M
        "$QEMU_IO" -c 'write -q -P 0x11 0 1M' i.qcow2
        cp i.qcow2 i0.qcow2; cp i.raw i0.raw
        # shellcheck disable=SC2086
        "$QEMU_IMG" resize -q q.qcow2 $spec; qrc=$?
        # shellcheck disable=SC2086
        "$INSTAR_IMG" resize -q i.qcow2 $spec 2>i.err; irc=$?
        ok $qrc "data_file_raw=$raw, $spec: qemu-img resizes (data file now $(stat -c %s q.raw) bytes)"
        [ $irc -ne 0 ] && [ "$(err_text i.err)" = "$want" ]
        r=$?
        ok $r "data_file_raw=$raw, $spec: instar refuses, naming what is missing"
        [ $r -eq 0 ] || diag "instar: $(cat i.err)"
        cmp -s i.qcow2 i0.qcow2 && cmp -s i.raw i0.raw
        ok $? "data_file_raw=$raw, $spec: image and data file untouched"
    done
done

done_testing
