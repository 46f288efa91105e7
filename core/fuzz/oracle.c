/* SPDX-License-Identifier: GPL-3.0-or-later */
/* oracle.c -- the engine fuzz target's semantic oracle (oracle.h).
 * Every layout fact here comes from the format specifications (qcow2.txt,
 * the VHD, VHDX and VMDK specifications), not from the planners. */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/oracle.h"
#include "fuzz/spec.h"
#include "instar/error.h"
#include "util/array.h"
#include "util/checked.h"
#include "util/crc32c.h"
#include "util/endian.h"

/* Short names for spec.h's shared helpers. */
#define fail instar_spec_fail
#define inside instar_spec_inside

/* Digests read at most this much at a time: the sparse store's chunk, so
 * a hole check skips exactly what was never written. */
#define PIECE ((uint64_t)16 << 10)
/* Tables larger than this are beyond the oracle (the target's images are
 * at most 64 MiB). */
#define MAX_TABLE ((uint64_t)64 << 20)
#define MAX_CLUSTERS ((uint64_t)1 << 22)

static const char *const span_names[] = {
    "header", "L1 table", "L2 table", "data cluster", "refcount table", "refcount block",
    "snapshot table", "snapshot L1 table", "bitmap directory", "bitmap table",
    "bitmap data", "footer copy", "dynamic header", "BAT", "data block", "footer",
    "header section", "log", "metadata region", "payload block", "sector bitmap block",
    "descriptor", "grain directory", "redundant grain directory", "grain table", "grain",
};
enum {
    S_HEADER, S_L1, S_L2, S_DATA, S_RT, S_RB, S_SNAPT, S_SNAPL1, S_BMDIR, S_BMT, S_BMDATA,
    S_FOOTER0, S_DYNH, S_BAT, S_BLOCK, S_FOOTER, S_HSECT, S_LOG, S_META, S_PAYLOAD,
    S_SBM, S_DESC, S_GD, S_RGD, S_GT, S_GRAIN
};



static bool grow_buf(struct instar_oracle *o, uint64_t len)
{
    if (len > MAX_TABLE)
        return false;
    if (len <= o->buflen)
        return true;
    uint8_t *p = realloc(o->buf, (size_t)len);
    if (p == NULL)
        return false;
    o->buf = p;
    o->buflen = (size_t)len;
    return true;
}

/* Read [OFF, OFF+LEN) into a fresh buffer; bytes past EOF read as zero. */
static uint8_t *read_alloc(struct instar_io *io, uint64_t fsize, uint64_t off, uint64_t len)
{
    if (len > MAX_TABLE)
        return NULL;
    uint8_t *p = calloc(1, len ? (size_t)len : 1);
    if (p == NULL || off >= fsize)
        return p;
    uint64_t n = fsize - off < len ? fsize - off : len;
    if (n && instar_io_read(io, p, (size_t)n, off) != INSTAR_OK) {
        free(p);
        return NULL;
    }
    return p;
}

/* As read_alloc, into kept table buffer SLOT of O: fresh memory for a
 * table of tens of MiB (a 2 PiB image's L1) cost page faults and
 * sanitizer poisoning on every input. */
static uint8_t *read_kept(struct instar_oracle *o, int slot, struct instar_io *io,
                          uint64_t fsize, uint64_t off, uint64_t len)
{
    if (len > MAX_TABLE)
        return NULL;
    uint8_t *p = instar_spec_kept(&o->tables[slot], &o->tablecap[slot], (size_t)len);
    if (p == NULL)
        return NULL;
    uint64_t n = off >= fsize ? 0 : fsize - off < len ? fsize - off : len;
    if (n && instar_io_read(io, p, (size_t)n, off) != INSTAR_OK)
        return NULL;
    memset(p + n, 0, (size_t)(len - n));
    return p;
}

/* ---- digests ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 31);
}

/* A digest of the LEN bytes at OFF as the guest sees them (past EOF:
 * zeros): 0 when they are all zero, so a hole and a zero-filled block
 * compare equal.  False when a read fails. */
static bool digest(struct instar_oracle *o, struct instar_io *io, uint64_t fsize,
                   uint64_t off, uint64_t len, uint64_t *out)
{
    uint64_t h = 0;
    bool any = false;
    if (!grow_buf(o, PIECE))
        return false;
    for (uint64_t done = 0; done < len && off + done < fsize; ) {
        uint64_t at = off + done;
        if (o->next_data) {
            uint64_t nd = o->next_data(io, at);
            if (nd >= fsize || nd - off >= len)
                break;
            if (nd > at) {
                done = nd - off;
                at = nd;
            }
        }
        uint64_t n = PIECE - at % PIECE;      /* stay inside one chunk */
        if (n > len - done)
            n = len - done;
        {
            uint64_t m = fsize - at < n ? fsize - at : n;
            if (instar_io_read(io, o->buf, (size_t)m, at) != INSTAR_OK)
                return false;
            uint64_t ph = 0;
            bool nz = false;
            uint64_t i = 0;
            for (; i + 8 <= m; i += 8) {
                uint64_t w;
                memcpy(&w, o->buf + i, 8);
                if (w) {
                    nz = true;
                    ph = mix(ph, w ^ i);
                }
            }
            for (; i < m; i++)
                if (o->buf[i]) {
                    nz = true;
                    ph = mix(ph, ((uint64_t)o->buf[i] << 32) ^ i);
                }
            if (nz) {
                any = true;
                h = mix(h, ph ^ (done << 1));
            }
        }
        done += n;
    }
    *out = any ? (h | 1) : 0;
    return true;
}

static bool add_block(struct instar_oracle_view *v, uint64_t guest, uint64_t d)
{
    struct instar_oracle_block *p = instar_array_room(v->blocks, v->nblocks, &v->cap,
                                                      sizeof *p, 64);
    if (p == NULL)
        return false;
    v->blocks = p;
    v->blocks[v->nblocks].guest = guest;
    v->blocks[v->nblocks].digest = d;
    v->nblocks++;
    return true;
}

/* What a walk does with the guest block GUEST whose bytes lie at host
 * [HOST, HOST + bs) (ENTRY_DIGEST mixes in what is not plain data, e.g. a
 * compressed descriptor): below the compare limit, record the digest of
 * the bytes under it; in ZERO_FROM..vsize (after only), demand zeros. */
struct walk {
    struct instar_oracle *o;
    struct instar_oracle_view *v;
    struct instar_io *io;
    uint64_t fsize;
    uint64_t limit;             /* compare bytes below this */
    uint64_t zero_from;         /* UINT64_MAX: no zero check */
    bool limited;               /* failed on the oracle's own limits */
    bool note_stale;            /* before: note data past the end, no failure */
    char *why;
    size_t whylen;
};

/* The virtual size is known: before, resolve the request against it and
 * compare bytes below min(old, requested) from here on. */
