/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-testimg.c -- see qcow2-testimg.h. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2-testimg.h"
#include "util/endian.h"

#define OFF_MASK 0x00fffffffffffe00ull
#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)

uint64_t timg_u64(struct timg *t, uint64_t off)
{
    uint8_t b[8];
    instar_io_read(&t->m.io, b, 8, off);
    return instar_be64(b);
}

uint32_t timg_u32(struct timg *t, uint64_t off)
{
    uint8_t b[4];
    instar_io_read(&t->m.io, b, 4, off);
    return instar_be32(b);
}

void timg_put_u64(struct timg *t, uint64_t off, uint64_t v)
{
    uint8_t b[8];
    instar_put_be64(b, v);
    instar_io_write(&t->m.io, b, 8, off);
}

void timg_put_u32(struct timg *t, uint64_t off, uint32_t v)
{
    uint8_t b[4];
    instar_put_be32(b, v);
    instar_io_write(&t->m.io, b, 4, off);
}

uint64_t timg_file_size(struct timg *t)
{
    uint64_t s;
    instar_io_size(&t->m.io, &s);
    return s;
}

static uint64_t rbe(struct timg *t)
{
    return (t->cs * 8) >> t->order;
}

static uint64_t l2e(struct timg *t)
{
    return t->cs / (t->extl2 ? 16 : 8);
}

static unsigned esz(struct timg *t)
{
    return t->extl2 ? 16 : 8;
}

/* Read one refcount of width 1 << order at index K of the block at OFF. */
static uint64_t rc_read(struct timg *t, uint64_t off, uint64_t k)
{
    unsigned bits = 1u << t->order;
    if (bits >= 8) {
        uint8_t b[8] = {0};
        uint64_t v = 0;
        instar_io_read(&t->m.io, b, bits / 8, off + k * (bits / 8));
        for (unsigned i = 0; i < bits / 8; i++)
            v = v << 8 | b[i];
        return v;
    } else {
        uint8_t b;
        uint64_t bit = k * bits;
        instar_io_read(&t->m.io, &b, 1, off + bit / 8);
        return (b >> (bit % 8)) & ((1u << bits) - 1);
    }
}

static void rc_write(struct timg *t, uint64_t off, uint64_t k, uint64_t v)
{
    unsigned bits = 1u << t->order;
    if (bits >= 8) {
        uint8_t b[8];
        for (unsigned i = 0; i < bits / 8; i++)
            b[i] = (uint8_t)(v >> (8 * (bits / 8 - 1 - i)));
        instar_io_write(&t->m.io, b, bits / 8, off + k * (bits / 8));
    } else {
        uint8_t b;
        uint64_t bit = k * bits;
        unsigned mask = ((1u << bits) - 1) << (bit % 8);
        instar_io_read(&t->m.io, &b, 1, off + bit / 8);
        b = (uint8_t)((b & ~mask) | ((v << (bit % 8)) & mask));
        instar_io_write(&t->m.io, &b, 1, off + bit / 8);
    }
}

uint64_t timg_get_rc(struct timg *t, uint64_t c)
{
    uint64_t rt = timg_u64(t, 48), rtc = timg_u32(t, 56);
    uint64_t i = c / rbe(t), e;
    if (i >= rtc * t->cs / 8)
        return 0;
    e = timg_u64(t, rt + i * 8) & ~511ull;
    if (e == 0)
        return 0;
    return rc_read(t, e, c % rbe(t));
}

static uint64_t end_cluster(struct timg *t)
{
    return (timg_file_size(t) + t->cs - 1) / t->cs;
}

static uint64_t grab(struct timg *t)
{
    uint64_t c = end_cluster(t);
    t->m.io.ops->zero(&t->m.io, c * t->cs, t->cs);
    return c;
}

