/* SPDX-License-Identifier: GPL-3.0-or-later */
/* reparse.c -- structural checkers for resized images (reparse.h).
 * Written from the format specifications alone, independent of the
 * planners and engines they judge.  They keep their own magic numbers
 * and offsets (not the core/resize format headers): a wrong constant there must
 * not pass both the engine and its judge. */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/reparse.h"
#include "fuzz/spec.h"
#include "instar/error.h"
#include "util/checked.h"
#include "util/endian.h"

/* Short names for spec.h's shared helpers. */
#define fail instar_spec_fail
#define inside instar_spec_inside


/* Read LEN bytes at OFF into a fresh buffer (bounded). */
static uint8_t *read_table(struct instar_io *io, uint64_t off, uint64_t len)
{
    if (len > INSTAR_REPARSE_MAX_TABLE)
        return NULL;
    uint8_t *p = malloc(len ? (size_t)len : 1);
    if (p && len && instar_io_read(io, p, (size_t)len, off) != INSTAR_OK) {
        free(p);
        return NULL;
    }
    return p;
}

/* As read_table, into kept buffer SLOT (one per table of a qcow2 walk):
 * the fuzz target re-parses every result, and fresh memory for a table of
 * tens of MiB (a 2 PiB image's L1) cost page faults and sanitizer
 * poisoning each time.  Single-threaded callers only (the fuzz target,
 * the tests). */
static uint8_t *read_kept(int slot, struct instar_io *io, uint64_t off, uint64_t len)
{
    static uint8_t *kept[2];
    static size_t cap[2];
    if (len > INSTAR_REPARSE_MAX_TABLE)
        return NULL;
    uint8_t *p = instar_spec_kept(&kept[slot], &cap[slot], (size_t)len);
    if (p == NULL || (len && instar_io_read(io, p, (size_t)len, off) != INSTAR_OK))
        return NULL;
    return p;
}

bool instar_reparse_raw(struct instar_io *io, uint64_t want, char *why, size_t whylen)
{
    uint64_t size;
    if (instar_io_size(io, &size) != INSTAR_OK)
        return fail(why, whylen, "raw: cannot get size");
    if (want != 0 && size != want)
        return fail(why, whylen, "raw: length %" PRIu64 " != new size %" PRIu64, size, want);
    return true;
}

/* ---- qcow2 -------------------------------------------------------------- */

struct q2 {
    uint64_t file_size, cs, size, l1_off, rt_off;
    uint32_t version, cluster_bits, l1_size, rt_clusters, refcount_bits, nb_snapshots;
    uint64_t incompat, autoclear, hlen;
    uint16_t *refs;             /* references per cluster (NULL: not counted) */
    uint64_t nclusters;
};

static void ref(struct q2 *q, uint64_t off, uint64_t len)
{
    if (q->refs == NULL || len == 0)
        return;
    uint64_t first = off / q->cs, last = (off + len - 1) / q->cs;
    for (uint64_t c = first; c <= last && c < q->nclusters; c++)
        if (q->refs[c] < UINT16_MAX)
            q->refs[c]++;
}


/* Persistent bitmaps (autoclear bit 0: the extension is valid): the
 * directory, each bitmap table and its data clusters are references too.
 * Without them a cluster that a bitmap table shared with guest data at
 * refcount 1 passed the start gate, and a grow that moves the table, as
 * qemu's does, freed it under the data.  What the file does not hold
 * adds nothing (qemu refuses such images; the oracle judges them).
 * HC: a scratch cluster. */
