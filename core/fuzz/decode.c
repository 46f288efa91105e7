/* SPDX-License-Identifier: GPL-3.0-or-later */
/* decode.c -- fuzz input -> planner options (instar/fuzz.h).
 *
 * Cheap per input on purpose: the big buffers are allocated once and hold
 * a fill value everywhere except a "dirty" prefix the previous decode wrote,
 * which is all that is restored.  Nothing here validates a number: the
 * planners must.  Arithmetic that sizes *our* buffers is checked and
 * clamped, so a hostile size only ever yields a short slice.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/fuzz.h"
#include "resize/qcow2-format.h"
#include "resize/vhd-format.h"
#include "resize/vhdx-format.h"
#include "resize/vmdk-format.h"
#include "util/checked.h"
#include "util/endian.h"

/* A persistent buffer: every byte equals FILL except [0, dirty). */
struct fbuf {
    uint8_t *p;
    size_t cap;
    size_t dirty;
    uint8_t fill;
};

struct instar_fuzz_decoder {
    struct fbuf qhdr;       /* qcow2 cluster 0 */
    struct fbuf l1;
    struct fbuf reftable;
    struct fbuf refblocks;
    struct fbuf l2;
    struct fbuf hdr;        /* vhd footer / vmdk header / vhdx header 1 */
    struct fbuf hdr2;       /* vhdx header 2 */
    struct fbuf dyn;        /* vhd dynamic header / vmdk descriptor / vhdx metadata */
    struct fbuf region;     /* vhdx region table */
    struct fbuf meta;       /* vhdx metadata region */
    struct fbuf table0;     /* zero-extended tables (vmdk GD, vhdx BAT) */
    struct fbuf table1;     /* vmdk redundant GD */
    struct fbuf tableff;    /* 0xff-extended tables (vhd BAT) */
    struct fbuf backing;    /* zeros: a backing file's bytes (never written) */
    uint32_t crc32c[256];
    /* CRC-32C state after 3584 and 65456 zero bytes, as byte-indexed
     * tables (the CRC is linear): a 4 KiB vhdx header with 512 bytes of
     * content, or the 64 KiB region table with 80, costs no more than its
     * content to checksum. */
    uint32_t zeros_hdr[4][256];
    uint32_t zeros_region[4][256];
    uint32_t zeros_region_input[4][256];    /* after a 512-byte table from the input */
    /* The vhdx region table depends on three numbers only: memoised, so its
     * 64 KiB CRC is not recomputed per input. */
    uint64_t region_key[3];
    bool region_valid;
};

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

static bool fbuf_alloc(struct fbuf *b, size_t cap, uint8_t fill)
{
    b->p = fill == 0 ? calloc(1, cap) : malloc(cap);
    if (b->p == NULL)
        return false;
    if (fill != 0)
        memset(b->p, fill, cap);
    b->cap = cap;
    b->dirty = 0;
    b->fill = fill;
    return true;
}

/* Restore the fill value over what the last user wrote. */
static uint8_t *fbuf_reset(struct fbuf *b)
{
    memset(b->p, b->fill, b->dirty);
    b->dirty = 0;
    return b->p;
}

static void fbuf_touch(struct fbuf *b, size_t end)
{
    if (end > b->cap)
        end = b->cap;
    if (end > b->dirty)
        b->dirty = end;
}

/* CARVE extended with B's fill value to WANT bytes (clamped to B's
 * capacity): a table as long as the geometry asks, whose unknown tail
 * reads as "unallocated".  When the carve is long enough it is used in
 * place: nothing is copied. */
static struct instar_slice fbuf_extend(struct fbuf *b, struct instar_slice carve,
                                       uint64_t want)
{
    if (carve.len >= want) {
        struct instar_slice s = {carve.data, (size_t)want};
        return s;
    }
    uint8_t *p = fbuf_reset(b);
    size_t n = carve.len < b->cap ? carve.len : b->cap;
    memcpy(p, carve.data, n);
    fbuf_touch(b, n);
    struct instar_slice s = {p, want < b->cap ? (size_t)want : b->cap};
    return s;
}

/* Like fbuf_extend, but always in B: for slices the decoder writes to. */
static struct instar_slice fbuf_copy(struct fbuf *b, struct instar_slice carve, uint64_t want)
{
    uint8_t *p = fbuf_reset(b);
    size_t n = carve.len < b->cap ? carve.len : b->cap;
    if (n > want)
        n = (size_t)want;
    memcpy(p, carve.data, n);
    fbuf_touch(b, n);
    struct instar_slice s = {p, want < b->cap ? (size_t)want : b->cap};
    return s;
}

#define VHDX_HDR_CONTENT 512
#define VHDX_HDR_ZEROS (VHDX_HEADER_SIZE - VHDX_HDR_CONTENT)
#define VHDX_REGION_CONTENT 80
#define VHDX_REGION_ZEROS (VHDX_REGION_SIZE - VHDX_REGION_CONTENT)
#define VHDX_REGION_INPUT 512
#define VHDX_REGION_INPUT_ZEROS (VHDX_REGION_SIZE - VHDX_REGION_INPUT)

/* Z[k][v]: the CRC state v << 8k after N zero bytes, built from the 32
 * single-bit states (the update is linear over GF(2)). */
static void zeros_table(struct instar_fuzz_decoder *d, uint32_t (*z)[256], size_t n)
{
    uint32_t bit[32];
    for (int b = 0; b < 32; b++) {
        uint32_t c = (uint32_t)1 << b;
        for (size_t i = 0; i < n; i++)
            c = d->crc32c[c & 0xff] ^ (c >> 8);
        bit[b] = c;
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int b = 0; b < 8; b++)
                if (v & (1u << b))
                    r ^= bit[8 * k + b];
            z[k][v] = r;
        }
}

void instar_fuzz_decoder_free(struct instar_fuzz_decoder *d)
{
    if (d == NULL)
        return;
    struct fbuf *all[] = {&d->qhdr, &d->l1, &d->reftable, &d->refblocks, &d->l2,
                          &d->hdr, &d->hdr2, &d->dyn, &d->region, &d->meta, &d->table0, &d->table1,
                          &d->tableff, &d->backing};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
    free(d);
}

