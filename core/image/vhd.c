/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhd.c -- the VHD (qemu "vpc") engine: read the footer (at offset 0 for
 * dynamic disks, at end of file for fixed ones, as qemu 7.2 looks for it),
 * the dynamic header and the BAT; validate them before anything is
 * written; plan with instar_plan_resize_vhd.  Also create, as qemu-img 7.2
 * writes new images. */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/engine.h"
#include "instar/error.h"
#include "instar/resize.h"
#include "resize/vhd-format.h"
#include "util/checked.h"
#include "util/endian.h"
#include "util/random.h"

/* Seconds from 1970 to 2000-01-01 (VHD timestamps count from 2000). */
#define VHD_TIMESTAMP_BASE 946684800
/* The most BAT bytes the engine stages (a 2040 GiB disk with qemu's 2 MiB
 * blocks needs 4 MiB; this covers blocks down to 32 KiB at that size). */
#define VHD_MAX_STAGED_BAT (256u << 20)

struct vhd_staging {
    uint8_t footer[VHD_FOOTER_SIZE];
    uint8_t header[VHD_DYN_HEADER_SIZE];
    uint8_t *bat;
};

static void release_staging(void *p)
{
    struct vhd_staging *s = p;
    free(s->bat);
    free(s);
}

static int parse_error(struct instar_diag *diag, const char *what)
{
    return instar_diag_set(diag, INSTAR_E_PARSE, "Invalid VHD image: %s", what);
}

/* Read the footer qemu would read, and say where it was found. */
static int read_footer(struct instar_io *io, uint64_t size, struct vhd_staging *s,
                       enum instar_vhd_type *type, struct instar_diag *diag)
{
    int rc;
    if (size < VHD_FOOTER_SIZE)
        return parse_error(diag, "File too small for a VHD header");
    rc = instar_io_read(io, s->footer, VHD_FOOTER_SIZE, 0);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Unable to read VHD header");
    if (memcmp(s->footer, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) == 0) {
        *type = INSTAR_VHD_DYNAMIC;
    } else {
        rc = instar_io_read(io, s->footer, VHD_FOOTER_SIZE, size - VHD_FOOTER_SIZE);
        if (rc != INSTAR_OK)
            return instar_diag_set(diag, rc, "Unable to read VHD footer");
        if (memcmp(s->footer, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) != 0)
            return parse_error(diag, "invalid VPC image (no footer found)");
        *type = INSTAR_VHD_FIXED;
    }
    if (vhd_checksum(s->footer, VHD_FOOTER_SIZE, VHD_F_CHECKSUM)
        != instar_be32(s->footer + VHD_F_CHECKSUM))
        return parse_error(diag, "Incorrect header checksum");
    uint32_t t = instar_be32(s->footer + VHD_F_TYPE);
    if (t == INSTAR_VHD_DIFFERENCING)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                               "Differencing VHD images are not supported");
    if (t != (uint32_t)*type)
        return parse_error(diag, *type == INSTAR_VHD_FIXED
                           ? "footer only at end of file, but the disk type is not fixed"
                           : "footer at offset 0, but the disk type is not dynamic");
    if (size % VHD_SECTOR != 0)
        return parse_error(diag, "file length is not a multiple of 512 (truncated?)");
    return INSTAR_OK;
}