static void ref_bitmaps(struct q2 *q, struct instar_io *io, uint8_t *hc)
{
    uint64_t hn = q->file_size < q->cs ? q->file_size : q->cs;
    memset(hc, 0, (size_t)q->cs);
    if (instar_io_read(io, hc, (size_t)hn, 0) != INSTAR_OK)
        return;
    const struct instar_spec_qcow2_bitmaps bm =
        instar_spec_qcow2_find_bitmaps(hc, q->hlen, q->cs);
    if (bm.count == 0 || !inside(bm.dir_off, bm.dir_len, q->file_size))
        return;
    uint8_t *dir = read_table(io, bm.dir_off, bm.dir_len);
    if (dir == NULL)
        return;
    ref(q, bm.dir_off, bm.dir_len);
    uint64_t p = 0;
    for (uint32_t b = 0; b < bm.count && p + 24 <= bm.dir_len; b++) {
        uint64_t toff = instar_be64(dir + p);
        uint64_t tlen = (uint64_t)instar_be32(dir + p + 8) * 8;
        p += (24 + (uint64_t)instar_be32(dir + p + 20) + instar_be16(dir + p + 18) + 7) &
             ~(uint64_t)7;
        uint8_t *t = inside(toff, tlen, q->file_size) ? read_table(io, toff, tlen) : NULL;
        if (t == NULL)
            continue;
        ref(q, toff, tlen);
        for (uint64_t k = 0; k < tlen / 8; k++) {
            /* 0: all zeros, 1: all ones; else a data cluster. */
            uint64_t d = instar_be64(t + 8 * k) & 0x00fffffffffffe00ULL;
            if (d != 0 && d < q->file_size)
                ref(q, d, q->cs);
        }
        free(t);
    }
    free(dir);
}