struct instar_fuzz_decoder *instar_fuzz_decoder_new(void)
{
    struct instar_fuzz_decoder *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    /* Large zero buffers come from calloc: untouched pages cost nothing. */
    bool ok = fbuf_alloc(&d->qhdr, 64 * KiB, 0)
        && fbuf_alloc(&d->l1, 4 * MiB, 0)
        && fbuf_alloc(&d->reftable, 2 * MiB, 0)
        && fbuf_alloc(&d->refblocks, 2 * MiB + 32 * KiB, 0)
        && fbuf_alloc(&d->l2, 2 * MiB + 32 * KiB, 0)
        && fbuf_alloc(&d->hdr, 4 * KiB, 0)
        && fbuf_alloc(&d->hdr2, 4 * KiB, 0)
        && fbuf_alloc(&d->dyn, 1 * MiB, 0)
        && fbuf_alloc(&d->region, 64 * KiB, 0)
        && fbuf_alloc(&d->meta, 1 * MiB, 0)
        && fbuf_alloc(&d->table0, 4 * MiB, 0)
        && fbuf_alloc(&d->table1, 4 * MiB, 0)
        && fbuf_alloc(&d->tableff, 4 * MiB, 0xff)
        && fbuf_alloc(&d->backing, 2 * MiB, 0);
    if (!ok) {
        instar_fuzz_decoder_free(d);
        return NULL;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        d->crc32c[i] = c;
    }
    zeros_table(d, d->zeros_hdr, VHDX_HDR_ZEROS);
    zeros_table(d, d->zeros_region, VHDX_REGION_ZEROS);
    zeros_table(d, d->zeros_region_input, VHDX_REGION_INPUT_ZEROS);
    return d;
}

/* The decoder's own loops are not worth coverage feedback (and cost
 * executions under it): keep instrumentation for the planners. */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

NO_COVERAGE
static uint32_t crc_update(const struct instar_fuzz_decoder *d, uint32_t c, const uint8_t *p,
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        c = d->crc32c[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

static uint32_t zeros_apply(uint32_t (*z)[256], uint32_t c)
{
    return z[0][c & 0xff] ^ z[1][(c >> 8) & 0xff] ^ z[2][(c >> 16) & 0xff] ^ z[3][c >> 24];
}

/* CRC-32C of P[0..n) followed by ZEROS zero bytes (Z: zeros_table's). */
static uint32_t crc32c_padded(const struct instar_fuzz_decoder *d, const uint8_t *p, size_t n,
                              uint32_t (*z)[256])
{
    return zeros_apply(z, crc_update(d, 0xFFFFFFFFu, p, n)) ^ 0xFFFFFFFFu;
}

/* ---- header ----------------------------------------------------------- */

static const uint32_t refcount_bits_table[8] = {1, 2, 4, 8, 16, 32, 64, 0xff};

int instar_fuzz_decode_header(const uint8_t *data, size_t len,
                              struct instar_fuzz_header *h)
{
    if (data == NULL || len < INSTAR_FUZZ_HEADER_LEN)
        return INSTAR_E_PARSE;
    memset(h, 0, sizeof *h);
    h->format_byte = data[0];
    h->target = (enum instar_fuzz_target)(data[0] % INSTAR_FUZZ__COUNT);
    h->flags = data[1];
    h->allow_shrink = (data[1] & INSTAR_FUZZ_FLAG_ALLOW_SHRINK) != 0;
    h->extended_l2 = (data[1] & INSTAR_FUZZ_FLAG_EXTENDED_L2) != 0;
    h->lazy_refcounts = (data[1] & INSTAR_FUZZ_FLAG_LAZY_REFCOUNTS) != 0;
    h->raw_slices = (data[1] & INSTAR_FUZZ_FLAG_RAW_SLICES) != 0;
    h->prealloc = (enum instar_prealloc)((data[1] >> INSTAR_FUZZ_PREALLOC_SHIFT) & 3);
    h->refcount_sel = data[2];
    h->refcount_bits = refcount_bits_table[data[2] & 7];
    h->subformat = data[3];
    h->scratch_len = INSTAR_FUZZ_SCRATCH_LEN;
    if (data[1] & INSTAR_FUZZ_FLAG_TIGHT_SCRATCH)
        h->scratch_len = INSTAR_FUZZ_SCRATCH_LEN >> (data[2] >> 3);
    h->unit_size = instar_le32(data + 4);
    h->current_virtual_size = instar_le64(data + 8);
    h->new_virtual_size = instar_le64(data + 16);
    h->current_file_size = instar_le64(data + 24);
    return INSTAR_OK;
}

void instar_fuzz_encode_header(const struct instar_fuzz_header *h,
                               uint8_t out[INSTAR_FUZZ_HEADER_LEN])
{
    out[0] = h->format_byte;
    out[1] = h->flags;
    out[2] = h->refcount_sel;
    out[3] = h->subformat;
    instar_put_le32(out + 4, h->unit_size);
    instar_put_le64(out + 8, h->current_virtual_size);
    instar_put_le64(out + 16, h->new_virtual_size);
    instar_put_le64(out + 24, h->current_file_size);
}

const char *instar_fuzz_target_name(enum instar_fuzz_target t)
{
    switch (t) {
    case INSTAR_FUZZ_RAW: return "raw";
    case INSTAR_FUZZ_QCOW2_GROW: return "qcow2-grow";
    case INSTAR_FUZZ_QCOW2_SHRINK: return "qcow2-shrink";
    case INSTAR_FUZZ_VMDK: return "vmdk";
    case INSTAR_FUZZ_VHD: return "vhd";
    case INSTAR_FUZZ_VHDX: return "vhdx";
    case INSTAR_FUZZ__COUNT: break;
    }
    return "?";
}

/* ---- helpers ------------------------------------------------------------ */

static void carve_pool(struct instar_fuzz_case *c, const uint8_t *pool, size_t len,
                       const size_t *sizes, size_t n)
{
    size_t off = 0;
    c->ncarves = n;
    for (size_t i = 0; i < n; i++) {
        size_t take = len - off < sizes[i] ? len - off : sizes[i];
        c->carve[i].data = pool + off;
        c->carve[i].len = take;
        off += take;
    }
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return b == 0 ? 0 : instar_div_round_up_u64(a, b);
}

static uint32_t clamp_u32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* a * b, saturating (only used to size our own buffers). */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return instar_mul_u64(a, b, &r) ? r : UINT64_MAX;
}

static void fill_request(struct instar_resize_request *req, const struct instar_fuzz_header *h,
                         uint64_t new_size)
{
    req->new_size = new_size;
    req->allow_shrink = h->allow_shrink;
    req->prealloc = h->prealloc;
}

/* Split CARVE into tables of TABLE bytes staged as indices 0, 1, ...
 * Cooked: only tables whose entry in POINTERS (a big-endian u64 table,
 * masked with MASK) is non-zero are staged -- a real host stages only
 * allocated tables -- and a short last table is zero-extended in BUF; raw:
 * every index, the last one possibly short.  At most LIMIT tables. */
static size_t stage_tables(struct fbuf *buf, struct instar_slice carve, uint64_t table,
                           uint64_t limit, bool raw, struct instar_slice pointers,
                           uint64_t mask, struct instar_staged_table *out)
{
    if (carve.len == 0)
        return 0;
    if (table == 0)
        table = 512;            /* an invalid cluster size: slice in sectors */
    uint64_t n = ceil_div(carve.len, table);
    if (n > limit)
        n = limit;
    if (n > INSTAR_FUZZ_MAX_STAGED)
        n = INSTAR_FUZZ_MAX_STAGED;
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = i * table;       /* < 2^21 * 64: no overflow */
        if (off >= carve.len)
            break;
        if (!raw && ((i + 1) * 8 > pointers.len ||
                     (instar_be64(pointers.data + 8 * i) & mask) == 0))
            continue;
        struct instar_slice part = {carve.data + off, (size_t)(carve.len - off)};
        if (part.len >= table)
            part.len = (size_t)table;
        else if (!raw)
            part = fbuf_extend(buf, part, table);   /* only the last one */
        out[k].index = i;
        out[k].bytes = part;
        k++;
    }
    return k;
}

