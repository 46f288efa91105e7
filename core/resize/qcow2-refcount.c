/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-refcount.c -- refcount entries of any width (1..64 bits; widths
 * below 8 packed least-significant bit first, as qemu does), lookups in the
 * staged refcount blocks, phase-B decrements and the refcount writes. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/endian.h"
#include "util/nocov.h"
#include "util/scan.h"

uint64_t q2_rc_get(const uint8_t *block, unsigned rbits, uint64_t k)
{
    switch (rbits) {
    case 8: return block[k];
    case 16: return instar_be16(block + k * 2);
    case 32: return instar_be32(block + k * 4);
    case 64: return instar_be64(block + k * 8);
    default: {
        uint64_t bit = k * rbits;
        return (uint64_t)(block[bit >> 3] >> (bit & 7)) & ((1u << rbits) - 1);
    }
    }
}

void q2_rc_set(uint8_t *block, unsigned rbits, uint64_t k, uint64_t v)
{
    switch (rbits) {
    case 8: block[k] = (uint8_t)v; break;
    case 16: instar_put_be16(block + k * 2, (uint16_t)v); break;
    case 32: instar_put_be32(block + k * 4, (uint32_t)v); break;
    case 64: instar_put_be64(block + k * 8, v); break;
    default: {
        uint64_t bit = k * rbits;
        unsigned mask = ((1u << rbits) - 1) << (bit & 7);
        uint8_t *p = &block[bit >> 3];
        *p = (uint8_t)((*p & ~mask) | (((unsigned)v << (bit & 7)) & mask));
        break;
    }
    }
}

INSTAR_NO_COVERAGE
void q2_rc_fill(uint8_t *block, unsigned rbits, uint64_t k0, uint64_t k1, uint64_t v)
{
    switch (rbits) {
    case 8:
        if (k0 < k1)
            memset(block + k0, (int)(uint8_t)v, (size_t)(k1 - k0));
        return;
    case 16:
    case 32:
    case 64:
        if (k0 < k1) {
            /* One entry, then copies of what is done so far: a big grow
             * fills millions of refcounts with 1. */
            size_t unit = rbits / 8, have = unit, total = (size_t)(k1 - k0) * unit;
            uint8_t *p = block + k0 * unit;
            if (rbits == 16)
                instar_put_be16(p, (uint16_t)v);
            else if (rbits == 32)
                instar_put_be32(p, (uint32_t)v);
            else
                instar_put_be64(p, v);
            while (have < total) {
                size_t n = have < total - have ? have : total - have;
                memcpy(p + have, p, n);
                have += n;
            }
        }
        return;
    default: {
        /* 1, 2 or 4 bits: partial bytes one entry at a time, whole bytes
         * as a repeated pattern. */
        uint64_t per = 8 / rbits;
        uint8_t pat = 0;
        while (k0 < k1 && k0 % per != 0)
            q2_rc_set(block, rbits, k0++, v);
        while (k1 > k0 && k1 % per != 0)
            q2_rc_set(block, rbits, --k1, v);
        for (unsigned i = 0; i < per; i++)
            pat |= (uint8_t)((v & ((1u << rbits) - 1)) << (i * rbits));
        if (k0 < k1)
            memset(block + k0 / per, pat, (size_t)((k1 - k0) / per));
        return;
    }
    }
}

int q2_reftable_entry(const struct q2 *q, uint64_t i, uint64_t *off)
{
    uint64_t e;
    *off = 0;
    if (i >= q->rt_entries)
        return INSTAR_OK;
    e = instar_be64(q->o->reftable.data + i * 8) & QCOW2_REFT_OFFSET_MASK;
    if (e == 0)
        return INSTAR_OK;
    if ((e & (q->cs - 1)) || e >= QCOW2_MAX_HOST_OFFSET)
        return q2_refuse_at(q, INSTAR_E_PARSE, "refcount table entry", i,
                            "is not cluster-aligned or past 2^56");
    *off = e;
    return INSTAR_OK;
}

