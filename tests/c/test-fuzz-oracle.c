/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-oracle.c -- the engine target's oracle (core/fuzz/oracle.c) on
 * qcow2 refcounts past the end of the file: a start whose refcount block
 * counts clusters beyond its end is exact as far as qemu-img check sees,
 * a grow brings those leaks inside the file (qemu-img 7.2's grow too: its
 * allocator skips them), and that is not the engine's leak (the finding
 * crash-3751401f); a result that gains such a refcount, or a leak inside
 * the old file, still is. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/oracle.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/io.h"
#include "tests/c/tap.h"
#include "util/endian.h"

#define CS 4096u

/* Set cluster C's refcount in the block at 0x2000 (orders 0 and 4). */
static void set_refcount(struct instar_mem_io *m, uint32_t order, uint64_t c, uint16_t rc)
{
    if (order == 4) {
        uint8_t b[2];
        instar_put_be16(b, rc);
        instar_io_write(&m->io, b, 2, 0x2000 + 2 * c);
    } else {
        uint8_t b;
        instar_io_read(&m->io, &b, 1, 0x2000 + c / 8);
        b = (uint8_t)((b & ~(1u << (c % 8))) | ((rc & 1u) << (c % 8)));
        instar_io_write(&m->io, &b, 1, 0x2000 + c / 8);
    }
}

/* A qcow2 v3 start of NCL clusters: header, refcount table (0x1000),
 * refcount block (0x2000), a zeroed two-entry L1 (0x3000), the rest free.
 * ORDER is the refcount order; refcounts of clusters 0..3 are 1, and so
 * are those of TAIL_FROM..TAIL_TO-1 (past the end when TAIL_FROM >= NCL). */
static void make_start(struct instar_mem_io *m, unsigned ncl, uint32_t order,
                       uint64_t tail_from, uint64_t tail_to)
{
    uint8_t *img = calloc(ncl, CS);
    memcpy(img, "QFI\xfb", 4);
    instar_put_be32(img + 4, 3);
    instar_put_be32(img + 20, 12);
    instar_put_be64(img + 24, (uint64_t)4 << 20);
    instar_put_be32(img + 36, 2);
    instar_put_be64(img + 40, 0x3000);
    instar_put_be64(img + 48, 0x1000);
    instar_put_be32(img + 56, 1);
    instar_put_be32(img + 96, order);
    instar_put_be32(img + 100, 104);
    instar_put_be64(img + 0x1000, 0x2000);
    m->io.ops->set_size(&m->io, 0);
    instar_mem_io_load(m, img, (size_t)ncl * CS);
    free(img);
    for (uint64_t c = 0; c < tail_to; c++)
        if (c < 4 || c >= tail_from)
            set_refcount(m, order, c, 1);
}

int main(void)
{
    static struct instar_oracle o;
    struct instar_mem_io m;
    char why[256];
    struct instar_size_spec grow = {INSTAR_SIZE_PLUS, (uint64_t)1 << 20};
    struct instar_size_spec same = {INSTAR_SIZE_PLUS, 0};
    instar_mem_io_init(&m, (uint64_t)64 << 20);

    /* The finding: 1-bit refcounts, clusters 4..79 counted, file 4
     * clusters long; the engine grows by 1 MiB with metadata
     * preallocation, allocating past the counted clusters as qemu does. */
    make_start(&m, 4, 0, 4, 80);
    ok(instar_oracle_before(&o, INSTAR_FORMAT_QCOW2, &m.io, &grow, NULL, why, sizeof why),
       "tail leak: the start is judged (%s)", why);
    ok(o.before.exact, "tail leak: the start's bookkeeping is exact inside the file");
    struct instar_resize_args args = {.format = INSTAR_FORMAT_QCOW2, .size = grow,
                                      .prealloc = INSTAR_PREALLOC_METADATA};
    struct instar_image_plan p;
    struct instar_diag diag;
    instar_diag_clear(&diag);
    int rc = instar_image_plan(&m.io, &args, &p, &diag);
    is_int(rc, INSTAR_OK, "tail leak: the grow is planned (%s)", diag.message);
    if (rc == INSTAR_OK) {
        rc = instar_plan_apply(&m.io, &p.plan, args.prealloc, SIZE_MAX, &diag);
        is_int(rc, INSTAR_OK, "tail leak: the grow applies (%s)", diag.message);
        ok(instar_oracle_after(&o, &m.io, false, why, sizeof why),
           "tail leak: the inherited leaks are not the engine's (%s)", why);
        instar_image_plan_free(&p);
    }

    /* No tail before: a refcount past the end after is a new leak. */
    make_start(&m, 5, 4, 0, 4);
    ok(instar_oracle_before(&o, INSTAR_FORMAT_QCOW2, &m.io, &same, NULL, why, sizeof why)
       && o.before.exact, "no tail: the start is exact (%s)", why);
    set_refcount(&m, 4, 9, 1);
    ok(!instar_oracle_after(&o, &m.io, false, why, sizeof why)
       && strstr(why, "cluster 9 (0x9000) past the end of the file has refcount 1"),
       "no tail: a refcount gained past the end is reported (%s)", why);

    /* A tail before excuses leaks past the old end only: one inside the
     * old file (cluster 4, free before) is still reported. */
    make_start(&m, 5, 4, 6, 10);
    ok(instar_oracle_before(&o, INSTAR_FORMAT_QCOW2, &m.io, &same, NULL, why, sizeof why)
       && o.before.exact, "tail: the start is exact inside the file (%s)", why);
    ok(instar_oracle_after(&o, &m.io, false, why, sizeof why),
       "tail: the unchanged start passes (%s)", why);
    m.io.ops->set_size(&m.io, 8 * CS);
    ok(instar_oracle_after(&o, &m.io, false, why, sizeof why),
       "tail: the file grown over its tail leaks passes (%s)", why);
    set_refcount(&m, 4, 4, 1);
    ok(!instar_oracle_after(&o, &m.io, false, why, sizeof why)
       && strstr(why, "cluster 4 (0x4000) has refcount 1 but 0 references"),
       "tail: a leak inside the old file is reported (%s)", why);

    instar_oracle_free(&o);
    instar_mem_io_free(&m);
    return tap_done();
}
