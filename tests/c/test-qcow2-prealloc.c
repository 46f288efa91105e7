/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qcow2-prealloc.c -- growing qcow2 images with preallocation
 * metadata / falloc / full: data clusters of the new range (including the
 * partly used last old cluster) allocated contiguously and linked, extended
 * L2 bitmaps 0, reused clusters zeroed, crash prefixes. */
#include <config.h>

#include <stdio.h>

#include "instar/resize.h"
#include "qcow2-testutil.h"
#include "util/endian.h"

#define OFFMASK 0x00fffffffffffe00ull
#define COPIED (1ull << 63)

/* Guest clusters [G0, G1) map to consecutive host clusters with COPIED. */
static int contiguous(struct timg *t, uint64_t g0, uint64_t g1, uint64_t *first)
{
    uint64_t h0 = timg_l2_entry(t, g0) & OFFMASK;
    *first = h0 >> t->cb;
    for (uint64_t g = g0; g < g1; g++) {
        uint64_t e = timg_l2_entry(t, g);
        if ((e & OFFMASK) != h0 + ((g - g0) << t->cb) || !(e & COPIED))
            return 0;
    }
    return h0 != 0;
}

static void test_modes(void)
{
    static const enum instar_prealloc modes[] = {
        INSTAR_PREALLOC_METADATA, INSTAR_PREALLOC_FALLOC, INSTAR_PREALLOC_FULL};
    for (int m = 0; m < 3; m++) {
        struct timg t;
        struct timg_opts o = timg_defaults(16 << 20, 16);
        struct rs r;
        char what[64];
        uint64_t first;
        snprintf(what, sizeof what, "16M -> 64M %s", instar_prealloc_name(modes[m]));
        timg_create(&t, &o);
        r = rs_do(&t, "64M", 0, modes[m], what);
        is_int(r.rc, INSTAR_OK, "%s succeeds", what);
        ok(contiguous(&t, 256, 1024, &first), "%s: 768 data clusters linked contiguously", what);
        is_u64(timg_l2_entry(&t, 255), 0, "%s: the old range stays unallocated", what);
        is_u64(timg_file_size(&t), (first + 768) << 16, "%s: file ends after the data", what);
        if (modes[m] == INSTAR_PREALLOC_METADATA)
            is_u64(r.prealloc_len, 0, "%s: nothing for the host to preallocate", what);
        else
            ok(r.prealloc_off == first << 16 && r.prealloc_len == 768ull << 16,
               "%s: the data range handed to the host", what);
        timg_free(&t);
    }
}

static void test_partial(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 16);
    struct rs r;
    uint64_t first;
    uint8_t b[4];
    timg_create(&t, &o);
    timg_write_cluster(&t, 0, 1);
    r = rs_do(&t, "+512", 0, INSTAR_PREALLOC_METADATA, "16M +512 metadata");
    is_int(r.rc, INSTAR_OK, "+512 with metadata succeeds");
    ok(contiguous(&t, 256, 257, &first), "the one new (partial) cluster is allocated");
    r = rs_do(&t, "+1M", 0, INSTAR_PREALLOC_METADATA, "+1M from a partly used cluster");
    is_int(r.rc, INSTAR_OK, "+1M from 16M+512 succeeds");
    ok(timg_l2_entry(&t, 256) != 0 && contiguous(&t, 257, 272, &first),
       "the partly used cluster kept, the rest linked");
    timg_free(&t);

    /* A freed cluster in the middle of the file is reused: zeroed first. */
    o = timg_defaults(64 << 20, 16);
    timg_create(&t, &o);
    timg_write_cluster(&t, 0, 1);
    timg_write_cluster(&t, 1000, 0xee);     /* L2 at c4, data c5, this at c6 */
    timg_write_cluster(&t, 1, 2);           /* c7: keeps the file end */
    r = rs_do(&t, "32M", 1, INSTAR_PREALLOC_OFF, "shrink frees c6");
    r = rs_do(&t, "+64K", 0, INSTAR_PREALLOC_METADATA, "32M +64K metadata");
    is_int(r.rc, INSTAR_OK, "grow into a freed hole succeeds");
    ok(contiguous(&t, 512, 513, &first) && first == 6, "the freed cluster c6 is reused (first fit)");
    timg_read(&t, 32 << 20, b, 4);
    ok(b[0] == 0 && b[3] == 0, "and reads zeros, not its old bytes");
    timg_free(&t);
}

