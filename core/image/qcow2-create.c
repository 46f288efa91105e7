/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-create.c -- qcow2 create: qemu-img 7.2's option checks (same
 * order, same messages), then the image written in one sequential pass.
 * Nothing is written before every option and the size have been accepted
 * (instar_qcow2_create_check: the same checks, for callers that must
 * refuse before they open the file). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/qcow2-create-layout.h"
#include "image/qcow2-create.h"
#include "instar/error.h"
#include "resize/qcow2-format.h"
#include "util/endian.h"

/* The feature name table qemu writes into every v3 header, in its order. */
static const struct {
    uint8_t type, bit;
    const char *name;
} feature_names[] = {
    {0, 0, "dirty bit"},
    {0, 1, "corrupt bit"},
    {0, 2, "external data file"},
    {0, 3, "compression type"},
    {0, 4, "extended L2 entries"},
    {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},
    {2, 1, "raw external data"},
};

static bool is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* qemu-img 7.2's qcow2_co_create checks, in its order. */
static int validate(const struct instar_create_opts *o,
                    struct instar_qcow2_create_params *p, struct instar_diag *diag)
{
    const char *v3_hint = "compatibility level 1.1 and above (use version=v3 or greater)";
    uint64_t cs = o->cluster_size_set ? o->cluster_size : 65536;
    uint64_t rbits = o->refcount_bits_set ? o->refcount_bits : 16;

    memset(p, 0, sizeof *p);
    p->version = o->compat == 0 ? 3 : o->compat;
    if (p->version != 2 && p->version != 3)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Invalid compatibility level: %u", (unsigned)o->compat);
    if (o->extended_l2 && p->version < 3)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Extended L2 entries are only supported with %s", v3_hint);
    if (!is_pow2(cs) || cs < 512 || cs > (2u << 20))
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Cluster size must be a power of two between 512 and 2048k");
    if (o->extended_l2 && cs < 16384)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Extended L2 entries are only supported with cluster sizes "
                               "of at least 16384 bytes");
    if (o->lazy_refcounts && p->version < 3)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Lazy refcounts only supported with %s", v3_hint);
    if (!is_pow2(rbits) || rbits > 64)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Refcount width must be a power of two and may not exceed 64 bits");
    if (p->version < 3 && rbits != 16)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "Different refcount widths than 16 bits require "
                               "compatibility level 1.1 or above (use version=v3 or greater)");
    if (o->size % 512 != 0)     /* instar_image_create rounds; callers may not */
        return instar_diag_set(diag, INSTAR_E_INVALID_SIZE,
                               "Image size must be a multiple of 512 bytes");
    /* Both are powers of two by now: the exponent is the trailing zeros. */
    p->cluster_bits = (uint32_t)__builtin_ctzll(cs);
    p->refcount_order = (uint32_t)__builtin_ctzll(rbits);
    p->extended_l2 = o->extended_l2;
    p->lazy_refcounts = o->lazy_refcounts;
    p->prealloc = o->prealloc;
    p->size = o->size;
    return INSTAR_OK;
}

static int too_large(struct instar_diag *diag)
{
    return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                           "The image size is too large for file format 'qcow2' "
                           "(try using a larger cluster size)");
}

/* qemu's block layer limit (INT64_MAX rounded down to 1 GiB). */
#define BDRV_MAX_LENGTH 0x7fffffffc0000000ULL

/* validate(), then what qemu finds when it grows the new image to its
 * size (block layer first, then the L1 table); no I/O. */
static int check(const struct instar_create_opts *o, struct instar_qcow2_create_params *p,
                 struct instar_qcow2_create_layout *l, struct instar_diag *diag)
{
    int rc = validate(o, p, diag);
    if (rc != INSTAR_OK)
        return rc;
    if (o->size > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                               "Could not resize image: Image size cannot be negative");
    if (o->size > BDRV_MAX_LENGTH)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                               "Could not resize image: offset(%llu) exceeds maximum(%llu)",
                               (unsigned long long)o->size,
                               (unsigned long long)BDRV_MAX_LENGTH);
    rc = instar_qcow2_create_layout(p, l);
    if (rc == INSTAR_E_TOO_LARGE)
        return too_large(diag);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "%s", instar_strerror(rc));
    return INSTAR_OK;
}

int instar_qcow2_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    struct instar_qcow2_create_params p;
    struct instar_qcow2_create_layout l;
    return check(o, &p, &l, diag);
}

/* Cluster 0's meaningful bytes: the header, v3's feature name table and
 * the end-of-extensions marker (512 bytes, the smallest cluster). */
