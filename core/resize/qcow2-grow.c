/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-grow.c -- growing a qcow2 image, with or without preallocation.
 *
 * As qemu 7.2: only the header's size changes while the L1 table covers
 * the new size; otherwise the L1 grows to exactly size_to_l1(new) entries
 * (never 1.5x) in newly allocated clusters, and the old L1 is released
 * after the commit.  Preallocation (metadata/falloc/full) also allocates
 * the data clusters of the new range, including the partly used last old
 * cluster, as one contiguous run, and links them in L2 tables. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"
#include "util/nocov.h"

struct grow {
    uint64_t new_l1;            /* entries */
    bool l1_grows;
    uint64_t l1_cluster;        /* new L1 (when it grows) */
    /* Preallocation. */
    bool prealloc;
    uint64_t g0, g1;            /* guest clusters [g0, g1) to back */
    uint64_t i0, i1;            /* L1 indices [i0, i1] */
    uint64_t n_tables, n_data;
    uint64_t n_cow;             /* of the new tables, copies of shared ones */
    uint64_t l2_start, data_start;
    struct q2_zero z;           /* a grow over a longer backing file */
};

/* Does guest cluster G (in an existing L2 table) still need a data cluster? */
static bool needs_data(const struct q2 *q, const uint8_t *l2, uint64_t g)
{
    uint64_t e = instar_be64(l2 + (g & (q->l2_entries - 1)) * q->l2_esize);
    if (e & QCOW2_OFLAG_COMPRESSED)
        return false;           /* keeps its compressed data */
    return (e & QCOW2_OFFSET_MASK) == 0;
}

/* Without preallocation, does guest cluster X get a data cluster?  Only
 * the old end's cluster, copied from the backing file. */
static bool cow_links(const struct grow *g, uint64_t x)
{
    return !g->prealloc && g->z.cow_new && x == g->z.cx;
}

static uint64_t first_g(const struct q2 *q, const struct grow *g, uint64_t i)
{
    uint64_t s = i << q->l2_shift;
    return s > g->g0 ? s : g->g0;
}

static uint64_t end_g(const struct q2 *q, const struct grow *g, uint64_t i)
{
    uint64_t e = (i + 1) << q->l2_shift;
    return e < g->g1 ? e : g->g1;
}

static int l2_of(struct q2 *q, uint64_t i, uint64_t *off)
{
    return q2_entry_offset(q, q2_l1_entry(q, i), off);
}

/* A table a snapshot shares (no COPIED flag) is copied before entries are
 * linked into it, as qemu does: the snapshot keeps the old one. */
static bool shared(const struct q2 *q, uint64_t i)
{
    return !(q2_l1_entry(q, i) & QCOW2_OFLAG_COPIED);
}

/* Count the new L2 tables (also copies) and data clusters; ask for the
 * existing L2 tables of the range. */
