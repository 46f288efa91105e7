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
 * emitted.
 *
 * This file drives the steps (vhdx.h says which file holds each). */
#include <config.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/vhdx.h"

int instar_plan_resize_vhdx(const struct instar_vhdx_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan)
{
    struct instar_builder b;
    struct vhdx_facts f;
    struct vhdx_bat_scan scan;
    const struct instar_resize_request *req = &opts->req;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    instar_refusal_start(req);
    rc = vhdx_read_facts(opts, &f);
    if (rc != INSTAR_OK)
        return rc;

    const uint64_t old_size = f.meta.virtual_size, new_size = req->new_size;
    const uint64_t bs = f.meta.block_size;
    const uint32_t lss = f.meta.logical_sector_size;

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
    rc = vhdx_scan_bat(opts, &f, keep, cr, &scan);
    if (rc != INSTAR_OK)
        return rc;

    plan->old_virtual_size = old_size;
    plan->new_virtual_size = new_size;
    plan->total_file_size = opts->current_file_size;
    if (new_size == old_size)
        return instar_builder_finish(&b);       /* no-op: nothing to write */
    if (new_size < old_size)
        return vhdx_plan_shrink(&b, opts, &f, new_size, cr);
    return vhdx_plan_grow(&b, opts, &f, new_size, cr, keep, &scan);
}
