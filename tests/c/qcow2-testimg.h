/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-testimg.h -- a test-only qcow2 image builder and consistency
 * walker over in-memory images (struct instar_mem_io).
 *
 * The builder lays images out as qemu-img create does (header, refcount
 * table, refcount block, L1) and can add data clusters, compressed and
 * zero-flag entries and an internal snapshot.  The walker recomputes every
 * refcount from the references (header, refcount structures, active and
 * snapshot L1/L2 tables, data, snapshot table) and compares them with the
 * stored ones, as `qemu-img check' does: independent of the planner. */
#ifndef INSTAR_QCOW2_TESTIMG_H
#define INSTAR_QCOW2_TESTIMG_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/io.h"

struct timg {
    struct instar_mem_io m;
    unsigned cb;                /* cluster bits */
    uint64_t cs;
    unsigned order;             /* refcount order */
    unsigned version;
    bool extl2;
};

struct timg_opts {
    uint64_t size;
    unsigned cluster_bits;      /* 0: 16 */
    unsigned refcount_order;    /* 0 means 4 unless order_set */
    bool order_set;
    unsigned version;           /* 0: 3 */
    bool extl2, lazy;
    bool feature_table;         /* add a feature-name-table extension */
    unsigned rt_clusters;       /* refcount table length (0: 1) */
};

/* Options for a SIZE-byte image of 2^CLUSTER_BITS-byte clusters (0: 64K),
 * everything else at its default. */
struct timg_opts timg_defaults(uint64_t size, unsigned cluster_bits);
int timg_create(struct timg *t, const struct timg_opts *o);
void timg_free(struct timg *t);
/* A 512-byte-cluster v3 image whose L1 names N distinct L2 tables, each
 * with one data cluster (0x5a): header, refcount table, refcount blocks,
 * L1, then N (L2, data) pairs.  Laid out in one buffer, so N may be in the
 * hundreds of thousands (the planner's per-round cost benchmark). */
int timg_create_many_l2(struct timg *t, uint64_t n);

uint64_t timg_u64(struct timg *t, uint64_t off);
uint32_t timg_u32(struct timg *t, uint64_t off);
void timg_put_u64(struct timg *t, uint64_t off, uint64_t v);
void timg_put_u32(struct timg *t, uint64_t off, uint32_t v);
uint64_t timg_file_size(struct timg *t);

uint64_t timg_get_rc(struct timg *t, uint64_t cluster);
void timg_set_rc(struct timg *t, uint64_t cluster, uint64_t v);
/* A new cluster at the (cluster-aligned) end of the file, refcount 1. */
uint64_t timg_alloc(struct timg *t);

/* Write guest cluster GC full of BYTE (allocating L2 and data). */
void timg_write_cluster(struct timg *t, uint64_t gc, uint8_t byte);
/* A compressed entry for GC whose data straddles two host clusters. */
void timg_compressed(struct timg *t, uint64_t gc);
/* A zero-flag entry without host cluster for GC (v3). */
void timg_zero_entry(struct timg *t, uint64_t gc);
/* Guest cluster GC's raw L2 entry (0 when no L2). */
uint64_t timg_l2_entry(struct timg *t, uint64_t gc);
/* Read guest bytes [OFF, OFF+LEN) (standard clusters only). */
void timg_read(struct timg *t, uint64_t off, uint8_t *buf, uint64_t len);
/* Add a persistent bitmap (granularity 2^GBITS, directory FLAGS) with one
 * data cluster; returns the directory's offset. */
uint64_t timg_bitmap(struct timg *t, unsigned gbits, uint32_t flags);
/* Take an internal snapshot of the active L1, as qemu-img snapshot -c. */
void timg_snapshot(struct timg *t);

/* Recompute refcounts and compare.  Returns the number of problems and
 * prints each as a TAP comment.  LEAKS counts clusters with a refcount but
 * no reference (reported separately: crash prefixes may leak). */
unsigned timg_check(struct timg *t, unsigned *leaks);
/* Do not print each leaked cluster (crash prefixes leak by design). */
extern bool timg_quiet_leaks;

#endif
