/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-shrink.c -- the VMDK shrink plan: header (commit) then descriptor,
 * the new capacity and nothing else.
 *
 * Directory entries, tables and grains past the new end stay where they
 * are (qemu reads only what the capacity covers); they are unreferenced
 * space.  A later grow never reuses them: it zeroes the unused entries of
 * the last table and the tail of the last grain, and gives every new
 * directory entry a fresh zero table, so no old data comes back. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vmdk.h"

int vmdk_plan_shrink(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                     const struct vmdk_layout *l, const struct instar_vmdk_desc *d,
                     uint64_t new_cap)
{
    const struct instar_resize_request *why = &opts->req;
    struct instar_resize_plan *plan = b->plan;
    struct instar_vmdk_header h = l->h;
    uint8_t *hb = instar_builder_alloc(b, VMDK_HEADER_SIZE);
    uint8_t *db = instar_builder_alloc(b, (size_t)(h.desc_sectors * 512));
    plan->action = INSTAR_ACTION_SHRINK;
    plan->new_virtual_size = new_cap * 512;
    plan->total_file_size = opts->current_file_size;
    if (hb == NULL || db == NULL)
        return instar_builder_finish(b);
    if (instar_vmdk_desc_rewrite(opts->descriptor.data, d, opts->new_cid, new_cap, db,
                                 (size_t)(h.desc_sectors * 512)) != INSTAR_OK)
        return vmdk_refuse(b, why, INSTAR_E_TOO_LARGE,
                           "the new descriptor does not fit its sectors");
    memcpy(hb, opts->header.data, VMDK_HEADER_SIZE);
    h.capacity = new_cap;
    instar_vmdk_header_encode(hb, &h);
    instar_builder_write(b, 0, hb, VMDK_HEADER_SIZE);
    instar_builder_write(b, l->desc_r.start, db, h.desc_sectors * 512);
    return instar_builder_finish(b);
}
