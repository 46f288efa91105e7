/* SPDX-License-Identifier: GPL-3.0-or-later */
/* resize.c -- the engine's resize path: probe, plan (via the format's
 * engine), apply in order, set the length, preallocate, sync. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/engine.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/lock.h"
#include "util/checked.h"

/* qemu's block layer refuses lengths beyond INT64_MAX rounded down to
 * 1 GiB (BDRV_MAX_LENGTH), before any format is asked. */
#define BDRV_MAX_LENGTH 0x7fffffffc0000000ULL

int instar_engine_start(struct instar_io *io, struct instar_image_plan *out, size_t size,
                        void (*release)(void *), uint64_t *file_size,
                        struct instar_diag *diag)
{
    int rc = instar_io_size(io, file_size);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not get file size");
    void *s = calloc(1, size);
    if (s == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    out->staging = s;
    out->release_staging = release;
    return INSTAR_OK;
}

uint8_t *instar_engine_scratch(const struct instar_resize_args *args,
                               struct instar_image_plan *out, size_t *len,
                               struct instar_diag *diag)
{
    if (args->scratch_limit != 0 && *len > args->scratch_limit)
        *len = args->scratch_limit;
    if (args->scratch != NULL && args->scratch_limit != 0)
        return args->scratch;
    out->scratch = malloc(*len ? *len : 1);
    out->scratch_len = out->scratch ? *len : 0;
    if (out->scratch == NULL)
        instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    return out->scratch;
}

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

/* qemu-img's words for a refusal every format makes alike. */
static void generic_words(int code, struct instar_diag *diag)
{
    switch (code) {
    case INSTAR_E_UNSUPPORTED_PREALLOC:
        instar_diag_set(diag, code, "Unsupported preallocation mode: %s", "metadata");
        break;
    case INSTAR_E_SHRINK_NEEDS_FLAG:
        instar_diag_set(diag, code,
            "Use the --shrink option to perform a shrink operation.\n"
            "warning: Shrinking an image will delete all data beyond the shrunken "
            "image's end. Before performing such an operation, make sure there is "
            "no important data there.");
        break;
    default:
        instar_diag_set(diag, code, "%s", instar_strerror(code));
        break;
    }
}

int instar_engine_refusal(int code, const struct instar_refusal *why,
                          struct instar_diag *diag)
{
    if (diag == NULL)
        return code;
    if (diag->message[0] == '\0') {
        generic_words(code, diag);
        /* qemu-img's checks of the request, in its words: they stand
         * alone, as qemu prints them. */
        if (code == INSTAR_E_SIZE_NOT_POSITIVE || code == INSTAR_E_NOT_SECTOR_MULTIPLE
            || code == INSTAR_E_PREALLOC_NOT_GROW || code == INSTAR_E_SHRINK_NEEDS_FLAG)
            return code;
    }
    char reason[256];
    instar_refusal_format(why, reason, sizeof reason);
    if (reason[0] != '\0') {
        size_t n = strlen(diag->message);
        snprintf(diag->message + n, sizeof diag->message - n, ": %s", reason);
    }
    return code;
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

/* ---- failing without a trace ------------------------------------------
 *
 * A resize that fails on I/O (no space, file size limit, an I/O error)
 * must leave the file as it was: the same length, the same bytes, above
 * all the same virtual size.  Two mechanisms:
 *
 * 1. Space is reserved before the first patch (fallocate KEEP_SIZE: no
 *    byte and not the length changes) for everything the apply will
 *    write: every WRITE/APPEND patch, the part of ZERO_FILL patches past
 *    the old end of file, and the preallocated range.  Running out of
 *    space or over the file size limit is found there, before anything
 *    is written; the reservation is then given back.
 * 2. The bytes each patch overwrites inside the old file are saved
 *    first (up to UNDO_BUDGET), so a failure after that (a patch, the
 *    length, the preallocation, the final sync) writes them back in
 *    reverse order and restores the old length.  The commit is undone
 *    like any other patch: the old size comes back. */

#define UNDO_BUDGET (64u << 20)

struct undo {
    struct {
        uint64_t off;
        size_t len;
        uint8_t *bytes;
    } saved[INSTAR_MAX_RESIZE_PATCHES];
    size_t n;
    uint64_t total;
    bool complete;              /* every overwritten byte is saved */
};

static void undo_free(struct undo *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->saved[i].bytes);
    u->n = 0;
}

/* Save what patch P overwrites inside the first OLD_LEN bytes. */
static void undo_save(struct instar_io *io, struct undo *u, const struct instar_patch *p,
                      uint64_t old_len)
{
    uint64_t end;
    if (!u->complete || p->offset >= old_len || p->length == 0)
        return;
    if (!instar_add_u64(p->offset, p->length, &end) || u->n >= INSTAR_MAX_RESIZE_PATCHES) {
        u->complete = false;
        return;
    }
    uint64_t len = (end < old_len ? end : old_len) - p->offset;
    if (len > UNDO_BUDGET - u->total) {
        u->complete = false;    /* too big to keep: no rollback then */
        return;
    }
    uint8_t *b = malloc((size_t)len);
    int saved_errno = io->sys_errno;
    if (b == NULL || instar_io_read(io, b, (size_t)len, p->offset) != INSTAR_OK) {
        free(b);
        io->sys_errno = saved_errno;
        u->complete = false;
        return;
    }
    u->saved[u->n].off = p->offset;
    u->saved[u->n].len = (size_t)len;
    u->saved[u->n].bytes = b;
    u->n++;
    u->total += len;
}

/* Put the old bytes back in reverse order (cleanup, commit, prepare),
 * then the old length.  Keeps the errno of the failure being reported. */
static void rollback(struct instar_io *io, struct undo *u, uint64_t old_len)
{
    int saved_errno = io->sys_errno;
    if (u->complete) {
        bool ok = true;
        for (size_t i = u->n; i-- > 0 && ok;)
            ok = instar_io_write(io, u->saved[i].bytes, u->saved[i].len,
                                 u->saved[i].off) == INSTAR_OK;
        if (ok)
            (void)io->ops->unreserve(io, old_len);
        (void)io->ops->sync(io);
    }
    io->sys_errno = saved_errno;
}

static bool unsupported(int err)
{
    return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

/* Mechanism 1.  *PREALLOC_FAILED tells which message fits a failure. */
static int reserve_space(struct instar_io *io, const struct instar_resize_plan *plan,
                         enum instar_prealloc prealloc, uint64_t old_len,
                         bool *prealloc_failed)
{
    int rc;
    *prealloc_failed = false;
    if (plan->prealloc_length > 0
        && (prealloc == INSTAR_PREALLOC_FALLOC || prealloc == INSTAR_PREALLOC_FULL)) {
        rc = io->ops->reserve(io, plan->prealloc_offset, plan->prealloc_length);
        if (rc != INSTAR_OK) {
            *prealloc_failed = true;
            return rc;
        }
    }
    if (plan->prealloc_head_length > 0
        && (prealloc == INSTAR_PREALLOC_FALLOC || prealloc == INSTAR_PREALLOC_FULL)) {
        rc = io->ops->reserve(io, plan->prealloc_head_offset, plan->prealloc_head_length);
        if (rc != INSTAR_OK) {
            *prealloc_failed = true;
            return rc;
        }
    }
    for (size_t i = 0; i < plan->npatches; i++) {
        const struct instar_patch *p = &plan->patches[i];
        uint64_t off = p->offset, end = p->offset + p->length;  /* checked by the invariants */
        if (p->kind == INSTAR_PATCH_ZERO_FILL && off < old_len)
            off = old_len;      /* clearing inside the file takes no space */
        if (off >= end)
            continue;
        rc = io->ops->reserve(io, off, end - off);
        if (rc != INSTAR_OK)
            return rc;
    }
    return INSTAR_OK;
}

int instar_plan_apply(struct instar_io *io, const struct instar_resize_plan *plan,
                      enum instar_prealloc prealloc, size_t limit,
                      struct instar_diag *diag)
{
    uint64_t old_len;
    struct undo *u = NULL;
    bool prealloc_failed = false;
    const char *what = NULL;
    int rc;

    if (instar_plan_check(plan, NULL) != 0)
        return instar_diag_set(diag, INSTAR_E_INVALID_ARGUMENT,
                               "refusing to apply a plan that breaks the plan invariants");
    rc = instar_io_size(io, &old_len);
    if (rc != INSTAR_OK)
        return io_error(io, rc, diag, "Could not get file size");

    bool whole = limit >= plan->npatches;
    if (whole) {
        /* A simulated crash applies the prefix and nothing else. */
        rc = reserve_space(io, plan, prealloc, old_len, &prealloc_failed);
        if (rc != INSTAR_OK && !unsupported(io->sys_errno)) {
            int saved_errno = io->sys_errno;
            (void)io->ops->unreserve(io, old_len);
            io->sys_errno = saved_errno;
            return io_error(io, rc, diag, !prealloc_failed ? "Could not write image metadata"
                            : prealloc == INSTAR_PREALLOC_FALLOC ? "Could not preallocate new data"
                            : "Could not write zeros for preallocation");
        }
        u = calloc(1, sizeof *u);
        if (u == NULL)
            return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
        u->complete = true;
    }

    size_t n = plan->npatches < limit ? plan->npatches : limit;
    if (whole)
        instar_test_pause_point(0, n);
    for (size_t i = 0; i < n; i++) {
        const struct instar_patch *p = &plan->patches[i];
        if (u)
            undo_save(io, u, p, old_len);
        switch (p->kind) {
        case INSTAR_PATCH_WRITE:
        case INSTAR_PATCH_APPEND:
            rc = instar_io_write(io, p->data, (size_t)p->length, p->offset);
            break;
        case INSTAR_PATCH_ZERO_FILL:
            /* Holes stay holes: only data is zeroed (a sparse tail of
             * reused clusters must not be written out). */
            rc = io->ops->clear(io, p->offset, p->length);
            break;
        default:
            rc = INSTAR_E_INVALID_ARGUMENT;
        }
        /* A barrier after every patch: the prepare -> commit -> cleanup
         * order must survive power loss, not only a process crash. */
        if (rc == INSTAR_OK)
            rc = io->ops->sync(io);
        if (rc != INSTAR_OK) {
            what = "Could not write image metadata";
            goto fail;
        }
        if (whole)
            instar_test_pause_point(i + 1, n);
    }
    if (!whole)
        return INSTAR_OK;       /* a simulated crash: stop right here */

    rc = io->ops->set_size(io, plan->total_file_size);
    if (rc != INSTAR_OK) {
        what = "Could not resize file";
        goto fail;
    }

    if (plan->prealloc_length > 0) {
        if (prealloc == INSTAR_PREALLOC_FALLOC)
            rc = io->ops->allocate(io, plan->prealloc_offset, plan->prealloc_length);
        else if (prealloc == INSTAR_PREALLOC_FULL)
            rc = io->ops->zero(io, plan->prealloc_offset, plan->prealloc_length);
        if (rc != INSTAR_OK) {
            what = prealloc == INSTAR_PREALLOC_FALLOC ? "Could not preallocate new data"
                                                      : "Could not write zeros for preallocation";
            goto fail;
        }
    }
    if (plan->prealloc_head_length > 0
        && (prealloc == INSTAR_PREALLOC_FALLOC || prealloc == INSTAR_PREALLOC_FULL)) {
        /* The old end's cluster: its guest bytes stay, holes under them
         * are filled; past the old size it reads zeros, allocated (qemu
         * moves it to a new preallocated cluster). */
        uint64_t keep = plan->prealloc_head_keep < plan->prealloc_head_length
                        ? plan->prealloc_head_keep : plan->prealloc_head_length;
        rc = keep > 0 ? io->ops->allocate(io, plan->prealloc_head_offset, keep) : INSTAR_OK;
        if (rc == INSTAR_OK && plan->prealloc_head_length > keep)
            rc = io->ops->zero(io, plan->prealloc_head_offset + keep,
                               plan->prealloc_head_length - keep);
        if (rc != INSTAR_OK) {
            what = prealloc == INSTAR_PREALLOC_FALLOC ? "Could not preallocate new data"
                                                      : "Could not write zeros for preallocation";
            goto fail;
        }
    }
    rc = io->ops->sync(io);
    if (rc != INSTAR_OK) {
        what = "Could not flush file to disk";
        goto fail;
    }
    /* Only once nothing can be rolled back any more: a rollback would
     * bring back references to the punched clusters. */
    if (plan->ndiscards > 0) {
        instar_plan_discard(io, plan);
        (void)io->ops->sync(io);
    }
    undo_free(u);
    free(u);
    return INSTAR_OK;

fail:
    if (u) {
        rollback(io, u, old_len);
        undo_free(u);
        free(u);
    }
    return io_error(io, rc, diag, what);
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
