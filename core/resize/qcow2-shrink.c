/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-shrink.c -- shrinking a qcow2 image (with allow_shrink).
 *
 * As qemu 7.2, without its waste: the guest clusters wholly beyond the new
 * end lose their L2 entries (the straddling table's tail is cleared, the
 * dropped L1 entries zeroed; l1_size stays), their host clusters and the
 * dropped L2 tables have their refcounts *decremented* (snapshots may share
 * them), refcount blocks that became empty are unhooked, and the file is
 * cut after the last cluster still in use when that is shorter.  qemu
 * allocates an L2 table for every L1 entry the cut touches just to discard
 * through it; we never allocate to discard (except to copy a straddling L2
 * table a snapshot shares, which qemu copies too).
 *
 * Deliberate difference: when the new end falls inside a cluster, the kept
 * cluster's bytes beyond it are zeroed (when no snapshot shares it), so a
 * later grow cannot expose them again (qemu leaves them). */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"
#include "util/scan.h"

struct shrink {
    uint64_t cut;               /* first guest cluster dropped */
    uint64_t new_l1;            /* L1 entries kept */
    uint64_t si;                /* straddling L1 index, or UINT64_MAX */
    uint64_t sk;                /* first cleared entry in it */
    bool cow;                   /* the straddling table is shared: copy it */
    uint64_t cow_cluster;
    bool discover;              /* pass 1: only check what is staged */
    int result;
};

/* Host clusters an L2 entry holds: [*first, *first + *n). */
static int entry_clusters(const struct q2 *q, uint64_t e, uint64_t *first, uint64_t *n)
{
    *n = 0;
    if (e & QCOW2_OFLAG_COMPRESSED) {
        unsigned x = 62 - (q->cluster_bits - 8);
        uint64_t off = e & ((1ull << x) - 1);
        uint64_t sectors = ((e >> x) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
        uint64_t size = sectors * 512 - (off & 511), end = off + size;
        if (end > QCOW2_MAX_HOST_OFFSET)
            return q2_refuse(q, INSTAR_E_PARSE, "a compressed L2 entry reaches past 2^56");
        *first = off >> q->cluster_bits;
        *n = ((end - 1) >> q->cluster_bits) - *first + 1;
        return INSTAR_OK;
    }
    /* Standard, also with the zero flag: only a host offset holds one. */
    if ((e & QCOW2_OFFSET_MASK) == 0)
        return INSTAR_OK;
    if (e & QCOW2_OFFSET_MASK & (q->cs - 1))
        return q2_refuse(q, INSTAR_E_PARSE, "an L2 entry is not cluster-aligned");
    *first = (e & QCOW2_OFFSET_MASK) >> q->cluster_bits;
    *n = 1;
    return INSTAR_OK;
}

/* Pass 1 records needs for every block a decrement will touch; pass 2
 * decrements.  Needs are collected, not stopped at, so a big shrink stages
 * its tables in a few rounds. */
static int release(struct q2 *q, struct shrink *s, uint64_t c, uint64_t n)
{
    /* Data or a table the cut drops that lies in the header, L1, refcount
     * table or snapshot table: the image is corrupt (qemu-img check counts
     * too few references), and the release would free live metadata for
     * the next allocation to overwrite.  Repair first. */
    if (q2_metadata_in_range(q, c, c + n))
        return INSTAR_E_NEEDS_CHECK;
    if (s->discover) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v;
            int rc = q2_refcount_orig(q, c + i, &v);
            if (rc == INSTAR_E_NOT_STAGED)
                s->result = rc;
            else if (rc != INSTAR_OK)
                return rc;
        }
        return INSTAR_OK;
    }
    return q2_rc_decrement(q, c, n);
}

static int release_entries(struct q2 *q, struct shrink *s, const uint8_t *l2,
                           uint64_t from, uint64_t to)
{
    uint64_t bits = (uint64_t)q->l2_esize * 8;
    for (uint64_t j = from; j < to; j++) {
        uint64_t first, n;
        /* An entry of zeros holds no cluster: step over runs of them at
         * eight bytes a compare. */
        j = instar_first_set_bit(l2, j * bits, to * bits) / bits;
        if (j >= to)
            break;
        int rc = entry_clusters(q, instar_be64(l2 + j * q->l2_esize), &first, &n);
        if (rc == INSTAR_OK && n > 0)
            rc = release(q, s, first, n);
        if (rc != INSTAR_OK)
            return rc;
    }
    return INSTAR_OK;
}

