/* SPDX-License-Identifier: GPL-3.0-or-later */
/* file.c -- opening an image file the way qemu's file driver does:
 * regular files only, never blocking, locks taken before the first read
 * and held until close; and probe, plan, apply and resize by path on top
 * of it, so that callers (the CLI, the Guile glue) never open an image
 * or word an open error themselves. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/lock.h"
#include "image/backing.h"

static int open_error(struct instar_diag *diag, const char *path, int err)
{
    if (diag)
        diag->sys_errno = err;
    return instar_diag_set(diag, INSTAR_E_IO, "Could not open '%s': %s", path, strerror(err));
}

int instar_image_file_open(struct instar_image_file *f, const char *path,
                           enum instar_lock_use use, enum instar_format fmt,
                           struct instar_diag *diag)
{
    int flags = use == INSTAR_LOCK_READ || use == INSTAR_LOCK_READ_SHARED ? O_RDONLY : O_RDWR;
    struct stat st;
    uint32_t perm, shared;

    memset(f, 0, sizeof *f);
    f->fio.fd = -1;             /* a failed open leaves nothing to close */
    f->path = path;
    f->use = use;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the type
     * check below refuses it right after. */
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_error(diag, path, errno);
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return open_error(diag, path, err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        /* qemu-img resize probes devices as host devices, then refuses. */
        if (use == INSTAR_LOCK_RESIZE && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
            return instar_diag_set(diag, INSTAR_E_INVALID_ARGUMENT, "Cannot resize device files");
        /* qemu's file driver, word for word. */
        return instar_diag_set(diag, INSTAR_E_INVALID_ARGUMENT,
                               "Could not open '%s': 'file' driver requires '%s' to be a regular file",
                               path, path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
        int err = errno;
        close(fd);
        return open_error(diag, path, err);
    }
    instar_fd_io_init(&f->fio, fd);
    instar_lock_init(&f->lock, fd);
    instar_lock_perms(use, fmt, &perm, &shared);
    int rc = instar_lock_acquire(&f->lock, perm, shared, path, diag);
    if (rc != INSTAR_OK) {
        char msg[sizeof diag->message];
        if (diag) {
            memcpy(msg, diag->message, sizeof msg);
            instar_diag_set(diag, rc, "Could not open '%s': %s", path, msg);
        }
        close(fd);
        f->fio.fd = -1;
        return rc;
    }
    return INSTAR_OK;
}

int instar_image_file_set_format(struct instar_image_file *f, enum instar_format fmt,
                                 struct instar_diag *diag)
{
    uint32_t perm, shared;
    instar_lock_perms(f->use, fmt, &perm, &shared);
    int rc = instar_lock_acquire(&f->lock, perm, shared, f->path, diag);
    if (rc != INSTAR_OK && diag) {
        char msg[sizeof diag->message];
        memcpy(msg, diag->message, sizeof msg);
        instar_diag_set(diag, rc, "Could not open '%s': %s", f->path, msg);
    }
    return rc;
}

int instar_image_file_close(struct instar_image_file *f, int rc, struct instar_diag *diag)
{
    if (f->fio.fd < 0)
        return rc;
    instar_lock_release(&f->lock);
    if (close(f->fio.fd) != 0 && rc == INSTAR_OK) {
        if (diag)
            diag->sys_errno = errno;
        rc = instar_diag_set(diag, INSTAR_E_IO, "Could not close '%s': %s", f->path,
                             strerror(errno));
    }
    f->fio.fd = -1;
    return rc;
}

static int probe(struct instar_image_file *f, enum instar_format *fmt,
                 struct instar_diag *diag)
{
    int rc = instar_probe(&f->fio.io, fmt);
    if (rc != INSTAR_OK) {
        int err = f->fio.io.sys_errno ? f->fio.io.sys_errno : EIO;
        if (diag)
            diag->sys_errno = err;
        return instar_diag_set(diag, rc, "Could not probe the image format: %s",
                               strerror(err));
    }
    return INSTAR_OK;
}

/* Open PATH for USE and settle its format: *FMT as given, or probed from
 * content when UNKNOWN (then the format's own locks are added). */
static int open_probed(struct instar_image_file *f, const char *path, enum instar_lock_use use,
                       enum instar_format *fmt, struct instar_diag *diag)
{
    int rc = instar_image_file_open(f, path, use, *fmt, diag);
    if (rc != INSTAR_OK || *fmt != INSTAR_FORMAT_UNKNOWN)
        return rc;
    rc = probe(f, fmt, diag);
    if (rc != INSTAR_OK)
        return rc;
    return instar_image_file_set_format(f, *fmt, diag);
}

int instar_probe_file(const char *path, enum instar_format *out, struct instar_diag *diag)
{
    struct instar_image_file f;
    /* Only the locks every reader takes (qemu-img info's kind): probing
     * reads 1 KiB, so a writer holding the image does not stop it. */
    int rc = instar_image_file_open(&f, path, INSTAR_LOCK_READ, INSTAR_FORMAT_UNKNOWN, diag);
    if (rc == INSTAR_OK)
        rc = probe(&f, out, diag);
    return instar_image_file_close(&f, rc, diag);
}

static int chain_read(void *ctx, uint8_t *buf, uint64_t len, uint64_t off,
                      struct instar_diag *diag)
{
    return instar_backing_read(ctx, buf, len, off, diag);
}

/* Open the backing chain of the image F (at PATH) as qemu opens it,
 * read-only, and point A at it: the backing file's length and data shape
 * the plan.  Close *OUT with close_chain, also on error. */
static int open_chain(struct instar_image_file *f, const char *path,
                      struct instar_resize_args *a, bool force_share,
                      struct instar_backing_chain **out, struct instar_diag *diag)
{
    struct instar_backing_chain *chain = calloc(1, sizeof *chain);
    int rc;
    *out = chain;
    if (chain == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    rc = instar_backing_open(chain, path, &f->fio.io, a->format, force_share, diag);
    if (rc == INSTAR_OK) {
        a->backing_known = chain->present;
        a->backing_length = chain->length;
        /* Also without a backing file (a header whose name is empty):
         * the guest then reads zeros where it would show one. */
        a->backing_read = chain_read;
        a->backing_ctx = chain;
    }
    return rc;
}

static void close_chain(struct instar_backing_chain *chain)
{
    if (chain != NULL)
        instar_backing_close(chain);
    free(chain);
}

int instar_plan_file(const char *path, const struct instar_resize_args *args, bool force_share,
                     struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_image_file f;
    struct instar_resize_args a = *args;
    /* The read-side locks of qemu-img measure (none against writers with
     * FORCE_SHARE), held while planning; the file is never written.  The
     * backing chain is opened as a resize opens it, so the plan is the
     * one a resize would apply. */
    enum instar_lock_use use = force_share ? INSTAR_LOCK_READ_SHARED : INSTAR_LOCK_READ;
    memset(out, 0, sizeof *out);
    struct instar_backing_chain *chain = NULL;
    int rc = open_probed(&f, path, use, &a.format, diag);
    if (rc != INSTAR_OK)
        return rc;
    rc = open_chain(&f, path, &a, force_share, &chain, diag);
    if (rc == INSTAR_OK)
        rc = instar_image_plan(&f.fio.io, &a, out, diag);
    close_chain(chain);
    return instar_image_file_close(&f, rc, diag);
}

int instar_apply_file(const char *path, enum instar_format fmt,
                      const struct instar_resize_plan *plan, enum instar_prealloc prealloc,
                      size_t limit, struct instar_diag *diag)
{
    struct instar_image_file f;
    /* A resize's locks for the plan's format, held while it is applied. */
    int rc = instar_image_file_open(&f, path, INSTAR_LOCK_RESIZE, fmt, diag);
    if (rc == INSTAR_OK)
        rc = instar_plan_apply(&f.fio.io, plan, prealloc, limit, diag);
    return instar_image_file_close(&f, rc, diag);
}

int instar_resize_file(const char *path, const struct instar_resize_args *args,
                       struct instar_diag *diag)
{
    struct instar_image_file f;
    struct instar_resize_args a = *args;
    /* The locks come before the first read and stay until the file is
     * closed: nobody may write or resize it between plan and apply. */
    int rc = open_probed(&f, path, INSTAR_LOCK_RESIZE, &a.format, diag);
    if (rc != INSTAR_OK)
        return rc;
    /* qemu opens the backing chain with the image, before anything else
     * is checked, and keeps it open (and locked) throughout. */
    struct instar_backing_chain *chain = NULL;
    rc = open_chain(&f, path, &a, false, &chain, diag);
    if (rc == INSTAR_OK)
        rc = instar_image_resize(&f.fio.io, &a, diag);
    close_chain(chain);
    return instar_image_file_close(&f, rc, diag);
}