/* Stage the dynamic header and the BAT. */
static int read_dynamic(struct instar_io *io, uint64_t size, const struct vhd_footer *f,
                        struct vhd_staging *s, struct instar_vhd_resize_opts *o,
                        struct instar_diag *diag)
{
    uint64_t end, bat_len;
    int rc;
    if (!instar_add_u64(f->data_offset, VHD_DYN_HEADER_SIZE, &end) || end > size)
        return parse_error(diag, "dynamic header offset points after the end of file");
    rc = instar_io_read(io, s->header, VHD_DYN_HEADER_SIZE, f->data_offset);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Error reading dynamic VHD header");
    if (memcmp(s->header, VHD_DYN_COOKIE, VHD_COOKIE_LEN) != 0)
        return parse_error(diag, "Invalid header magic");
    if (vhd_checksum(s->header, VHD_DYN_HEADER_SIZE, VHD_D_CHECKSUM)
        != instar_be32(s->header + VHD_D_CHECKSUM))
        return parse_error(diag, "Incorrect dynamic header checksum");
    o->bat_offset = instar_be64(s->header + VHD_D_TABLE_OFFSET);
    o->max_table_entries = instar_be32(s->header + VHD_D_MAX_ENTRIES);
    o->block_size = instar_be32(s->header + VHD_D_BLOCK_SIZE);
    bat_len = 4 * (uint64_t)o->max_table_entries;
    if (!instar_add_u64(o->bat_offset, bat_len, &end) || end > size)
        return parse_error(diag, "the block allocation table lies beyond the end of file");
    if (bat_len > VHD_MAX_STAGED_BAT)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                               "Max Table Entries too large (%" PRIu32 ")",
                               o->max_table_entries);
    s->bat = malloc(bat_len ? (size_t)bat_len : 1);
    if (s->bat == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "Unable to allocate memory for page table");
    if (bat_len > 0) {
        rc = instar_io_read(io, s->bat, (size_t)bat_len, o->bat_offset);
        if (rc != INSTAR_OK)
            return instar_diag_set(diag, rc, "Error reading pagetable");
    }
    o->dyn_header.data = s->header;
    o->dyn_header.len = VHD_DYN_HEADER_SIZE;
    o->bat.data = s->bat;
    o->bat.len = (size_t)bat_len;
    o->first_block_offset = size;
    for (uint64_t i = 0; i < o->max_table_entries; i++) {
        uint32_t e = instar_be32(s->bat + 4 * i);
        if (e != VHD_BAT_UNUSED && (uint64_t)e * VHD_SECTOR < o->first_block_offset)
            o->first_block_offset = (uint64_t)e * VHD_SECTOR;
    }
    return INSTAR_OK;
}

/* Scratch for the longest plan: two structures and the 0xFF fill of the
 * grown table (about 1/96 of it, at least 64 KiB; see the planner). */
static size_t scratch_bound(const struct instar_vhd_resize_opts *o, uint64_t new_size)
{
    uint64_t bytes = new_size < VHD_MAX_BYTES ? new_size : VHD_MAX_BYTES;
    uint64_t entries, fill, chunk;
    if (o->disk_type != INSTAR_VHD_DYNAMIC || o->block_size < VHD_SECTOR)
        return 4096;
    /* CHS rounding adds less than one cylinder (16 * 255 sectors). */
    entries = (bytes + 2 * VHD_SECTOR + 16 * 255 * VHD_SECTOR) / o->block_size + 2;
    if (entries > VHD_MAX_TABLE_ENTRIES)
        entries = VHD_MAX_TABLE_ENTRIES;
    fill = 4 * entries + VHD_SECTOR;
    chunk = fill / 96 + 1;
    if (chunk < 65536)
        chunk = 65536;
    return (size_t)(4096 + chunk + 64);
}

/* The planner's refusals in vpc's own words, where qemu-img's generic
 * ones (instar_engine_refusal) would say less. */
static void refusal_words(int rc, const struct instar_resize_plan *plan,
                          enum instar_prealloc prealloc, struct instar_diag *diag)
{
    switch (rc) {
    case INSTAR_E_UNSUPPORTED_SHRINK:
        instar_diag_set(diag, rc, "Shrinking VHD images is not supported "
                        "(the size rounds to %" PRIu64 " bytes, below the current %"
                        PRIu64 ")", plan->new_virtual_size, plan->old_virtual_size);
        break;
    case INSTAR_E_UNSUPPORTED_PREALLOC:
        instar_diag_set(diag, rc, "Preallocation mode '%s' is not supported "
                        "for dynamic VHD images", instar_prealloc_name(prealloc));
        break;
    case INSTAR_E_TOO_LARGE:
        instar_diag_set(diag, rc, "The image size is too large for file format "
                        "'vpc' (max size is 2040 GiB)");
        break;
    case INSTAR_E_PARSE:
        parse_error(diag, "malformed metadata (sizes, offsets or blocks out of range)");
        break;
    default:
        break;
    }
}

