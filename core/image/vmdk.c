/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk.c -- the vmdk engine: read the sparse header, stage the descriptor,
 * the grain directories and (for an unaligned capacity) the last grain's
 * table entry exactly as the planner asks, and plan.  Nothing is written
 * here; every read is bounded by the file size and a sane maximum. */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/vmdk-create.h"
#include "instar/error.h"
#include "instar/resize.h"
#include "resize/vmdk-format.h"
#include "util/checked.h"
#include "util/random.h"

/* The largest table a plan may ask for: a 32 Mi-entry directory. */
#define VMDK_MAX_STAGE (UINT64_C(4) * VMDK_MAX_GD_ENTRIES)

struct vmdk_staging {
    uint8_t header[VMDK_HEADER_SIZE];
    uint8_t *desc, *gd, *rgd;
    uint8_t tail[4];
};

static void release(void *p)
{
    struct vmdk_staging *s = p;
    free(s->desc);
    free(s->gd);
    free(s->rgd);
    free(s);
}

/* Read one staged range the planner named into a fresh buffer. */
static int stage(struct instar_io *io, uint64_t fsize, const struct instar_need *n,
                 uint8_t **buf, struct instar_diag *diag)
{
    uint64_t end;
    if (n->length == 0 || n->length > VMDK_MAX_STAGE || !instar_add_u64(n->index, n->length, &end)
        || end > fsize)
        return instar_diag_set(diag, INSTAR_E_PARSE,
                               "VMDK metadata at offset %" PRIu64 " lies outside the file",
                               n->index);
    free(*buf);
    *buf = malloc((size_t)n->length);
    if (*buf == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    int rc = instar_io_read(io, *buf, (size_t)n->length, n->index);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read VMDK metadata");
    return INSTAR_OK;
}

static int vmdk_plan(struct instar_io *io, const struct instar_resize_args *args,
                     struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_vmdk_resize_opts o;
    struct instar_vmdk_header h;
    struct vmdk_staging *s;
    struct instar_refusal why = {NULL, NULL, 0};
    uint64_t fsize;
    int rc = instar_engine_start(io, out, sizeof *s, release, &fsize, diag);
    if (rc != INSTAR_OK)
        return rc;
    s = out->staging;
    /* Flat and split subformats keep their descriptor in a text file of
     * its own, which points at the extents. */
    static const char text_desc[] = "# Disk DescriptorFile";
    if (fsize >= sizeof text_desc - 1) {
        rc = instar_io_read(io, s->header, sizeof text_desc - 1, 0);
        if (rc != INSTAR_OK)
            return instar_diag_set(diag, rc, "Could not read the VMDK header");
        if (memcmp(s->header, text_desc, sizeof text_desc - 1) == 0)
            return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                                   "Cannot resize a VMDK descriptor file (monolithicFlat or "
                                   "split subformats): only monolithicSparse is supported");
    }
    if (fsize < VMDK_HEADER_SIZE)
        return instar_diag_set(diag, INSTAR_E_PARSE,
                               "VMDK image is truncated: %" PRIu64 " bytes, no header", fsize);
    rc = instar_io_read(io, s->header, sizeof s->header, 0);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read the VMDK header");
    if (!instar_vmdk_header_decode(s->header, &h))
        return instar_diag_set(diag, INSTAR_E_PARSE, "Not a VMDK sparse extent (bad magic)");

    memset(&o, 0, sizeof o);
    o.req.allow_shrink = args->allow_shrink;
    o.req.prealloc = args->prealloc;
    o.current_file_size = fsize;
    o.capacity_sectors = h.capacity;
    o.grain_sectors = h.grain;
    o.gtes_per_gt = h.gtes;
    o.gd_offset_sectors = h.gd_offset;
    o.rgd_offset_sectors = (h.flags & VMDK_FLAG_RGD) ? h.rgd_offset : 0;
    o.descriptor_offset_sectors = h.desc_offset;
    o.descriptor_sectors = h.desc_sectors;
    o.header.data = s->header;
    o.header.len = sizeof s->header;
    if (instar_random_u32_id(&o.new_cid) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate a CID: no randomness");
    o.req.why = &why;

    if (!instar_mul_u64(h.capacity, 512, &out->current_size)
        || out->current_size > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_OVERFLOW,
                               "VMDK capacity %" PRIu64 " sectors overflows a byte size",
                               h.capacity);
    rc = instar_engine_resolve_size(args, out->current_size, &o.req.new_size, diag);
    if (rc != INSTAR_OK)
        return rc;

    size_t hint = instar_vmdk_scratch_hint(&o);
    size_t scratch_len = hint == SIZE_MAX ? 4096 : hint;
    uint8_t *scratch = instar_engine_scratch(args, out, &scratch_len, diag);
    if (scratch == NULL)
        return INSTAR_E_NOMEM;

    /* Each round stages what the planner named; it asks for at most the
     * descriptor and the directories, then the last grain's table entry. */
    for (int round = 0; round < 4; round++) {
        rc = instar_plan_resize_vmdk(&o, scratch, scratch_len, &out->plan);
        if (rc != INSTAR_E_NOT_STAGED)
            break;
        for (size_t i = 0; i < out->plan.nneeds; i++) {
            const struct instar_need *n = &out->plan.needs[i];
            uint8_t *buf = NULL;
            int src = stage(io, fsize, n, &buf, diag);
            if (src != INSTAR_OK) {
                free(buf);
                return src;
            }
            /* Only the last grain's table entry is 4 bytes: the
             * descriptor and the directories are whole sectors.  It is
             * asked for the old end (a grow) or the new one (a shrink). */
            if (n->length == 4 && o.tail_gte.data == NULL) {
                memcpy(s->tail, buf, 4);
                free(buf);
                o.tail_gte.data = s->tail;
                o.tail_gte.len = 4;
            } else if (n->index == h.desc_offset * 512 && o.descriptor.data == NULL) {
                s->desc = buf;
                o.descriptor.data = buf;
                o.descriptor.len = (size_t)n->length;
            } else if (n->index == h.gd_offset * 512 && o.gd.data == NULL) {
                s->gd = buf;
                o.gd.data = buf;
                o.gd.len = (size_t)n->length;
            } else if (n->index == h.rgd_offset * 512 && o.rgd.data == NULL) {
                s->rgd = buf;
                o.rgd.data = buf;
                o.rgd.len = (size_t)n->length;
            } else {
                free(buf);
                return instar_diag_set(diag, INSTAR_E_NOT_STAGED,
                                       "VMDK planner asked for an unexpected range");
            }
        }
    }
    if (rc == INSTAR_E_UNSUPPORTED_PREALLOC)    /* the generic words name metadata */
        instar_diag_set(diag, rc, "Unsupported preallocation mode '%s' for vmdk",
                        instar_prealloc_name(args->prealloc));
    if (rc != INSTAR_OK)
        return instar_engine_refusal(rc, &why, diag);
    return INSTAR_OK;
}

const struct instar_format_engine instar_engine_vmdk = {
    .format = INSTAR_FORMAT_VMDK,
    .plan = vmdk_plan,
    .create = instar_vmdk_create,
};