bool instar_reparse_qcow2(struct instar_io *io, uint64_t want, char *why, size_t whylen)
{
    uint8_t h[112] = {0};
    struct q2 q;
    bool ok = false;
    uint8_t *l1 = NULL, *rt = NULL, *tbl = NULL;

    memset(&q, 0, sizeof q);
    if (instar_io_size(io, &q.file_size) != INSTAR_OK || q.file_size < 72 ||
        instar_io_read(io, h, sizeof h, 0) != INSTAR_OK)
        return fail(why, whylen, "qcow2: file too short for a header");
    if (memcmp(h, "QFI\xfb", 4) != 0)
        return fail(why, whylen, "qcow2: bad magic");
    q.version = instar_be32(h + 4);
    q.cluster_bits = instar_be32(h + 20);
    q.size = instar_be64(h + 24);
    q.l1_size = instar_be32(h + 36);
    q.l1_off = instar_be64(h + 40);
    q.rt_off = instar_be64(h + 48);
    q.rt_clusters = instar_be32(h + 56);
    q.nb_snapshots = instar_be32(h + 60);
    if (q.version != 2 && q.version != 3)
        return fail(why, whylen, "qcow2: version %u", q.version);
    if (q.cluster_bits < 9 || q.cluster_bits > 21)
        return fail(why, whylen, "qcow2: cluster_bits %u", q.cluster_bits);
    q.cs = (uint64_t)1 << q.cluster_bits;
    q.refcount_bits = 16;
    if (q.version == 3) {
        q.incompat = instar_be64(h + 72);
        q.autoclear = instar_be64(h + 88);
        uint32_t order = instar_be32(h + 96);
        uint32_t hlen = instar_be32(h + 100);
        if (order > 6)
            return fail(why, whylen, "qcow2: refcount_order %u", order);
        if (hlen < 104 || hlen % 8 != 0 || hlen > q.cs)
            return fail(why, whylen, "qcow2: header_length %u", hlen);
        q.hlen = hlen;
        q.refcount_bits = 1u << order;
        if (q.incompat & 3)
            return fail(why, whylen, "qcow2: left dirty or corrupt (incompatible 0x%" PRIx64 ")",
                        q.incompat);
    }
    if (want != 0 && q.size != want)
        return fail(why, whylen, "qcow2: header size %" PRIu64 " != new size %" PRIu64, q.size, want);
    bool ext_l2 = (q.incompat & 0x10) != 0;
    uint64_t entry = ext_l2 ? 16 : 8;
    uint64_t l2_entries = q.cs / entry;
    uint64_t need_l1 = instar_div_round_up_u64(q.size, q.cs * l2_entries);
    if (q.l1_size < need_l1)
        return fail(why, whylen, "qcow2: l1_size %u < %" PRIu64 " needed for %" PRIu64 " bytes",
                    q.l1_size, need_l1, q.size);
    if (q.l1_off % q.cs != 0 || !inside(q.l1_off, (uint64_t)q.l1_size * 8, q.file_size))
        return fail(why, whylen, "qcow2: L1 table at 0x%" PRIx64 " (%u entries) outside the "
                    "file (%" PRIu64 " bytes) or unaligned", q.l1_off, q.l1_size, q.file_size);
    uint64_t rt_len = (uint64_t)q.rt_clusters * q.cs;
    if (q.rt_clusters == 0 || q.rt_off % q.cs != 0 || !inside(q.rt_off, rt_len, q.file_size))
        return fail(why, whylen, "qcow2: refcount table at 0x%" PRIx64 " (%u clusters) outside "
                    "the file or unaligned", q.rt_off, q.rt_clusters);

    /* Count references whenever it is affordable.  With internal
     * snapshots and persistent bitmaps too: their tables only add
     * references, so the active ones counted here are a lower bound and
     * "refcount below them" stays a sound finding (skipping either let a
     * start image with a live cluster at refcount 0 pass as valid, and
     * a shrink that trusts refcounts, as qemu-img's does, cut it off). */
    uint64_t ncl = instar_div_round_up_u64(q.file_size, q.cs);
    if (ncl <= ((uint64_t)16 << 20)) {
        q.refs = calloc((size_t)ncl, sizeof *q.refs);
        q.nclusters = q.refs ? ncl : 0;
    }
    l1 = read_kept(0, io, q.l1_off, (uint64_t)q.l1_size * 8);
    rt = read_kept(1, io, q.rt_off, rt_len);
    tbl = malloc((size_t)q.cs);
    if (l1 == NULL || rt == NULL || tbl == NULL) {
        fail(why, whylen, "qcow2: tables too large to check");
        goto out;
    }
    ref(&q, 0, q.cs);
    ref(&q, q.rt_off, rt_len);
    ref(&q, q.l1_off, (uint64_t)q.l1_size * 8);
    for (uint64_t i = instar_spec_next_entry(rt, 0, rt_len / 8, 8); i < rt_len / 8;
         i = instar_spec_next_entry(rt, i + 1, rt_len / 8, 8)) {
        uint64_t off = instar_be64(rt + 8 * i) & ~(uint64_t)511;
        if (off == 0)
            continue;
        if (off % q.cs != 0 || !inside(off, q.cs, q.file_size)) {
            fail(why, whylen, "qcow2: refcount block %" PRIu64 " at 0x%" PRIx64 " outside the file",
                 i, off);
            goto out;
        }
        ref(&q, off, q.cs);
    }
    for (uint64_t i = instar_spec_next_entry(l1, 0, q.l1_size, 8); i < q.l1_size;
         i = instar_spec_next_entry(l1, i + 1, q.l1_size, 8)) {
        uint64_t off = instar_be64(l1 + 8 * i) & 0x00fffffffffffe00ULL;
        if (off == 0)
            continue;
        if (off % q.cs != 0 || !inside(off, q.cs, q.file_size)) {
            fail(why, whylen, "qcow2: L2 table %" PRIu64 " at 0x%" PRIx64 " outside the file",
                 i, off);
            goto out;
        }
        ref(&q, off, q.cs);
        if (instar_io_read(io, tbl, (size_t)q.cs, off) != INSTAR_OK) {
            fail(why, whylen, "qcow2: cannot read L2 table %" PRIu64, i);
            goto out;
        }
        for (uint64_t k = instar_spec_next_entry(tbl, 0, l2_entries, entry); k < l2_entries;
             k = instar_spec_next_entry(tbl, k + 1, l2_entries, entry)) {
            uint64_t e = instar_be64(tbl + entry * k);
            /* Compressed (a byte offset, not cluster-aligned): resize
             * never writes one, and the oracle counts their references
             * exactly on exact images.  Skipped here, for the start and
             * the result alike, so the start gate stays open to images
             * whose short refcounts led the shrink to free live metadata
             * (corpus/crashes 5c6f8469, b5fc3713).  The reserved bits
             * qemu-img check reports are masked for the same reason. */
            if (e & (1ULL << 62))
                continue;
            /* A zero-flag entry with an offset (bit 0) still holds its
             * cluster: a reference like any other. */
            uint64_t data = e & 0x00fffffffffffe00ULL;
            if (data == 0)
                continue;
            /* Its first byte inside the file is enough: with extended L2
             * qemu writes one subcluster of a fresh cluster at EOF, the
             * rest reads as zeros (qemu-img check agrees). */
            if (data % q.cs != 0 || data >= q.file_size) {
                fail(why, whylen, "qcow2: L2 %" PRIu64 " entry %" PRIu64 " -> 0x%" PRIx64
                     " unaligned or beyond the file", i, k, data);
                goto out;
            }
            ref(&q, data, q.cs);
        }
    }
    if (q.refs && (q.autoclear & 1))
        ref_bitmaps(&q, io, tbl);
    if (q.refs) {
        uint64_t per_block = q.cs * 8 / q.refcount_bits;
        uint64_t cached = UINT64_MAX;
        bool have = false;
        for (uint64_t c = 0; c < q.nclusters; c++) {
            if (q.refs[c] == 0)
                continue;
            uint64_t ti = c / per_block, bi = c % per_block, rc = 0;
            if (ti < rt_len / 8) {
                uint64_t boff = instar_be64(rt + 8 * ti) & ~(uint64_t)511;
                if (boff != 0 && ti != cached) {
                    have = instar_io_read(io, tbl, (size_t)q.cs, boff) == INSTAR_OK;
                    cached = ti;
                } else if (boff == 0) {
                    have = false;
                    cached = UINT64_MAX;
                }
                if (have)
                    rc = instar_spec_qcow2_refcount(tbl, bi, q.refcount_bits);
            }
            if (rc < q.refs[c]) {
                fail(why, whylen, "qcow2: cluster %" PRIu64 " (0x%" PRIx64 ") has refcount %"
                     PRIu64 " but %u references", c, c * q.cs, rc, q.refs[c]);
                goto out;
            }
        }
    }
    ok = true;
out:
    free(q.refs);
    free(tbl);
    return ok;
}

