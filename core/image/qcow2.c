/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2.c -- the qcow2 engine: read the header, the L1 table and the
 * refcount table, then call the planner, staging exactly the refcount
 * blocks and L2 tables it asks for (INSTAR_E_NOT_STAGED rounds) and growing
 * the scratch buffer when it is too small.  Every read is bounded by the
 * file size and a sane maximum, so a hostile header cannot make it read or
 * allocate gigabytes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/qcow2-create.h"
#include "instar/error.h"
#include "instar/resize.h"
#include "resize/qcow2-format.h"
#include "util/checked.h"
#include "util/endian.h"

#define Q2E_MAX_SCRATCH (1ull << 30)    /* payload bytes one plan may carry */
#define Q2E_MAX_STAGED (2ull << 30)     /* tables staged for one plan */
#define Q2E_MAX_ROUNDS 100000

struct q2_staging {
    uint8_t *header, *l1, *reftable;
    struct instar_staged_table *rbs, *l2s, *bytes;
    size_t nrbs, caprbs, nl2s, capl2s, nbytes, capbytes;
    uint64_t staged_bytes;
    uint8_t *rb_map, *l2_map;   /* which indices are staged (one bit each) */
    uint8_t *backing_head;      /* the backing file's bytes in the old end's cluster */
    char backing_err[sizeof ((struct instar_diag *)0)->message];  /* why not read */
};

static void release(void *p)
{
    struct q2_staging *s = p;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nrbs; i++)
        free((void *)s->rbs[i].bytes.data);
    for (size_t i = 0; i < s->nl2s; i++)
        free((void *)s->l2s[i].bytes.data);
    for (size_t i = 0; i < s->nbytes; i++)
        free((void *)s->bytes[i].bytes.data);
    free(s->bytes);
    free(s->rb_map);
    free(s->l2_map);
    free(s->rbs);
    free(s->l2s);
    free(s->backing_head);
    free(s->header);
    free(s->l1);
    free(s->reftable);
    free(s);
}

/* Read LEN bytes at OFF into a new buffer, when the range is sane. */
static int read_table(struct instar_io *io, uint64_t file_size, uint64_t off, uint64_t len,
                      uint8_t **out)
{
    uint64_t end;
    *out = NULL;
    if (len == 0)
        return INSTAR_OK;
    if (!instar_add_u64(off, len, &end) || end > file_size || len > Q2E_MAX_STAGED)
        return INSTAR_OK;       /* left unstaged: the planner refuses the header */
    *out = malloc((size_t)len);
    if (*out == NULL)
        return INSTAR_E_NOMEM;
    return instar_io_read(io, *out, (size_t)len, off);
}

/* Stage one table: ENTRY is its L1 / refcount table entry. */
static int stage_table(struct instar_io *io, struct q2_staging *s, uint64_t file_size,
                       uint64_t cs, uint64_t entry, uint64_t index,
                       struct instar_staged_table **arr, size_t *cnt, size_t *cap)
{
    uint8_t *buf;
    int rc;
    if (s->staged_bytes + cs > Q2E_MAX_STAGED)
        return INSTAR_E_NOMEM;
    if (*cnt == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct instar_staged_table *t = realloc(*arr, ncap * sizeof *t);
        if (t == NULL)
            return INSTAR_E_NOMEM;
        *arr = t;
        *cap = ncap;
    }
    buf = malloc((size_t)cs);
    if (buf == NULL)
        return INSTAR_E_NOMEM;
    /* A table past the end of the file reads as zeros (io contract). */
    rc = entry < file_size ? instar_io_read(io, buf, (size_t)cs, entry)
                           : (memset(buf, 0, cs), INSTAR_OK);
    if (rc != INSTAR_OK) {
        free(buf);
        return rc;
    }
    (*arr)[*cnt].index = index;
    (*arr)[*cnt].bytes.data = buf;
    (*arr)[*cnt].bytes.len = (size_t)cs;
    (*cnt)++;
    s->staged_bytes += cs;
    return INSTAR_OK;
}