static void sized(struct walk *w)
{
    struct instar_oracle *o = w->o;
    if (o->spec == NULL)
        return;
    /* Relative sizes count from the size qemu-img reports: whole sectors,
     * a raw file's length rounded up, the others' sizes rounded down
     * (measured with qemu-img 7.2). */
    uint64_t old = w->v->vsize / 512 * 512;
    if (o->fmt == INSTAR_FORMAT_RAW && w->v->vsize % 512 != 0)
        old += 512;
    o->old_view = old;
    /* qemu-img's arithmetic: wrapping 64-bit, then a total of zero or
     * beyond INT64_MAX is refused. */
    switch (o->spec->sign) {
    case INSTAR_SIZE_PLUS: o->want = old + o->spec->amount; break;
    case INSTAR_SIZE_MINUS: o->want = old - o->spec->amount; break;
    default: o->want = o->spec->amount; break;
    }
    o->want_ok = o->want != 0 && o->want <= (uint64_t)INT64_MAX;
    o->limit = w->limit = o->want_ok && o->want < w->v->vsize ? o->want : w->v->vsize;
}

static bool guest_block(struct walk *w, uint64_t guest, uint64_t host, uint64_t extra)
{
    uint64_t bs = w->v->bs, start;
    if (!instar_mul_u64(guest, bs, &start))
        return true;
    if (start < w->limit) {
        uint64_t n = w->limit - start < bs ? w->limit - start : bs, d;
        if (!digest(w->o, w->io, w->fsize, host, n, &d))
            return fail(w->why, w->whylen, "cannot read guest block %" PRIu64, guest);
        if (extra && d)
            d = mix(d, extra) | 1;
        if (d && !add_block(w->v, guest, d))
            return fail(w->why, w->whylen, "out of memory");
    }
    uint64_t zero_from = w->zero_from;
    /* Before: note guest data the start already maps past its end. */
    if (w->note_stale && !instar_align_up_u64(w->v->vsize, bs, &zero_from))
        zero_from = UINT64_MAX;
    if (start >= zero_from && (w->note_stale || start < w->v->vsize)) {
        uint64_t n = w->note_stale ? bs : w->v->vsize - start < bs ? w->v->vsize - start : bs, d;
        if (!digest(w->o, w->io, w->fsize, host, n, &d))
            return fail(w->why, w->whylen, "cannot read guest block %" PRIu64, guest);
        if (d && w->note_stale) {
            w->v->stale = true;     /* the start maps data past its end */
            return true;
        }
        if (d)
            return fail(w->why, w->whylen, "guest block %" PRIu64 " (guest offset 0x%" PRIx64
                        ", host 0x%" PRIx64 ") in the new range does not read as zeros",
                        guest, start, host);
    }
    return true;
}

/* A failure that is the oracle's limit, not the image's fault. */
static bool limit(struct walk *w, const char *what)
{
    w->limited = true;
    return fail(w->why, w->whylen, "%s beyond the oracle's limits", what);
}

/* ---- allocation spans (vhd, vhdx, vmdk) --------------------------------- */

static bool add_span(struct instar_oracle *o, uint64_t off, uint64_t len, uint32_t what,
                     uint64_t idx)
{
    if (len == 0)
        return true;
    struct instar_oracle_span *p = instar_array_room(o->spans, o->nspans, &o->spancap,
                                                     sizeof *p, 64);
    if (p == NULL)
        return false;
    o->spans = p;
    o->spans[o->nspans].off = off;
    o->spans[o->nspans].len = len;
    o->spans[o->nspans].what = what;
    o->spans[o->nspans].idx = idx;
    o->nspans++;
    return true;
}

static int span_cmp(const void *a, const void *b)
{
    const struct instar_oracle_span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Every span inside the file and no two overlapping: else not exact. */
static void judge_spans(struct instar_oracle *o, struct instar_oracle_view *v, uint64_t fsize)
{
    qsort(o->spans, o->nspans, sizeof *o->spans, span_cmp);
    for (size_t i = 0; i < o->nspans; i++) {
        const struct instar_oracle_span *s = &o->spans[i];
        if (!inside(s->off, s->len, fsize)) {
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "%s %" PRIu64 " at 0x%" PRIx64
                     " (+0x%" PRIx64 ") ends past EOF 0x%" PRIx64,
                     span_names[s->what], s->idx, s->off, s->len, fsize);
            return;
        }
        if (i > 0 && s->off < o->spans[i - 1].off + o->spans[i - 1].len) {
            const struct instar_oracle_span *p = &o->spans[i - 1];
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "%s %" PRIu64 " at 0x%" PRIx64
                     " overlaps %s %" PRIu64 " at 0x%" PRIx64 " (+0x%" PRIx64 ")",
                     span_names[s->what], s->idx, s->off, span_names[p->what], p->idx,
                     p->off, p->len);
            return;
        }
    }
}

/* ---- raw ------------------------------------------------------------------ */

/* The next guest piece from G on that may hold data (the file's pieces
 * are the guest's for raw and fixed VHD). */
static uint64_t next_piece(const struct walk *w, uint64_t g)
{
    if (w->o->next_data == NULL)
        return g;
    uint64_t nd = w->o->next_data(w->io, g * PIECE);
    return nd == UINT64_MAX ? UINT64_MAX / PIECE : (nd / PIECE > g ? nd / PIECE : g);
}

static bool walk_raw(struct walk *w)
{
    w->v->vsize = w->fsize;
    sized(w);
    w->v->bs = PIECE;
    w->v->exact = true;
    for (uint64_t g = next_piece(w, 0); g < w->fsize / PIECE + 1 && g * PIECE < w->fsize;
         g = next_piece(w, g + 1)) {
        uint64_t start = g * PIECE;
        if (start < w->limit) {
            uint64_t n = w->limit - start < PIECE ? w->limit - start : PIECE, d;
            if (!digest(w->o, w->io, w->fsize, start, n, &d))
                return fail(w->why, w->whylen, "raw: cannot read");
            if (d && !add_block(w->v, g, d))
                return fail(w->why, w->whylen, "out of memory");
        }
        /* Raw grows byte-exactly: the zero range starts at the old end. */
        uint64_t lo = start > w->zero_from ? start : w->zero_from, hi = start + PIECE;
        if (hi > w->fsize)
            hi = w->fsize;
        if (lo < hi) {
            uint64_t d;
            if (!digest(w->o, w->io, w->fsize, lo, hi - lo, &d))
                return fail(w->why, w->whylen, "raw: cannot read");
            if (d)
                return fail(w->why, w->whylen, "raw: bytes 0x%" PRIx64 "..0x%" PRIx64
                            " of the new range do not read as zeros", lo, hi);
        }
    }
    return true;
}

/* ---- qcow2 ---------------------------------------------------------------- */

#define Q_OFF_MASK 0x00fffffffffffe00ULL
#define Q_COPIED (1ULL << 63)
#define Q_COMPRESSED (1ULL << 62)

struct qc {
    struct walk *w;
    uint64_t cs, ncl, l2_entries, entry;
    uint32_t cluster_bits;
    bool ext_l2, data_file;
    uint16_t *refs;
};

