/* resize.c -- the engine's resize path: probe, plan (via the format's
 * engine), apply in order, set the length, preallocate, sync. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/engine.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/lock.h"

/* qemu's block layer refuses lengths beyond INT64_MAX rounded down to
 * 1 GiB (BDRV_MAX_LENGTH), before any format is asked. */
#define BDRV_MAX_LENGTH 0x7fffffffc0000000ULL

int instar_engine_resolve_size(const struct instar_resize_args *args,
                               uint64_t current, uint64_t *new_size,
                               struct instar_diag *diag)
{
    int rc = instar_size_spec_resolve(&args->size, current, new_size);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "%s", instar_strerror(rc));
    if (*new_size > BDRV_MAX_LENGTH)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                               "offset(%" PRIu64 ") exceeds maximum(%llu)",
                               *new_size, (unsigned long long)BDRV_MAX_LENGTH);
    return INSTAR_OK;
}

int instar_engine_planner_error(int code, const struct instar_resize_plan *plan,
                                struct instar_diag *diag)
{
    (void)plan;
    if (diag && diag->message[0] != '\0')
        return code;            /* the engine already said something better */
    switch (code) {
    case INSTAR_E_UNSUPPORTED_PREALLOC:
        return instar_diag_set(diag, code, "Unsupported preallocation mode: %s",
                               "metadata");
    case INSTAR_E_SHRINK_NEEDS_FLAG:
        return instar_diag_set(diag, code,
            "Use the --shrink option to perform a shrink operation.\n"
            "warning: Shrinking an image will delete all data beyond the shrunken "
            "image's end. Before performing such an operation, make sure there is "
            "no important data there.");
    default:
        return instar_diag_set(diag, code, "%s", instar_strerror(code));
    }
}

void instar_image_plan_free(struct instar_image_plan *p)
{
    if (p == NULL)
        return;
    free(p->scratch);
    p->scratch = NULL;
    p->scratch_len = 0;
    if (p->release_staging && p->staging)
        p->release_staging(p->staging);
    p->staging = NULL;
    p->release_staging = NULL;
}

int instar_image_plan(struct instar_io *io, const struct instar_resize_args *args,
                      struct instar_image_plan *out, struct instar_diag *diag)
{
    memset(out, 0, sizeof *out);
    instar_plan_init(&out->plan);
    enum instar_format fmt = args->format;
    if (fmt == INSTAR_FORMAT_UNKNOWN) {
        int rc = instar_probe(io, &fmt);
        if (rc != INSTAR_OK)
            return instar_diag_set(diag, rc, "Could not probe the image format: %s",
                                   strerror(io->sys_errno ? io->sys_errno : EIO));
    }
    out->format = fmt;
    const struct instar_format_engine *e = instar_engine_for(fmt);
    if (e == NULL || e->plan == NULL)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT,
                               "Unknown image format '%s'", instar_format_name(fmt));
    return e->plan(io, args, out, diag);
}

static int io_error(struct instar_io *io, int rc, struct instar_diag *diag, const char *what)
{
    if (diag)
        diag->sys_errno = io->sys_errno;
    return instar_diag_set(diag, rc, "%s: %s", what,
                           strerror(io->sys_errno ? io->sys_errno : EIO));
}

/* A plan without WRITE or APPEND patches changed nothing but the length
 * and zeroed bytes of a file that was empty or is being extended (raw):
 * restoring the old length undoes it completely. */
static void undo_length_only(struct instar_io *io, const struct instar_resize_plan *plan,
                             uint64_t old_len)
{
    int saved = io->sys_errno;
    for (size_t i = 0; i < plan->npatches; i++)
        if (plan->patches[i].kind != INSTAR_PATCH_ZERO_FILL)
            return;
    (void)io->ops->set_size(io, old_len);
    io->sys_errno = saved;
}

int instar_plan_apply(struct instar_io *io, const struct instar_resize_plan *plan,
                      enum instar_prealloc prealloc, size_t limit,
                      struct instar_diag *diag)
{
    uint64_t old_len;
    int rc;