/* ---- vhd ---------------------------------------------------------------- */

static uint32_t vhd_sum(const uint8_t *p, size_t n, size_t field)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        if (i < field || i >= field + 4)
            s += p[i];
    return ~s;
}

bool instar_reparse_vhd(struct instar_io *io, uint64_t want, char *why, size_t whylen)
{
    uint8_t f[512], f0[512], dh[1024];
    uint64_t size;
    if (instar_io_size(io, &size) != INSTAR_OK || size < 512 ||
        instar_io_read(io, f, 512, size - 512) != INSTAR_OK)
        return fail(why, whylen, "vhd: no footer");
    if (memcmp(f, "conectix", 8) != 0)
        return fail(why, whylen, "vhd: no footer cookie at EOF-512");
    if (instar_be32(f + 64) != vhd_sum(f, 512, 64))
        return fail(why, whylen, "vhd: footer checksum");
    uint64_t cur = instar_be64(f + 48);
    uint32_t type = instar_be32(f + 60);
    if (want != 0 && cur != want)
        return fail(why, whylen, "vhd: footer size %" PRIu64 " != new size %" PRIu64, cur, want);
    if (type == 2) {
        if (size != cur + 512)
            return fail(why, whylen, "vhd: fixed disk file %" PRIu64 " != size + 512", size);
        return true;
    }
    if (type != 3 && type != 4)
        return fail(why, whylen, "vhd: disk type %u", type);
    if (instar_io_read(io, f0, 512, 0) != INSTAR_OK || memcmp(f0, f, 512) != 0)
        return fail(why, whylen, "vhd: footer copy at 0 differs from the footer at EOF");
    uint64_t doff = instar_be64(f + 16);
    if (!inside(doff, 1024, size - 512) || instar_io_read(io, dh, 1024, doff) != INSTAR_OK)
        return fail(why, whylen, "vhd: dynamic header outside the file");
    if (memcmp(dh, "cxsparse", 8) != 0)
        return fail(why, whylen, "vhd: dynamic header cookie");
    uint64_t bat = instar_be64(dh + 16);
    uint32_t mte = instar_be32(dh + 28), bs = instar_be32(dh + 32);
    if (bs == 0 || !instar_is_pow2_u64(bs) || (uint64_t)mte * bs < cur)
        return fail(why, whylen, "vhd: %u entries of %u bytes do not cover %" PRIu64, mte, bs, cur);
    if (!inside(bat, (uint64_t)mte * 4, size - 512))
        return fail(why, whylen, "vhd: BAT outside the file");
    uint8_t *t = read_table(io, bat, (uint64_t)mte * 4);
    if (t == NULL)
        return fail(why, whylen, "vhd: BAT unreadable");
    uint64_t bitmap = ((uint64_t)bs / 512 / 8 + 511) / 512 * 512;
    for (uint32_t i = 0; i < mte; i++) {
        uint32_t e = instar_be32(t + 4 * (uint64_t)i);
        if (e == UINT32_MAX)
            continue;
        if (!inside((uint64_t)e * 512, bitmap + bs, size - 512)) {
            free(t);
            return fail(why, whylen, "vhd: block %u at sector %u beyond the footer", i, e);
        }
    }
    free(t);
    return true;
}

