/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-zero.c -- a grow over a longer backing file.
 *
 * qemu 7.2 asks for the new range to read as zeros when the backing file
 * is longer than the old size (BDRV_REQ_ZERO_WRITE), else the guest would
 * see the backing file's bytes there.  Measured on qemu-img 7.2:
 *   - off / metadata: the clusters from the old size rounded up to a
 *     subcluster become zero clusters: the zero flag (bit 0) on compat 1.1,
 *     the subcluster bitmap "all zeroes" with extended L2 (L2 tables are
 *     allocated for it; preallocated links keep their host offset); a
 *     partly covered extended-L2 cluster gets the zero bits of its
 *     remaining subclusters.  compat 0.10 has no zero flag: qemu fails
 *     with "Failed to zero out new clusters: Operation not supported"
 *     (the engine refuses that, file untouched).
 *   - the head, old size up to that boundary, is written with zeros: in
 *     place when it is allocated data, nothing to do when it reads zeros
 *     already; when it reads from the backing file qemu copies the
 *     cluster from there first, which is not done here (refused).
 *   - falloc / full: the file itself reads zeros there, so qemu links the
 *     new data clusters as written: with extended L2 every subcluster is
 *     marked allocated (not left to the backing file).  qemu moves the old
 *     end's cluster to a new one too, copying what lies before the old
 *     size; past it the new cluster reads zeros.  Here an allocated cluster
 *     stays where it is and its bytes past the old size are zeroed (and,
 *     with extended L2, those subclusters marked allocated): the same
 *     guest data. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"
#include "util/nocov.h"

#define Q2_BITMAP_ALL_ZEROES 0xffffffff00000000ull
#define Q2_BITMAP_ALL_ALLOC 0x00000000ffffffffull

/* Guest cluster H's L2 entry (and extended-L2 bitmap) into *E, *BM;
 * *HAS_TABLE false when no L2 table covers it. */
static int entry_of(struct q2 *q, uint64_t h, bool *has_table, uint64_t *e, uint64_t *bm)
{
    uint64_t i = h >> q->l2_shift, l2off;
    const uint8_t *l2, *p;
    int rc = q2_entry_offset(q, q2_l1_entry(q, i), &l2off);
    *has_table = false;
    *e = *bm = 0;
    if (rc != INSTAR_OK || l2off == 0)
        return rc;
    l2 = q2_find_l2(q, i);
    if (l2 == NULL) {
        instar_builder_need(&q->b, INSTAR_NEED_L2, i, q->cs);
        return INSTAR_E_NOT_STAGED;
    }
    p = l2 + (h & (q->l2_entries - 1)) * q->l2_esize;
    *has_table = true;
    *e = instar_be64(p);
    if (q->extl2)
        *bm = instar_be64(p + 8);
    return INSTAR_OK;
}

/* Copy-on-write of the old end's cluster X: guest bytes [LO, old) of it
 * come from the backing file, [old, END) become zeros (in-cluster
 * offsets), into a new data cluster (HOST 0) or into HOST.  Refused when
 * the backing file's bytes were not read. */
static int cow(struct q2 *q, struct q2_zero *z, uint64_t x, uint64_t lo, uint64_t end,
               uint64_t host, uint64_t bm)
{
    uint64_t keep = q->old_size & (q->cs - 1);
    if (q->o->backing_head.data == NULL || q->o->backing_head.len < keep)
        return q2_refuse(q, INSTAR_E_UNSUPPORTED_PREALLOC, "the backing file's data in "
                         "the old end's cluster is not staged");
    z->cow = true;
    z->cow_new = host == 0;
    z->cow_host = host;
    z->cx = x;
    z->cow_lo = lo;
    z->cow_keep = keep;
    z->cow_end = end;
    z->cow_bm = bm;
    return INSTAR_OK;
}