/* ---- qcow2 -------------------------------------------------------------- */

struct layout {
    size_t len;                 /* bytes of the pool it takes; 0: none */
    bool backing, backing_longer, backing_head;
    uint32_t nb_snapshots, nb_bitmaps, bmdir_size;
    uint64_t l1_offset, rt_offset, snap_offset, bmdir_offset;
    const uint8_t *body;        /* directory, then tables */
    size_t body_len;
};

static void layout_read(struct layout *l, const struct instar_fuzz_header *h,
                        const uint8_t *pool, size_t pool_len)
{
    uint8_t b[INSTAR_FUZZ_QCOW2_LAYOUT_HEAD] = {0};
    memset(l, 0, sizeof *l);
    if (!(h->flags & INSTAR_FUZZ_FLAG_QCOW2_LAYOUT))
        return;
    memcpy(b, pool, pool_len < sizeof b ? pool_len : sizeof b);
    size_t len = instar_le16(b);
    if (len < INSTAR_FUZZ_QCOW2_LAYOUT_HEAD)
        len = INSTAR_FUZZ_QCOW2_LAYOUT_HEAD;
    if (len > INSTAR_FUZZ_QCOW2_LAYOUT_MAX)
        len = INSTAR_FUZZ_QCOW2_LAYOUT_MAX;
    l->len = len < pool_len ? len : pool_len;
    l->backing = (b[2] & 1) != 0;
    l->backing_longer = l->backing && (b[2] & 2) != 0;
    l->backing_head = l->backing && (b[2] & 4) != 0;
    l->nb_snapshots = instar_le32(b + 4);
    l->l1_offset = instar_le64(b + 8);
    l->rt_offset = instar_le64(b + 16);
    l->snap_offset = instar_le64(b + 24);
    l->bmdir_offset = instar_le64(b + 32);
    l->nb_bitmaps = instar_le32(b + 40);
    l->bmdir_size = instar_le32(b + 44);
    if (l->len > INSTAR_FUZZ_QCOW2_LAYOUT_HEAD) {
        l->body = pool + INSTAR_FUZZ_QCOW2_LAYOUT_HEAD;
        l->body_len = l->len - INSTAR_FUZZ_QCOW2_LAYOUT_HEAD;
    }
}

/* The bitmap directory at its offset, then each entry's table (walked as
 * the entries' own sizes say, whatever they are) from the bytes after it.
 * Short bytes give short ranges: the planner asks for more. */
static size_t layout_stage(const struct layout *l, struct instar_staged_table *out)
{
    if (l->bmdir_offset == 0 || l->body == NULL)
        return 0;
    size_t n = 0, dlen = l->bmdir_size < l->body_len ? l->bmdir_size : l->body_len;
    out[n].index = l->bmdir_offset;
    out[n].bytes = (struct instar_slice){l->body, dlen};
    n++;
    size_t at = dlen;
    for (size_t pos = 0; pos + 24 <= dlen && n < INSTAR_FUZZ_MAX_BYTE_RANGES;) {
        const uint8_t *e = l->body + pos;
        uint64_t tbytes = (uint64_t)instar_be32(e + 8) * 8;
        size_t take = l->body_len - at;
        if (take > tbytes)
            take = (size_t)tbytes;
        out[n].index = instar_be64(e);
        out[n].bytes = (struct instar_slice){l->body + at, take};
        n++;
        at += take;
        pos += (24 + (size_t)instar_be16(e + 18) + instar_be32(e + 20) + 7) & ~(size_t)7;
    }
    return n;
}

