/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx.c -- the VHDX resize planner: grow dynamic and fixed images.
 *
 * qemu-img 7.2 cannot resize VHDX, so the plan follows MS-VHDX and what
 * qemu 7.2 accepts as a reader (block/vhdx.c).  Order (prepare, commit, cleanup):
 *
 *   prepare  extend the file over everything a present BAT entry or the
 *            BAT will cover (first, so a refused length changes nothing);
 *            zero the tail of a partial, present last block; write the new
 *            BAT entries (in place, or into a new 1 MiB-aligned region past
 *            everything, existing entries copied so no index moves); point
 *            both region tables at a relocated BAT;
 *   headers  the non-current header with seq+1 and new File/DataWriteGuids,
 *            then the other with seq+2 (MS-VHDX: the DataWriteGuid changes
 *            *before* the user-visible change);
 *   commit   the Virtual Disk Size item: the one field qemu takes the size
 *            from, so the image switches from old to new size in one write.
 *
 * Every prefix leaves an image qemu opens with its old size (new BAT
 * entries lie beyond the old entry count, or in a region that holds a
 * superset of the old table) or, once the size item is written, the new.
 *
 * Shrink (with allow_shrink): headers, then the size item as the commit,
 * then cleanup: the tail of a present, now partial last block is zeroed
 * and the BAT entries past the new table are cleared, so no later grow
 * can bring old data back.  Blocks past the new size become unused space;
 * the file keeps its length.  Refusals happen before any patch is
 * emitted. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/vhdx-format.h"
#include "resize/refuse.h"
#include "util/checked.h"
#include "util/endian.h"

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static bool overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return al != 0 && bl != 0 && a < b + bl && b < a + al;
}

/* End of [off, off+len) into *hi, when that is higher; false on overflow. */
static bool raise_end(uint64_t *hi, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return false;
    *hi = max_u64(*hi, end);
    return true;
}

struct vhdx_facts {
    struct instar_vhdx_headers hdr;
    struct instar_vhdx_regions rt1, rt2;
    struct instar_vhdx_meta meta;
};