/* The old end's cluster: what the zeros written over [OLD, END) need. */
static int head(struct q2 *q, struct q2_zero *z, uint64_t old, uint64_t end)
{
    uint64_t e, bm, host;
    uint64_t sub = q->extl2 ? q->cs >> 5 : q->cs, h = old >> q->cluster_bits;
    unsigned sc = (unsigned)((old & (q->cs - 1)) / sub);
    bool has_table;
    int rc = entry_of(q, h, &has_table, &e, &bm);
    if (rc != INSTAR_OK)
        return rc;
    if (has_table && (e & QCOW2_OFLAG_COMPRESSED))
        return INSTAR_E_UNSUPPORTED_PREALLOC;
    if (has_table && (q->extl2 ? (bm >> (32 + sc)) & 1
                               : (q->version >= 3 && (e & QCOW2_OFLAG_ZERO))))
        return INSTAR_OK;                           /* reads zeros already */
    host = e & QCOW2_OFFSET_MASK;
    if (host != 0 && !(e & QCOW2_OFLAG_COPIED))
        return INSTAR_E_UNSUPPORTED_PREALLOC;       /* a snapshot shares it: qemu copies */
    if (host != 0 && (rc = q2_entry_offset(q, e, &host)) != INSTAR_OK)
        return rc;
    if (host == 0 || (q->extl2 && !((bm >> sc) & 1))) {
        /* It reads from the backing file: qemu copies the (sub)cluster
         * first, then writes the zeros; with extended L2 only subcluster
         * SC becomes allocated. */
        z->cow_bit = q->extl2;
        z->csc = sc;
        return cow(q, z, h, (uint64_t)sc * sub, (uint64_t)(sc + 1) * sub, host, bm);
    }
    z->head_off = host + (old & (q->cs - 1));
    z->head_len = end - old;
    /* Bytes past the end of the file read as zeros already. */
    if (z->head_off >= q->file_size)
        z->head_len = 0;
    else if (z->head_len > q->file_size - z->head_off)
        z->head_len = q->file_size - z->head_off;
    return INSTAR_OK;
}

/* falloc/full: the old end's cluster.  The preallocation links a new
 * cluster when it is unallocated: what it showed of the backing file is
 * copied there (its subclusters all become allocated); an allocated one
 * stays, its bytes past the old size zeroed. */
static int falloc_head(struct q2 *q, struct q2_zero *z, uint64_t old)
{
    uint64_t h = old >> q->cluster_bits, e, bm, host, keep = old & (q->cs - 1);
    uint64_t sub = q->cs >> 5;
    bool has_table;
    int rc = entry_of(q, h, &has_table, &e, &bm);
    if (rc != INSTAR_OK)
        return rc;
    if (!has_table)
        return cow(q, z, h, 0, keep, 0, 0);
    if (e & QCOW2_OFLAG_COMPRESSED)
        return INSTAR_E_UNSUPPORTED_PREALLOC;
    if ((e & QCOW2_OFFSET_MASK) == 0) {
        if (!q->extl2 && q->version >= 3 && (e & QCOW2_OFLAG_ZERO))
            return INSTAR_OK;   /* reads zeros: so does the new cluster */
        return cow(q, z, h, 0, keep, 0, bm);
    }
    if (!(e & QCOW2_OFLAG_COPIED))
        return INSTAR_E_UNSUPPORTED_PREALLOC;
    if ((rc = q2_entry_offset(q, e, &host)) != INSTAR_OK)
        return rc;
    if (q->extl2) {
        /* qemu moves the cluster to a new one, every subcluster allocated:
         * here it stays, and the subclusters before the old end that are
         * not allocated get what they read (the backing file's bytes, or
         * zeros) before they become allocated. */
        uint64_t below = instar_div_round_up_u64(keep, sub);
        uint64_t unalloc = ~bm & ((1ull << below) - 1);
        if (unalloc != 0 && (rc = cow(q, z, h, 0, keep, host, bm)) != INSTAR_OK)
            return rc;
        z->hfix = true;
        z->hx = h;
        z->hsc = 0;
    }
    z->head_off = host + keep;
    z->head_len = q->cs - keep;
    if (z->head_off >= q->file_size)
        z->head_len = 0;
    else if (z->head_len > q->file_size - z->head_off)
        z->head_len = q->file_size - z->head_off;
    return INSTAR_OK;
}

