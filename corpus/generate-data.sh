#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# generate-data.sh -- engine seeds whose images hold guest data.
#
#   corpus/generate-data.sh [BUILDDIR]
#
# generate.sh's engine seeds are empty images: the engine target's oracle
# (core/fuzz/oracle.c) then has no guest data to see kept or lost.  These
# are real qemu-img 7.2 images written with qemu-io (small patterned
# writes below, across and above the new end; a compressed cluster; a
# snapshot; a persistent bitmap), each paired with a grow and a shrink,
# stored content-named into corpus/fuzz_resize_engine/ like generate.sh's.
# Images stay below 8 MiB of host offset (the target loads no more).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/..}
QEMU_IMG=${QEMU_IMG:-qemu-img}
QEMU_IO=${QEMU_IO:-qemu-io}
extract="$build/core/fuzz/seed-extract"
mark="$build/core/fuzz/seed-mark"
replay="$build/core/fuzz/replay-resize-engine"
for t in "$extract" "$mark" "$replay"; do
    [ -x "$t" ] || { echo "generate-data.sh: build first (make, make check: no $t)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/instar-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
E="$here/fuzz_resize_engine"
mkdir -p "$E"
ne=0
nm=0
nr=0
K=1024; M=$((1024 * 1024))
SHRINK=1

# seed MARK FMTSEL KIND AMOUNT FLAGS (KIND: 0 abs, 1 +, 2 -): a seed,
# marked with seed-mark MARK ("" accepted, --refused refused) when the
# replay driver passes the marked copy: true when it kept the mark.
seed() {
    how=$1
    shift
    kept=1
    "$extract" engine "$tmp/img" "$1" "$2" "$3" "$4" >"$tmp/seed"
    cp "$tmp/seed" "$tmp/marked"
    "$mark" ${how:+"$how"} "$tmp/marked"
    if "$replay" "$tmp/marked" >/dev/null 2>&1; then
        cp "$tmp/marked" "$tmp/seed"
        kept=0
    fi
    sum=$(sha1sum "$tmp/seed" | cut -d' ' -f1)
    cp "$tmp/seed" "$E/$sum"
    ne=$((ne + 1))
    return $kept
}
# engine FMTSEL KIND AMOUNT FLAGS: a seed, marked as accepted
# (core/fuzz/seed-mark.h) when the engine accepts it now, so a later
# engine that refuses it is a finding.
engine() {
    if seed "" "$@"; then nm=$((nm + 1)); fi
}
# refused FMTSEL KIND AMOUNT FLAGS: a seed the engine must refuse, marked
# as refused when the engine refuses it now, so a later engine that
# accepts it is a finding.
refused() {
    if seed --refused "$@"; then nr=$((nr + 1)); fi
}
mk() {  # mk FMT OPTS SIZE
    rm -f "$tmp/img"
    "$QEMU_IMG" create -q -f "$1" ${2:+-o "$2"} "$tmp/img" "$3"
}
w() {   # w FMT PATTERN OFFSET LENGTH
    "$QEMU_IO" -f "$1" -c "write -P $2 $3 $4" "$tmp/img" >/dev/null
}
# Writes below 1 MiB, just below 2 MiB and above 2 MiB: a shrink to 2 MiB
# keeps the first two and drops the last.
fill() {
    w "$1" 0x5a 0 4096; w "$1" 0x39 $((64 * K + 512)) 1024
    w "$1" 0xa5 $((2 * M - 1024)) 1024; w "$1" 0x99 $((3 * M)) 512
}

# ---- qcow2 -------------------------------------------------------------
for opts in "cluster_size=512" "cluster_size=4096,refcount_bits=1" "cluster_size=65536" \
            "cluster_size=4096,refcount_bits=64" "compat=0.10,cluster_size=4096" \
            "extended_l2=on,cluster_size=16384" "cluster_size=512,refcount_bits=4"; do
    mk qcow2 "$opts" $((4 * M))
    fill qcow2
    engine 2 1 $((4 * M)) 0                     # grow: data kept, new range zero
    engine 2 0 $((2 * M)) $SHRINK               # shrink across data
    engine 2 2 $((1 * M + 512)) $SHRINK         # shrink to an unaligned end
    engine 2 1 $((1 * M)) 16                    # grow with metadata preallocation
done
# Growing the refcount structures: 512-byte clusters, so data fills blocks.
mk qcow2 "cluster_size=512,refcount_bits=16" $((1 * M))
w qcow2 0x77 0 $((256 * K))
engine 2 0 $((64 * M)) 0
engine 2 0 $((128 * K)) $SHRINK
# A compressed cluster.
mk qcow2 "cluster_size=4096" $((4 * M))
"$QEMU_IO" -f qcow2 -c "write -c -P 0x42 0 4096" "$tmp/img" >/dev/null
w qcow2 0x43 $((3 * M)) 4096
engine 2 1 $((1 * M)) 0
engine 2 0 $((2 * M)) $SHRINK
# A snapshot (its tables share the data clusters).
mk qcow2 "cluster_size=4096" $((4 * M))
fill qcow2
"$QEMU_IMG" snapshot -c snap1 "$tmp/img"
w qcow2 0x11 4096 4096
engine 2 1 $((4 * M)) 0
# A persistent bitmap.
mk qcow2 "cluster_size=4096" $((4 * M))
fill qcow2
"$QEMU_IMG" bitmap --add "$tmp/img" b0
engine 2 1 $((4 * M)) 0

# ---- vhd, vhdx, vmdk, raw --------------------------------------------------
mk vpc "" $((4 * M)); fill vpc
w vpc 0x66 $((4 * M + 2048)) 512                # in the partial last block
engine 3 1 $((4 * M)) 0; engine 3 0 $((2 * M)) $SHRINK
mk vhdx "block_size=1048576" $((4 * M)); fill vhdx
engine 4 1 $((4 * M)) 0; engine 4 0 $((2 * M)) $SHRINK
# Header 1 current (qemu and the engine update both headers, so header 2
# stays current; a writer that updates one at a time alternates): its
# SequenceNumber one past header 2's, CRC-32C redone.
python3 - "$tmp/img" <<'PY'
import struct, sys
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF
with open(sys.argv[1], 'r+b') as f:
    f.seek(128 * 1024); h2 = f.read(4096)
    f.seek(64 * 1024); h1 = bytearray(f.read(4096))
    h1[8:16] = struct.pack('<Q', struct.unpack('<Q', h2[8:16])[0] + 1)
    h1[4:8] = bytes(4)
    h1[4:8] = struct.pack('<I', crc32c(bytes(h1)))
    f.seek(64 * 1024); f.write(h1)
PY
engine 4 1 $((4 * M)) 0
mk vmdk "" $((4 * M)); fill vmdk
engine 5 1 $((4 * M)) 0; engine 5 0 $((2 * M)) $SHRINK
engine 5 1 $((512 * K)) 0                       # 9216 sectors: a '9' in the descriptor
# Unclean shutdown flag set: the engine must refuse (the oracle says so).
mk vmdk "" $((4 * M)); fill vmdk
printf '\001' | dd of="$tmp/img" bs=1 seek=72 conv=notrunc 2>/dev/null
engine 5 1 $((4 * M)) 0
mk vmdk "zeroed_grain=on" $((4 * M)); fill vmdk
engine 5 1 $((9 * M + 512)) 0
# A child naming its parent by parentCID alone (the hint line hidden as a
# comment, length kept): an image with a parent, to be refused.
rm -f "$tmp/img" "$tmp/base.vmdk"
"$QEMU_IMG" create -q -f vmdk "$tmp/base.vmdk" $((4 * M))
"$QEMU_IMG" create -q -f vmdk -b "$tmp/base.vmdk" -F vmdk "$tmp/img" >/dev/null
sed -i 's/^parentFileNameHint=/#arentFileNameHint=/' "$tmp/img"
refused 5 1 $((4 * M)) 0
rm -f "$tmp/img"; head -c $((4 * M)) /dev/zero >"$tmp/img"; fill raw
engine 1 1 $((1 * M)) 0; engine 1 0 $((2 * M - 512)) $SHRINK

echo "generate-data.sh: $ne engine seeds written ($nm marked accepted, $nr refused); $(ls "$E" | wc -l) files in $E"
