/* SPDX-License-Identifier: GPL-3.0-or-later */
/* backing-read.c -- reading guest data through an open backing chain.
 *
 * A preallocating grow (or a grow over a longer backing file) that starts
 * inside a cluster the backing file shows must copy that cluster's bytes
 * into the image first, as qemu's copy-on-write does.  This reads them:
 * what the guest of file LEVEL of the chain sees, falling through to the
 * next file where a qcow2 file leaves a range unallocated, and zeros past
 * each file's virtual size and at the end of the chain.  Raw and qcow2
 * files are read (uncompressed clusters, zero flags, extended L2
 * subclusters); anything else is refused with a reason naming it, before
 * the image is written. */
#include <config.h>

#include <string.h>

#include "image/backing.h"
#include "instar/error.h"
#include "resize/qcow2-format.h"
#include "util/checked.h"
#include "util/endian.h"

/* What a qcow2 file of the chain needs for a lookup. */
struct q2file {
    struct instar_io *io;
    uint64_t file_size, size, cs, l1_offset;
    uint32_t cluster_bits, l1_size, version;
    bool extl2;
};

static int chain_read(struct instar_backing_chain *c, size_t level, uint8_t *buf,
                      uint64_t len, uint64_t off, struct instar_diag *diag);

/* Bytes of IO at OFF; past its end, zeros (a sparse tail qemu reads as 0). */
static int read_file(struct instar_io *io, uint64_t file_size, uint8_t *buf, uint64_t len,
                     uint64_t off, struct instar_diag *diag)
{
    uint64_t n = off >= file_size ? 0 : file_size - off < len ? file_size - off : len;
    memset(buf + n, 0, (size_t)(len - n));
    if (n > 0 && instar_io_read(io, buf, (size_t)n, off) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not read the backing file");
    return INSTAR_OK;
}

static int q2_open(struct instar_io *io, struct q2file *f, struct instar_diag *diag)
{
    uint8_t h[112];
    uint64_t incompat = 0;
    memset(h, 0, sizeof h);
    memset(f, 0, sizeof *f);
    f->io = io;
    if (instar_io_size(io, &f->file_size) != INSTAR_OK
        || read_file(io, f->file_size, h, sizeof h, 0, diag) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not read the backing file's header");
    f->version = instar_be32(h + QCOW2_HDR_VERSION);
    f->cluster_bits = instar_be32(h + QCOW2_HDR_CLUSTER_BITS);
    f->size = instar_be64(h + QCOW2_HDR_SIZE) & ~511ull;
    f->l1_size = instar_be32(h + QCOW2_HDR_L1_SIZE);
    f->l1_offset = instar_be64(h + QCOW2_HDR_L1_OFFSET);
    if (f->cluster_bits < QCOW2_MIN_CLUSTER_BITS || f->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return instar_diag_set(diag, INSTAR_E_PARSE, "backing file: unsupported cluster "
                               "size 2^%u", f->cluster_bits);
    f->cs = 1ull << f->cluster_bits;
    /* qemu will not open such a file ("Invalid L1 table offset"); past
     * 2^63 or unaligned, the lookups below would read other bytes. */
    uint64_t l1_end;
    if ((f->l1_offset & (f->cs - 1)) != 0
        || !instar_add_u64(f->l1_offset, (uint64_t)f->l1_size * 8, &l1_end)
        || l1_end > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_PARSE, "backing file: invalid L1 table "
                               "offset %llu", (unsigned long long)f->l1_offset);
    if (f->version >= 3)
        incompat = instar_be64(h + QCOW2_HDR_INCOMPAT);
    if (instar_be32(h + QCOW2_HDR_CRYPT_METHOD) != 0)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "reading an "
                               "encrypted backing file is not supported");
    if (incompat & QCOW2_INCOMPAT_DATA_FILE)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "reading a backing "
                               "file with an external data file is not supported");
    if (incompat & ~QCOW2_INCOMPAT_KNOWN)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "backing file: "
                               "unknown incompatible features");
    f->extl2 = (incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    if (f->extl2 && f->cluster_bits < 14)
        return instar_diag_set(diag, INSTAR_E_PARSE, "backing file: extended L2 entries "
                               "need clusters of 16 KiB or more");
    return INSTAR_OK;
}

/* Guest bytes [OFF, OFF+LEN) of one cluster of the qcow2 file F, which is
 * file LEVEL of the chain. */
static int q2_read_cluster(struct instar_backing_chain *c, size_t level, const struct q2file *f,
                           uint8_t *buf, uint64_t len, uint64_t off, struct instar_diag *diag)
{
    unsigned es = f->extl2 ? 16 : 8;
    uint64_t entries = f->cs / es, g = off >> f->cluster_bits, i = g / entries;
    uint64_t l1e = 0, l2off, e = 0, bm = 0, host;
    uint8_t raw[16];
    int rc;

    if (i < f->l1_size) {
        if ((rc = read_file(f->io, f->file_size, raw, 8, f->l1_offset + i * 8, diag)) != INSTAR_OK)
            return rc;
        l1e = instar_be64(raw);
    }
    l2off = l1e & QCOW2_OFFSET_MASK;
    if (l2off != 0) {
        if (l2off & (f->cs - 1))
            return instar_diag_set(diag, INSTAR_E_PARSE, "backing file: L1 entry %llu is "
                                   "not cluster-aligned", (unsigned long long)i);
        if ((rc = read_file(f->io, f->file_size, raw, es, l2off + (g % entries) * es, diag))
            != INSTAR_OK)
            return rc;
        e = instar_be64(raw);
        bm = f->extl2 ? instar_be64(raw + 8) : 0;
    }
    if (e & QCOW2_OFLAG_COMPRESSED)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "reading a compressed "
                               "cluster of the backing file is not supported");
    host = e & QCOW2_OFFSET_MASK;
    if (host & (f->cs - 1))     /* qemu marks the file corrupt and fails the read */
        return instar_diag_set(diag, INSTAR_E_PARSE, "backing file: L2 entry of guest "
                               "cluster %llu is not cluster-aligned", (unsigned long long)g);
    if (!f->extl2) {
        if (f->version >= 3 && (e & QCOW2_OFLAG_ZERO)) {
            memset(buf, 0, (size_t)len);
            return INSTAR_OK;
        }
        if (host == 0)
            return chain_read(c, level + 1, buf, len, off, diag);
        return read_file(f->io, f->file_size, buf, len, host + (off & (f->cs - 1)), diag);
    }
    /* Extended L2: subcluster by subcluster. */
    uint64_t sub = f->cs >> 5;
    while (len > 0) {
        unsigned sc = (unsigned)((off & (f->cs - 1)) / sub);
        uint64_t n = sub - (off % sub);
        if (n > len)
            n = len;
        if ((bm >> (32 + sc)) & 1)
            memset(buf, 0, (size_t)n);
        else if ((bm >> sc) & 1 && host != 0)
            rc = read_file(f->io, f->file_size, buf, n, host + (off & (f->cs - 1)), diag);
        else
            rc = chain_read(c, level + 1, buf, n, off, diag);
        if (rc != INSTAR_OK)
            return rc;
        buf += n;
        off += n;
        len -= n;
    }
    return INSTAR_OK;
}