void timg_set_rc(struct timg *t, uint64_t c, uint64_t v)
{
    uint64_t rt = timg_u64(t, 48);
    uint64_t i = c / rbe(t), e = timg_u64(t, rt + i * 8) & ~511ull;
    if (e == 0) {
        uint64_t b = grab(t);
        e = b * t->cs;
        timg_put_u64(t, rt + i * 8, e);
        timg_set_rc(t, b, 1);
    }
    rc_write(t, e, c % rbe(t), v);
}

uint64_t timg_alloc(struct timg *t)
{
    uint64_t c = grab(t);
    timg_set_rc(t, c, 1);
    return c;
}

struct timg_opts timg_defaults(uint64_t size, unsigned cluster_bits)
{
    struct timg_opts o;
    memset(&o, 0, sizeof o);
    o.size = size;
    o.cluster_bits = cluster_bits;
    return o;
}

int timg_create(struct timg *t, const struct timg_opts *o)
{
    uint8_t h[512];
    uint64_t l1_size, rtc = o->rt_clusters ? o->rt_clusters : 1;
    memset(t, 0, sizeof *t);
    t->cb = o->cluster_bits ? o->cluster_bits : 16;
    t->cs = 1ull << t->cb;
    t->order = o->order_set ? o->refcount_order : 4;
    t->version = o->version ? o->version : 3;
    t->extl2 = o->extl2;
    {
        uint64_t cover = t->cs * l2e(t);
        l1_size = (o->size + cover - 1) / cover;
    }
    instar_mem_io_init(&t->m, 1ull << 31);
    memset(h, 0, sizeof h);
    instar_put_be32(h, 0x514649fb);
    instar_put_be32(h + 4, t->version);
    instar_put_be32(h + 20, t->cb);
    instar_put_be64(h + 24, o->size);
    instar_put_be32(h + 36, (uint32_t)l1_size);
    instar_put_be64(h + 40, l1_size ? (2 + rtc) * t->cs : 0);
    instar_put_be64(h + 48, t->cs);
    instar_put_be32(h + 56, (uint32_t)rtc);
    if (t->version == 3) {
        instar_put_be64(h + 72, t->extl2 ? 16 : 0);
        instar_put_be64(h + 80, o->lazy ? 1 : 0);
        instar_put_be32(h + 96, t->order);
        instar_put_be32(h + 100, 112);
        if (o->feature_table) {
            instar_put_be32(h + 112, 0x6803f857);
            instar_put_be32(h + 116, 48);
            h[120] = 0;
            h[121] = 0;
            memcpy(h + 122, "dirty bit", 9);
        }
    }
    if (instar_mem_io_load(&t->m, h, sizeof h) != 0)
        return -1;
    t->m.io.ops->zero(&t->m.io, 0, (2 + rtc) * t->cs + l1_size * 8);
    instar_io_write(&t->m.io, h, sizeof h, 0);
    timg_put_u64(t, t->cs, (1 + rtc) * t->cs);
    for (uint64_t c = 0; c < 2 + rtc + (l1_size ? (l1_size * 8 + t->cs - 1) / t->cs : 0); c++)
        rc_write(t, (1 + rtc) * t->cs, c, 1);
    return 0;
}

