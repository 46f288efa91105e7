/* SPDX-License-Identifier: GPL-3.0-or-later */
/* checked.h -- overflow-checked size arithmetic for untrusted numbers.
 * Each returns true when the result fits (and stores it), false otherwise. */
#ifndef INSTAR_CHECKED_H
#define INSTAR_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool instar_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool instar_sub_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

static inline bool instar_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* round_up(x, align) for a power-of-two ALIGN. */
static inline bool instar_align_up_u64(uint64_t x, uint64_t align, uint64_t *out)
{
    uint64_t t;
    if (align == 0 || (align & (align - 1)) != 0)
        return false;
    if (!instar_add_u64(x, align - 1, &t))
        return false;
    *out = t & ~(align - 1);
    return true;
}

/* ceil(a / b); B must be non-zero. */
static inline uint64_t instar_div_round_up_u64(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static inline bool instar_is_pow2_u64(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

#endif