static bool qref(struct qc *q, uint64_t off, uint64_t len, const char *what, uint64_t idx)
{
    if (len == 0)
        return true;
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > q->ncl * q->cs)
        return fail(q->w->why, q->w->whylen, "qcow2: %s %" PRIu64 " at 0x%" PRIx64
                    " (+0x%" PRIx64 ") beyond the file", what, idx, off, len);
    for (uint64_t c = off / q->cs; c <= (end - 1) / q->cs; c++)
        if (q->refs[c] < UINT16_MAX)
            q->refs[c]++;
    return true;
}

/* Walk L1 table L1 (N entries): count L2 tables and data clusters; when
 * ACTIVE, record guest blocks too.  COPIED flags are checked later. */
static bool q_walk_l1(struct qc *q, const uint8_t *l1, uint64_t n, bool active)
{
    struct walk *w = q->w;
    uint8_t *l2 = NULL;
    bool ok = false;
    if (!grow_buf(w->o, PIECE))
        return fail(w->why, w->whylen, "out of memory");
    l2 = malloc((size_t)q->cs);
    if (l2 == NULL)
        return fail(w->why, w->whylen, "out of memory");
    for (uint64_t i = instar_spec_next_entry(l1, 0, n, 8); i < n;
         i = instar_spec_next_entry(l1, i + 1, n, 8)) {
        uint64_t off = instar_be64(l1 + 8 * i) & Q_OFF_MASK;
        if (off == 0)
            continue;
        if (off % q->cs != 0 || !qref(q, off, q->cs, "L2 table", i))
            goto out;
        if (instar_io_read(w->io, l2, (size_t)q->cs, off) != INSTAR_OK) {
            fail(w->why, w->whylen, "qcow2: cannot read L2 table %" PRIu64, i);
            goto out;
        }
        for (uint64_t k = instar_spec_next_entry(l2, 0, q->l2_entries, q->entry);
             k < q->l2_entries; k = instar_spec_next_entry(l2, k + 1, q->l2_entries, q->entry)) {
            uint64_t e = instar_be64(l2 + q->entry * k), guest = i * q->l2_entries + k;
            uint64_t extra = 0;
            if (e & Q_COMPRESSED) {
                /* Compressed: the descriptor's sectors, counted per
                 * cluster touched; its digest covers the stored bytes. */
                uint32_t x = 62 - (q->cluster_bits - 8);
                uint64_t coff = e & (((uint64_t)1 << x) - 1);
                uint64_t nsec = ((e >> x) & ((1ULL << (q->cluster_bits - 8)) - 1)) + 1;
                if (!qref(q, coff & ~(uint64_t)511, nsec * 512, "compressed cluster", guest))
                    goto out;
                uint64_t start = guest * q->cs;
                if (active && guest < (UINT64_MAX >> q->cluster_bits) && start < w->limit) {
                    uint64_t d;
                    if (!digest(w->o, w->io, w->fsize, coff, nsec * 512 - (coff & 511), &d)) {
                        fail(w->why, w->whylen, "qcow2: compressed cluster unreadable");
                        goto out;
                    }
                    if (!add_block(w->v, guest, mix(d, e) | 1)) {
                        fail(w->why, w->whylen, "out of memory");
                        goto out;
                    }
                }
                continue;
            }
            uint64_t data = e & Q_OFF_MASK;
            if (data != 0 && !q->data_file) {
                if (data % q->cs != 0) {
                    fail(w->why, w->whylen, "qcow2: L2 %" PRIu64 " entry %" PRIu64
                         " unaligned (0x%" PRIx64 ")", i, k, data);
                    goto out;
                }
                if (!qref(q, data, q->cs, "data cluster", guest))
                    goto out;
            }
            if (!active || q->data_file)
                continue;
            bool zero;
            if (q->ext_l2) {
                uint64_t bm = instar_be64(l2 + q->entry * k + 8);
                zero = (bm & 0xffffffffULL) == 0;   /* no subcluster allocated */
                extra = bm & 0xffffffffULL;
            } else {
                zero = (e & 1) != 0 || data == 0;
            }
            if (zero || data == 0) {
                /* Reads as zeros: recorded as such below the limit, and
                 * fine in the new range. */
                continue;
            }
            if (!guest_block(w, guest, data, extra))
                goto out;
        }
    }
    ok = true;
out:
    free(l2);
    return ok;
}


/* The refcount of host cluster C, from the refcount table RT. */
static bool q_refcount(struct qc *q, const uint8_t *rt, uint64_t rt_entries, uint32_t bits,
                       uint8_t *blk, uint64_t *cached, uint64_t c, uint64_t *rc)
{
    uint64_t per = q->cs * 8 / bits, ti = c / per;
    *rc = 0;
    if (ti >= rt_entries)
        return true;
    uint64_t boff = instar_be64(rt + 8 * ti) & ~(uint64_t)511;
    if (boff == 0)
        return true;
    if (*cached != ti) {
        if (instar_io_read(q->w->io, blk, (size_t)q->cs, boff) != INSTAR_OK)
            return false;
        *cached = ti;
    }
    *rc = instar_spec_qcow2_refcount(blk, c % per, bits);
    return true;
}

/* The index of the first non-zero refcount at or after FROM in refcount
 * block BLK of PER entries of BITS bits; PER when none.  Whole bytes are
 * scanned as bytes: a block of 1-bit refcounts holds millions. */
static uint64_t q_first_nonzero(const uint8_t *blk, uint64_t from, uint64_t per, uint32_t bits)
{
    uint64_t k = from;
    for (; k < per && (k * bits) % 8 != 0; k++)
        if (instar_spec_qcow2_refcount(blk, k, bits) != 0)
            return k;
    uint64_t len = per * bits / 8;
    for (uint64_t b = k * bits / 8; b < len; b++)
        if (blk[b] != 0) {
            for (k = b * 8 / bits; k < per; k++)
                if (instar_spec_qcow2_refcount(blk, k, bits) != 0)
                    return k;
        }
    return per;
}

