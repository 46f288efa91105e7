/* SPDX-License-Identifier: GPL-3.0-or-later */
/* seed-extract.c -- turn a real image into fuzz seed inputs (used by
 * corpus/generate.sh, which makes the images with qemu-img).
 *
 *   seed-extract planners IMAGE NEW_SIZE FLAGS [SUBFORMAT] > input
 *       the 32-byte header + pool layout of instar/fuzz.h: the image's
 *       facts in the header, its tables in the pool.  FLAGS is the flags
 *       byte (allow_shrink, preallocation); format bits are taken from the
 *       image, SUBFORMAT bits are added to them (for VHDX bit 2, tables
 *       from the input, also puts the region table in the pool).  Exit 3 when the image's layout is not the one the decoder
 *       synthesises (the seed would be meaningless).
 *   seed-extract engine IMAGE FMTSEL SPECKIND AMOUNT FLAGS > input
 *       the fuzz_resize_engine layout: parameters + the image's non-zero
 *       sectors as extents. */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar/fuzz.h"
#include "resize/qcow2-format.h"
#include "resize/vhd-format.h"
#include "resize/vhdx-format.h"
#include "resize/vmdk-format.h"
#include "util/endian.h"

static uint8_t *img;
static size_t img_len;

static int load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (256L << 20)) {
        fclose(f);
        return -1;
    }
    img_len = (size_t)n;
    img = calloc(1, img_len + 1);
    size_t got = img ? fread(img, 1, img_len, f) : 0;
    fclose(f);
    return got == img_len ? 0 : -1;
}

/* Bytes [off, off+len) of the image, zeros beyond its end. */
static void copy_out(uint8_t *dst, uint64_t off, size_t len)
{
    memset(dst, 0, len);
    if (off < img_len)
        memcpy(dst, img + off, img_len - off < len ? img_len - off : len);
}

static uint8_t pool[32 + INSTAR_FUZZ_QCOW2_LAYOUT_MAX + 4096 * 2 + 32768 * 2];

/* The qcow2 layout block (instar/fuzz.h) at P for an image whose layout
 * is not the decoder's default, or that has snapshots, bitmaps or a
 * backing file; returns its length, 0 when not needed. */
static size_t qcow2_layout(uint8_t *p, uint64_t cs, uint32_t version, uint32_t hlen)
{
    uint64_t l1_off = instar_be64(img + 40), rt_off = instar_be64(img + 48);
    uint32_t rt_clusters = instar_be32(img + 56), nb_snap = instar_be32(img + 60);
    uint64_t snap_off = instar_be64(img + 64);
    bool backing = instar_be64(img + 8) != 0;
    uint64_t bm_off = 0;
    uint32_t nb_bm = 0, bm_size = 0;
    /* Header extensions: the bitmaps one. */
    for (uint64_t off = version == 3 ? hlen : 72; off + 8 <= cs && off + 8 <= img_len;) {
        uint32_t type = instar_be32(img + off), elen = instar_be32(img + off + 4);
        if (type == 0)
            break;
        if (type == 0x23852875 && elen >= 24 && off + 32 <= img_len) {
            nb_bm = instar_be32(img + off + 8);
            bm_size = (uint32_t)instar_be64(img + off + 16);
            bm_off = instar_be64(img + off + 24);
        }
        off += 8 + (((uint64_t)elen + 7) & ~7ull);
    }
    bool dflt = rt_off == cs && rt_clusters >= 1 && rt_clusters <= 8
                && l1_off == cs * (2 + rt_clusters);
    if (dflt && nb_snap == 0 && !backing && bm_off == 0)
        return 0;
    memset(p, 0, INSTAR_FUZZ_QCOW2_LAYOUT_HEAD);
    p[2] = backing ? 1 : 0;
    instar_put_le32(p + 4, nb_snap);
    instar_put_le64(p + 8, l1_off);
    instar_put_le64(p + 16, rt_off);
    instar_put_le64(p + 24, snap_off);
    instar_put_le64(p + 32, bm_off);
    instar_put_le32(p + 40, nb_bm);
    instar_put_le32(p + 44, bm_size);
    size_t len = INSTAR_FUZZ_QCOW2_LAYOUT_HEAD, room = INSTAR_FUZZ_QCOW2_LAYOUT_MAX - len;
    if (bm_off && bm_size <= room) {
        copy_out(p + len, bm_off, bm_size);
        const uint8_t *d = p + len;
        len += bm_size;
        for (size_t pos = 0; pos + 24 <= bm_size;) {
            uint64_t t = instar_be64(d + pos);
            size_t tb = (size_t)instar_be32(d + pos + 8) * 8;
            if (tb > INSTAR_FUZZ_QCOW2_LAYOUT_MAX - len)
                break;
            copy_out(p + len, t, tb);
            len += tb;
            pos += (24 + (size_t)instar_be16(d + pos + 18) + instar_be32(d + pos + 20) + 7)
                   & ~(size_t)7;
        }
    }
    instar_put_le16(p, (uint16_t)len);
    return len;
}

