/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-alloc.c -- cluster allocation for the qcow2 planner.
 *
 * Like qemu's allocator: next fit from a cursor that starts at cluster 0
 * (qemu's free_cluster_index after open), a cluster being free when its
 * refcount is 0 or it lies past the end of the file.  Clusters this plan
 * frees stay in use until the plan is done: a crash-ordered plan cannot
 * reuse them (qemu does, e.g. an old L1 slot for a new L2 table).
 * Allocations are kept as runs, so a 32 MiB L1 costs one record. */
#include <config.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/nocov.h"
#include "util/scan.h"

int q2_clip_to_reach(struct q2 *q, uint64_t *end)
{
    uint64_t reach = q2_refcount_reach(q);
    if (*end <= reach)
        return INSTAR_OK;
    if (q2_metadata_in_range(q, reach, *end))
        return q2_refuse(q, INSTAR_E_NEEDS_CHECK, "metadata lies past the refcount "
                         "table's reach (refcount 0)");
    *end = reach;
    return INSTAR_OK;
}

bool q2_in_runs(const struct q2 *q, uint64_t c)
{
    for (size_t i = 0; i < q->nruns; i++)
        if (c >= q->runs[i].start && c - q->runs[i].start < q->runs[i].count)
            return true;
    return false;
}

void q2_protect(struct q2 *q, uint64_t start, uint64_t count)
{
    if (q->nprotect < Q2_MAX_PROTECT && count > 0) {
        q->protect[q->nprotect].start = start;
        q->protect[q->nprotect].count = count;
        q->nprotect++;
    }
}

static bool protected_cluster(const struct q2 *q, uint64_t c)
{
    for (size_t i = 0; i < q->nprotect; i++)
        if (c >= q->protect[i].start && c - q->protect[i].start < q->protect[i].count)
            return true;
    return false;
}

/* Widths below 8 pack several refcounts into a byte.  A new cluster's
 * refcount (written before the commit) must not share a byte with one that
 * changes after it, or the two writes would overlap (invariant 4). */
static bool shares_byte(struct q2 *q, uint64_t c)
{
    uint64_t per = 8 / q->rbits, base = c & ~(per - 1);
    struct q2_rb *rb;
    if (q->rbits >= 8)
        return false;
    for (uint64_t x = base; x < base + per; x++)
        if (x != c && protected_cluster(q, x))
            return true;
    rb = q2_find_rb(q, c >> q->rb_shift);
    if (rb && rb->fin) {
        uint64_t byte = ((c & (q->rb_entries - 1)) * q->rbits) >> 3;
        if (rb->fin[byte] != rb->orig[byte])
            return true;
    }
    return false;
}

/* Does [LO, HI) hold a cluster the header points to (header, L1, refcount
 * table, snapshot table)?  Those are never free, whatever the refcounts
 * say: a refcount of 0 there means the image needs a repair. */
bool q2_metadata_in_range(const struct q2 *q, uint64_t lo, uint64_t hi)
{
    uint64_t l1 = q->l1_offset >> q->cluster_bits;
    uint64_t l1n = ((uint64_t)q->l1_size * 8 + q->cs - 1) >> q->cluster_bits;
    uint64_t rt = q->rt_offset >> q->cluster_bits;
    uint64_t snap = q->snap_offset >> q->cluster_bits;
    if (lo >= hi)
        return false;
    return lo == 0 || (l1n > 0 && l1 < hi && lo - l1 < l1n) || (l1n > 0 && lo < l1 && l1 < hi)
           || (rt < hi && (lo <= rt || lo - rt < q->rt_clusters))
           || (q->snap_offset && lo <= snap && snap < hi);
}

static bool known_metadata(const struct q2 *q, uint64_t c)
{
    return q2_metadata_in_range(q, c, c + 1);
}

/* Free or not; an error code via *RC. */
static bool is_free(struct q2 *q, uint64_t c, int *rc)
{
    uint64_t v;
    *rc = INSTAR_OK;
    if (q2_in_runs(q, c))
        return false;
    if (c >= q->file_clusters)
        return !shares_byte(q, c);
    *rc = q2_refcount_orig(q, c, &v);
    if (*rc != INSTAR_OK || v != 0)
        return false;
    if (known_metadata(q, c)) {
        *rc = q2_refuse_at(q, INSTAR_E_NEEDS_CHECK, "cluster", c,
                           "holds metadata but has refcount 0");
        return false;
    }
    return !shares_byte(q, c);
}

/* The first index in [K, END) of BLOCK whose refcount is 0, or END: the
 * bulk of a scan over clusters in use, without a traced compare each. */
INSTAR_NO_COVERAGE
static uint64_t next_zero_refcount(const uint8_t *block, unsigned rbits, uint64_t k,
                                   uint64_t end)
{
    /* Inline reads (q2_rc_get is traced): a refcount is zero when all its
     * bytes are, or for sub-byte widths when its bits are. */
    size_t w = rbits >= 8 ? rbits / 8 : 0;
    for (; k < end; k++) {
        if (w > 0) {
            const uint8_t *p = block + k * w;
            uint8_t any = 0;
            for (size_t i = 0; i < w; i++)
                any |= p[i];
            if (any == 0)
                break;
        } else {
            uint64_t bit = k * rbits;
            if (((block[bit >> 3] >> (bit & 7)) & ((1u << rbits) - 1)) == 0)
                break;
        }
    }
    return k;
}

/* Past C (inside the file, below LIMIT): the clusters from C on whose
 * original refcount is non-zero, in C's refcount block.  is_free says "in
 * use" for each of them without an error, so q2_alloc can step over them
 * at once; a hostile image can fill whole blocks, and a scan cluster by
 * cluster made each allocation cost ~100 traced compares per cluster.
 * Returns C when it cannot skip. */
static uint64_t skip_used(struct q2 *q, uint64_t c, uint64_t limit)
{
    uint64_t off, base = c & ~(q->rb_entries - 1), end;
    struct q2_rb *rb;
    if (c >= q->file_clusters || q2_reftable_entry(q, c >> q->rb_shift, &off) != INSTAR_OK
        || off == 0 || (rb = q2_find_rb(q, c >> q->rb_shift)) == NULL)
        return c;
    end = base + q->rb_entries;
    if (end > q->file_clusters)
        end = q->file_clusters;
    if (end > limit)
        end = limit;
    if (c >= end)
        return c;
    return base + next_zero_refcount(rb->orig, q->rbits, c - base, end - base);
}

/* The first metadata cluster (header, L1, refcount table, snapshot
 * table) in (C, E), or E: a free span stops before it (is_free refuses
 * it when its refcount is 0). */
static uint64_t metadata_bound(const struct q2 *q, uint64_t c, uint64_t e)
{
    uint64_t l1n = ((uint64_t)q->l1_size * 8 + q->cs - 1) >> q->cluster_bits;
    uint64_t starts[3] = {l1n > 0 ? q->l1_offset >> q->cluster_bits : 0,
                          q->rt_offset >> q->cluster_bits,
                          q->snap_offset ? q->snap_offset >> q->cluster_bits : 0};
    for (size_t i = 0; i < 3; i++)
        if (starts[i] > c && starts[i] < e)
            e = starts[i];
    return e;
}

/* From C (below LIMIT), how many clusters in a row is_free would call
 * free, when that is plain to see: no run among them; inside the file
 * only clusters whose refcount is 0 (no block, or zeros in its staged
 * block) and no header-referenced metadata; for sub-byte refcounts no
 * byte shared with a protected cluster or with a phase-B change.  0 when
 * it cannot say.  Lets q2_alloc count the free clusters of a hostile,
 * huge file by the block, not one by one (each is_free costs dozens of
 * traced compares). */
static uint64_t free_span(struct q2 *q, uint64_t c, uint64_t limit)
{
    uint64_t e = limit, off, bi = c >> q->rb_shift;
    uint64_t base = bi << q->rb_shift, block_end = base + q->rb_entries;
    struct q2_rb *rb;
    if (c >= limit)
        return 0;
    if (c < q->file_clusters) {
        if (q2_reftable_entry(q, bi, &off) != INSTAR_OK)
            return 0;
        if (e > q->file_clusters)
            e = q->file_clusters;
        if (e > block_end)
            e = block_end;
        if (off != 0) {
            /* Zeros in the staged block; a block not staged is a need,
             * which is_free records. */
            if ((rb = q2_find_rb(q, bi)) == NULL)
                return 0;
            e = base + instar_first_set_bit(rb->orig, (c - base) * q->rbits,
                                            (e - base) * q->rbits) / q->rbits;
        }
        e = metadata_bound(q, c, e);
    }
    if (q->rbits < 8) {
        /* Sub-byte refcounts: shares_byte looks at protected clusters in
         * the same byte and at the block's phase-B copy. */
        uint64_t per = 8 / q->rbits, lo = c & ~(per - 1);
        if (e > block_end)
            e = block_end;
        for (size_t i = 0; i < q->nprotect; i++) {
            uint64_t ps = q->protect[i].start, pc = q->protect[i].count;
            uint64_t pl = ps & ~(per - 1);
            if (pc == 0 || ps + pc <= lo)
                continue;
            if (pl <= lo)
                return 0;
            if (pl < e)
                e = pl;
        }
        rb = q2_find_rb(q, bi);
        if (rb && rb->fin) {
            size_t b0 = (size_t)(((c - base) * q->rbits) >> 3);
            size_t b1 = (size_t)(((e - base) * q->rbits + 7) >> 3);
            uint64_t d = base + (uint64_t)instar_first_diff(rb->fin, rb->orig, b0, b1) * per;
            if (d <= c)
                return 0;
            if (d < e)
                e = d;
        }
    }
    for (size_t i = 0; i < q->nruns; i++) {
        const struct q2_run *r = &q->runs[i];
        if (c >= r->start && c - r->start < r->count)
            return 0;
        if (r->start > c && r->start < e)
            e = r->start;
    }
    if (c < q->file_clusters && q2_metadata_in_range(q, c, e))
        return 0;
    return e > c ? e - c : 0;
}

/* The first cluster past every refcount the plan can see (the existing or
 * new table's reach, and every run): all refcounts from there on are 0. */
uint64_t q2_refcount_reach(const struct q2 *q)
{
    uint64_t entries = q->rt_moved && q->new_rt_entries > q->rt_entries
                       ? q->new_rt_entries : q->rt_entries;
    uint64_t reach = entries > (UINT64_MAX >> q->rb_shift) ? UINT64_MAX : entries << q->rb_shift;
    return reach > q->runs_end ? reach : q->runs_end;
}

/* The first cluster from which every cluster is free, so q2_alloc takes
 * them without looking at each. */
static int all_free_from(struct q2 *q, uint64_t *out)
{
    uint64_t free_from = q->file_clusters > q->runs_end ? q->file_clusters : q->runs_end;
    /* Inside a (possibly hostile, huge) file but past the refcount table's
     * reach everything is free too: never count such clusters one by one.
     * Header-referenced metadata out there would have refcount 0. */
    int rc0 = q2_clip_to_reach(q, &free_from);
    if (rc0 != INSTAR_OK)
        return rc0;
    /* Past the file and every run all is free, but for sub-byte refcounts
     * not within the byte of the last cluster in use. */
    if (q->rbits < 8)
        free_from = (free_from + 8 / q->rbits - 1) & ~(uint64_t)(8 / q->rbits - 1);
    *out = free_from;
    return INSTAR_OK;
}

int q2_alloc(struct q2 *q, uint64_t n, enum q2_kind kind, uint64_t first_index,
             uint64_t *start)
{
    uint64_t c = q->cursor, run_start = c, len = 0, limit = QCOW2_MAX_HOST_OFFSET >> q->cluster_bits;
    uint64_t free_from, bytes = 0;
    /* Every run but the L1 and data is written whole from scratch
     * (q2_emit_new_clusters): a plan whose runs alone outgrow the scratch
     * can only end out of scratch, so say so before the search and the
     * refcount walks that would follow (a hostile grow by petabytes had
     * taken 130 ms under the sanitizers to reach the same answer). */
    if (kind != Q2_RUN_L1 && kind != Q2_RUN_DATA
        && (n > (UINT64_MAX >> q->cluster_bits)
            || !instar_add_u64(q->run_bytes, n << q->cluster_bits, &bytes)
            || bytes > q->b.scratch_len))
        return q2_refuse(q, INSTAR_E_SCRATCH_TOO_SMALL, "the new tables and refcount blocks "
                         "alone need more scratch than the plan has");
    int frc = all_free_from(q, &free_from);
    if (frc != INSTAR_OK)
        return frc;
    struct q2_run *prev = q->nruns ? &q->runs[q->nruns - 1] : NULL;

    if (n == 0 || n > limit)
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "an allocation of 0 clusters or past 2^56 bytes");
    while (len < n) {
        int rc;
        if (c >= free_from) {
            if (len == 0)
                run_start = c;
            len = n;
            break;
        }
        uint64_t next = skip_used(q, c, free_from);
        if (next > c) {
            len = 0;
            c = next;
            continue;
        }
        uint64_t span = free_span(q, c, free_from);
        if (span > 0) {
            if (span > n - len)
                span = n - len;
            if (len == 0)
                run_start = c;
            len += span;
            c += span;
            continue;
        }
        if (is_free(q, c, &rc)) {
            if (len++ == 0)
                run_start = c;
        } else {
            if (rc != INSTAR_OK)
                return rc;
            len = 0;
        }
        c++;
    }
    if (run_start > limit - n)
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "new clusters would lie past 2^56 bytes");
    /* Consecutive refcount blocks (or data) extend the previous run. */
    if (prev && prev->kind == kind && prev->start + prev->count == run_start
        && (kind == Q2_RUN_DATA
            || (kind == Q2_RUN_REFBLOCK && prev->first_index + prev->count == first_index))) {
        prev->count += n;
    } else {
        if (q->nruns >= Q2_MAX_RUNS)
            return q2_refuse(q, INSTAR_E_TOO_LARGE, "more than 96 separate allocations");
        q->runs[q->nruns].start = run_start;
        q->runs[q->nruns].count = n;
        q->runs[q->nruns].kind = kind;
        q->runs[q->nruns].first_index = first_index;
        q->runs[q->nruns].scan = 0;
        q->nruns++;
    }
    if (kind != Q2_RUN_L1 && kind != Q2_RUN_DATA)
        q->run_bytes = bytes;
    q->cursor = run_start + n;
    if (q->cursor > q->runs_end)
        q->runs_end = q->cursor;
    *start = run_start;
    return INSTAR_OK;
}

