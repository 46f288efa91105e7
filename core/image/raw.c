/* SPDX-License-Identifier: GPL-3.0-or-later */
/* raw.c -- the raw engine: the facts are the file length. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "image/engine.h"
#include "instar/error.h"
#include "instar/resize.h"
#include "util/checked.h"

static int raw_plan(struct instar_io *io, const struct instar_resize_args *args,
                    struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_refusal why = {NULL, NULL, 0};
    struct instar_raw_resize_opts o;
    uint64_t cur;
    int rc = instar_io_size(io, &cur);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not get file size");
    memset(&o, 0, sizeof o);
    o.current_file_size = cur;
    o.req.allow_shrink = args->allow_shrink;
    o.req.prealloc = args->prealloc;
    o.req.why = &why;
    /* Relative sizes count from the size qemu reports: whole sectors. */
    if (!instar_align_up_u64(cur, 512, &out->current_size))
        return instar_diag_set(diag, INSTAR_E_OVERFLOW, "file length overflows");
    rc = instar_engine_resolve_size(args, out->current_size, &o.req.new_size, diag);
    if (rc != INSTAR_OK)
        return rc;
    /* The raw planner needs no scratch: it emits no payloads. */
    rc = instar_plan_resize_raw(&o, NULL, 0, &out->plan);
    if (rc != INSTAR_OK)
        return instar_engine_refusal(rc, &why, diag);
    return INSTAR_OK;
}

int instar_raw_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    if (o->prealloc == INSTAR_PREALLOC_METADATA)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_PREALLOC,
                               "Unsupported preallocation mode: metadata");
    /* An off_t cannot hold it: ftruncate would answer EINVAL, as it does
     * to qemu-img.  Said here, before the file is touched. */
    if (o->size > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_INVALID_SIZE, "Could not resize file: %s",
                               strerror(EINVAL));
    return INSTAR_OK;
}

static int raw_create(struct instar_io *io, const struct instar_create_opts *o,
                      struct instar_diag *diag)
{
    uint64_t size = o->size;
    int rc = instar_raw_create_check(o, diag);
    if (rc != INSTAR_OK)
        return rc;
    rc = io->ops->set_size(io, size);
    if (rc == INSTAR_OK && size > 0) {
        if (o->prealloc == INSTAR_PREALLOC_FALLOC)
            rc = io->ops->allocate(io, 0, size);
        else if (o->prealloc == INSTAR_PREALLOC_FULL)
            rc = io->ops->zero(io, 0, size);
    }
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not resize file: %s",
                               instar_create_io_reason(io, rc));
    return io->ops->sync(io);
}

const struct instar_format_engine instar_engine_raw = {
    .format = INSTAR_FORMAT_RAW,
    .plan = raw_plan,
    .create = raw_create,
};