/* ---- vhdx --------------------------------------------------------------- */

/* The CRC primitive is util/crc32c.c's (tested on both its paths against
 * the bitwise definition in test-vhdx); what is checksummed, and where the
 * field sits, is decided in spec.h, independently of the engine. */
bool instar_reparse_vhdx(struct instar_io *io, uint64_t want, char *why, size_t whylen)
{
    static uint8_t big[64 * 1024];      /* region table / metadata table */
    uint8_t hd[2][4096];
    uint64_t size;
    bool valid[2];
    if (instar_io_size(io, &size) != INSTAR_OK || size < 1024 * 1024)
        return fail(why, whylen, "vhdx: file shorter than the 1 MiB header section");
    for (int i = 0; i < 2; i++) {
        if (instar_io_read(io, hd[i], 4096, (uint64_t)(i + 1) * 65536) != INSTAR_OK)
            return fail(why, whylen, "vhdx: header %d unreadable", i + 1);
        valid[i] = memcmp(hd[i], "head", 4) == 0 && instar_spec_vhdx_crc_ok(hd[i], 4096);
    }
    if (!valid[0] && !valid[1])
        return fail(why, whylen, "vhdx: no valid header");
    if (valid[0] && valid[1] && instar_le64(hd[0] + 8) == instar_le64(hd[1] + 8) &&
        memcmp(hd[0], hd[1], 4096) != 0)
        return fail(why, whylen, "vhdx: two different headers with one sequence number");
    if (instar_io_read(io, big, sizeof big, 192 * 1024) != INSTAR_OK ||
        memcmp(big, "regi", 4) != 0 || !instar_spec_vhdx_crc_ok(big, sizeof big))
        return fail(why, whylen, "vhdx: region table 1 invalid");
    uint32_t n = instar_le32(big + 8);
    const struct instar_spec_vhdx_regions reg =
        instar_spec_vhdx_find_regions(big, n < 2047 ? n : 2047);
    const uint64_t bat_off = reg.bat_off, meta_off = reg.meta_off;
    const uint32_t bat_len = reg.bat_len, meta_len = reg.meta_len;
    if (bat_off == 0 || meta_off == 0 || !inside(meta_off, 65536, size) ||
        !inside(bat_off, bat_len, size))
        return fail(why, whylen, "vhdx: BAT or metadata region missing or outside the file");
    if (instar_io_read(io, big, sizeof big, meta_off) != INSTAR_OK ||
        memcmp(big, "metadata", 8) != 0)
        return fail(why, whylen, "vhdx: metadata table signature");
    uint16_t items = instar_le16(big + 10);
    uint64_t vsize = 0;
    uint32_t bsize = 0, lss = 0;
    for (uint32_t i = 0; i < items && i < 2047; i++) {
        const uint8_t *e = big + 32 + 32 * (size_t)i;
        uint32_t ioff = instar_le32(e + 16);
        uint8_t v[8];
        if (ioff > meta_len || instar_io_read(io, v, 8, meta_off + ioff) != INSTAR_OK)
            return fail(why, whylen, "vhdx: metadata item outside the region");
        if (memcmp(e, instar_spec_vhdx_size, 16) == 0)
            vsize = instar_le64(v);
        else if (memcmp(e, instar_spec_vhdx_params, 16) == 0)
            bsize = instar_le32(v);
        else if (memcmp(e, instar_spec_vhdx_lss, 16) == 0)
            lss = instar_le32(v);
    }
    if (want != 0 && vsize != want)
        return fail(why, whylen, "vhdx: virtual disk size %" PRIu64 " != new size %" PRIu64,
                    vsize, want);
    if (bsize == 0 || !instar_is_pow2_u64(bsize) || (lss != 512 && lss != 4096))
        return fail(why, whylen, "vhdx: block size %u / logical sector size %u", bsize, lss);
    uint64_t chunk = ((uint64_t)1 << 23) * lss / bsize;
    uint64_t blocks = instar_div_round_up_u64(vsize, bsize);
    uint64_t entries = blocks + (blocks && chunk ? (blocks - 1) / chunk : 0);
    if (entries * 8 > bat_len)
        return fail(why, whylen, "vhdx: BAT region %u bytes < %" PRIu64 " entries", bat_len, entries);
    return true;
}

