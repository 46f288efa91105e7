/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-create-layout.c -- where a new qcow2 image's structures go. */
#include <config.h>

#include <string.h>

#include "image/qcow2-create-layout.h"
#include "instar/error.h"
#include "util/checked.h"

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* The refcount blocks and table must count themselves: iterate to the
 * fixed point (both only grow, and each step adds at most 1/64 of the
 * previous total, so a few rounds suffice). */
static int size_refcounts(uint64_t fixed_clusters, uint64_t cs, uint64_t rbe,
                          uint64_t *n_refblocks, uint64_t *reftable_clusters)
{
    uint64_t blocks = 1, table = 1, total;
    for (int round = 0; round < 64; round++) {
        if (!instar_add_u64(fixed_clusters, blocks, &total)
            || !instar_add_u64(total, table, &total))
            return INSTAR_E_TOO_LARGE;
        uint64_t need_blocks = div_up(total, rbe);
        uint64_t need_table = div_up(need_blocks, cs / 8);
        if (need_blocks <= blocks && need_table <= table) {
            *n_refblocks = blocks;
            *reftable_clusters = table;
            return INSTAR_OK;
        }
        if (need_blocks > blocks)
            blocks = need_blocks;
        if (need_table > table)
            table = need_table;
    }
    return INSTAR_E_TOO_LARGE;
}

int instar_qcow2_create_layout(const struct instar_qcow2_create_params *p,
                               struct instar_qcow2_create_layout *out)
{
    struct instar_qcow2_create_layout l;
    uint64_t fixed, end;
    int rc;

    memset(out, 0, sizeof *out);
    if (p->cluster_bits < 9 || p->cluster_bits > 21 || p->refcount_order > 6)
        return INSTAR_E_INVALID_ARGUMENT;
    memset(&l, 0, sizeof l);
    l.cluster_size = 1ull << p->cluster_bits;
    l.l2_entries = l.cluster_size / (p->extended_l2 ? 16 : 8);
    l.refblock_entries = (l.cluster_size * 8) >> p->refcount_order;

    /* qemu sizes the L1 exactly: one entry per L2 table's coverage. */
    l.l1_size = div_up(p->size, l.cluster_size * l.l2_entries);
    if (l.l1_size > INSTAR_QCOW2_MAX_L1_ENTRIES)
        return INSTAR_E_TOO_LARGE;
    l.l1_clusters = div_up(l.l1_size * 8, l.cluster_size);
    if (p->prealloc != INSTAR_PREALLOC_OFF) {
        l.n_data = div_up(p->size, l.cluster_size);
        l.n_l2 = l.l1_size;
    }

    fixed = 1 + l.l1_clusters;      /* header + L1 */
    if (!instar_add_u64(fixed, l.n_l2, &fixed) || !instar_add_u64(fixed, l.n_data, &fixed))
        return INSTAR_E_TOO_LARGE;
    rc = size_refcounts(fixed, l.cluster_size, l.refblock_entries,
                        &l.n_refblocks, &l.reftable_clusters);
    if (rc != INSTAR_OK)
        return rc;
    if (l.reftable_clusters > INSTAR_QCOW2_MAX_REFTABLE_BYTES / l.cluster_size)
        return INSTAR_E_TOO_LARGE;
    l.used_clusters = fixed + l.n_refblocks + l.reftable_clusters;
    if (!instar_mul_u64(l.used_clusters, l.cluster_size, &end)
        || end > INSTAR_QCOW2_MAX_HOST_OFFSET)
        return INSTAR_E_TOO_LARGE;

    /* Everything below fits: END bounds every offset. */
    l.reftable_offset = l.cluster_size;
    l.refblocks_offset = (1 + l.reftable_clusters) * l.cluster_size;
    uint64_t next = l.refblocks_offset + l.n_refblocks * l.cluster_size;
    l.l1_offset = l.l1_size > 0 ? next : 0;
    next += l.l1_clusters * l.cluster_size;
    l.l2_offset = l.n_l2 > 0 ? next : 0;
    next += l.n_l2 * l.cluster_size;
    l.data_offset = l.n_data > 0 ? next : 0;

    if (l.n_data > 0)
        l.file_size = end;
    else if (l.l1_size > 0)
        /* As qemu: the file ends right after the last L1 entry. */
        l.file_size = l.l1_offset + l.l1_size * 8;
    else
        l.file_size = end;
    *out = l;
    return INSTAR_OK;
}