/* Stage the L2 tables or refcount blocks a need names.  A range skips
 * entries that are zero, unusable or staged already (the planner asks again
 * for one it really needs; ranges may overlap).  A round that stages
 * nothing at all is a confused planner or a broken image (see qcow2_plan). */
static int stage_tables(struct instar_io *io, struct q2_staging *s, uint64_t file_size,
                        const struct instar_qcow2_resize_opts *o, const struct instar_need *n,
                        size_t *staged)
{
    uint64_t cs = 1ull << o->cluster_bits, limit, mask, count = n->count ? n->count : 1;
    const uint8_t *table;
    struct instar_staged_table **arr;
    size_t *cnt, *cap;
    uint8_t **map;

    if (n->kind == INSTAR_NEED_REFBLOCK) {
        limit = (uint64_t)o->refcount_table_clusters * cs / 8;
        table = s->reftable, mask = QCOW2_REFT_OFFSET_MASK, map = &s->rb_map;
        arr = &s->rbs, cnt = &s->nrbs, cap = &s->caprbs;
    } else if (n->kind == INSTAR_NEED_L2) {
        limit = o->l1_size;
        table = s->l1, mask = QCOW2_OFFSET_MASK, map = &s->l2_map;
        arr = &s->l2s, cnt = &s->nl2s, cap = &s->capl2s;
    } else {
        return INSTAR_E_PARSE;
    }
    if (table == NULL || n->index >= limit || count > limit - n->index)
        return INSTAR_E_PARSE;
    if (*map == NULL && (*map = calloc((size_t)(limit + 7) / 8, 1)) == NULL)
        return INSTAR_E_NOMEM;
    for (uint64_t i = n->index; i < n->index + count; i++) {
        uint64_t off = instar_be64(table + i * 8) & mask;
        int rc;
        if (off == 0 || (off & (cs - 1)) || off >= (1ull << 56)
            || ((*map)[i / 8] >> (i % 8) & 1))
            continue;
        rc = stage_table(io, s, file_size, cs, off, i, arr, cnt, cap);
        if (rc != INSTAR_OK)
            return rc;
        (*map)[i / 8] |= (uint8_t)(1u << (i % 8));
        (*staged)++;
    }
    return INSTAR_OK;
}

static int stage_one(struct instar_io *io, struct q2_staging *s, uint64_t file_size,
                     const struct instar_qcow2_resize_opts *o, const struct instar_need *n,
                     size_t *staged)
{
    int rc;

    if (n->kind == INSTAR_NEED_BYTES) {
        /* Bitmap directory and tables: bounded ranges inside the file. */
        uint8_t *b;
        if (n->length == 0 || n->length > (64u << 20) || n->index > file_size
            || n->length > file_size - n->index || s->nbytes >= 4096
            || s->staged_bytes + n->length > Q2E_MAX_STAGED)
            return INSTAR_E_PARSE;
        for (size_t i = 0; i < s->nbytes; i++)
            if (s->bytes[i].index == n->index && s->bytes[i].bytes.len >= n->length)
                return INSTAR_E_PARSE;
        if (s->nbytes == s->capbytes) {
            size_t ncap = s->capbytes ? s->capbytes * 2 : 16;
            struct instar_staged_table *t = realloc(s->bytes, ncap * sizeof *t);
            if (t == NULL)
                return INSTAR_E_NOMEM;
            s->bytes = t;
            s->capbytes = ncap;
        }
        rc = read_table(io, file_size, n->index, n->length, &b);
        if (rc == INSTAR_OK && b == NULL)
            rc = INSTAR_E_PARSE;
        if (rc != INSTAR_OK)
            return rc;
        s->bytes[s->nbytes].index = n->index;
        s->bytes[s->nbytes].bytes.data = b;
        s->bytes[s->nbytes].bytes.len = (size_t)n->length;
        s->nbytes++;
        s->staged_bytes += n->length;
        (*staged)++;
        return INSTAR_OK;
    }
    return stage_tables(io, s, file_size, o, n, staged);
}

/* Does the new size need more L1 entries than qemu allows (the one
 * TOO_LARGE qemu words itself)? */
