#!/bin/sh
# generate.sh -- make the fuzz seed corpus from real qemu-img images.
#
#   corpus/generate.sh [BUILDDIR]
#
# Creates images with qemu-img across formats and options, extracts their
# headers and tables into the fuzz input layouts (core/fuzz/seed-extract),
# pairs each with interesting new sizes (grow within a cluster, across L2 /
# L1 / refcount-block boundaries, shrink, near the limits), and writes
# content-named files (sha1sum) into corpus/fuzz_resize_planners/ and
# corpus/fuzz_resize_engine/.  Deterministic apart from qemu-img's random
# UUIDs and timestamps; rerunning adds files, it never deletes any.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/..}
QEMU_IMG=${QEMU_IMG:-qemu-img}
extract="$build/core/fuzz/seed-extract"
[ -x "$extract" ] || { echo "generate.sh: build first (no $extract)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/instar-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# CORPUS_OUT: write the seeds under another directory (to merge them).
out=${CORPUS_OUT:-$here}
P="$out/fuzz_resize_planners"
E="$out/fuzz_resize_engine"
mkdir -p "$P" "$E"
np=0
ne=0

store() {  # store DIR FILE: content-named copy
    sum=$(sha1sum "$2" | cut -d' ' -f1)
    cp "$2" "$1/$sum"
}

# planner SIZE FLAGS [SUBFORMAT]: one planner seed from $tmp/img
planner() {
    if "$extract" planners "$tmp/img" "$1" "$2" ${3:-0} >"$tmp/seed" 2>"$tmp/err"; then
        store "$P" "$tmp/seed"
        np=$((np + 1))
    fi
}
# engine FMTSEL KIND AMOUNT FLAGS: one engine seed from $tmp/img
engine() {
    "$extract" engine "$tmp/img" "$1" "$2" "$3" "$4" >"$tmp/seed"
    store "$E" "$tmp/seed"
    ne=$((ne + 1))
}
mk() {  # mk FMT OPTS SIZE
    rm -f "$tmp/img"
    if [ -n "$2" ]; then
        "$QEMU_IMG" create -q -f "$1" -o "$2" "$tmp/img" "$3"
    else
        "$QEMU_IMG" create -q -f "$1" "$tmp/img" "$3"
    fi
}

SHRINK=1
PRE_META=16; PRE_FALLOC=32; PRE_FULL=48
K=1024; M=$((1024 * 1024)); G=$((1024 * M))
MAXLEN=9223372035781033984      # qemu's BDRV_MAX_LENGTH

# ---- qcow2 -------------------------------------------------------------
for cs in 512 4096 65536 2097152; do
    l2=$((cs / 8))
    span=$((cs * l2))             # bytes one L2 table maps
    l1span=$((span * (cs / 8)))   # bytes one L1 cluster maps
    for rb in 16 1 64; do
        base=$((16 * M))
        mk qcow2 "cluster_size=$cs,refcount_bits=$rb" $base
        planner $((base + 512)) 0                 # within a cluster
        planner $((base + cs)) 0                  # one more cluster
        planner $((span * 2 + cs)) 0              # across an L2 boundary
        planner $((l1span + span)) 0              # L1 grows past a cluster
        planner $((base / 2)) $SHRINK             # shrink
        planner $((base / 2)) 0                   # shrink without the flag
        [ "$rb" = 16 ] || continue
        planner $((base * 4)) $PRE_META           # metadata preallocation
        planner $((base * 4)) $PRE_FALLOC
        planner $((base * 4)) $PRE_FULL
        planner $((base + 1000)) 0                # not a sector multiple
        planner $MAXLEN 0                         # near the limit
        planner 18446744073709551615 0            # 2^64 - 1
        planner 0 $SHRINK                         # zero
        planner $base 0                           # same size
    done
done
# Options that change the header and the tables.
for opts in "extended_l2=on" "extended_l2=on,cluster_size=16384" "lazy_refcounts=on" \
            "compat=0.10" "refcount_bits=2" "refcount_bits=8" "refcount_bits=32" \
            "preallocation=metadata,cluster_size=4096" \
            "preallocation=metadata,cluster_size=512,refcount_bits=1"; do
    mk qcow2 "$opts" $((8 * M))
    planner $((8 * M + 4096)) 0
    planner $((64 * M)) 0
    planner $((2 * M)) $SHRINK
    planner $((1 * G)) $PRE_META
done
# Sizes where the refcount structures need a new block when growing with
# preallocation (512-byte clusters, 16-bit refcounts: a block covers 128 KiB).
mk qcow2 "cluster_size=512" $((100 * K))
planner $((120 * K)) $PRE_META
planner $((300 * K)) $PRE_FULL
planner $((10 * M)) $PRE_META

# ---- vhd / vpc ------------------------------------------------------------
for sub in dynamic fixed; do
    mk vpc "subformat=$sub" $((8 * M))
    s=$("$QEMU_IMG" info --output=json "$tmp/img" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')
    planner $((s + 512)) 0
    planner $((s + 2 * M)) 0
    planner $((s * 3)) 0
    planner $((s / 2)) $SHRINK
    planner $((2040 * G)) 0                      # the VHD maximum
    planner $((2041 * G)) 0
    planner $((s * 2)) $PRE_FULL
done
mk vpc "" $((2 * G))
planner $((4 * G)) 0
planner $((1 * G)) $SHRINK
# force_size: the exact size, creator "qem2" (no CHS rounding), for sizes
# CHS cannot express.
for sub in dynamic fixed; do
    mk vpc "subformat=$sub,force_size=on" $((5 * M + 512))
    planner $((7 * M + 1024)) 0
    planner $((3 * M + 512)) $SHRINK
    planner $((2041 * G)) 0
    engine 3 1 $((1 * M + 512)) 0
    engine 3 2 $((1 * M)) $SHRINK
done

# ---- vhdx -----------------------------------------------------------------
for opts in "" "block_size=1048576" "subformat=fixed,block_size=1048576" "log_size=2097152"; do
    mk vhdx "$opts" $((8 * M))
    planner $((16 * M)) 0
    planner $((8 * M + 512)) 0
    planner $((1 * G)) 0
    planner $((4 * M)) $SHRINK
    planner $((64 * 1024 * G)) 0                 # 64 TiB: the maximum
    planner $((64 * 1024 * G + 512)) 0
    # Region and metadata tables from the input; twin headers; one header
    # with a bad checksum (either).
    planner $((16 * M)) 0 4
    planner $((4 * M)) $SHRINK 4
    planner $((16 * M)) 0 8
    planner $((16 * M)) 0 16
    planner $((16 * M)) 0 24
done

# ---- vmdk -----------------------------------------------------------------
for size in $((1 * M)) $((100 * M)) $((1 * G)); do
    mk vmdk "" $size
    planner $((size + 512)) 0
    planner $((size + 32 * M)) 0                 # one more grain table
    planner $((size * 4)) 0
    planner $((size / 2)) $SHRINK
    planner $((2 * 1024 * G)) 0
done
mk vmdk "zeroed_grain=on" $((64 * M))
planner $((128 * M)) 0

# ---- raw ------------------------------------------------------------------
for s in 0 1 511 512 4096 $((1 * M)); do
    rm -f "$tmp/img"; head -c "$s" /dev/zero >"$tmp/img"
    planner $((s + 512)) 0
    planner 100 0
    planner $((2 * M)) $PRE_FALLOC
    planner $((2 * M)) $PRE_META
    planner 1 $SHRINK
done

# ---- qcow2 images with content ------------------------------------------------
# Data, compressed clusters, internal snapshots, persistent bitmaps, a
# backing file (data written as zeros where the content does not matter:
# the clusters are allocated all the same, and engine seeds stay small): the paths empty images never reach (existing L2 tables,
# shared clusters, bitmap tables to resize).  Their layouts differ from
# qemu-img's default, so seed-extract writes a layout block.
qio() {  # qio IMG CMD...: qemu-io commands on a qcow2 image
    img=$1; shift
    for c in "$@"; do set -- "$@" -c "$c"; shift; done
    qemu-io -f qcow2 "$@" "$img" >/dev/null
}
data() {  # data IMG CS: data scattered over the first 3 MiB, partial L2s
    qio "$1" "write -P 0 0 $2" "write -P 0 $((1 * M + 3 * $2)) $((5 * $2))" \
        "write -P 0 $((2 * M + $2)) $2" "write -z $((3 * M - 2 * $2)) $2"
}
for cs in 512 4096 65536; do
    mk qcow2 "cluster_size=$cs" $((3 * M + 4096))      # not a cluster multiple
    data "$tmp/img" $cs
    planner $((8 * M)) $PRE_META
    planner $((8 * M)) $PRE_FALLOC
    planner $((3 * M + 8192)) $PRE_META
    planner $((1 * M)) $SHRINK
    planner $((2 * M + 4096)) $SHRINK
    planner $((64 * M)) 0
    engine 2 1 $((4 * M)) $PRE_META
    engine 2 0 $((1 * M)) $SHRINK
    # A snapshot: every cluster shared, L1/L2 entries without COPIED.
    qemu-img snapshot -c s1 "$tmp/img"
    planner $((8 * M)) $PRE_META
    planner $((1 * M)) $SHRINK
    planner $((64 * M)) 0
    engine 2 1 $((4 * M)) $PRE_META
    engine 2 0 $((1 * M)) $SHRINK
    # Persistent bitmaps (one fine-grained: its table changes size).
    qemu-img bitmap --add -g 512 "$tmp/img" fine
    qemu-img bitmap --add "$tmp/img" coarse
    qio "$tmp/img" "write -P 0 $((1 * M)) $((64 * K))"
    planner $((64 * M)) 0
    planner $((8 * M)) $PRE_META
    planner $((1 * M)) $SHRINK
    planner $((3 * M)) $SHRINK
    engine 2 1 $((64 * M)) 0
    engine 2 0 $((1 * M)) $SHRINK
done
# Bitmaps without snapshots, v3 and extended L2; a disabled bitmap.
for opts in "cluster_size=4096" "extended_l2=on,cluster_size=16384" "cluster_size=512,refcount_bits=1"; do
    mk qcow2 "$opts" $((2 * M))
    qio "$tmp/img" "write -P 0 0 $((16 * K))" "write -P 0 $((1 * M + 1024)) 1024"
    qemu-img bitmap --add -g 512 "$tmp/img" b0
    qemu-img bitmap --add --disable -g 65536 "$tmp/img" b1
    planner $((32 * M)) 0
    planner $((32 * M)) $PRE_META
    planner $((512 * K)) $SHRINK
    planner $((1 * M)) $SHRINK
    planner $((2 * M + 512)) 0
    engine 2 1 $((32 * M)) 0
    engine 2 0 $((512 * K)) $SHRINK
done
# Bitmaps at their limits: dirty bits far out (a shrink drops table entries
# that hold bitmap data), a grow past what a 512-byte granularity may
# occupy (qemu marks the bitmap in use), past 2^41 bits (qemu cannot load
# it), and a bitmap left in use by a killed qemu.
mk qcow2 "cluster_size=512" $((64 * M))
qemu-img bitmap --add -g 512 "$tmp/img" b0
qio "$tmp/img" "write -P 0 $((60 * M)) $((64 * K))" "write -P 0 $((40 * M)) 4096"
planner $((8 * M)) $SHRINK
engine 2 0 $((8 * M)) $SHRINK
mk qcow2 "cluster_size=65536" $((64 * M))
qemu-img bitmap --add -g 512 "$tmp/img" b0
qemu-img bitmap --add -g 65536 "$tmp/img" b1
qio "$tmp/img" "write -P 0 $((60 * M)) $((64 * K))"
planner $((4 * 1024 * G)) 0
planner $((2048 * 1024 * G)) 0
engine 2 0 $((4 * 1024 * G)) 0
engine 2 0 $((2048 * 1024 * G)) 0
qemu-io -f qcow2 -c "write -P 0 0 512" -c "sigraise 9" "$tmp/img" >/dev/null 2>&1 || true
planner $((128 * M)) 0
planner $((8 * M)) $SHRINK
engine 2 1 $((64 * M)) 0
engine 2 0 $((8 * M)) $SHRINK
# Compressed clusters (several in one host cluster).
for cs in 4096 65536; do
    rm -f "$tmp/raw"
    qemu-img create -q -f raw "$tmp/raw" $((2 * M))
    qemu-io -f raw -c "write -P 7 0 $((256 * K))" -c "write -P 8 $((1 * M)) $((64 * K))" \
        "$tmp/raw" >/dev/null
    rm -f "$tmp/img"
    qemu-img convert -q -c -f raw -O qcow2 -o "cluster_size=$cs" "$tmp/raw" "$tmp/img"
    planner $((8 * M)) $PRE_META
    planner $((512 * K)) $SHRINK
    planner $((1 * M + 4096)) $SHRINK
    engine 2 1 $((2 * M)) $PRE_META
    engine 2 0 $((512 * K)) $SHRINK
done
# compat=0.10 with a snapshot; an overlay on a backing file whose size is
# not a cluster multiple (preallocation must not hide the backing data).
mk qcow2 "compat=0.10,cluster_size=4096" $((2 * M))
qio "$tmp/img" "write -P 0 0 8192"
qemu-img snapshot -c s1 "$tmp/img"
planner $((4 * M)) $PRE_META
planner $((1 * M)) $SHRINK
engine 2 1 $((2 * M)) $PRE_META
engine 2 0 $((1 * M)) $SHRINK
rm -f "$tmp/base"
qemu-img create -q -f qcow2 "$tmp/base" $((1 * M))
qemu-io -f qcow2 -c "write -P 10 0 $((1 * M))" "$tmp/base" >/dev/null
for cs in 4096 65536; do
    rm -f "$tmp/img"
    qemu-img create -q -f qcow2 -b "$tmp/base" -F qcow2 -o "cluster_size=$cs" "$tmp/img" \
        $((1 * M - 1536))
    qio "$tmp/img" "write -P 0 0 4096"
    planner $((2 * M)) $PRE_META
    planner $((2 * M)) $PRE_FALLOC
    planner $((2 * M)) 0
    planner $((512 * K)) $SHRINK
done
# Refcount changes in more blocks than a plan's patches can carry: 512-byte
# clusters, 64-bit refcounts (a block covers 32 KiB), a kept and a dropped
# cluster in every block, so a shrink lowers counts in ~130 blocks and the
# planner rewrites all refcount blocks (qcow2-compact.c).  All data is
# zeros (allocated all the same): an engine seed holds only the metadata.
mk qcow2 "cluster_size=512,refcount_bits=64" $((4400 * K))
i=0
while [ $i -lt 130 ]; do
    echo "write -P 0 $(((8200 + i) * 512)) 512"
    echo "write -P 0 $(((8330 + i) * 512)) 512"
    echo "write -P 0 $((i * 62 * 512)) $((62 * 512))"
    i=$((i + 1))
done >"$tmp/cmds"
qemu-io -f qcow2 "$tmp/img" <"$tmp/cmds" >/dev/null
engine 2 0 $((8330 * 512)) $SHRINK
engine 2 0 $((8260 * 512)) $SHRINK
engine 2 1 $((8 * M)) 0

# ---- other formats with content ------------------------------------------------
for fmt in vpc vhdx vmdk; do
    case $fmt in
    vpc) sel=3; optsets="subformat=dynamic subformat=fixed" ;;
    vhdx) sel=4; optsets="block_size=1048576 subformat=fixed,block_size=1048576" ;;
    vmdk) sel=5; optsets="subformat=monolithicSparse subformat=streamOptimized" ;;
    esac
    for o in $optsets; do
        rm -f "$tmp/raw" "$tmp/img"
        # Not a whole number of blocks; data in the first, a middle and
        # the last block, so cuts and grows meet allocated blocks.
        qemu-img create -q -f raw "$tmp/raw" $((6 * M + 4096))
        qemu-io -f raw -c "write -P 14 0 $((64 * K))" -c "write -P 15 $((3 * M)) 4096" \
            -c "write -P 16 $((6 * M + 3584)) 512" "$tmp/raw" >/dev/null
        qemu-img convert -q -f raw -O $fmt -o "$o" "$tmp/raw" "$tmp/img"
        s=$("$QEMU_IMG" info --output=json "$tmp/img" |
            sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -n 1)
        planner $((s * 2)) 0
        planner $((s + 512)) 0
        planner $((s / 2)) $SHRINK
        planner $((s / 3 + 512)) $SHRINK
        planner $((3 * M + 2048)) $SHRINK
        planner $((s * 2)) $PRE_FULL
        engine $sel 1 $((2 * M)) 0
        engine $sel 2 $((3 * M)) $SHRINK
        engine $sel 0 $((s + 512)) 0
        engine $sel 0 $((3 * M + 2048)) $SHRINK
    done
