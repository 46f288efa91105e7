/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-layout.c -- VMDK planner steps 1 and 3: the header and the grain
 * tables it reaches, every number untrusted, checked into a layout. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vmdk.h"
#include "util/checked.h"
#include "util/endian.h"

/* Callers pass counts bounded well below 2^40, offsets are untrusted. */
bool vmdk_sectors_in_file(uint64_t off, uint64_t count, uint64_t file_sectors,
                          struct vmdk_range *r)
{
    if (off < 1 || count > file_sectors || off > file_sectors - count)
        return false;
    r->start = off * 512;
    r->end = (off + count) * 512;
    return true;
}

/* Step 1: the header, every number untrusted; the descriptor and the
 * directories inside the file and apart. */
int vmdk_check_header(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                      struct vmdk_layout *l)
{
    const struct instar_resize_request *why = &opts->req;
    const uint64_t fsize = opts->current_file_size;
    const uint64_t file_sectors = fsize / 512;
    struct instar_vmdk_header h;
    uint64_t old_size, cover, old_gt, gd_bytes, gt_sectors;
    struct vmdk_range desc_r, gd_r, rgd_r = {0, 0};
    bool has_rgd;

    if (opts->header.data == NULL || opts->header.len < VMDK_HEADER_SIZE) {
        instar_builder_need(b, INSTAR_NEED_BYTES, 0, VMDK_HEADER_SIZE);
        return instar_builder_finish(b);
    }
    if (fsize < VMDK_HEADER_SIZE)
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "file is shorter than a VMDK header");
    if (!instar_vmdk_header_decode(opts->header.data, &h))
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "bad magic: not a VMDK sparse extent");
    has_rgd = (h.flags & VMDK_FLAG_RGD) != 0;
    if (opts->capacity_sectors != h.capacity || opts->grain_sectors != h.grain
        || opts->gtes_per_gt != h.gtes || opts->gd_offset_sectors != h.gd_offset
        || opts->rgd_offset_sectors != (has_rgd ? h.rgd_offset : 0)
        || opts->descriptor_offset_sectors != h.desc_offset
        || opts->descriptor_sectors != h.desc_sectors)
        return vmdk_refuse(b, why, INSTAR_E_HEADER_MISMATCH,
                           "options disagree with the staged header");
    if ((h.flags & (VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER)) != 0 || h.compress != 0
        || h.gd_offset == VMDK_GD_AT_END || h.version == 3)
        return vmdk_refuse(b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                           "streamOptimized (compressed) VMDK cannot be resized in place");
    if (h.version < 1 || h.version > 3)
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "unsupported VMDK version");
    if ((h.flags & ~VMDK_FLAGS_KNOWN) != 0)
        return vmdk_refuse(b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT, "unknown VMDK header flags");
    if ((h.flags & VMDK_FLAG_NL_DETECT) && memcmp(h.check_bytes, "\n \r\n", 4) != 0)
        return vmdk_refuse(b, why, INSTAR_E_PARSE,
                           "newline check bytes damaged (was the file transferred as text?)");
    if (h.unclean)
        return vmdk_refuse(b, why, INSTAR_E_NEEDS_CHECK, "the unclean-shutdown flag is set");
    if (!instar_is_pow2_u64(h.grain) || h.grain > VMDK_MAX_GRAIN_SECTORS)
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "grain size is not a power of two up to 1 GiB");
    if (h.gtes == 0 || h.gtes > VMDK_MAX_GTES)
        return vmdk_refuse(b, why, INSTAR_E_PARSE,
                           "grain-table size out of range (1..512 entries)");
    if (h.capacity == 0)
        return vmdk_refuse(b, why, INSTAR_E_PARSE,
                           "capacity is 0 (qemu cannot open such an image)");
    if (!instar_mul_u64(h.capacity, 512, &old_size) || old_size > (uint64_t)INT64_MAX)
        return vmdk_refuse(b, why, INSTAR_E_OVERFLOW, "capacity * 512 overflows");
    cover = h.grain * h.gtes;                     /* <= 2^30 */
    gt_sectors = instar_vmdk_gt_sectors(h.gtes);  /* 1..4 */
    old_gt = instar_div_round_up_u64(h.capacity, cover);
    if (old_gt > VMDK_MAX_GD_ENTRIES)
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "grain directory larger than qemu opens");
    gd_bytes = (old_gt * 4 + 511) / 512 * 512;

    if (h.desc_sectors == 0 || h.desc_sectors > VMDK_MAX_DESC_SECTORS
        || !vmdk_sectors_in_file(h.desc_offset, h.desc_sectors, file_sectors, &desc_r))
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "no embedded descriptor inside the file");
    if (h.overhead > file_sectors)
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "file truncated (shorter than overHead)");
    if (!vmdk_sectors_in_file(h.gd_offset, gd_bytes / 512, file_sectors, &gd_r))
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "grain directory outside the file");
    if (has_rgd && !vmdk_sectors_in_file(h.rgd_offset, gd_bytes / 512, file_sectors, &rgd_r))
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "redundant grain directory outside the file");
    if (vmdk_overlap(desc_r, gd_r) || vmdk_overlap(desc_r, rgd_r) || vmdk_overlap(gd_r, rgd_r))
        return vmdk_refuse(b, why, INSTAR_E_PARSE, "descriptor and grain directories overlap");

    l->h = h;
    l->file_sectors = file_sectors;
    l->has_rgd = has_rgd;
    l->old_size = old_size;
    l->cover = cover;
    l->old_gt = old_gt;
    l->gd_bytes = gd_bytes;
    l->gt_sectors = gt_sectors;
    l->desc_r = desc_r;
    l->gd_r = gd_r;
    l->rgd_r = rgd_r;
    return INSTAR_OK;
}

/* Every existing grain table: allocated, inside the file, clear of the
 * header, descriptor and directories. */
int vmdk_check_tables(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                      const struct vmdk_layout *l, const uint8_t *const dirs[2])
{
    const struct instar_resize_request *why = &opts->req;
    for (int k = 0; k < 2; k++) {
        if (dirs[k] == NULL)
            continue;
        for (uint64_t i = 0; i < l->old_gt; i++) {
            uint32_t e = instar_le32(dirs[k] + 4 * i);
            struct vmdk_range r;
            const char *dir = k == 0 ? "grain-directory entry" : "redundant grain-directory entry";
            if (e == 0)
                return vmdk_refuse_at(b, why, INSTAR_E_NEEDS_CHECK, dir, i,
                                      "is 0 (qemu would write over the header)");
            if (!vmdk_sectors_in_file(e, l->gt_sectors, l->file_sectors, &r))
                return vmdk_refuse_at(b, why, INSTAR_E_PARSE, dir, i,
                                      "points to a grain table outside the file");
            if (vmdk_overlap(r, l->desc_r) || vmdk_overlap(r, l->gd_r) || vmdk_overlap(r, l->rgd_r))
                return vmdk_refuse_at(b, why, INSTAR_E_PARSE, dir, i, "points to a grain table "
                                      "overlapping the descriptor or a directory");
        }
    }
    return INSTAR_OK;
}
