/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sparse-io.c -- instar_io over chunks materialised on first write
 * (sparse-io.h).  Invariant: every byte of a chunk at or past `size' is
 * zero, so reads need only look at chunks, and growing the length again
 * shows zeros, as instar_mem_io does. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/sparse-io.h"
#include "instar/error.h"
#include "util/checked.h"
#include "util/nocov.h"

#define SPARSE(io) ((struct instar_sparse_io *)(io))
#define SHIFT INSTAR_SPARSE_CHUNK_SHIFT
#define CHUNK INSTAR_SPARSE_CHUNK

static int fail(struct instar_io *io, int err)
{
    io->sys_errno = err;
    return err == EFBIG ? INSTAR_E_FILE_TOO_LARGE
         : err == ENOMEM ? INSTAR_E_NOMEM : INSTAR_E_IO;
}

/* Chunk I, materialised (zeroed) when CREATE; NULL when absent. */
static uint8_t *chunk_at(struct instar_sparse_io *s, size_t i, int create)
{
    if (s->chunk[i] != NULL || !create)
        return s->chunk[i];
    uint8_t *c = s->npool > 0 ? s->pool[--s->npool] : calloc(1, CHUNK);
    if (c == NULL)
        return NULL;
    s->chunk[i] = c;
    s->used[s->nused++] = i;
    s->present[i / 64] |= (uint64_t)1 << (i % 64);
    return c;
}

/* Zero bytes [OFF, END) of whatever chunks hold them. */
static void zero_range(struct instar_sparse_io *s, uint64_t off, uint64_t end)
{
    if (off >= end || off >= s->nchunks * CHUNK)
        return;
    uint64_t first = off >> SHIFT, last = (end - 1) >> SHIFT;
    if (last >= s->nchunks)
        last = s->nchunks - 1;
    /* Walk whichever is shorter: the chunk slots in range or the list of
     * materialised chunks. */
    if (last - first + 1 <= s->nused) {
        for (uint64_t i = first; i <= last; i++) {
            uint8_t *c = s->chunk[i];
            if (c == NULL)
                continue;
            uint64_t base = i << SHIFT;
            uint64_t lo = off > base ? off - base : 0;
            uint64_t hi = end - base < CHUNK ? end - base : CHUNK;
            memset(c + lo, 0, (size_t)(hi - lo));
        }
        return;
    }
    for (size_t k = 0; k < s->nused; k++) {
        uint64_t i = s->used[k], base = i << SHIFT;
        if (i < first || i > last)
            continue;
        uint64_t lo = off > base ? off - base : 0;
        uint64_t hi = end - base < CHUNK ? end - base : CHUNK;
        memset(s->chunk[i] + lo, 0, (size_t)(hi - lo));
    }
}

static int sparse_pread(struct instar_io *io, void *buf, size_t len, uint64_t off)
{
    struct instar_sparse_io *s = SPARSE(io);
    uint8_t *out = buf;
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return fail(io, EINVAL);
    /* Each byte is written once, copied or zeroed: the engine reads
     * whole tables, and clearing the buffer first doubled that work. */
    uint64_t stop = end < s->size ? end : s->size;
    if (stop < off)
        stop = off;
    for (uint64_t pos = off; pos < stop;) {
        uint64_t i = pos >> SHIFT, in = pos & (CHUNK - 1);
        uint64_t n = CHUNK - in < stop - pos ? CHUNK - in : stop - pos;
        if (i < s->nchunks && s->chunk[i] != NULL)
            memcpy(out + (pos - off), s->chunk[i] + in, (size_t)n);
        else
            memset(out + (pos - off), 0, (size_t)n);
        pos += n;
    }
    memset(out + (stop - off), 0, (size_t)(end - stop));
    return INSTAR_OK;
}

static int sparse_pwrite(struct instar_io *io, const void *buf, size_t len, uint64_t off)
{
    struct instar_sparse_io *s = SPARSE(io);
    const uint8_t *in = buf;
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > s->limit)
        return fail(io, EFBIG);
    /* Every chunk first, so a failure writes nothing (past `size' too). */
    for (uint64_t i = off >> SHIFT; len > 0 && i <= (end - 1) >> SHIFT; i++)
        if (chunk_at(s, (size_t)i, 1) == NULL)
            return fail(io, ENOMEM);
    for (uint64_t pos = off; pos < end;) {
        uint64_t at = pos & (CHUNK - 1);
        uint64_t n = CHUNK - at < end - pos ? CHUNK - at : end - pos;
        memcpy(s->chunk[pos >> SHIFT] + at, in + (pos - off), (size_t)n);
        pos += n;
    }
    if (end > s->size)
        s->size = end;
    return INSTAR_OK;
}

static int sparse_get_size(struct instar_io *io, uint64_t *size)
{
    *size = SPARSE(io)->size;
    return INSTAR_OK;
}

