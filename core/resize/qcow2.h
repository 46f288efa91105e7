/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2.h -- internals of the qcow2 resize planner (core/resize/qcow2*.c).
 *
 * The planner works on a context built from the options: validated header
 * facts, lookup arrays over the staged tables (carved from scratch), the
 * clusters it allocates (as runs, never as bitmaps: a 2 PiB grow allocates
 * one 32 MiB L1 run) and the refcount changes it makes.
 *
 * Refcount changes come in two phases, because a plan is crash-ordered:
 * phase A (prepare, before the header commit) only ever raises refcounts of
 * newly allocated clusters, phase B (cleanup, after the commit) lowers the
 * refcounts of clusters that stopped being referenced.  Phase A is derived
 * from the allocation runs when the plan is emitted; phase B is kept as a
 * modified copy of each touched refcount block.  The two never touch the
 * same byte (invariant 4): the allocator refuses clusters whose refcount
 * byte is shared with a phase-B change (only possible for widths < 8). */
#ifndef INSTAR_RESIZE_QCOW2_H
#define INSTAR_RESIZE_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/qcow2-format.h"
#include "resize/refuse.h"

/* What an allocation run holds (decides how it is emitted). */
enum q2_kind {
    Q2_RUN_L1 = 1,
    Q2_RUN_L2,
    Q2_RUN_REFBLOCK,
    Q2_RUN_REFTABLE,
    Q2_RUN_DATA,
    Q2_RUN_COMPACT,             /* new refcount table + every block (qcow2-compact.c) */
    Q2_RUN_BMTABLE,             /* a rewritten bitmap table (first_index: which) */
    Q2_RUN_BMDIR                /* the rewritten bitmap directory */
};

/* A bitmap whose table changes size. */
struct q2_bm {
    uint64_t dir_pos;           /* its entry's offset in the directory */
    uint64_t old_offset, old_entries, new_entries;
    const uint8_t *table;       /* staged old table */
    uint64_t new_cluster;
};
#define Q2_MAX_BM 16

struct q2_run {
    uint64_t start;             /* first cluster */
    uint64_t count;
    enum q2_kind kind;
    uint64_t first_index;       /* L2: first L1 index; REFBLOCK: first reftable index */
    uint64_t scan;              /* refcount-block index below which this run is known covered */
};

/* A staged refcount block and its phase-B copy. */
struct q2_rb {
    uint64_t index;             /* reftable index */
    const uint8_t *orig;        /* staged bytes (cluster size) */
    uint8_t *a;                 /* phase-A state (new clusters counted), or NULL */
    uint8_t *fin;               /* phase-B state, NULL until first lowered */
    /* The bytes of a / fin that may differ from orig, [lo, hi): emission
     * scans only these, not the whole cluster (up to 2 MiB). */
    size_t a_lo, a_hi, fin_lo, fin_hi;
    bool dropped;               /* became empty on shrink: unhooked, not written */
};

struct q2_l2 {
    uint64_t index;             /* L1 index */
    const uint8_t *bytes;
};

#define Q2_MAX_RUNS 96
#define Q2_MAX_PROTECT 4

struct q2 {
    const struct instar_qcow2_resize_opts *o;
    struct instar_builder b;
    /* Header facts (validated). */
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cs;                /* cluster size */
    uint64_t old_size, new_size;
    uint64_t file_size;
    uint64_t file_clusters;     /* ceil(file_size / cs) */
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t rt_offset;
    uint32_t rt_clusters;
    uint64_t rt_entries;        /* entries of the existing reftable */
    unsigned rbits;             /* refcount bits */
    uint64_t rb_entries;        /* refcounts per block */
    unsigned rb_shift;          /* log2(rb_entries) */
    bool extl2;
    unsigned l2_esize;          /* 8 or 16 */
    uint64_t l2_entries;
    unsigned l2_shift;          /* log2(l2_entries) */
    uint32_t header_length;
    /* Staged tables, sorted by index. */
    struct q2_rb *rbs;
    size_t nrbs;
    size_t rb_hint;
    struct q2_l2 *l2s;
    size_t nl2s;
    /* Allocations. */
    struct q2_run runs[Q2_MAX_RUNS];
    size_t nruns;
    uint64_t cursor;            /* next-fit cursor, as qemu's free_cluster_index */
    uint64_t runs_end;          /* max end cluster of all runs */
    uint64_t run_bytes;         /* scratch the runs' contents will take */
    /* Clusters whose refcount byte the allocator must not share (widths < 8). */
    struct { uint64_t start, count; } protect[Q2_MAX_PROTECT];
    size_t nprotect;
    /* A moved (larger) refcount table. */
    bool rt_moved;
    uint64_t new_rt_cluster;
    uint64_t new_rt_entries;
    bool has_bitmaps;
    bool has_backing;
    uint32_t nb_bitmaps;
    uint64_t bmdir_size, bmdir_offset;
    uint64_t bm_ext_off;        /* the bitmaps extension in the header */
    struct q2_bm bm[Q2_MAX_BM];
    size_t nbm;                 /* bitmaps rewritten by this plan */
    uint64_t bm_new_dir;
    bool bm_in_use;             /* a bitmap outgrows qemu's limits: mark all in use */
    uint64_t snap_offset;       /* snapshot table, 0 when none */
    /* Fills the contents of a new L2 run (prealloc, copy-on-write). */
    void (*fill_l2)(struct q2 *q, const struct q2_run *run, uint8_t *buf);
    void *op;                   /* state of the operation (grow/shrink) */
    uint64_t op_l1_bytes;       /* byte length of a new L1 table */
    bool compact;               /* rewrite all refcount blocks (qcow2-compact.c) */
    uint64_t compact_blocks;
};