static size_t qcow2(struct instar_fuzz_header *h)
{
    uint32_t version = instar_be32(img + 4), cb = instar_be32(img + 20);
    uint64_t cs = (uint64_t)1 << cb;
    uint32_t l1_size = instar_be32(img + 36);
    uint64_t l1_off = instar_be64(img + 40), rt_off = instar_be64(img + 48);
    uint32_t rt_clusters = instar_be32(img + 56);
    uint64_t incompat = version == 3 ? instar_be64(img + 72) : 0;
    uint64_t compat = version == 3 ? instar_be64(img + 80) : 0;
    uint32_t order = version == 3 ? instar_be32(img + 96) : 4;
    uint8_t *p = pool + 32;
    size_t lay = qcow2_layout(p, cs, version, version == 3 ? instar_be32(img + 100) : 72);
    if (lay)
        h->flags |= INSTAR_FUZZ_FLAG_QCOW2_LAYOUT;
    if (rt_clusters < 1 || rt_clusters > 8) {
        fprintf(stderr, "seed-extract: qcow2 refcount table of %u clusters\n", rt_clusters);
        exit(3);
    }
    h->current_virtual_size = instar_be64(img + 24);
    h->unit_size = (uint32_t)cs;
    h->refcount_sel = (uint8_t)order;
    h->subformat = (uint8_t)((version == 2 ? 1 : 0) | (rt_clusters - 1) << 4
                             | (instar_be64(img + 88) & 1 && version == 3 ? 2 : 0));
    h->flags |= (incompat & 0x10) ? 0x02 : 0;
    h->flags |= (compat & 1) ? 0x04 : 0;
    h->format_byte = h->new_virtual_size >= h->current_virtual_size ? 1 : 2;
    p += lay;
    size_t l1n = (size_t)l1_size * 8 < 4096 ? (size_t)l1_size * 8 : 4096;
    copy_out(p, l1_off, l1n);
    memset(p + l1n, 0, 4096 - l1n);
    copy_out(p + 4096, rt_off, 4096);
    /* Refcount blocks by refcount-table index, L2 tables by L1 index,
     * whole clusters (or the first 32 KiB of one). */
    uint8_t *rb = p + 8192, *l2 = p + 8192 + 32768;
    size_t per = cs < 32768 ? (size_t)cs : 32768;
    for (size_t i = 0; i * per < 32768; i++) {
        uint64_t e = i * 8 < 4096 ? instar_be64(p + 4096 + i * 8) & ~(uint64_t)511 : 0;
        if (e)
            copy_out(rb + i * per, e, per);
        else
            memset(rb + i * per, 0, per);
        uint64_t l = i * 8 < l1n ? instar_be64(p + i * 8) & 0x00fffffffffffe00ULL : 0;
        if (l)
            copy_out(l2 + i * per, l, per);
        else
            memset(l2 + i * per, 0, per);
    }
    /* Trim trailing zeros of the pool: shorter seeds, same meaning. */
    size_t len = sizeof pool;
    while (len > 32 && pool[len - 1] == 0)
        len--;
    return len;
}

static size_t fmt3(struct instar_fuzz_header *h, uint64_t hdr_off, uint64_t dyn_off,
                   uint64_t table_off, size_t table_len)
{
    uint8_t *p = pool + 32;
    copy_out(p, hdr_off, 512);
    if (dyn_off != UINT64_MAX)
        copy_out(p + 512, dyn_off, 1024);
    else
        memset(p + 512, 0, 1024);
    size_t n = table_len < 32768 ? table_len : 32768;
    memset(p + 1536, 0, 32768);
    if (table_off != UINT64_MAX)
        copy_out(p + 1536, table_off, n);
    (void)h;
    size_t len = 32 + 1536 + n;
    while (len > 32 && pool[len - 1] == 0)
        len--;
    return len;
}

