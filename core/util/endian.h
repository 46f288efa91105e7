/* SPDX-License-Identifier: GPL-3.0-or-later */
/* endian.h -- byte-order loads and stores on unaligned buffers.
 *
 * With GCC or clang on a known byte order each access is one unaligned
 * load or store (memcpy of a constant size) plus a byte swap: one
 * instruction pair, and one sanitizer check instead of one per byte (the
 * fuzz builds fill whole tables through these).  Elsewhere, byte by byte. */
#ifndef INSTAR_ENDIAN_H
#define INSTAR_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ || __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define INSTAR_TO_LE16(x) (x)
#define INSTAR_TO_LE32(x) (x)
#define INSTAR_TO_LE64(x) (x)
#define INSTAR_TO_BE16(x) __builtin_bswap16(x)
#define INSTAR_TO_BE32(x) __builtin_bswap32(x)
#define INSTAR_TO_BE64(x) __builtin_bswap64(x)
#else
#define INSTAR_TO_LE16(x) __builtin_bswap16(x)
#define INSTAR_TO_LE32(x) __builtin_bswap32(x)
#define INSTAR_TO_LE64(x) __builtin_bswap64(x)
#define INSTAR_TO_BE16(x) (x)
#define INSTAR_TO_BE32(x) (x)
#define INSTAR_TO_BE64(x) (x)
#endif
#define INSTAR_ENDIAN_ACCESSORS(bits, order, ORDER)                                     \
    static inline uint##bits##_t instar_##order##bits(const uint8_t *p)                \
    {                                                                                   \
        uint##bits##_t v;                                                               \
        memcpy(&v, p, sizeof v);                                                        \
        return (uint##bits##_t)INSTAR_TO_##ORDER##bits(v);                              \
    }                                                                                   \
    static inline void instar_put_##order##bits(uint8_t *p, uint##bits##_t v)          \
    {                                                                                   \
        v = (uint##bits##_t)INSTAR_TO_##ORDER##bits(v);                                 \
        memcpy(p, &v, sizeof v);                                                        \
    }
INSTAR_ENDIAN_ACCESSORS(16, be, BE)
INSTAR_ENDIAN_ACCESSORS(32, be, BE)
INSTAR_ENDIAN_ACCESSORS(64, be, BE)
INSTAR_ENDIAN_ACCESSORS(16, le, LE)
INSTAR_ENDIAN_ACCESSORS(32, le, LE)
INSTAR_ENDIAN_ACCESSORS(64, le, LE)
#undef INSTAR_ENDIAN_ACCESSORS
#else
static inline uint16_t instar_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t instar_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t instar_be64(const uint8_t *p)
{
    return (uint64_t)instar_be32(p) << 32 | instar_be32(p + 4);
}
static inline uint16_t instar_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t instar_le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t instar_le64(const uint8_t *p)
{
    return instar_le32(p) | (uint64_t)instar_le32(p + 4) << 32;
}
static inline void instar_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}
static inline void instar_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}
static inline void instar_put_be64(uint8_t *p, uint64_t v)
{
    instar_put_be32(p, (uint32_t)(v >> 32)); instar_put_be32(p + 4, (uint32_t)v);
}
static inline void instar_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}
static inline void instar_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void instar_put_le64(uint8_t *p, uint64_t v)
{
    instar_put_le32(p, (uint32_t)v); instar_put_le32(p + 4, (uint32_t)(v >> 32));
}
#endif

#endif