int timg_create_many_l2(struct timg *t, uint64_t n)
{
    const uint64_t cs = 512, rbe = 256;
    uint64_t l1c = (n * 8 + cs - 1) / cs, rtc = 1, nrb = 1, total, rb0, l10, d0;
    uint8_t *buf;
    int rc;
    for (;;) {
        for (;;) {
            uint64_t need;
            total = 1 + rtc + nrb + l1c + 2 * n;
            need = (total + rbe - 1) / rbe;
            if (need <= nrb)
                break;
            nrb = need;
        }
        if (nrb * 8 <= rtc * cs)
            break;
        rtc++;
    }
    rb0 = 1 + rtc;
    l10 = rb0 + nrb;
    d0 = l10 + l1c;
    buf = calloc(total, cs);
    if (buf == NULL)
        return -1;
    instar_put_be32(buf, 0x514649fb);
    instar_put_be32(buf + 4, 3);
    instar_put_be32(buf + 20, 9);
    instar_put_be64(buf + 24, n * 32768);
    instar_put_be32(buf + 36, (uint32_t)n);
    instar_put_be64(buf + 40, l10 * cs);
    instar_put_be64(buf + 48, cs);
    instar_put_be32(buf + 56, (uint32_t)rtc);
    instar_put_be32(buf + 96, 4);
    instar_put_be32(buf + 100, 104);
    for (uint64_t i = 0; i < nrb; i++)
        instar_put_be64(buf + cs + i * 8, (rb0 + i) * cs);
    for (uint64_t c = 0; c < total; c++)
        instar_put_be16(buf + (rb0 + c / rbe) * cs + (c % rbe) * 2, 1);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l2 = d0 + 2 * i, d = l2 + 1;
        instar_put_be64(buf + l10 * cs + i * 8, (l2 * cs) | COPIED);
        instar_put_be64(buf + l2 * cs, (d * cs) | COPIED);
        memset(buf + d * cs, 0x5a, cs);
    }
    memset(t, 0, sizeof *t);
    t->cb = 9;
    t->cs = cs;
    t->order = 4;
    t->version = 3;
    instar_mem_io_init(&t->m, 1ull << 31);
    rc = instar_mem_io_load(&t->m, buf, (size_t)(total * cs));
    free(buf);
    return rc == 0 ? 0 : -1;
}

void timg_free(struct timg *t)
{
    instar_mem_io_free(&t->m);
}

static uint64_t l2_table(struct timg *t, uint64_t gc, bool create)
{
    uint64_t l1 = timg_u64(t, 40), i = gc / l2e(t);
    uint64_t e = timg_u64(t, l1 + i * 8) & OFF_MASK;
    if (i >= timg_u32(t, 36))
        return 0;
    if (e == 0 && create) {
        e = timg_alloc(t) * t->cs;
        timg_put_u64(t, l1 + i * 8, e | COPIED);
    }
    return e;
}

uint64_t timg_l2_entry(struct timg *t, uint64_t gc)
{
    uint64_t l2 = l2_table(t, gc, false);
    return l2 ? timg_u64(t, l2 + (gc % l2e(t)) * esz(t)) : 0;
}

void timg_write_cluster(struct timg *t, uint64_t gc, uint8_t byte)
{
    uint64_t l2 = l2_table(t, gc, true), slot = l2 + (gc % l2e(t)) * esz(t);
    uint64_t e = timg_u64(t, slot) & OFF_MASK;
    uint8_t *buf = malloc(t->cs);
    if (e == 0) {
        e = timg_alloc(t) * t->cs;
        timg_put_u64(t, slot, e | COPIED);
        if (t->extl2)
            timg_put_u64(t, slot + 8, 0xffffffffull);
    }
    memset(buf, byte, t->cs);
    instar_io_write(&t->m.io, buf, t->cs, e);
    free(buf);
}

void timg_compressed(struct timg *t, uint64_t gc)
{
    uint64_t l2 = l2_table(t, gc, true), slot = l2 + (gc % l2e(t)) * esz(t);
    uint64_t c = timg_alloc(t);
    unsigned x = 62 - (t->cb - 8);
    timg_alloc(t);
    /* 2 sectors from the last sector of cluster C: covers C and C+1. */
    timg_put_u64(t, slot, COMPRESSED | (1ull << x) | (c * t->cs + t->cs - 512));
    if (t->extl2)
        timg_put_u64(t, slot + 8, 0);
}

void timg_zero_entry(struct timg *t, uint64_t gc)
{
    uint64_t l2 = l2_table(t, gc, true), slot = l2 + (gc % l2e(t)) * esz(t);
    if (t->extl2) {
        timg_put_u64(t, slot, 0);
        timg_put_u64(t, slot + 8, 0xffffffff00000000ull);
    } else {
        timg_put_u64(t, slot, 1);
    }
}