static const uint8_t *get_l2(struct q2 *q, struct shrink *s, uint64_t i)
{
    const uint8_t *l2 = q2_find_l2(q, i);
    if (l2 == NULL) {
        instar_builder_need(&q->b, INSTAR_NEED_L2, i, q->cs);
        s->result = INSTAR_E_NOT_STAGED;
    }
    return l2;
}

/* The first L1 index from I whose entry is not 0, or the L1's end: a
 * zero entry has no table to release, and a shrink to a small size
 * passes millions of them. */
static uint64_t next_l1_set(const struct q2 *q, uint64_t i)
{
    if (i >= q->l1_size)
        return q->l1_size;
    return instar_first_set_bit(q->o->l1.data, i * 64, (uint64_t)q->l1_size * 64) / 64;
}

/* Walk what the cut drops; in pass 2 also decide about the straddler. */
static int walk(struct q2 *q, struct shrink *s)
{
    for (uint64_t i = next_l1_set(q, s->new_l1); i < q->l1_size; i = next_l1_set(q, i + 1)) {
        uint64_t off;
        const uint8_t *l2;
        int rc = q2_entry_offset(q, q2_l1_entry(q, i), &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off == 0)
            continue;
        if ((l2 = get_l2(q, s, i)) == NULL)
            continue;
        rc = release_entries(q, s, l2, 0, q->l2_entries);
        if (rc == INSTAR_OK)
            rc = release(q, s, off >> q->cluster_bits, 1);
        if (rc != INSTAR_OK)
            return rc;
    }
    if (s->si != UINT64_MAX) {
        uint64_t off, e = q2_l1_entry(q, s->si);
        const uint8_t *l2;
        int rc = q2_entry_offset(q, e, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off != 0 && (l2 = get_l2(q, s, s->si)) != NULL) {
            rc = release_entries(q, s, l2, s->sk, q->l2_entries);
            /* A table a snapshot shares is copied, the old one released. */
            s->cow = !(e & QCOW2_OFLAG_COPIED);
            if (rc == INSTAR_OK && s->cow)
                rc = release(q, s, off >> q->cluster_bits, 1);
            if (rc != INSTAR_OK)
                return rc;
        }
    }
    return INSTAR_OK;
}

static void fill_cow(struct q2 *q, const struct q2_run *run, uint8_t *buf)
{
    struct shrink *s = q->op;
    (void)run;
    memcpy(buf, q2_find_l2(q, s->si), s->sk * q->l2_esize);
}

/* Is every refcount of block RB zero (but its own) once the plan is done? */
static bool block_empty(struct q2 *q, struct q2_rb *rb, uint64_t self)
{
    uint64_t first = rb->index << q->rb_shift;
    const uint8_t *st = rb->fin ? rb->fin : rb->orig;
    /* Non-zero refcounts found a word at a time; then the runs. */
    for (uint64_t k = 0; k < q->rb_entries; k++) {
        k = instar_first_set_bit(st, k * q->rbits, q->rb_entries * q->rbits) / q->rbits;
        if (k >= q->rb_entries)
            break;
        if (first + k != self)
            return false;
    }
    for (size_t r = 0; r < q->nruns; r++) {
        uint64_t lo = q->runs[r].start, hi = lo + q->runs[r].count;
        if (lo < first)
            lo = first;
        if (hi > first + q->rb_entries)
            hi = first + q->rb_entries;
        if (lo < hi && !(lo == self && hi - lo == 1))
            return false;
    }
    return true;
}

/* Unhook refcount blocks that describe nothing any more (qemu's
 * qcow2_shrink_reftable), as long as dropping one empties another. */
