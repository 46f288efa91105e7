/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-header.c -- parse and validate the qcow2 header and the staged
 * tables.  Every number comes from an untrusted file: each is range-checked
 * before it sizes anything, and the scalar facts in the options must agree
 * with the staged header bytes. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"

static unsigned log2_u64(uint64_t x)
{
    unsigned n = 0;
    while (x > 1) {
        x >>= 1;
        n++;
    }
    return n;
}

/* Walk the header extensions inside cluster 0: refuse what we cannot carry
 * through a resize (persistent bitmaps, external data file, encryption
 * header) and malformed lists. */
static int scan_extensions(struct q2 *q, const uint8_t *h, size_t len,
                           bool *bitmaps)
{
    uint64_t off = q->header_length;
    uint64_t end = len < q->cs ? len : q->cs;
    *bitmaps = false;
    for (unsigned n = 0; n < 1024; n++) {
        uint32_t type, elen;
        uint64_t next;
        if (off + 8 > end)
            return INSTAR_OK;   /* qemu stops at the end of the cluster too */
        type = instar_be32(h + off);
        elen = instar_be32(h + off + 4);
        if (type == 0)
            return INSTAR_OK;
        next = off + 8 + (((uint64_t)elen + 7) & ~7ull);
        if (next > end)
            return q2_refuse_at(q, INSTAR_E_PARSE, "header extension", n,
                                "runs past the end of cluster 0");
        if (type == QCOW2_EXT_BITMAPS) {
            if (elen < 24)
                return q2_refuse_at(q, INSTAR_E_PARSE, "header extension", n,
                                    "(bitmaps) is shorter than 24 bytes");
            *bitmaps = true;
            q->nb_bitmaps = instar_be32(h + off + 8);
            q->bmdir_size = instar_be64(h + off + 16);
            q->bmdir_offset = instar_be64(h + off + 24);
            q->bm_ext_off = off;
        }
        else if (type == QCOW2_EXT_DATA_FILE)
            return q2_refuse_at(q, INSTAR_E_UNSUPPORTED_SUBFORMAT, "header extension", n,
                                "names an external data file");
        else if (type == QCOW2_EXT_CRYPTO)
            return q2_refuse_at(q, INSTAR_E_UNSUPPORTED_SUBFORMAT, "header extension", n,
                                "is an encryption header");
        off = next;
    }
    return q2_refuse(q, INSTAR_E_PARSE, "more than 1024 header extensions");
}

static bool range_in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
    uint64_t end;
    return instar_add_u64(off, len, &end) && end <= q->file_size;
}

