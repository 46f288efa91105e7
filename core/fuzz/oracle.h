/* SPDX-License-Identifier: GPL-3.0-or-later */
/* oracle.h -- the engine fuzz target's semantic oracle: did a resize keep
 * the guest's data and the image's bookkeeping?
 *
 * Written from the format specifications alone; it shares no code with
 * core/resize/ or core/image/ (only the byte-order and overflow helpers of
 * core/util/).  Before the apply, instar_oracle_before walks the start
 * image: its virtual size, a digest of every mapped guest block's content,
 * and whether its allocation bookkeeping is exact (qcow2: every cluster's
 * refcount equals the references counted from the header, L1/L2 tables,
 * refcount table and blocks, snapshot table and snapshots' L1/L2 tables,
 * bitmap directory and tables, with consistent COPIED flags, and no
 * refcount past the end of the file but those the start had; vhd, vhdx,
 * vmdk: allocated blocks, grains and tables inside the file and
 * overlapping nothing).  instar_oracle_after walks the result and demands:
 *
 *   - the virtual size is the one requested, as resolved against the old
 *     size read here (vmdk: rounded up to a sector; vhd's geometry
 *     rounding is not modelled: there only the direction is checked);
 *   - no shrink unless shrinking was allowed, no resize of an image
 *     that must be refused (a VMDK flagged unclean);
 *   - every guest block's bytes below min(old, new) read as before (the
 *     block may move, its content may not change);
 *   - every whole guest block past the old end reads as zeros (unmapped
 *     or zero-filled; backing files are not consulted);
 *   - bookkeeping that was exact before is exact after;
 *   - a geometry that matched the size before matches it after (vhd:
 *     the specification's CHS of the size in the footer; vmdk: the
 *     descriptor's cylinders for its heads and sectors).
 *
 * Data and zeros are judged only when the start's bookkeeping is exact
 * (otherwise guest blocks may share bytes with metadata); an image the
 * oracle cannot read at the start is not judged at all. */
#ifndef INSTAR_FUZZ_ORACLE_H
#define INSTAR_FUZZ_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/image.h"
#include "instar/io.h"
#include "instar/size.h"

/* The first offset at or after OFF that may hold a non-zero byte
 * (UINT64_MAX: none): lets walks and digests jump over the sparse
 * store's holes without reading them. */
typedef uint64_t (*instar_oracle_data_fn)(const struct instar_io *io, uint64_t off);

struct instar_oracle_block {
    uint64_t guest;             /* guest block index */
    uint64_t digest;            /* 0: reads as zeros */
};

struct instar_oracle_span {
    uint64_t off, len;
    uint32_t what;              /* index into the span names (oracle.c) */
    uint64_t idx;
};

/* One walk's view of an image. */
struct instar_oracle_view {
    uint64_t vsize;             /* virtual size */
    uint64_t bs;                /* guest block size */
    bool exact;                 /* bookkeeping exact (see above) */
    char inexact[160];          /* why not */
    bool geometry;              /* vhd footer / vmdk descriptor geometry
                                   matches the size (others: true) */
    char geometry_why[200];
    bool stale;                 /* before: data mapped past the end */
    char refuse[80];            /* before: what the engine must refuse */
    uint64_t hdr_seq_min, hdr_seq_max;  /* vhdx: SequenceNumber of the valid headers */
    int hdr_valid;              /* vhdx: how many headers are valid */
    struct instar_oracle_block *blocks;
    size_t nblocks, cap;
};

struct instar_oracle {
    enum instar_format fmt;
    instar_oracle_data_fn next_data;
    const struct instar_size_spec *spec;    /* set while walking the start */
    bool judged;                /* before succeeded: after will judge */
    bool want_ok;               /* the request resolves to a size */
    uint64_t want;              /* the requested size, resolved here */
    uint64_t old_view;          /* the old size as qemu-img reports it */
    uint64_t limit;             /* bytes compared: min(old, want) */
    uint64_t tail_from;         /* qcow2: first cluster past the start's end
                                   when refcounts there are non-zero (leaks a
                                   grow may bring inside the file); else
                                   UINT64_MAX */
    struct instar_oracle_view before, after;
    /* Scratch kept from one input to the next. */
    uint8_t *buf;               /* one table or one digest piece */
    size_t buflen;
    uint16_t *refs;
    size_t nrefs;
    struct instar_oracle_span *spans;
    size_t nspans, spancap;
    uint8_t *tables[2];         /* qcow2: the L1 and refcount tables */
    size_t tablecap[2];
};

/* Walk the start image.  FMT is the image's format (known: probed),
 * NEXT_DATA may be NULL.  False (with WHY) when the image is beyond what the
 * oracle reads; then instar_oracle_after judges nothing. */
bool instar_oracle_before(struct instar_oracle *o, enum instar_format fmt,
                          struct instar_io *io, const struct instar_size_spec *spec,
                          instar_oracle_data_fn next_data, char *why, size_t whylen);
/* Judge the applied result: true when it keeps every promise above,
 * otherwise false with a one-line reason in WHY. */
bool instar_oracle_after(struct instar_oracle *o, struct instar_io *io, bool allow_shrink,
                         char *why, size_t whylen);
void instar_oracle_free(struct instar_oracle *o);

#endif