static int drop_blocks(struct q2 *q)
{
    bool again = true;
    int result = INSTAR_OK;
    /* Dropping a block lowers the count of its own cluster: ask for every
     * block holding such a cluster in one round (one per round made a
     * shrink over thousands of blocks quadratic). */
    for (size_t i = 0; i < q->nrbs; i++) {
        uint64_t off, v;
        int rc;
        if (q->rbs[i].fin == NULL)
            continue;
        rc = q2_reftable_entry(q, q->rbs[i].index, &off);
        if (rc == INSTAR_OK)
            rc = q2_refcount_orig(q, off >> q->cluster_bits, &v);
        if (rc == INSTAR_E_NOT_STAGED)
            result = rc;
        else if (rc != INSTAR_OK)
            return rc;
    }
    if (result != INSTAR_OK)
        return result;
    while (again) {
        again = false;
        for (size_t i = 0; i < q->nrbs; i++) {
            struct q2_rb *rb = &q->rbs[i];
            uint64_t off, self;
            int rc;
            if (rb->dropped || rb->fin == NULL)
                continue;       /* only blocks this shrink changed */
            rc = q2_reftable_entry(q, rb->index, &off);
            if (rc != INSTAR_OK)
                return rc;
            self = off >> q->cluster_bits;
            if (!block_empty(q, rb, self))
                continue;
            rb->dropped = true;
            if ((self >> q->rb_shift) != rb->index) {
                rc = q2_rc_decrement(q, self, 1);
                if (rc != INSTAR_OK)
                    return rc;
            }
            again = true;
        }
    }
    return INSTAR_OK;
}

/* The last cluster in use once the plan is done (qemu's
 * qcow2_get_last_cluster), scanning down from the end of the file. */
/* The highest cluster in [LO, HI) that holds metadata (one does). */
static uint64_t top_metadata(const struct q2 *q, uint64_t lo, uint64_t hi)
{
    uint64_t top = hi - 1;
    while (lo < top) {
        uint64_t mid = lo + (top - lo + 1) / 2;
        if (q2_metadata_in_range(q, mid, hi))
            lo = mid;
        else
            top = mid - 1;
    }
    return lo;
}

/* The lowest block index J <= BI such that blocks [J, BI) are missing
 * the way q2_last_used's walk finds BI missing: refcount table entry 0,
 * no new block for the index, no run among their clusters.  A hostile
 * file length puts the walk's start thousands of empty table entries up:
 * they are found a word at a time. */
static uint64_t missing_from(const struct q2 *q, uint64_t bi)
{
    uint64_t j = 0, base = bi << q->rb_shift, top;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        uint64_t e = run->start + run->count;
        if (run->start < base) {
            if (e > base)
                e = base;
            if (((e - 1) >> q->rb_shift) + 1 > j)
                j = ((e - 1) >> q->rb_shift) + 1;
        }
        if (run->kind == Q2_RUN_REFBLOCK && run->first_index < bi) {
            e = run->first_index + run->count;
            if (e > bi)
                e = bi;
            if (e > j)
                j = e;
        }
    }
    top = bi < q->rt_entries ? bi : q->rt_entries;
    if (j < top) {
        uint64_t b = instar_last_set_bit(q->o->reftable.data, j * 64, top * 64);
        if (b < top * 64)
            j = b / 64 + 1;
    }
    return j < bi ? j : bi;
}

