/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/resize.h -- the resize planners.
 *
 * A planner is a pure function: scalar facts read from an image, read-only
 * slices of its existing metadata, and a caller-supplied scratch buffer in;
 * a plan (instar/plan.h) or an error code out.  No I/O, no allocation, no
 * global state.  Every number in the options is untrusted: planners range-
 * and overflow-check all of it and answer an error rather than crash.
 *
 * When a plan needs a table the caller did not stage, the planner answers
 * INSTAR_E_NOT_STAGED and lists what it needs in plan->needs; the host
 * stages those and calls again.  So hosts read exactly what a plan touches,
 * whatever the virtual size.  */
#ifndef INSTAR_RESIZE_H
#define INSTAR_RESIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only view of existing bytes.  len 0 means "not staged". */
struct instar_slice {
    const uint8_t *data;
    size_t len;
};

/* One staged table, identified by its index (L1 index for L2 tables,
 * refcount-table index for refcount blocks). */
struct instar_staged_table {
    uint64_t index;
    struct instar_slice bytes;
};

/* Why a planner refused: a static reason that names the field and, where
 * there is one, the table entry it concerns.  Printed (instar_refusal_format)
 * as TABLE INDEX REASON, qemu's style: "L1 entry 17 points past the end of
 * the file", or REASON alone when TABLE is NULL. */
struct instar_refusal {
    const char *reason;         /* static; NULL when the planner gave none */
    const char *table;          /* static, e.g. "L1 entry"; NULL: no index */
    uint64_t index;
};
/* Print R into BUF (LEN bytes, NUL-terminated); "" when it has no reason.
 * Returns BUF. */
char *instar_refusal_format(const struct instar_refusal *r, char *buf, size_t len);

/* Common request part shared by every format. */
struct instar_resize_request {
    uint64_t new_size;          /* requested virtual size in bytes */
    bool allow_shrink;          /* qemu-img's --shrink */
    enum instar_prealloc prealloc;
    /* When not NULL, every refusal says why here (the planner clears it
     * first); the first reason found stands. */
    struct instar_refusal *why;
};

/* ---- raw ----------------------------------------------------------------- */
struct instar_raw_resize_opts {
    struct instar_resize_request req;
    uint64_t current_file_size; /* raw: the virtual size is the file length */
};

/* ---- qcow2 --------------------------------------------------------------- */
struct instar_qcow2_resize_opts {
    struct instar_resize_request req;
    uint64_t current_file_size;
    /* Header facts (must agree with `header' when it is staged). */
    uint32_t version;               /* 2 or 3 */
    uint32_t cluster_bits;          /* 9..21 */
    uint64_t virtual_size;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t refcount_order;        /* refcount_bits = 1 << order; 0..6 */
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t header_length;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    bool has_bitmaps;               /* bitmaps header extension present */
    /* A grow must make the new range read as zeros: the backing file is
     * longer than the old size (qemu's BDRV_REQ_ZERO_WRITE). */
    bool zero_grow;
    /* The guest bytes the backing chain shows in the old end's cluster,
     * [old size rounded down to a cluster, old size): a grow that starts
     * inside a cluster the backing file shows copies them into the image
     * first (qemu's copy-on-write).  data NULL when not read; such a grow
     * is then refused. */
    struct instar_slice backing_head;
    /* Existing state. */
    struct instar_slice header;     /* cluster 0 (at least header_length bytes) */
    struct instar_slice l1;         /* l1_size * 8 bytes */
    struct instar_slice reftable;   /* refcount_table_clusters * cluster bytes */
    const struct instar_staged_table *refblocks;
    size_t n_refblocks;
    const struct instar_staged_table *l2_tables;
    size_t n_l2_tables;
    /* Byte ranges the planner asked for with INSTAR_NEED_BYTES (index =
     * file offset, length): the persistent-bitmap directory and the bitmap
     * tables that change size.  Each entry's index is its file offset. */
    const struct instar_staged_table *byte_ranges;
    size_t n_byte_ranges;
};

/* ---- VHD (vpc) ----------------------------------------------------------- */
enum instar_vhd_type {
    INSTAR_VHD_FIXED = 2,
    INSTAR_VHD_DYNAMIC = 3,
    INSTAR_VHD_DIFFERENCING = 4
};

struct instar_vhd_resize_opts {
    struct instar_resize_request req;
    uint64_t current_file_size;
    enum instar_vhd_type disk_type; /* differencing disks are refused */
    /* Facts (must agree with the staged bytes, else HEADER_MISMATCH). */
    uint64_t virtual_size;          /* as qemu reads it (CHS or current size) */
    uint32_t block_size;            /* dynamic only */
    uint32_t max_table_entries;     /* dynamic only */
    uint64_t bat_offset;            /* dynamic only: the header's table offset */
    /* Existing state.  The footer is the copy qemu reads: at offset 0 for
     * a dynamic disk, at end of file for a fixed one (512 bytes). */
    struct instar_slice footer;
    struct instar_slice dyn_header; /* 1024 bytes at the footer's data offset */
    /* At least 4 * max_table_entries bytes.  A relocating plan writes the
     * old entries straight from this slice: keep it alive and unchanged
     * (not a view of the file being patched) until the plan is applied. */
    struct instar_slice bat;
    /* Informational (the engine fills it; the planner derives the layout
     * from the staged BAT and ignores this): lowest allocated block. */
    uint64_t first_block_offset;
};

