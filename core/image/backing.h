/* SPDX-License-Identifier: GPL-3.0-or-later */
/* backing.h -- a qcow2 image's backing chain, opened read-only under
 * qemu's locks for the length of a resize (internal to the core). */
#ifndef INSTAR_IMAGE_BACKING_H
#define INSTAR_IMAGE_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/image.h"
#include "instar/lock.h"

/* qemu has no depth limit; this one only bounds the memory a chain of
 * distinct files can take. */
#define INSTAR_BACKING_MAX_DEPTH 64

struct instar_backing_chain {
    size_t n;                   /* files open, the immediate backing file first */
    struct instar_image_file files[INSTAR_BACKING_MAX_DEPTH];
    char *paths[INSTAR_BACKING_MAX_DEPTH];
    enum instar_format formats[INSTAR_BACKING_MAX_DEPTH];
    bool present;               /* the image names a backing file */
    uint64_t length;            /* its virtual size (qemu's bdrv_getlength) */
};

/* Open the backing chain of the image at PATH (open as IO, format FMT) as
 * qemu-img does before a resize: each backing file named relative to the
 * directory of the image naming it, its format from the header's backing
 * format extension or probed, read-only, with qemu's read locks (shared
 * "write"/"resize" refused for formats with metadata).  Only qcow2 images
 * have backing files here.  A file that cannot be opened, a format that
 * cannot be read and a chain that loops are refused with qemu's wording
 * ("Could not open backing file: ...").  FORCE_SHARE: qemu-img's -U,
 * no locks against writers.  Close with instar_backing_close,
 * also on error. */
int instar_backing_open(struct instar_backing_chain *c, const char *path,
                        struct instar_io *io, enum instar_format fmt, bool force_share,
                        struct instar_diag *diag);
void instar_backing_close(struct instar_backing_chain *c);

/* Read LEN guest bytes at OFF of the image whose chain C is: what its
 * guest sees where it shows the backing file (core/image/backing-read.c).
 * Zeros past the backing file's virtual size.  Raw and qcow2 files are
 * read; another format, a compressed cluster, encryption or an external
 * data file in the chain is refused with a reason in DIAG. */
int instar_backing_read(struct instar_backing_chain *c, uint8_t *buf, uint64_t len,
                        uint64_t off, struct instar_diag *diag);

#endif