static int prealloc_count(struct q2 *q, struct grow *g)
{
    int result = INSTAR_OK;
    /* Without preallocation only the entries that become zero change,
     * and the old end's cluster when it is copied from the backing file. */
    g->g0 = g->prealloc ? q->old_size >> q->cluster_bits : g->z.zero ? g->z.first : UINT64_MAX;
    g->g1 = g->prealloc || g->z.zero ? instar_div_round_up_u64(q->new_size, q->cs) : 0;
    if (g->z.cow && !g->prealloc) {
        g->g0 = g->z.cx < g->g0 ? g->z.cx : g->g0;
        g->g1 = g->z.cx + 1 > g->g1 ? g->z.cx + 1 : g->g1;
    }
    g->i0 = g->g0 >> q->l2_shift;
    g->i1 = (g->g1 - 1) >> q->l2_shift;
    /* Past the current L1 every entry is 0: each index there is a new
     * table backing its whole span, so they are counted at once (a grow to
     * 2^56 bytes spans millions of indices).  I0 always takes the loop,
     * for its backing-file check. */
    uint64_t tail = q->l1_size > g->i0 + 1 ? q->l1_size : g->i0 + 1;
    uint64_t stop = tail <= g->i1 ? tail - 1 : g->i1;
    if (tail <= g->i1) {
        g->n_tables += g->i1 - tail + 1;
        if (g->prealloc)
            g->n_data += g->g1 - (tail << q->l2_shift);
    }
    for (uint64_t i = g->i0; i <= stop; i++) {
        uint64_t off;
        const uint8_t *l2;
        int rc = l2_of(q, i, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off == 0) {
            g->n_tables++;
            if (g->prealloc)
                g->n_data += end_g(q, g, i) - first_g(q, g, i);
            else if (g->z.cow_new && g->z.cx >= first_g(q, g, i) && g->z.cx < end_g(q, g, i))
                g->n_data++;
            continue;
        }
        l2 = q2_find_l2(q, i);
        if (l2 == NULL) {
            instar_builder_need(&q->b, INSTAR_NEED_L2, i, q->cs);
            result = INSTAR_E_NOT_STAGED;
            continue;
        }
        if (shared(q, i)) {
            g->n_tables++;
            g->n_cow++;
        }
        for (uint64_t x = first_g(q, g, i); x < end_g(q, g, i); x++) {
            int zrc = q2_zero_check(q, &g->z, x,
                                    l2 + (x & (q->l2_entries - 1)) * q->l2_esize);
            if (zrc != INSTAR_OK)
                return zrc;
            if (g->prealloc)
                g->n_data += needs_data(q, l2, x);
            else
                g->n_data += cow_links(g, x);
        }
    }
    return result;
}

/* qemu 7.2 puts falloc/full data right after the last cluster in use
 * and new refcount structures (qcow2_refcount_area, exact size), then
 * truncates the file to the end of that data with the same mode; when
 * that end lies before the end of the file (a long, e.g. sparse, tail)
 * the file driver refuses: "Cannot use preallocation for shrinking
 * files".  Refuse the same grows, before anything is written. */
static int qemu_prealloc_fits(struct q2 *q)
{
    uint64_t last, s, data, extra, clusters, blocks = 0, table = 0, n = 0, prev;
    uint64_t per_table = q->cs / 8, missing = 0, end;
    int rc;
    if (q->o->req.prealloc != INSTAR_PREALLOC_FALLOC && q->o->req.prealloc != INSTAR_PREALLOC_FULL)
        return INSTAR_OK;
    rc = q2_last_used(q, q->file_clusters > q->runs_end ? q->file_clusters : q->runs_end,
                      &last);
    if (rc != INSTAR_OK)
        return rc;
    s = last + 1;
    data = (instar_div_round_up_u64(q->new_size, q->cs) * q->cs
            - (q->old_size & ~(q->cs - 1))) >> q->cluster_bits;
    extra = instar_div_round_up_u64(data, q->cs / q->l2_esize) + 1;
    /* qcow2_refcount_metadata_size: blocks and table as a fixed point. */
    clusters = s + data + extra;
    for (int it = 0; it < 64; it++) {
        prev = n;
        blocks = instar_div_round_up_u64(clusters + table + blocks, q->rb_entries);
        table = instar_div_round_up_u64(blocks, per_table);
        n = clusters + blocks + table;
        if (n == prev)
            break;
    }
    /* Missing blocks from the one covering S on go at S, then the table. */
    for (uint64_t i = s >> q->rb_shift; i < blocks; i++) {
        uint64_t off = 0;
        if (i < q->rt_entries && (rc = q2_reftable_entry(q, i, &off)) != INSTAR_OK)
            return rc;
        missing += off == 0;
    }
    end = (s + missing + instar_div_round_up_u64(blocks, per_table) + data) << q->cluster_bits;
    return end < q->file_size
        ? q2_refuse(q, INSTAR_E_PREALLOC_NOT_GROW, "the preallocated image would end before "
                    "the current end of the file")
        : INSTAR_OK;
}

/* Link guest clusters [X0, X1) of a fresh table T to consecutive data
 * clusters from NEXT: one pass with nothing to decide per entry. */