static int vhd_plan(struct instar_io *io, const struct instar_resize_args *args,
                    struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_vhd_resize_opts o;
    struct instar_refusal why = {NULL, NULL, 0};
    struct vhd_footer f;
    struct vhd_staging *s;
    enum instar_vhd_type type = INSTAR_VHD_FIXED;
    uint64_t size;
    int rc;

    rc = instar_engine_start(io, out, sizeof *s, release_staging, &size, diag);
    if (rc != INSTAR_OK)
        return rc;
    s = out->staging;

    rc = read_footer(io, size, s, &type, diag);
    if (rc != INSTAR_OK)
        return rc;
    if (vhd_parse_footer(s->footer, VHD_FOOTER_SIZE, &f) != INSTAR_OK)
        return parse_error(diag, "the disk size is beyond 2040 GiB");

    memset(&o, 0, sizeof o);
    o.current_file_size = size;
    o.disk_type = type;
    o.virtual_size = f.virtual_size;
    o.footer.data = s->footer;
    o.footer.len = VHD_FOOTER_SIZE;
    o.first_block_offset = size;
    if (type == INSTAR_VHD_DYNAMIC) {
        rc = read_dynamic(io, size, &f, s, &o, diag);
        if (rc != INSTAR_OK)
            return rc;
    }
    out->current_size = f.virtual_size;
    o.req.allow_shrink = args->allow_shrink;
    o.req.prealloc = args->prealloc;
    o.req.why = &why;
    rc = instar_engine_resolve_size(args, out->current_size, &o.req.new_size, diag);
    if (rc != INSTAR_OK)
        return rc;

    size_t scratch_len = scratch_bound(&o, o.req.new_size);
    uint8_t *scratch = instar_engine_scratch(args, out, &scratch_len, diag);
    if (scratch == NULL)
        return INSTAR_E_NOMEM;
    rc = instar_plan_resize_vhd(&o, scratch, scratch_len, &out->plan);
    if (rc != INSTAR_OK) {
        refusal_words(rc, &out->plan, args->prealloc, diag);
        return instar_engine_refusal(rc, &why, diag);
    }
    return INSTAR_OK;
}

/* ---- create ---------------------------------------------------------------- */

static int make_uuid(uint8_t u[16])
{
    int rc = instar_random_bytes(u, 16);
    if (rc != INSTAR_OK)
        return rc;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);    /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);    /* RFC 4122 variant */
    return INSTAR_OK;
}

/* The options qemu's vpc driver refuses, and the stored size. */
static int vhd_create_params(const struct instar_create_opts *o, bool *dynamic,
                             uint64_t *stored, struct vhd_chs *chs, struct instar_diag *diag)
{
    /* Given explicitly (even empty), it must name a subformat. */
    if ((!o->subformat_set && o->subformat[0] == '\0') || strcmp(o->subformat, "dynamic") == 0)
        *dynamic = true;
    else if (strcmp(o->subformat, "fixed") == 0)
        *dynamic = false;
    else
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Parameter 'subformat' does not accept value '%s'",
                               o->subformat);
    if (o->prealloc == INSTAR_PREALLOC_METADATA)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_PREALLOC,
                               "Unsupported preallocation mode: metadata");
    int rc = vhd_round_size(o->size, o->force_size, stored, chs);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "The image size is too large for file format 'vpc'");
    return INSTAR_OK;
}

int instar_vhd_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    bool dynamic;
    uint64_t stored;
    struct vhd_chs chs;
    return vhd_create_params(o, &dynamic, &stored, &chs, diag);
}

static int vhd_create(struct instar_io *io, const struct instar_create_opts *o,
                      struct instar_diag *diag)
{
    uint8_t footer[VHD_FOOTER_SIZE], hdr[VHD_DYN_HEADER_SIZE];
    struct vhd_chs chs;
    uint64_t stored;
    bool dynamic;
    int rc = vhd_create_params(o, &dynamic, &stored, &chs, diag);
    if (rc != INSTAR_OK)
        return rc;