static bool walk_qcow2(struct walk *w)
{
    struct instar_oracle *o = w->o;
    struct instar_oracle_view *v = w->v;
    uint8_t h[112] = {0};
    uint8_t *l1 = NULL, *rt = NULL, *snap = NULL, *blk = NULL, *bmdir = NULL;
    bool ok = false;
    struct qc q;
    memset(&q, 0, sizeof q);
    q.w = w;

    if (w->fsize < 72 || instar_io_read(w->io, h, w->fsize < sizeof h ? 72 : sizeof h, 0)
        != INSTAR_OK || memcmp(h, "QFI\xfb", 4) != 0)
        return fail(w->why, w->whylen, "qcow2: no header");
    uint32_t version = instar_be32(h + 4);
    q.cluster_bits = instar_be32(h + 20);
    uint64_t l1_off = instar_be64(h + 40), rt_off = instar_be64(h + 48);
    uint32_t l1_size = instar_be32(h + 36), rt_clusters = instar_be32(h + 56);
    uint32_t nb_snap = instar_be32(h + 60);
    uint64_t snap_off = instar_be64(h + 64), incompat = 0, autoclear = 0;
    uint32_t bits = 16, hlen = 72;
    if ((version != 2 && version != 3) || q.cluster_bits < 9 || q.cluster_bits > 21)
        return fail(w->why, w->whylen, "qcow2: version %u, cluster_bits %u", version,
                    q.cluster_bits);
    q.cs = (uint64_t)1 << q.cluster_bits;
    if (version == 3) {
        incompat = instar_be64(h + 72);
        autoclear = instar_be64(h + 88);
        uint32_t order = instar_be32(h + 96);
        hlen = instar_be32(h + 100);
        if (order > 6 || hlen < 104 || hlen > q.cs)
            return fail(w->why, w->whylen, "qcow2: refcount_order %u, header_length %u",
                        order, hlen);
        bits = 1u << order;
    }
    v->vsize = instar_be64(h + 24);
    sized(w);
    v->bs = q.cs;
    q.ext_l2 = (incompat & 0x10) != 0;
    q.data_file = (incompat & 0x4) != 0;
    q.entry = q.ext_l2 ? 16 : 8;
    q.l2_entries = q.cs / q.entry;
    q.ncl = instar_div_round_up_u64(w->fsize, q.cs);
    if (q.ncl > MAX_CLUSTERS || nb_snap > 65536)
        return limit(w, "qcow2: clusters or snapshots");
    if (q.ncl > o->nrefs) {
        uint16_t *p = realloc(o->refs, (size_t)q.ncl * sizeof *p);
        if (p == NULL)
            return fail(w->why, w->whylen, "out of memory");
        o->refs = p;
        o->nrefs = (size_t)q.ncl;
    }
    q.refs = o->refs;
    memset(q.refs, 0, (size_t)q.ncl * sizeof *q.refs);

    uint64_t rt_len = (uint64_t)rt_clusters * q.cs, rt_entries = rt_len / 8;
    if (l1_off % q.cs || rt_off % q.cs || rt_clusters == 0)
        return fail(w->why, w->whylen, "qcow2: L1 or refcount table unaligned");
    l1 = read_kept(o, 0, w->io, w->fsize, l1_off, (uint64_t)l1_size * 8);
    rt = read_kept(o, 1, w->io, w->fsize, rt_off, rt_len);
    blk = malloc((size_t)q.cs);
    if (l1 == NULL || rt == NULL || blk == NULL) {
        limit(w, "qcow2: L1 or refcount table");
        goto out;
    }
    if (!qref(&q, 0, q.cs, "header", 0) || !qref(&q, l1_off, (uint64_t)l1_size * 8, "L1 table", 0)
        || !qref(&q, rt_off, rt_len, "refcount table", 0))
        goto out;
    for (uint64_t i = 0; i < rt_entries; i++) {
        uint64_t off = instar_be64(rt + 8 * i) & ~(uint64_t)511;
        if (off == 0)
            continue;
        if (off % q.cs != 0) {
            fail(w->why, w->whylen, "qcow2: refcount block %" PRIu64 " unaligned", i);
            goto out;
        }
        if (!qref(&q, off, q.cs, "refcount block", i))
            goto out;
    }
    if (!q_walk_l1(&q, l1, l1_size, true))
        goto out;

    /* Snapshots: the table and each snapshot's L1 (and through it its L2
     * tables and data, counted once per table that points at them). */
    if (nb_snap > 0) {
        uint64_t pos = 0;
        for (uint32_t s = 0; s < nb_snap; s++) {
            uint8_t e[40];
            if (!inside(snap_off + pos, 40, w->fsize) ||
                instar_io_read(w->io, e, 40, snap_off + pos) != INSTAR_OK) {
                fail(w->why, w->whylen, "qcow2: snapshot %u outside the file", s);
                goto out;
            }
            uint64_t sl1 = instar_be64(e), len = 40 + (uint64_t)instar_be32(e + 36)
                + instar_be16(e + 12) + instar_be16(e + 14);
            uint32_t sl1n = instar_be32(e + 8);
            pos += (len + 7) & ~(uint64_t)7;
            if (sl1 % q.cs != 0 || !qref(&q, sl1, (uint64_t)sl1n * 8, "snapshot L1 table", s))
                goto out;
            free(snap);
            snap = read_alloc(w->io, w->fsize, sl1, (uint64_t)sl1n * 8);
            if (snap == NULL) {
                limit(w, "qcow2: a snapshot's L1 table");
                goto out;
            }
            if (!q_walk_l1(&q, snap, sl1n, false))
                goto out;
        }
        if (!qref(&q, snap_off, pos, "snapshot table", 0))
            goto out;
    }

    /* Bitmaps, when the autoclear bit says the extension is valid. */
    if (autoclear & 1) {
        if (!grow_buf(o, q.cs)) {
            fail(w->why, w->whylen, "out of memory");
            goto out;
        }
        uint8_t *hc = o->buf;
        uint64_t hn = w->fsize < q.cs ? w->fsize : q.cs;
        memset(hc, 0, (size_t)q.cs);
        if (instar_io_read(w->io, hc, (size_t)hn, 0) != INSTAR_OK) {
            fail(w->why, w->whylen, "qcow2: header cluster unreadable");
            goto out;
        }
        const struct instar_spec_qcow2_bitmaps bm = instar_spec_qcow2_find_bitmaps(hc, hlen, q.cs);
        const uint64_t dir_off = bm.dir_off, dir_len = bm.dir_len;
        const uint32_t nbm = bm.count;
        if (nbm > 0) {
            if (!qref(&q, dir_off, dir_len, "bitmap directory", 0))
                goto out;
            bmdir = read_alloc(w->io, w->fsize, dir_off, dir_len);
            if (bmdir == NULL) {
                limit(w, "qcow2: bitmap directory");
                goto out;
            }
            uint64_t p = 0;
            for (uint32_t b = 0; b < nbm && p + 24 <= dir_len; b++) {
                uint64_t toff = instar_be64(bmdir + p);
                uint32_t tsize = instar_be32(bmdir + p + 8);
                uint64_t elen = 24 + (uint64_t)instar_be32(bmdir + p + 20)
                    + instar_be16(bmdir + p + 18);
                p += (elen + 7) & ~(uint64_t)7;
                if (!qref(&q, toff, (uint64_t)tsize * 8, "bitmap table", b))
                    goto out;
                uint8_t *t = read_alloc(w->io, w->fsize, toff, (uint64_t)tsize * 8);
                if (t == NULL) {
                    limit(w, "qcow2: a bitmap table");
                    goto out;
                }
                for (uint32_t k = 0; k < tsize; k++) {
                    uint64_t d = instar_be64(t + 8 * (uint64_t)k) & Q_OFF_MASK;
                    if (d != 0 && !qref(&q, d, q.cs, "bitmap data", k)) {
                        free(t);
                        goto out;
                    }
                }
                free(t);
            }
        }
    }

    /* Refcounts on disk against the references counted above, and the
     * active tables' COPIED flags against them. */
    v->exact = true;
    uint64_t cached = UINT64_MAX;
    for (uint64_t c = 0; c < q.ncl; c++) {
        uint64_t rc;
        if (!q_refcount(&q, rt, rt_entries, bits, blk, &cached, c, &rc)) {
            fail(w->why, w->whylen, "qcow2: refcount block unreadable");
            goto out;
        }
        if (rc < q.refs[c]) {
            fail(w->why, w->whylen, "qcow2: cluster %" PRIu64 " (0x%" PRIx64 ") has refcount %"
                 PRIu64 " but %u references", c, c * q.cs, rc, q.refs[c]);
            goto out;
        }
        /* A leak the start already had past its end, now inside. */
        bool inherited = q.refs[c] == 0 && c >= o->tail_from;
        if (rc != q.refs[c] && v->exact && !inherited) {
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "cluster %" PRIu64 " (0x%" PRIx64
                     ") has refcount %" PRIu64 " but %u references", c, c * q.cs, rc, q.refs[c]);
        }
    }
    /* Refcounts of clusters past the end of the file: qemu-img check
     * does not look there, but they are leaks all the same, and a grow
     * that extends the file brings them inside it (qemu-img 7.2's too:
     * its allocator skips them).  The start records where they begin;
     * the result must have none other than those. */
    uint64_t per = q.cs * 8 / bits;
    for (uint64_t ti = instar_spec_next_entry(rt, q.ncl / per, rt_entries, 8);
         ti < rt_entries && v->exact; ti = instar_spec_next_entry(rt, ti + 1, rt_entries, 8)) {
        uint64_t first = ti * per > q.ncl ? 0 : q.ncl - ti * per, rc;
        if ((instar_be64(rt + 8 * ti) & ~(uint64_t)511) == 0)
            continue;           /* no block: q_refcount leaves BLK stale */
        if (!q_refcount(&q, rt, rt_entries, bits, blk, &cached, ti * per + first, &rc)) {
            fail(w->why, w->whylen, "qcow2: refcount block unreadable");
            goto out;
        }
        uint64_t k = q_first_nonzero(blk, first, per, bits);
        if (k == per)
            continue;
        uint64_t c = ti * per + k;
        if (w->note_stale) {
            o->tail_from = q.ncl;   /* tolerated after, once inside */
            break;
        }
        if (c < o->tail_from) {
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "cluster %" PRIu64 " (0x%" PRIx64
                     ") past the end of the file has refcount %" PRIu64, c, c * q.cs,
                     instar_spec_qcow2_refcount(blk, k, bits));
        }
    }
    for (uint64_t i = instar_spec_next_entry(l1, 0, l1_size, 8); i < l1_size && v->exact;
         i = instar_spec_next_entry(l1, i + 1, l1_size, 8)) {
        uint64_t e = instar_be64(l1 + 8 * i), off = e & Q_OFF_MASK;
        if (off == 0)
            continue;
        if (((e & Q_COPIED) != 0) != (q.refs[off / q.cs] == 1)) {
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "L1 entry %" PRIu64 ": COPIED flag %d "
                     "but refcount %u", i, (e & Q_COPIED) != 0, q.refs[off / q.cs]);
        }
    }
    ok = true;
