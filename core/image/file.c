/* SPDX-License-Identifier: GPL-3.0-or-later */
/* file.c -- opening an image file the way qemu's file driver does:
 * regular files only, never blocking, locks taken before the first read
 * and held until close. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/lock.h"

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