int q2_refblock_cluster(struct q2 *q, uint64_t i, uint64_t *cluster)
{
    uint64_t off;
    int rc;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        if (run->kind == Q2_RUN_REFBLOCK && i >= run->first_index
            && i - run->first_index < run->count) {
            *cluster = run->start + (i - run->first_index);
            return INSTAR_OK;
        }
    }
    rc = q2_reftable_entry(q, i, &off);
    *cluster = off >> q->cluster_bits;
    return rc;
}

/* The end of the new refcount blocks' indices that include I, or I when
 * no new block has index I. */
static uint64_t covered_until(const struct q2 *q, uint64_t i)
{
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        if (run->kind == Q2_RUN_REFBLOCK && i >= run->first_index
            && i - run->first_index < run->count)
            return run->first_index + run->count;
    }
    return i;
}

/* The first reftable index covering an allocated cluster that has no
 * refcount block yet; UINT64_MAX when all are covered.  Coverage only
 * grows while a plan is built, so each run remembers how far it is known
 * covered: the whole cover loop stays linear in the number of blocks
 * (rescanning from the start made big preallocations quadratic). */
static int first_uncovered(struct q2 *q, uint64_t *out, uint64_t *out_last)
{
    *out = UINT64_MAX;
    *out_last = 0;
    for (size_t r = 0; r < q->nruns; r++) {
        struct q2_run *run = &q->runs[r];
        uint64_t first = run->start >> q->rb_shift;
        uint64_t last = (run->start + run->count - 1) >> q->rb_shift;
        uint64_t bi = run->scan > first ? run->scan : first;
        while (bi <= last) {
            uint64_t cl, skip = covered_until(q, bi);
            if (skip > bi) {        /* a whole run of new blocks at once */
                bi = skip;
                continue;
            }
            int rc = q2_refblock_cluster(q, bi, &cl);
            if (rc != INSTAR_OK)
                return rc;
            if (cl == 0)
                break;
            bi++;
        }
        run->scan = bi;
        if (bi <= last && bi < *out) {
            *out = bi;
            *out_last = last;
        }
    }
    return INSTAR_OK;
}