void timg_read(struct timg *t, uint64_t off, uint8_t *buf, uint64_t len)
{
    while (len > 0) {
        uint64_t gc = off / t->cs, in = off % t->cs, n = t->cs - in;
        uint64_t e = timg_l2_entry(t, gc);
        if (n > len)
            n = len;
        if ((e & COMPRESSED) || (e & OFF_MASK) == 0 || (!t->extl2 && (e & 1)))
            memset(buf, 0, n);
        else
            instar_io_read(&t->m.io, buf, n, (e & OFF_MASK) + in);
        buf += n;
        off += n;
        len -= n;
    }
}

static void inc_clusters(struct timg *t, uint64_t e, void (*f)(void *, uint64_t), void *arg)
{
    if (e & COMPRESSED) {
        unsigned x = 62 - (t->cb - 8);
        uint64_t off = e & ((1ull << x) - 1);
        uint64_t n = ((e >> x) & ((1ull << (t->cb - 8)) - 1)) + 1;
        uint64_t size = n * 512 - (off & 511);
        for (uint64_t c = off / t->cs; c <= (off + size - 1) / t->cs; c++)
            f(arg, c);
    } else if (e & OFF_MASK) {
        f(arg, (e & OFF_MASK) / t->cs);
    }
}

static void snap_inc(void *arg, uint64_t c)
{
    struct timg *t = arg;
    timg_set_rc(t, c, timg_get_rc(t, c) + 1);
}

void timg_snapshot(struct timg *t)
{
    uint64_t l1 = timg_u64(t, 40), n = timg_u32(t, 36);
    uint64_t ncl = (n * 8 + t->cs - 1) / t->cs, first = 0, st;
    uint8_t e[64];
    for (uint64_t k = 0; k < ncl; k++) {
        uint64_t c = timg_alloc(t);
        if (k == 0)
            first = c;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t le = timg_u64(t, l1 + i * 8), l2 = le & OFF_MASK;
        timg_put_u64(t, first * t->cs + i * 8, le & ~COPIED);
        if (l2 == 0)
            continue;
        timg_put_u64(t, l1 + i * 8, le & ~COPIED);
        snap_inc(t, l2 / t->cs);
        for (uint64_t j = 0; j < l2e(t); j++) {
            uint64_t x = timg_u64(t, l2 + j * esz(t));
            inc_clusters(t, x, snap_inc, t);
            timg_put_u64(t, l2 + j * esz(t), x & ~COPIED);
        }
    }
    st = timg_alloc(t);
    memset(e, 0, sizeof e);
    instar_put_be64(e, first * t->cs);
    instar_put_be32(e + 8, (uint32_t)n);
    instar_put_be16(e + 12, 1);
    instar_put_be16(e + 14, 1);
    instar_put_be32(e + 36, 16);
    instar_put_be64(e + 48, timg_u64(t, 24));
    e[56] = '1';
    e[57] = 's';
    instar_io_write(&t->m.io, e, 64, st * t->cs);
    timg_put_u32(t, 60, 1);
    timg_put_u64(t, 64, st * t->cs);
}

/* The offset of the end marker of the header extension list. */
static uint64_t ext_end(struct timg *t)
{
    uint64_t off = t->version == 3 ? timg_u32(t, 100) : 72;
    while (timg_u32(t, off) != 0)
        off += 8 + ((timg_u32(t, off + 4) + 7ull) & ~7ull);
    return off;
}

