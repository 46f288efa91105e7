/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lock.c -- qemu's permission-byte image locks (file-posix, qemu 7.2).
 *
 * Written from the behaviour of qemu's raw_apply_lock_bytes and
 * raw_check_lock_bytes, measured with strace against qemu-img 7.2: take
 * the bytes first, then test for conflicts, so two openers racing each
 * other cannot both miss the other (at least one sees the other's byte). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/lock.h"

#define PERM_BITS 4             /* bits 0..3: INSTAR_PERM_ALL */

const char *instar_perm_name(uint32_t bit)
{
    switch (bit) {
    case INSTAR_PERM_CONSISTENT_READ: return "consistent read";
    case INSTAR_PERM_WRITE: return "write";
    case INSTAR_PERM_WRITE_UNCHANGED: return "write unchanged";
    case INSTAR_PERM_RESIZE: return "resize";
    default: return "unknown";
    }
}

void instar_lock_init(struct instar_lock *lk, int fd)
{
    lk->fd = fd;
    lk->locked_perm = 0;
    lk->locked_unshared = 0;
}

#ifdef F_OFD_SETLK

/* fcntl CMD (F_OFD_SETLK or F_OFD_GETLK) with a lock of TYPE on byte OFF,
 * retried on EINTR; 0 or errno.  FL is the lock, as GETLK leaves it. */
static int byte_lock(int fd, int cmd, int off, short type, struct flock *fl)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = off;
    fl->l_len = 1;
    while (fcntl(fd, cmd, fl) == -1) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* A shared (read) lock on one byte, or its release.  OFD locks belong to
 * the open file description, not the process: a second open of the same
 * image in this process conflicts like another process would. */
static int set_byte(int fd, int off, short type)
{
    struct flock fl;
    return byte_lock(fd, F_OFD_SETLK, off, type, &fl);
}

/* 0 if nobody else holds byte OFF; EAGAIN if someone does (a test for an
 * exclusive lock, as qemu's qemu_lock_fd_test does). */
static int test_byte(int fd, int off)
{
    struct flock fl;
    int err = byte_lock(fd, F_OFD_GETLK, off, F_WRLCK, &fl);
    if (err != 0)
        return err;
    return fl.l_type == F_UNLCK ? 0 : EAGAIN;
}

/* Release the bytes of WANT_PERM / WANT_UNSHARED that LK holds but did not
 * hold before (OLD_*): a refused acquire leaves what was there. */
static void drop_new(struct instar_lock *lk, uint32_t old_perm, uint32_t old_unshared)
{
    for (int i = 0; i < PERM_BITS; i++) {
        uint32_t bit = 1u << i;
        if ((lk->locked_perm & bit) && !(old_perm & bit)
            && set_byte(lk->fd, INSTAR_LOCK_PERM_BASE + i, F_UNLCK) == 0)
            lk->locked_perm &= ~bit;
        if ((lk->locked_unshared & bit) && !(old_unshared & bit)
            && set_byte(lk->fd, INSTAR_LOCK_SHARED_BASE + i, F_UNLCK) == 0)
            lk->locked_unshared &= ~bit;
    }
}

static int lock_error(struct instar_diag *diag, int err, const char *what, int off)
{
    if (diag)
        diag->sys_errno = err;
    /* qemu elides EAGAIN/EACCES: they only mean "someone holds it". */
    if (err == EAGAIN || err == EACCES)
        return instar_diag_set(diag, INSTAR_E_LOCKED, "%s %d", what, off);
    return instar_diag_set(diag, INSTAR_E_IO, "%s %d: %s", what, off, strerror(err));
}

/* A shared lock on byte BASE + i for each bit i of WANT not yet in
 * *LOCKED, noted there; 0, or the errno of the first failure (its byte
 * in *AT). */
static int take_bytes(int fd, uint32_t want, uint32_t *locked, int base, int *at)
{
    for (int i = 0; i < PERM_BITS; i++) {
        uint32_t bit = 1u << i;
        if ((want & bit) && !(*locked & bit)) {
            int err = set_byte(fd, base + i, F_RDLCK);
            if (err != 0) {
                *at = base + i;
                return err;
            }
            *locked |= bit;
        }
    }
    return 0;
}

int instar_lock_acquire(struct instar_lock *lk, uint32_t perm, uint32_t shared,
                        const char *path, struct instar_diag *diag)
{
    uint32_t old_perm = lk->locked_perm, old_unshared = lk->locked_unshared;
    uint32_t want_perm = (old_perm | perm) & INSTAR_PERM_ALL;
    uint32_t want_unshared = (old_unshared | ~shared) & INSTAR_PERM_ALL;
    int err;

    /* Step one: take our bytes (qemu's raw_apply_lock_bytes). */
    int at = 0;
    err = take_bytes(lk->fd, want_perm, &lk->locked_perm, INSTAR_LOCK_PERM_BASE, &at);
    if (err == 0)
        err = take_bytes(lk->fd, want_unshared, &lk->locked_unshared, INSTAR_LOCK_SHARED_BASE,
                         &at);
    if (err != 0) {
        drop_new(lk, old_perm, old_unshared);
        return lock_error(diag, err, "Failed to lock byte", at);
    }

    /* Step two: nobody else may refuse to share what we use, nor use what
     * we refuse to share (qemu's raw_check_lock_bytes, same order, so the
     * first conflict named is the one qemu-img names). */
    const char *fmt = NULL;
    int bad = 0;
    for (int i = 0; i < PERM_BITS && fmt == NULL; i++) {
        if (!(perm & (1u << i)))
            continue;
        err = test_byte(lk->fd, INSTAR_LOCK_SHARED_BASE + i);
        if (err != 0) {
            fmt = "Failed to get \"%s\" lock";
            bad = i;
        }
    }
    for (int i = 0; i < PERM_BITS && fmt == NULL; i++) {
        if (shared & (1u << i))
            continue;
        err = test_byte(lk->fd, INSTAR_LOCK_PERM_BASE + i);
        if (err != 0) {
            fmt = "Failed to get shared \"%s\" lock";
            bad = i;
        }
    }
    if (fmt == NULL)
        return INSTAR_OK;

    drop_new(lk, old_perm, old_unshared);
    char what[64];
    snprintf(what, sizeof what, fmt, instar_perm_name(1u << bad));
    if (diag)
        diag->sys_errno = err == EAGAIN ? 0 : err;
    if (err != EAGAIN && err != EACCES)
        return instar_diag_set(diag, INSTAR_E_IO, "%s: %s\nIs another process using the image [%s]?",
                               what, strerror(err), path);
    return instar_diag_set(diag, INSTAR_E_LOCKED, "%s\nIs another process using the image [%s]?",
                           what, path);
}

void instar_lock_release(struct instar_lock *lk)
{
    drop_new(lk, 0, 0);
}

#else /* no OFD locks: qemu's "auto" locking is off there, and so is ours */

int instar_lock_acquire(struct instar_lock *lk, uint32_t perm, uint32_t shared,
                        const char *path, struct instar_diag *diag)
{
    (void)lk; (void)perm; (void)shared; (void)path; (void)diag;
    return INSTAR_OK;
}

void instar_lock_release(struct instar_lock *lk)
{
    (void)lk;
}

#endif

void instar_lock_perms(enum instar_lock_use use, enum instar_format fmt,
                       uint32_t *perm, uint32_t *shared)
{
    /* qemu: a format with metadata keeps its file consistent, so it never
     * lets others write or resize it; raw passes its user's sharing on. */
    uint32_t metadata_unshared = fmt == INSTAR_FORMAT_RAW || fmt == INSTAR_FORMAT_UNKNOWN
                               ? 0 : (INSTAR_PERM_WRITE | INSTAR_PERM_RESIZE);
    switch (use) {
    case INSTAR_LOCK_READ:
        *perm = INSTAR_PERM_CONSISTENT_READ;
        *shared = INSTAR_PERM_ALL & ~metadata_unshared;
        break;
    case INSTAR_LOCK_READ_SHARED:
        *perm = INSTAR_PERM_CONSISTENT_READ;
        *shared = INSTAR_PERM_ALL;
        break;
    case INSTAR_LOCK_RESIZE:
        *perm = INSTAR_PERM_CONSISTENT_READ | INSTAR_PERM_WRITE | INSTAR_PERM_RESIZE;
        *shared = INSTAR_PERM_ALL & ~metadata_unshared;
        break;
    case INSTAR_LOCK_CREATE:
    default:
        /* raw_co_create: the size it sets must stay the size. */
        *perm = INSTAR_PERM_WRITE | INSTAR_PERM_RESIZE;
        *shared = INSTAR_PERM_ALL & ~INSTAR_PERM_RESIZE;
        break;
    }
}
