/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-format.h -- qcow2 on-disk facts, in one place (the planner, the
 * engine, create and the fuzz decoder share them; the fuzz re-parsers in
 * core/fuzz/reparse.c keep their own on purpose).  Field offsets and
 * values as qemu's docs/interop/qcow2.txt defines them; all big-endian. */
#ifndef INSTAR_QCOW2_FORMAT_H
#define INSTAR_QCOW2_FORMAT_H

#define QCOW2_MAGIC 0x514649fbu         /* "QFI\xfb" */

/* Header fields: byte offsets from the start of the file. */
enum {
    QCOW2_HDR_MAGIC = 0,                /* u32 */
    QCOW2_HDR_VERSION = 4,              /* u32: 2 or 3 */
    QCOW2_HDR_BACKING_OFFSET = 8,       /* u64 */
    QCOW2_HDR_BACKING_SIZE = 16,        /* u32 */
    QCOW2_HDR_CLUSTER_BITS = 20,        /* u32 */
    QCOW2_HDR_SIZE = 24,                /* u64: virtual size */
    QCOW2_HDR_CRYPT_METHOD = 32,        /* u32 */
    QCOW2_HDR_L1_SIZE = 36,             /* u32: entries */
    QCOW2_HDR_L1_OFFSET = 40,           /* u64 */
    QCOW2_HDR_REFTABLE_OFFSET = 48,     /* u64 */
    QCOW2_HDR_REFTABLE_CLUSTERS = 56,   /* u32 */
    QCOW2_HDR_NB_SNAPSHOTS = 60,        /* u32 */
    QCOW2_HDR_SNAPSHOTS_OFFSET = 64,    /* u64 */
    QCOW2_V2_HEADER_LENGTH = 72,        /* a version 2 header ends here */
    /* Version 3 only. */
    QCOW2_HDR_INCOMPAT = 72,            /* u64 */
    QCOW2_HDR_COMPAT = 80,              /* u64 */
    QCOW2_HDR_AUTOCLEAR = 88,           /* u64 */
    QCOW2_HDR_REFCOUNT_ORDER = 96,      /* u32 */
    QCOW2_HDR_HEADER_LENGTH = 100,      /* u32 */
    QCOW2_V3_MIN_HEADER_LENGTH = 104,   /* the shortest v3 header qemu opens */
    QCOW2_V3_HEADER_LENGTH = 112        /* what qemu 7.2 writes (with compression_type) */
};

/* Feature bits. */
enum {
    QCOW2_INCOMPAT_DIRTY = 1u << 0,
    QCOW2_INCOMPAT_CORRUPT = 1u << 1,
    QCOW2_INCOMPAT_DATA_FILE = 1u << 2,
    QCOW2_INCOMPAT_COMPRESSION = 1u << 3,
    QCOW2_INCOMPAT_EXTL2 = 1u << 4,
    QCOW2_COMPAT_LAZY_REFCOUNTS = 1u << 0,
    QCOW2_AUTOCLEAR_BITMAPS = 1u << 0,
    QCOW2_AUTOCLEAR_DATA_FILE_RAW = 1u << 1
};
/* Every incompatible bit qemu 7.2 knows; any other makes it refuse. */
#define QCOW2_INCOMPAT_KNOWN                                            \
    ((uint64_t)(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT          \
                | QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_COMPRESSION \
                | QCOW2_INCOMPAT_EXTL2))

/* Header extension types. */
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* Cluster sizes qemu accepts: 512 B .. 2 MiB. */
#define QCOW2_MIN_CLUSTER_BITS 9u
#define QCOW2_MAX_CLUSTER_BITS 21u
/* refcount_bits = 1 << order, at most 64. */
#define QCOW2_MAX_REFCOUNT_ORDER 6u
/* qemu's QCOW_MAX_L1_SIZE (32 MiB) in 8-byte entries. */
#define QCOW2_MAX_L1_ENTRIES (4u * 1024 * 1024)
/* qemu's QCOW_MAX_REFTABLE_SIZE. */
#define QCOW2_MAX_REFTABLE_BYTES (8u * 1024 * 1024)
/* Host offsets are 56 bits wide (bits 9..55 of a table entry). */
#define QCOW2_MAX_HOST_OFFSET (1ull << 56)

/* Table entries: host offsets live in bits 9..55 (L1/L2) or 9..63
 * (refcount table); the rest are flags. */
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO 1ull

#endif