out:
    free(snap);
    free(blk);
    free(bmdir);
    return ok;
}

/* ---- vhd ------------------------------------------------------------------ */

/* The VHD specification's CHS for a disk of TOTAL sectors (appendix
 * "CHS Calculation"). */
static void vhd_chs(uint64_t total, uint32_t *c, uint32_t *h, uint32_t *s)
{
    uint64_t cth, spt, heads;
    if (total > 65535ULL * 16 * 255)
        total = 65535ULL * 16 * 255;
    if (total >= 65535ULL * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    *c = (uint32_t)(cth / heads);
    *h = (uint32_t)heads;
    *s = (uint32_t)spt;
}

/* The footer's geometry is the specification's for its size, and the size
 * is that geometry's (as qemu-img create writes them). */
static void vhd_geometry_check(struct instar_oracle_view *v, const uint8_t *f)
{
    uint32_t c, h, s, fc = instar_be16(f + 56), fh = f[58], fs = f[59];
    vhd_chs(v->vsize / 512, &c, &h, &s);
    v->geometry = c == fc && h == fh && s == fs && (uint64_t)c * h * s * 512 == v->vsize;
    if (!v->geometry)
        snprintf(v->geometry_why, sizeof v->geometry_why, "footer CHS %u/%u/%u for size %"
                 PRIu64 " (specification: %u/%u/%u)", fc, fh, fs, v->vsize, c, h, s);
}

static bool walk_vhd(struct walk *w)
{
    struct instar_oracle *o = w->o;
    struct instar_oracle_view *v = w->v;
    uint8_t f[512], dh[1024];
    if (w->fsize < 512 || instar_io_read(w->io, f, 512, w->fsize - 512) != INSTAR_OK ||
        memcmp(f, "conectix", 8) != 0)
        return fail(w->why, w->whylen, "vhd: no footer");
    v->vsize = instar_be64(f + 48);
    sized(w);
    vhd_geometry_check(v, f);
    uint32_t type = instar_be32(f + 60);
    v->exact = true;
    o->nspans = 0;
    if (type == 2) {
        /* Fixed: the guest is the file's first vsize bytes. */
        v->bs = PIECE;
        if (w->fsize - 512 < v->vsize) {
            v->exact = false;
            snprintf(v->inexact, sizeof v->inexact, "fixed disk shorter than its size");
        }
        for (uint64_t g = next_piece(w, 0); g < w->fsize / PIECE + 1 && g * PIECE < v->vsize &&
             g * PIECE < w->fsize - 512; g = next_piece(w, g + 1))
            if (!guest_block(w, g, g * PIECE, 0))
                return false;
        return true;
    }
    if (type != 3 && type != 4)
        return fail(w->why, w->whylen, "vhd: disk type %u", type);
    uint64_t doff = instar_be64(f + 16);
    if (!inside(doff, 1024, w->fsize) || instar_io_read(w->io, dh, 1024, doff) != INSTAR_OK ||
        memcmp(dh, "cxsparse", 8) != 0)
        return fail(w->why, w->whylen, "vhd: no dynamic header");
    uint64_t bat = instar_be64(dh + 16);
    uint32_t mte = instar_be32(dh + 28), bs = instar_be32(dh + 32);
    if (bs < 512 || !instar_is_pow2_u64(bs))
        return fail(w->why, w->whylen, "vhd: block size %u", bs);
    if ((uint64_t)mte * 4 > MAX_TABLE)
        return limit(w, "vhd: BAT");
    v->bs = bs;
    uint8_t *t = read_alloc(w->io, w->fsize, bat, (uint64_t)mte * 4);
    if (t == NULL)
        return limit(w, "vhd: BAT");
    uint64_t bitmap = ((uint64_t)bs / 512 / 8 + 511) / 512 * 512;
    bool ok = add_span(o, 0, 512, S_FOOTER0, 0) && add_span(o, doff, 1024, S_DYNH, 0)
        && add_span(o, bat, ((uint64_t)mte * 4 + 511) / 512 * 512, S_BAT, 0)
        && add_span(o, w->fsize - 512, 512, S_FOOTER, 0);
    for (uint32_t i = 0; ok && i < mte; i++) {
        uint32_t e = instar_be32(t + 4 * (uint64_t)i);
        if (e == UINT32_MAX)
            continue;
        uint64_t host = (uint64_t)e * 512;
        ok = add_span(o, host, bitmap + bs, S_BLOCK, i) && guest_block(w, i, host + bitmap, 0);
    }
    free(t);
    if (!ok)
        return w->why[0] ? false : fail(w->why, w->whylen, "out of memory");
    judge_spans(o, v, w->fsize);
    return true;
}

/* ---- vhdx ----------------------------------------------------------------- */


/* MS-VHDX 2.2.2: a header is valid when its signature is "head", its
 * Version is 1 and its Checksum is the CRC-32C of the 4 KiB header with
 * the checksum field taken as zero.  Records the valid headers'
 * sequence numbers in V. */
static bool vhdx_headers(struct walk *w, struct instar_oracle_view *v)
{
    uint8_t h[4096];
    v->hdr_valid = 0;
    v->hdr_seq_min = UINT64_MAX;
    v->hdr_seq_max = 0;
    for (int i = 0; i < 2; i++) {
        if (instar_io_read(w->io, h, sizeof h, (uint64_t)(i + 1) * 65536) != INSTAR_OK)
            return false;
        if (memcmp(h, "head", 4) != 0 || instar_le16(h + 66) != 1 ||
            !instar_spec_vhdx_crc_ok(h, sizeof h))
            continue;
        uint64_t seq = instar_le64(h + 8);
        v->hdr_valid++;
        if (seq < v->hdr_seq_min)
            v->hdr_seq_min = seq;
        if (seq > v->hdr_seq_max)
            v->hdr_seq_max = seq;
    }
    return true;
}

static bool walk_vhdx(struct walk *w)
{
    struct instar_oracle *o = w->o;
    struct instar_oracle_view *v = w->v;
    uint8_t hd[2][80], rt[16 + 32 * 16], mt[32 + 32 * 16];
    const uint64_t MiB = (uint64_t)1 << 20;
    if (w->fsize < MiB)
        return fail(w->why, w->whylen, "vhdx: shorter than the header section");
    int cur = -1;
    for (int i = 0; i < 2; i++) {
        if (instar_io_read(w->io, hd[i], 80, (uint64_t)(i + 1) * 65536) != INSTAR_OK)
            return fail(w->why, w->whylen, "vhdx: header unreadable");
        if (memcmp(hd[i], "head", 4) == 0 &&
            (cur < 0 || instar_le64(hd[i] + 8) > instar_le64(hd[cur] + 8)))
            cur = i;
    }
    if (cur < 0)
        return fail(w->why, w->whylen, "vhdx: no header");
    if (!vhdx_headers(w, v))
        return fail(w->why, w->whylen, "vhdx: header unreadable");
    uint32_t log_len = instar_le32(hd[cur] + 68);
    uint64_t log_off = instar_le64(hd[cur] + 72);
    if (instar_io_read(w->io, rt, sizeof rt, 192 * 1024) != INSTAR_OK || memcmp(rt, "regi", 4))
        return fail(w->why, w->whylen, "vhdx: no region table");
    uint32_t n = instar_le32(rt + 8);
    const struct instar_spec_vhdx_regions reg = instar_spec_vhdx_find_regions(rt, n < 16 ? n : 16);
    const uint64_t bat_off = reg.bat_off, meta_off = reg.meta_off;
    const uint32_t bat_len = reg.bat_len, meta_len = reg.meta_len;
    if (bat_off == 0 || meta_off == 0 || !inside(meta_off, sizeof mt, w->fsize) ||
        instar_io_read(w->io, mt, sizeof mt, meta_off) != INSTAR_OK ||
        memcmp(mt, "metadata", 8) != 0)
        return fail(w->why, w->whylen, "vhdx: no BAT or metadata");
    uint32_t bs = 0, lss = 0;
    uint16_t items = instar_le16(mt + 10);
    v->vsize = 0;
    for (uint32_t i = 0; i < items && i < 16; i++) {
        const uint8_t *e = mt + 32 + 32 * i;
        uint8_t val[8];
        uint32_t ioff = instar_le32(e + 16);
        if (!inside(meta_off + ioff, 8, w->fsize) ||
            instar_io_read(w->io, val, 8, meta_off + ioff) != INSTAR_OK)
            return fail(w->why, w->whylen, "vhdx: metadata item unreadable");
        if (memcmp(e, instar_spec_vhdx_size, 16) == 0)
            v->vsize = instar_le64(val);
        else if (memcmp(e, instar_spec_vhdx_params, 16) == 0)
            bs = instar_le32(val);
        else if (memcmp(e, instar_spec_vhdx_lss, 16) == 0)
            lss = instar_le32(val);
    }
    if (bs < MiB || bs > 256 * MiB || !instar_is_pow2_u64(bs) || (lss != 512 && lss != 4096))
        return fail(w->why, w->whylen, "vhdx: block size %u, sector size %u", bs, lss);
    v->bs = bs;
    v->exact = true;
    sized(w);
    uint64_t chunk = ((uint64_t)1 << 23) * lss / bs;
    uint64_t blocks = instar_div_round_up_u64(v->vsize, bs);
    uint64_t entries = blocks + (blocks ? (blocks - 1) / chunk : 0);
    if (entries * 8 > bat_len)
        return fail(w->why, w->whylen, "vhdx: BAT of %u bytes for %" PRIu64 " entries",
                    bat_len, entries);
    if (bat_len > MAX_TABLE)
        return limit(w, "vhdx: BAT");
    uint8_t *t = read_alloc(w->io, w->fsize, bat_off, entries * 8);
    if (t == NULL)
        return limit(w, "vhdx: BAT");
    o->nspans = 0;
    bool ok = add_span(o, 0, MiB, S_HSECT, 0) && add_span(o, log_off, log_len, S_LOG, 0)
        && add_span(o, bat_off, bat_len, S_BAT, 0) && add_span(o, meta_off, meta_len, S_META, 0);
    for (uint64_t k = 0; ok && k < entries; k++) {
        uint64_t e = instar_le64(t + 8 * k), state = e & 7, host = (e >> 20) << 20;
        bool bitmap_entry = (k + 1) % (chunk + 1) == 0;
        if (bitmap_entry) {
            if (state == 6)
                ok = add_span(o, host, MiB, S_SBM, k);
            continue;
        }
        uint64_t guest = k - k / (chunk + 1);
        if (state != 6 && state != 7)
            continue;       /* not present, undefined, zero, unmapped: zeros */
        ok = add_span(o, host, bs, S_PAYLOAD, guest) && guest_block(w, guest, host, 0);
    }
    free(t);
    if (!ok)
        return w->why[0] ? false : fail(w->why, w->whylen, "out of memory");
    judge_spans(o, v, w->fsize);
    return true;
}

/* ---- vmdk ----------------------------------------------------------------- */

/* What follows the '=' of the line setting KEY in descriptor D, or NULL.
 * The key must be the whole name at the line's start (after blanks):
 * found anywhere, "ddb.geometry.heads" would also match inside
 * "xddb.geometry.heads" or a line starting with a quote, which no reader
 * takes for the key, and the cylinders judged were not the ones written. */
static const char *desc_key(const char *d, const char *key)
{
    size_t k = strlen(key);
    for (const char *l = d; l != NULL; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (strncmp(l, key, k) != 0)
            continue;
        const char *p = l + k;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '=')
            return p + 1;
    }
    return NULL;
}