struct q2_rb *q2_find_rb(struct q2 *q, uint64_t index)
{
    size_t lo = 0, hi = q->nrbs;
    if (q->rb_hint < q->nrbs && q->rbs[q->rb_hint].index == index)
        return &q->rbs[q->rb_hint];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->rbs[mid].index == index) {
            q->rb_hint = mid;
            return &q->rbs[mid];
        }
        if (q->rbs[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The staged block for index BI, or NULL with *RC = INSTAR_OK when the
 * block does not exist (all refcounts 0), or a need recorded. */
static struct q2_rb *block_for(struct q2 *q, uint64_t bi, int *rc)
{
    uint64_t off;
    struct q2_rb *rb;
    *rc = q2_reftable_entry(q, bi, &off);
    if (*rc != INSTAR_OK || off == 0)
        return NULL;
    rb = q2_find_rb(q, bi);
    if (rb == NULL) {
        instar_builder_need(&q->b, INSTAR_NEED_REFBLOCK, bi, q->cs);
        *rc = INSTAR_E_NOT_STAGED;
    }
    return rb;
}

int q2_refcount_orig(struct q2 *q, uint64_t c, uint64_t *out)
{
    int rc;
    struct q2_rb *rb = block_for(q, c >> q->rb_shift, &rc);
    *out = rb ? q2_rc_get(rb->orig, q->rbits, c & (q->rb_entries - 1)) : 0;
    if (rc != INSTAR_OK)
        *out = UINT64_MAX;
    return rc;
}

int q2_refcount_final(struct q2 *q, uint64_t c, uint64_t *out)
{
    int rc;
    struct q2_rb *rb;
    if (q2_in_runs(q, c)) {
        *out = 1;
        return INSTAR_OK;
    }
    rb = block_for(q, c >> q->rb_shift, &rc);
    *out = 0;
    if (rc != INSTAR_OK) {
        *out = UINT64_MAX;
        return rc;
    }
    if (rb && !rb->dropped)
        *out = q2_rc_get(rb->fin ? rb->fin : rb->orig, q->rbits, c & (q->rb_entries - 1));
    return INSTAR_OK;
}

int q2_final_zero_from(struct q2 *q, uint64_t lo, uint64_t hi, uint64_t *from)
{
    uint64_t x = lo, first = lo >> q->rb_shift << q->rb_shift;
    int rc;
    struct q2_rb *rb;
    /* A run reaching into [X, HI) holds refcount 1 up to its end. */
    for (size_t r = 0; r < q->nruns; r++) {
        uint64_t s = q->runs[r].start, e = s + q->runs[r].count;
        if (e > hi)
            e = hi;
        if (s < hi && e > x)
            x = e;
    }
    *from = x;
    rb = block_for(q, lo >> q->rb_shift, &rc);
    if (rc != INSTAR_OK)
        return rc;
    if (rb && !rb->dropped && x < hi) {
        uint64_t end = (hi - first) * q->rbits;
        uint64_t b = instar_last_set_bit(rb->fin ? rb->fin : rb->orig, (x - first) * q->rbits, end);
        if (b < end)
            *from = first + b / q->rbits + 1;
    }
    return INSTAR_OK;
}

/* Widen the dirty byte range [*LO, *HI) by refcount entry K. */
static void widen(const struct q2 *q, size_t *lo, size_t *hi, uint64_t k)
{
    uint64_t bit = k * q->rbits;
    size_t first = (size_t)(bit >> 3), end = (size_t)((bit + q->rbits + 7) >> 3);
    if (*lo >= *hi) {
        *lo = first;
        *hi = end;
        return;
    }
    if (first < *lo)
        *lo = first;
    if (end > *hi)
        *hi = end;
}

int q2_rc_decrement(struct q2 *q, uint64_t c, uint64_t n)
{
    int result = INSTAR_OK;
    for (uint64_t i = 0; i < n; i++) {
        int rc;
        uint64_t k = (c + i) & (q->rb_entries - 1), v;
        struct q2_rb *rb = block_for(q, (c + i) >> q->rb_shift, &rc);
        if (rc == INSTAR_E_NOT_STAGED) {
            result = rc;        /* keep collecting needs */
            continue;
        }
        if (rc != INSTAR_OK)
            return rc;
        if (rb == NULL)
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "cluster", c + i,
                                "is referenced but has no refcount block");
        if (rb->fin == NULL) {
            rb->fin = instar_builder_alloc(&q->b, q->cs);
            if (rb->fin == NULL)
                return q->b.err;
            memcpy(rb->fin, rb->orig, q->cs);
            rb->fin_lo = rb->fin_hi = 0;
        }
        v = q2_rc_get(rb->fin, q->rbits, k);
        if (v == 0)
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "cluster", c + i,
                                "is referenced but has refcount 0");
        q2_rc_set(rb->fin, q->rbits, k, v - 1);
        widen(q, &rb->fin_lo, &rb->fin_hi, k);
    }
    return result;
}

/* Emit WRITE patches of BUF over [LO, HI] for bytes where BUF differs from
 * ORIG, split wherever OTHER (the other phase's state, may be NULL) differs
 * from ORIG.  Unchanged bytes between changes are rewritten as they are, so
 * scattered changes cost one patch per block.  Only BUF's dirty range
 * [BLO, BHI) can differ from ORIG, and OTHER's only within [OLO, OHI):
 * nothing outside them is scanned. */