/* A new refcount table big enough for every block the plan can end up
 * with, plus half again (qemu sizes grown tables generously too). */
static int size_new_table(struct q2 *q, uint64_t *clusters)
{
    uint64_t end = q->runs_end > q->file_clusters ? q->runs_end : q->file_clusters;
    uint64_t total = end, blocks = 0, tcl = 0;
    for (int it = 0; it < 64; it++) {
        uint64_t entries, next;
        blocks = instar_div_round_up_u64(total, q->rb_entries);
        entries = blocks + blocks / 2 + 1;
        tcl = instar_div_round_up_u64(entries * 8, q->cs);
        if (tcl < q->rt_clusters)
            tcl = q->rt_clusters;
        next = end + tcl + blocks;      /* every block new: an upper bound */
        if (instar_div_round_up_u64(next, q->rb_entries) <= blocks)
            break;
        total = next;
    }
    if (tcl * q->cs > QCOW2_MAX_REFTABLE_BYTES)
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "the new refcount table would pass 8 MiB");
    *clusters = tcl;
    return INSTAR_OK;
}

/* How many refcount blocks, from index BI (the lowest uncovered one, in a
 * run whose blocks end at LAST), one q2_alloc can place exactly as one
 * allocation per block would: every index from BI on is uncovered (past
 * the old table and every new block), the blocks land at cursor, cursor
 * + 1, ... (everything is free from the cursor on, or q2_alloc would find
 * each of those clusters free: sub-byte refcounts make free_from round
 * up to a byte and may share a byte with a protected cluster), and no new
 * block lies in a block below the last one taken (it would be the next
 * lowest uncovered index).  At least 1. */
