/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spec.h -- what the engine target's independent checkers (reparse.c,
 * oracle.c) both need: a reason formatter, a bounds test, the qcow2
 * refcount entry reader and the VHDX GUIDs, all taken from the format
 * specifications.  Nothing here comes from core/resize/: a planner and
 * the checkers that judge it must not share a mistake. */
#ifndef INSTAR_FUZZ_SPEC_H
#define INSTAR_FUZZ_SPEC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/scan.h"

/* Format a one-line reason into WHY; always false, for `return fail(...)'. */
static inline bool instar_spec_fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline bool instar_spec_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (whylen > 0)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

/* The first of entries [I, N) of table T (SIZE bytes each, a divisor of
 * 4096) with a bit set, N when none.  An all-zero entry maps nothing, so
 * the checkers' loops step over runs of them: whole zero pages by memcmp
 * (libc's, many bytes a cycle), the rest by an untraced scan, instead of
 * a traced compare per entry (a 2 PiB image's L1: 4 Mi entries, nearly
 * all 0). */
static inline uint64_t instar_spec_next_entry(const uint8_t *t, uint64_t i, uint64_t n,
                                              uint64_t size)
{
    static const uint8_t zero[4096];
    if (i >= n)
        return n;
    uint64_t b = i * size, end = n * size;
    while (end - b >= sizeof zero && memcmp(t + b, zero, sizeof zero) == 0)
        b += sizeof zero;
    return instar_first_set_bit(t, b * 8, end * 8) / (size * 8);
}

/* A buffer of at least NEED bytes in *BUF (capacity *CAP), kept between
 * calls: the checkers run once per fuzz input, and fresh memory for a
 * table of tens of MiB (a 2 PiB image's L1) cost page faults and
 * sanitizer poisoning every time.  NULL when memory runs out. */
static inline uint8_t *instar_spec_kept(uint8_t **buf, size_t *cap, size_t need)
{
    if (need == 0)
        need = 1;
    if (need > *cap) {
        free(*buf);                 /* nothing in it to keep */
        *buf = malloc(need);
        *cap = *buf ? need : 0;
    }
    return *buf;
}

/* MS-VHDX 2.2.2, 2.2.3: a header's or region table's Checksum (bytes
 * 4..7) is the CRC-32C of its N bytes with that field taken as zero. */
static inline bool instar_spec_vhdx_crc_ok(const uint8_t *p, size_t n)
{
    static const uint8_t zero4[4];
    uint32_t c = instar_crc32c(0, p, 4);
    c = instar_crc32c(c, zero4, 4);
    c = instar_crc32c(c, p + 8, n - 8);
    return c == instar_le32(p + 4);
}

/* [OFF, OFF+LEN) inside a file of SIZE bytes. */
static inline bool instar_spec_inside(uint64_t off, uint64_t len, uint64_t size)
{
    uint64_t end;
    return instar_add_u64(off, len, &end) && end <= size;
}

/* Entry I of a qcow2 refcount block of BITS-bit entries (sub-byte widths
 * are packed least-significant first). */
static inline uint64_t instar_spec_qcow2_refcount(const uint8_t *blk, uint64_t i, uint32_t bits)
{
    switch (bits) {
    case 1: case 2: case 4:
        return (blk[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
    case 8: return blk[i];
    case 16: return instar_be16(blk + 2 * i);
    case 32: return instar_be32(blk + 4 * i);
    default: return instar_be64(blk + 8 * i);
    }
}

/* qcow2 spec, "Header extensions" and "Bitmaps extension": the bitmaps
 * extension among those from HLEN on in header cluster HC (CS bytes);
 * count 0 when there is none. */
struct instar_spec_qcow2_bitmaps {
    uint32_t count;
    uint64_t dir_len, dir_off;
};
static inline struct instar_spec_qcow2_bitmaps
instar_spec_qcow2_find_bitmaps(const uint8_t *hc, uint64_t hlen, uint64_t cs)
{
    struct instar_spec_qcow2_bitmaps b = {0, 0, 0};
    uint64_t pos = hlen;
    while (pos + 8 <= cs) {
        uint32_t type = instar_be32(hc + pos), len = instar_be32(hc + pos + 4);
        if (type == 0)
            break;
        if (type == 0x23852875 && len >= 24 && pos + 8 + 24 <= cs) {
            b.count = instar_be32(hc + pos + 8);
            b.dir_len = instar_be64(hc + pos + 16);
            b.dir_off = instar_be64(hc + pos + 24);
        }
        pos += 8 + (((uint64_t)len + 7) & ~(uint64_t)7);
    }
    return b;
}

/* VHDX region and metadata item GUIDs, in their on-disk byte order. */
static const uint8_t instar_spec_vhdx_bat[16] = {
    0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42,
    0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08};
static const uint8_t instar_spec_vhdx_meta[16] = {
    0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B,
    0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E};
static const uint8_t instar_spec_vhdx_params[16] = {
    0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D,
    0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B};
static const uint8_t instar_spec_vhdx_size[16] = {
    0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48,
    0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8};
static const uint8_t instar_spec_vhdx_lss[16] = {
    0x1D, 0xBF, 0x41, 0x81, 0x6F, 0xA9, 0x09, 0x47,
    0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F};

/* Where the first N entries of a VHDX region table (at RT) put the BAT and
 * the metadata region; offsets 0 when an entry is missing. */
struct instar_spec_vhdx_regions {
    uint64_t bat_off, meta_off;
    uint32_t bat_len, meta_len;
};
static inline struct instar_spec_vhdx_regions instar_spec_vhdx_find_regions(const uint8_t *rt,
                                                                             uint32_t n)
{
    struct instar_spec_vhdx_regions r = {0, 0, 0, 0};
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = rt + 16 + 32 * (size_t)i;
        if (memcmp(e, instar_spec_vhdx_bat, 16) == 0) {
            r.bat_off = instar_le64(e + 16);
            r.bat_len = instar_le32(e + 24);
        } else if (memcmp(e, instar_spec_vhdx_meta, 16) == 0) {
            r.meta_off = instar_le64(e + 16);
            r.meta_len = instar_le32(e + 24);
        }
    }
    return r;
}

#endif