/* ---- VHDX ---------------------------------------------------------------- */
/* The scalars are cross-checked against the staged bytes (a disagreement is
 * INSTAR_E_HEADER_MISMATCH); the staged bytes are parsed and validated as
 * qemu 7.2 would before anything is planned. */
struct instar_vhdx_resize_opts {
    struct instar_resize_request req;
    uint64_t current_file_size;
    uint64_t virtual_size;          /* the Virtual Disk Size item */
    uint32_t block_size;            /* File Parameters: BlockSize */
    uint32_t logical_sector_size;   /* 512 or 4096 */
    bool leave_blocks_allocated;    /* "fixed" subformat */
    struct instar_slice header1;    /* 4 KiB at 64 KiB */
    struct instar_slice header2;    /* 4 KiB at 128 KiB */
    struct instar_slice region1;    /* 64 KiB at 192 KiB (the one qemu reads) */
    struct instar_slice region2;    /* 64 KiB at 256 KiB (kept in step) */
    struct instar_slice metadata;   /* the metadata region's first bytes (table + items) */
    uint64_t metadata_offset;       /* file offset of the metadata region */
    struct instar_slice bat;        /* BAT entries from index 0: at least the entries
                                       before the first new payload block (the
                                       planner asks for them with NEED_BYTES) */
    uint64_t bat_offset;            /* BAT region, as region table 1 says */
    uint32_t bat_region_length;
    /* New GUIDs for the header update (MS-VHDX: a new FileWriteGuid before
     * the first write of a session, a new DataWriteGuid before a
     * user-visible change such as the disk size).  The planner is pure, so
     * the caller supplies them: the engine from getrandom(), fuzzers and
     * tests fixed bytes. */
    uint8_t file_write_guid[16];
    uint8_t data_write_guid[16];
};

/* ---- VMDK (monolithicSparse) -------------------------------------------- */
struct instar_vmdk_resize_opts {
    struct instar_resize_request req;
    uint64_t current_file_size;
    uint64_t capacity_sectors;
    uint64_t grain_sectors;
    uint32_t gtes_per_gt;
    uint64_t gd_offset_sectors;
    uint64_t rgd_offset_sectors;    /* 0 when no redundant GD */
    uint64_t descriptor_offset_sectors;
    uint64_t descriptor_sectors;
    struct instar_slice header;     /* 512 bytes */
    struct instar_slice descriptor; /* descriptor_sectors * 512 bytes */
    struct instar_slice gd;         /* grain directory: ceil(4*gt_count/512) sectors */
    struct instar_slice rgd;        /* redundant grain directory (same length) */
    /* The 4-byte grain-table entry of the last grain, staged only when the
     * old capacity is not grain-aligned (the planner asks for it with
     * INSTAR_NEED_BYTES; it trusts the host to stage the bytes it named). */
    struct instar_slice tail_gte;
    /* The descriptor's new CID (the host picks it at random; an input so
     * the planner stays pure). */
    uint32_t new_cid;
};

/* The planners.  Each fills PLAN and returns INSTAR_OK, or returns an
 * error code (PLAN then holds no patches; for INSTAR_E_NOT_STAGED it lists
 * plan->needs).  SCRATCH holds every patch payload; INSTAR_E_SCRATCH_TOO_SMALL
 * when it is too short. */
int instar_plan_resize_raw(const struct instar_raw_resize_opts *opts,
                           uint8_t *scratch, size_t scratch_len,
                           struct instar_resize_plan *plan);
int instar_plan_resize_qcow2(const struct instar_qcow2_resize_opts *opts,
                             uint8_t *scratch, size_t scratch_len,
                             struct instar_resize_plan *plan);
/* The persistent bitmap qemu-img names for the resize OPTS describes (the
 * staged options of the last planner call), copied into NAME (at most LEN
 * bytes with the NUL): 1 when it is the first bitmap in use (the refusal
 * INSTAR_E_BITMAPS), 2 when a grow leaves a bitmap beyond qemu's limits
 * (512 MiB of bitmap data) so that the plan marks every bitmap in use, as
 * qemu's failed store leaves them; 3 when a bitmap would need more than
 * 2^41 bits, more than qemu can load (the refusal INSTAR_E_BITMAPS);
 * 0 when none of these. */
int instar_qcow2_bitmap_report(const struct instar_qcow2_resize_opts *opts, char *name,
                               size_t len);
int instar_plan_resize_vhd(const struct instar_vhd_resize_opts *opts,
                           uint8_t *scratch, size_t scratch_len,
                           struct instar_resize_plan *plan);
int instar_plan_resize_vhdx(const struct instar_vhdx_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan);
int instar_plan_resize_vmdk(const struct instar_vmdk_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan);

/* Shared request checks, in qemu-img's order: size > 0, preallocation only
 * for growing, shrink only with the flag.  Planners call it first (after
 * instar_refusal_start). */
int instar_resize_check_request(const struct instar_resize_request *req,
                                uint64_t current_size);

#ifdef __cplusplus
}
#endif
#endif
