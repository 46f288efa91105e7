/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sparse-io.h -- an in-memory instar_io for the engine fuzz target that
 * materialises only the chunks written to, and is reused from one input to
 * the next.
 *
 * It answers every call exactly as instar_mem_io does (same limits, same
 * errors, bytes never written read as zero), but instar_mem_io keeps the
 * image contiguous: a footer written at 64 MiB makes it allocate, zero
 * and page in 64 MiB, and a fresh store per input pays the page faults
 * again.  Here a write costs the chunks it touches, and a reset zeroes only
 * the chunks the last input used. */
#ifndef INSTAR_FUZZ_SPARSE_IO_H
#define INSTAR_FUZZ_SPARSE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/io.h"

#define INSTAR_SPARSE_CHUNK_SHIFT 14
#define INSTAR_SPARSE_CHUNK ((uint64_t)1 << INSTAR_SPARSE_CHUNK_SHIFT)

struct instar_sparse_io {
    struct instar_io io;
    uint64_t size;              /* logical length */
    uint64_t limit;             /* writes end at or below it */
    size_t nchunks;             /* ceil(limit / chunk): slots in `chunk' */
    uint8_t **chunk;            /* materialised chunks, NULL: all zero */
    size_t *used;               /* indices of the non-NULL slots */
    uint64_t *present;          /* one bit per slot: non-NULL (next_data) */
    size_t nused;
    uint8_t **pool;             /* zeroed chunks kept for reuse */
    size_t npool;
};

/* Set up an empty store capped at LIMIT bytes (INSTAR_E_NOMEM). */
int instar_sparse_io_init(struct instar_sparse_io *s, uint64_t limit);
/* Back to empty (length 0, all zero), keeping the chunks for reuse. */
void instar_sparse_io_reset(struct instar_sparse_io *s);
void instar_sparse_io_free(struct instar_sparse_io *s);
/* The first offset at or after OFF that may hold a non-zero byte: OFF
 * itself inside a materialised chunk, else the next such chunk's start;
 * UINT64_MAX when none is left.  IO must be an instar_sparse_io's. */
uint64_t instar_sparse_io_next_data(const struct instar_io *io, uint64_t off);

#endif
