/* SPDX-License-Identifier: GPL-3.0-or-later */
/* io-mem.c -- instar_io over a growable memory buffer.
 *
 * The logical size may exceed what is materialised: bytes past `capacity'
 * read as zero and only writes allocate, so an image can be grown to
 * terabytes in memory as long as little is written out there.  */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/io.h"
#include "util/checked.h"

#define MEM_IO(io) ((struct instar_mem_io *)(io))

static int fail(struct instar_io *io, int err)
{
    io->sys_errno = err;
    return err == EFBIG ? INSTAR_E_FILE_TOO_LARGE
         : err == ENOMEM ? INSTAR_E_NOMEM : INSTAR_E_IO;
}

/* Make sure bytes [0, end) are materialised. */
static int reserve(struct instar_io *io, uint64_t end)
{
    struct instar_mem_io *m = MEM_IO(io);
    if (end <= m->capacity)
        return INSTAR_OK;
    if (end > m->limit || end > SIZE_MAX)
        return fail(io, EFBIG);
    size_t cap = m->capacity ? m->capacity : 4096;
    while (cap < end)
        cap = cap > SIZE_MAX / 2 ? (size_t)end : cap * 2;
    if (cap > m->limit)
        cap = (size_t)m->limit;
    uint8_t *p = realloc(m->data, cap);
    if (p == NULL)
        return fail(io, ENOMEM);
    memset(p + m->capacity, 0, cap - m->capacity);
    m->data = p;
    m->capacity = cap;
    return INSTAR_OK;
}

static int mem_pread(struct instar_io *io, void *buf, size_t len, uint64_t off)
{
    struct instar_mem_io *m = MEM_IO(io);
    uint8_t *out = buf;
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return fail(io, EINVAL);
    memset(out, 0, len);
    uint64_t have = m->size < m->capacity ? m->size : m->capacity;
    if (off < have) {
        uint64_t n = (end < have ? end : have) - off;
        memcpy(out, m->data + off, (size_t)n);
    }
    return INSTAR_OK;
}

static int mem_pwrite(struct instar_io *io, const void *buf, size_t len, uint64_t off)
{
    struct instar_mem_io *m = MEM_IO(io);
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return fail(io, EFBIG);
    int rc = reserve(io, end);
    if (rc != INSTAR_OK)
        return rc;
    if (len > 0)
        memcpy(m->data + off, buf, len);
    if (end > m->size)
        m->size = end;
    return INSTAR_OK;
}

static int mem_get_size(struct instar_io *io, uint64_t *size)
{
    *size = MEM_IO(io)->size;
    return INSTAR_OK;
}

static int mem_set_size(struct instar_io *io, uint64_t size)
{
    struct instar_mem_io *m = MEM_IO(io);
    if (size > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    /* Bytes cut off must read as zero if the file grows again. */
    if (size < m->capacity)
        memset(m->data + size, 0, m->capacity - (size_t)size);
    m->size = size;
    return INSTAR_OK;
}

/* Make [OFF, OFF+LEN) read as zeros.  TAKES_SPACE: zero and allocate
 * are bounded like writes over the whole range; clear (holes stay
 * holes) only past the logical length, since inside it nothing new is
 * taken.  ZERO: whether materialised bytes are zeroed (allocate keeps
 * what is there). */
static int mem_extend(struct instar_io *io, uint64_t off, uint64_t len,
                      bool takes_space, bool zero)
{
    struct instar_mem_io *m = MEM_IO(io);
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    if (end > m->limit && (takes_space || end > m->size))
        return fail(io, ENOSPC);
    if (zero && off < m->capacity) {
        uint64_t stop = end < m->capacity ? end : m->capacity;
        memset(m->data + off, 0, (size_t)(stop - off));
    }
    if (end > m->size)
        m->size = end;
    return INSTAR_OK;
}

static int mem_zero(struct instar_io *io, uint64_t off, uint64_t len)
{
    return mem_extend(io, off, len, true, true);
}

static int mem_allocate(struct instar_io *io, uint64_t off, uint64_t len)
{
    return mem_extend(io, off, len, true, false);
}

static int mem_clear(struct instar_io *io, uint64_t off, uint64_t len)
{
    return mem_extend(io, off, len, false, true);
}

/* Space is bounded by LIMIT alone: a reservation fails where a write
 * there would. */
static int mem_reserve(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    if (len > 0 && end > MEM_IO(io)->limit)
        return fail(io, ENOSPC);
    return INSTAR_OK;
}

static int mem_unreserve(struct instar_io *io, uint64_t length)
{
    return mem_set_size(io, length);
}

static int mem_sync(struct instar_io *io)
{
    (void)io;
    return INSTAR_OK;
}

static const struct instar_io_ops mem_ops = {
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .get_size = mem_get_size,
    .set_size = mem_set_size,
    .zero = mem_zero,
    .allocate = mem_allocate,
    .clear = mem_clear,
    .reserve = mem_reserve,
    .unreserve = mem_unreserve,
    .sync = mem_sync,
};

void instar_mem_io_init(struct instar_mem_io *mio, uint64_t limit)
{
    mio->io.ops = &mem_ops;
    mio->io.sys_errno = 0;
    mio->data = NULL;
    mio->size = 0;
    mio->capacity = 0;
    mio->limit = limit;
}

int instar_mem_io_load(struct instar_mem_io *mio, const void *bytes, size_t len)
{
    mio->size = 0;
    if (mio->capacity)
        memset(mio->data, 0, mio->capacity);
    return mem_pwrite(&mio->io, bytes, len, 0);
}

void instar_mem_io_free(struct instar_mem_io *mio)
{
    free(mio->data);
    mio->data = NULL;
    mio->size = mio->capacity = 0;
}
