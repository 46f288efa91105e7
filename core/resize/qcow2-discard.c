/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-discard.c -- the clusters a shrink releases, as file ranges for
 * the host to give back (qemu discards them: QCOW2_DISCARD_ALWAYS for the
 * dropped data clusters and L2 tables).  A cluster counts when its
 * refcount goes from non-zero to zero in phase B; clusters past the new
 * end of file are cut anyway.  Contiguous clusters make one range; past
 * INSTAR_MAX_DISCARDS ranges the rest stays allocated (space, not data). */
#include <config.h>

#include "instar/error.h"
#include "resize/qcow2.h"

static void add(struct q2 *q, uint64_t c)
{
    struct instar_resize_plan *p = q->b.plan;
    uint64_t off = c << q->cluster_bits;
    if (p->ndiscards > 0) {
        struct instar_range *last = &p->discards[p->ndiscards - 1];
        if (last->offset + last->length == off) {
            last->length += q->cs;
            return;
        }
    }
    if (p->ndiscards < INSTAR_MAX_DISCARDS) {
        p->discards[p->ndiscards].offset = off;
        p->discards[p->ndiscards].length = q->cs;
        p->ndiscards++;
    }
}

void q2_collect_discards(struct q2 *q)
{
    uint64_t end = q->b.plan->total_file_size >> q->cluster_bits;
    q->b.plan->ndiscards = 0;
    for (size_t i = 0; i < q->nrbs; i++) {
        const struct q2_rb *rb = &q->rbs[i];
        uint64_t k0, k1, base = rb->index << q->rb_shift;
        if (rb->fin == NULL || rb->fin_hi <= rb->fin_lo)
            continue;
        k0 = (uint64_t)rb->fin_lo * 8 / q->rbits;
        k1 = ((uint64_t)rb->fin_hi * 8 + q->rbits - 1) / q->rbits;
        if (k1 > q->rb_entries)
            k1 = q->rb_entries;
        for (uint64_t k = k0; k < k1 && base + k < end; k++)
            if (q2_rc_get(rb->orig, q->rbits, k) != 0 && q2_rc_get(rb->fin, q->rbits, k) == 0)
                add(q, base + k);
    }
}