INSTAR_NO_COVERAGE
static void put_l2_run(const struct q2 *q, uint8_t *t, uint64_t x0, uint64_t x1, uint64_t next)
{
    /* Extended L2: the subcluster bitmap stays 0 for preallocated
     * clusters, as qemu leaves it. */
    uint8_t *p = t + (x0 & (q->l2_entries - 1)) * q->l2_esize;
    if (q->l2_esize == 16) {
        for (uint64_t x = x0; x < x1; x++, next++, p += 16) {
            instar_put_be64(p, (next << q->cluster_bits) | QCOW2_OFLAG_COPIED);
            instar_put_be64(p + 8, 0);
        }
        return;
    }
    for (uint64_t x = x0; x < x1; x++, next++, p += 8)
        instar_put_be64(p, (next << q->cluster_bits) | QCOW2_OFLAG_COPIED);
}

/* Walk the range in guest order, handing out data clusters in sequence:
 * into the new tables and copies (NEW_TABLES != NULL) or into the
 * existing private tables (EXISTING: emitted as writes). */
static int prealloc_walk(struct q2 *q, struct grow *g, uint8_t *new_tables, bool existing)
{
    uint64_t next = g->data_start, ordinal = 0;
    for (uint64_t i = g->i0; i <= g->i1; i++) {
        uint64_t off;
        const uint8_t *l2;
        uint8_t *copy = NULL, *t = NULL;
        uint64_t lo = UINT64_MAX, hi = 0;
        int rc = l2_of(q, i, &off);
        if (rc != INSTAR_OK)
            return rc;
        if (off == 0 || shared(q, i)) {
            t = new_tables ? new_tables + (ordinal << q->cluster_bits) : NULL;
            ordinal++;
        }
        uint64_t x0 = first_g(q, g, i), x1 = end_g(q, g, i);
        bool zeroing = g->z.zero || g->z.zpart || g->z.alloc_all || g->z.cow_bit;
        if (off == 0) {
            if (t && !zeroing && g->prealloc)
                put_l2_run(q, t, x0, x1, next);
            else if (t) {
                static const uint8_t fresh[16];
                /* Without preallocation every entry from the zeroed
                 * range on reads as zeros.  The copied cluster (the old
                 * end's, cut mid-cluster) lies below it: zc rounds up. */
                uint64_t split = x1;
                if (!g->prealloc && g->z.zero)
                    split = g->z.zc < x0 ? x0 : g->z.zc < x1 ? g->z.zc : x1;
                for (uint64_t x = x0; x < split; x++) {
                    uint64_t host = g->prealloc ? next + (x - x0) : cow_links(g, x) ? next : 0;
                    (void)q2_zero_entry(q, &g->z, x, host, fresh,
                                        t + (x & (q->l2_entries - 1)) * q->l2_esize);
                }
                q2_zero_fill_fresh(q, t, split, x1);
            }
            if (g->prealloc)
                next += x1 - x0;
            else if (g->z.cow_new && g->z.cx >= x0 && g->z.cx < x1)
                next++;
            continue;
        }
        l2 = q2_find_l2(q, i);
        if (t)
            memcpy(t, l2, q->cs);
        for (uint64_t x = x0; x < x1; x++) {
            uint64_t slot = x & (q->l2_entries - 1), host = 0;
            uint8_t e[16];
            if (g->prealloc ? needs_data(q, l2, x) : cow_links(g, x))
                host = next++;
            if (host == 0 && !zeroing)
                continue;
            if (!q2_zero_entry(q, &g->z, x, host, l2 + slot * q->l2_esize, e))
                continue;
            if (t) {
                memcpy(t + slot * q->l2_esize, e, q->l2_esize);
            } else if (existing && !shared(q, i)) {
                if (copy == NULL) {
                    copy = instar_builder_alloc(&q->b, q->cs);
                    if (copy == NULL)
                        return q->b.err;
                    memcpy(copy, l2, q->cs);
                }
                memcpy(copy + slot * q->l2_esize, e, q->l2_esize);
                if (lo == UINT64_MAX)
                    lo = slot;
                hi = slot;
            }
        }
        if (copy)
            instar_builder_write(&q->b, off + lo * q->l2_esize, copy + lo * q->l2_esize,
                                 (hi - lo + 1) * q->l2_esize);
    }
    return q->b.err;
}

static void fill_l2(struct q2 *q, const struct q2_run *run, uint8_t *buf)
{
    (void)run;
    (void)prealloc_walk(q, q->op, buf, false);
}