static void encode_header(uint8_t hdr[512], const struct instar_qcow2_create_params *p,
                          const struct instar_qcow2_create_layout *l)
{
    memset(hdr, 0, 512);
    instar_put_be32(hdr + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
    instar_put_be32(hdr + QCOW2_HDR_VERSION, p->version);
    instar_put_be32(hdr + QCOW2_HDR_CLUSTER_BITS, p->cluster_bits);
    instar_put_be64(hdr + QCOW2_HDR_SIZE, p->size);
    instar_put_be32(hdr + QCOW2_HDR_L1_SIZE, (uint32_t)l->l1_size);
    instar_put_be64(hdr + QCOW2_HDR_L1_OFFSET, l->l1_offset);
    instar_put_be64(hdr + QCOW2_HDR_REFTABLE_OFFSET, l->reftable_offset);
    instar_put_be32(hdr + QCOW2_HDR_REFTABLE_CLUSTERS, (uint32_t)l->reftable_clusters);
    if (p->version < 3)
        return;                 /* v2: 72 bytes; the end marker is zeros */
    instar_put_be64(hdr + QCOW2_HDR_INCOMPAT, p->extended_l2 ? QCOW2_INCOMPAT_EXTL2 : 0);
    instar_put_be64(hdr + QCOW2_HDR_COMPAT, p->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
    instar_put_be32(hdr + QCOW2_HDR_REFCOUNT_ORDER, p->refcount_order);
    instar_put_be32(hdr + QCOW2_HDR_HEADER_LENGTH, QCOW2_V3_HEADER_LENGTH);
    /* qemu 7.2 leaves the table out with clusters of 4 KiB and less (it
     * would crowd out a backing file name); the end marker is zeros. */
    if (l->cluster_size <= 4096)
        return;
    uint8_t *ext = hdr + QCOW2_V3_HEADER_LENGTH;
    size_t n = sizeof feature_names / sizeof feature_names[0];
    instar_put_be32(ext, QCOW2_EXT_FEATURE_TABLE);
    instar_put_be32(ext + 4, (uint32_t)(n * 48));
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = ext + 8 + i * 48;
        e[0] = feature_names[i].type;
        e[1] = feature_names[i].bit;
        memcpy(e + 2, feature_names[i].name, strlen(feature_names[i].name));
    }
    /* The end marker (type 0, length 0) follows at 504: already zero. */
}

/* A sequential writer: metadata is produced in file order into one
 * buffer and flushed in large writes. */
struct seqw {
    struct instar_io *io;
    uint8_t *buf;
    size_t cap, len;
    uint64_t off;               /* file offset of buf[0] */
};

static int seqw_flush(struct seqw *w)
{
    int rc = INSTAR_OK;
    if (w->len > 0)
        rc = instar_io_write(w->io, w->buf, w->len, w->off);
    w->off += w->len;
    w->len = 0;
    return rc;
}

/* Make room for N bytes at the current position; returns them zeroed. */
static int seqw_reserve(struct seqw *w, size_t n, uint8_t **out)
{
    if (w->len + n > w->cap) {
        int rc = seqw_flush(w);
        if (rc != INSTAR_OK)
            return rc;
    }
    *out = w->buf + w->len;
    memset(*out, 0, n);
    w->len += n;
    return INSTAR_OK;
}

static int seqw_seek(struct seqw *w, uint64_t off)
{
    int rc = seqw_flush(w);
    w->off = off;
    return rc;
}

/* Refcount 1 for the first N entries of one block (sub-byte widths are
 * packed least-significant first, as qemu does). */
static void fill_refblock(uint8_t *blk, uint64_t n, uint32_t order)
{
    uint32_t bits = 1u << order;
    if (bits >= 8) {
        uint64_t bytes = bits / 8;
        for (uint64_t k = 0; k < n; k++)
            blk[k * bytes + bytes - 1] = 1;
    } else {
        uint64_t per = 8 / bits;
        for (uint64_t k = 0; k < n; k++)
            blk[k / per] |= (uint8_t)(1u << ((k % per) * bits));
    }
}

static int write_metadata(struct seqw *w, const struct instar_qcow2_create_params *p,
                          const struct instar_qcow2_create_layout *l)
{
    const size_t cs = (size_t)l->cluster_size;
    uint8_t *b;
    int rc = seqw_seek(w, l->reftable_offset);

    /* Refcount table: one entry per refcount block. */
    for (uint64_t i = 0; rc == INSTAR_OK && i < l->reftable_clusters; i++) {
        rc = seqw_reserve(w, cs, &b);
        for (uint64_t e = 0; rc == INSTAR_OK && e < cs / 8; e++) {
            uint64_t idx = i * (cs / 8) + e;
            if (idx < l->n_refblocks)
                instar_put_be64(b + e * 8, l->refblocks_offset + idx * cs);
        }
    }
    /* Refcount blocks: every cluster in [0, used_clusters) has refcount 1. */
    for (uint64_t i = 0; rc == INSTAR_OK && i < l->n_refblocks; i++) {
        uint64_t first = i * l->refblock_entries, n = 0;
        if (first < l->used_clusters)
            n = l->used_clusters - first;
        if (n > l->refblock_entries)
            n = l->refblock_entries;
        rc = seqw_reserve(w, cs, &b);
        if (rc == INSTAR_OK)
            fill_refblock(b, n, p->refcount_order);
    }
    if (rc != INSTAR_OK || l->n_l2 == 0)
        return rc == INSTAR_OK ? seqw_flush(w) : rc;
    /* Preallocated: L1 -> every L2 table -> every data cluster, all with
     * refcount exactly 1 (the COPIED flag).  Extended L2 bitmaps stay 0,
     * as qemu leaves them for preallocated clusters. */
    for (uint64_t i = 0; rc == INSTAR_OK && i < l->l1_size; i++) {
        rc = seqw_reserve(w, 8, &b);
        if (rc == INSTAR_OK)
            instar_put_be64(b, (l->l2_offset + i * cs) | QCOW2_OFLAG_COPIED);
    }
    if (rc == INSTAR_OK)
        rc = seqw_seek(w, l->l2_offset);
    size_t esize = p->extended_l2 ? 16 : 8;
    for (uint64_t t = 0; rc == INSTAR_OK && t < l->n_l2; t++) {
        rc = seqw_reserve(w, cs, &b);
        for (uint64_t k = 0; rc == INSTAR_OK && k < l->l2_entries; k++) {
            uint64_t g = t * l->l2_entries + k;
            if (g >= l->n_data)
                break;
            instar_put_be64(b + k * esize, (l->data_offset + g * cs) | QCOW2_OFLAG_COPIED);
        }
    }
    return rc == INSTAR_OK ? seqw_flush(w) : rc;
}

static int io_failure(struct instar_io *io, int rc, struct instar_diag *diag)
{
    if (rc == INSTAR_E_FILE_TOO_LARGE)
        return too_large(diag);
    if (diag)
        diag->sys_errno = io->sys_errno;
    return instar_diag_set(diag, rc, "Could not write the qcow2 image: %s",
                           instar_create_io_reason(io, rc));
}

int instar_qcow2_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag)
{
    struct instar_qcow2_create_params p;
    struct instar_qcow2_create_layout l;
    uint8_t hdr[512];
    struct seqw w;
    int rc = check(o, &p, &l, diag);
    if (rc != INSTAR_OK)
        return rc;

    memset(&w, 0, sizeof w);
    w.io = io;
    w.cap = l.cluster_size > (1u << 20) ? (size_t)l.cluster_size : (1u << 20);
    w.buf = malloc(w.cap);
    if (w.buf == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "%s", instar_strerror(INSTAR_E_NOMEM));

    encode_header(hdr, &p, &l);
    rc = instar_io_write(io, hdr, sizeof hdr, 0);
    if (rc == INSTAR_OK)
        rc = write_metadata(&w, &p, &l);
    free(w.buf);
    /* qemu reopens the new image right after its header and refcounts;
     * a target that keeps nothing (a device like /dev/null) fails there. */
    if (rc == INSTAR_OK) {
        uint8_t magic[4];
        rc = instar_io_read(io, magic, sizeof magic, 0);
        if (rc == INSTAR_OK && instar_be32(magic) != QCOW2_MAGIC)
            return instar_diag_set(diag, INSTAR_E_IO, "Image is not in qcow2 format");
    }
    if (rc == INSTAR_OK)
        rc = io->ops->set_size(io, l.file_size);
    if (rc == INSTAR_OK && l.n_data > 0) {
        uint64_t len = l.n_data * l.cluster_size;   /* bounded by the layout */
        if (p.prealloc == INSTAR_PREALLOC_FALLOC)
            rc = io->ops->allocate(io, l.data_offset, len);
        else if (p.prealloc == INSTAR_PREALLOC_FULL)
            rc = io->ops->zero(io, l.data_offset, len);
    }
    if (rc == INSTAR_OK)
        rc = io->ops->sync(io);
    return rc == INSTAR_OK ? INSTAR_OK : io_failure(io, rc, diag);
}
