/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qcow2-hostile.c -- mutated qcow2 images (bytes of the header,
 * refcount table and blocks, L1 and L2 tables flipped, deterministic
 * PRNG) through the whole engine: planning must never crash (the sanitizer
 * build runs this too), every plan it hands out must pass the invariants,
 * and applying it must not fail on an invariant. */
#include <config.h>

#include <stdio.h>

#include "instar/resize.h"
#include "qcow2-testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    return test_xorshift(&rng);
}

static const char *const specs[] = {
    "+512", "+64K", "1G", "2T", "2P", "64M", "17M", "+1M", "8M", "1M", "-512", "-64K", "512",
};

static void fuzz(struct timg *base, const char *name, unsigned iterations, uint64_t extra)
{
    uint64_t len, regions[8][2];
    uint8_t *orig = rs_snapshot_bytes(base, &len);
    unsigned planned = 0, bad = 0, nreg = 0;
    uint64_t l1 = timg_u64(base, 40), rt = timg_u64(base, 48);
    uint64_t rb = timg_u64(base, rt) & ~511ull, l2 = timg_u64(base, l1) & 0x00fffffffffffe00ull;
    regions[nreg][0] = 0, regions[nreg++][1] = 128;
    regions[nreg][0] = rt, regions[nreg++][1] = 64;
    regions[nreg][0] = rb, regions[nreg++][1] = 64;
    regions[nreg][0] = l1, regions[nreg++][1] = 64;
    if (l2)
        regions[nreg][0] = l2, regions[nreg++][1] = 256;
    if (extra)
        regions[nreg][0] = extra, regions[nreg++][1] = 32;
    for (unsigned it = 0; it < iterations; it++) {
        struct timg t = *base;
        struct instar_resize_args a;
        struct instar_image_plan p;
        struct instar_diag d;
        unsigned flips = 1 + next() % 3;
        int rc;
        instar_mem_io_init(&t.m, 256u << 20);
        instar_mem_io_load(&t.m, orig, len);
        for (unsigned f = 0; f < flips; f++) {
            unsigned r = next() % nreg;
            uint64_t off = regions[r][0] + next() % regions[r][1];
            uint8_t b;
            instar_io_read(&t.m.io, &b, 1, off);
            b = next() % 2 ? (uint8_t)(b ^ (1u << (next() % 8))) : (uint8_t)next();
            instar_io_write(&t.m.io, &b, 1, off);
        }
        memset(&a, 0, sizeof a);
        a.format = INSTAR_FORMAT_QCOW2;
        a.allow_shrink = next() % 2;
        {
            /* Preallocation only for small grows: terabytes of L2 tables
             * are a legitimate refusal, but a slow one. */
            unsigned si = next() % (sizeof specs / sizeof specs[0]);
            a.prealloc = next() % 4 == 0 && si < 2 ? INSTAR_PREALLOC_METADATA : INSTAR_PREALLOC_OFF;
            instar_parse_size_spec(specs[si], &a.size);
        }
        rc = instar_image_plan(&t.m.io, &a, &p, &d);
        if (rc == INSTAR_OK) {
            planned++;
            if (instar_plan_check(&p.plan, NULL) != 0) {
                bad++;
                printf("# %s iteration %u: plan breaks an invariant\n", name, it);
            } else if (instar_plan_apply(&t.m.io, &p.plan, a.prealloc, SIZE_MAX, &d) != INSTAR_OK
                       && strstr(d.message, "invariant")) {
                bad++;
            }
        }
        instar_image_plan_free(&p);
        instar_mem_io_free(&t.m);
    }
    ok(bad == 0, "%s: %u mutated images, %u planned, no invalid plan", name, iterations, planned);
    free(orig);
}

int main(void)
{
    struct timg t;
    struct timg_opts o;

    memset(&o, 0, sizeof o);
    o.size = 16 << 20;
    o.feature_table = true;
    timg_create(&t, &o);
    timg_write_cluster(&t, 0, 1);
    timg_write_cluster(&t, 130, 2);
    timg_compressed(&t, 200);
    timg_zero_entry(&t, 201);
    timg_snapshot(&t);
    timg_write_cluster(&t, 131, 3);
    fuzz(&t, "64K clusters with a snapshot and a bitmap", 1000, timg_bitmap(&t, 16, 2));
    timg_free(&t);

    memset(&o, 0, sizeof o);
    o.size = 1 << 20;
    o.cluster_bits = 9;
    o.refcount_order = 0;
    o.order_set = true;
    timg_create(&t, &o);
    for (uint64_t g = 0; g < 2048; g += 17)
        timg_write_cluster(&t, g, 1);
    fuzz(&t, "512 B clusters, 1-bit refcounts", 1000, 0);
    timg_free(&t);

    memset(&o, 0, sizeof o);
    o.size = 64 << 20;
    o.cluster_bits = 14;
    o.extl2 = true;
    o.refcount_order = 5;
    o.order_set = true;
    timg_create(&t, &o);
    for (uint64_t g = 0; g < 4096; g += 101)
        timg_write_cluster(&t, g, 1);
    timg_compressed(&t, 4000);
    fuzz(&t, "16K clusters, extended L2, 32-bit refcounts", 1000, 0);
    timg_free(&t);
    return tap_done();
}
