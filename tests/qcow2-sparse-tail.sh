#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# qcow2-sparse-tail.sh -- preallocating grows of qcow2 files with a long
# sparse tail (the file length extended by truncate: a few hundred KiB on
# disk, gigabytes long), side by side with qemu-img 7.2 in a private
# 64 MiB tmpfs:
#  - metadata: the new data clusters are reused from the tail; they must
#    stay holes, so the disk usage is qemu's within a few clusters (it used
#    to be the whole range: 1 GiB, or "No space left" in the tmpfs);
#  - falloc/full: qemu refuses ("Cannot use preallocation for shrinking
#    files"); so do we, leaving the file as it was;
#  - just at the boundary where qemu's data area ends the file, the same
#    answer as qemu on either side of it.
. "$abs_top_srcdir/tests/lib.sh"
require "$INSTAR_IMG" instar-img
require "$QEMU_IMG" qemu-img

private_tmpfs 64M

used() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# mk FILE VSIZE TAIL [CREATE-OPTS]
mk() {
    rm -f "$1"
    "$QEMU_IMG" create -q -f qcow2 ${4:+-o "$4"} "$1" "$2" >/dev/null && truncate -s "$3" "$1"
}

# 1. metadata: disk usage within 4 clusters of qemu's, a clean image.
metadata_case() {  # VSIZE TAIL NEW
    mk "$MNT/q" "$1" "$2"; mk "$MNT/i" "$1" "$2"
    "$QEMU_IMG" resize -q -f qcow2 --preallocation=metadata "$MNT/q" "$3" >/dev/null 2>&1; qrc=$?
    "$INSTAR_IMG" resize -f qcow2 --preallocation=metadata "$MNT/i" "$3" >/dev/null 2>"$TMPD/err"; irc=$?
    qu=$(used "$MNT/q"); iu=$(used "$MNT/i")
    d="$1 with a tail to $2, metadata -> $3"
    [ $qrc -eq 0 ]; ok $? "$d: qemu-img resizes (exit $qrc)"
    [ $irc -eq 0 ]; ok $? "$d: instar-img resizes (exit $irc: $(cat "$TMPD/err"))"
    [ "$iu" -le $((qu + 4 * 65536)) ]
    ok $? "$d: disk usage $iu bytes, qemu $qu"
    [ "$(stat -c %s "$MNT/i")" = "$(stat -c %s "$MNT/q")" ]
    ok $? "$d: file length as qemu's"
    "$QEMU_IMG" check -q -f qcow2 "$MNT/i" >"$TMPD/chk" 2>&1
    ok $? "$d: qemu-img check clean $(head -c 200 "$TMPD/chk")"
    rm -f "$MNT/q" "$MNT/i"
}
metadata_case 16M 8G 1G
# The hostile small file: 0.2 MiB on disk, 32 GiB long.
metadata_case 16M 32G 16G

# 2. falloc/full: refused like qemu, the file untouched.
refuse_case() {  # MODE VSIZE TAIL NEW
    mk "$MNT/q" "$2" "$3"; mk "$MNT/i" "$2" "$3"
    sum0=$(md5sum < "$MNT/i"); u0=$(used "$MNT/i")
    "$QEMU_IMG" resize -q -f qcow2 --preallocation="$1" "$MNT/q" "$4" >/dev/null 2>"$TMPD/qerr"; qrc=$?
    "$INSTAR_IMG" resize -f qcow2 --preallocation="$1" "$MNT/i" "$4" >/dev/null 2>"$TMPD/err"; irc=$?
    d="$2 with a tail to $3, $1 -> $4"
    [ $qrc -eq 1 ]; ok $? "$d: qemu-img refuses (exit $qrc)"
    [ $irc -eq 1 ]; ok $? "$d: instar-img refuses (exit $irc)"
    grep -q 'Cannot use preallocation for shrinking files' "$TMPD/err"
    ok $? "$d: qemu's reason ($(cat "$TMPD/err"))"
    [ "$(md5sum < "$MNT/i")" = "$sum0" ] && [ "$(stat -c %s "$MNT/i")" = "$(stat -c %s "$MNT/q")" ]
    ok $? "$d: file unchanged"
    [ "$(used "$MNT/i")" = "$u0" ]; ok $? "$d: disk usage unchanged ($(used "$MNT/i"), was $u0)"
    rm -f "$MNT/q" "$MNT/i"
}
refuse_case falloc 16M 1G 512M
refuse_case full 16M 1G 512M

# 3. The boundary: qemu's falloc of 16M -> 32M ends the file at E; a file
#    E bytes long is grown, E + 1 is refused, by both.
rm -f "$MNT/q"
"$QEMU_IMG" create -q -f qcow2 "$MNT/q" 16M >/dev/null
"$QEMU_IMG" resize -q -f qcow2 --preallocation=falloc "$MNT/q" 32M >/dev/null 2>&1
E=$(stat -c %s "$MNT/q")
for opts in "" "cluster_size=4096"; do
    for len in $((E)) $((E + 1)); do
        mk "$MNT/q" 16M $len "$opts"; mk "$MNT/i" 16M $len "$opts"
        "$QEMU_IMG" resize -q -f qcow2 --preallocation=falloc "$MNT/q" 32M >/dev/null 2>&1; qrc=$?
        "$INSTAR_IMG" resize -f qcow2 --preallocation=falloc "$MNT/i" 32M >/dev/null 2>&1; irc=$?
        [ $qrc -eq $irc ]
        ok $? "16M${opts:+ ($opts)} in a $len-byte file, falloc -> 32M: qemu exit $qrc, instar exit $irc"
        rm -f "$MNT/q" "$MNT/i"
    done
done

done_testing