/* Refuse with CODE, saying why (refuse.h): REASON names the field, and
 * with a TABLE, entry INDEX of it. */
static inline int q2_refuse(const struct q2 *q, int code, const char *reason)
{
    return instar_refuse(&q->o->req, code, reason);
}
static inline int q2_refuse_at(const struct q2 *q, int code, const char *table, uint64_t index,
                               const char *reason)
{
    return instar_refuse_at(&q->o->req, code, table, index, reason);
}

/* ---- header (qcow2-header.c) ---- */
int q2_parse(struct q2 *q, const struct instar_qcow2_resize_opts *o);
/* Checks that depend on the request, in qemu's order after the generic ones. */
int q2_check_request(struct q2 *q);
int q2_index_tables(struct q2 *q);
/* Persistent bitmaps (qcow2-bitmaps.c): find the tables that change size,
 * release the old ones (phase B), allocate and fill the new ones. */
int q2_check_bitmaps(struct q2 *q);
/* After the L1 limit: size the bitmaps for the new size (or mark them all
 * in use when one no longer fits, as qemu's failed store leaves them). */
int q2_plan_bitmaps(struct q2 *q);
int q2_emit_bitmaps_in_use(struct q2 *q);
int q2_bitmaps_release(struct q2 *q);
int q2_bitmaps_alloc(struct q2 *q);
void q2_fill_bitmaps(struct q2 *q, const struct q2_run *run, uint8_t *buf);
/* The host offset an L1/L2 standard entry points to; 0 when none.  An
 * unaligned or out-of-range offset is INSTAR_E_PARSE. */
int q2_entry_offset(const struct q2 *q, uint64_t entry, uint64_t *off);
uint64_t q2_l1_entry(const struct q2 *q, uint64_t index);
const uint8_t *q2_find_l2(struct q2 *q, uint64_t l1_index);
uint64_t q2_size_to_l1(const struct q2 *q, uint64_t size);

/* ---- refcounts (qcow2-refcount.c) ---- */
uint64_t q2_rc_get(const uint8_t *block, unsigned rbits, uint64_t k);
void q2_rc_set(uint8_t *block, unsigned rbits, uint64_t k, uint64_t v);
/* Set entries [K0, K1) to V (a run of new clusters: one pass, no tracing). */
void q2_rc_fill(uint8_t *block, unsigned rbits, uint64_t k0, uint64_t k1, uint64_t v);
/* Reftable entry I of the existing table as a refblock offset (0: none). */
int q2_reftable_entry(const struct q2 *q, uint64_t i, uint64_t *off);
struct q2_rb *q2_find_rb(struct q2 *q, uint64_t index);
/* The refcount of cluster C before this plan.  *OUT = UINT64_MAX and a need
 * recorded when its block is not staged (return INSTAR_E_NOT_STAGED). */
int q2_refcount_orig(struct q2 *q, uint64_t c, uint64_t *out);
/* Phase B: lower the refcount of clusters [C, C+N) by one. */
int q2_rc_decrement(struct q2 *q, uint64_t c, uint64_t n);
/* The refcount of C once the plan is complete (runs counted). */
int q2_refcount_final(struct q2 *q, uint64_t c, uint64_t *out);
/* The lowest X in [LO, HI) (clusters of one refcount block) such that
 * every cluster in [X, HI) has final refcount 0 as q2_refcount_final
 * reads it (none in a run): a run of them found a word at a time. */
int q2_final_zero_from(struct q2 *q, uint64_t lo, uint64_t hi, uint64_t *from);
/* Count the allocation runs into copies of the existing blocks. */
int q2_build_phase_a(struct q2 *q);
/* Emit the refcount writes for existing blocks of phase A or B. */
int q2_emit_refblock_phase(struct q2 *q, bool phase_b);

/* ---- allocation (qcow2-alloc.c) ---- */
bool q2_in_runs(const struct q2 *q, uint64_t c);
bool q2_metadata_in_range(const struct q2 *q, uint64_t lo, uint64_t hi);
uint64_t q2_refcount_reach(const struct q2 *q);
/* Lower *END to the refcount table's reach (past it every refcount is 0);
 * INSTAR_E_NEEDS_CHECK when metadata lies out there. */