uint64_t timg_bitmap(struct timg *t, unsigned gbits, uint32_t flags)
{
    uint64_t size = timg_u64(t, 24), bits = (size + (1ull << gbits) - 1) >> gbits;
    uint64_t tsize = ((bits + 7) / 8 + t->cs - 1) / t->cs, e = ext_end(t);
    uint64_t dir = timg_alloc(t), tab, data;
    uint8_t ent[32], ones[16];
    if (tsize == 0)
        tsize = 1;
    tab = timg_alloc(t);
    for (uint64_t k = 1; k < (tsize * 8 + t->cs - 1) / t->cs; k++)
        timg_alloc(t);
    data = timg_alloc(t);
    memset(ones, 0xff, sizeof ones);
    instar_io_write(&t->m.io, ones, sizeof ones, data * t->cs);
    timg_put_u64(t, tab * t->cs, data * t->cs);
    memset(ent, 0, sizeof ent);
    instar_put_be64(ent, tab * t->cs);
    instar_put_be32(ent + 8, (uint32_t)tsize);
    instar_put_be32(ent + 12, flags);
    ent[16] = 1;
    ent[17] = (uint8_t)gbits;
    instar_put_be16(ent + 18, 2);
    ent[24] = 'b';
    ent[25] = '0';
    instar_io_write(&t->m.io, ent, sizeof ent, dir * t->cs);
    timg_put_u32(t, e, 0x23852875);
    timg_put_u32(t, e + 4, 24);
    timg_put_u32(t, e + 8, 1);
    timg_put_u32(t, e + 12, 0);
    timg_put_u64(t, e + 16, 32);
    timg_put_u64(t, e + 24, dir * t->cs);
    timg_put_u64(t, e + 32, 0);
    timg_put_u64(t, 88, timg_u64(t, 88) | 1);
    return dir * t->cs;
}

/* ---- the walker ---- */
bool timg_quiet_leaks;
struct walk {
    struct timg *t;
    uint64_t *exp;
    uint64_t n;
    unsigned errors;
};

static void ref(void *arg, uint64_t c)
{
    struct walk *w = arg;
    if (c >= w->n) {
        uint64_t nn = c + 1 > w->n * 2 ? c + 1 : w->n * 2;
        w->exp = realloc(w->exp, nn * sizeof *w->exp);
        memset(w->exp + w->n, 0, (nn - w->n) * sizeof *w->exp);
        w->n = nn;
    }
    if (c * w->t->cs >= timg_file_size(w->t)) {
        printf("# reference to cluster %llu past the end of the file\n", (unsigned long long)c);
        w->errors++;
    }
    w->exp[c]++;
}

static void ref_range(struct walk *w, uint64_t off, uint64_t bytes)
{
    for (uint64_t c = off / w->t->cs; bytes && c <= (off + bytes - 1) / w->t->cs; c++)
        ref(w, c);
}

static void walk_l1(struct walk *w, uint64_t l1, uint64_t n, bool active)
{
    struct timg *t = w->t;
    ref_range(w, l1, n * 8);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t le = timg_u64(t, l1 + i * 8), l2 = le & OFF_MASK;
        if (l2 == 0)
            continue;
        ref(w, l2 / t->cs);
        for (uint64_t j = 0; j < l2e(t); j++) {
            uint64_t x = timg_u64(t, l2 + j * esz(t));
            if (!(x & COMPRESSED) && (x & OFF_MASK) % t->cs) {
                printf("# unaligned L2 entry %llx\n", (unsigned long long)x);
                w->errors++;
                continue;
            }
            inc_clusters(t, x, ref, w);
        }
    }
    (void)active;
}

/* COPIED must be set exactly when the refcount is 1 (active tables). */
static void check_copied(struct walk *w)
{
    struct timg *t = w->t;
    uint64_t l1 = timg_u64(t, 40), n = timg_u32(t, 36);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t le = timg_u64(t, l1 + i * 8), l2 = le & OFF_MASK;
        if (l2 == 0)
            continue;
        if (((le & COPIED) != 0) != (timg_get_rc(t, l2 / t->cs) == 1)) {
            printf("# OFLAG_COPIED wrong on L1[%llu]\n", (unsigned long long)i);
            w->errors++;
        }
        for (uint64_t j = 0; j < l2e(t); j++) {
            uint64_t x = timg_u64(t, l2 + j * esz(t));
            if ((x & COMPRESSED) || (x & OFF_MASK) == 0)
                continue;
            if (((x & COPIED) != 0) != (timg_get_rc(t, (x & OFF_MASK) / t->cs) == 1)) {
                printf("# OFLAG_COPIED wrong on an L2 entry of L1[%llu]\n", (unsigned long long)i);
                w->errors++;
            }
        }
    }
}