static bool gets_new_table(struct q2 *q, uint64_t i)
{
    uint64_t off;
    return l2_of(q, i, &off) == INSTAR_OK && (off == 0 || shared(q, i));
}

/* L1 entries [FROM, TO] pointing to consecutive new tables from TABLE:
 * nothing to decide per entry. */
INSTAR_NO_COVERAGE
static void put_l1_run(const struct q2 *q, uint8_t *l1, uint64_t from, uint64_t to,
                       uint64_t base_index, uint64_t table)
{
    for (uint64_t i = from; i <= to; i++, table++)
        instar_put_be64(l1 + (i - base_index) * 8, (table << q->cluster_bits) | QCOW2_OFLAG_COPIED);
}

/* The L1 entries of the new tables, in order. */
static void put_l1_entries(struct q2 *q, struct grow *g, uint8_t *l1, uint64_t base_index)
{
    uint64_t ordinal = 0, i = g->i0;
    /* Past the current L1 every index gets a new table (its entry reads
     * as 0): a grow to a huge size writes millions of them. */
    for (; i <= g->i1 && i < q->l1_size; i++) {
        if (!gets_new_table(q, i))
            continue;
        instar_put_be64(l1 + (i - base_index) * 8,
                        ((g->l2_start + ordinal) << q->cluster_bits) | QCOW2_OFLAG_COPIED);
        ordinal++;
    }
    if (i <= g->i1)
        put_l1_run(q, l1, i, g->i1, base_index, g->l2_start + ordinal);
}

/* Phase B: the copied tables lose the active image's reference. */
static int release_copied(struct q2 *q, struct grow *g)
{
    for (uint64_t i = g->i0; i <= g->i1 && g->n_cow > 0; i++) {
        uint64_t off;
        int rc = l2_of(q, i, &off);
        if (rc == INSTAR_OK && off != 0 && shared(q, i))
            rc = q2_rc_decrement(q, off >> q->cluster_bits, 1);
        if (rc != INSTAR_OK)
            return rc;
    }
    return INSTAR_OK;
}

/* Links of new data and tables into live tables: existing private L2
 * tables, and the live L1 when it does not move. */
static int emit_links(struct q2 *q, struct grow *gp)
{
    struct grow g = *gp;
    int rc = INSTAR_OK;
    if (g.n_data > 0 || g.z.zero || g.z.zpart || g.z.hfix || g.z.cow_bit)
        rc = prealloc_walk(q, gp, NULL, true);      /* links into existing tables */
    if (rc == INSTAR_OK && !g.l1_grows && g.n_tables > 0) {
        /* New tables hooked into the live L1: entries [lo, hi]. */
        uint64_t lo = UINT64_MAX, hi = 0;
        uint8_t *img;
        for (uint64_t i = g.i0; i <= g.i1; i++) {
            if (gets_new_table(q, i)) {
                if (lo == UINT64_MAX)
                    lo = i;
                hi = i;
            }
        }
        img = instar_builder_alloc(&q->b, (hi - lo + 1) * 8);
        if (img == NULL)
            return q->b.err;
        memcpy(img, q->o->l1.data + lo * 8, (hi - lo + 1) * 8);
        put_l1_entries(q, &g, img, lo);
        instar_builder_write(&q->b, q->l1_offset + lo * 8, img, (hi - lo + 1) * 8);
    }
    return rc;
}

/* falloc/full: qemu's data range starts at the old end's cluster, which
 * it moves to a new preallocated cluster even when it is allocated
 * already (e.g. by a metadata preallocation, never written): its space is
 * then reserved.  Here the cluster stays; the host reserves it in place. */