int q2_parse(struct q2 *q, const struct instar_qcow2_resize_opts *o)
{
    const uint8_t *h = o->header.data;
    size_t hl = o->header.data ? o->header.len : 0;
    uint64_t incompat = 0, compat = 0, autoclear = 0;
    uint32_t order = 4, nb_snap;
    uint64_t snap_off;
    bool bitmaps;
    int rc;

    memset(q, 0, sizeof *q);
    q->o = o;
    q->file_size = o->current_file_size;
    q->new_size = o->req.new_size;
    if (hl < QCOW2_V2_HEADER_LENGTH)
        return q2_refuse(q, INSTAR_E_PARSE, "the staged header is shorter than 72 bytes");
    if (instar_be32(h) != QCOW2_MAGIC)
        return q2_refuse(q, INSTAR_E_PARSE, "magic is not QFI\\xfb");
    q->version = instar_be32(h + QCOW2_HDR_VERSION);
    if (q->version != 2 && q->version != 3)
        return q2_refuse(q, INSTAR_E_UNSUPPORTED_SUBFORMAT, "version is neither 2 nor 3");
    q->cluster_bits = instar_be32(h + QCOW2_HDR_CLUSTER_BITS);
    if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return q2_refuse(q, INSTAR_E_PARSE, "cluster_bits is outside 9..21");
    q->cs = 1ull << q->cluster_bits;
    q->old_size = instar_be64(h + QCOW2_HDR_SIZE);
    if (instar_be32(h + QCOW2_HDR_CRYPT_METHOD) != 0)
        return q2_refuse(q, INSTAR_E_UNSUPPORTED_SUBFORMAT, "crypt_method is set (encrypted)");
    q->l1_size = instar_be32(h + QCOW2_HDR_L1_SIZE);
    q->l1_offset = instar_be64(h + QCOW2_HDR_L1_OFFSET);
    q->rt_offset = instar_be64(h + QCOW2_HDR_REFTABLE_OFFSET);
    q->rt_clusters = instar_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS);
    nb_snap = instar_be32(h + QCOW2_HDR_NB_SNAPSHOTS);
    snap_off = instar_be64(h + QCOW2_HDR_SNAPSHOTS_OFFSET);
    q->header_length = QCOW2_V2_HEADER_LENGTH;
    if (q->version == 3) {
        if (hl < QCOW2_V3_MIN_HEADER_LENGTH)
            return q2_refuse(q, INSTAR_E_PARSE, "the staged v3 header is shorter than 104 bytes");
        incompat = instar_be64(h + QCOW2_HDR_INCOMPAT);
        compat = instar_be64(h + QCOW2_HDR_COMPAT);
        autoclear = instar_be64(h + QCOW2_HDR_AUTOCLEAR);
        order = instar_be32(h + QCOW2_HDR_REFCOUNT_ORDER);
        q->header_length = instar_be32(h + QCOW2_HDR_HEADER_LENGTH);
        if (q->header_length < QCOW2_V3_MIN_HEADER_LENGTH || q->header_length % 8 != 0
            || q->header_length > q->cs || q->header_length > hl)
            return q2_refuse(q, INSTAR_E_PARSE, "header_length is below 104, not a multiple "
                             "of 8, or past cluster 0");
    }
    if (order > QCOW2_MAX_REFCOUNT_ORDER)
        return q2_refuse(q, INSTAR_E_PARSE, "refcount_order is above 6");

    /* The options must describe the same image as the staged bytes. */
    if (o->version != q->version || o->cluster_bits != q->cluster_bits
        || o->virtual_size != q->old_size || o->l1_size != q->l1_size
        || o->l1_table_offset != q->l1_offset
        || o->refcount_table_offset != q->rt_offset
        || o->refcount_table_clusters != q->rt_clusters
        || o->refcount_order != order || o->incompatible_features != incompat
        || o->compatible_features != compat || o->autoclear_features != autoclear
        || o->header_length != q->header_length || o->nb_snapshots != nb_snap
        || o->snapshots_offset != snap_off)
        return q2_refuse(q, INSTAR_E_HEADER_MISMATCH,
                         "the header facts disagree with the staged header bytes");

    /* Feature bits: an image qemu would not open read-write, or one whose
     * metadata we cannot trust without a repair, is refused. */
    if (incompat & ~QCOW2_INCOMPAT_KNOWN)
        return q2_refuse(q, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                         "incompatible_features has an unknown bit");
    if (incompat & QCOW2_INCOMPAT_CORRUPT)
        return q2_refuse(q, INSTAR_E_NEEDS_CHECK, "incompatible_features: the corrupt bit is set");
    if (incompat & QCOW2_INCOMPAT_DATA_FILE)
        return q2_refuse(q, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                         "incompatible_features: external data file");
    if (incompat & QCOW2_INCOMPAT_DIRTY)
        return q2_refuse(q, INSTAR_E_NEEDS_CHECK, "incompatible_features: the dirty bit is set");
    /* qemu refuses "data-file-raw requires a data file": the raw-data bit
     * means nothing without an external data file. */
    if ((autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) && !(incompat & QCOW2_INCOMPAT_DATA_FILE))
        return q2_refuse(q, INSTAR_E_PARSE,
                         "autoclear_features: data-file-raw without a data file");
    q->extl2 = (incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    if (q->extl2 && q->cluster_bits < 14)
        return q2_refuse(q, INSTAR_E_PARSE, "extended L2 entries with clusters below 16 KiB");

    q->rbits = 1u << order;
    q->rb_entries = (q->cs * 8) >> order;
    q->rb_shift = log2_u64(q->rb_entries);
    q->l2_esize = q->extl2 ? 16 : 8;
    q->l2_entries = q->cs / q->l2_esize;
    q->l2_shift = log2_u64(q->l2_entries);
    q->file_clusters = q->file_size >> q->cluster_bits;
    if (q->file_size & (q->cs - 1))
        q->file_clusters++;
    if (q->file_size > QCOW2_MAX_HOST_OFFSET)
        return q2_refuse(q, INSTAR_E_PARSE, "the file is larger than 2^56 bytes");

    /* Tables: aligned, sane sizes, inside the file. */
    if (q->l1_size > QCOW2_MAX_L1_ENTRIES)
        return q2_refuse(q, INSTAR_E_PARSE, "l1_size is above qemu's 4 Mi entries");
    if (q->l1_offset & (q->cs - 1))
        return q2_refuse(q, INSTAR_E_PARSE, "l1_table_offset is not cluster-aligned");
    if (q->l1_size > 0 && (q->l1_offset == 0
                           || !range_in_file(q, q->l1_offset, (uint64_t)q->l1_size * 8)))
        return q2_refuse(q, INSTAR_E_PARSE, "the L1 table is 0 or reaches past the end "
                         "of the file");
    if (q2_size_to_l1(q, q->old_size) > q->l1_size)
        return q2_refuse(q, INSTAR_E_PARSE, "l1_size is too small for the image size");
    if (q->rt_offset == 0 || (q->rt_offset & (q->cs - 1)))
        return q2_refuse(q, INSTAR_E_PARSE, "refcount_table_offset is 0 or not cluster-aligned");
    if (q->rt_clusters == 0 || (uint64_t)q->rt_clusters * q->cs > QCOW2_MAX_REFTABLE_BYTES)
        return q2_refuse(q, INSTAR_E_PARSE, "refcount_table_clusters is 0 or above 8 MiB");
    if (!range_in_file(q, q->rt_offset, (uint64_t)q->rt_clusters * q->cs))
        return q2_refuse(q, INSTAR_E_PARSE,
                         "the refcount table reaches past the end of the file");
    q->rt_entries = (uint64_t)q->rt_clusters * q->cs / 8;
    if (nb_snap > 0 && ((snap_off & (q->cs - 1)) || snap_off == 0
                        || !range_in_file(q, snap_off, 1)))
        return q2_refuse(q, INSTAR_E_PARSE, "snapshots_offset is 0, not cluster-aligned or "
                         "past the end of the file");
    if (q->old_size > (uint64_t)INT64_MAX)
        return q2_refuse(q, INSTAR_E_PARSE, "size is at least 2^63");
    /* qemu sees the size in whole sectors (total_sectors = size / 512). */
    q->old_size &= ~511ull;
    /* qemu's open: the backing file name lies inside cluster 0 ("Invalid
     * backing file offset") and is at most 1023 bytes ("Backing file name
     * too long"); an image breaking either is one qemu cannot open. */
    uint64_t bf_off = instar_be64(h + QCOW2_HDR_BACKING_OFFSET);
    uint32_t bf_len = instar_be32(h + QCOW2_HDR_BACKING_SIZE);
    if (bf_off > q->cs)
        return q2_refuse(q, INSTAR_E_PARSE, "backing file offset lies past cluster 0");
    if (bf_off != 0 && bf_len > (q->cs - bf_off < 1023 ? q->cs - bf_off : 1023))
        return q2_refuse(q, INSTAR_E_PARSE, "backing file name is too long");
    q->has_backing = bf_off != 0;
    q->snap_offset = nb_snap ? snap_off : 0;

    rc = scan_extensions(q, h, hl, &bitmaps);
    if (rc != INSTAR_OK)
        return rc;
    q->has_bitmaps = bitmaps || o->has_bitmaps;

    /* The staged slices the planner always reads. */
    if (o->l1.len < (uint64_t)q->l1_size * 8 || (q->l1_size > 0 && o->l1.data == NULL))
        return q2_refuse(q, INSTAR_E_HEADER_MISMATCH, "the staged L1 table is shorter than l1_size");
    if (o->reftable.data == NULL || o->reftable.len < q->rt_entries * 8)
        return q2_refuse(q, INSTAR_E_HEADER_MISMATCH,
                         "the staged refcount table is shorter than refcount_table_clusters");
    return INSTAR_OK;
}