done

# ---- engine seeds: whole images + resize parameters -------------------------
# FMTSEL: 0 probe, 1 raw, 2 qcow2, 3 vpc, 4 vhdx, 5 vmdk; KIND: 0 abs, 1 +, 2 -.
for opts in "cluster_size=512" "cluster_size=4096,refcount_bits=1" "cluster_size=65536" \
            "preallocation=metadata,cluster_size=4096" "compat=0.10,cluster_size=4096" \
            "extended_l2=on,cluster_size=16384" "lazy_refcounts=on,cluster_size=512,refcount_bits=64"; do
    mk qcow2 "$opts" $((4 * M))
    engine 2 1 512 0
    engine 2 1 $((4 * M)) 0
    engine 0 0 $((64 * M)) 0
    engine 2 2 $((2 * M)) $SHRINK
    engine 2 1 $((1 * M)) $PRE_META
done
mk vpc "" $((8 * M)); engine 3 1 $((8 * M)) 0; engine 0 2 $((4 * M)) $SHRINK
mk vpc "subformat=fixed" $((1 * M)); engine 3 1 $((1 * M)) 0; engine 3 0 $((3 * M)) 0
mk vhdx "block_size=1048576" $((8 * M)); engine 4 1 $((8 * M)) 0; engine 0 2 $((4 * M)) $SHRINK
mk vmdk "" $((64 * M)); engine 5 1 $((32 * M)) 0; engine 0 0 $((256 * M)) 0
# A look-alike key and no heads line (same length, so the file stays
# whole): an ide disk's cylinders follow 16 heads, not the "headsX" 255 a
# reader matching key prefixes would take.
mk vmdk "" $((64 * M))
LC_ALL=C sed 's/ddb\.geometry\.heads = "16"/ddb.geometry.headsX="255"/' "$tmp/img" >"$tmp/img2"
mv "$tmp/img2" "$tmp/img"; engine 5 1 $((32 * M)) 0
for s in 0 512 1000 $((1 * M)); do
    rm -f "$tmp/img"; head -c "$s" /dev/zero >"$tmp/img"
    engine 1 1 512 0; engine 1 0 $((3 * M)) $PRE_FULL; engine 1 2 512 $SHRINK
done

echo "generate.sh: $np planner seeds, $ne engine seeds written"
echo "  $(ls "$P" | wc -l) files in $P, $(ls "$E" | wc -l) in $E"
