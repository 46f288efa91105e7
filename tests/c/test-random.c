/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-random.c -- the core's one random source (core/util/random.c). */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "instar/error.h"
#include "tap.h"
#include "util/random.h"

int main(void)
{
    uint8_t a[32], b[32], zero[32] = {0};
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    ok(instar_random_bytes(a, sizeof a) == INSTAR_OK, "32 random bytes");
    ok(instar_random_bytes(b, sizeof b) == INSTAR_OK, "32 more");
    /* A false failure needs two equal 256-bit draws, or an all-zero one. */
    ok(memcmp(a, b, sizeof a) != 0, "two draws differ");
    ok(memcmp(a, zero, sizeof a) != 0, "a draw is not all zeros");
    ok(instar_random_bytes(a, 0) == INSTAR_OK, "an empty draw succeeds");

    /* Larger than one getrandom() call may return at once. */
    static uint8_t big[1 << 20];
    ok(instar_random_bytes(big, sizeof big) == INSTAR_OK
       && memcmp(big + sizeof big - 32, zero, 32) != 0, "1 MiB filled to its end");

    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t id = 0;
        if (instar_random_u32_id(&id) != INSTAR_OK || id == 0 || id == UINT32_MAX)
            bad++;
    }
    ok(bad == 0, "1000 ids, none 0 or 0xffffffff (%d bad)", bad);
    return tap_done();
}
