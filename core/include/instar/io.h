/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/io.h -- the byte store an image lives in.
 *
 * The engine never calls the OS directly: it goes through an instar_io, so
 * the same code resizes a file on disk and an image held in memory (the
 * end-to-end fuzz target and the tests use the latter).  */
#ifndef INSTAR_IO_H
#define INSTAR_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct instar_io;

struct instar_io_ops {
    /* Read exactly LEN bytes at OFF; bytes past end of file read as zero. */
    int (*pread)(struct instar_io *io, void *buf, size_t len, uint64_t off);
    int (*pwrite)(struct instar_io *io, const void *buf, size_t len, uint64_t off);
    int (*get_size)(struct instar_io *io, uint64_t *size);
    int (*set_size)(struct instar_io *io, uint64_t size);
    /* Make [OFF, OFF+LEN) read as zeros, backed by storage (full
     * preallocation: the zeros are really allocated). */
    int (*zero)(struct instar_io *io, uint64_t off, uint64_t len);
    /* Reserve [OFF, OFF+LEN) (posix_fallocate); may extend the file. */
    int (*allocate)(struct instar_io *io, uint64_t off, uint64_t len);
    /* Make [OFF, OFF+LEN) read as zeros without taking space the file
     * does not use yet: holes stay holes, data is zeroed in place; only
     * the part past the end of file is written (it extends the file).
     * A plan's ZERO_FILL patches go through here, so a sparse (possibly
     * hostile) file cannot make a resize fill the disk. */
    int (*clear)(struct instar_io *io, uint64_t off, uint64_t len);
    /* Reserve space for [OFF, OFF+LEN) without changing the file's length
     * or any byte (fallocate FALLOC_FL_KEEP_SIZE), so that running out of
     * space is found before anything is written.  Fails with sys_errno
     * EOPNOTSUPP when the store cannot reserve. */
    int (*reserve)(struct instar_io *io, uint64_t off, uint64_t len);
    /* Give back what reserve took past LENGTH, the file's length, and
     * leave the length at LENGTH (best effort: it is only space). */
    int (*unreserve)(struct instar_io *io, uint64_t length);
    /* Give back the space of [OFF, OFF+LEN) without changing the length
     * (a hole: reads as zeros).  Optional (NULL: not supported); fails
     * with sys_errno EOPNOTSUPP where the file system cannot. */
    int (*discard)(struct instar_io *io, uint64_t off, uint64_t len);
    int (*sync)(struct instar_io *io);
};

struct instar_io {
    const struct instar_io_ops *ops;
    int sys_errno;              /* errno of the last failing call, 0 if none */
};

/* A file descriptor backed store (does not own FD). */
struct instar_fd_io {
    struct instar_io io;
    int fd;
};
void instar_fd_io_init(struct instar_fd_io *fio, int fd);

/* A growable in-memory store.  LIMIT caps the bytes that may be written:
 * writes beyond it fail as EFBIG would, zero-fills and allocations as
 * ENOSPC.  The logical length alone may be set beyond it (sparse). */
struct instar_mem_io {
    struct instar_io io;
    uint8_t *data;
    uint64_t size;              /* logical length */
    size_t capacity;            /* allocated bytes */
    uint64_t limit;
};
void instar_mem_io_init(struct instar_mem_io *mio, uint64_t limit);
/* Adopt a copy of BYTES as the initial content. */
int instar_mem_io_load(struct instar_mem_io *mio, const void *bytes, size_t len);
void instar_mem_io_free(struct instar_mem_io *mio);

/* Helpers with overflow checks; they set io->sys_errno on failure. */
int instar_io_read(struct instar_io *io, void *buf, size_t len, uint64_t off);
int instar_io_write(struct instar_io *io, const void *buf, size_t len, uint64_t off);
int instar_io_size(struct instar_io *io, uint64_t *size);
/* Write LEN bytes of value BYTE at OFF, in chunks (no hole punching, no
 * fallocate: the bytes are written). */
int instar_io_fill(struct instar_io *io, uint8_t byte, uint64_t off, uint64_t len);

#ifdef __cplusplus
}
#endif
#endif
