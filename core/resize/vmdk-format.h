/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-format.h -- hosted sparse extent (VMDK4) facts shared by the vmdk planner,
 * engine and create path (internal to the core).  All header offsets and
 * sizes are in 512-byte sectors, little-endian on disk. */
#ifndef INSTAR_VMDK_FORMAT_H
#define INSTAR_VMDK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMDK_MAGIC "KDMV"
#define VMDK_MAGIC_LEN 4u
#define VMDK_HEADER_SIZE 512
/* The first line of a descriptor file (the flat and split subformats). */
#define VMDK_DESC_SIGNATURE "# Disk DescriptorFile"

/* Header fields: byte offsets (little-endian). */
enum {
    VMDK_H_MAGIC = 0,                   /* 4 bytes */
    VMDK_H_VERSION = 4,                 /* u32 */
    VMDK_H_FLAGS = 8,                   /* u32 */
    VMDK_H_CAPACITY = 12,               /* u64, sectors */
    VMDK_H_GRAIN = 20,                  /* u64, sectors */
    VMDK_H_DESC_OFFSET = 28,            /* u64, sectors */
    VMDK_H_DESC_SECTORS = 36,           /* u64 */
    VMDK_H_GTES = 44,                   /* u32, entries per grain table */
    VMDK_H_RGD_OFFSET = 48,             /* u64, sectors */
    VMDK_H_GD_OFFSET = 56,              /* u64, sectors */
    VMDK_H_OVERHEAD = 64,               /* u64, sectors */
    VMDK_H_UNCLEAN = 72,                /* u8 */
    VMDK_H_CHECK_BYTES = 73,            /* "\n \r\n" */
    VMDK_H_COMPRESS = 77                /* u16 */
};

#define VMDK_FLAG_NL_DETECT   0x00000001u   /* newline check bytes valid */
#define VMDK_FLAG_RGD         0x00000002u   /* redundant grain directory */
#define VMDK_FLAG_ZERO_GRAIN  0x00000004u   /* GTE 1 means "zeroed grain" */
#define VMDK_FLAG_COMPRESS    0x00010000u   /* streamOptimized */
#define VMDK_FLAG_MARKER      0x00020000u   /* streamOptimized */
#define VMDK_FLAGS_KNOWN      (VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD | VMDK_FLAG_ZERO_GRAIN \
                               | VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER)

#define VMDK_GD_AT_END        UINT64_MAX     /* streamOptimized: GD in the footer */

/* qemu 7.2's open limits (block/vmdk.c): grain <= 0x200000 sectors,
 * at most 32 Mi grain-directory entries, at most 512 entries per table. */
#define VMDK_MAX_GRAIN_SECTORS 0x200000u
#define VMDK_MAX_GD_ENTRIES    (32u * 1024 * 1024)
#define VMDK_MAX_GTES          512u
/* qemu reads at most 1 MiB of embedded descriptor. */
#define VMDK_MAX_DESC_SECTORS  2048u
/* Grain-table and grain sector numbers are 32-bit. */
#define VMDK_MAX_SECTOR        (UINT64_C(1) << 32)

/* What qemu-img 7.2 writes (monolithicSparse). */
#define VMDK_QEMU_GRAIN        128u
#define VMDK_QEMU_GTES         512u
#define VMDK_QEMU_DESC_OFFSET  1u
#define VMDK_QEMU_DESC_SECTORS 20u

struct instar_vmdk_header {
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;          /* sectors */
    uint64_t grain;             /* sectors */
    uint64_t desc_offset;
    uint64_t desc_sectors;
    uint32_t gtes;              /* entries per grain table */
    uint64_t rgd_offset;
    uint64_t gd_offset;
    uint64_t overhead;          /* first grain sector */
    uint8_t unclean;
    uint8_t check_bytes[4];
    uint16_t compress;
};

/* Decode 512 header bytes (no validation beyond the magic; false when the
 * magic is wrong). */
bool instar_vmdk_header_decode(const uint8_t *p, struct instar_vmdk_header *h);
/* Encode H into 512 bytes at P, keeping P's other bytes (pad) as they are. */
void instar_vmdk_header_encode(uint8_t *p, const struct instar_vmdk_header *h);

/* Sectors of one grain table: ceil(4 * gtes / 512). */
static inline uint64_t instar_vmdk_gt_sectors(uint32_t gtes)
{
    return ((uint64_t)gtes * 4 + 511) / 512;
}

struct instar_vmdk_resize_opts;
/* Scratch bytes a grow needs, from the opts' scalar facts (SIZE_MAX when
 * they are absurd: the planner will refuse them). */
size_t instar_vmdk_scratch_hint(const struct instar_vmdk_resize_opts *o);

/* ---- the embedded descriptor (text) ---- */

/* Where the fields a resize rewrites sit in the descriptor text: each
 * [start, end) is the value's byte range (end == start when absent). */
struct instar_vmdk_desc {
    size_t text_len;            /* bytes up to the first NUL */
    size_t cid_start, cid_end;
    bool has_cid;
    size_t rw_start, rw_end;    /* the sector count of the one extent line */
    uint64_t rw_sectors;
    size_t cyl_start, cyl_end;  /* ddb.geometry.cylinders value, inside quotes */
    bool has_cyl;
    uint64_t heads, sectors;    /* geometry used for the cylinders (defaults filled) */
    bool monolithic_sparse;     /* createType="monolithicSparse" */
    bool has_parent;            /* parentFileNameHint or a parentCID other than ffffffff */
    size_t n_extents;
    bool non_sparse_extent;     /* an extent line of another type (FLAT, ZERO, ...) */
};

/* Parse TEXT (LEN bytes, stops at the first NUL).  Returns INSTAR_OK or
 * INSTAR_E_PARSE (with *WHY set). */
int instar_vmdk_desc_parse(const uint8_t *text, size_t len, struct instar_vmdk_desc *d,
                           const char **why);

/* Write TEXT with the CID, extent sector count and cylinders replaced into
 * OUT (OUT_CAP bytes, zero padded).  Every other byte is copied as it is.
 * INSTAR_E_TOO_LARGE when the result does not fit. */
int instar_vmdk_desc_rewrite(const uint8_t *text, const struct instar_vmdk_desc *d,
                             uint32_t new_cid, uint64_t new_sectors,
                             uint8_t *out, size_t out_cap);

/* Cylinders as qemu computes them: bytes / (heads * sectors * 512), no cap. */
uint64_t instar_vmdk_cylinders(uint64_t bytes, uint64_t heads, uint64_t sectors);

#endif