/* The decimal number in KEY's quoted value in descriptor D, or -1. */
static int64_t desc_number(const char *d, const char *key)
{
    const char *p = desc_key(d, key);
    if (p == NULL)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '"')
        return -1;
    int64_t v = 0;
    int n = 0;
    for (; *p >= '0' && *p <= '9' && n < 18; p++, n++)
        v = v * 10 + (*p - '0');
    return n > 0 && *p == '"' ? v : -1;
}

/* The adapter of descriptor D: 1 for "ide" (or no adapter line), 0 for
 * another quoted name, -1 for a value that is not quoted on its line.
 * qemu-img create gives ide disks 16 heads and every other adapter 255. */
static int desc_adapter_ide(const char *d)
{
    const char *p = desc_key(d, "ddb.adapterType");
    if (p == NULL)
        return 1;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *close = *p == '"' ? strpbrk(p + 1, "\"\n") : NULL;
    if (close == NULL || *close != '"')
        return -1;
    return close - p == 4 && strncmp(p, "\"ide", 4) == 0;
}

/* ddb.geometry.cylinders is the capacity over heads * sectors (as
 * qemu-img create writes it; without a heads line 16 heads for ide and
 * 255 for other adapters, as create chooses them; 63 sectors). */
static void vmdk_geometry(struct walk *w, uint64_t doff, uint64_t dsec)
{
    struct instar_oracle_view *v = w->v;
    v->geometry = true;
    if (doff == 0 || dsec == 0 || !inside(doff * 512, dsec * 512, w->fsize))
        return;
    char *d = (char *)read_alloc(w->io, w->fsize, doff * 512, dsec * 512 + 1);
    if (d == NULL)
        return;
    d[dsec * 512] = '\0';
    int64_t c = desc_number(d, "ddb.geometry.cylinders"), h = desc_number(d, "ddb.geometry.heads");
    int64_t s = desc_number(d, "ddb.geometry.sectors");
    int ide = desc_adapter_ide(d);
    bool cyl_line = desc_key(d, "ddb.geometry.cylinders") != NULL;
    free(d);
    /* No heads line and an adapter no reader can name: the cylinders a
     * resize must write are unknown, so the resize must be refused. */
    if (h <= 0 && ide < 0) {
        if (cyl_line)
            snprintf(v->refuse, sizeof v->refuse, "a VMDK whose descriptor's adapter "
                     "(so its heads) cannot be read");
        return;
    }
    if (c < 0)
        return;
    if (h <= 0)
        h = ide ? 16 : 255;
    if (s <= 0)
        s = 63;
    uint64_t want = v->vsize / ((uint64_t)h * (uint64_t)s * 512);
    v->geometry = (uint64_t)c == want;
    if (!v->geometry)
        snprintf(v->geometry_why, sizeof v->geometry_why, "descriptor cylinders %" PRId64
                 " for %" PRIu64 " bytes, %" PRId64 " heads, %" PRId64 " sectors (expected %"
                 PRIu64 ")", c, v->vsize, h, s, want);
}