int q2_last_used(struct q2 *q, uint64_t end_clusters, uint64_t *last)
{
    uint64_t c = end_clusters;
    /* Past the refcount table's reach every refcount is 0: skip it at
     * once, so a hostile file length costs no scan (it used to hang). */
    int rc0 = q2_clip_to_reach(q, &c);
    if (rc0 != INSTAR_OK)
        return rc0;
    while (c > 0) {
        uint64_t bi = (c - 1) >> q->rb_shift, cl, v, z;
        struct q2_rb *rb;
        int rc;
        if (q2_in_runs(q, c - 1)) {
            *last = c - 1;
            return INSTAR_OK;
        }
        rc = q2_refblock_cluster(q, bi, &cl);
        if (rc != INSTAR_OK)
            return rc;
        rb = q2_find_rb(q, bi);
        if (cl == 0 || (rb && rb->dropped)) {
            /* A whole block of zeros; cutting through live metadata would
             * destroy the image, so such refcounts mean "repair first".
             * Missing blocks below it go with it (refused at the highest
             * one covering metadata, as one block at a time would). */
            uint64_t j = cl == 0 ? missing_from(q, bi) : bi;
            if (q2_metadata_in_range(q, j << q->rb_shift, c))
                return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "refcount block",
                                    top_metadata(q, j << q->rb_shift, c) >> q->rb_shift,
                                    "is missing but covers metadata");
            c = j << q->rb_shift;
            continue;
        }
        /* Zero refcounts below C in this block (a file far longer than
         * its clusters in use): stepped over at once, a word at a time. */
        rc = q2_final_zero_from(q, bi << q->rb_shift, c, &z);
        if (rc != INSTAR_OK)
            return rc;
        if (z < c) {
            if (q2_metadata_in_range(q, z, c)) {
                /* Refused at the highest metadata cluster among them, as
                 * a walk one cluster at a time would. */
                return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "cluster", top_metadata(q, z, c),
                                    "holds metadata but has refcount 0");
            }
            c = z;
            continue;
        }
        rc = q2_refcount_final(q, c - 1, &v);
        if (rc != INSTAR_OK)
            return rc;
        if (v != 0) {
            *last = c - 1;
            return INSTAR_OK;
        }
        if (q2_metadata_in_range(q, c - 1, c))
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "cluster", c - 1,
                                "holds metadata but has refcount 0");
        c--;
    }
    *last = 0;
    return INSTAR_OK;
}

static bool any_nonzero(const uint8_t *p, uint64_t len)
{
    return instar_first_set_bit(p, 0, len * 8) < len * 8;
}

/* Zero the kept cluster's bytes beyond the new end (see the top). */
static int zero_tail(struct q2 *q)
{
    uint64_t in = q->new_size & (q->cs - 1), gc = q->new_size >> q->cluster_bits;
    uint64_t i = gc >> q->l2_shift, off, e, host, rcv;
    const uint8_t *l2;
    int rc;
    if (in == 0)
        return INSTAR_OK;
    rc = q2_entry_offset(q, q2_l1_entry(q, i), &off);
    if (rc != INSTAR_OK || off == 0)
        return rc;
    l2 = q2_find_l2(q, i);
    if (l2 == NULL) {
        instar_builder_need(&q->b, INSTAR_NEED_L2, i, q->cs);
        return INSTAR_E_NOT_STAGED;
    }
    e = instar_be64(l2 + (gc & (q->l2_entries - 1)) * q->l2_esize);
    if ((e & QCOW2_OFLAG_COMPRESSED) || (e & QCOW2_OFFSET_MASK) == 0)
        return INSTAR_OK;
    rc = q2_entry_offset(q, e, &host);
    if (rc != INSTAR_OK)
        return rc;
    rc = q2_refcount_orig(q, host >> q->cluster_bits, &rcv);
    if (rc != INSTAR_OK || rcv != 1)
        return rc;      /* shared with a snapshot: left as qemu leaves it */
    if (host + q->cs > q->file_size)
        return INSTAR_OK;       /* past the end already reads as zeros */
    instar_builder_zero(&q->b, host + in, q->cs - in);
    return q->b.err;
}

/* Prepare: clear the cut entries (or link the copy), zero the dropped
 * L1 entries and the kept cluster's tail. */
static int unlink_cut(struct q2 *q, struct shrink *sp)
{
    struct shrink s = *sp;
    int rc;
    if (s.si != UINT64_MAX) {
        uint64_t off;
        const uint8_t *l2;
        (void)q2_entry_offset(q, q2_l1_entry(q, s.si), &off);
        l2 = off ? q2_find_l2(q, s.si) : NULL;
        if (s.cow) {
            uint8_t *e = instar_builder_alloc(&q->b, 8);
            if (e == NULL)
                return q->b.err;
            instar_put_be64(e, (s.cow_cluster << q->cluster_bits) | QCOW2_OFLAG_COPIED);
            instar_builder_write(&q->b, q->l1_offset + s.si * 8, e, 8);
        } else if (l2 && any_nonzero(l2 + s.sk * q->l2_esize, (q->l2_entries - s.sk) * q->l2_esize)) {
            instar_builder_zero(&q->b, off + s.sk * q->l2_esize,
                                (q->l2_entries - s.sk) * q->l2_esize);
        }
    }
    if (s.new_l1 < q->l1_size
        && any_nonzero(q->o->l1.data + s.new_l1 * 8, (q->l1_size - s.new_l1) * 8))
        instar_builder_zero(&q->b, q->l1_offset + s.new_l1 * 8, (q->l1_size - s.new_l1) * 8);
    rc = zero_tail(q);
    return rc;

}

