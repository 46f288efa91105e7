/* SPDX-License-Identifier: GPL-3.0-or-later */
/* scan.c -- first or last set bit / differing byte, a word at a time. */
#include <config.h>

#include <string.h>

#include "util/nocov.h"
#include "util/scan.h"

/* The bits of BIT's byte from BIT up; of END - 1's byte up to END - 1. */
#define FROM_MASK(bit) ((0xffu << ((bit) & 7)) & 0xffu)
#define UPTO_MASK(end) (0xffu >> (7 - (((end) - 1) & 7)))

INSTAR_NO_COVERAGE
uint64_t instar_first_set_bit(const uint8_t *p, uint64_t bit, uint64_t end)
{
    uint64_t byte = bit >> 3, last = (end - 1) >> 3;
    unsigned mask = FROM_MASK(bit);
    if (bit >= end)
        return end;
    for (;;) {
        unsigned v = p[byte] & mask;
        if (byte == last)
            v &= UPTO_MASK(end);
        if (v != 0)
            return (byte << 3) + (uint64_t)__builtin_ctz(v);
        if (byte == last)
            return end;
        byte++;
        mask = 0xffu;
        /* Whole words strictly before the last byte. */
        while (last - byte >= 8) {
            uint64_t w;
            memcpy(&w, p + byte, 8);
            if (w != 0)
                break;
            byte += 8;
        }
    }
}

INSTAR_NO_COVERAGE
uint64_t instar_last_set_bit(const uint8_t *p, uint64_t bit, uint64_t end)
{
    uint64_t first = bit >> 3, byte = (end - 1) >> 3;
    unsigned mask = UPTO_MASK(end);
    if (bit >= end)
        return end;
    for (;;) {
        unsigned v = p[byte] & mask;
        if (byte == first)
            v &= FROM_MASK(bit);
        if (v != 0)
            return (byte << 3) + (uint64_t)(31 - __builtin_clz(v));
        if (byte == first)
            return end;
        byte--;
        mask = 0xffu;
        /* Whole words strictly after the first byte. */
        while (byte - first >= 8) {
            uint64_t w;
            memcpy(&w, p + byte - 7, 8);
            if (w != 0)
                break;
            byte -= 8;
        }
    }
}

INSTAR_NO_COVERAGE
size_t instar_first_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    while (from < to && to - from >= 8) {
        uint64_t x, y;
        memcpy(&x, a + from, 8);
        memcpy(&y, b + from, 8);
        if (x != y)
            break;
        from += 8;
    }
    while (from < to && a[from] == b[from])
        from++;
    return from;
}

INSTAR_NO_COVERAGE
size_t instar_last_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    size_t end = to;
    while (end > from && end - from >= 8) {
        uint64_t x, y;
        memcpy(&x, a + end - 8, 8);
        memcpy(&y, b + end - 8, 8);
        if (x != y)
            break;
        end -= 8;
    }
    while (end > from && a[end - 1] == b[end - 1])
        end--;
    return end > from ? end - 1 : to;
}