static bool past_l1_limit(const struct instar_qcow2_resize_opts *o)
{
    unsigned l2_bits = o->cluster_bits - ((o->incompatible_features & QCOW2_INCOMPAT_EXTL2) ? 4 : 3);
    unsigned shift = o->cluster_bits + l2_bits;
    if (o->cluster_bits < QCOW2_MIN_CLUSTER_BITS || o->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return false;
    uint64_t need = (o->req.new_size >> shift) + ((o->req.new_size & ((1ull << shift) - 1)) != 0);
    return need > QCOW2_MAX_L1_ENTRIES;
}

/* The planner's refusals in qcow2's own words, where qemu-img's generic
 * ones (instar_engine_refusal) would say less; an empty DIAG for the rest.
 * True when the words are qemu's own for the same case: they stand alone,
 * as qemu prints them. */
static bool refusal_words(int rc, const struct instar_qcow2_resize_opts *o,
                          const struct q2_staging *s, struct instar_diag *diag)
{
    char name[1024];
    int kind;
    switch (rc) {
    case INSTAR_E_NOT_SECTOR_MULTIPLE:
        instar_diag_set(diag, rc, "The new size must be a multiple of 512");
        return true;
    case INSTAR_E_SNAPSHOTS:
        if (o->version == 2 && o->nb_snapshots > 0) {
            instar_diag_set(diag, rc, "Can't resize a v2 image which has snapshots");
            return true;
        }
        instar_diag_set(diag, rc, "The refcount changes need every refcount block "
                        "rewritten, which cannot be combined with copying an L2 "
                        "table an internal snapshot shares (not supported)");
        return false;
    case INSTAR_E_TOO_LARGE:
        if (past_l1_limit(o)) {
            instar_diag_set(diag, rc, "Failed to grow the L1 table: File too large");
            return true;
        }
        instar_diag_set(diag, rc, "The resize needs more metadata than qcow2 allows");
        return false;
    case INSTAR_E_NEEDS_CHECK:
        if (o->incompatible_features & QCOW2_INCOMPAT_CORRUPT) {
            instar_diag_set(diag, rc, "qcow2: Image is corrupt; cannot be opened read/write");
            return true;
        }
        if (o->incompatible_features & QCOW2_INCOMPAT_DIRTY)
            instar_diag_set(diag, rc, "Image is dirty; run 'qemu-img check -r all' "
                            "before resizing it");
        else
            instar_diag_set(diag, rc, "Image metadata is inconsistent (refcounts); "
                            "run 'qemu-img check -r all' first");
        return false;
    case INSTAR_E_BITMAPS:
        kind = instar_qcow2_bitmap_report(o, name, sizeof name);
        if (kind == 3) {
            instar_diag_set(diag, rc, "Bitmap '%s' would need more than 2^41 bits at "
                            "the new size, more than qemu can load (qemu-img 7.2 "
                            "aborts); remove it or use a larger granularity", name);
            return true;
        }
        if (kind == 1) {
            instar_diag_set(diag, rc, "Bitmap '%s' is inconsistent and cannot be used\n"
                            "Try block-dirty-bitmap-remove to delete this bitmap "
                            "from disk", name);
            return true;
        }
        instar_diag_set(diag, rc, "Cannot resize qcow2 images with persistent "
                        "bitmaps that are in use or carry extra data (not supported)");
        return false;
    case INSTAR_E_UNSUPPORTED_SUBFORMAT:
        if (o->version != 2 && o->version != 3) {
            instar_diag_set(diag, rc, "Unsupported qcow2 version %u", o->version);
            return true;
        }
        if (o->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
            instar_diag_set(diag, rc, "Cannot resize a qcow2 image with an external "
                            "data file: resizing the data file along with the image "
                            "(and, with data_file_raw, mapping the new range into it) "
                            "is not supported");
            return true;
        }
        if (o->header.len >= 36 && instar_be32(o->header.data + QCOW2_HDR_CRYPT_METHOD) != 0) {
            instar_diag_set(diag, rc, "Cannot resize an encrypted qcow2 image: "
                            "encryption is not supported");
            return true;
        }
        if (o->incompatible_features & ~31ull) {
            instar_diag_set(diag, rc, "Unsupported qcow2 image: unknown incompatible "
                            "features 0x%llx are not supported",
                            (unsigned long long)(o->incompatible_features & ~31ull));
            return true;
        }
        instar_diag_set(diag, rc, "Unsupported qcow2 image: encryption, external "
                        "data files and unknown incompatible features are not supported");
        return false;
    case INSTAR_E_PARSE:
    case INSTAR_E_HEADER_MISMATCH:
        instar_diag_set(diag, rc, "Could not open the image: invalid qcow2 metadata");
        return false;
    case INSTAR_E_UNSUPPORTED_PREALLOC:
        if (o->backing_head.data == NULL) {
            /* The copy-on-write of the old end's cluster needs its data. */
            instar_diag_set(diag, rc, "Cannot copy the cluster at the old end from the "
                            "backing file: %s", s && s->backing_err[0] ? s->backing_err
                            : "the backing chain is not open (resize or plan the image "
                              "by its path)");
            return true;
        }
        instar_diag_set(diag, rc, "Cannot make the new area read as zeros: the cluster "
                        "at the old end is compressed or shared with a snapshot, and "
                        "copying it first is not supported");
        return true;
    case INSTAR_E_PREALLOC_NOT_GROW:
        if (o->req.new_size > (o->virtual_size & ~511ull)) {
            instar_diag_set(diag, rc, "Failed to resize underlying file: "
                            "Cannot use preallocation for shrinking files");
            return true;
        }
        return false;
    case INSTAR_E_SCRATCH_TOO_SMALL:
        instar_diag_set(diag, rc, "The resize needs more metadata than one plan "
                        "may carry (not supported)");
        return false;
    default:
        return false;
    }
}

/* compat 0.10 has no zero flag: qemu cannot zero the new clusters of a
 * grow over a longer backing file (preallocation off or metadata) and
 * fails after its other checks.  Refused here, file untouched. */
static bool zero_refused(const struct instar_qcow2_resize_opts *o)
{
    uint64_t cs = 1ull << o->cluster_bits;
    uint64_t old = o->virtual_size & ~511ull;
    return o->zero_grow && o->version < 3
        && (o->req.prealloc == INSTAR_PREALLOC_OFF || o->req.prealloc == INSTAR_PREALLOC_METADATA)
        && o->req.new_size > (old + cs - 1) / cs * cs;
}

static int refuse(int rc, const struct instar_qcow2_resize_opts *o, const struct q2_staging *s,
                  const struct instar_refusal *why, struct instar_diag *diag)
{
    bool qemus_words = refusal_words(rc, o, s, diag);
    return instar_engine_refusal(rc, qemus_words ? NULL : why, diag);
}

static int qcow2_plan(struct instar_io *io, const struct instar_resize_args *args,
                      struct instar_image_plan *out, struct instar_diag *diag)
{
    struct instar_qcow2_resize_opts o;
    struct instar_refusal why = {NULL, NULL, 0};
    struct q2_staging *s;
    uint8_t head[QCOW2_V3_MIN_HEADER_LENGTH];
    uint64_t file_size, cs, hlen;
    int rc;

    rc = instar_io_size(io, &file_size);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not get file size");
    memset(head, 0, sizeof head);
    rc = instar_io_read(io, head, sizeof head, 0);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read the qcow2 header");
    if (file_size < QCOW2_V2_HEADER_LENGTH || instar_be32(head) != QCOW2_MAGIC)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Image is not in qcow2 format");
    memset(&o, 0, sizeof o);
    o.version = instar_be32(head + QCOW2_HDR_VERSION);
    o.cluster_bits = instar_be32(head + QCOW2_HDR_CLUSTER_BITS);
    if (o.cluster_bits < QCOW2_MIN_CLUSTER_BITS || o.cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return instar_diag_set(diag, INSTAR_E_PARSE,
                               "Unsupported cluster size: 2^%u", o.cluster_bits);
    cs = 1ull << o.cluster_bits;
    o.virtual_size = instar_be64(head + QCOW2_HDR_SIZE);
    o.l1_size = instar_be32(head + QCOW2_HDR_L1_SIZE);
    o.l1_table_offset = instar_be64(head + QCOW2_HDR_L1_OFFSET);
    o.refcount_table_offset = instar_be64(head + QCOW2_HDR_REFTABLE_OFFSET);
    o.refcount_table_clusters = instar_be32(head + QCOW2_HDR_REFTABLE_CLUSTERS);
    o.nb_snapshots = instar_be32(head + QCOW2_HDR_NB_SNAPSHOTS);
    o.snapshots_offset = instar_be64(head + QCOW2_HDR_SNAPSHOTS_OFFSET);
    o.refcount_order = 4;
    o.header_length = QCOW2_V2_HEADER_LENGTH;
    if (o.version >= 3) {
        o.incompatible_features = instar_be64(head + QCOW2_HDR_INCOMPAT);
        o.compatible_features = instar_be64(head + QCOW2_HDR_COMPAT);
        o.autoclear_features = instar_be64(head + QCOW2_HDR_AUTOCLEAR);
        o.refcount_order = instar_be32(head + QCOW2_HDR_REFCOUNT_ORDER);
        o.header_length = instar_be32(head + QCOW2_HDR_HEADER_LENGTH);
    }
    o.current_file_size = file_size;
    o.req.allow_shrink = args->allow_shrink;
    o.req.prealloc = args->prealloc;
    o.req.why = &why;
    out->current_size = o.virtual_size & ~511ull;   /* whole sectors, as qemu */
    if (o.virtual_size > (uint64_t)INT64_MAX)
        return instar_diag_set(diag, INSTAR_E_PARSE, "Invalid qcow2 image size");
    rc = instar_engine_resolve_size(args, out->current_size, &o.req.new_size, diag);
    if (rc != INSTAR_OK)
        return rc;
    /* qemu's block layer: a grow over a longer backing file must not
     * show the backing file's data (bdrv_co_truncate). */
    o.zero_grow = args->backing_known && args->backing_length > out->current_size
                  && o.req.new_size > out->current_size;

    s = calloc(1, sizeof *s);
    if (s == NULL)
        return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    out->staging = s;
    out->release_staging = release;
    hlen = file_size < cs ? file_size : cs;
    rc = read_table(io, file_size, 0, hlen, &s->header);
    if (rc == INSTAR_OK && o.l1_size <= (4u << 20))
        rc = read_table(io, file_size, o.l1_table_offset, (uint64_t)o.l1_size * 8, &s->l1);
    if (rc == INSTAR_OK && (uint64_t)o.refcount_table_clusters * cs <= (8u << 20))
        rc = read_table(io, file_size, o.refcount_table_offset,
                        (uint64_t)o.refcount_table_clusters * cs, &s->reftable);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not read the qcow2 metadata");
    /* A grow that starts inside a cluster: what the backing file shows
     * there, for its copy-on-write (read only when the planner may need
     * it; a failure refuses only a plan that does). */
    if (rc == INSTAR_OK && args->backing_read != NULL && o.req.new_size > out->current_size
        && (out->current_size & (cs - 1)) != 0) {
        uint64_t keep = out->current_size & (cs - 1);
        struct instar_diag bd;
        instar_diag_clear(&bd);
        s->backing_head = malloc((size_t)keep);
        if (s->backing_head == NULL)
            return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
        if (args->backing_read(args->backing_ctx, s->backing_head, keep,
                               out->current_size - keep, &bd) != INSTAR_OK) {
            snprintf(s->backing_err, sizeof s->backing_err, "%s",
                     bd.message[0] ? bd.message : "Could not read the backing file");
            free(s->backing_head);
            s->backing_head = NULL;
        }
        o.backing_head.data = s->backing_head;
        o.backing_head.len = s->backing_head ? (size_t)keep : 0;
    }
    o.header.data = s->header;
    o.header.len = s->header ? (size_t)hlen : 0;
    o.l1.data = s->l1;
    o.l1.len = s->l1 ? (size_t)o.l1_size * 8 : 0;
    o.reftable.data = s->reftable;
    o.reftable.len = s->reftable ? (size_t)((uint64_t)o.refcount_table_clusters * cs) : 0;

    /* Start small: the loop below grows it when a plan needs more, and
     * every byte allocated costs (sanitizer builds poison it all).  A
     * caller's buffer is used whole: it costs nothing more. */
    size_t max_scratch = args->scratch_limit != 0 && args->scratch_limit < Q2E_MAX_SCRATCH
                         ? args->scratch_limit : (size_t)Q2E_MAX_SCRATCH;
    uint8_t *scratch;
    size_t scratch_len;
    if (args->scratch != NULL && args->scratch_limit != 0) {
        scratch = args->scratch;
        scratch_len = max_scratch;
    } else {
        scratch_len = (size_t)(64u << 10) + 2 * (size_t)cs;
        if (scratch_len > max_scratch)
            scratch_len = max_scratch;
        out->scratch = scratch = malloc(scratch_len);
        out->scratch_len = scratch_len;
        if (scratch == NULL)
            return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
    }
    for (unsigned round = 0; round < Q2E_MAX_ROUNDS; round++) {
        o.refblocks = s->rbs;
        o.n_refblocks = s->nrbs;
        o.l2_tables = s->l2s;
        o.n_l2_tables = s->nl2s;
        o.byte_ranges = s->bytes;
        o.n_byte_ranges = s->nbytes;
        rc = instar_plan_resize_qcow2(&o, scratch, scratch_len, &out->plan);
        if (rc == INSTAR_OK && zero_refused(&o)) {
            instar_plan_init(&out->plan);
            return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT, "Failed to zero out "
                                   "new clusters: Operation not supported");
        }
        if (rc == INSTAR_OK) {
            char name[1024];
            /* qemu resizes but cannot store the bitmaps; it says so. */
            if (instar_qcow2_bitmap_report(&o, name, sizeof name) == 2)
                instar_diag_set(diag, INSTAR_OK, "Lost persistent bitmaps: Bitmap '%s' "
                                "doesn't satisfy the constraints: Too much space will be "
                                "occupied by the bitmap. Use larger granularity", name);
            return INSTAR_OK;
        }
        if (rc == INSTAR_E_NOT_STAGED && out->plan.nneeds > 0) {
            size_t staged = 0;
            for (size_t i = 0; i < out->plan.nneeds && rc != INSTAR_OK; i++) {
                int src = stage_one(io, s, file_size, &o, &out->plan.needs[i], &staged);
                if (src != INSTAR_OK)
                    return refuse(src == INSTAR_E_NOMEM ? src : INSTAR_E_PARSE, &o, s, NULL, diag);
            }
            /* Asked again only for what is staged or unusable. */
            if (staged == 0)
                return refuse(INSTAR_E_PARSE, &o, s, NULL, diag);
            continue;
        }
        if (rc == INSTAR_E_SCRATCH_TOO_SMALL && out->plan.npatches == 0
            && scratch_len < max_scratch) {
            size_t n = scratch_len < max_scratch / 4 ? scratch_len * 4 : max_scratch;
            /* A failed round leaves nothing in scratch worth keeping:
             * no realloc (it would copy up to 256 MiB on the way to 1 GiB). */
            free(out->scratch);
            out->scratch = scratch = malloc(n);
            out->scratch_len = scratch_len = scratch ? n : 0;
            if (scratch == NULL)
                return instar_diag_set(diag, INSTAR_E_NOMEM, "out of memory");
            continue;
        }
        return refuse(rc, &o, s, &why, diag);
    }
    return instar_diag_set(diag, INSTAR_E_TIMEOUT, "too many staging rounds");
}

const struct instar_format_engine instar_engine_qcow2 = {
    .format = INSTAR_FORMAT_QCOW2,
    .plan = qcow2_plan,
    .create = instar_qcow2_create,
};