static bool walk_vmdk(struct walk *w)
{
    struct instar_oracle *o = w->o;
    struct instar_oracle_view *v = w->v;
    uint8_t h[512];
    if (w->fsize < 512 || instar_io_read(w->io, h, 512, 0) != INSTAR_OK ||
        memcmp(h, "KDMV", 4) != 0)
        return fail(w->why, w->whylen, "vmdk: no sparse header");
    uint32_t flags = instar_le32(h + 8), gtes = instar_le32(h + 44);
    uint64_t cap = instar_le64(h + 12), grain = instar_le64(h + 20);
    uint64_t doff = instar_le64(h + 28), dsec = instar_le64(h + 36);
    uint64_t rgd = instar_le64(h + 48), gd = instar_le64(h + 56);
    /* Without flag bit 1 the redundant directory is unused (qemu reads
     * rgdOffset only with it) and the field may name a stale copy. */
    if ((flags & 2) == 0)
        rgd = 0;
    if ((flags & 0x30000) != 0 || grain == 0 || grain > 2048 || !instar_is_pow2_u64(grain) ||
        gtes == 0 || gtes > 4096 || cap > (UINT64_MAX >> 10) || gd == 0 ||
        gd > (UINT64_MAX >> 10) || rgd > (UINT64_MAX >> 10) || doff > (UINT64_MAX >> 10) ||
        dsec > 4096)
        return limit(w, "vmdk: header");
    v->vsize = cap * 512;
    sized(w);
    vmdk_geometry(w, doff, dsec);
    /* uncleanShutdown: the tables may be stale; resizing must wait for a
     * check (the engine's documented refusal). */
    if (h[72] != 0)
        snprintf(v->refuse, sizeof v->refuse, "a VMDK whose unclean-shutdown flag is set");
    v->bs = grain * 512;
    v->exact = true;
    uint64_t ngt = instar_div_round_up_u64(cap, (uint64_t)gtes * grain);
    if (ngt * 4 > MAX_TABLE)
        return limit(w, "vmdk: grain directory");
    o->nspans = 0;
    bool ok = add_span(o, 0, 512, S_HEADER, 0) && add_span(o, doff * 512, dsec * 512, S_DESC, 0);
    uint8_t *gt = malloc((size_t)gtes * 4);
    if (gt == NULL)
        return fail(w->why, w->whylen, "out of memory");
    uint64_t dirs[2] = {gd, rgd};
    for (int d = 0; ok && d < 2; d++) {
        if (dirs[d] == 0)
            continue;
        uint8_t *t = read_alloc(w->io, w->fsize, dirs[d] * 512, ngt * 4);
        if (t == NULL) {
            free(gt);
            return limit(w, "vmdk: grain directory");
        }
        ok = add_span(o, dirs[d] * 512, ngt * 4, d ? S_RGD : S_GD, 0);
        for (uint64_t i = 0; ok && i < ngt; i++) {
            uint64_t s = instar_le32(t + 4 * i);
            if (s == 0)
                continue;
            ok = add_span(o, s * 512, (uint64_t)gtes * 4, S_GT, i);
            if (!ok || d == 1)
                continue;   /* grains through the primary directory only */
            memset(gt, 0, (size_t)gtes * 4);
            if (s * 512 < w->fsize) {
                uint64_t m = w->fsize - s * 512 < (uint64_t)gtes * 4 ? w->fsize - s * 512
                             : (uint64_t)gtes * 4;
                if (instar_io_read(w->io, gt, (size_t)m, s * 512) != INSTAR_OK) {
                    ok = fail(w->why, w->whylen, "vmdk: grain table unreadable");
                    break;
                }
            }
            for (uint64_t k = 0; ok && k < gtes; k++) {
                uint64_t g = instar_le32(gt + 4 * k), guest = i * gtes + k;
                if (g == 0 || (g == 1 && (flags & 4)))
                    continue;
                ok = add_span(o, g * 512, grain * 512, S_GRAIN, guest)
                    && guest_block(w, guest, g * 512, 0);
            }
        }
        free(t);
    }
    free(gt);
    if (!ok)
        return w->why[0] ? false : fail(w->why, w->whylen, "out of memory");
    judge_spans(o, v, w->fsize);
    return true;
}

