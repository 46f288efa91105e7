/* SPDX-License-Identifier: GPL-3.0-or-later */
/* engine-input.c -- fuzz_resize_engine's input layout (engine-input.h). */
#include <config.h>

#include <string.h>

#include "fuzz/engine-input.h"
#include "instar/error.h"
#include "util/endian.h"

static const enum instar_format formats[6] = {
    INSTAR_FORMAT_UNKNOWN, INSTAR_FORMAT_RAW, INSTAR_FORMAT_QCOW2,
    INSTAR_FORMAT_VPC, INSTAR_FORMAT_VHDX, INSTAR_FORMAT_VMDK};

void instar_fuzz_engine_args(const uint8_t *data, struct instar_resize_args *args,
                             uint64_t *length)
{
    memset(args, 0, sizeof *args);
    args->format = formats[data[0] % 6];
    args->allow_shrink = (data[1] & 1) != 0;
    args->prealloc = (enum instar_prealloc)((data[1] >> 4) & 3);
    args->size.sign = (enum instar_size_sign)(data[2] % 3);
    args->size.amount = instar_le64(data + 16);
    *length = instar_le64(data + 8);
    if (*length > INSTAR_FUZZ_ENGINE_MAX_IMAGE)
        *length = INSTAR_FUZZ_ENGINE_MAX_IMAGE;
}

int instar_fuzz_engine_load(struct instar_io *io, const uint8_t *data, size_t size,
                            uint64_t length)
{
    size_t pos = INSTAR_FUZZ_ENGINE_HEADER_LEN;
    if (io->ops->set_size(io, length) != INSTAR_OK)
        return -1;
    while (size - pos >= 10) {
        uint64_t off = instar_le64(data + pos);
        size_t len = instar_le16(data + pos + 8);
        pos += 10;
        if (len > size - pos)
            len = size - pos;
        /* Extents stay inside the declared length. */
        if (off < length && off < INSTAR_FUZZ_ENGINE_MAX_EXTENT_OFFSET) {
            size_t n = length - off < len ? (size_t)(length - off) : len;
            if (instar_io_write(io, data + pos, n, off) != INSTAR_OK)
                return -1;
        }
        pos += len;
    }
    return 0;
}