unsigned timg_check(struct timg *t, unsigned *leaks)
{
    struct walk w = {t, NULL, 0, 0};
    uint64_t rt = timg_u64(t, 48), rtc = timg_u32(t, 56);
    uint64_t nsnap = timg_u32(t, 60), soff = timg_u64(t, 64), p;
    uint64_t file_clusters = end_cluster(t), top;
    *leaks = 0;
    ref(&w, 0);
    ref_range(&w, rt, rtc * t->cs);
    for (uint64_t i = 0; i < rtc * t->cs / 8; i++) {
        uint64_t e = timg_u64(t, rt + i * 8) & ~511ull;
        if (e)
            ref(&w, e / t->cs);
    }
    walk_l1(&w, timg_u64(t, 40), timg_u32(t, 36), true);
    p = soff;
    for (uint64_t s = 0; s < nsnap; s++) {
        uint64_t l1 = timg_u64(t, p), n = timg_u32(t, p + 8);
        uint32_t idl = timg_u32(t, p + 12) >> 16, nml = timg_u32(t, p + 12) & 0xffff;
        uint32_t extra = timg_u32(t, p + 36);
        walk_l1(&w, l1, n, false);
        p += (40 + extra + idl + nml + 7) & ~7ull;
    }
    if (nsnap)
        ref_range(&w, soff, p - soff);
    if (t->version == 3) {
        /* Persistent bitmaps: directory, tables, data clusters. */
        uint64_t off = timg_u32(t, 100);
        while (timg_u32(t, off) != 0) {
            if (timg_u32(t, off) == 0x23852875) {
                uint64_t dsize = timg_u64(t, off + 16), doff = timg_u64(t, off + 24), q = 0;
                ref_range(&w, doff, dsize);
                while (q < dsize) {
                    uint64_t tab = timg_u64(t, doff + q), ts = timg_u32(t, doff + q + 8);
                    uint32_t nm = timg_u32(t, doff + q + 16) & 0xffff;
                    ref_range(&w, tab, ts * 8);
                    for (uint64_t k = 0; k < ts; k++) {
                        uint64_t de = timg_u64(t, tab + k * 8) & 0x00fffffffffffe00ull;
                        if (de)
                            ref(&w, de / t->cs);
                    }
                    q += (24 + nm + 7) & ~7ull;
                }
            }
            off += 8 + ((timg_u32(t, off + 4) + 7ull) & ~7ull);
        }
    }
    top = w.n > file_clusters ? w.n : file_clusters;
    /* Every cluster a refcount block describes, referenced or not. */
    for (uint64_t i = 0; i < rtc * t->cs / 8; i++)
        if ((timg_u64(t, rt + i * 8) & ~511ull) && (i + 1) * rbe(t) > top)
            top = (i + 1) * rbe(t);
    for (uint64_t c = 0; c < top; c++) {
        uint64_t want = c < w.n ? w.exp[c] : 0, have = timg_get_rc(t, c);
        if (want == have)
            continue;
        /* As qemu-img check: more counted than referenced is a leak,
         * fewer is a corruption. */
        if (have > want) {
            (*leaks)++;
            if (!timg_quiet_leaks)
                printf("# leaked cluster %llu (refcount %llu)\n", (unsigned long long)c,
                   (unsigned long long)have);
        } else {
            w.errors++;
            printf("# cluster %llu: refcount %llu, references %llu\n", (unsigned long long)c,
                   (unsigned long long)have, (unsigned long long)want);
        }
    }
    check_copied(&w);
    free(w.exp);
    return w.errors;
}
