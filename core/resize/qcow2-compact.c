/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-compact.c -- the refcount rewrite: when a plan's refcount changes
 * are scattered over more blocks than 128 patches can carry (small
 * clusters, wide refcounts, data all over the file), all refcount blocks
 * are written anew, with the final counts, as one contiguous run behind a
 * new refcount table; the header commit switches to them and the old
 * blocks and table simply stop being referenced (their clusters count 0
 * in the new blocks).  Before the commit the old structures are untouched,
 * so a crash leaves at most leaks.  Links into live tables that raise a
 * count (preallocation) are written after the commit, for the same
 * reason. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"

int q2_compact_plan(struct q2 *q)
{
    uint64_t s, nb, t = 0, start;
    int result = INSTAR_OK;

    /* Every existing block is copied: all must be staged. */
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        uint64_t off;
        int rc = q2_reftable_entry(q, i, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off != 0 && q2_find_rb(q, i) == NULL) {
            instar_builder_need(&q->b, INSTAR_NEED_REFBLOCK, i, q->cs);
            result = INSTAR_E_NOT_STAGED;
        }
    }
    if (result != INSTAR_OK)
        return result;

    s = q->file_clusters > q->runs_end ? q->file_clusters : q->runs_end;
    if (q->rbits < 8)
        s = (s + 8 / q->rbits - 1) & ~(uint64_t)(8 / q->rbits - 1);
    nb = instar_div_round_up_u64(s, q->rb_entries);
    for (int it = 0; it < 64; it++) {
        uint64_t nb2;
        t = instar_div_round_up_u64(nb * 8, q->cs);
        nb2 = instar_div_round_up_u64(s + t + nb, q->rb_entries);
        if (nb2 <= nb)
            break;
        nb = nb2;
    }
    if (t * q->cs > QCOW2_MAX_REFTABLE_BYTES || nb > (1u << 24))
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "the rewritten refcount table would pass "
                         "8 MiB or 16 Mi blocks");
    q->cursor = s;
    {
        int rc = q2_alloc(q, t + nb, Q2_RUN_COMPACT, 0, &start);
        if (rc != INSTAR_OK)
            return rc;
    }
    if (start != s)
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "the rewritten refcounts do not fit at "
                         "the end of the file");
    q->rt_moved = true;
    q->new_rt_cluster = start;
    q->new_rt_entries = t * q->cs / 8;
    q->compact_blocks = nb;
    return INSTAR_OK;
}

/* Zero the count of cluster C in the new blocks, if they cover it. */
static void clear(struct q2 *q, uint8_t *blocks, uint64_t c)
{
    if ((c >> q->rb_shift) < q->compact_blocks)
        q2_rc_set(blocks + ((c >> q->rb_shift) << q->cluster_bits), q->rbits,
                  c & (q->rb_entries - 1), 0);
}

void q2_fill_compact(struct q2 *q, const struct q2_run *run, uint8_t *buf)
{
    uint64_t t = run->count - q->compact_blocks;
    uint8_t *blocks = buf + (t << q->cluster_bits);
    for (uint64_t i = 0; i < q->compact_blocks; i++) {
        uint8_t *b = blocks + (i << q->cluster_bits);
        struct q2_rb *rb = q2_find_rb(q, i);
        uint64_t first = i << q->rb_shift, last = first + q->rb_entries;
        instar_put_be64(buf + i * 8, (run->start + t + i) << q->cluster_bits);
        if (rb)
            memcpy(b, rb->fin ? rb->fin : rb->orig, q->cs);
        for (size_t r = 0; r < q->nruns; r++) {
            const struct q2_run *x = &q->runs[r];
            uint64_t s = x->start > first ? x->start : first;
            uint64_t e = x->start + x->count < last ? x->start + x->count : last;
            if (s < e)
                q2_rc_fill(b, q->rbits, s - first, e - first, 1);
        }
    }
    /* The old blocks and table are released by the commit itself. */
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        uint64_t off;
        if (q2_reftable_entry(q, i, &off) == INSTAR_OK && off != 0)
            clear(q, blocks, off >> q->cluster_bits);
    }
    for (uint64_t k = 0; k < q->rt_clusters; k++)
        clear(q, blocks, (q->rt_offset >> q->cluster_bits) + k);
}
