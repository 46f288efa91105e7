/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-sparse-io.c -- the engine fuzz target's chunked store answers
 * every call as instar_mem_io does: the same codes, errnos, lengths and
 * bytes, over a long pseudo-random sequence of operations crossing chunk
 * boundaries and the limit, and across resets. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz/sparse-io.h"
#include "instar/error.h"
#include "instar/io.h"
#include "tests/c/tap.h"
#include "tests/c/testutil.h"

#define LIMIT ((uint64_t)5 * INSTAR_SPARSE_CHUNK + 1234)

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    return test_xorshift(&rng);
}

/* An offset near something interesting: 0, a chunk edge, the limit. */
static uint64_t pick_offset(void)
{
    uint64_t base;
    switch (next() % 4) {
    case 0: base = 0; break;
    case 1: base = (next() % 7) * INSTAR_SPARSE_CHUNK; break;
    case 2: base = LIMIT; break;
    default: base = next() % (LIMIT + INSTAR_SPARSE_CHUNK); break;
    }
    uint64_t d = next() % 64;
    return next() % 2 && base >= d ? base - d : base + d;
}

static uint8_t a_buf[LIMIT + 3 * INSTAR_SPARSE_CHUNK];
static uint8_t b_buf[sizeof a_buf];
static uint8_t w_buf[2 * INSTAR_SPARSE_CHUNK + 100];

/* Same length, same bytes over [0, size + a chunk). */
static int same_contents(struct instar_io *a, struct instar_io *b)
{
    uint64_t sa, sb;
    if (instar_io_size(a, &sa) != INSTAR_OK || instar_io_size(b, &sb) != INSTAR_OK || sa != sb)
        return 0;
    uint64_t n = sa + INSTAR_SPARSE_CHUNK;
    if (n > sizeof a_buf)
        n = sizeof a_buf;
    memset(a_buf, 0xaa, sizeof a_buf);
    memset(b_buf, 0x55, sizeof b_buf);
    if (a->ops->pread(a, a_buf, (size_t)n, 0) != INSTAR_OK ||
        b->ops->pread(b, b_buf, (size_t)n, 0) != INSTAR_OK)
        return 0;
    return memcmp(a_buf, b_buf, (size_t)n) == 0;
}

int main(void)
{
    struct instar_sparse_io s;
    struct instar_mem_io m;
    ok(instar_sparse_io_init(&s, LIMIT) == INSTAR_OK, "init");
    instar_mem_io_init(&m, LIMIT);

    /* The edges, spelled out. */
    is_int(s.io.ops->pwrite(&s.io, "x", 1, LIMIT - 1), INSTAR_OK, "a write ending at the limit");
    is_int(s.io.ops->pwrite(&s.io, "x", 1, LIMIT), INSTAR_E_FILE_TOO_LARGE,
           "a write past the limit is EFBIG");
    is_int(s.io.ops->zero(&s.io, LIMIT, 1), INSTAR_E_IO, "a zero-fill past the limit fails");
    is_int(s.io.ops->set_size(&s.io, (uint64_t)1 << 40), INSTAR_OK,
           "the length alone may pass the limit");
    is_int(s.io.ops->set_size(&s.io, 10), INSTAR_OK, "truncate");
    is_int(s.io.ops->set_size(&s.io, LIMIT), INSTAR_OK, "grow again");
    uint8_t c = 1;
    ok(s.io.ops->pread(&s.io, &c, 1, LIMIT - 1) == INSTAR_OK && c == 0,
       "a byte cut off by a truncation reads as zero after growing again");
    instar_sparse_io_reset(&s);
    uint64_t sz = 1;
    ok(instar_io_size(&s.io, &sz) == INSTAR_OK && sz == 0, "reset: length 0");
    ok(s.nused == 0 && s.npool > 0, "reset: chunks kept for reuse");

    /* Differential: the same operations on both stores. */
    int agree = 1, contents = 1;
    unsigned steps = 0;
    for (unsigned round = 0; round < 40 && agree && contents; round++) {
        instar_sparse_io_reset(&s);
        instar_mem_io_free(&m);
        instar_mem_io_init(&m, LIMIT);
        for (unsigned k = 0; k < 200 && agree; k++, steps++) {
            uint64_t off = pick_offset();
            size_t len = (size_t)(next() % sizeof w_buf);
            if (next() % 4 == 0)
                len = (size_t)(next() % 16);
            for (size_t i = 0; i < len; i++)
                w_buf[i] = (uint8_t)(next() | 1);
            int ra, rb;
            switch (next() % 6) {
            case 0:
            case 1:
                ra = s.io.ops->pwrite(&s.io, w_buf, len, off);
                rb = m.io.ops->pwrite(&m.io, w_buf, len, off);
                break;
            case 2:
                ra = s.io.ops->set_size(&s.io, off);
                rb = m.io.ops->set_size(&m.io, off);
                break;
            case 3:
                ra = s.io.ops->zero(&s.io, off, len);
                rb = m.io.ops->zero(&m.io, off, len);
                break;
            case 4:
                ra = s.io.ops->allocate(&s.io, off, len);
                rb = m.io.ops->allocate(&m.io, off, len);
                break;
            default:
                memset(a_buf, 1, len);
                memset(b_buf, 2, len);
                ra = s.io.ops->pread(&s.io, a_buf, len, off);
                rb = m.io.ops->pread(&m.io, b_buf, len, off);
                if (memcmp(a_buf, b_buf, len) != 0)
                    agree = 0;
                break;
            }
            if (ra != rb || (ra != INSTAR_OK && s.io.sys_errno != m.io.sys_errno)) {
                printf("# step %u: off %llu len %zu: sparse %d/%d, mem %d/%d\n", steps,
                       (unsigned long long)off, len, ra, s.io.sys_errno, rb, m.io.sys_errno);
                agree = 0;
            }
            if (k % 20 == 19 && !same_contents(&s.io, &m.io))
                contents = 0;
        }
        if (!same_contents(&s.io, &m.io))
            contents = 0;
    }
    ok(agree, "%u random operations: same codes, errnos and reads as instar_mem_io", steps);
    ok(contents, "same length and bytes after every 20 operations and at each reset");

    instar_sparse_io_free(&s);
    instar_mem_io_free(&m);
    return tap_done();
}