int q2_clip_to_reach(struct q2 *q, uint64_t *end);
int q2_alloc(struct q2 *q, uint64_t n, enum q2_kind kind, uint64_t first_index,
             uint64_t *start);
/* Add refcount blocks (and a larger refcount table) until every allocated
 * cluster has a refcount block. */
int q2_cover_refcounts(struct q2 *q);
/* Cluster of the (new or existing) refcount block for reftable index I,
 * 0 when there is none. */
int q2_refblock_cluster(struct q2 *q, uint64_t i, uint64_t *cluster);
void q2_protect(struct q2 *q, uint64_t start, uint64_t count);

/* The last cluster in use below END_CLUSTERS once the plan is done
 * (qemu's qcow2_get_last_cluster); 0 when none. */
int q2_last_used(struct q2 *q, uint64_t end_clusters, uint64_t *last);

/* ---- emission (qcow2.c) ---- */
/* Write the contents of every newly allocated metadata run (L2, refcount
 * blocks, refcount table) and zero reused data clusters. */
int q2_emit_new_clusters(struct q2 *q, const uint8_t *l1_image, uint64_t l1_image_len);
int q2_emit_reftable_hooks(struct q2 *q);
/* The commit: one header write covering size, L1 and reftable fields. */
int q2_emit_header(struct q2 *q, bool l1_changed, uint32_t new_l1_size,
                   uint64_t new_l1_offset);
/* Content of the new L2 table for L1 index I (prealloc), filled by grow. */
void q2_fill_new_l2(struct q2 *q, uint64_t l1_index, uint8_t *out);

/* ---- the refcount rewrite (qcow2-compact.c) ---- */
int q2_compact_plan(struct q2 *q);
void q2_fill_compact(struct q2 *q, const struct q2_run *run, uint8_t *buf);

/* ---- a grow over a longer backing file (qcow2-zero.c) ---- */
struct q2_zero {
    bool zero;                  /* clusters [zc, end) become zero clusters */
    bool alloc_all;             /* extended L2: new links allocate every subcluster */
    uint64_t zc;                /* first cluster zeroed whole */
    bool zpart;                 /* extended L2: cluster zc - 1 zeroed from subcluster zsc */
    unsigned zsc;
    uint64_t first;             /* first cluster whose entry may change */
    uint64_t head_off, head_len;  /* host bytes to zero: the old end's cluster */
    bool hfix;                  /* falloc/full, extended L2: cluster hx allocated */
    uint64_t hx;                /* from subcluster hsc on */
    unsigned hsc;
    /* Copy-on-write of the old end's cluster CX, which shows the backing
     * file: its guest bytes [cow_lo, cow_keep) (in-cluster offsets) are
     * copied from the backing file, [cow_keep, cow_end) written as zeros,
     * before any entry links it (qemu's perform_cow). */
    bool cow;
    bool cow_new;               /* into the data cluster newly linked for CX */
    uint64_t cow_host;          /* else: into CX's host cluster (offset) */
    uint64_t cx, cow_lo, cow_keep, cow_end;
    uint64_t cow_bm;            /* CX's old bitmap: its zero subclusters copy as zeros */
    bool cow_bit;               /* extended L2: subcluster csc becomes allocated */
    unsigned csc;
};
/* What the grow must do so the new range reads as zeros, and the
 * copy-on-write of an old end's cluster the backing file shows (for any
 * preallocation); refusals included. */
int q2_zero_setup(struct q2 *q, struct q2_zero *z);
/* The entry guest cluster X gets, from its old entry OLD (l2_esize bytes)
 * and HOST (a new data cluster linked now, 0 if none), into OUT; false
 * when nothing changes. */
void q2_zero_fill_fresh(const struct q2 *q, uint8_t *t, uint64_t x0, uint64_t x1);
bool q2_zero_entry(const struct q2 *q, const struct q2_zero *z, uint64_t x, uint64_t host,
                   const uint8_t *old, uint8_t *out);
/* Refuse zeroing an entry that cannot be (a compressed cluster). */
int q2_zero_check(const struct q2 *q, const struct q2_zero *z, uint64_t x, const uint8_t *old);
/* Prepare: zero the host bytes of the old end's cluster past the old size. */
void q2_zero_emit_head(struct q2 *q, const struct q2_zero *z);
/* Prepare: the copy-on-write of Z (when any) into host cluster HOST
 * (offset); before the entry that links it. */
int q2_zero_emit_cow(struct q2 *q, const struct q2_zero *z, uint64_t host);

/* ---- released space (qcow2-discard.c) ---- */
/* Name the clusters phase B released, inside the final file, as the
 * plan's discard ranges. */
void q2_collect_discards(struct q2 *q);

/* ---- operations ---- */
int q2_grow(struct q2 *q);
int q2_shrink(struct q2 *q);

#endif