static void decode_qcow2(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    const struct instar_fuzz_header *h = &c->hdr;
    struct instar_qcow2_resize_opts *o = &c->qcow2;
    static const size_t sizes[4] = {INSTAR_FUZZ_QCOW2_L1_CARVE, INSTAR_FUZZ_QCOW2_REFTABLE_CARVE,
                                    INSTAR_FUZZ_QCOW2_REFBLOCK_CARVE, INSTAR_FUZZ_QCOW2_L2_CARVE};
    uint64_t cur = h->current_virtual_size, new_size = h->new_virtual_size;
    uint8_t sub = h->subformat;

    /* "grow" and "shrink" are two targets so both directions get half the
     * inputs: the sizes are ordered accordingly. */
    if ((h->target == INSTAR_FUZZ_QCOW2_GROW && new_size < cur) ||
        (h->target == INSTAR_FUZZ_QCOW2_SHRINK && new_size > cur)) {
        uint64_t t = cur;
        cur = new_size;
        new_size = t;
    }
    fill_request(&o->req, h, new_size);
    o->current_file_size = h->current_file_size;

    /* A power of two gives its log2; anything else a hostile bit count. */
    uint32_t unit = h->unit_size;
    o->cluster_bits = instar_is_pow2_u64(unit) ? (uint32_t)__builtin_ctz(unit) : unit % 64;
    uint64_t cs = o->cluster_bits >= 9 && o->cluster_bits <= 21 ? (uint64_t)1 << o->cluster_bits : 0;
    o->version = (sub & INSTAR_FUZZ_QCOW2_V2) ? 2 : 3;
    o->virtual_size = cur;
    o->refcount_order = instar_is_pow2_u64(h->refcount_bits)
        ? (uint32_t)__builtin_ctz(h->refcount_bits) : h->refcount_bits;
    o->incompatible_features = (h->extended_l2 ? 0x10 : 0)
        | ((sub & INSTAR_FUZZ_QCOW2_DIRTY) ? 1 : 0)
        | ((sub & INSTAR_FUZZ_QCOW2_CORRUPT) ? 2 : 0);
    o->compatible_features = h->lazy_refcounts ? 1 : 0;
    o->has_bitmaps = (sub & INSTAR_FUZZ_QCOW2_BITMAPS) != 0;
    o->autoclear_features = o->has_bitmaps ? 1 : 0;
    o->header_length = o->version == 2 ? 72 : 112;
    o->refcount_table_clusters = 1 + ((sub >> INSTAR_FUZZ_QCOW2_RT_SHIFT) & 7);

    /* qemu-img's layout: header, refcount table, one refcount block, L1. */
    uint64_t l2_entries = cs / (h->extended_l2 ? 16 : 8);
    uint64_t per_l1 = mul_sat(cs, l2_entries);
    o->l1_size = clamp_u32(per_l1 ? ceil_div(cur, per_l1) : 0);
    uint64_t unit_cs = cs ? cs : 512;
    o->refcount_table_offset = unit_cs;
    o->l1_table_offset = unit_cs * (2 + (uint64_t)o->refcount_table_clusters);
    if (sub & INSTAR_FUZZ_QCOW2_SNAPSHOT) {
        o->nb_snapshots = 1;
        uint64_t end = o->l1_table_offset + (uint64_t)o->l1_size * 8;
        if (!instar_align_up_u64(end, unit_cs, &o->snapshots_offset))
            o->snapshots_offset = 0;
    }

    /* A layout block: a real image's offsets, snapshots and bitmaps. */
    struct layout lay;
    const uint8_t *pool = c->carve[0].data;
    size_t pool_len = c->pool_len;
    layout_read(&lay, h, pool, pool_len);
    pool += lay.len;
    pool_len -= lay.len;
    if (lay.len > 0) {
        if (lay.l1_offset)
            o->l1_table_offset = lay.l1_offset;
        if (lay.rt_offset)
            o->refcount_table_offset = lay.rt_offset;
        o->nb_snapshots = lay.nb_snapshots;
        if (lay.nb_snapshots && lay.snap_offset)
            o->snapshots_offset = lay.snap_offset;
        else if (!lay.nb_snapshots)
            o->snapshots_offset = lay.snap_offset;
        if (lay.bmdir_offset) {
            o->has_bitmaps = true;
            o->autoclear_features |= 1;
        }
    }

    /* Cluster 0: the header the options describe. */
    uint8_t *p = fbuf_reset(&d->qhdr);
    instar_put_be32(p + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
    instar_put_be32(p + QCOW2_HDR_VERSION, o->version);
    instar_put_be32(p + QCOW2_HDR_CLUSTER_BITS, o->cluster_bits);
    instar_put_be64(p + QCOW2_HDR_SIZE, o->virtual_size);
    instar_put_be32(p + QCOW2_HDR_L1_SIZE, o->l1_size);
    instar_put_be64(p + QCOW2_HDR_L1_OFFSET, o->l1_table_offset);
    instar_put_be64(p + QCOW2_HDR_REFTABLE_OFFSET, o->refcount_table_offset);
    instar_put_be32(p + QCOW2_HDR_REFTABLE_CLUSTERS, o->refcount_table_clusters);
    instar_put_be32(p + QCOW2_HDR_NB_SNAPSHOTS, o->nb_snapshots);
    instar_put_be64(p + QCOW2_HDR_SNAPSHOTS_OFFSET, o->snapshots_offset);
    size_t used = QCOW2_V2_HEADER_LENGTH;
    if (o->version == 3) {
        instar_put_be64(p + QCOW2_HDR_INCOMPAT, o->incompatible_features);
        instar_put_be64(p + QCOW2_HDR_COMPAT, o->compatible_features);
        instar_put_be64(p + QCOW2_HDR_AUTOCLEAR, o->autoclear_features);
        instar_put_be32(p + QCOW2_HDR_REFCOUNT_ORDER, o->refcount_order);
        instar_put_be32(p + QCOW2_HDR_HEADER_LENGTH, o->header_length);
        used = QCOW2_V3_HEADER_LENGTH;
    }
    if (o->has_bitmaps) {
        /* Bitmaps extension: the layout block's directory, or count 1 and
         * a directory (not staged) after L1. */
        instar_put_be32(p + used, QCOW2_EXT_BITMAPS);
        instar_put_be32(p + used + 4, 24);
        if (lay.bmdir_offset) {
            instar_put_be32(p + used + 8, lay.nb_bitmaps);
            instar_put_be64(p + used + 16, lay.bmdir_size);
            instar_put_be64(p + used + 24, lay.bmdir_offset);
        } else {
            instar_put_be32(p + used + 8, 1);
            instar_put_be64(p + used + 16, 64);
            instar_put_be64(p + used + 24, o->snapshots_offset
                                           ? o->snapshots_offset + unit_cs
                                           : o->l1_table_offset + unit_cs);
        }
        used += 32;
    }
    used += 8;                  /* end-of-extensions marker: zeros */
    if (lay.backing && used + 8 <= d->qhdr.cap) {
        /* A backing file name right after the extensions. */
        instar_put_be64(p + 8, used);
        instar_put_be32(p + 16, 4);
        memcpy(p + used, "base", 4);
        used += 8;
    }
    fbuf_touch(&d->qhdr, used);
    /* A backing file longer than the image: the grow's new range must
     * read as zeros (qcow2-zero.c); its bytes in the old end's cluster,
     * when known, are zeros. */
    o->zero_grow = lay.backing_longer;
    if (lay.backing_head) {
        uint64_t keep = cur & (unit_cs - 1);
        o->backing_head.data = d->backing.p;
        o->backing_head.len = keep < d->backing.cap ? (size_t)keep : d->backing.cap;
    }
    o->header.data = p;
    o->header.len = cs && cs < d->qhdr.cap ? (size_t)cs : d->qhdr.cap;

    carve_pool(c, pool, pool_len, sizes, 4);
    o->byte_ranges = c->byte_ranges;
    o->n_byte_ranges = layout_stage(&lay, c->byte_ranges);
    uint64_t rt_len = mul_sat(o->refcount_table_clusters, unit_cs);
    if (h->raw_slices) {
        o->l1 = c->carve[0];
        o->reftable = c->carve[1];
    } else {
        o->l1 = fbuf_extend(&d->l1, c->carve[0], mul_sat(o->l1_size, 8));
        o->reftable = fbuf_extend(&d->reftable, c->carve[1], rt_len);
    }
    o->refblocks = c->refblocks;
    o->n_refblocks = stage_tables(&d->refblocks, c->carve[2], cs, rt_len / 8,
                                  h->raw_slices, o->reftable, ~(uint64_t)511, c->refblocks);
    o->l2_tables = c->l2_tables;
    o->n_l2_tables = stage_tables(&d->l2, c->carve[3], cs, o->l1_size,
                                  h->raw_slices, o->l1, QCOW2_OFFSET_MASK, c->l2_tables);
}

/* ---- vhd ------------------------------------------------------------------ */

static void decode_vhd(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    const struct instar_fuzz_header *h = &c->hdr;
    struct instar_vhd_resize_opts *o = &c->vhd;
    static const enum instar_vhd_type types[3] = {INSTAR_VHD_DYNAMIC, INSTAR_VHD_FIXED,
                                                  INSTAR_VHD_DIFFERENCING};

    fill_request(&o->req, h, h->new_virtual_size);
    o->current_file_size = h->current_file_size;
    /* 0 dynamic, 1 fixed, 2 differencing; other values pass through as a
     * hostile disk type. */
    o->disk_type = h->subformat < 3 ? types[h->subformat] : (enum instar_vhd_type)h->subformat;
    o->virtual_size = h->current_virtual_size;
    bool dynamic = o->disk_type != INSTAR_VHD_FIXED;
    if (dynamic) {
        o->block_size = h->unit_size;
        o->max_table_entries = clamp_u32(ceil_div(o->virtual_size, o->block_size));
        o->bat_offset = 1536;
    }
    if (h->raw_slices) {
        o->footer = c->carve[0];
        o->dyn_header = dynamic ? c->carve[1] : (struct instar_slice){NULL, 0};
        o->bat = dynamic ? c->carve[2] : (struct instar_slice){NULL, 0};
    } else {
        o->footer = fbuf_copy(&d->hdr, c->carve[0], 512);
        uint8_t *f = d->hdr.p;
        fbuf_touch(&d->hdr, 512);
        memcpy(f + VHD_F_COOKIE, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN);
        instar_put_be64(f + VHD_F_DATA_OFFSET, dynamic ? VHD_FOOTER_SIZE : UINT64_MAX);
        instar_put_be64(f + VHD_F_CUR_SIZE, o->virtual_size);
        instar_put_be32(f + VHD_F_TYPE, (uint32_t)o->disk_type);
        instar_put_be32(f + VHD_F_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
        if (dynamic) {
            o->dyn_header = fbuf_copy(&d->dyn, c->carve[1], 1024);
            uint8_t *y = d->dyn.p;
            fbuf_touch(&d->dyn, 1024);
            memcpy(y + VHD_D_COOKIE, VHD_DYN_COOKIE, VHD_COOKIE_LEN);
            instar_put_be64(y + VHD_D_TABLE_OFFSET, o->bat_offset);
            instar_put_be32(y + VHD_D_MAX_ENTRIES, o->max_table_entries);
            instar_put_be32(y + VHD_D_BLOCK_SIZE, o->block_size);
            instar_put_be32(y + VHD_D_CHECKSUM, vhd_checksum(y, VHD_DYN_HEADER_SIZE, VHD_D_CHECKSUM));
            uint64_t bat_len;
            if (!instar_align_up_u64(mul_sat(o->max_table_entries, 4), 512, &bat_len))
                bat_len = UINT64_MAX;
            o->bat = fbuf_extend(&d->tableff, c->carve[2], bat_len);
        }
    }
    /* The lowest allocated block, as the engine finds it in the BAT.  Only
     * the carved entries can be allocated (the cooked tail is 0xff), so
     * the scan stays within the input, whatever the table's length. */
    uint64_t footer_at = o->current_file_size >= 512 ? o->current_file_size - 512 : 0;
    o->first_block_offset = footer_at;
    size_t n = (o->bat.len < c->carve[2].len ? o->bat.len : c->carve[2].len) / 4;
    if (n > o->max_table_entries)
        n = o->max_table_entries;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = instar_be32(o->bat.data + 4 * i);
        if (e != UINT32_MAX && (uint64_t)e * 512 < o->first_block_offset)
            o->first_block_offset = (uint64_t)e * 512;
    }
}

/* ---- vmdk ----------------------------------------------------------------- */

static const char *const vmdk_create_types[8] = {
    "monolithicSparse", "streamOptimized", "monolithicFlat", "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat", "vmfs", "vmfsSparse", "custom"};

/* Replace the value of createType="..." in the NUL-terminated text at P
 * (capacity CAP) with NAME; returns the new text length. */
static size_t vmdk_set_create_type(uint8_t *p, size_t len, size_t cap, const char *name)
{
    static const char key[] = "createType=\"";
    size_t klen = sizeof key - 1;
    for (size_t i = 0; i + klen <= len; i++) {
        if (memcmp(p + i, key, klen) != 0)
            continue;
        size_t v = i + klen, e = v;
        while (e < len && p[e] != '"')
            e++;
        size_t nlen = strlen(name);
        if (e >= len || len - (e - v) + nlen > cap)
            return len;
        memmove(p + v + nlen, p + e, len - e);
        memcpy(p + v, name, nlen);
        size_t newlen = len - (e - v) + nlen;
        if (newlen < len)
            memset(p + newlen, 0, len - newlen);
        return newlen;
    }
    return len;
}

/* OUT[i] = IN[i] + DELTA (u32 LE, wrapping) for non-zero entries. */
NO_COVERAGE
static void shift_entries(uint8_t *out, const uint8_t *in, size_t n, uint32_t delta)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t e = instar_le32(in + 4 * i);
        instar_put_le32(out + 4 * i, e ? e + delta : 0);
    }
}