int q2_check_request(struct q2 *q)
{
    const struct instar_qcow2_resize_opts *o = q->o;
    int rc;
    /* qcow2_co_truncate's order: sector multiple, v2 snapshots, bitmaps
     * loadable and not in use, the L1 limit (qcow2_grow_l1_table); the
     * bitmaps are sized for the new size only after that (their store). */
    if (q->new_size % 512 != 0)
        return q2_refuse(q, INSTAR_E_NOT_SECTOR_MULTIPLE, "the new size is not a multiple of 512");
    if (q->version == 2 && o->nb_snapshots > 0)
        return q2_refuse(q, INSTAR_E_SNAPSHOTS, "a version 2 image with snapshots");
    if (q->has_bitmaps && (rc = q2_check_bitmaps(q)) != INSTAR_OK)
        return rc;
    if (q2_size_to_l1(q, q->new_size) > QCOW2_MAX_L1_ENTRIES)
        return q2_refuse(q, INSTAR_E_TOO_LARGE, "the new size needs an L1 table above 32 MiB");
    return q->has_bitmaps ? q2_plan_bitmaps(q) : INSTAR_OK;
}

uint64_t q2_size_to_l1(const struct q2 *q, uint64_t size)
{
    unsigned shift = q->cluster_bits + q->l2_shift;
    return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

/* Shell sorts by index: the planner stays allocation-free (qsort may
 * allocate). */
#define Q2_SHELLSORT(name, type)                                        \
    static void name(type *a, size_t n)                                 \
    {                                                                   \
        static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1}; \
        for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {     \
            size_t gap = gaps[g];                                       \
            for (size_t i = gap; i < n; i++) {                          \
                type t = a[i];                                          \
                size_t j = i;                                           \
                for (; j >= gap && a[j - gap].index > t.index; j -= gap) \
                    a[j] = a[j - gap];                                  \
                a[j] = t;                                               \
            }                                                           \
        }                                                               \
    }
