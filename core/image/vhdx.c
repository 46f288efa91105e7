/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx.c -- the VHDX engine: read the facts, stage what the planner asks
 * for, plan.  Every read is bounded by the file size and a sane maximum;
 * nothing is written here (instar_plan_apply does that). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/vhdx-create.h"
#include "instar/error.h"
#include "instar/resize.h"
#include "resize/vhdx-format.h"
#include "util/checked.h"
#include "util/random.h"

/* Items beyond this many bytes into the metadata region are refused: qemu
 * writes them at 64 KiB, and a hostile region length must not become a
 * huge read. */
#define VHDX_METADATA_STAGE_MAX (4 * VHDX_MIB)
/* A BAT never exceeds 64 TiB / 1 MiB blocks: 2^26 payload entries plus
 * their sector-bitmap slots, 8 bytes each (and qemu's 0-size wrap). */
#define VHDX_BAT_STAGE_MAX (1024 * VHDX_MIB)

struct vhdx_staging {
    uint8_t header1[VHDX_HEADER_SIZE];
    uint8_t header2[VHDX_HEADER_SIZE];
    uint8_t region1[VHDX_REGION_SIZE];
    uint8_t region2[VHDX_REGION_SIZE];
    uint8_t *meta;
    size_t meta_len;
    uint8_t *bat;
    size_t bat_len;
};

static void release_staging(void *p)
{
    struct vhdx_staging *s = p;
    free(s->meta);
    free(s->bat);
    free(s);
}

static int corrupt(struct instar_diag *diag, const char *why)
{
    return instar_diag_set(diag, INSTAR_E_PARSE, "Could not open VHDX image: %s", why);
}

static int read_at(struct instar_io *io, void *buf, size_t len, uint64_t off,
                   struct instar_diag *diag)
{
    int rc = instar_io_read(io, buf, len, off);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read VHDX image: %s",
                               strerror(io->sys_errno ? io->sys_errno : EIO));
    return INSTAR_OK;
}

/* The planner's refusals in vhdx's own words, where qemu-img's generic
 * ones (instar_engine_refusal) would say less. */
static void refusal_words(int rc, const struct instar_resize_args *args, uint64_t new_size,
                          struct instar_diag *diag)
{
    switch (rc) {
    case INSTAR_E_UNSUPPORTED_PREALLOC:
        instar_diag_set(diag, rc, "Unsupported preallocation mode '%s' for vhdx "
                        "(only 'off')", instar_prealloc_name(args->prealloc));
        break;
    case INSTAR_E_NOT_SECTOR_MULTIPLE:
    case INSTAR_E_INVALID_SIZE:
        instar_diag_set(diag, rc, "The new size %" PRIu64 " is not a multiple of "
                        "the logical sector size", new_size);
        break;
    case INSTAR_E_TOO_LARGE:
        instar_diag_set(diag, rc, "Image size too large; max of 64TB");
        break;
    case INSTAR_E_PARSE:
        corrupt(diag, "a block, the BAT or the metadata is corrupt or truncated");
        break;
    case INSTAR_E_UNSUPPORTED_SUBFORMAT:
        instar_diag_set(diag, rc, "differencing VHDX images are not supported");
        break;
    default:
        break;
    }
}

