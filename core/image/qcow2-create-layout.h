/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-create-layout.h -- where a new qcow2 image's structures go
 * (internal to the core; pure arithmetic, no I/O). */
#ifndef INSTAR_QCOW2_CREATE_LAYOUT_H
#define INSTAR_QCOW2_CREATE_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/image.h"

/* qemu's L1 cap (QCOW_MAX_L1_SIZE = 32 MiB of 8-byte entries). */
#define INSTAR_QCOW2_MAX_L1_ENTRIES 4194304u
/* qemu refuses to open images whose refcount table exceeds 8 MiB. */
#define INSTAR_QCOW2_MAX_REFTABLE_BYTES (8u << 20)
/* Host offsets live in bits 9..55 of L1/L2 entries. */
#define INSTAR_QCOW2_MAX_HOST_OFFSET (1ull << 56)

/* The validated options of one create. */
struct instar_qcow2_create_params {
    uint32_t version;           /* 2 or 3 */
    uint32_t cluster_bits;      /* 9..21 */
    uint32_t refcount_order;    /* 0..6 */
    bool extended_l2;
    bool lazy_refcounts;
    enum instar_prealloc prealloc;
    uint64_t size;              /* a multiple of 512 */
};

/* Every structure in file order: header, refcount table, refcount blocks,
 * L1, then (preallocated images only) L2 tables and data clusters.  With
 * one refcount block this is exactly qemu-img's layout (c1 table, c2 block,
 * c3 L1); bigger images keep the same order, which is valid but not
 * qemu's (qemu relocates its refcount structures behind the L1). */
struct instar_qcow2_create_layout {
    uint64_t cluster_size;
    uint64_t l2_entries;        /* entries per L2 table */
    uint64_t refblock_entries;  /* refcounts per refcount block */
    uint64_t l1_size;           /* L1 entries */
    uint64_t reftable_offset;
    uint64_t reftable_clusters;
    uint64_t refblocks_offset;
    uint64_t n_refblocks;
    uint64_t l1_offset;         /* 0 when l1_size is 0 */
    uint64_t l1_clusters;
    uint64_t l2_offset;         /* first L2 table (preallocated only) */
    uint64_t n_l2;
    uint64_t data_offset;       /* first data cluster (preallocated only) */
    uint64_t n_data;
    uint64_t used_clusters;     /* every cluster with refcount 1: [0, used) */
    uint64_t file_size;
};

/* Compute the layout for P.  INSTAR_E_TOO_LARGE when the L1 would exceed
 * qemu's cap, the refcount table its 8 MiB, or a host offset 2^56. */
int instar_qcow2_create_layout(const struct instar_qcow2_create_params *p,
                               struct instar_qcow2_create_layout *out);

#endif
