/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk.c -- the VMDK planner: grow a monolithicSparse hosted sparse extent.
 *
 * qemu-img 7.2 cannot resize VMDK; qemu reads the virtual size from the
 * header's capacity.  A grow therefore:
 *   prepare  extend the file to hold zero-filled grain tables for every new
 *            grain-directory entry (in BOTH directories: an entry of 0 makes
 *            qemu write guest data over the header), padded to a grain
 *            boundary (qemu allocates grains at round_up(EOF, grain));
 *            zero the unused tail of the last grain table and of the last
 *            grain (they become visible); write the new directory entries in
 *            place, or whole new directories past the old end of file;
 *   commit   one write of the header (capacity, and the directory offsets
 *            when they moved);
 *   cleanup  the descriptor (extent sector count, cylinders, a new CID).
 * A crash before the commit leaves the old image plus unreferenced bytes;
 * after it, a complete new one with a stale descriptor (qemu ignores the
 * descriptor's size).  A shrink (with the flag) rewrites the header and
 * the descriptor only.  streamOptimized, flat and split images, images with
 * a parent, and preallocation are refused before anything is planned.
 * The same size plans nothing, after every check a grow makes: a no-op
 * vouches for the image as much as a resize does.  A no-op and a shrink
 * also check the new end as a later grow will, so their result can grow.
 *
 * This file drives the steps (vmdk.h says which file holds each). */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/vmdk.h"
#include "util/checked.h"

/* Scratch a grow needs, from facts the host already has; SIZE_MAX when the
 * numbers are absurd (the planner will refuse them anyway). */
size_t instar_vmdk_scratch_hint(const struct instar_vmdk_resize_opts *o)
{
    uint64_t cover, gt, sectors;
    if (o->grain_sectors == 0 || o->grain_sectors > VMDK_MAX_GRAIN_SECTORS
        || o->gtes_per_gt == 0 || o->gtes_per_gt > VMDK_MAX_GTES
        || o->descriptor_sectors > VMDK_MAX_DESC_SECTORS)
        return SIZE_MAX;
    cover = o->grain_sectors * o->gtes_per_gt;
    /* Directories past 32 Mi entries are refused, so none needs more. */
    sectors = o->req.new_size / 512 + 1;
    gt = sectors / cover + 1;
    if (gt > VMDK_MAX_GD_ENTRIES)
        gt = VMDK_MAX_GD_ENTRIES;
    return (size_t)(4096 + o->descriptor_sectors * 512 + 2 * (gt * 4 + 512));
}

int instar_plan_resize_vmdk(const struct instar_vmdk_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan)
{
    struct instar_builder b;
    struct instar_vmdk_desc d;
    struct vmdk_layout l;
    const struct instar_resize_request *why = &opts->req;
    uint64_t new_gt, new_cap;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    instar_refusal_start(why);

    /* ---- step 1: the header ---- */
    memset(&l, 0, sizeof l);
    rc = vmdk_check_header(&b, opts, &l);
    if (rc != INSTAR_OK)
        return rc;              /* the builder is finished: needs or refusal */
    const struct instar_vmdk_header *h = &l.h;

    /* ---- step 2: the request ---- */
    rc = instar_resize_check_request(&opts->req, l.old_size);
    if (rc != INSTAR_OK)
        return vmdk_refuse(&b, why, rc, NULL);
    if (opts->req.prealloc != INSTAR_PREALLOC_OFF)
        return vmdk_refuse(&b, why, INSTAR_E_UNSUPPORTED_PREALLOC,
                           "VMDK grow supports preallocation=off only");
    /* Like qemu-img create, sizes round up to whole sectors (new_size is
     * below 2^63 here, so this cannot overflow). */
    new_cap = instar_div_round_up_u64(opts->req.new_size, 512);
    plan->old_virtual_size = l.old_size;
    const bool shrink = new_cap < h->capacity;  /* allow_shrink was checked */
    new_gt = instar_div_round_up_u64(new_cap, l.cover);
    if (!shrink && new_gt > VMDK_MAX_GD_ENTRIES)
        return vmdk_refuse(&b, why, INSTAR_E_TOO_LARGE,
                           "grain directory would pass qemu's limit of 32 Mi entries");

    /* ---- staged tables ---- */
    if (opts->descriptor.data == NULL || opts->descriptor.len < h->desc_sectors * 512)
        instar_builder_need(&b, INSTAR_NEED_BYTES, l.desc_r.start, h->desc_sectors * 512);
    if (opts->gd.data == NULL || opts->gd.len < l.gd_bytes)
        instar_builder_need(&b, INSTAR_NEED_BYTES, l.gd_r.start, l.gd_bytes);
    if (l.has_rgd && (opts->rgd.data == NULL || opts->rgd.len < l.gd_bytes))
        instar_builder_need(&b, INSTAR_NEED_BYTES, l.rgd_r.start, l.gd_bytes);
    if (b.err != INSTAR_OK)
        return instar_builder_finish(&b);

    /* ---- the descriptor ---- */
    const char *desc_why = NULL;
    rc = instar_vmdk_desc_parse(opts->descriptor.data, h->desc_sectors * 512, &d, &desc_why);
    if (rc != INSTAR_OK)
        return vmdk_refuse(&b, why, rc, desc_why);
    if (!d.monolithic_sparse || d.n_extents != 1 || d.non_sparse_extent)
        return vmdk_refuse(&b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                           "only monolithicSparse VMDK (one SPARSE extent) can be resized");
    if (d.has_parent)
        return vmdk_refuse(&b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                           "VMDK images with a parent are not supported");
    /* The extent line's count may disagree with the header: qemu ignores
     * it, and a resize interrupted between its header commit and its
     * descriptor write leaves exactly that.  It is rewritten by the plan,
     * which repairs it. */

    /* ---- step 3: every existing grain table ---- */
    const uint8_t *const dirs[2] = { opts->gd.data, l.has_rgd ? opts->rgd.data : NULL };
    rc = vmdk_check_tables(&b, opts, &l, dirs);
    if (rc != INSTAR_OK)
        return rc;

    /* ---- step 4: the plan ---- */
    /* A no-op or a shrink leaves an image a later grow must accept: what
     * that grow would find at the new end (the last grain, the last
     * table's unused slots) is checked now.  A no-op answered before the
     * descriptor and the tables were read, and a shrink that never looked
     * at its new last grain, made results the engine then refused. */
    if (new_cap <= h->capacity) {
        struct vmdk_layout after = l;
        struct vmdk_visible_tail v;
        after.h.capacity = new_cap;
        after.old_gt = new_gt;
        memset(&v, 0, sizeof v);
        rc = vmdk_find_visible_tail(&b, opts, &after, dirs, &v);
        if (rc != INSTAR_OK)
            return rc;          /* the builder is finished: need or refusal */
    }
    if (new_cap == h->capacity) {
        plan->new_virtual_size = l.old_size;
        plan->total_file_size = opts->current_file_size;
        return instar_builder_finish(&b);
    }
    if (shrink)
        return vmdk_plan_shrink(&b, opts, &l, &d, new_cap);
    return vmdk_plan_grow(&b, opts, &l, &d, dirs, new_cap, new_gt);
}