static int vhdx_plan(struct instar_io *io, const struct instar_resize_args *args,
                     struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_vhdx_resize_opts o;
    struct instar_refusal refusal = {NULL, NULL, 0};
    struct instar_vhdx_headers hdr;
    struct instar_vhdx_regions rt1, rt2;
    struct instar_vhdx_meta meta;
    const char *why = NULL;
    uint64_t fsize;
    uint8_t sig[8];
    int rc;

    rc = instar_engine_start(io, out, sizeof(struct vhdx_staging), release_staging, &fsize, diag);
    if (rc != INSTAR_OK)
        return rc;
    struct vhdx_staging *st = out->staging;
    if (fsize < VHDX_HEADER_SECTION)
        return corrupt(diag, "truncated file (shorter than the 1 MiB header section)");
    if ((rc = read_at(io, sig, 8, 0, diag)) != INSTAR_OK
        || (rc = read_at(io, st->header1, VHDX_HEADER_SIZE, VHDX_HEADER1_OFFSET, diag)) != INSTAR_OK
        || (rc = read_at(io, st->header2, VHDX_HEADER_SIZE, VHDX_HEADER2_OFFSET, diag)) != INSTAR_OK
        || (rc = read_at(io, st->region1, VHDX_REGION_SIZE, VHDX_REGION1_OFFSET, diag)) != INSTAR_OK
        || (rc = read_at(io, st->region2, VHDX_REGION_SIZE, VHDX_REGION2_OFFSET, diag)) != INSTAR_OK)
        return rc;
    if (memcmp(sig, VHDX_FILE_SIGNATURE, VHDX_SIG_LEN(VHDX_FILE_SIGNATURE)) != 0)
        return corrupt(diag, "no 'vhdxfile' signature");

    struct instar_slice h1 = {st->header1, VHDX_HEADER_SIZE}, h2 = {st->header2, VHDX_HEADER_SIZE};
    struct instar_slice r1 = {st->region1, VHDX_REGION_SIZE}, r2 = {st->region2, VHDX_REGION_SIZE};
    if (instar_vhdx_parse_headers(h1, h2, &hdr, &why) != INSTAR_OK)
        return corrupt(diag, why);
    if (!hdr.log_guid_zero)
        return instar_diag_set(diag, INSTAR_E_NEEDS_CHECK,
                               "the VHDX log is not empty (LogGuid is set): it must be "
                               "replayed first (qemu-img check -r all)");
    if (hdr.seq >= UINT64_MAX - 2)
        return instar_diag_set(diag, INSTAR_E_OVERFLOW,
                               "VHDX header sequence number %" PRIu64 " is too close to "
                               "2^64 to update the headers safely", hdr.seq);
    if (instar_vhdx_parse_regions(r1, &rt1, &why) != INSTAR_OK)
        return corrupt(diag, why);
    if (instar_vhdx_parse_regions(r2, &rt2, &why) != INSTAR_OK)
        return corrupt(diag, why);

    /* Metadata: the table and its items, bounded by the region, the file
     * and VHDX_METADATA_STAGE_MAX. */
    if (rt1.meta_offset > fsize || fsize - rt1.meta_offset < VHDX_METADATA_TABLE_SIZE)
        return corrupt(diag, "truncated file (metadata region beyond the end)");
    uint64_t mlen = rt1.meta_length;
    if (mlen > VHDX_METADATA_STAGE_MAX)
        mlen = VHDX_METADATA_STAGE_MAX;
    if (mlen > fsize - rt1.meta_offset)
        mlen = fsize - rt1.meta_offset;
    st->meta = malloc((size_t)mlen);
    if (st->meta == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    st->meta_len = (size_t)mlen;
    if ((rc = read_at(io, st->meta, st->meta_len, rt1.meta_offset, diag)) != INSTAR_OK)
        return rc;
    struct instar_slice md = {st->meta, st->meta_len};
    if (instar_vhdx_parse_metadata(md, rt1.meta_length, &meta, &why) != INSTAR_OK)
        return corrupt(diag, why);
    if (meta.param_bits & VHDX_PARAM_HAS_PARENT)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                               "differencing VHDX images (HasParent) are not supported");

    out->current_size = meta.virtual_size;
    memset(&o, 0, sizeof o);
    o.req.allow_shrink = args->allow_shrink;
    o.req.prealloc = args->prealloc;
    o.req.why = &refusal;
    rc = instar_engine_resolve_size(args, meta.virtual_size, &o.req.new_size, diag);
    if (rc != INSTAR_OK)
        return rc;
    o.current_file_size = fsize;
    o.virtual_size = meta.virtual_size;
    o.block_size = meta.block_size;
    o.logical_sector_size = meta.logical_sector_size;
    o.leave_blocks_allocated = (meta.param_bits & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED) != 0;
    o.header1 = h1;
    o.header2 = h2;
    o.region1 = r1;
    o.region2 = r2;
    o.metadata = md;
    o.metadata_offset = rt1.meta_offset;
    o.bat_offset = rt1.bat_offset;
    o.bat_region_length = rt1.bat_length;
    if (instar_random_bytes(o.file_write_guid, 16) != INSTAR_OK
        || instar_random_bytes(o.data_write_guid, 16) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate GUIDs: no randomness");

    /* Scratch for the new BAT entries, two region tables, two headers and
     * the size item. */
    uint64_t new_entries = 0;
    if (o.req.new_size <= VHDX_MAX_VIRTUAL_SIZE)
        new_entries = instar_vhdx_bat_entries(o.req.new_size, meta.block_size,
                                              meta.logical_sector_size);
    uint64_t need = new_entries * 8 + 2 * VHDX_REGION_SIZE + 2 * VHDX_HEADER_SIZE + 256;
    if (need > VHDX_BAT_STAGE_MAX + VHDX_MIB)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE, "BAT too large to plan");
    size_t scratch_len = (size_t)need;
    uint8_t *scratch = instar_engine_scratch(args, out, &scratch_len, diag);
    if (scratch == NULL)
        return INSTAR_E_NOMEM;

    for (int round = 0; round < 2; round++) {
        rc = instar_plan_resize_vhdx(&o, scratch, scratch_len, &out->plan);
        if (rc != INSTAR_E_NOT_STAGED || round == 1)
            break;
        /* The planner names the BAT bytes it needs: stage exactly those. */
        const struct instar_need *n = &out->plan.needs[0];
        if (out->plan.nneeds != 1 || n->kind != INSTAR_NEED_BYTES || n->index != rt1.bat_offset)
            break;
        if (n->length > VHDX_BAT_STAGE_MAX || n->index > fsize || n->length > fsize - n->index)
            return corrupt(diag, "truncated file (BAT beyond the end)");
        free(st->bat);
        st->bat = malloc(n->length ? (size_t)n->length : 1);
        if (st->bat == NULL)
            return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
        st->bat_len = (size_t)n->length;
        if ((rc = read_at(io, st->bat, st->bat_len, n->index, diag)) != INSTAR_OK)
            return rc;
        o.bat.data = st->bat;
        o.bat.len = st->bat_len;
    }
    if (rc != INSTAR_OK) {
        refusal_words(rc, args, o.req.new_size, diag);
        return instar_engine_refusal(rc, &refusal, diag);
    }
    return INSTAR_OK;
}

const struct instar_format_engine instar_engine_vhdx = {
    .format = INSTAR_FORMAT_VHDX,
    .plan = vhdx_plan,
    .create = instar_vhdx_create,
};
