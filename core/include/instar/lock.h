/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/lock.h -- qemu's image locks, and image files opened under them.
 *
 * qemu's file driver (file-posix, qemu 7.2) advertises what each open of
 * an image may do with open file description locks (F_OFD_SETLK, shared
 * read locks of one byte):
 *   byte 100 + i   held: "I use permission i"
 *   byte 200 + i   held: "I do not let others use permission i"
 * for the permissions below.  Opening takes its own bytes first, then
 * tests (F_OFD_GETLK, as if for a write lock) that nobody else holds a
 * byte that conflicts, and gives its bytes back on a conflict.  instar
 * takes the same bytes the same way, so qemu and instar see each other.  */
#ifndef INSTAR_LOCK_H
#define INSTAR_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/image.h"
#include "instar/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* qemu's BLK_PERM_* bits (include/block/block-common.h, qemu 7.2). */
enum instar_perm {
    INSTAR_PERM_CONSISTENT_READ = 1u << 0,
    INSTAR_PERM_WRITE = 1u << 1,
    INSTAR_PERM_WRITE_UNCHANGED = 1u << 2,
    INSTAR_PERM_RESIZE = 1u << 3,
    INSTAR_PERM_ALL = 0x0f
};

#define INSTAR_LOCK_PERM_BASE 100
#define INSTAR_LOCK_SHARED_BASE 200

/* The bytes one open file description holds. */
struct instar_lock {
    int fd;
    uint32_t locked_perm;       /* bits whose byte 100 + i is held */
    uint32_t locked_unshared;   /* bits whose byte 200 + i is held */
};

void instar_lock_init(struct instar_lock *lk, int fd);

/* Add PERM to what LK uses and stop sharing every permission outside
 * SHARED (on top of what LK already holds), then check that no other open
 * file description conflicts.  On a conflict: INSTAR_E_LOCKED with
 * qemu's message ("Failed to get \"write\" lock\nIs another process
 * using the image [PATH]?"), and the bytes this call took are released
 * again.  Where the OS has no OFD locks, INSTAR_E_IO.  */
int instar_lock_acquire(struct instar_lock *lk, uint32_t perm, uint32_t shared,
                        const char *path, struct instar_diag *diag);

/* Give back every byte LK holds (closing the descriptor does too). */
void instar_lock_release(struct instar_lock *lk);

/* qemu's name of one permission bit ("consistent read", "write", ...). */
const char *instar_perm_name(uint32_t bit);

/* What qemu-img 7.2 takes, per operation.  A format with metadata never
 * shares write or resize (qemu's rule for metadata children); raw shares
 * what its user shares, which for qemu-img is everything.  */
enum instar_lock_use {
    INSTAR_LOCK_READ,           /* plan: like qemu-img measure */
    INSTAR_LOCK_READ_SHARED,    /* plan -U: like qemu-img measure -U */
    INSTAR_LOCK_RESIZE,         /* like qemu-img resize */
    INSTAR_LOCK_CREATE          /* the file layer of qemu-img create */
};
void instar_lock_perms(enum instar_lock_use use, enum instar_format fmt,
                       uint32_t *perm, uint32_t *shared);

/* ---- image files ------------------------------------------------------- */
/* A regular file opened for USE, its locks held until instar_image_file_close.
 * Opening never blocks (FIFOs and devices are refused as qemu's file driver
 * refuses them), and takes the locks before anything is read; FMT may be
 * UNKNOWN, in which case the locks every format needs are taken now and
 * instar_image_file_set_format adds the rest once the format is probed.
 * PATH is kept (for messages) and must stay valid until the close.  */
struct instar_image_file {
    struct instar_fd_io fio;
    struct instar_lock lock;
    enum instar_lock_use use;
    const char *path;
};

int instar_image_file_open(struct instar_image_file *f, const char *path,
                           enum instar_lock_use use, enum instar_format fmt,
                           struct instar_diag *diag);
int instar_image_file_set_format(struct instar_image_file *f, enum instar_format fmt,
                                 struct instar_diag *diag);
/* Release the locks and close; an error from close(2) when RC is INSTAR_OK
 * becomes the result.  Returns the (possibly updated) RC.  After a failed
 * open it does nothing.  */
int instar_image_file_close(struct instar_image_file *f, int rc, struct instar_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
