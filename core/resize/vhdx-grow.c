/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-grow.c -- the VHDX grow plan: new blocks' BAT entries (in place, or
 * a relocated BAT with both region tables pointed at it), then the header
 * update and the size commit (vhdx-emit.c). */
#include <config.h>

#include "instar/error.h"
#include "resize/vhdx.h"
#include "util/endian.h"

int vhdx_plan_grow(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                   const struct vhdx_facts *f, uint64_t new_size, uint64_t cr,
                   uint64_t keep, const struct vhdx_bat_scan *scan)
{
    const uint64_t old_size = f->meta.virtual_size;
    const uint64_t bs = f->meta.block_size;
    const uint32_t lss = f->meta.logical_sector_size;
    const bool fixed = (f->meta.param_bits & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED) != 0;
    const uint64_t p_old = instar_div_round_up_u64(old_size, bs);
    const uint64_t p_new = instar_div_round_up_u64(new_size, bs);
    const uint64_t new_entries = instar_vhdx_bat_entries(new_size, f->meta.block_size, lss);

    b->plan->action = INSTAR_ACTION_GROW;

    /* Where new things may go: past the file, every present block and every
     * region either table names (qemu checks blocks against regions). */
    uint64_t floor = vhdx_max_u64(o->current_file_size, scan->present_end);
    if (!vhdx_raise_end(&floor, f->hdr.log_offset, f->hdr.log_length)
        || !vhdx_raise_end(&floor, f->rt1.bat_offset, f->rt1.bat_length)
        || !vhdx_raise_end(&floor, f->rt1.meta_offset, f->rt1.meta_length)
        || !vhdx_raise_end(&floor, f->rt2.bat_offset, f->rt2.bat_length)
        || !vhdx_raise_end(&floor, f->rt2.meta_offset, f->rt2.meta_length)
        || !instar_align_up_u64(floor, VHDX_MIB, &floor))
        return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the end of the used space overflows");

    uint64_t alloc = floor;
    const bool relocate = new_entries > f->rt1.bat_length / 8;
    uint64_t bat_base = f->rt1.bat_offset, bat_len = f->rt1.bat_length;
    if (relocate) {
        if (!instar_align_up_u64(new_entries * 8, VHDX_MIB, &bat_len) || bat_len > UINT32_MAX)
            return instar_refuse(&o->req, INSTAR_E_TOO_LARGE,
                                 "the new BAT region would pass 4 GiB");
        bat_base = alloc;
        if (!instar_add_u64(alloc, bat_len, &alloc))
            return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the new BAT's end overflows");
    }
    const uint64_t data_base = alloc;
    uint64_t new_blocks_len = 0;
    if (fixed && (!instar_mul_u64(p_new - p_old, bs, &new_blocks_len)
                  || !instar_add_u64(alloc, new_blocks_len, &alloc)))
        return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the new blocks' end overflows");

    /* The file covers every present block in full (qemu's open check wraps
     * to a full block for all but a few trailing ones), everything placed
     * above, and every in-place BAT write. */
    uint64_t total = vhdx_max_u64(o->current_file_size, scan->present_end);
    if (relocate || (fixed && p_new > p_old))
        total = vhdx_max_u64(total, alloc);
    if (!relocate && !vhdx_raise_end(&total, f->rt1.bat_offset, new_entries * 8))
        return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the grown BAT's end overflows");
    if (total > (uint64_t)INT64_MAX)
        return instar_refuse(&o->req, INSTAR_E_TOO_LARGE, "the file would pass 2^63 bytes");
    b->plan->total_file_size = total;

    /* ---- prepare ---- */
    const uint64_t eof = o->current_file_size;
    /* 0. Extend the file first (sparsely: only its last bytes are
     *    zero-filled), so that a file system refusing the length (EFBIG,
     *    ENOSPC) fails the resize before anything else is written; the
     *    hole reads as zeros and everything placed there is written later. */
    if (total > eof) {
        uint64_t from = vhdx_max_u64(eof, total - 512);
        instar_builder_zero(b, from, total - from);
    }
    /* 1. The bytes of a partial last block beyond the old size become
     *    guest-visible: make sure they read as zeros. */
    vhdx_zero_block_tail(b, o, f, cr, old_size);
    /* 2. New BAT entries (and, when relocating, the old ones copied). */
    const unsigned new_state = fixed ? VHDX_PAYLOAD_FULLY_PRESENT
                             : scan->any_zero ? VHDX_PAYLOAD_ZERO : VHDX_PAYLOAD_NOT_PRESENT;
    if (relocate && keep > 0)
        instar_builder_write(b, bat_base, o->bat.data, keep * 8);
    if (new_entries > keep) {
        uint64_t n = new_entries - keep;
        if (new_state == VHDX_PAYLOAD_NOT_PRESENT) {
            instar_builder_zero(b, bat_base + keep * 8, n * 8);
        } else {
            uint8_t *t = NULL;
            if (n <= SIZE_MAX / 8)
                t = instar_builder_alloc(b, (size_t)(n * 8));
            else
                b->err = INSTAR_E_SCRATCH_TOO_SMALL;
            if (t == NULL)
                return instar_builder_finish(b);
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
            instar_builder_write(b, bat_base + keep * 8, t, n * 8);
        }
    }
    if (relocate) {
        uint64_t used = new_entries * 8;
        if (used < bat_len)
            instar_builder_zero(b, bat_base + used, bat_len - used);
        /* 3. Both region tables: the copy qemu ignores first. */
        uint8_t *t2 = vhdx_moved_region_table(b, o->region2, f->rt2.bat_index, bat_base,
                                              (uint32_t)bat_len);
        uint8_t *t1 = vhdx_moved_region_table(b, o->region1, f->rt1.bat_index, bat_base,
                                              (uint32_t)bat_len);
        if (t1 == NULL || t2 == NULL)
            return instar_builder_finish(b);
        instar_builder_write(b, VHDX_REGION2_OFFSET, t2, VHDX_REGION_SIZE);
        instar_builder_write(b, VHDX_REGION1_OFFSET, t1, VHDX_REGION_SIZE);
    }

    vhdx_emit_headers_and_commit(b, o, f, new_size);
    return instar_builder_finish(b);
}