static void decode_vmdk(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    const struct instar_fuzz_header *h = &c->hdr;
    struct instar_vmdk_resize_opts *o = &c->vmdk;
    uint8_t hb[512] = {0};

    fill_request(&o->req, h, h->new_virtual_size);
    o->current_file_size = h->current_file_size;
    o->capacity_sectors = ceil_div(h->current_virtual_size, 512);
    o->grain_sectors = h->unit_size / 512;
    /* Layout facts come from the header carve (a real one in the corpus). */
    memcpy(hb, c->carve[0].data, c->carve[0].len);
    o->descriptor_offset_sectors = instar_le64(hb + 28);
    o->descriptor_sectors = instar_le64(hb + 36);
    o->gtes_per_gt = instar_le32(hb + 44);
    o->rgd_offset_sectors = instar_le64(hb + 48);
    o->gd_offset_sectors = instar_le64(hb + 56);

    uint64_t per_gt = mul_sat(o->gtes_per_gt, o->grain_sectors);
    uint64_t gd_len;
    if (!instar_align_up_u64(mul_sat(ceil_div(o->capacity_sectors, per_gt), 4), 512, &gd_len))
        gd_len = UINT64_MAX;
    if (h->raw_slices) {
        o->header = c->carve[0];
        o->descriptor = c->carve[1];
        o->gd = c->carve[2];
    } else {
        o->header = fbuf_copy(&d->hdr, c->carve[0], 512);
        uint8_t *p = d->hdr.p;
        fbuf_touch(&d->hdr, 512);
        memcpy(p + VMDK_H_MAGIC, VMDK_MAGIC, VMDK_MAGIC_LEN);
        instar_put_le64(p + VMDK_H_CAPACITY, o->capacity_sectors);
        instar_put_le64(p + VMDK_H_GRAIN, o->grain_sectors);
        o->descriptor = fbuf_copy(&d->dyn, c->carve[1], mul_sat(o->descriptor_sectors, 512));
        size_t text = c->carve[1].len;
        while (text > 0 && d->dyn.p[text - 1] == 0)
            text--;
        if (h->subformat != 0) {
            text = vmdk_set_create_type(d->dyn.p, text, o->descriptor.len,
                                        vmdk_create_types[h->subformat % 8]);
            fbuf_touch(&d->dyn, text + 32);
        }
        o->gd = fbuf_extend(&d->table0, c->carve[2], gd_len);
    }
    if (o->rgd_offset_sectors == 0)
        return;
    if (h->raw_slices) {
        o->rgd = o->gd;
        return;
    }
    /* The redundant directory points at the redundant grain tables, which
     * qemu-img lays out after the RGD as the primary ones follow the GD:
     * the same entries shifted by rgd - gd. */
    o->rgd = fbuf_extend(&d->table1, (struct instar_slice){d->table1.p, 0}, gd_len);
    /* Entries the carve touches (the last may be cut short: the GD slice
     * holds it whole); beyond them both directories are zero. */
    size_t n = (c->carve[2].len + 3) / 4;
    if (n > o->rgd.len / 4)
        n = o->rgd.len / 4;
    if (n > o->gd.len / 4)
        n = o->gd.len / 4;
    shift_entries(d->table1.p, o->gd.data, n,
                  (uint32_t)(o->rgd_offset_sectors - o->gd_offset_sectors));
    fbuf_touch(&d->table1, n * 4);
}

