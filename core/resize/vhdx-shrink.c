/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-shrink.c -- the VHDX shrink plan: headers, then the size item as
 * the commit, then cleanup.
 *
 * After the commit nothing past the new size is visible; the cleanup
 * clears what a later grow (by any tool) could otherwise resurrect: the
 * tail of a present, now partial last block, and the BAT entries past the
 * new table (their blocks become unused space; the file keeps its
 * length). */
#include <config.h>

#include "instar/error.h"
#include "resize/vhdx.h"

int vhdx_plan_shrink(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                     const struct vhdx_facts *f, uint64_t new_size, uint64_t cr)
{
    const uint64_t bs = f->meta.block_size;
    const uint64_t old_entries = instar_vhdx_bat_entries(f->meta.virtual_size, f->meta.block_size,
                                                         f->meta.logical_sector_size);
    const uint64_t p_new = instar_div_round_up_u64(new_size, bs);

    b->plan->action = INSTAR_ACTION_SHRINK;
    vhdx_emit_headers_and_commit(b, o, f, new_size);
    vhdx_zero_block_tail(b, o, f, cr, new_size);
    /* Entries past the end of the file read as zeros already. */
    uint64_t from = f->rt1.bat_offset + instar_vhdx_payload_index(p_new, cr) * 8;
    uint64_t to = f->rt1.bat_offset + old_entries * 8;
    if (to > o->current_file_size)
        to = o->current_file_size;
    if (from < to)
        instar_builder_zero(b, from, to - from);
    return instar_builder_finish(b);
}