/* ---- the two halves ------------------------------------------------------- */

static bool walk(struct instar_oracle *o, struct instar_oracle_view *v, struct instar_io *io,
                 uint64_t lim, uint64_t zero_from, bool *limited, char *why, size_t whylen)
{
    struct walk w = {o, v, io, 0, lim, zero_from, false, o->spec != NULL, why, whylen};
    bool ok;
    v->nblocks = 0;
    v->exact = false;
    v->inexact[0] = '\0';
    v->geometry = true;
    v->geometry_why[0] = '\0';
    v->stale = false;
    v->refuse[0] = '\0';
    if (whylen)
        why[0] = '\0';
    if (instar_io_size(io, &w.fsize) != INSTAR_OK)
        return fail(why, whylen, "cannot get the file size");
    switch (o->fmt) {
    case INSTAR_FORMAT_RAW: ok = walk_raw(&w); break;
    case INSTAR_FORMAT_QCOW2: ok = walk_qcow2(&w); break;
    case INSTAR_FORMAT_VPC: ok = walk_vhd(&w); break;
    case INSTAR_FORMAT_VHDX: ok = walk_vhdx(&w); break;
    case INSTAR_FORMAT_VMDK: ok = walk_vmdk(&w); break;
    default: ok = fail(why, whylen, "unknown format"); break;
    }
    if (limited)
        *limited = w.limited;
    return ok;
}

bool instar_oracle_before(struct instar_oracle *o, enum instar_format fmt,
                          struct instar_io *io, const struct instar_size_spec *spec,
                          instar_oracle_data_fn next_data, char *why, size_t whylen)
{
    o->fmt = fmt;
    o->next_data = next_data;
    o->judged = false;
    o->spec = spec;
    o->tail_from = UINT64_MAX;
    bool ok = walk(o, &o->before, io, 0, UINT64_MAX, NULL, why, whylen);
    o->spec = NULL;
    o->judged = ok;
    return ok;
}

bool instar_oracle_after(struct instar_oracle *o, struct instar_io *io, bool allow_shrink,
                         char *why, size_t whylen)
{
    if (!o->judged)
        return true;
    struct instar_oracle_view *b = &o->before, *a = &o->after;
    uint64_t old = b->vsize, zero_from;
    /* In a start image whose bookkeeping is not exact, guest blocks may
     * share bytes with metadata the resize rightly rewrites: its data and
     * zeros are not judged, only its size.  A qcow2 start that maps data
     * past its end shows that data when grown, as qemu-img 7.2 does (its
     * grow leaves L2 entries alone); the VHD and VMDK engines clear it. */
    if (!b->exact || (b->stale && o->fmt == INSTAR_FORMAT_QCOW2))
        zero_from = UINT64_MAX;
    else if (o->fmt == INSTAR_FORMAT_RAW)
        zero_from = old;
    else if (!instar_align_up_u64(old, b->bs, &zero_from))
        zero_from = UINT64_MAX;
    char w[200];
    bool limited;
    if (!walk(o, a, io, o->limit, zero_from, &limited, w, sizeof w))
        return limited || fail(why, whylen, "oracle: %s", w);
    if (b->refuse[0])
        return fail(why, whylen, "oracle: resized %s", b->refuse);
    if (!o->want_ok)
        return fail(why, whylen, "oracle: resized to %" PRIu64 " although the request "
                    "does not resolve to a size from %" PRIu64, a->vsize, old);
    uint64_t expect = o->want;
    bool ok;
    if (o->fmt == INSTAR_FORMAT_VPC)
        /* CHS geometry rounding is not modelled: the direction only. */
        ok = !(o->want >= o->old_view && a->vsize < o->old_view)
             && !(o->want <= o->old_view && a->vsize > o->old_view);
    else if (o->fmt == INSTAR_FORMAT_RAW && old == 0)
        ok = a->vsize >= o->want;   /* qemu writes a whole first block */
    else if (o->fmt == INSTAR_FORMAT_VMDK)
        ok = instar_align_up_u64(o->want, 512, &expect) && a->vsize == expect;
    else
        ok = a->vsize == expect;
    if (!ok)
        return fail(why, whylen, "oracle: virtual size %" PRIu64 " after resizing %" PRIu64
                    " to %" PRIu64, a->vsize, old, o->want);
    if (a->vsize < o->old_view && !allow_shrink)
        return fail(why, whylen, "oracle: shrank %" PRIu64 " -> %" PRIu64 " without "
                    "--shrink", old, a->vsize);
    if (a->bs != b->bs)
        return fail(why, whylen, "oracle: block size %" PRIu64 " became %" PRIu64,
                    b->bs, a->bs);
    size_t i = 0, j = 0;
    while (b->exact && (i < b->nblocks || j < a->nblocks)) {
        const struct instar_oracle_block *x = i < b->nblocks ? &b->blocks[i] : NULL;
        const struct instar_oracle_block *y = j < a->nblocks ? &a->blocks[j] : NULL;
        if (x && y && x->guest == y->guest && x->digest == y->digest) {
            i++, j++;
            continue;
        }
        uint64_t g = x && (!y || x->guest <= y->guest) ? x->guest : y->guest;
        const char *what = x && y && x->guest == y->guest ? "changed its data"
                         : x && x->guest == g ? "lost its data (reads as zeros now)"
                         : "reads non-zero data it did not have";
        return fail(why, whylen, "oracle: guest block %" PRIu64 " (guest offset 0x%" PRIx64
                    ") %s", g, g * b->bs, what);
    }
    if (b->exact && !a->exact)
        return fail(why, whylen, "oracle: bookkeeping exact before, not after: %s", a->inexact);
    /* MS-VHDX 2.2.2.1: a writer updates the non-current header with a
     * SequenceNumber greater than the current one's, and (as qemu does
     * on every open for writing, and the engine on every resize) then
     * the other one too: after a resize both headers are valid and
     * newer than any header before it. */
    if (o->fmt == INSTAR_FORMAT_VHDX && a->vsize != b->vsize && b->hdr_valid > 0
        && (a->hdr_valid != 2 || a->hdr_seq_min <= b->hdr_seq_max))
        return fail(why, whylen, "oracle: vhdx: after the resize %d valid header(s), sequence "
                    "numbers %" PRIu64 "..%" PRIu64 ", not both past the old current %" PRIu64,
                    a->hdr_valid, a->hdr_seq_min, a->hdr_seq_max, b->hdr_seq_max);
    if (b->geometry && !a->geometry)
        return fail(why, whylen, "oracle: geometry matched the size before, not after: %s",
                    a->geometry_why);
    return true;
}

void instar_oracle_free(struct instar_oracle *o)
{
    free(o->before.blocks);
    free(o->after.blocks);
    free(o->buf);
    free(o->refs);
    free(o->spans);
    free(o->tables[0]);
    free(o->tables[1]);
    memset(o, 0, sizeof *o);
}