static int emit_span(struct q2 *q, uint64_t block_off, const uint8_t *orig,
                     const uint8_t *buf, size_t blo, size_t bhi,
                     const uint8_t *other, size_t olo, size_t ohi)
{
    size_t lo, hi, start;
    bool open = false;
    if (bhi > q->cs)
        bhi = (size_t)q->cs;
    if (other == NULL)
        olo = ohi = 0;
#define OTHER_DIFFERS(i) ((i) >= olo && (i) < ohi && other[i] != orig[i])
    /* The changed span [LO, HI] found a word at a time (a block filled by
     * a big grow changes all of it); only where it meets OTHER's range
     * can a byte be shared, so only there byte by byte. */
    lo = instar_first_diff(buf, orig, blo, bhi);
    if (lo >= bhi)
        return INSTAR_OK;
    hi = instar_last_diff(buf, orig, lo, bhi);
    for (size_t i = lo > olo ? lo : olo; i <= hi && i < ohi; i++)
        if (buf[i] != orig[i] && OTHER_DIFFERS(i))      /* shared byte: see qcow2.h */
            return q2_refuse(q, INSTAR_E_UNSUPPORTED_SUBFORMAT, "a refcount byte would "
                             "change both before and after the header commit");
    if (ohi <= lo || olo > hi) {
        /* Nothing blocks: one write, already trimmed at both ends. */
        instar_builder_write(&q->b, block_off + lo, buf + lo, hi - lo + 1);
        return q->b.err;
    }
    start = lo;
    for (size_t i = lo; i <= hi + 1; i++) {
        bool blocked = i > hi || OTHER_DIFFERS(i);
        if (!blocked && !open) {
            start = i;
            open = true;
        } else if (blocked && open) {
            /* Trim unchanged bytes at the segment's end. */
            size_t end = i;
            while (end > start && buf[end - 1] == orig[end - 1])
                end--;
            while (start < end && buf[start] == orig[start])
                start++;
            if (end > start)
                instar_builder_write(&q->b, block_off + start, buf + start, end - start);
            open = false;
        }
    }
#undef OTHER_DIFFERS
    return q->b.err;
}

/* Phase A: the refcounts of new clusters that live in existing blocks,
 * built as a modified copy (rb->a) of each block the runs touch. */
int q2_build_phase_a(struct q2 *q)
{
    int result = INSTAR_OK;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        uint64_t end = run->start + run->count;
        for (uint64_t bi = run->start >> q->rb_shift; bi <= (end - 1) >> q->rb_shift; bi++) {
            uint64_t first = bi << q->rb_shift, last = first + q->rb_entries;
            uint64_t s = run->start > first ? run->start : first;
            uint64_t e = end < last ? end : last;
            int rc;
            struct q2_rb *rb = block_for(q, bi, &rc);
            if (rc == INSTAR_E_NOT_STAGED) {
                result = rc;
                continue;
            }
            if (rc != INSTAR_OK)
                return rc;
            if (rb == NULL)
                continue;       /* a new block: written whole */
            if (rb->a == NULL) {
                rb->a = instar_builder_alloc(&q->b, q->cs);
                if (rb->a == NULL)
                    return q->b.err;
                memcpy(rb->a, rb->orig, q->cs);
                rb->a_lo = rb->a_hi = 0;
            }
            q2_rc_fill(rb->a, q->rbits, s - first, e - first, 1);
            if (s < e) {
                widen(q, &rb->a_lo, &rb->a_hi, s - first);
                widen(q, &rb->a_lo, &rb->a_hi, e - 1 - first);
            }
        }
    }
    return result;
}

int q2_emit_refblock_phase(struct q2 *q, bool phase_b)
{
    for (size_t i = 0; i < q->nrbs; i++) {
        struct q2_rb *rb = &q->rbs[i];
        uint64_t off;
        int rc = q2_reftable_entry(q, rb->index, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (rb->dropped)
            continue;
        if (phase_b) {
            if (rb->fin)
                rc = emit_span(q, off, rb->orig, rb->fin, rb->fin_lo, rb->fin_hi,
                               rb->a, rb->a_lo, rb->a_hi);
        } else if (rb->a) {
            rc = emit_span(q, off, rb->orig, rb->a, rb->a_lo, rb->a_hi,
                           rb->fin, rb->fin_lo, rb->fin_hi);
        }
        if (rc != INSTAR_OK)
            return rc;
    }
    return q->b.err;
}