static int chain_read(struct instar_backing_chain *c, size_t level, uint8_t *buf,
                      uint64_t len, uint64_t off, struct instar_diag *diag)
{
    struct instar_io *io;
    uint64_t size, file_size;
    int rc;

    if (level >= c->n) {
        memset(buf, 0, (size_t)len);    /* the end of the chain reads zeros */
        return INSTAR_OK;
    }
    io = &c->files[level].fio.io;
    if (instar_io_size(io, &file_size) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not get the backing file's size");
    if (c->formats[level] == INSTAR_FORMAT_RAW) {
        if (!instar_align_up_u64(file_size, 512, &size))
            return instar_diag_set(diag, INSTAR_E_OVERFLOW, "Invalid file size");
        if (off >= size) {
            memset(buf, 0, (size_t)len);
            return INSTAR_OK;
        }
        return read_file(io, file_size, buf, len, off, diag);
    }
    if (c->formats[level] != INSTAR_FORMAT_QCOW2)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT, "reading guest data from "
                               "a %s backing file is not supported",
                               instar_format_name(c->formats[level]));
    struct q2file f;
    if ((rc = q2_open(io, &f, diag)) != INSTAR_OK)
        return rc;
    while (len > 0) {
        uint64_t n = f.cs - (off & (f.cs - 1));
        if (n > len)
            n = len;
        if (off >= f.size)
            memset(buf, 0, (size_t)n);
        else {
            if (n > f.size - off)
                n = f.size - off;
            if ((rc = q2_read_cluster(c, level, &f, buf, n, off, diag)) != INSTAR_OK)
                return rc;
        }
        buf += n;
        off += n;
        len -= n;
    }
    return INSTAR_OK;
}

int instar_backing_read(struct instar_backing_chain *c, uint8_t *buf, uint64_t len,
                        uint64_t off, struct instar_diag *diag)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return instar_diag_set(diag, INSTAR_E_OVERFLOW, "backing read past 2^64");
    /* The image reads zeros past its backing file's virtual size. */
    if (off >= c->length) {
        memset(buf, 0, (size_t)len);
        return INSTAR_OK;
    }
    if (end > c->length) {
        uint64_t n = c->length - off;
        memset(buf + n, 0, (size_t)(len - n));
        len = n;
    }
    return chain_read(c, 0, buf, len, off, diag);
}
