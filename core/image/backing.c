/* SPDX-License-Identifier: GPL-3.0-or-later */
/* backing.c -- opening a qcow2 image's backing chain as qemu-img 7.2 does
 * before a resize.  qemu needs the backing file's length: a grow over a
 * longer backing file must make the new range read as zeros (the qcow2
 * planner's zero_grow).  qemu opens every file of the chain, read-only,
 * with its read locks, and refuses the resize when one cannot be opened;
 * so does this. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/backing.h"
#include "instar/error.h"
#include "util/checked.h"
#include "util/endian.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define BACKING_NAME_MAX 1023           /* qemu's limit on the name */

struct named {
    char name[BACKING_NAME_MAX + 1];
    char format[32];                    /* "" when the header names none */
};

/* The backing file name and format the qcow2 header in IO names; *HAS is
 * false when it names none.  Messages are qemu's (qcow2_do_open). */
static int qcow2_backing_name(struct instar_io *io, struct named *out, bool *has,
                              struct instar_diag *diag)
{
    uint8_t h[104], ext[8];
    uint64_t file_size, boff, cs, pos, end;
    uint32_t blen, version, cbits, hlen;
    int rc;

    *has = false;
    memset(out, 0, sizeof *out);
    memset(h, 0, sizeof h);
    if ((rc = instar_io_size(io, &file_size)) != INSTAR_OK
        || (rc = instar_io_read(io, h, file_size < sizeof h ? (size_t)file_size : sizeof h, 0))
               != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read the qcow2 header");
    if (file_size < 72 || instar_be32(h) != QCOW2_MAGIC)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Image is not in qcow2 format");
    version = instar_be32(h + 4);
    boff = instar_be64(h + 8);
    blen = instar_be32(h + 16);
    cbits = instar_be32(h + 20);
    if (boff == 0)
        return INSTAR_OK;
    if (cbits < 9 || cbits > 21)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Unsupported cluster size: 2^%u", cbits);
    cs = 1ull << cbits;
    if (boff > cs)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Invalid backing file offset");
    if (blen > BACKING_NAME_MAX || blen > cs - boff)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Backing file name too long");
    if (blen > 0 && (boff + blen > file_size
                     || (rc = instar_io_read(io, out->name, blen, boff)) != INSTAR_OK))
        return instar_diag_set(diag, rc != INSTAR_OK ? rc : INSTAR_E_PARSE,
                               "Could not read backing file name");
    out->name[blen] = '\0';
    /* qemu reads the name as a C string: an empty one (length 0, or a
     * name of NUL bytes) means no backing file, and it opens the image. */
    if (out->name[0] == '\0')
        return INSTAR_OK;
    *has = true;

    /* The extensions between the header and the name: the backing format. */
    hlen = version >= 3 ? instar_be32(h + 100) : 72;
    end = boff;
    for (pos = hlen; pos + 8 <= end && pos + 8 <= file_size;) {
        uint32_t type, len;
        if (instar_io_read(io, ext, 8, pos) != INSTAR_OK)
            break;
        type = instar_be32(ext);
        len = instar_be32(ext + 4);
        if (type == 0)
            break;
        if (len > end - pos - 8)
            return instar_diag_set(diag, INSTAR_E_PARSE, "ext_end: Invalid extension length");
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len >= sizeof out->format)
                return instar_diag_set(diag, INSTAR_E_PARSE, "ERROR: ext_backing_format: "
                                       "len=%u too large (>=%zu)", len, sizeof out->format);
            if (instar_io_read(io, out->format, len, pos + 8) != INSTAR_OK)
                return instar_diag_set(diag, INSTAR_E_IO, "ERROR: ext_backing_format: "
                                       "Could not read format name");
            out->format[len] = '\0';
        }
        pos += 8 + (((uint64_t)len + 7) & ~7ull);
    }
    return INSTAR_OK;
}

/* qemu's path_combine: a relative NAME is relative to BASE's directory. */
static char *combine(const char *base, const char *name)
{
    const char *slash = strrchr(base, '/');
    size_t dlen = name[0] == '/' || slash == NULL ? 0 : (size_t)(slash - base) + 1;
    char *p = malloc(dlen + strlen(name) + 1);
    if (p != NULL) {
        memcpy(p, base, dlen);
        strcpy(p + dlen, name);
    }
    return p;
}

/* The virtual size qemu's block layer reports for the file in IO. */
static int virtual_length(struct instar_io *io, enum instar_format fmt, uint64_t *len,
                          struct instar_diag *diag)
{
    uint64_t fsize;
    uint8_t h[32];
    int rc;

    if (fmt == INSTAR_FORMAT_RAW) {
        if ((rc = instar_io_size(io, &fsize)) != INSTAR_OK)
            return instar_diag_set(diag, rc, "Could not get file size");
        if (!instar_align_up_u64(fsize, 512, len))
            return instar_diag_set(diag, INSTAR_E_OVERFLOW, "Invalid file size");
        return INSTAR_OK;
    }
    if (fmt == INSTAR_FORMAT_QCOW2) {
        if ((rc = instar_io_read(io, h, sizeof h, 0)) != INSTAR_OK)
            return instar_diag_set(diag, rc, "Could not read the qcow2 header");
        *len = instar_be64(h + 24) & ~511ull;   /* whole sectors */
        if (*len > (uint64_t)INT64_MAX)
            return instar_diag_set(diag, INSTAR_E_PARSE, "Invalid qcow2 image size");
        return INSTAR_OK;
    }
    /* The other formats: the size their engine reads (a same-size plan). */
    struct instar_resize_args a;
    struct instar_image_plan p;
    memset(&a, 0, sizeof a);
    a.format = fmt;
    a.size.sign = INSTAR_SIZE_PLUS;
    rc = instar_image_plan(io, &a, &p, diag);
    *len = p.current_size;
    instar_image_plan_free(&p);
    if (rc != INSTAR_OK && *len == 0)
        return rc;
    instar_diag_clear(diag);
    return INSTAR_OK;
}

