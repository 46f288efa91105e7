/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-scan.c -- the word-at-a-time scans (core/util/scan.c) against
 * their bit-by-bit and byte-by-byte definitions, over sparse random
 * buffers and every range boundary near word edges. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "util/scan.h"

static uint64_t naive_bit(const uint8_t *p, uint64_t bit, uint64_t end)
{
    for (; bit < end; bit++)
        if ((p[bit >> 3] >> (bit & 7)) & 1)
            return bit;
    return end;
}

static uint64_t naive_last_bit(const uint8_t *p, uint64_t bit, uint64_t end)
{
    for (uint64_t i = end; i > bit; i--)
        if ((p[(i - 1) >> 3] >> ((i - 1) & 7)) & 1)
            return i - 1;
    return end;
}

static size_t naive_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    for (; from < to; from++)
        if (a[from] != b[from])
            return from;
    return to;
}

static size_t naive_last_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    for (size_t i = to; i > from; i--)
        if (a[i - 1] != b[i - 1])
            return i - 1;
    return to;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    enum { LEN = 96 };
    uint8_t a[LEN], b[LEN];
    int bad_bit = 0, bad_last_bit = 0, bad_diff = 0, bad_last = 0;
    for (int round = 0; round < 400; round++) {
        /* Mostly zero, a few set bits / differing bytes. */
        memset(a, 0, sizeof a);
        int set = (int)(next() % 4);
        for (int i = 0; i < set; i++) {
            uint64_t x = next() % (LEN * 8);
            a[x >> 3] |= (uint8_t)(1u << (x & 7));
        }
        memcpy(b, a, sizeof b);
        /* None to three differing bytes (the last one matters too). */
        int ndiff = (int)(next() % 4);
        for (int i = 0; i < ndiff; i++)
            b[next() % LEN] ^= (uint8_t)(1u + next() % 255);
        for (uint64_t lo = 0; lo <= LEN * 8; lo += 1 + next() % 13)
            for (uint64_t hi = lo; hi <= LEN * 8; hi += 1 + next() % 11)
                if (instar_first_set_bit(a, lo, hi) != naive_bit(a, lo, hi))
                    bad_bit++;
        for (uint64_t lo = 0; lo <= LEN * 8; lo += 1 + next() % 13)
            for (uint64_t hi = lo; hi <= LEN * 8; hi += 1 + next() % 11)
                if (instar_last_set_bit(a, lo, hi) != naive_last_bit(a, lo, hi))
                    bad_last_bit++;
        for (size_t lo = 0; lo <= LEN; lo++)
            for (size_t hi = lo; hi <= LEN; hi++)
                if (instar_first_diff(a, b, lo, hi) != naive_diff(a, b, lo, hi))
                    bad_diff++;
        for (size_t lo = 0; lo <= LEN; lo++)
            for (size_t hi = lo; hi <= LEN; hi++)
                if (instar_last_diff(a, b, lo, hi) != naive_last_diff(a, b, lo, hi))
                    bad_last++;
    }
    ok(bad_bit == 0, "first set bit as bit by bit (%d wrong)", bad_bit);
    ok(bad_last_bit == 0, "last set bit as bit by bit (%d wrong)", bad_last_bit);
    ok(bad_diff == 0, "first difference as byte by byte (%d wrong)", bad_diff);
    ok(bad_last == 0, "last difference as byte by byte (%d wrong)", bad_last);

    /* Edges: nothing set, the last bit of the range, a bit just past it. */
    memset(a, 0, sizeof a);
    is_u64(instar_first_set_bit(a, 0, LEN * 8), (uint64_t)LEN * 8, "all zero: the end");
    a[LEN - 1] = 0x80;
    is_u64(instar_first_set_bit(a, 3, LEN * 8), (uint64_t)LEN * 8 - 1, "the very last bit");
    is_u64(instar_first_set_bit(a, 3, LEN * 8 - 1), (uint64_t)LEN * 8 - 1,
           "a set bit just past the range is not found");
    is_u64(instar_first_set_bit(a, 9, 9), 9, "an empty range");
    return tap_done();
}