static int sparse_set_size(struct instar_io *io, uint64_t size)
{
    struct instar_sparse_io *s = SPARSE(io);
    if (size > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    /* Bytes cut off must read as zero if the file grows again. */
    if (size < s->size)
        zero_range(s, size, s->size);
    s->size = size;
    return INSTAR_OK;
}

/* Make [OFF, OFF+LEN) read as zeros.  TAKES_SPACE: zero and allocate
 * are bounded like writes over the whole range; clear (a file's holes
 * stay holes) only past the current length.  ZERO: whether bytes inside
 * must be zeroed (allocate keeps what is there). */
static int sparse_extend(struct instar_io *io, uint64_t off, uint64_t len,
                         bool takes_space, bool zero)
{
    struct instar_sparse_io *s = SPARSE(io);
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    if (end > s->limit && (takes_space || end > s->size))
        return fail(io, ENOSPC);
    if (zero)
        zero_range(s, off, end);
    if (end > s->size)
        s->size = end;
    return INSTAR_OK;
}

static int sparse_zero(struct instar_io *io, uint64_t off, uint64_t len)
{
    return sparse_extend(io, off, len, true, true);
}

static int sparse_allocate(struct instar_io *io, uint64_t off, uint64_t len)
{
    return sparse_extend(io, off, len, true, false);
}

static int sparse_clear(struct instar_io *io, uint64_t off, uint64_t len)
{
    return sparse_extend(io, off, len, false, true);
}

/* Space is bounded by the limit alone: a reservation fails where a
 * write there would. */
static int sparse_reserve(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    if (len > 0 && end > SPARSE(io)->limit)
        return fail(io, ENOSPC);
    return INSTAR_OK;
}

static int sparse_unreserve(struct instar_io *io, uint64_t length)
{
    return sparse_set_size(io, length);
}

static int sparse_sync(struct instar_io *io)
{
    (void)io;
    return INSTAR_OK;
}

static const struct instar_io_ops sparse_ops = {
    .pread = sparse_pread,
    .pwrite = sparse_pwrite,
    .get_size = sparse_get_size,
    .set_size = sparse_set_size,
    .zero = sparse_zero,
    .allocate = sparse_allocate,
    .clear = sparse_clear,
    .reserve = sparse_reserve,
    .unreserve = sparse_unreserve,
    .sync = sparse_sync,
};

int instar_sparse_io_init(struct instar_sparse_io *s, uint64_t limit)
{
    memset(s, 0, sizeof *s);
    s->io.ops = &sparse_ops;
    s->limit = limit;
    uint64_t n = instar_div_round_up_u64(limit, CHUNK);
    if (n > SIZE_MAX / sizeof(uint8_t *))
        return INSTAR_E_NOMEM;
    s->nchunks = (size_t)(n ? n : 1);
    s->chunk = calloc(s->nchunks, sizeof *s->chunk);
    s->used = calloc(s->nchunks, sizeof *s->used);
    s->pool = calloc(s->nchunks, sizeof *s->pool);
    s->present = calloc(s->nchunks / 64 + 1, sizeof *s->present);
    if (s->chunk == NULL || s->used == NULL || s->pool == NULL || s->present == NULL) {
        instar_sparse_io_free(s);
        return INSTAR_E_NOMEM;
    }
    return INSTAR_OK;
}

void instar_sparse_io_reset(struct instar_sparse_io *s)
{
    /* Every used chunk returns to the pool zeroed.  Bytes at or past
     * `size' are zero already (the invariant), so only [0, size) needs
     * clearing. */
    for (size_t k = 0; k < s->nused; k++) {
        size_t i = s->used[k];
        uint64_t base = (uint64_t)i << SHIFT;
        if (base < s->size)
            memset(s->chunk[i], 0, (size_t)(s->size - base < CHUNK ? s->size - base : CHUNK));
        s->pool[s->npool++] = s->chunk[i];
        s->chunk[i] = NULL;
        s->present[i / 64] = 0;
    }
    s->nused = 0;
    s->size = 0;
    s->io.sys_errno = 0;
}

void instar_sparse_io_free(struct instar_sparse_io *s)
{
    if (s->chunk != NULL)
        for (size_t k = 0; k < s->nused; k++)
            free(s->chunk[s->used[k]]);
    for (size_t k = 0; k < s->npool; k++)
        free(s->pool[k]);
    free(s->chunk);
    free(s->used);
    free(s->pool);
    free(s->present);
    memset(s, 0, sizeof *s);
}

/* The oracle asks once per guest block: one bit test when the chunk is
 * there, else a word at a time (64 slots per compare; not traced: the
 * store's loops say nothing about the engine). */
INSTAR_NO_COVERAGE
uint64_t instar_sparse_io_next_data(const struct instar_io *io, uint64_t off)
{
    const struct instar_sparse_io *s = (const struct instar_sparse_io *)io;
    if (off >= s->size)
        return UINT64_MAX;
    uint64_t first = off >> SHIFT;
    if (first >= s->nchunks)
        return UINT64_MAX;
    size_t w = (size_t)(first / 64), nw = s->nchunks / 64 + 1;
    uint64_t bits = s->present[w] & (~(uint64_t)0 << (first % 64));
    while (bits == 0 && ++w < nw)
        bits = s->present[w];
    if (bits == 0)
        return UINT64_MAX;
    uint64_t best = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
    if ((best << SHIFT) >= s->size)
        return UINT64_MAX;
    return best == first ? off : best << SHIFT;
}
