/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-facts.c -- VHDX planner step 1: what the staged headers, region
 * tables, metadata and BAT say, parsed and checked as qemu 7.2 checks
 * them on open, so a plan never starts from an image qemu would refuse. */
#include <config.h>

#include "instar/error.h"
#include "resize/vhdx.h"
#include "util/endian.h"

/* Parse and cross-check everything staged; no request-dependent checks. */
int vhdx_read_facts(const struct instar_vhdx_resize_opts *o, struct vhdx_facts *f)
{
    const struct instar_resize_request *req = &o->req;
    const char *why = NULL;
    int rc;
    uint64_t end;

    rc = instar_vhdx_parse_headers(o->header1, o->header2, &f->hdr, &why);
    if (rc != INSTAR_OK)
        return instar_refuse(req, rc, why);
    if (!f->hdr.log_guid_zero)                  /* the log must be replayed first */
        return instar_refuse(req, INSTAR_E_NEEDS_CHECK, "LogGuid is set: the log is not empty");
    /* seq+1 and seq+2 are written; refuse within 2 of the maximum so the
     * next writer (qemu bumps the sequence on every read-write open) is
     * not left without room either. */
    if (f->hdr.seq >= UINT64_MAX - 2)
        return instar_refuse(req, INSTAR_E_OVERFLOW, "SequenceNumber is within 2 of 2^64");
    if ((rc = instar_vhdx_parse_regions(o->region1, &f->rt1, &why)) != INSTAR_OK
        || (rc = instar_vhdx_parse_regions(o->region2, &f->rt2, &why)) != INSTAR_OK)
        return instar_refuse(req, rc, why);
    if (vhdx_overlaps(f->hdr.log_offset, f->hdr.log_length, f->rt1.bat_offset, f->rt1.bat_length)
        || vhdx_overlaps(f->hdr.log_offset, f->hdr.log_length, f->rt1.meta_offset,
                    f->rt1.meta_length))            /* qemu refuses the open */
        return instar_refuse(req, INSTAR_E_PARSE, "the log overlaps the BAT or the metadata region");
    if (f->rt1.bat_offset != o->bat_offset || f->rt1.bat_length != o->bat_region_length
        || f->rt1.meta_offset != o->metadata_offset)
        return instar_refuse(req, INSTAR_E_HEADER_MISMATCH,
                             "the facts disagree with region table 1");
    rc = instar_vhdx_parse_metadata(o->metadata, f->rt1.meta_length, &f->meta, &why);
    if (rc != INSTAR_OK)
        return instar_refuse(req, rc, why);
    if (f->meta.param_bits & VHDX_PARAM_HAS_PARENT)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                             "File Parameters: HasParent (a differencing image)");
    /* A resize rewrites the size item in place; sharing its bytes with,
     * say, the File Parameters would rewrite the block size too. */
    if (f->meta.size_item_shared)
        return instar_refuse(req, INSTAR_E_PARSE, "the Virtual Disk Size item overlaps "
                             "another metadata item");
    if (f->meta.virtual_size != o->virtual_size || f->meta.block_size != o->block_size
        || f->meta.logical_sector_size != o->logical_sector_size
        || !(f->meta.param_bits & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED) != !o->leave_blocks_allocated)
        return instar_refuse(req, INSTAR_E_HEADER_MISMATCH,
                             "the facts disagree with the metadata region");
    /* Truncated files: the header section, the metadata table and the size
     * item must be inside the file. */
    if (o->current_file_size < VHDX_HEADER_SECTION || o->current_file_size > (uint64_t)INT64_MAX)
        return instar_refuse(req, INSTAR_E_PARSE, "the file is shorter than the 1 MiB "
                             "header section or longer than 2^63");
    if (!instar_add_u64(f->rt1.meta_offset, VHDX_METADATA_TABLE_SIZE, &end)
        || end > o->current_file_size)
        return instar_refuse(req, INSTAR_E_PARSE, "the metadata table reaches past the end "
                             "of the file");
    if (!instar_add_u64(f->rt1.meta_offset, (uint64_t)f->meta.size_item_offset + 8, &end)
        || end > o->current_file_size)
        return instar_refuse(req, INSTAR_E_PARSE, "the Virtual Disk Size item reaches past "
                             "the end of the file");
    return INSTAR_OK;
}

/* Validate the entries qemu will keep reading, with qemu's own checks on
 * present blocks (vhdx_check_bat_entries), so a plan never starts from an
 * image qemu would refuse. */
int vhdx_scan_bat(const struct instar_vhdx_resize_opts *o, const struct vhdx_facts *f,
                  uint64_t keep, uint64_t cr, struct vhdx_bat_scan *s)
{
    const uint64_t bs = f->meta.block_size, fsize = o->current_file_size;
    s->any_zero = false;
    s->present_end = 0;
    for (uint64_t i = 0; i < keep; i++) {
        uint64_t e = instar_le64(o->bat.data + i * 8);
        unsigned state = (unsigned)(e & VHDX_BAT_STATE_MASK);
        uint64_t off = e & VHDX_BAT_OFFSET_MASK;
        if (i % (cr + 1) == cr) {
            /* Sector-bitmap slot: only NOT_PRESENT is valid without a parent. */
            if (state != 0)
                return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                        "is a sector-bitmap slot that is not NOT_PRESENT");
            continue;
        }
        switch (state) {
        case VHDX_PAYLOAD_ZERO:
            s->any_zero = true;
            break;
        case VHDX_PAYLOAD_NOT_PRESENT:
        case VHDX_PAYLOAD_UNDEFINED:
        case VHDX_PAYLOAD_UNMAPPED:
        case VHDX_PAYLOAD_UNMAPPED_V095:
            break;
        case VHDX_PAYLOAD_FULLY_PRESENT: {
            /* qemu: the block may end short only by what the virtual size
             * (counted as logical sectors times 512) leaves of it; its
             * index arithmetic wraps to a full block for the rest. */
            uint64_t total = f->meta.virtual_size / f->meta.logical_sector_size * 512;
            uint64_t left = total - i * bs;
            uint64_t need = left < bs ? left : bs;
            if (off < VHDX_HEADER_SECTION || off > (uint64_t)INT64_MAX - bs
                || off >= fsize || off + need > fsize)
                return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                        "points past the end of the file");
            if (vhdx_overlaps(off, bs, f->hdr.log_offset, f->hdr.log_length)
                || vhdx_overlaps(off, bs, f->rt1.bat_offset, f->rt1.bat_length)
                || vhdx_overlaps(off, bs, f->rt1.meta_offset, f->rt1.meta_length))
                return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                        "points into the log, the BAT or the metadata");
            if (!vhdx_raise_end(&s->present_end, off, bs))
                return instar_refuse_at(&o->req, INSTAR_E_OVERFLOW, "BAT entry", i,
                                        "ends past 2^64");
            break;
        }
        case VHDX_PAYLOAD_PARTIALLY_PRESENT:    /* differencing only */
            return instar_refuse_at(&o->req, INSTAR_E_UNSUPPORTED_SUBFORMAT, "BAT entry", i,
                                    "is PARTIALLY_PRESENT (differencing images only)");
        default:
            return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                    "has an unknown state");
        }
    }
    return INSTAR_OK;
}