/* ---- vhdx ----------------------------------------------------------------- */

static void vhdx_meta_entry(uint8_t *e, const uint8_t guid[16], uint32_t off, uint32_t len,
                            uint32_t flags)
{
    memcpy(e, guid, 16);
    instar_put_le32(e + 16, off);
    instar_put_le32(e + 20, len);
    instar_put_le32(e + 24, flags);
}

/* The metadata items the facts need, at IT (offset 0x10000 of the
 * metadata region), where the synthesised table points. */
static void write_vhdx_items(uint8_t *it, const struct instar_vhdx_resize_opts *o)
{
    instar_put_le32(it, o->block_size);
    instar_put_le32(it + 4, o->leave_blocks_allocated ? 1 : 0);
    instar_put_le64(it + 8, o->virtual_size);
    memset(it + 16, 0x5a, 16);
    instar_put_le32(it + 32, o->logical_sector_size);
    instar_put_le32(it + 36, 512);
}

static void decode_vhdx(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    const struct instar_fuzz_header *h = &c->hdr;
    struct instar_vhdx_resize_opts *o = &c->vhdx;

    fill_request(&o->req, h, h->new_virtual_size);
    o->current_file_size = h->current_file_size;
    o->virtual_size = h->current_virtual_size;
    o->block_size = h->unit_size;
    /* subformat bit0: 4 KiB logical sectors; bit1: fixed (blocks left
     * allocated); bit2: region and metadata tables from the input; bits
     * 3-4: which headers are valid (below). */
    o->logical_sector_size = (h->subformat & 1) ? 4096 : 512;
    o->leave_blocks_allocated = (h->subformat & 2) != 0;

    /* qemu-img's layout: log at 1 MiB (1 MiB), BAT at 2 MiB, metadata
     * after the BAT region. */
    uint64_t chunk_ratio = o->block_size ? ((uint64_t)1 << 23) * o->logical_sector_size / o->block_size : 0;
    uint64_t blocks = ceil_div(o->virtual_size, o->block_size);
    uint64_t entries = blocks;
    if (blocks > 0 && chunk_ratio > 0)
        entries += (blocks - 1) / chunk_ratio;
    uint64_t bat_bytes = mul_sat(entries, 8);
    uint64_t region_len = UINT32_MAX;
    if (instar_align_up_u64(bat_bytes, MiB, &region_len) && region_len == 0)
        region_len = MiB;
    /* The BAT follows the log the header carve describes (qemu-img puts
     * the log at 1 MiB); an absurd log gives the default place. */
    uint64_t log_end = 2 * MiB;
    if (c->carve[0].len >= 80) {
        uint64_t lo = instar_le64(c->carve[0].data + 72), end;
        if (instar_add_u64(lo, instar_le32(c->carve[0].data + 68), &end) &&
            instar_align_up_u64(end, MiB, &end) && end >= MiB && end <= ((uint64_t)1 << 40))
            log_end = end;
    }
    o->bat_offset = log_end;
    o->bat_region_length = clamp_u32(region_len);
    o->metadata_offset = o->bat_offset + o->bat_region_length;

    if (h->raw_slices) {
        o->header1 = c->carve[0];
        o->header2 = c->carve[0];
        o->metadata = c->carve[1];
        o->bat = c->carve[2];
        return;
    }
    /* Headers: the carve is the first 512 bytes of header 1; header 2 is
     * its copy one sequence number on (the current one), both with CRCs. */
    o->header1 = fbuf_copy(&d->hdr, c->carve[0], 4096);
    uint8_t *h1 = d->hdr.p;
    fbuf_touch(&d->hdr, 512);
    memcpy(h1, VHDX_HEADER_SIGNATURE, VHDX_SIG_LEN(VHDX_HEADER_SIGNATURE));
    instar_put_le32(h1 + 4, 0);
    instar_put_le32(h1 + 4, crc32c_padded(d, h1, VHDX_HDR_CONTENT, d->zeros_hdr));
    o->header2 = fbuf_copy(&d->hdr2, c->carve[0], 4096);
    uint8_t *h2 = d->hdr2.p;
    fbuf_touch(&d->hdr2, 512);
    memcpy(h2, VHDX_HEADER_SIGNATURE, VHDX_SIG_LEN(VHDX_HEADER_SIGNATURE));
    /* Subformat bits 3-4: header 2 one sequence number on (0), its twin
     * (1), or one header with a broken checksum (2: header 2, 3: header 1),
     * the states qemu's header selection tells apart. */
    unsigned twin = (h->subformat >> 3) & 3;
    instar_put_le64(h2 + 8, instar_le64(h1 + 8) + (twin == 1 ? 0 : 1));   /* wraps on purpose */
    instar_put_le32(h2 + 4, 0);
    instar_put_le32(h2 + 4, crc32c_padded(d, h2, VHDX_HDR_CONTENT, d->zeros_hdr));
    if (twin == 2)
        h2[4] ^= 1;
    else if (twin == 3)
        h1[4] ^= 1;

    /* Subformat bit 2: region and metadata tables from the input (the
     * dynamic-header carve: metadata table, then region table), only the
     * signatures and the region table's checksum made right. */
    if (h->subformat & 4) {
        uint8_t *r = fbuf_reset(&d->region);
        size_t n = c->carve[1].len > 512 ? c->carve[1].len - 512 : 0;
        memcpy(r, c->carve[1].data + 512, n);
        memcpy(r, "regi", 4);
        instar_put_le32(r + 4, 0);
        instar_put_le32(r + 4, crc32c_padded(d, r, VHDX_REGION_INPUT, d->zeros_region_input));
        fbuf_touch(&d->region, VHDX_REGION_INPUT);
        d->region_valid = false;
        o->region1.data = o->region2.data = d->region.p;
        o->region1.len = o->region2.len = 64 * KiB;
        struct instar_slice table = {c->carve[1].data, c->carve[1].len < 512 ? c->carve[1].len : 512};
        o->metadata = fbuf_copy(&d->meta, table, MiB);
        memcpy(d->meta.p, "metadata", 8);
        fbuf_touch(&d->meta, 512);
        write_vhdx_items(d->meta.p + 0x10000, o);
        o->bat = fbuf_extend(&d->table0, c->carve[2], bat_bytes);
        return;
    }

    /* Region table (BAT, metadata). */
    if (!d->region_valid || d->region_key[0] != o->bat_region_length ||
        d->region_key[1] != o->metadata_offset || d->region_key[2] != o->bat_offset) {
        uint8_t *r = fbuf_reset(&d->region);
        memcpy(r, VHDX_REGION_SIGNATURE, VHDX_SIG_LEN(VHDX_REGION_SIGNATURE));
        instar_put_le32(r + 8, 2);
        memcpy(r + 16, instar_vhdx_guid_bat, 16);
        instar_put_le64(r + 32, o->bat_offset);
        instar_put_le32(r + 40, o->bat_region_length);
        memcpy(r + 48, instar_vhdx_guid_metadata, 16);
        instar_put_le64(r + 64, o->metadata_offset);
        instar_put_le32(r + 72, (uint32_t)MiB);
        instar_put_le32(r + 4, crc32c_padded(d, r, VHDX_REGION_CONTENT, d->zeros_region));
        fbuf_touch(&d->region, 80);
        d->region_key[0] = o->bat_region_length;
        d->region_key[1] = o->metadata_offset;
        d->region_key[2] = o->bat_offset;
        d->region_valid = true;
    }
    o->region1.data = o->region2.data = d->region.p;
    o->region1.len = o->region2.len = 64 * KiB;

    /* Metadata region: the dynamic-header carve is the start of the table;
     * the table and items the facts need are written over it. */
    o->metadata = fbuf_copy(&d->meta, c->carve[1], MiB);
    uint8_t *m = d->meta.p;
    memcpy(m, "metadata", 8);
    instar_put_le16(m + 10, 5);
    vhdx_meta_entry(m + 32, instar_vhdx_guid_file_params, 0x10000, 8, 0x4);
    vhdx_meta_entry(m + 64, instar_vhdx_guid_virtual_size, 0x10008, 8, 0x6);
    vhdx_meta_entry(m + 96, instar_vhdx_guid_page83, 0x10010, 16, 0x6);
    vhdx_meta_entry(m + 128, instar_vhdx_guid_logical_sector, 0x10020, 4, 0x6);
    vhdx_meta_entry(m + 160, instar_vhdx_guid_physical_sector, 0x10024, 4, 0x6);
    write_vhdx_items(m + 0x10000, o);
    /* The table is dirty; the items are rewritten whole by every decode
     * (and this buffer serves vhdx alone), so they need no reset. */
    fbuf_touch(&d->meta, 32 + 5 * 32);
    o->bat = fbuf_extend(&d->table0, c->carve[2], bat_bytes);
}

