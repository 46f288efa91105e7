/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-grow.c -- the VMDK grow plan.
 *
 *   prepare  extend the file to hold zero-filled grain tables for every new
 *            grain-directory entry (in BOTH directories), padded to a grain
 *            boundary; zero the unused tail of the last grain table and of
 *            the last grain (they become visible); write the new directory
 *            entries in place, or whole new directories past the old end;
 *   commit   one write of the header (capacity, and the directory offsets
 *            when they moved);
 *   cleanup  the descriptor (extent sector count, cylinders, a new CID). */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vmdk.h"
#include "util/checked.h"
#include "util/endian.h"

int vmdk_find_visible_tail(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                           const struct vmdk_layout *l, const uint8_t *const dirs[2],
                           struct vmdk_visible_tail *v)
{
    const struct instar_resize_request *why = &opts->req;
    const struct instar_vmdk_header *h = &l->h;
    const uint64_t last_grain = (h->capacity - 1) / h->grain;
    const uint64_t last_gt = last_grain / h->gtes, last_slot = last_grain % h->gtes;
    struct vmdk_range grain_r = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (dirs[k] != NULL && last_slot + 1 < h->gtes) {
            uint64_t t = (uint64_t)instar_le32(dirs[k] + 4 * last_gt) * 512;
            v->slots[k].start = t + 4 * (last_slot + 1);
            v->slots[k].end = t + 4 * (uint64_t)h->gtes;
        }
    }
    if (h->capacity % h->grain != 0) {
        if (opts->tail_gte.data == NULL || opts->tail_gte.len < 4) {
            uint64_t t = (uint64_t)instar_le32(opts->gd.data + 4 * last_gt) * 512;
            instar_builder_need(b, INSTAR_NEED_BYTES, t + 4 * last_slot, 4);
            return instar_builder_finish(b);
        }
        uint32_t g = instar_le32(opts->tail_gte.data);
        bool zeroed = g == 1 && (h->flags & VMDK_FLAG_ZERO_GRAIN);
        if (g != 0 && !zeroed) {
            /* The whole grain must be clear of the metadata (g >= 1 keeps
             * it off the header; the tables are checked below): a grain
             * inside it means the image is already corrupt. */
            grain_r.start = (uint64_t)g * 512;
            grain_r.end = ((uint64_t)g + h->grain) * 512;
            if (vmdk_overlap(grain_r, l->desc_r) || vmdk_overlap(grain_r, l->gd_r)
                || vmdk_overlap(grain_r, l->rgd_r))
                return vmdk_refuse(b, why, INSTAR_E_PARSE, "the last grain overlaps metadata");
            v->tail.start = (uint64_t)g * 512 + (h->capacity % h->grain) * 512;
            v->tail.end = ((uint64_t)g + h->grain) * 512;
            if (v->tail.end > opts->current_file_size)
                v->tail.end = opts->current_file_size;
            if (v->tail.start >= v->tail.end)
                v->tail.start = v->tail.end = 0;
        }
    }
    if (v->slots[0].end || v->slots[1].end || grain_r.end) {
        for (int k = 0; k < 2; k++) {
            if (dirs[k] == NULL)
                continue;
            for (uint64_t i = 0; i < l->old_gt; i++) {
                uint64_t e = instar_le32(dirs[k] + 4 * i);
                struct vmdk_range r = { e * 512, (e + l->gt_sectors) * 512 };
                if (vmdk_overlap(r, grain_r))
                    return vmdk_refuse(b, why, INSTAR_E_PARSE,
                                       "the last grain overlaps a grain table");
                for (int j = 0; j < 2; j++)
                    if (!(j == k && i == last_gt) && vmdk_overlap(r, v->slots[j]))
                        return vmdk_refuse(b, why, INSTAR_E_PARSE, "grain tables overlap");
            }
        }
    }
    return INSTAR_OK;
}