/* A preallocation that is not over a longer backing file: with standard
 * L2 entries the new cluster linked for the old end's cluster holds what
 * the backing file showed there (qemu copies it); extended L2 entries keep
 * showing it (qemu leaves the subclusters unallocated). */
static int prealloc_head_cow(struct q2 *q, struct q2_zero *z)
{
    uint64_t h = q->old_size >> q->cluster_bits, e, bm;
    bool has_table;
    int rc;
    if (q->o->req.prealloc == INSTAR_PREALLOC_OFF || !q->has_backing || q->extl2
        || (q->old_size & (q->cs - 1)) == 0)
        return INSTAR_OK;
    if ((rc = entry_of(q, h, &has_table, &e, &bm)) != INSTAR_OK)
        return rc;
    if (has_table && ((e & QCOW2_OFFSET_MASK) || (e & QCOW2_OFLAG_COMPRESSED)
                      || (q->version >= 3 && (e & QCOW2_OFLAG_ZERO))))
        return INSTAR_OK;       /* its own data, or zeros */
    return cow(q, z, h, 0, q->old_size & (q->cs - 1), 0, 0);
}

int q2_zero_setup(struct q2 *q, struct q2_zero *z)
{
    uint64_t old = q->old_size, sub = q->extl2 ? q->cs >> 5 : q->cs, zs;
    enum instar_prealloc mode = q->o->req.prealloc;
    memset(z, 0, sizeof *z);
    if (q->new_size <= old)
        return INSTAR_OK;
    if (!q->o->zero_grow)
        return prealloc_head_cow(q, z);
    if (mode == INSTAR_PREALLOC_FALLOC || mode == INSTAR_PREALLOC_FULL) {
        z->alloc_all = q->extl2;
        return old & (q->cs - 1) ? falloc_head(q, z, old) : INSTAR_OK;
    }
    zs = instar_div_round_up_u64(old, sub) * sub;
    if (q->new_size > zs) {
        if (q->version < 3)
            return INSTAR_OK;   /* no zero flag: the engine refuses (qemu fails) */
        z->zero = true;
        z->zc = instar_div_round_up_u64(zs, q->cs);
        z->first = zs >> q->cluster_bits;
        if (zs & (q->cs - 1)) {
            z->zpart = true;
            z->zsc = (unsigned)((zs & (q->cs - 1)) / sub);
        }
    }
    if (zs > old)
        return head(q, z, old, zs < q->new_size ? zs : q->new_size);
    return INSTAR_OK;
}

int q2_zero_check(const struct q2 *q, const struct q2_zero *z, uint64_t x, const uint8_t *old)
{
    (void)q;
    if (!z->zero || x < z->first)
        return INSTAR_OK;
    /* qemu frees a compressed cluster it zeroes; not done here. */
    return instar_be64(old) & QCOW2_OFLAG_COMPRESSED ? INSTAR_E_UNSUPPORTED_PREALLOC : INSTAR_OK;
}