static void test_l1_and_refcounts(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(1 << 20, 9);
    struct rs r;
    uint64_t first;
    timg_create(&t, &o);
    timg_write_cluster(&t, 3, 3);
    r = rs_do(&t, "2M", 0, INSTAR_PREALLOC_METADATA, "512 B clusters 1M -> 2M metadata");
    is_int(r.rc, INSTAR_OK, "L1 growth + refcount blocks + data succeeds");
    is_u64(timg_u32(&t, 36), 64, "l1_size exact (64)");
    ok(contiguous(&t, 2048, 4096, &first), "2048 data clusters contiguous");
    timg_free(&t);

    timg_create(&t, &o);
    timg_write_cluster(&t, 3, 3);
    rs_crash_prefixes(&t, "2M", 0, INSTAR_PREALLOC_METADATA, "512 B clusters metadata prealloc");
    timg_free(&t);
    timg_create(&t, &o);
    rs_crash_prefixes(&t, "1200K", 0, INSTAR_PREALLOC_FALLOC, "512 B clusters falloc prealloc");
    timg_free(&t);

    for (unsigned order = 0; order <= 6; order++) {
        char what[64];
        o = timg_defaults(1 << 20, 9);
        o.refcount_order = order;
        o.order_set = true;
        timg_create(&t, &o);
        timg_write_cluster(&t, 7, 7);
        snprintf(what, sizeof what, "refcount_bits=%u 1M -> 1.5M metadata", 1u << order);
        r = rs_do(&t, "1536K", 0, INSTAR_PREALLOC_METADATA, what);
        is_int(r.rc, INSTAR_OK, "%s succeeds", what);
        timg_free(&t);
    }

    o = timg_defaults(16 << 20, 16);
    o.version = 2;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_FULL, "v2 16M -> 1G full");
    is_int(r.rc, INSTAR_OK, "v2 full preallocation succeeds");
    timg_free(&t);
}

static void test_extl2(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 16);
    struct rs r;
    uint64_t first, l2;
    o.extl2 = true;
    timg_create(&t, &o);
    r = rs_do(&t, "20M", 0, INSTAR_PREALLOC_METADATA, "extended L2 16M -> 20M metadata");
    is_int(r.rc, INSTAR_OK, "extended L2 metadata succeeds");
    ok(contiguous(&t, 256, 320, &first), "64 data clusters linked");
    l2 = timg_u64(&t, 3 << 16) & OFFMASK;
    is_u64(timg_u64(&t, l2 + 256 * 16 + 8), 0, "subcluster bitmap 0, as qemu");
    timg_free(&t);
}

static void test_snapshot(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 16);
    struct rs r;
    uint64_t old_l2, first;
    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 1);
    timg_snapshot(&t);
    old_l2 = timg_u64(&t, 3 << 16) & OFFMASK;
    r = rs_do(&t, "20M", 0, INSTAR_PREALLOC_METADATA, "shared L2 + metadata");
    is_int(r.rc, INSTAR_OK, "preallocating into a table a snapshot shares succeeds");
    ok((timg_u64(&t, timg_u64(&t, 40)) & OFFMASK) != old_l2
       && (timg_u64(&t, timg_u64(&t, 40)) & COPIED), "the active image got a private copy");
    is_u64(timg_get_rc(&t, old_l2 >> 16), 1, "the snapshot keeps the old table alone");
    ok(contiguous(&t, 256, 320, &first), "the new range linked in the copy");
    {
        uint8_t b;
        timg_read(&t, 1 << 16, &b, 1);
        is_int(b, 1, "old data still read through the copy");
    }
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_METADATA, "private table, new tables, L1 grows");
    is_int(r.rc, INSTAR_OK, "then growing with new tables works");
    timg_free(&t);

    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 1);
    timg_snapshot(&t);
    rs_crash_prefixes(&t, "600M", 0, INSTAR_PREALLOC_METADATA, "shared L2 + L1 growth + metadata");
    timg_free(&t);
}

int main(void)
{
    test_modes();
    test_partial();
    test_l1_and_refcounts();
    test_extl2();
    test_snapshot();
    return tap_done();
}