    memset(footer, 0, sizeof footer);
    memcpy(footer + VHD_F_COOKIE, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN);
    instar_put_be32(footer + VHD_F_FEATURES, VHD_FEATURES_RESERVED);
    instar_put_be32(footer + VHD_F_VERSION, VHD_VERSION_1_0);
    instar_put_be64(footer + VHD_F_DATA_OFFSET, dynamic ? VHD_FOOTER_SIZE : UINT64_MAX);
    instar_put_be32(footer + VHD_F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_TIMESTAMP_BASE));
    memcpy(footer + VHD_F_CREATOR_APP, o->force_size ? "qem2" : "qemu", 4);
    instar_put_be32(footer + VHD_F_CREATOR_VER, 0x00050003);
    memcpy(footer + VHD_F_CREATOR_OS, "Wi2k", 4);
    instar_put_be64(footer + VHD_F_ORIG_SIZE, stored);
    instar_put_be64(footer + VHD_F_CUR_SIZE, stored);
    instar_put_be16(footer + VHD_F_CYLS, chs.cyls);
    footer[VHD_F_HEADS] = chs.heads;
    footer[VHD_F_SECS] = chs.secs;
    instar_put_be32(footer + VHD_F_TYPE, dynamic ? INSTAR_VHD_DYNAMIC : INSTAR_VHD_FIXED);
    if (make_uuid(footer + VHD_F_UUID) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate a UUID: no randomness");
    instar_put_be32(footer + VHD_F_CHECKSUM, vhd_checksum(footer, sizeof footer, VHD_F_CHECKSUM));

    if (dynamic) {
        /* footer copy | dynamic header | BAT (0xFF, padded) | footer */
        uint64_t n = instar_div_round_up_u64(stored, VHD_DEFAULT_BLOCK_SIZE);
        uint64_t bat_len = (4 * n + 511) & ~(uint64_t)511;
        memset(hdr, 0, sizeof hdr);
        memcpy(hdr + VHD_D_COOKIE, VHD_DYN_COOKIE, VHD_COOKIE_LEN);
        /* All 64 bits set: the spec says 0xFFFFFFFF, Microsoft's tools want this. */
        instar_put_be64(hdr + VHD_D_DATA_OFFSET, UINT64_MAX);
        instar_put_be64(hdr + VHD_D_TABLE_OFFSET, 3 * VHD_SECTOR);
        instar_put_be32(hdr + VHD_D_VERSION, VHD_VERSION_1_0);
        instar_put_be32(hdr + VHD_D_MAX_ENTRIES, (uint32_t)n);
        instar_put_be32(hdr + VHD_D_BLOCK_SIZE, VHD_DEFAULT_BLOCK_SIZE);
        instar_put_be32(hdr + VHD_D_CHECKSUM, vhd_checksum(hdr, sizeof hdr, VHD_D_CHECKSUM));
        rc = instar_io_write(io, footer, sizeof footer, 0);
        if (rc == INSTAR_OK)
            rc = instar_io_write(io, hdr, sizeof hdr, VHD_FOOTER_SIZE);
        if (rc == INSTAR_OK)
            rc = instar_io_fill(io, 0xff, 3 * VHD_SECTOR, bat_len);
        if (rc == INSTAR_OK)
            rc = instar_io_write(io, footer, sizeof footer, 3 * VHD_SECTOR + bat_len);
        /* qemu's file layer honours falloc/full for nothing here either:
         * the new disk has no allocated blocks. */
    } else {
        rc = io->ops->set_size(io, stored + VHD_FOOTER_SIZE);
        if (rc == INSTAR_OK && stored > 0 && o->prealloc == INSTAR_PREALLOC_FALLOC)
            rc = io->ops->allocate(io, 0, stored);
        else if (rc == INSTAR_OK && stored > 0 && o->prealloc == INSTAR_PREALLOC_FULL)
            rc = io->ops->zero(io, 0, stored);
        if (rc == INSTAR_OK)
            rc = instar_io_write(io, footer, sizeof footer, stored);
    }
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Unable to create or write VHD header: %s",
                               instar_create_io_reason(io, rc));
    return io->ops->sync(io);
}

const struct instar_format_engine instar_engine_vhd = {
    .format = INSTAR_FORMAT_VPC,
    .plan = vhd_plan,
    .create = vhd_create,
};