static void prealloc_head(struct q2 *q)
{
    uint64_t h = q->old_size >> q->cluster_bits, host, keep = q->old_size & (q->cs - 1);
    const uint8_t *l2 = q2_find_l2(q, h >> q->l2_shift);
    uint64_t e, end = q->b.plan->total_file_size;
    if ((q->o->req.prealloc != INSTAR_PREALLOC_FALLOC && q->o->req.prealloc != INSTAR_PREALLOC_FULL)
        || keep == 0 || l2 == NULL)
        return;
    e = instar_be64(l2 + (h & (q->l2_entries - 1)) * q->l2_esize);
    /* Compressed or shared clusters are not written in place. */
    if ((e & QCOW2_OFLAG_COMPRESSED) || !(e & QCOW2_OFLAG_COPIED)
        || q2_entry_offset(q, e, &host) != INSTAR_OK || host == 0 || host >= end)
        return;
    q->b.plan->prealloc_head_offset = host;
    q->b.plan->prealloc_head_length = end - host < q->cs ? end - host : q->cs;
    q->b.plan->prealloc_head_keep = keep;
}

int q2_grow(struct q2 *q)
{
    struct grow g;
    const uint8_t *l1_image = q->o->l1.data;
    uint64_t l1_image_len = (uint64_t)q->l1_size * 8, end;
    uint64_t old_l1_clusters = instar_div_round_up_u64((uint64_t)q->l1_size * 8, q->cs);
    int rc;

    memset(&g, 0, sizeof g);
    q->op = &g;
    q->fill_l2 = fill_l2;
    g.new_l1 = q2_size_to_l1(q, q->new_size);
    g.l1_grows = g.new_l1 > q->l1_size;
    g.prealloc = q->o->req.prealloc != INSTAR_PREALLOC_OFF;
    q2_protect(q, q->rt_offset >> q->cluster_bits, q->rt_clusters);
    if ((rc = q2_zero_setup(q, &g.z)) != INSTAR_OK)
        return rc;

    if (!g.l1_grows && !g.prealloc && !g.z.zero && !g.z.cow && q->nbm == 0) {
        q2_zero_emit_head(q, &g.z);
        return q2_emit_header(q, false, 0, 0);      /* the L1 covers it already */
    }
    if ((rc = q2_bitmaps_release(q)) != INSTAR_OK)
        return rc;

    if (g.prealloc || g.z.zero || g.z.cow) {
        rc = prealloc_count(q, &g);
        if (rc == INSTAR_OK)
            rc = release_copied(q, &g);
        if (rc != INSTAR_OK)
            return rc;
    }
    if (g.l1_grows) {
        if (q->l1_size > 0) {
            q2_protect(q, q->l1_offset >> q->cluster_bits, old_l1_clusters);
            rc = q2_rc_decrement(q, q->l1_offset >> q->cluster_bits, old_l1_clusters);
            if (rc != INSTAR_OK)
                return rc;
        }
        q->op_l1_bytes = g.new_l1 * 8;
        rc = q2_alloc(q, instar_div_round_up_u64(g.new_l1 * 8, q->cs), Q2_RUN_L1, 0,
                      &g.l1_cluster);
        if (rc != INSTAR_OK)
            return rc;
    }
    /* qemu grows the L1 (and frees the old one) before it looks for the
     * last cluster in use: after the L1, before anything else. */
    if (g.prealloc && (rc = qemu_prealloc_fits(q)) != INSTAR_OK)
        return rc;
    if (g.n_tables > 0 && (rc = q2_alloc(q, g.n_tables, Q2_RUN_L2, 0, &g.l2_start)) != INSTAR_OK)
        return rc;
    if (g.n_data > 0 && (rc = q2_alloc(q, g.n_data, Q2_RUN_DATA, 0, &g.data_start)) != INSTAR_OK)
        return rc;
    if ((rc = q2_bitmaps_alloc(q)) != INSTAR_OK)
        return rc;
    if (q->compact) {
        /* A shared table copied into the live L1 would be referenced twice
         * between the commit and its link: not with rewritten refcounts. */
        if (g.n_cow > 0 && !g.l1_grows)
            return q2_refuse(q, INSTAR_E_SNAPSHOTS, "an L2 table shared with a snapshot "
                             "and refcounts to rewrite");
        rc = q2_compact_plan(q);
    } else {
        rc = q2_cover_refcounts(q);
        if (rc == INSTAR_OK && q->rt_moved)
            rc = q2_rc_decrement(q, q->rt_offset >> q->cluster_bits, q->rt_clusters);
        if (rc == INSTAR_OK)
            rc = q2_build_phase_a(q);
    }
    if (rc != INSTAR_OK)
        return rc;

    /* The new L1: old entries (plus the new tables' entries when
     * preallocating), the rest zero-filled rather than carried in scratch. */
    if (g.l1_grows && g.n_tables > 0) {
        uint64_t hi = g.i1 + 1 > q->l1_size ? g.i1 + 1 : q->l1_size;
        uint8_t *img = instar_builder_alloc(&q->b, hi * 8);
        if (img == NULL)
            return q->b.err;
        if (q->l1_size > 0)
            memcpy(img, q->o->l1.data, (size_t)q->l1_size * 8);
        put_l1_entries(q, &g, img, 0);
        l1_image = img;
        l1_image_len = hi * 8;
    }

    /* File end: the new structures start at cluster boundaries; an L1 that
     * ends the file leaves it mid-cluster, as qemu's exact-length write. */
    end = q->file_size;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        uint64_t e = run->kind == Q2_RUN_L1 ? (run->start << q->cluster_bits) + q->op_l1_bytes
                                            : (run->start + run->count) << q->cluster_bits;
        if (e > end)
            end = e;
    }
    /* A copy into a host cluster the file does not hold in full yet
     * (qemu writes only up to what it uses) extends it. */
    uint64_t cow_at = g.z.cow_new ? g.data_start << q->cluster_bits : g.z.cow_host;
    if (g.z.cow && cow_at + g.z.cow_end > end)
        end = cow_at + g.z.cow_end;
    q->b.plan->total_file_size = end;

    /* Prepare.  Data clusters are never written by the plan: when they end
     * the file, one byte extends it first, so no entry ever points past
     * the end of the file, even after a crash. */
    bool cow_ends_file = g.z.cow && cow_at + g.z.cow_end == end;
    if (g.n_data > 0 && (g.data_start + g.n_data) << q->cluster_bits == end && end > q->file_size
        && !cow_ends_file) {
        uint8_t *z = instar_builder_alloc(&q->b, 1);
        if (z == NULL)
            return q->b.err;
        instar_builder_write(&q->b, end - 1, z, 1);
    }
    q2_zero_emit_head(q, &g.z);
    /* The copied bytes are on disk (a barrier follows every patch) before
     * an entry points at them. */
    rc = q2_zero_emit_cow(q, &g.z, cow_at);
    if (rc == INSTAR_OK)
        rc = q2_emit_new_clusters(q, l1_image, l1_image_len);
    if (rc == INSTAR_OK && !q->compact)
        rc = q2_emit_refblock_phase(q, false);
    if (rc == INSTAR_OK && !q->compact)
        rc = q2_emit_reftable_hooks(q);
    if (rc == INSTAR_OK && !q->compact)
        rc = emit_links(q, &g);
    if (rc != INSTAR_OK)
        return rc;

    /* Commit, then release the old L1 / refcount table.  With rewritten
     * refcounts the commit releases them; links into live tables follow
     * it (their targets are counted only from the commit on). */
    rc = q2_emit_header(q, g.l1_grows, (uint32_t)g.new_l1, g.l1_cluster << q->cluster_bits);
    if (rc == INSTAR_OK)
        rc = q->compact ? emit_links(q, &g) : q2_emit_refblock_phase(q, true);
    if (rc == INSTAR_OK && g.prealloc && g.n_data > 0
        && q->o->req.prealloc != INSTAR_PREALLOC_METADATA) {
        q->b.plan->prealloc_offset = g.data_start << q->cluster_bits;
        q->b.plan->prealloc_length = g.n_data << q->cluster_bits;
        if (g.z.cow_new) {
            /* The first data cluster holds the copied bytes: only the
             * rest of it is preallocated as zeros. */
            q->b.plan->prealloc_offset += q->cs;
            q->b.plan->prealloc_length -= q->cs;
            q->b.plan->prealloc_head_offset = cow_at;
            q->b.plan->prealloc_head_length = end - cow_at < q->cs ? end - cow_at : q->cs;
            q->b.plan->prealloc_head_keep = g.z.cow_end;
            return rc;
        }
    }
    if (rc == INSTAR_OK)
        prealloc_head(q);
    return rc;
}