static uint64_t batch_blocks(struct q2 *q, uint64_t bi, uint64_t last, uint64_t cap)
{
    uint64_t free_from, n, top = q->cursor >> q->rb_shift;
    if (bi < q->rt_entries || all_free_from(q, &free_from) != INSTAR_OK || top <= bi)
        return 1;
    if (q->cursor < free_from && q->rbits >= 8)
        return 1;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        if (run->kind == Q2_RUN_REFBLOCK && run->first_index + run->count > bi)
            return 1;
    }
    if (last > top)
        last = top;
    if (last >= cap)
        last = cap - 1;
    n = last - bi + 1;
    if (q->rbits < 8) {
        /* Each block after the first lands below the rounded free_from. */
        uint64_t span = free_span(q, q->cursor, q->cursor + n);
        if (span < n)
            n = span;
    }
    return n > 0 ? n : 1;
}

int q2_cover_refcounts(struct q2 *q)
{
    /* The guard counts blocks (and table moves), as when every block was
     * one iteration: a batch changes the work, never the answer. */
    for (uint64_t guard = 0; guard < (1u << 22);) {
        uint64_t bi, last, cap, at, n;
        int rc = first_uncovered(q, &bi, &last);
        if (rc != INSTAR_OK)
            return rc;
        if (bi == UINT64_MAX)
            return INSTAR_OK;
        cap = q->rt_moved ? q->new_rt_entries : q->rt_entries;
        if (bi >= cap) {
            uint64_t tcl = 0;
            if (q->rt_moved)
                return q2_refuse(q, INSTAR_E_TOO_LARGE, "the new refcount table is too small");
            rc = size_new_table(q, &tcl);
            if (rc == INSTAR_OK)
                rc = q2_alloc(q, tcl, Q2_RUN_REFTABLE, 0, &at);
            if (rc != INSTAR_OK)
                return rc;
            q->rt_moved = true;
            q->new_rt_cluster = at;
            q->new_rt_entries = tcl * q->cs / 8;
            guard++;
            continue;
        }
        n = batch_blocks(q, bi, last, cap);
        if (n > (1u << 22) - guard) {
            /* One block per iteration would stop at the guard: the same
             * blocks up to it, then the same error. */
            n = (1u << 22) - guard;
            rc = q2_alloc(q, n, Q2_RUN_REFBLOCK, bi, &at);
            return rc != INSTAR_OK ? rc : INSTAR_E_TOO_LARGE;
        }
        rc = q2_alloc(q, n, Q2_RUN_REFBLOCK, bi, &at);
        if (rc != INSTAR_OK)
            return rc;
        guard += n;
    }
    return q2_refuse(q, INSTAR_E_TOO_LARGE, "more than 4 Mi new refcount blocks");
}
