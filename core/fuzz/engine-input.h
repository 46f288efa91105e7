/* SPDX-License-Identifier: GPL-3.0-or-later */
/* engine-input.h -- how fuzz_resize_engine reads an input: a 24-byte
 * header (format, flags, size sign, image length, size amount) and
 * extents (offset, length, bytes) written into an in-memory image.
 * Shared by the target and core/fuzz/plan-digest.c. */
#ifndef INSTAR_FUZZ_ENGINE_INPUT_H
#define INSTAR_FUZZ_ENGINE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "instar/image.h"
#include "instar/io.h"

#define INSTAR_FUZZ_ENGINE_HEADER_LEN 24
/* The image length is clamped to this. */
#define INSTAR_FUZZ_ENGINE_MAX_IMAGE ((uint64_t)64 << 20)
/* Extents start below this: every real seed's metadata does (a VHDX's
 * ends near 4 MiB, its first data block sits at 8 MiB), and it bounds
 * what an input makes us materialise. */
#define INSTAR_FUZZ_ENGINE_MAX_EXTENT_OFFSET ((uint64_t)16 << 20)

/* The resize request and image length of DATA (at least the header). */
void instar_fuzz_engine_args(const uint8_t *data, struct instar_resize_args *args,
                             uint64_t *length);
/* Set IO's length to LENGTH and write DATA's extents; -1 on an I/O error. */
int instar_fuzz_engine_load(struct instar_io *io, const uint8_t *data, size_t size,
                            uint64_t length);

#endif