/* ---- vmdk --------------------------------------------------------------- */

bool instar_reparse_vmdk(struct instar_io *io, uint64_t want, char *why, size_t whylen)
{
    uint8_t h[512];
    uint64_t size;
    if (instar_io_size(io, &size) != INSTAR_OK || size < 512 ||
        instar_io_read(io, h, 512, 0) != INSTAR_OK || memcmp(h, "KDMV", 4) != 0)
        return fail(why, whylen, "vmdk: no sparse header");
    uint64_t cap = instar_le64(h + 12), grain = instar_le64(h + 20);
    uint64_t doff = instar_le64(h + 28), dsec = instar_le64(h + 36);
    uint32_t gtes = instar_le32(h + 44);
    uint64_t rgd = instar_le64(h + 48), gd = instar_le64(h + 56);
    /* The redundant directory exists only with header flag bit 1 (qemu
     * reads rgdOffset only then); without it the field may point at a
     * stale copy that nobody keeps up to date. */
    if ((instar_le32(h + 8) & 2) == 0)
        rgd = 0;
    if (want != 0 && cap != instar_div_round_up_u64(want, 512))
        return fail(why, whylen, "vmdk: capacity %" PRIu64 " sectors for new size %" PRIu64, cap, want);
    /* qemu's bound on the grain (0x200000 sectors); the product is
     * checked too (2^63 * 2 would wrap to 0). */
    uint64_t span;              /* sectors one table covers */
    if (grain == 0 || grain > 0x200000 || !instar_is_pow2_u64(grain) || gtes == 0
        || gtes > 512 || !instar_mul_u64(grain, gtes, &span))
        return fail(why, whylen, "vmdk: grain %" PRIu64 " / %u GTEs per GT", grain, gtes);
    uint64_t ngt = instar_div_round_up_u64(cap, span);
    uint64_t dirs[2] = {gd, rgd};
    for (int k = 0; k < 2; k++) {
        if (dirs[k] == 0 && k == 1)
            continue;
        if (dirs[k] > UINT64_MAX / 512 || !inside(dirs[k] * 512, ngt * 4, size))
            return fail(why, whylen, "vmdk: %s outside the file", k ? "redundant GD" : "GD");
        uint8_t *t = read_table(io, dirs[k] * 512, ngt * 4);
        if (t == NULL)
            return fail(why, whylen, "vmdk: GD unreadable");
        for (uint64_t i = 0; i < ngt; i++) {
            uint64_t s = instar_le32(t + 4 * i);
            if (s == 0 || !inside(s * 512, (uint64_t)gtes * 4, size)) {
                free(t);
                return fail(why, whylen, "vmdk: %s entry %" PRIu64 " -> sector %" PRIu64
                            " (every GT must exist inside the file)", k ? "RGD" : "GD", i, s);
            }
        }
        free(t);
    }
    /* The descriptor's extent line must describe the new capacity. */
    if (doff != 0 && dsec != 0 && dsec <= 2048 && inside(doff * 512, dsec * 512, size)) {
        char *d = (char *)read_table(io, doff * 512, dsec * 512 + 1);
        if (d == NULL)
            return fail(why, whylen, "vmdk: descriptor unreadable");
        d[dsec * 512] = '\0';
        char line[64];
        snprintf(line, sizeof line, "RW %" PRIu64 " SPARSE", cap);
        bool found = strstr(d, line) != NULL;
        free(d);
        if (!found)
            return fail(why, whylen, "vmdk: descriptor has no extent line \"%s\"", line);
    }
    return true;
}

bool instar_reparse(enum instar_format fmt, struct instar_io *io, uint64_t want,
                    char *why, size_t whylen)
{
    switch (fmt) {
    case INSTAR_FORMAT_RAW: return instar_reparse_raw(io, want, why, whylen);
    case INSTAR_FORMAT_QCOW2: return instar_reparse_qcow2(io, want, why, whylen);
    case INSTAR_FORMAT_VPC: return instar_reparse_vhd(io, want, why, whylen);
    case INSTAR_FORMAT_VHDX: return instar_reparse_vhdx(io, want, why, whylen);
    case INSTAR_FORMAT_VMDK: return instar_reparse_vmdk(io, want, why, whylen);
    case INSTAR_FORMAT_UNKNOWN: break;
    }
    return fail(why, whylen, "unknown format");
}