int vmdk_plan_grow(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                   const struct vmdk_layout *l, const struct instar_vmdk_desc *d,
                   const uint8_t *const dirs[2], uint64_t new_cap, uint64_t new_gt)
{
    const struct instar_resize_request *why = &opts->req;
    struct instar_resize_plan *plan = b->plan;
    struct instar_vmdk_header h = l->h;
    const bool has_rgd = l->has_rgd;
    const uint64_t fsize = opts->current_file_size;
    const uint64_t old_gt = l->old_gt, gt_sectors = l->gt_sectors;
    struct vmdk_visible_tail v = { { {0, 0}, {0, 0} }, {0, 0} };
    int rc;

    rc = vmdk_find_visible_tail(b, opts, l, dirs, &v);
    if (rc != INSTAR_OK)
        return rc;              /* the builder is finished: need or refusal */

    /* ---- the new layout: everything new goes past the old end of file ---- */
    const bool in_place = new_gt * 4 <= l->gd_bytes;
    const uint64_t new_gd_bytes = (new_gt * 4 + 511) / 512 * 512;
    const uint64_t added = new_gt - old_gt;
    const uint64_t start = instar_div_round_up_u64(fsize, 512);
    uint64_t cur = start, new_rgd = 0, new_gd = 0, rgt0, gt0, end;
    if (!in_place) {
        if (has_rgd) {
            new_rgd = cur;
            cur += new_gd_bytes / 512;
        }
        new_gd = cur;
        cur += new_gd_bytes / 512;
    }
    rgt0 = cur;
    if (has_rgd)
        cur += added * gt_sectors;
    gt0 = cur;
    cur += added * gt_sectors;
    /* Pad to a grain so the next grain qemu allocates follows our tables. */
    if (!instar_align_up_u64(cur, h.grain, &end))
        return vmdk_refuse(b, why, INSTAR_E_OVERFLOW, "file size overflows");
    /* Grain-directory entries are 32-bit sector numbers: the new tables
     * must lie below sector 2^32.  The capacity itself is bounded only by
     * qemu's 32 Mi directory entries (checked before), as for qemu-img
     * create: qemu opens a 2 TiB or 1 PiB image and refuses a grain
     * allocation past sector 2^32 only when a write needs one. */
    if (end > VMDK_MAX_SECTOR)
        return vmdk_refuse(b, why, INSTAR_E_TOO_LARGE,
                           "the new grain tables would pass sector 2^32 of the file");

    plan->action = INSTAR_ACTION_GROW;
    plan->new_virtual_size = new_cap * 512;
    plan->total_file_size = fsize;

    /* prepare: make the file long enough to hold the new tables (they read
     * as zeros), before anything points at them */
    if (cur > start) {
        uint8_t *zero = instar_builder_alloc(b, 512);
        instar_builder_write(b, end * 512 - 512, zero, 512);
        plan->total_file_size = end * 512;
    }
    for (int k = 0; k < 2; k++)
        if (v.slots[k].end)
            instar_builder_zero(b, v.slots[k].start, v.slots[k].end - v.slots[k].start);
    if (v.tail.end)
        instar_builder_zero(b, v.tail.start, v.tail.end - v.tail.start);
    for (int k = has_rgd ? 0 : 1; k < 2; k++) {
        const uint8_t *old = k == 0 ? opts->rgd.data : opts->gd.data;
        uint64_t first = k == 0 ? rgt0 : gt0;
        uint64_t where = in_place ? (k == 0 ? h.rgd_offset : h.gd_offset) * 512 + old_gt * 4
                                  : (k == 0 ? new_rgd : new_gd) * 512;
        uint64_t len = in_place ? added * 4 : new_gd_bytes;
        uint8_t *p;
        if (added == 0 && in_place)
            continue;
        p = instar_builder_alloc(b, (size_t)len);
        if (p == NULL)
            break;
        uint8_t *q = p;
        if (!in_place) {
            memcpy(p, old, (size_t)(old_gt * 4));
            q = p + old_gt * 4;
        }
        for (uint64_t i = 0; i < added; i++)
            instar_put_le32(q + 4 * i, (uint32_t)(first + i * gt_sectors));
        instar_builder_write(b, where, p, len);
    }

    /* commit: the header */
    uint8_t *hb = instar_builder_alloc(b, VMDK_HEADER_SIZE);
    if (hb != NULL) {
        memcpy(hb, opts->header.data, VMDK_HEADER_SIZE);
        h.capacity = new_cap;
        if (!in_place) {
            h.gd_offset = new_gd;
            if (has_rgd)
                h.rgd_offset = new_rgd;
        }
        instar_vmdk_header_encode(hb, &h);
        instar_builder_write(b, 0, hb, VMDK_HEADER_SIZE);
    }

    /* cleanup: the descriptor, for VMware (qemu ignores its size) */
    uint8_t *db = instar_builder_alloc(b, (size_t)(h.desc_sectors * 512));
    if (db != NULL) {
        rc = instar_vmdk_desc_rewrite(opts->descriptor.data, d, opts->new_cid, new_cap,
                                      db, (size_t)(h.desc_sectors * 512));
        if (rc != INSTAR_OK)
            return vmdk_refuse(b, why, rc, "the new descriptor does not fit its sectors");
        instar_builder_write(b, l->desc_r.start, db, h.desc_sectors * 512);
    }
    return instar_builder_finish(b);
}
