/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-create.c -- `create -f vhdx' with qemu-img 7.2's layout, defaults
 * and messages (block/vhdx.c vhdx_co_create):
 *
 *   0        file id "vhdxfile" + UTF-16LE creator
 *   64 KiB   header 1 (seq R), 128 KiB header 2 (seq R+1, current)
 *   192 KiB  region table, 256 KiB its copy: BAT, metadata (required = 0)
 *   1 MiB    log (log_size, all zero)
 *   BAT      round_up(1 MiB + log_size, 1 MiB), round_up(entries*8, 1 MiB)
 *   metadata right after the BAT, 1 MiB; data from BAT end + 5 MiB
 *
 * The file is sized (sparsely) before anything is written (qemu writes the
 * file identifier and headers first, then sizes it: same result).  On a
 * device node qemu fails at its header flush, instar at the length. */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/vhdx-create.h"
#include "instar/error.h"
#include "resize/vhdx-format.h"
#include "util/random.h"
#include "util/checked.h"
#include "util/endian.h"

/* The BAT is written in pieces of this many bytes. */
#define BAT_CHUNK (1024 * 1024)

static int wr(struct instar_io *io, const void *buf, size_t len, uint64_t off,
              struct instar_diag *diag)
{
    int rc = instar_io_write(io, buf, len, off);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not write VHDX image: %s",
                               instar_create_io_reason(io, rc));
    return INSTAR_OK;
}

static uint32_t default_block_size(uint64_t size)
{
    if (size > 32 * VHDX_TIB)
        return 64u << 20;
    if (size > 100ull << 30)
        return 32u << 20;
    if (size > 1ull << 30)
        return 16u << 20;
    return 8u << 20;
}

static int write_headers(struct instar_io *io, uint32_t log_size, struct instar_diag *diag)
{
    uint8_t h[VHDX_HEADER_SIZE];
    uint32_t seq;
    memset(h, 0, sizeof h);
    memcpy(h, VHDX_HEADER_SIGNATURE, VHDX_SIG_LEN(VHDX_HEADER_SIGNATURE));
    if (instar_random_bytes(&seq, sizeof seq) != INSTAR_OK
        || instar_random_bytes(h + 16, 32) != INSTAR_OK)   /* File- and DataWriteGuid */
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate GUIDs: no randomness");
    instar_put_le16(h + 64, 0);                 /* LogVersion */
    instar_put_le16(h + 66, 1);                 /* Version */
    instar_put_le32(h + 68, log_size);
    instar_put_le64(h + 72, VHDX_HEADER_SECTION);
    instar_put_le64(h + 8, seq);
    instar_vhdx_checksum_set(h, sizeof h);
    int rc = wr(io, h, sizeof h, VHDX_HEADER1_OFFSET, diag);
    if (rc != INSTAR_OK)
        return rc;
    instar_put_le64(h + 8, (uint64_t)seq + 1);  /* header 2 is current */
    instar_vhdx_checksum_set(h, sizeof h);
    return wr(io, h, sizeof h, VHDX_HEADER2_OFFSET, diag);
}

static int write_region_tables(struct instar_io *io, uint64_t bat_off, uint32_t bat_len,
                               uint64_t meta_off, struct instar_diag *diag)
{
    uint8_t *t = calloc(1, VHDX_REGION_SIZE);
    int rc;
    if (t == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    memcpy(t, VHDX_REGION_SIGNATURE, VHDX_SIG_LEN(VHDX_REGION_SIGNATURE));
    instar_put_le32(t + 8, 2);
    memcpy(t + 16, instar_vhdx_guid_bat, 16);
    instar_put_le64(t + 32, bat_off);
    instar_put_le32(t + 40, bat_len);
    memcpy(t + 48, instar_vhdx_guid_metadata, 16);
    instar_put_le64(t + 64, meta_off);
    instar_put_le32(t + 72, (uint32_t)VHDX_MIB);
    instar_vhdx_checksum_set(t, VHDX_REGION_SIZE);
    rc = wr(io, t, VHDX_REGION_SIZE, VHDX_REGION1_OFFSET, diag);
    if (rc == INSTAR_OK)
        rc = wr(io, t, VHDX_REGION_SIZE, VHDX_REGION2_OFFSET, diag);
    free(t);
    return rc;
}

/* The payload entries qemu writes: ZERO (block_state_zero=on), or for a
 * fixed image FULLY_PRESENT blocks laid out from DATA_START; sector-bitmap
 * slots stay 0.  Dynamic images without block_state_zero keep an all-zero
 * BAT, which the sparse file already is. */
static int write_bat(struct instar_io *io, uint64_t bat_off, uint64_t size, uint32_t bs,
                     bool fixed, bool zero_state, uint64_t data_start,
                     struct instar_diag *diag)
{
    const uint64_t cr = instar_vhdx_chunk_ratio(bs, 512);
    const uint64_t blocks = instar_div_round_up_u64(size, bs);
    if (!fixed && !zero_state)
        return INSTAR_OK;
    if (blocks == 0)
        return INSTAR_OK;
    const uint64_t entries = instar_vhdx_payload_index(blocks - 1, cr) + 1;
    uint8_t *buf = malloc(BAT_CHUNK);
    if (buf == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    int rc = INSTAR_OK;
    for (uint64_t first = 0; first < entries && rc == INSTAR_OK; first += BAT_CHUNK / 8) {
        uint64_t n = entries - first < BAT_CHUNK / 8 ? entries - first : BAT_CHUNK / 8;
        memset(buf, 0, (size_t)n * 8);
        for (uint64_t i = first; i < first + n; i++) {
            if (i % (cr + 1) == cr)
                continue;
            uint64_t k = i - i / (cr + 1);
            uint64_t v = zero_state ? VHDX_PAYLOAD_ZERO : VHDX_PAYLOAD_FULLY_PRESENT;
            if (!zero_state)
                v |= data_start + k * bs;       /* already 1 MiB-aligned */
            instar_put_le64(buf + (i - first) * 8, v);
        }
        rc = wr(io, buf, (size_t)n * 8, bat_off + first * 8, diag);
    }
    free(buf);
    return rc;
}

static int write_metadata(struct instar_io *io, uint64_t meta_off, uint64_t size, uint32_t bs,
                          bool fixed, struct instar_diag *diag)
{
    static const struct { const uint8_t *guid; uint32_t len, flags; } items[5] = {
        {instar_vhdx_guid_file_params, 8, VHDX_META_IS_REQUIRED},
        {instar_vhdx_guid_virtual_size, 8, VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK},
        {instar_vhdx_guid_page83, 16, VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK},
        {instar_vhdx_guid_logical_sector, 4, VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK},
        {instar_vhdx_guid_physical_sector, 4, VHDX_META_IS_REQUIRED | VHDX_META_IS_VIRTUAL_DISK},
    };
    uint8_t *t = calloc(1, VHDX_METADATA_TABLE_SIZE);
    uint8_t data[40];
    uint32_t off = VHDX_METADATA_TABLE_SIZE;
    int rc;
    if (t == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    memcpy(t, VHDX_METADATA_SIGNATURE, VHDX_SIG_LEN(VHDX_METADATA_SIGNATURE));
    instar_put_le16(t + 10, 5);
    for (int i = 0; i < 5; i++) {
        uint8_t *e = t + 32 + i * 32;
        memcpy(e, items[i].guid, 16);
        instar_put_le32(e + 16, off);
        instar_put_le32(e + 20, items[i].len);
        instar_put_le32(e + 24, items[i].flags);
        off += items[i].len;
    }
    memset(data, 0, sizeof data);
    instar_put_le32(data, bs);
    instar_put_le32(data + 4, fixed ? VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED : 0);
    instar_put_le64(data + 8, size);
    if (instar_random_bytes(data + 16, 16) != INSTAR_OK) {   /* page 83 disk id */
        free(t);
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate GUIDs: no randomness");
    }
    instar_put_le32(data + 32, 512);
    instar_put_le32(data + 36, 512);
    rc = wr(io, t, VHDX_METADATA_TABLE_SIZE, meta_off, diag);
    if (rc == INSTAR_OK)
        rc = wr(io, data, sizeof data, meta_off + VHDX_METADATA_TABLE_SIZE, diag);
    free(t);
    return rc;
}

/* qemu's checks of the options, and the sizes they come to. */
static int vhdx_params(const struct instar_create_opts *o, bool *fixed, uint64_t *log_size,
                       uint64_t *bs, struct instar_diag *diag)
{
    const uint64_t size = o->size;
    if (size > VHDX_MAX_VIRTUAL_SIZE)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE, "Image size too large; max of 64TB");
    /* Given explicitly (even empty), it must name a subformat. */
    if ((!o->subformat_set && o->subformat[0] == '\0') || strcmp(o->subformat, "dynamic") == 0)
        *fixed = false;
    else if (strcmp(o->subformat, "fixed") == 0)
        *fixed = true;
    else
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter 'subformat' does not accept value '%s'", o->subformat);
    /* qemu-img 7.2 hands falloc/full to the protocol layer and the result
     * is indistinguishable from off (same length, same allocation); only
     * metadata is refused. */
    if (o->prealloc == INSTAR_PREALLOC_METADATA)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_PREALLOC,
                               "Unsupported preallocation mode: metadata");
    /* qemu's option layer rounds log_size and block_size up to 1 MiB and
     * caps block_size at 256 MiB before the driver validates them; an
     * explicit log_size=0 stays 0 and is refused. */
    *log_size = o->log_size_set || o->log_size != 0 ? o->log_size : VHDX_MIB;
    if (!instar_align_up_u64(*log_size, VHDX_MIB, log_size) || *log_size > UINT32_MAX)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "Log size must be smaller than 4 GB");
    if (*log_size == 0)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "Log size must be a multiple of 1 MB");
    *bs = o->block_size == 0 ? default_block_size(size) : o->block_size;
    if (!instar_align_up_u64(*bs, VHDX_MIB, bs))
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "Block size must be a power of two");
    if (*bs > VHDX_MAX_BLOCK_SIZE)
        *bs = VHDX_MAX_BLOCK_SIZE;
    if (!instar_is_pow2_u64(*bs))
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "Block size must be a power of two");
    return INSTAR_OK;
}

int instar_vhdx_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    bool fixed;
    uint64_t log_size, bs;
    return vhdx_params(o, &fixed, &log_size, &bs, diag);
}

int instar_vhdx_create(struct instar_io *io, const struct instar_create_opts *o,
                       struct instar_diag *diag)
{
    const uint64_t size = o->size;
    bool fixed;
    uint64_t log_size, bs;
    int rc = vhdx_params(o, &fixed, &log_size, &bs, diag);
    if (rc != INSTAR_OK)
        return rc;

    const uint64_t entries = instar_vhdx_bat_entries(size, (uint32_t)bs, 512);
    uint64_t bat_off = 0, bat_len = 0;
    (void)instar_align_up_u64(VHDX_HEADER_SECTION + log_size, VHDX_MIB, &bat_off);
    (void)instar_align_up_u64(entries * 8, VHDX_MIB, &bat_len);   /* <= 2^35: fits */
    const uint64_t meta_off = bat_off + bat_len;
    const uint64_t data_start = bat_off + bat_len + 5 * VHDX_MIB;
    const uint64_t file_len = fixed ? data_start + size : data_start;

    rc = io->ops->set_size(io, file_len);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not resize file: %s",
                               instar_create_io_reason(io, rc));

    /* File identifier: signature and a creator string (diagnostic only). */
    static const char creator[] = "instar-fuzz " PACKAGE_VERSION;
    uint8_t id[8 + 2 * sizeof creator];
    memset(id, 0, sizeof id);
    memcpy(id, VHDX_FILE_SIGNATURE, VHDX_SIG_LEN(VHDX_FILE_SIGNATURE));
    for (size_t i = 0; i + 1 < sizeof creator; i++)
        id[8 + 2 * i] = (uint8_t)creator[i];
    if ((rc = wr(io, id, sizeof id, 0, diag)) != INSTAR_OK
        || (rc = write_headers(io, (uint32_t)log_size, diag)) != INSTAR_OK
        || (rc = write_bat(io, bat_off, size, (uint32_t)bs, fixed, o->block_state_zero,
                           data_start, diag)) != INSTAR_OK
        || (rc = write_region_tables(io, bat_off, (uint32_t)bat_len, meta_off, diag)) != INSTAR_OK
        || (rc = write_metadata(io, meta_off, size, (uint32_t)bs, fixed, diag)) != INSTAR_OK)
        return rc;
    return io->ops->sync(io);
}