/* Did the releases bring a cluster the image keeps to refcount 0?  Only
 * a corrupt image does that: a dropped compressed entry reaching into a
 * kept L2 table or a refcount block (compressed entries are counted by
 * no check but qemu-img's), its refcount already one short.  Freed, the
 * next allocation would overwrite the table (qemu 7.2 frees it so).
 * Checked before drop_blocks, which empties blocks deliberately. */
static bool freed_by_release(struct q2 *q, uint64_t c)
{
    struct q2_rb *rb = q2_find_rb(q, c >> q->rb_shift);
    uint64_t k = c & (q->rb_entries - 1);
    return rb != NULL && rb->fin != NULL && q2_rc_get(rb->fin, q->rbits, k) == 0 &&
           q2_rc_get(rb->orig, q->rbits, k) != 0;
}

static int check_kept_metadata(struct q2 *q, const struct shrink *s)
{
    for (uint64_t i = next_l1_set(q, 0); i < s->new_l1 && i < q->l1_size;
         i = next_l1_set(q, i + 1)) {
        uint64_t off = q2_l1_entry(q, i) & QCOW2_OFFSET_MASK;
        /* A shared straddler is copied, the old one released; an
         * unaligned kept entry is not this check's business (the shrink
         * never reads it; refusing it here changed which error such
         * images get). */
        if (off == 0 || (off & (q->cs - 1)) || (i == s->si && s->cow))
            continue;
        if (freed_by_release(q, off >> q->cluster_bits))
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "L2 table", i,
                                "is kept but the shrink releases its cluster (refcount too low)");
    }
    for (size_t i = 0; i < q->nrbs; i++) {
        uint64_t off;
        int rc;
        if (q->rbs[i].fin == NULL)
            continue;       /* blocks with no change: nothing freed in them */
        rc = q2_reftable_entry(q, q->rbs[i].index, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off != 0 && freed_by_release(q, off >> q->cluster_bits))
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "refcount block", q->rbs[i].index,
                                "is kept but the shrink releases its cluster (refcount too low)");
    }
    return INSTAR_OK;
}

/* Is a refcount block still hooked at or past cluster END?  Its own
 * refcount reads 0 (the last-used scan would have kept it otherwise): a
 * corrupt image, and cutting the file there would leave the refcount
 * table pointing past its end.  Unaligned entries are left to the
 * checks that read them. */
static int check_blocks_before(struct q2 *q, uint64_t end)
{
    const uint8_t *rt = q->o->reftable.data;
    for (uint64_t i = instar_first_set_bit(rt, 0, q->rt_entries * 64) / 64; i < q->rt_entries;
         i = instar_first_set_bit(rt, (i + 1) * 64, q->rt_entries * 64) / 64) {
        uint64_t off = instar_be64(rt + i * 8) & QCOW2_REFT_OFFSET_MASK;
        struct q2_rb *rb = q2_find_rb(q, i);
        if (off == 0 || (off & (q->cs - 1)) || (rb != NULL && rb->dropped))
            continue;
        if ((off >> q->cluster_bits) >= end)
            return q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "refcount block", i,
                                "lies past the new end of file (its refcount reads 0)");
    }
    return INSTAR_OK;
}