/* Parse and cross-check everything staged; no request-dependent checks. */
static int read_facts(const struct instar_vhdx_resize_opts *o, struct vhdx_facts *f)
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
    if (overlaps(f->hdr.log_offset, f->hdr.log_length, f->rt1.bat_offset, f->rt1.bat_length)
        || overlaps(f->hdr.log_offset, f->hdr.log_length, f->rt1.meta_offset,
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

/* What the scan of the surviving BAT entries found. */
struct bat_scan {
    bool any_zero;          /* a payload entry in state ZERO: the image's convention */
    uint64_t present_end;   /* highest end of a present block (full block size) */
};

/* Validate the entries qemu will keep reading, with qemu's own checks on
 * present blocks (vhdx_check_bat_entries), so a plan never starts from an
 * image qemu would refuse. */
static int scan_bat(const struct instar_vhdx_resize_opts *o, const struct vhdx_facts *f,
                    uint64_t keep, uint64_t cr, struct bat_scan *s)
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
            if (overlaps(off, bs, f->hdr.log_offset, f->hdr.log_length)
                || overlaps(off, bs, f->rt1.bat_offset, f->rt1.bat_length)
                || overlaps(off, bs, f->rt1.meta_offset, f->rt1.meta_length))
                return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                        "points into the log, the BAT or the metadata");
            if (!raise_end(&s->present_end, off, bs))
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

/* A copy of region table RT (64 KiB) with its BAT entry moved. */
static uint8_t *moved_region_table(struct instar_builder *b, struct instar_slice rt,
                                   uint32_t bat_index, uint64_t off, uint32_t len)
{
    uint8_t *t = instar_builder_alloc(b, VHDX_REGION_SIZE);
    if (t == NULL)
        return NULL;
    memcpy(t, rt.data, VHDX_REGION_SIZE);
    uint8_t *e = t + 16 + (size_t)bat_index * 32;
    instar_put_le64(e + 16, off);
    instar_put_le32(e + 24, len);
    instar_vhdx_checksum_set(t, VHDX_REGION_SIZE);
    return t;
}

static uint8_t *updated_header(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                               const uint8_t *current, uint64_t seq)
{
    uint8_t *h = instar_builder_alloc(b, VHDX_HEADER_SIZE);
    if (h == NULL)
        return NULL;
    memcpy(h, current, VHDX_HEADER_SIZE);
    instar_put_le64(h + 8, seq);
    memcpy(h + 16, o->file_write_guid, 16);
    memcpy(h + 32, o->data_write_guid, 16);
    instar_vhdx_checksum_set(h, VHDX_HEADER_SIZE);
    return h;
}

/* The header update (MS-VHDX: the non-current header with seq+1 and the
 * new GUIDs, then the other with seq+2) and the commit: the Virtual Disk
 * Size item. */
static void emit_headers_and_commit(struct instar_builder *b,
                                    const struct instar_vhdx_resize_opts *o,
                                    const struct vhdx_facts *f, uint64_t new_size)
{
    const uint8_t *cur = f->hdr.current == 0 ? o->header1.data : o->header2.data;
    uint8_t *h_first = updated_header(b, o, cur, f->hdr.seq + 1);
    uint8_t *h_second = updated_header(b, o, cur, f->hdr.seq + 2);
    uint8_t *size_item = instar_builder_alloc(b, 8);
    if (h_first == NULL || h_second == NULL || size_item == NULL)
        return;                                 /* b->err is set */
    const uint64_t other_off = f->hdr.current == 0 ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET;
    const uint64_t cur_off = f->hdr.current == 0 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET;
    instar_builder_write(b, other_off, h_first, VHDX_HEADER_SIZE);
    instar_builder_write(b, cur_off, h_second, VHDX_HEADER_SIZE);
    instar_put_le64(size_item, new_size);
    instar_builder_write(b, f->rt1.meta_offset + f->meta.size_item_offset, size_item, 8);
}

/* After a shrink commits, nothing past the new size is visible; clear what
 * a later grow (by any tool) could otherwise resurrect: the tail of a
 * present, now partial last block, and the BAT entries past the new
 * table (their blocks become unused space; the file keeps its length). */
static void emit_shrink_cleanup(struct instar_builder *b,
                                const struct instar_vhdx_resize_opts *o,
                                const struct vhdx_facts *f, uint64_t new_size,
                                uint64_t cr, uint64_t old_entries)
{
    const uint64_t bs = f->meta.block_size;
    const uint64_t p_new = instar_div_round_up_u64(new_size, bs);
    if (new_size % bs != 0) {
        uint64_t e = instar_le64(o->bat.data + instar_vhdx_payload_index(p_new - 1, cr) * 8);
        if ((e & VHDX_BAT_STATE_MASK) == VHDX_PAYLOAD_FULLY_PRESENT) {
            uint64_t from = (e & VHDX_BAT_OFFSET_MASK) + new_size % bs;
            uint64_t to = (e & VHDX_BAT_OFFSET_MASK) + bs;
            if (to > o->current_file_size)
                to = o->current_file_size;
            if (from < to)
                instar_builder_zero(b, from, to - from);
        }
    }
    /* Entries past the end of the file read as zeros already. */
    uint64_t from = f->rt1.bat_offset + instar_vhdx_payload_index(p_new, cr) * 8;
    uint64_t to = f->rt1.bat_offset + old_entries * 8;
    if (to > o->current_file_size)
        to = o->current_file_size;
    if (from < to)
        instar_builder_zero(b, from, to - from);
}

int instar_plan_resize_vhdx(const struct instar_vhdx_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan)
{
    struct instar_builder b;
    struct vhdx_facts f;
    struct bat_scan scan;
    const struct instar_resize_request *req = &opts->req;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    instar_refusal_start(req);
    rc = read_facts(opts, &f);
    if (rc != INSTAR_OK)
        return rc;

    const uint64_t old_size = f.meta.virtual_size, new_size = req->new_size;
    const uint64_t bs = f.meta.block_size;
    const uint32_t lss = f.meta.logical_sector_size;
    const bool fixed = (f.meta.param_bits & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED) != 0;

    rc = instar_resize_check_request(req, old_size);
    if (rc != INSTAR_OK)
        return rc;
    if (req->prealloc != INSTAR_PREALLOC_OFF)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_PREALLOC, "vhdx takes preallocation=off only");
    if (new_size % lss != 0)
        return instar_refuse(req, lss == 512 ? INSTAR_E_NOT_SECTOR_MULTIPLE : INSTAR_E_INVALID_SIZE,
                             "the new size is not a multiple of the logical sector size");
    if (new_size > VHDX_MAX_VIRTUAL_SIZE)
        return instar_refuse(req, INSTAR_E_TOO_LARGE, "the new size is above 64 TiB");

    const uint64_t cr = instar_vhdx_chunk_ratio(f.meta.block_size, lss);
    const uint64_t p_old = instar_div_round_up_u64(old_size, bs);
    const uint64_t p_new = instar_div_round_up_u64(new_size, bs);
    const uint64_t old_entries = instar_vhdx_bat_entries(old_size, f.meta.block_size, lss);
    const uint64_t new_entries = instar_vhdx_bat_entries(new_size, f.meta.block_size, lss);
    const uint64_t first_new = instar_vhdx_payload_index(p_old, cr);
    /* Entries that stay in use: growing keeps those before the first new
     * payload block, shrinking those of the new size. */
    const uint64_t keep = new_size < old_size ? new_entries
                        : old_entries < first_new ? old_entries : first_new;

    if (old_entries > f.rt1.bat_length / 8)
        return instar_refuse(req, INSTAR_E_PARSE, "the BAT region is too small for the disk");
    if (keep > 0 && (opts->bat.data == NULL || opts->bat.len / 8 < keep)) {
        instar_builder_need(&b, INSTAR_NEED_BYTES, f.rt1.bat_offset, keep * 8);
        return instar_builder_finish(&b);
    }
    if (f.rt1.bat_offset + keep * 8 > opts->current_file_size)
        return instar_refuse(req, INSTAR_E_PARSE, "the BAT reaches past the end of the file");
    rc = scan_bat(opts, &f, keep, cr, &scan);
    if (rc != INSTAR_OK)
        return rc;

    plan->old_virtual_size = old_size;
    plan->new_virtual_size = new_size;
    plan->total_file_size = opts->current_file_size;
    if (new_size == old_size)
        return instar_builder_finish(&b);       /* no-op: nothing to write */
    if (new_size < old_size) {
        plan->action = INSTAR_ACTION_SHRINK;
        emit_headers_and_commit(&b, opts, &f, new_size);
        emit_shrink_cleanup(&b, opts, &f, new_size, cr, old_entries);
        return instar_builder_finish(&b);
    }
    plan->action = INSTAR_ACTION_GROW;

    /* Where new things may go: past the file, every present block and every
     * region either table names (qemu checks blocks against regions). */
    uint64_t floor = max_u64(opts->current_file_size, scan.present_end);
    if (!raise_end(&floor, f.hdr.log_offset, f.hdr.log_length)
        || !raise_end(&floor, f.rt1.bat_offset, f.rt1.bat_length)
        || !raise_end(&floor, f.rt1.meta_offset, f.rt1.meta_length)
        || !raise_end(&floor, f.rt2.bat_offset, f.rt2.bat_length)
        || !raise_end(&floor, f.rt2.meta_offset, f.rt2.meta_length)
        || !instar_align_up_u64(floor, VHDX_MIB, &floor))
        return instar_refuse(req, INSTAR_E_OVERFLOW, "the end of the used space overflows");

    uint64_t alloc = floor;
    const bool relocate = new_entries > f.rt1.bat_length / 8;
    uint64_t bat_base = f.rt1.bat_offset, bat_len = f.rt1.bat_length;
    if (relocate) {
        if (!instar_align_up_u64(new_entries * 8, VHDX_MIB, &bat_len) || bat_len > UINT32_MAX)
            return instar_refuse(req, INSTAR_E_TOO_LARGE, "the new BAT region would pass 4 GiB");
        bat_base = alloc;
        if (!instar_add_u64(alloc, bat_len, &alloc))
            return instar_refuse(req, INSTAR_E_OVERFLOW, "the new BAT's end overflows");
    }
    const uint64_t data_base = alloc;
    uint64_t new_blocks_len = 0;
    if (fixed && (!instar_mul_u64(p_new - p_old, bs, &new_blocks_len)
                  || !instar_add_u64(alloc, new_blocks_len, &alloc)))
        return instar_refuse(req, INSTAR_E_OVERFLOW, "the new blocks' end overflows");

    /* The file covers every present block in full (qemu's open check wraps
     * to a full block for all but a few trailing ones), everything placed
     * above, and every in-place BAT write. */
    uint64_t total = max_u64(opts->current_file_size, scan.present_end);
    if (relocate || (fixed && p_new > p_old))
        total = max_u64(total, alloc);
    if (!relocate && !raise_end(&total, f.rt1.bat_offset, new_entries * 8))
        return instar_refuse(req, INSTAR_E_OVERFLOW, "the grown BAT's end overflows");
    if (total > (uint64_t)INT64_MAX)
        return instar_refuse(req, INSTAR_E_TOO_LARGE, "the file would pass 2^63 bytes");
    plan->total_file_size = total;

    /* ---- prepare ---- */
    const uint64_t eof = opts->current_file_size;
    /* 0. Extend the file first (sparsely: only its last bytes are
     *    zero-filled), so that a file system refusing the length (EFBIG,
     *    ENOSPC) fails the resize before anything else is written; the
     *    hole reads as zeros and everything placed there is written later. */
    if (total > eof) {
        uint64_t from = max_u64(eof, total - 512);
        instar_builder_zero(&b, from, total - from);
    }
    /* 1. The bytes of a partial last block beyond the old size become
     *    guest-visible: make sure they read as zeros. */
    if (p_old > 0 && old_size % bs != 0) {
        uint64_t e = instar_le64(opts->bat.data + instar_vhdx_payload_index(p_old - 1, cr) * 8);
        if ((e & VHDX_BAT_STATE_MASK) == VHDX_PAYLOAD_FULLY_PRESENT) {
            uint64_t from = (e & VHDX_BAT_OFFSET_MASK) + old_size % bs;
            uint64_t to = (e & VHDX_BAT_OFFSET_MASK) + bs;
            if (to > eof)
                to = eof;               /* past EOF reads as zeros already */
            if (from < to)
                instar_builder_zero(&b, from, to - from);
        }
    }
    /* 2. New BAT entries (and, when relocating, the old ones copied). */
    const unsigned new_state = fixed ? VHDX_PAYLOAD_FULLY_PRESENT
                             : scan.any_zero ? VHDX_PAYLOAD_ZERO : VHDX_PAYLOAD_NOT_PRESENT;
    if (relocate && keep > 0)
        instar_builder_write(&b, bat_base, opts->bat.data, keep * 8);
    if (new_entries > keep) {
        uint64_t n = new_entries - keep;
        if (new_state == VHDX_PAYLOAD_NOT_PRESENT) {
            instar_builder_zero(&b, bat_base + keep * 8, n * 8);
        } else {
            uint8_t *t = NULL;
            if (n <= SIZE_MAX / 8)
                t = instar_builder_alloc(&b, (size_t)(n * 8));
            else
                b.err = INSTAR_E_SCRATCH_TOO_SMALL;
            if (t == NULL)
                return instar_builder_finish(&b);
            for (uint64_t i = keep; i < new_entries; i++) {
                uint64_t v = 0;
                if (i % (cr + 1) != cr) {
                    uint64_t k = i - i / (cr + 1);      /* payload block number */
                    v = new_state;
                    if (fixed)
                        v |= data_base + (k - p_old) * bs;
                }
                instar_put_le64(t + (i - keep) * 8, v);
            }
            instar_builder_write(&b, bat_base + keep * 8, t, n * 8);
        }
    }
    if (relocate) {
        uint64_t used = new_entries * 8;
        if (used < bat_len)
            instar_builder_zero(&b, bat_base + used, bat_len - used);
        /* 3. Both region tables: the copy qemu ignores first. */
        uint8_t *t2 = moved_region_table(&b, opts->region2, f.rt2.bat_index, bat_base,
                                         (uint32_t)bat_len);
        uint8_t *t1 = moved_region_table(&b, opts->region1, f.rt1.bat_index, bat_base,
                                         (uint32_t)bat_len);
        if (t1 == NULL || t2 == NULL)
            return instar_builder_finish(&b);
        instar_builder_write(&b, VHDX_REGION2_OFFSET, t2, VHDX_REGION_SIZE);
        instar_builder_write(&b, VHDX_REGION1_OFFSET, t1, VHDX_REGION_SIZE);
    }

    emit_headers_and_commit(&b, opts, &f, new_size);
    return instar_builder_finish(&b);
}