Q2_SHELLSORT(sort_rbs, struct q2_rb)
Q2_SHELLSORT(sort_l2s, struct q2_l2)

/* Copy the staged-table lists into sorted arrays (in scratch) so lookups
 * are binary searches; reject tables that do not fit the image. */
int q2_index_tables(struct q2 *q)
{
    const struct instar_qcow2_resize_opts *o = q->o;
    size_t n = o->refblocks ? o->n_refblocks : 0;
    size_t m = o->l2_tables ? o->n_l2_tables : 0;
    if (n > q->rt_entries || m > q->l1_size)
        return q2_refuse(q, INSTAR_E_HEADER_MISMATCH, "more staged tables than table entries");
    q->rbs = (struct q2_rb *)instar_builder_alloc(&q->b, (n ? n : 1) * sizeof *q->rbs);
    q->l2s = (struct q2_l2 *)instar_builder_alloc(&q->b, (m ? m : 1) * sizeof *q->l2s);
    if (q->rbs == NULL || q->l2s == NULL)
        return q->b.err;
    for (size_t i = 0; i < n; i++) {
        uint64_t off;
        const struct instar_staged_table *t = &o->refblocks[i];
        if (t->bytes.data == NULL || t->bytes.len < q->cs || t->index >= q->rt_entries)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged refcount block", t->index,
                                "is shorter than a cluster or past the refcount table");
        if (q2_reftable_entry(q, t->index, &off) != INSTAR_OK || off == 0)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged refcount block", t->index,
                                "has no refcount table entry");
        q->rbs[i].index = t->index;
        q->rbs[i].orig = t->bytes.data;
        q->rbs[i].a = NULL;
        q->rbs[i].fin = NULL;
        q->rbs[i].dropped = false;
    }
    for (size_t i = 0; i < m; i++) {
        const struct instar_staged_table *t = &o->l2_tables[i];
        uint64_t off;
        if (t->bytes.data == NULL || t->bytes.len < q->cs || t->index >= q->l1_size)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged L2 table", t->index,
                                "is shorter than a cluster or past the L1 table");
        if (q2_entry_offset(q, q2_l1_entry(q, t->index), &off) != INSTAR_OK || off == 0)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged L2 table", t->index,
                                "has no L1 entry");
        q->l2s[i].index = t->index;
        q->l2s[i].bytes = t->bytes.data;
    }
    sort_rbs(q->rbs, n);
    sort_l2s(q->l2s, m);
    for (size_t i = 1; i < n; i++)
        if (q->rbs[i].index == q->rbs[i - 1].index)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged refcount block",
                                q->rbs[i].index, "is staged twice");
    for (size_t i = 1; i < m; i++)
        if (q->l2s[i].index == q->l2s[i - 1].index)
            return q2_refuse_at(q, INSTAR_E_HEADER_MISMATCH, "staged L2 table",
                                q->l2s[i].index, "is staged twice");
    q->nrbs = n;
    q->nl2s = m;
    return INSTAR_OK;
}

int q2_entry_offset(const struct q2 *q, uint64_t entry, uint64_t *off)
{
    uint64_t v = entry & QCOW2_OFFSET_MASK;
    *off = 0;
    if (v == 0)
        return INSTAR_OK;
    if (v & (q->cs - 1))
        return q2_refuse(q, INSTAR_E_PARSE, "an L1 or L2 entry points to an offset that is "
                         "not cluster-aligned");
    *off = v;
    return INSTAR_OK;
}

uint64_t q2_l1_entry(const struct q2 *q, uint64_t index)
{
    if (index >= q->l1_size)
        return 0;
    return instar_be64(q->o->l1.data + index * 8);
}

const uint8_t *q2_find_l2(struct q2 *q, uint64_t l1_index)
{
    size_t lo = 0, hi = q->nl2s;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->l2s[mid].index == l1_index)
            return q->l2s[mid].bytes;
        if (q->l2s[mid].index < l1_index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