/* ---- entry points ----------------------------------------------------- */

int instar_fuzz_decode(struct instar_fuzz_decoder *d, const uint8_t *data, size_t len,
                       struct instar_fuzz_case *c)
{
    int rc = instar_fuzz_decode_header(data, len, &c->hdr);
    if (rc != INSTAR_OK)
        return rc;
    /* Reset only what this target reads (the case is ~10 KiB; the staged
     * table arrays are counted, never read past their counts). */
    memset(c->carve, 0, sizeof c->carve);
    c->ncarves = 0;
    switch (c->hdr.target) {
    case INSTAR_FUZZ_RAW: memset(&c->raw, 0, sizeof c->raw); break;
    case INSTAR_FUZZ_QCOW2_GROW:
    case INSTAR_FUZZ_QCOW2_SHRINK: memset(&c->qcow2, 0, sizeof c->qcow2); break;
    case INSTAR_FUZZ_VMDK: memset(&c->vmdk, 0, sizeof c->vmdk); break;
    case INSTAR_FUZZ_VHD: memset(&c->vhd, 0, sizeof c->vhd); break;
    case INSTAR_FUZZ_VHDX: memset(&c->vhdx, 0, sizeof c->vhdx); break;
    case INSTAR_FUZZ__COUNT: break;
    }
    const uint8_t *pool = data + INSTAR_FUZZ_HEADER_LEN;
    c->pool_len = len - INSTAR_FUZZ_HEADER_LEN;
    c->carve[0].data = pool;
    static const size_t fmt_sizes[3] = {INSTAR_FUZZ_HDR_CARVE, INSTAR_FUZZ_DYN_CARVE,
                                        INSTAR_FUZZ_TABLE_CARVE};
    switch (c->hdr.target) {
    case INSTAR_FUZZ_RAW:
        fill_request(&c->raw.req, &c->hdr, c->hdr.new_virtual_size);
        c->raw.current_file_size = c->hdr.current_file_size;
        break;
    case INSTAR_FUZZ_QCOW2_GROW:
    case INSTAR_FUZZ_QCOW2_SHRINK:
        decode_qcow2(d, c);
        break;
    case INSTAR_FUZZ_VMDK:
        carve_pool(c, pool, c->pool_len, fmt_sizes, 3);
        decode_vmdk(d, c);
        break;
    case INSTAR_FUZZ_VHD:
        carve_pool(c, pool, c->pool_len, fmt_sizes, 3);
        decode_vhd(d, c);
        break;
    case INSTAR_FUZZ_VHDX:
        carve_pool(c, pool, c->pool_len, fmt_sizes, 3);
        decode_vhdx(d, c);
        break;
    case INSTAR_FUZZ__COUNT:
        break;
    }
    return INSTAR_OK;
}

int instar_fuzz_plan(const struct instar_fuzz_case *c, uint8_t *scratch, size_t scratch_len,
                     struct instar_resize_plan *plan)
{
    instar_plan_init(plan);
    if (scratch_len > c->hdr.scratch_len)
        scratch_len = c->hdr.scratch_len;
    switch (c->hdr.target) {
    case INSTAR_FUZZ_RAW:
        return instar_plan_resize_raw(&c->raw, scratch, scratch_len, plan);
    case INSTAR_FUZZ_QCOW2_GROW:
    case INSTAR_FUZZ_QCOW2_SHRINK:
        return instar_plan_resize_qcow2(&c->qcow2, scratch, scratch_len, plan);
    case INSTAR_FUZZ_VMDK:
        return instar_plan_resize_vmdk(&c->vmdk, scratch, scratch_len, plan);
    case INSTAR_FUZZ_VHD:
        return instar_plan_resize_vhd(&c->vhd, scratch, scratch_len, plan);
    case INSTAR_FUZZ_VHDX:
        return instar_plan_resize_vhdx(&c->vhdx, scratch, scratch_len, plan);
    case INSTAR_FUZZ__COUNT:
        break;
    }
    return INSTAR_E_UNSUPPORTED_FORMAT;
}
