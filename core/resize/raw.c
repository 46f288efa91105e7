/* SPDX-License-Identifier: GPL-3.0-or-later */
/* raw.c -- the raw planner: a raw image is its bytes, so resizing is
 * setting the file length.  Nothing is patched; the host preallocates the
 * grown range for falloc/full.  Matches qemu-img 7.2: exact byte counts
 * (no 512 rounding), metadata preallocation refused. */
#include <config.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/refuse.h"
#include "util/checked.h"

/* Linux refuses file lengths beyond this (s_maxbytes on 64-bit is
 * LLONG_MAX); qemu's block layer refuses earlier, at BDRV_MAX_LENGTH. */
#define RAW_MAX_LENGTH 0x7fffffffc0000000ULL  /* INT64_MAX rounded down to 1 GiB */

int instar_plan_resize_raw(const struct instar_raw_resize_opts *opts,
                           uint8_t *scratch, size_t scratch_len,
                           struct instar_resize_plan *plan)
{
    struct instar_builder b;
    const struct instar_resize_request *req = &opts->req;
    uint64_t len = opts->current_file_size;
    uint64_t cur;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    instar_refusal_start(req);
    /* qemu sees a raw image's size in whole sectors (total_sectors * 512):
     * a 513-byte file is 1024 bytes big, so "+0" pads it to 1024 and
     * "513" is a shrink. */
    if (!instar_align_up_u64(len, 512, &cur))
        return instar_refuse(req, INSTAR_E_OVERFLOW, "the file length rounds past 2^64");
    rc = instar_resize_check_request(req, cur);
    if (rc != INSTAR_OK)
        return rc;
    if (req->prealloc == INSTAR_PREALLOC_METADATA)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_PREALLOC,
                             "raw images have no metadata to preallocate");
    if (req->new_size > RAW_MAX_LENGTH)
        return instar_refuse(req, INSTAR_E_TOO_LARGE, "the new size is past qemu's block-layer "
                             "maximum");

    plan->old_virtual_size = cur;
    plan->total_file_size = req->new_size;
    if (req->new_size > cur) {
        plan->action = INSTAR_ACTION_GROW;
        if (len == 0 && req->prealloc != INSTAR_PREALLOC_FULL) {
            /* qemu writes the first block of a file that was empty so that
             * later size probing finds an allocated block: 512 bytes below
             * 4 KiB, else 4 KiB.  That write may outgrow a tiny request
             * (0 -> 100 leaves a 512-byte file); match it exactly. */
            uint64_t first = req->new_size < 4096 ? 512 : 4096;
            if (plan->total_file_size < first)
                plan->total_file_size = first;
            instar_builder_zero(&b, 0, first);
        }
        if (req->prealloc != INSTAR_PREALLOC_OFF) {
            /* From the real end of file, which may be inside a sector. */
            plan->prealloc_offset = len;
            plan->prealloc_length = req->new_size - len;
        }
    } else if (req->new_size < cur) {
        plan->action = INSTAR_ACTION_SHRINK;
    }
    plan->new_virtual_size = plan->total_file_size;
    return instar_builder_finish(&b);
}