static size_t planners(uint64_t new_size, uint8_t flags, uint8_t sub_or)
{
    struct instar_fuzz_header h;
    memset(&h, 0, sizeof h);
    h.new_virtual_size = new_size;
    h.current_file_size = img_len;
    h.flags = flags;
    size_t len;
    if (img_len >= 512 && instar_be32(img) == QCOW2_MAGIC) {
        len = qcow2(&h);
    } else if (img_len >= 512 && memcmp(img, VMDK_MAGIC, VMDK_MAGIC_LEN) == 0) {
        h.format_byte = 3;
        h.current_virtual_size = instar_le64(img + VMDK_H_CAPACITY) * 512;
        h.unit_size = (uint32_t)(instar_le64(img + VMDK_H_GRAIN) * 512);
        uint64_t gd = instar_le64(img + VMDK_H_GD_OFFSET) * 512;
        len = fmt3(&h, 0, instar_le64(img + VMDK_H_DESC_OFFSET) * 512, gd, 32768);
    } else if (img_len >= 1024 * 1024 && memcmp(img, VHDX_FILE_SIGNATURE, VHDX_SIG_LEN(VHDX_FILE_SIGNATURE)) == 0) {
        h.format_byte = 5;
        /* The current header: the higher sequence number. */
        uint64_t hoff = instar_le64(img + 128 * 1024 + 8) > instar_le64(img + 64 * 1024 + 8)
            ? 128 * 1024 : 64 * 1024;
        const uint8_t *rt = img + 192 * 1024;
        uint64_t bat = UINT64_MAX, meta = UINT64_MAX;
        for (uint32_t i = 0; i < instar_le32(rt + 8) && i < 16; i++) {
            const uint8_t *e = rt + 16 + 32 * i;
            if (e[0] == 0x66 && e[1] == 0x77)
                bat = instar_le64(e + 16);
            else if (e[0] == 0x06 && e[1] == 0xA2)
                meta = instar_le64(e + 16);
        }
        if (meta == UINT64_MAX || meta + 0x10028 > img_len) {
            fprintf(stderr, "seed-extract: vhdx without metadata\n");
            exit(3);
        }
        h.unit_size = instar_le32(img + meta + 0x10000);
        h.subformat = (uint8_t)((instar_le32(img + meta + 0x10020) == 4096 ? 1 : 0) |
                                ((instar_le32(img + meta + 0x10004) & 1) ? 2 : 0));
        h.current_virtual_size = instar_le64(img + meta + 0x10008);
        len = fmt3(&h, hoff, meta, bat, 32768);
        if (sub_or & 4) {
            /* Tables from the input: the metadata table's first 512 bytes,
             * then the region table's. */
            copy_out(pool + 32 + 512 + 512, 192 * 1024, 512);
            if (len < 32 + 1536)
                len = 32 + 1536;
        }
    } else if (img_len >= 512 && memcmp(img + img_len - 512, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) == 0) {
        const uint8_t *f = img + img_len - 512;
        h.format_byte = 4;
        h.current_virtual_size = instar_be64(f + VHD_F_CUR_SIZE);
        uint32_t type = instar_be32(f + VHD_F_TYPE);
        h.subformat = type == 2 ? 1 : type == 4 ? 2 : 0;
        if (type == 2) {
            len = fmt3(&h, img_len - 512, UINT64_MAX, UINT64_MAX, 0);
        } else {
            uint64_t dyn = instar_be64(f + 16);
            h.unit_size = instar_be32(img + dyn + 32);
            uint64_t bat = instar_be64(img + dyn + 16);
            len = fmt3(&h, 0, dyn, bat, (size_t)instar_be32(img + dyn + 28) * 4);
        }
    } else {
        h.format_byte = 0;
        h.current_virtual_size = img_len;
        len = 32;
    }
    h.subformat |= sub_or;
    instar_fuzz_encode_header(&h, pool);
    return len;
}

static int engine(unsigned fmtsel, unsigned kind, uint64_t amount, unsigned flags)
{
    uint8_t hd[24] = {0};
    hd[0] = (uint8_t)fmtsel;
    hd[1] = (uint8_t)flags;
    hd[2] = (uint8_t)kind;
    instar_put_le64(hd + 8, img_len);
    instar_put_le64(hd + 16, amount);
    fwrite(hd, 1, sizeof hd, stdout);
    /* Non-zero runs of 512-byte sectors, at most 65535 bytes each. */
    size_t s = 0;
    while (s < img_len) {
        size_t end = s + 512 < img_len ? s + 512 : img_len;
        int nz = 0;
        for (size_t i = s; i < end && !nz; i++)
            nz = img[i] != 0;
        if (!nz) {
            s = end;
            continue;
        }
        size_t e = end;
        while (e < img_len && e - s < 65536 - 512) {
            size_t ee = e + 512 < img_len ? e + 512 : img_len;
            int z = 1;
            for (size_t i = e; i < ee && z; i++)
                z = img[i] == 0;
            if (z)
                break;
            e = ee;
        }
        while (e > s && img[e - 1] == 0)
            e--;
        uint8_t rec[10];
        instar_put_le64(rec, s);
        instar_put_le16(rec + 8, (uint16_t)(e - s));
        fwrite(rec, 1, 10, stdout);
        fwrite(img + s, 1, e - s, stdout);
        s = end > e ? end : (e + 511) / 512 * 512;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "planners") == 0 && load(argv[2]) == 0) {
        size_t len = planners(strtoull(argv[3], NULL, 0), (uint8_t)strtoul(argv[4], NULL, 0),
                              argc >= 6 ? (uint8_t)strtoul(argv[5], NULL, 0) : 0);
        return fwrite(pool, 1, len, stdout) == len ? 0 : 1;
    }
    if (argc >= 7 && strcmp(argv[1], "engine") == 0 && load(argv[2]) == 0)
        return engine((unsigned)strtoul(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0),
                      strtoull(argv[5], NULL, 0), (unsigned)strtoul(argv[6], NULL, 0));
    fprintf(stderr, "usage: seed-extract planners IMAGE NEW_SIZE FLAGS [SUBFORMAT]\n"
                    "       seed-extract engine IMAGE FMTSEL SPECKIND AMOUNT FLAGS\n");
    return 2;
}