/* Wrap the reason already in DIAG in qemu's nesting: one "Could not open
 * backing file: " per level below the image at TOP. */
static int refuse(struct instar_diag *diag, int rc, const char *top, size_t depth)
{
    char msg[sizeof diag->message], prefix[64 * 28 + 1] = "";
    if (diag == NULL)
        return rc;
    memcpy(msg, diag->message, sizeof msg);
    for (size_t i = 0; i <= depth && i < 64; i++)
        strcat(prefix, "Could not open backing file: ");
    instar_diag_set(diag, rc, "Could not open '%s': %s%s", top, prefix, msg);
    return rc;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int instar_backing_open(struct instar_backing_chain *c, const char *path,
                        struct instar_io *io, enum instar_format fmt, bool force_share,
                        struct instar_diag *diag)
{
    struct stat seen[INSTAR_BACKING_MAX_DEPTH + 1];
    const char *cur_path = path;
    struct instar_io *cur_io = io;
    enum instar_format cur_fmt = fmt;
    int rc;

    memset(c, 0, sizeof *c);
    if (stat(path, &seen[0]) != 0)
        memset(&seen[0], 0, sizeof seen[0]);
    while (cur_fmt == INSTAR_FORMAT_QCOW2) {
        struct named nm;
        bool has;
        size_t depth = c->n;
        rc = qcow2_backing_name(cur_io, &nm, &has, diag);
        if (rc != INSTAR_OK)
            return depth == 0 ? rc : refuse(diag, rc, path, depth - 1);
        if (!has)
            break;
        if (strncmp(nm.name, "json:", 5) == 0) {
            instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "'json:' backing file "
                            "names are not supported");
            return refuse(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, path, depth);
        }
        if (depth == INSTAR_BACKING_MAX_DEPTH) {
            instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "backing chain longer "
                            "than %d files (not supported)", INSTAR_BACKING_MAX_DEPTH);
            return refuse(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, path, depth);
        }
        enum instar_format bfmt = INSTAR_FORMAT_UNKNOWN;
        if (nm.format[0] != '\0' && instar_format_parse(nm.format, &bfmt) != INSTAR_OK) {
            instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT, "Unknown driver '%s'",
                            nm.format);
            return refuse(diag, INSTAR_E_UNSUPPORTED_FORMAT, path, depth);
        }
        if ((c->paths[depth] = combine(cur_path, nm.name)) == NULL)
            return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
        struct instar_image_file *f = &c->files[depth];
        rc = instar_image_file_open(f, c->paths[depth], force_share ? INSTAR_LOCK_READ_SHARED
                                                                     : INSTAR_LOCK_READ,
                                    bfmt, diag);
        if (rc != INSTAR_OK) {
            /* qemu words a lock conflict on a backing file without the
             * "Could not open 'FILE'" the open error carries. */
            char lead[1200];
            snprintf(lead, sizeof lead, "Could not open '%s': ", c->paths[depth]);
            if (rc == INSTAR_E_LOCKED && diag && strncmp(diag->message, lead, strlen(lead)) == 0)
                memmove(diag->message, diag->message + strlen(lead),
                        strlen(diag->message + strlen(lead)) + 1);
            return refuse(diag, rc, path, depth);
        }
        c->n++;
        if (fstat(f->fio.fd, &seen[depth + 1]) == 0) {
            for (size_t k = 0; k <= depth; k++)
                if (same_file(&seen[k], &seen[depth + 1])) {
                    instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "the backing "
                                    "chain loops at '%s'", c->paths[depth]);
                    return refuse(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, path, depth);
                }
        }
        if (bfmt == INSTAR_FORMAT_UNKNOWN) {
            rc = instar_probe(&f->fio.io, &bfmt);
            if (rc == INSTAR_OK)
                rc = instar_image_file_set_format(f, bfmt, diag);
            else
                instar_diag_set(diag, rc, "Could not probe the image format: %s",
                                strerror(f->fio.io.sys_errno ? f->fio.io.sys_errno : EIO));
            if (rc != INSTAR_OK)
                return refuse(diag, rc, path, depth);
        }
        c->formats[depth] = bfmt;
        if (depth == 0) {
            rc = virtual_length(&f->fio.io, bfmt, &c->length, diag);
            if (rc != INSTAR_OK)
                return refuse(diag, rc, path, depth);
            c->present = true;
        }
        cur_path = c->paths[depth];
        cur_io = &f->fio.io;
        cur_fmt = bfmt;
    }
    return INSTAR_OK;
}

void instar_backing_close(struct instar_backing_chain *c)
{
    for (size_t i = c->n; i-- > 0;)
        (void)instar_image_file_close(&c->files[i], INSTAR_OK, NULL);
    for (size_t i = 0; i < INSTAR_BACKING_MAX_DEPTH; i++) {
        free(c->paths[i]);
        c->paths[i] = NULL;
    }
    c->n = 0;
}
