/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-sparse-io.c -- the engine fuzz target's chunked store answers
 * every call as instar_mem_io does: the same codes, errnos, lengths and
 * bytes, over a long pseudo-random sequence of operations crossing chunk
 * boundaries and the limit, and across resets. */
#include <config.h>

#include <stdio.h>
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

/* next_data by its definition: OFF inside a materialised chunk below the
 * length, else the next such chunk's start, else UINT64_MAX. */
static uint64_t next_data_ref(const struct instar_sparse_io *s, uint64_t off)
{
    if (off >= s->size)
        return UINT64_MAX;
    for (uint64_t i = off / INSTAR_SPARSE_CHUNK; i < s->nchunks; i++)
        if (s->chunk[i] != NULL) {
            uint64_t at = i * INSTAR_SPARSE_CHUNK > off ? i * INSTAR_SPARSE_CHUNK : off;
            return at < s->size ? at : UINT64_MAX;
        }
    return UINT64_MAX;
}

/* A store of 200 chunks (slot words cross 64-bit edges): next_data
 * agrees with its definition over random writes, truncations and resets,
 * and no non-zero byte lies between OFF and its answer. */
static void test_next_data(void)
{
    const uint64_t chunks = 200, limit = chunks * INSTAR_SPARSE_CHUNK;
    struct instar_sparse_io s;
    unsigned asked = 0, exact = 1, sound = 1;
    static uint8_t buf[3 * INSTAR_SPARSE_CHUNK];
    ok(instar_sparse_io_init(&s, limit) == INSTAR_OK, "next_data: init %llu chunks",
       (unsigned long long)chunks);
    for (unsigned round = 0; round < 30; round++) {
        instar_sparse_io_reset(&s);
        for (unsigned k = 0; k < 1 + round % 9; k++) {
            uint64_t at = next() % limit;
            uint8_t b = (uint8_t)(next() | 1);
            s.io.ops->pwrite(&s.io, &b, 1, at);
            if (next() % 5 == 0)
                s.io.ops->set_size(&s.io, next() % (limit + INSTAR_SPARSE_CHUNK));
        }
        for (unsigned q = 0; q < 200; q++, asked++) {
            uint64_t off = q % 4 == 0 ? (next() % (chunks + 2)) * INSTAR_SPARSE_CHUNK
                                      : next() % (limit + 2 * INSTAR_SPARSE_CHUNK);
            uint64_t got = instar_sparse_io_next_data(&s.io, off), want = next_data_ref(&s, off);
            if (got != want) {
                printf("# round %u: next_data(%llu) = %llu, want %llu\n", round,
                       (unsigned long long)off, (unsigned long long)got,
                       (unsigned long long)want);
                exact = 0;
            }
            /* Whatever lies in [off, answer) reads as zeros. */
            uint64_t end = got < off + sizeof buf ? got : off + sizeof buf;
            if (end > off && s.io.ops->pread(&s.io, buf, (size_t)(end - off), off) == INSTAR_OK)
                for (uint64_t i = 0; i < end - off; i++)
                    if (buf[i] != 0)
                        sound = 0;
        }
    }
    ok(exact, "next_data: %u answers as its definition says", asked);
    ok(sound, "next_data: never skips a non-zero byte");
    instar_sparse_io_free(&s);
}

int main(void)
{
    test_next_data();
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