    if (instar_plan_check(plan, NULL) != 0)
        return instar_diag_set(diag, INSTAR_E_INVALID_ARGUMENT,
                               "refusing to apply a plan that breaks the plan invariants");
    rc = instar_io_size(io, &old_len);
    if (rc != INSTAR_OK)
        return io_error(io, rc, diag, "Could not get file size");

    size_t n = plan->npatches < limit ? plan->npatches : limit;
    bool real = limit >= plan->npatches;
    if (real)
        instar_test_pause_point(0, n);
    for (size_t i = 0; i < n; i++) {
        const struct instar_patch *p = &plan->patches[i];
        switch (p->kind) {
        case INSTAR_PATCH_WRITE:
        case INSTAR_PATCH_APPEND:
            rc = instar_io_write(io, p->data, (size_t)p->length, p->offset);
            break;
        case INSTAR_PATCH_ZERO_FILL:
            rc = io->ops->zero(io, p->offset, p->length);
            break;
        default:
            rc = INSTAR_E_INVALID_ARGUMENT;
        }
        /* A barrier after every patch: the prepare -> commit -> cleanup
         * order must survive power loss, not only a process crash. */
        if (rc == INSTAR_OK)
            rc = io->ops->sync(io);
        if (rc != INSTAR_OK)
            return io_error(io, rc, diag, "Could not write image metadata");
        if (real)
            instar_test_pause_point(i + 1, n);
    }
    if (limit < plan->npatches)
        return INSTAR_OK;       /* a simulated crash: stop right here */

    rc = io->ops->set_size(io, plan->total_file_size);
    if (rc != INSTAR_OK) {
        undo_length_only(io, plan, old_len);
        return io_error(io, rc, diag, "Could not resize file");
    }

    if (plan->prealloc_length > 0) {
        if (prealloc == INSTAR_PREALLOC_FALLOC)
            rc = io->ops->allocate(io, plan->prealloc_offset, plan->prealloc_length);
        else if (prealloc == INSTAR_PREALLOC_FULL)
            rc = io->ops->zero(io, plan->prealloc_offset, plan->prealloc_length);
        if (rc != INSTAR_OK) {
            /* Like qemu's raw driver: a failed preallocation restores the
             * old length, so the refusal leaves no trace. */
            undo_length_only(io, plan, old_len);
            return io_error(io, rc, diag, prealloc == INSTAR_PREALLOC_FALLOC
                            ? "Could not preallocate new data"
                            : "Could not write zeros for preallocation");
        }
    }
    rc = io->ops->sync(io);
    if (rc != INSTAR_OK)
        return io_error(io, rc, diag, "Could not flush file to disk");
    return INSTAR_OK;
}

int instar_image_resize(struct instar_io *io, const struct instar_resize_args *args,
                        struct instar_diag *diag)
{
    struct instar_image_plan p;
    int rc = instar_image_plan(io, args, &p, diag);
    if (rc == INSTAR_OK)
        rc = instar_plan_apply(io, &p.plan, args->prealloc, SIZE_MAX, diag);
    instar_image_plan_free(&p);
    return rc;
}

int instar_resize_file(const char *path, const struct instar_resize_args *args,
                       struct instar_diag *diag)
{
    struct instar_image_file f;
    struct instar_resize_args a = *args;
    /* The locks come before the first read and stay until the file is
     * closed: nobody may write or resize it between plan and apply. */
    int rc = instar_image_file_open(&f, path, INSTAR_LOCK_RESIZE, a.format, diag);
    if (rc != INSTAR_OK)
        return rc;
    if (a.format == INSTAR_FORMAT_UNKNOWN) {
        rc = instar_probe(&f.fio.io, &a.format);
        if (rc != INSTAR_OK)
            rc = instar_diag_set(diag, rc, "Could not probe the image format: %s",
                                 strerror(f.fio.io.sys_errno ? f.fio.io.sys_errno : EIO));
        else
            rc = instar_image_file_set_format(&f, a.format, diag);
    }
    if (rc == INSTAR_OK)
        rc = instar_image_resize(&f.fio.io, &a, diag);
    return instar_image_file_close(&f, rc, diag);
}