bool q2_zero_entry(const struct q2 *q, const struct q2_zero *z, uint64_t x, uint64_t host,
                   const uint8_t *old, uint8_t *out)
{
    uint64_t e = instar_be64(old), bm = q->extl2 ? instar_be64(old + 8) : 0;
    uint64_t e0 = e, bm0 = bm;
    if (host != 0) {
        e = (host << q->cluster_bits) | QCOW2_OFLAG_COPIED;
        if (z->alloc_all)
            bm = Q2_BITMAP_ALL_ALLOC;
    }
    if (z->zero && x >= z->zc) {
        if (q->extl2)
            bm = Q2_BITMAP_ALL_ZEROES;
        else
            e |= QCOW2_OFLAG_ZERO;
    } else if (z->hfix && x == z->hx) {
        uint64_t range = (1ull << (32 - z->hsc)) - 1;   /* subclusters hsc..31 */
        bm |= range << z->hsc;
        bm &= ~(range << (32 + z->hsc));
    } else if (z->zpart && x + 1 == z->zc) {
        uint64_t range = (1ull << (32 - z->zsc)) - 1;   /* subclusters zsc..31 */
        bm |= range << (32 + z->zsc);
        bm &= ~(range << z->zsc);
    }
    if (z->cow_bit && x == z->cx) {
        bm |= 1ull << z->csc;                           /* the copied subcluster */
        bm &= ~(1ull << (32 + z->csc));
    }
    instar_put_be64(out, e);
    if (q->extl2)
        instar_put_be64(out + 8, bm);
    return e != e0 || bm != bm0;
}

/* q2_zero_entry's answer for entries [X0, X1) of a fresh table T past
 * the zeroed range's start, with no host cluster and not the copied one:
 * read as zeros, in one untraced pass (a grow writes millions). */
INSTAR_NO_COVERAGE
void q2_zero_fill_fresh(const struct q2 *q, uint8_t *t, uint64_t x0, uint64_t x1)
{
    uint8_t *p = t + (x0 & (q->l2_entries - 1)) * q->l2_esize;
    for (uint64_t x = x0; x < x1; x++, p += q->l2_esize) {
        if (q->extl2) {
            instar_put_be64(p, 0);
            instar_put_be64(p + 8, Q2_BITMAP_ALL_ZEROES);
        } else {
            instar_put_be64(p, QCOW2_OFLAG_ZERO);
        }
    }
}

void q2_zero_emit_head(struct q2 *q, const struct q2_zero *z)
{
    if (z->head_len > 0)
        instar_builder_zero(&q->b, z->head_off, z->head_len);
}

/* Is in-cluster offset AT in a subcluster of the copy's target that is
 * allocated already (its data stays)? */
static bool in_place_alloc(const struct q2 *q, const struct q2_zero *z, uint64_t at)
{
    return q->extl2 && !z->cow_new && (z->cow_bm >> (at / (q->cs >> 5))) & 1;
}

int q2_zero_emit_cow(struct q2 *q, const struct q2_zero *z, uint64_t host)
{
    uint64_t sub = q->extl2 ? q->cs >> 5 : q->cs;
    uint8_t *buf;
    if (!z->cow || z->cow_end <= z->cow_lo)
        return INSTAR_OK;
    buf = instar_builder_alloc(&q->b, z->cow_end - z->cow_lo);
    if (buf == NULL)
        return q->b.err;
    memset(buf, 0, (size_t)(z->cow_end - z->cow_lo));
    for (uint64_t at = z->cow_lo; at < z->cow_keep;) {
        uint64_t n = sub - at % sub;
        unsigned sc = (unsigned)(at / sub);
        if (n > z->cow_keep - at)
            n = z->cow_keep - at;
        /* A subcluster that reads as zeros copies as zeros. */
        if (!(q->extl2 && (z->cow_bm >> (32 + sc)) & 1))
            memcpy(buf + (at - z->cow_lo), q->o->backing_head.data + at, (size_t)n);
        at += n;
    }
    /* In place, the allocated subclusters keep their data: one write per
     * run of the others. */
    for (uint64_t at = z->cow_lo; at < z->cow_end;) {
        uint64_t run = at;
        while (run < z->cow_end && !(in_place_alloc(q, z, run)))
            run += sub - run % sub;
        if (run > z->cow_end)
            run = z->cow_end;
        if (run > at)
            instar_builder_write(&q->b, host + at, buf + (at - z->cow_lo), run - at);
        at = run;
        while (at < z->cow_end && in_place_alloc(q, z, at))
            at += sub - at % sub;
    }
    return q->b.err;
}
