/* SPDX-License-Identifier: GPL-3.0-or-later */
/* io-fd.c -- instar_io over a POSIX file descriptor. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/io.h"
#include "util/checked.h"

#define FD_IO(io) ((struct instar_fd_io *)(io))

static int fail(struct instar_io *io, int err)
{
    io->sys_errno = err;
    return err == EFBIG ? INSTAR_E_FILE_TOO_LARGE : INSTAR_E_IO;
}

static int fd_pread(struct instar_io *io, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(FD_IO(io)->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(io, errno);
        }
        if (n == 0) {           /* past end of file: zeros */
            memset(p, 0, len);
            return INSTAR_OK;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return INSTAR_OK;
}

static int fd_pwrite(struct instar_io *io, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(FD_IO(io)->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(io, errno);
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return INSTAR_OK;
}

static int fd_get_size(struct instar_io *io, uint64_t *size)
{
    struct stat st;
    if (fstat(FD_IO(io)->fd, &st) != 0)
        return fail(io, errno);
    *size = (uint64_t)st.st_size;
    return INSTAR_OK;
}

static int fd_set_size(struct instar_io *io, uint64_t size)
{
    if (size > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    while (ftruncate(FD_IO(io)->fd, (off_t)size) != 0) {
        if (errno != EINTR)
            return fail(io, errno);
    }
    return INSTAR_OK;
}

static int fd_zero(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
#if defined(HAVE_FALLOCATE) && defined(FALLOC_FL_ZERO_RANGE)
    /* Cheap when the filesystem can; otherwise write the zeros. */
    if (len > 0 && fallocate(FD_IO(io)->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0)
        return INSTAR_OK;
#endif
    return instar_io_fill(io, 0, off, len);
}

static int fd_allocate(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (len == 0)
        return INSTAR_OK;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
#ifdef HAVE_POSIX_FALLOCATE
    int err = posix_fallocate(FD_IO(io)->fd, (off_t)off, (off_t)len);
    if (err != 0)
        return fail(io, err);
    return INSTAR_OK;
#else
    return instar_io_fill(io, 0, off, len);
#endif
}

/* Zero [OFF, END) in place, inside the file: the range holds data. */
static int zero_data(struct instar_io *io, uint64_t off, uint64_t end)
{
#if defined(HAVE_FALLOCATE) && defined(FALLOC_FL_ZERO_RANGE)
    /* Keeps the blocks (no new space); where the filesystem cannot,
     * overwriting data that is already there takes none either. */
    if (fallocate(FD_IO(io)->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)(end - off)) == 0)
        return INSTAR_OK;
#endif
    return instar_io_fill(io, 0, off, end - off);
}

static int fd_clear(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end, size, in_end;
    int fd = FD_IO(io)->fd;
    int rc;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
    if (len == 0)
        return INSTAR_OK;
    rc = fd_get_size(io, &size);
    if (rc != INSTAR_OK)
        return rc;
    in_end = end < size ? end : size;
    /* Inside the file: only the data extents need zeroing; holes already
     * read as zeros and must not be allocated (a sparse tail of
     * gigabytes would be written out otherwise). */
    for (uint64_t pos = off; pos < in_end;) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        off_t h;
        if (d < 0) {
            if (errno == ENXIO)
                break;                  /* only a hole up to the end */
            if (errno != EINVAL && errno != EOPNOTSUPP)
                return fail(io, errno);
            /* No hole reporting here: zero the rest in place. */
            rc = zero_data(io, pos, in_end);
            if (rc != INSTAR_OK)
                return rc;
            break;
        }
        if ((uint64_t)d >= in_end)
            break;
        h = lseek(fd, d, SEEK_HOLE);
        if (h < 0)
            return fail(io, errno);
        uint64_t stop = (uint64_t)h < in_end ? (uint64_t)h : in_end;
        rc = zero_data(io, (uint64_t)d, stop);
        if (rc != INSTAR_OK)
            return rc;
        pos = stop;
    }
    /* Past the end: written, as the format's writer would (qemu writes
     * a new L1 table in full, and a raw file's first block). */
    if (end <= size)
        return INSTAR_OK;
    uint64_t from = off > size ? off : size;
    return fd_zero(io, from, end - from);
}

static int fd_reserve(struct instar_io *io, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (len == 0)
        return INSTAR_OK;
    if (!instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
        return fail(io, EFBIG);
#if defined(HAVE_FALLOCATE) && defined(FALLOC_FL_KEEP_SIZE)
    while (fallocate(FD_IO(io)->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        if (errno != EINTR)
            return fail(io, errno == ENOSYS ? EOPNOTSUPP : errno);
    }
    return INSTAR_OK;
#else
    return fail(io, EOPNOTSUPP);
#endif
}

static int fd_unreserve(struct instar_io *io, uint64_t length)
{
    uint64_t size;
    int rc = fd_get_size(io, &size);
    if (rc != INSTAR_OK)
        return rc;
#if defined(HAVE_FALLOCATE) && defined(FALLOC_FL_PUNCH_HOLE)
    /* Blocks reserved past the end of file: some filesystems free them
     * on the truncate below, others only when punched. */
    if (size <= length)
        (void)fallocate(FD_IO(io)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        (off_t)length, (off_t)(INT64_MAX - length));
#endif
    return fd_set_size(io, length);
}

static int fd_discard(struct instar_io *io, uint64_t off, uint64_t len)
{
#if defined(HAVE_FALLOCATE) && defined(FALLOC_FL_PUNCH_HOLE)
    if (fallocate(FD_IO(io)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)len) != 0)
        return fail(io, errno);
    return INSTAR_OK;
#else
    (void)off;
    (void)len;
    return fail(io, EOPNOTSUPP);
#endif
}

static int fd_sync(struct instar_io *io)
{
    if (fsync(FD_IO(io)->fd) != 0 && errno != EINVAL)
        return fail(io, errno);
    return INSTAR_OK;
}

static const struct instar_io_ops fd_ops = {
    .pread = fd_pread,
    .pwrite = fd_pwrite,
    .get_size = fd_get_size,
    .set_size = fd_set_size,
    .zero = fd_zero,
    .allocate = fd_allocate,
    .clear = fd_clear,
    .reserve = fd_reserve,
    .unreserve = fd_unreserve,
    .discard = fd_discard,
    .sync = fd_sync,
};

void instar_fd_io_init(struct instar_fd_io *fio, int fd)
{
    fio->io.ops = &fd_ops;
    fio->io.sys_errno = 0;
    fio->fd = fd;
}
