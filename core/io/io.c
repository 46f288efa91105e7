/* SPDX-License-Identifier: GPL-3.0-or-later */
/* io.c -- checked helpers over struct instar_io. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "instar/error.h"
#include "instar/io.h"
#include "util/checked.h"

int instar_io_read(struct instar_io *io, void *buf, size_t len, uint64_t off)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end)) {
        io->sys_errno = EINVAL;
        return INSTAR_E_OVERFLOW;
    }
    return io->ops->pread(io, buf, len, off);
}

int instar_io_write(struct instar_io *io, const void *buf, size_t len, uint64_t off)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end)) {
        io->sys_errno = EFBIG;
        return INSTAR_E_OVERFLOW;
    }
    return io->ops->pwrite(io, buf, len, off);
}

int instar_io_size(struct instar_io *io, uint64_t *size)
{
    return io->ops->get_size(io, size);
}

int instar_io_fill(struct instar_io *io, uint8_t byte, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    uint8_t buf[sizeof zeros];
    const uint8_t *src = zeros;
    if (byte != 0) {
        memset(buf, byte, sizeof buf);
        src = buf;
    }
    while (len > 0) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        int rc = instar_io_write(io, src, n, off);
        if (rc != INSTAR_OK)
            return rc;
        off += n;
        len -= n;
    }
    return INSTAR_OK;
}