int q2_shrink(struct q2 *q)
{
    struct shrink s;
    uint64_t last = 0, cur_len, total;
    int rc;

    memset(&s, 0, sizeof s);
    q->op = &s;
    q->fill_l2 = fill_cow;
    s.cut = instar_div_round_up_u64(q->new_size, q->cs);
    s.new_l1 = q2_size_to_l1(q, q->new_size);
    s.si = UINT64_MAX;
    if ((s.cut & (q->l2_entries - 1)) != 0 && (s.cut >> q->l2_shift) < q->l1_size) {
        s.si = s.cut >> q->l2_shift;
        s.sk = s.cut & (q->l2_entries - 1);
    }

    /* Pass 1: stage everything the decrements need. */
    s.discover = true;
    rc = walk(q, &s);
    if (rc != INSTAR_OK)
        return rc;
    if (s.result != INSTAR_OK)
        return s.result;
    s.discover = false;
    rc = walk(q, &s);
    if (rc == INSTAR_OK)
        rc = q2_bitmaps_release(q);
    if (rc == INSTAR_OK)
        rc = check_kept_metadata(q, &s);
    if (rc != INSTAR_OK)
        return rc;
    if (q->compact) {
        /* Rewritten refcounts: the new blocks go behind everything, so the
         * file does not get shorter.  A copied table would be counted
         * before its link: not combined. */
        if (s.cow)
            return q2_refuse(q, INSTAR_E_SNAPSHOTS, "an L2 table shared with a snapshot "
                             "and refcounts to rewrite");
        rc = q2_bitmaps_alloc(q);
        if (rc == INSTAR_OK)
            rc = q2_compact_plan(q);
        if (rc != INSTAR_OK)
            return rc;
        q->b.plan->total_file_size = q->runs_end << q->cluster_bits;
        if (q->file_size > q->b.plan->total_file_size)
            q->b.plan->total_file_size = q->file_size;
        rc = q2_emit_new_clusters(q, NULL, 0);
        if (rc == INSTAR_OK)
            rc = unlink_cut(q, &s);
        if (rc == INSTAR_OK)
            rc = q2_emit_header(q, false, 0, 0);
        return rc;
    }
    if (s.cow && (rc = q2_alloc(q, 1, Q2_RUN_L2, s.si, &s.cow_cluster)) != INSTAR_OK)
        return rc;
    if ((rc = q2_bitmaps_alloc(q)) != INSTAR_OK)
        return rc;
    rc = q2_cover_refcounts(q);
    if (rc == INSTAR_OK)
        rc = q2_build_phase_a(q);
    if (rc == INSTAR_OK)
        rc = drop_blocks(q);
    if (rc != INSTAR_OK)
        return rc;

    /* The final length: cut after the last cluster in use if shorter. */
    cur_len = q->file_size;
    if ((q->runs_end << q->cluster_bits) > cur_len)
        cur_len = q->runs_end << q->cluster_bits;
    rc = q2_last_used(q, instar_div_round_up_u64(cur_len, q->cs), &last);
    if (rc != INSTAR_OK)
        return rc;
    total = (last + 1) << q->cluster_bits;
    if (total < cur_len && (rc = check_blocks_before(q, last + 1)) != INSTAR_OK)
        return rc;
    q->b.plan->total_file_size = total < cur_len ? total : cur_len;

    /* Prepare: the copied table and its refcount, then unlink. */
    rc = q2_emit_new_clusters(q, NULL, 0);
    if (rc == INSTAR_OK)
        rc = q2_emit_refblock_phase(q, false);
    if (rc == INSTAR_OK)
        rc = q2_emit_reftable_hooks(q);
    if (rc != INSTAR_OK)
        return rc;
    rc = unlink_cut(q, &s);
    if (rc != INSTAR_OK)
        return rc;

    /* Commit, then release: unhook empty blocks before lowering the
     * refcounts of their clusters. */
    rc = q2_emit_header(q, false, 0, 0);
    if (rc != INSTAR_OK)
        return rc;
    for (size_t i = 0; i < q->nrbs; i++) {
        size_t j = i;
        if (!q->rbs[i].dropped)
            continue;
        while (j + 1 < q->nrbs && q->rbs[j + 1].dropped
               && q->rbs[j + 1].index == q->rbs[j].index + 1)
            j++;
        instar_builder_zero(&q->b, q->rt_offset + q->rbs[i].index * 8,
                            (q->rbs[j].index - q->rbs[i].index + 1) * 8);
        i = j;
    }
    rc = q2_emit_refblock_phase(q, true);
    if (rc == INSTAR_OK)
        q2_collect_discards(q);
    return rc;
}
