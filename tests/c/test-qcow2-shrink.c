/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qcow2-shrink.c -- shrinking qcow2 images: data, compressed and
 * zero-flag entries, snapshots (decrement, never zero; shared straddling
 * tables copied), dropped refcount blocks, tail truncation, the stale-tail
 * zeroing, every refcount width, v2/v3, extended L2 and crash prefixes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar/resize.h"
#include "resize/builder.h"
#include "qcow2-testutil.h"
#include "util/endian.h"

#define COPIED (1ull << 63)

static uint64_t host_of(struct timg *t, uint64_t gc)
{
    return (timg_l2_entry(t, gc) & 0x00fffffffffffe00ull) >> t->cb;
}

static void test_data(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(64 << 20, 16);
    struct rs r;
    uint64_t h[4], gcs[4] = {0, 300, 600, 1000};
    uint8_t b[2];
    timg_create(&t, &o);
    for (int i = 0; i < 4; i++) {
        timg_write_cluster(&t, gcs[i], (uint8_t)(0x10 + i));
        h[i] = host_of(&t, gcs[i]);
    }
    r = rs_do(&t, "32M", 0, INSTAR_PREALLOC_OFF, "shrink without flag");
    is_int(r.rc, INSTAR_E_SHRINK_NEEDS_FLAG, "64M -> 32M without the flag refused");
    r = rs_do(&t, "-513", 1, INSTAR_PREALLOC_OFF, "-513");
    is_int(r.rc, INSTAR_E_NOT_SECTOR_MULTIPLE, "-513 refused: not a multiple of 512");
    r = rs_do(&t, "32M", 1, INSTAR_PREALLOC_OFF, "64M -> 32M with data");
    is_int(r.rc, INSTAR_OK, "64M -> 32M succeeds");
    is_u64(r.action, INSTAR_ACTION_SHRINK, "action is shrink");
    is_u64(timg_u64(&t, 24), 32 << 20, "size 32M");
    is_u64(timg_u32(&t, 36), 1, "l1_size unchanged");
    is_u64(timg_get_rc(&t, h[0]), 1, "kept data cluster keeps refcount 1");
    is_u64(timg_get_rc(&t, h[1]), 1, "kept data cluster (19M) keeps refcount 1");
    is_u64(timg_get_rc(&t, h[2]), 0, "dropped data cluster (37M) freed");
    is_u64(timg_get_rc(&t, h[3]), 0, "dropped data cluster (62M) freed");
    is_u64(timg_l2_entry(&t, 600), 0, "its L2 entry cleared");
    is_u64(timg_file_size(&t), (h[1] + 1) << 16, "file cut after the last used cluster");
    timg_read(&t, 300ull << 16, b, 2);
    ok(b[0] == 0x11 && b[1] == 0x11, "kept data intact");
    r = rs_do(&t, "64M", 0, INSTAR_PREALLOC_OFF, "regrow to 64M");
    timg_read(&t, 600ull << 16, b, 2);
    ok(b[0] == 0 && b[1] == 0, "regrown range reads zeros");
    timg_free(&t);
}

static void test_across_l1(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(2ull << 30, 16);
    struct rs r;
    uint64_t l2, d;
    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 1);
    timg_write_cluster(&t, 3 * 8192 + 5, 2);      /* 1.5G: L1[3] */
    l2 = (timg_u64(&t, (3 << 16) + 24) & 0x00fffffffffffe00ull) >> 16;
    d = host_of(&t, 3 * 8192 + 5);
    r = rs_do(&t, "100M", 1, INSTAR_PREALLOC_OFF, "2G -> 100M");
    is_int(r.rc, INSTAR_OK, "2G -> 100M succeeds");
    is_u64(timg_u32(&t, 36), 4, "l1_size stays 4 (as qemu)");
    is_u64(timg_u64(&t, (3 << 16) + 24), 0, "dropped L1 entry zeroed");
    is_u64(timg_get_rc(&t, l2), 0, "its L2 table freed");
    is_u64(timg_get_rc(&t, d), 0, "its data freed");
    timg_free(&t);

    /* A huge sparse image: no L2 table is allocated to discard. */
    o.size = 2ull << 40;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 1, INSTAR_PREALLOC_OFF, "2T -> 1G");
    is_int(r.rc, INSTAR_OK, "2T -> 1G succeeds");
    ok(r.npatches <= 2, "2T -> 1G: only the size is written (%zu patches)", r.npatches);
    is_u64(timg_u32(&t, 36), 4096, "l1_size stays 4096");
    timg_free(&t);
}

static void test_entries(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 12);
    struct rs r;
    uint64_t cgc = 3000, c, zgc = 3100, l2;
    timg_create(&t, &o);
    timg_write_cluster(&t, 10, 1);
    timg_compressed(&t, cgc);
    c = (timg_l2_entry(&t, cgc) & ((1ull << (62 - 4)) - 1)) >> 12;
    timg_zero_entry(&t, zgc);
    timg_compressed(&t, 20);        /* a kept compressed cluster */
    is_u64(timg_get_rc(&t, c), 1, "compressed data's first host cluster counted");
    is_u64(timg_get_rc(&t, c + 1), 1, "and its second");
    l2 = (timg_u64(&t, (3 << 12) + 8 * (cgc / 512)) & 0x00fffffffffffe00ull) >> 12;
    r = rs_do(&t, "8M", 1, INSTAR_PREALLOC_OFF, "compressed + zero-flag entries");
    is_int(r.rc, INSTAR_OK, "shrink over compressed and zero-flag entries succeeds");
    is_u64(timg_get_rc(&t, c), 0, "compressed host cluster 1 released");
    is_u64(timg_get_rc(&t, c + 1), 0, "compressed host cluster 2 released");
    is_u64(timg_l2_entry(&t, zgc), 0, "zero-flag entry dropped (its L1 entry is gone)");
    is_u64(timg_get_rc(&t, l2), 0, "their L2 table freed");
    ok(timg_l2_entry(&t, 20) & (1ull << 62), "kept compressed entry untouched");
    timg_free(&t);

    /* Entries cleared inside a straddling table. */
    o = timg_defaults(16 << 20, 16);
    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 1);
    timg_zero_entry(&t, 200);
    timg_compressed(&t, 201);
    r = rs_do(&t, "8M", 1, INSTAR_PREALLOC_OFF, "straddling table with compressed/zero");
    is_int(r.rc, INSTAR_OK, "straddling shrink succeeds");
    is_u64(timg_l2_entry(&t, 200), 0, "zero-flag entry cleared");
    is_u64(timg_l2_entry(&t, 201), 0, "compressed entry cleared");
    ok(timg_l2_entry(&t, 1) != 0, "kept entry kept");
    timg_free(&t);
}

static void test_snapshot(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 16);
    struct rs r;
    uint64_t hkeep, hdrop, old_l2, snap_l1;
    uint8_t b[2];
    timg_create(&t, &o);
    timg_write_cluster(&t, 2, 0x21);
    timg_write_cluster(&t, 200, 0x22);      /* 12.5M: beyond 8M */
    hkeep = host_of(&t, 2);
    hdrop = host_of(&t, 200);
    old_l2 = (timg_u64(&t, 3 << 16) & 0x00fffffffffffe00ull) >> 16;
    timg_snapshot(&t);
    snap_l1 = timg_u64(&t, timg_u64(&t, 64));
    is_u64(timg_get_rc(&t, hdrop), 2, "snapshot shares the data (refcount 2)");
    r = rs_do(&t, "8M", 1, INSTAR_PREALLOC_OFF, "v3 with snapshot 16M -> 8M");
    is_int(r.rc, INSTAR_OK, "shrink with a snapshot succeeds");
    is_u64(timg_get_rc(&t, hdrop), 1, "dropped data: refcount 2 -> 1 (decremented, not zeroed)");
    is_u64(timg_get_rc(&t, hkeep), 2, "kept data still shared (2)");
    is_u64(timg_get_rc(&t, old_l2), 1, "the shared L2 table now belongs to the snapshot alone");
    ok((timg_u64(&t, 3 << 16) & 0x00fffffffffffe00ull) >> 16 != old_l2
       && (timg_u64(&t, 3 << 16) & COPIED), "active L1 points to a private copy (COPIED)");
    is_u64(timg_u64(&t, timg_u64(&t, 64)), snap_l1, "snapshot table untouched");
    timg_read(&t, 2 << 16, b, 2);
    ok(b[0] == 0x21, "kept data readable through the copy");
    is_u64(timg_l2_entry(&t, 200), 0, "dropped entry absent from the copy");
    timg_free(&t);

    /* Crash prefixes of the copy-on-write shrink. */
    timg_create(&t, &o);
    timg_write_cluster(&t, 2, 0x21);
    timg_write_cluster(&t, 200, 0x22);
    timg_snapshot(&t);
    rs_crash_prefixes(&t, "8M", 1, INSTAR_PREALLOC_OFF, "snapshot shrink");
    timg_free(&t);
}

static void test_tail(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 16);
    struct rs r;
    uint8_t b[4];
    timg_create(&t, &o);
    timg_write_cluster(&t, 240, 0xab);      /* 15M */
    r = rs_do(&t, "15729152", 1, INSTAR_PREALLOC_OFF, "16M -> 15M+512");
    is_int(r.rc, INSTAR_OK, "shrink into a cluster succeeds");
    r = rs_do(&t, "16M", 0, INSTAR_PREALLOC_OFF, "regrow 16M");
    timg_read(&t, 15 << 20, b, 2);
    ok(b[0] == 0xab && b[1] == 0xab, "bytes below the cut kept");
    timg_read(&t, (15 << 20) + 512, b, 4);
    ok(b[0] == 0 && b[3] == 0, "bytes beyond the cut read zeros after a regrow (unlike qemu)");
    timg_free(&t);

    timg_create(&t, &o);
    timg_write_cluster(&t, 240, 0xab);
    timg_snapshot(&t);
    r = rs_do(&t, "15729152", 1, INSTAR_PREALLOC_OFF, "shared tail");
    is_int(r.rc, INSTAR_OK, "shrink into a shared cluster succeeds");
    {
        /* The snapshot's data must be intact: read its L2 directly. */
        uint64_t sl1 = timg_u64(&t, timg_u64(&t, 64));
        uint64_t sl2 = timg_u64(&t, sl1) & 0x00fffffffffffe00ull;
        uint64_t e = timg_u64(&t, sl2 + 240 * 8) & 0x00fffffffffffe00ull;
        uint8_t x;
        instar_io_read(&t.m.io, &x, 1, e + 60000);
        is_int(x, 0xab, "a cluster a snapshot shares is not zeroed");
    }
    timg_free(&t);
}

/* Small clusters: data spread over several refcount blocks, so the
 * shrink empties blocks and unhooks them. */
static void test_widths(void)
{
    for (unsigned order = 0; order <= 6; order++) {
        for (unsigned v = 2; v <= 3; v++) {
            struct timg t;
            struct timg_opts o = timg_defaults(4 << 20, 9);
            struct rs r;
            char what[80];
            uint64_t hosts = 0, rt = 512, live_before = 0, live_after = 0;
            if (v == 2 && order != 4)
                continue;
            o.refcount_order = order;
            o.order_set = true;
            o.version = v;
            timg_create(&t, &o);
            for (uint64_t g = 0; g < 8192; g += 13)
                timg_write_cluster(&t, g, (uint8_t)g);
            for (uint64_t i = 0; i < 64; i++)
                live_before += timg_u64(&t, rt + i * 8) != 0;
            snprintf(what, sizeof what, "v%u refcount_bits=%u cs=512 4M -> 64K", v, 1u << order);
            r = rs_do(&t, "64K", 1, INSTAR_PREALLOC_OFF, what);
            is_int(r.rc, INSTAR_OK, "%s succeeds", what);
            for (uint64_t i = 0; i < 64; i++)
                live_after += timg_u64(&t, rt + i * 8) != 0;
            ok(live_after < live_before || live_before == 1,
               "%s: empty refcount blocks unhooked (%llu -> %llu)", what,
               (unsigned long long)live_before, (unsigned long long)live_after);
            for (uint64_t g = 0; g < 128; g += 13)
                hosts += host_of(&t, g) != 0;
            is_u64(hosts, 10, "%s: kept clusters still mapped", what);
            timg_free(&t);
            timg_create(&t, &o);
            for (uint64_t g = 0; g < 8192; g += 13)
                timg_write_cluster(&t, g, (uint8_t)g);
            snprintf(what, sizeof what, "v%u refcount_bits=%u crash prefixes", v, 1u << order);
            rs_crash_prefixes(&t, "64K", 1, INSTAR_PREALLOC_OFF, what);
            timg_free(&t);
        }
    }
}

static void test_extl2(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(64 << 20, 16);
    struct rs r;
    uint64_t h;
    o.extl2 = true;
    timg_create(&t, &o);
    timg_write_cluster(&t, 5, 1);
    timg_write_cluster(&t, 700, 2);
    h = host_of(&t, 700);
    r = rs_do(&t, "20M", 1, INSTAR_PREALLOC_OFF, "extended L2 64M -> 20M");
    is_int(r.rc, INSTAR_OK, "extended L2 shrink succeeds");
    is_u64(timg_get_rc(&t, h), 0, "dropped cluster freed");
    ok(host_of(&t, 5) != 0, "kept cluster kept");
    timg_free(&t);
}

/* Freed clusters scattered over more refcount blocks than 128 patches can
 * carry: the refcounts are rewritten as one new table + blocks. */
static void test_rewrite(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 9);
    struct rs r;
    uint64_t x = 1, old_rt;
    o.refcount_order = 6;
    o.order_set = true;
    o.rt_clusters = 4;
    timg_create(&t, &o);
    {
        unsigned leaks, errs;
        for (int n = 0; n < 12000; n++) {
            x = (x * 6364136223846793005ull + 1442695040888963407ull);
            timg_write_cluster(&t, (x >> 33) % 32768, (uint8_t)n);
        }
        errs = timg_check(&t, &leaks);
        ok(errs == 0 && leaks == 0, "scattered test image is consistent");
        timg_free(&t);
        timg_create(&t, &o);
        x = 1;
    }
    for (int n = 0; n < 12000; n++) {
        x = (x * 6364136223846793005ull + 1442695040888963407ull);
        timg_write_cluster(&t, (x >> 33) % 32768, (uint8_t)n);
    }
    old_rt = timg_u64(&t, 48);
    r = rs_do(&t, "4M", 1, INSTAR_PREALLOC_OFF, "scattered 16M -> 4M, 64-bit refcounts, 512 B");
    is_int(r.rc, INSTAR_OK, "a shrink touching hundreds of refcount blocks succeeds");
    ok(timg_u64(&t, 48) != old_rt, "the refcount table was rewritten (%zu patches)", r.npatches);
    timg_free(&t);

    timg_create(&t, &o);
    x = 1;
    for (int n = 0; n < 12000; n++) {
        x = (x * 6364136223846793005ull + 1442695040888963407ull);
        timg_write_cluster(&t, (x >> 33) % 32768, (uint8_t)n);
    }
    rs_crash_prefixes(&t, "4M", 1, INSTAR_PREALLOC_OFF, "refcount rewrite");
    timg_free(&t);
}

/* Found by fuzz_resize_engine: live metadata whose refcounts read 0 (a
 * refcount table without blocks, or a zeroed refcount) must be refused,
 * not taken as free space and cut off by the tail truncation. */
static void test_unreferenced_metadata(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(4 << 20, 16);
    struct rs r;
    uint64_t before;

    timg_create(&t, &o);
    timg_put_u64(&t, timg_u64(&t, 48), 0);   /* unhook refcount block 0 */
    before = timg_file_size(&t);
    r = rs_do(&t, "2M", 1, INSTAR_PREALLOC_OFF, "shrink with no refcount block");
    is_int(r.rc, INSTAR_E_NEEDS_CHECK, "metadata with refcount 0 (no refcount block): repair first");
    is_u64(timg_file_size(&t), before, "and the file is not cut");
    is_u64(timg_u64(&t, 24), 4 << 20, "nor resized");
    timg_free(&t);

    timg_create(&t, &o);
    timg_set_rc(&t, timg_u64(&t, 40) >> 16, 0);  /* the L1's cluster */
    r = rs_do(&t, "2M", 1, INSTAR_PREALLOC_OFF, "shrink with the L1 at refcount 0");
    is_int(r.rc, INSTAR_E_NEEDS_CHECK, "an L1 table with refcount 0: repair first");
    timg_free(&t);
}

/* Plan SPEC over T with a staging loop of our own (the planner's protocol:
 * stage what plan->needs names, call again); the number of calls. */
static unsigned planner_rounds(struct timg *t, uint64_t new_size, int *rc_out)
{
    struct instar_qcow2_resize_opts q;
    static struct instar_resize_plan plan;
    uint64_t cs = t->cs, fsize = timg_file_size(t);
    uint8_t *img = malloc(fsize), *scratch = malloc(64u << 20);
    struct instar_staged_table *rbs, *l2s;
    size_t nrbs = 0, nl2s = 0;
    unsigned rounds = 0;
    int rc;
    instar_io_read(&t->m.io, img, fsize, 0);
    memset(&q, 0, sizeof q);
    q.req.new_size = new_size;
    q.req.allow_shrink = true;
    q.current_file_size = fsize;
    q.version = instar_be32(img + 4);
    q.cluster_bits = instar_be32(img + 20);
    q.virtual_size = instar_be64(img + 24);
    q.l1_size = instar_be32(img + 36);
    q.l1_table_offset = instar_be64(img + 40);
    q.refcount_table_offset = instar_be64(img + 48);
    q.refcount_table_clusters = instar_be32(img + 56);
    q.refcount_order = instar_be32(img + 96);
    q.header_length = instar_be32(img + 100);
    q.header.data = img;
    q.header.len = cs;
    q.l1.data = img + q.l1_table_offset;
    q.l1.len = (size_t)q.l1_size * 8;
    q.reftable.data = img + q.refcount_table_offset;
    q.reftable.len = q.refcount_table_clusters * cs;
    rbs = calloc(q.reftable.len / 8, sizeof *rbs);
    l2s = calloc(q.l1_size, sizeof *l2s);
    do {
        q.refblocks = rbs;
        q.n_refblocks = nrbs;
        q.l2_tables = l2s;
        q.n_l2_tables = nl2s;
        rc = instar_plan_resize_qcow2(&q, scratch, 64u << 20, &plan);
        rounds++;
        for (size_t k = 0; rc == INSTAR_E_NOT_STAGED && k < plan.nneeds; k++) {
            const struct instar_need *n = &plan.needs[k];
            bool l2 = n->kind == INSTAR_NEED_L2;
            const uint8_t *table = l2 ? q.l1.data : q.reftable.data;
            for (uint64_t i = n->index; i < n->index + (n->count ? n->count : 1); i++) {
                uint64_t off = instar_be64(table + i * 8) & 0x00fffffffffffe00ull;
                struct instar_staged_table *arr = l2 ? l2s : rbs;
                size_t *cnt = l2 ? &nl2s : &nrbs, j;
                for (j = 0; j < *cnt && arr[j].index != i; j++)
                    ;
                if (off == 0 || j < *cnt)
                    continue;
                arr[*cnt].index = i;
                arr[*cnt].bytes.data = img + off;
                arr[*cnt].bytes.len = (size_t)cs;
                (*cnt)++;
            }
        }
    } while (rc == INSTAR_E_NOT_STAGED && rounds < 1000);
    *rc_out = rc;
    free(rbs);
    free(l2s);
    free(scratch);
    free(img);
    return rounds;
}

/* An L1 naming thousands of L2 tables: the planner asks for them in a few
 * rounds (needs are index ranges), not one round per 64 tables -- that made
 * planning quadratic (74 s at 256K tables).  The plan stays right. */
static void test_many_l2(void)
{
    struct timg t;
    struct rs r;
    unsigned rounds;
    int rc;
    uint8_t b[512];
    ok(timg_create_many_l2(&t, 6000) == 0, "an image whose L1 names 6000 L2 tables");
    {
        unsigned leaks, errs = timg_check(&t, &leaks);
        ok(errs == 0 && leaks == 0, "it is consistent");
    }
    rounds = planner_rounds(&t, 1 << 20, &rc);
    is_int(rc, INSTAR_OK, "shrink to 1M planned");
    ok(rounds <= 8, "in %u planner rounds (one per 64 tables would be ~100)", rounds);
    r = rs_do(&t, "1M", 1, INSTAR_PREALLOC_OFF, "6000 L2 tables -> 1M");
    is_int(r.rc, INSTAR_OK, "shrink applied");
    is_u64(timg_u64(&t, 24), 1 << 20, "the new size");
    timg_read(&t, 0, b, sizeof b);
    is_int(b[0] == 0x5a && b[511] == 0x5a, 1, "the first kept cluster's data intact");
    timg_read(&t, 31 * 32768, b, sizeof b);
    is_int(b[0] == 0x5a && b[511] == 0x5a, 1, "the last kept table's data intact");
    ok(r.total < 6000ull * 1024, "the file is cut (%llu bytes)", (unsigned long long)r.total);
    timg_free(&t);
}

/* Table needs are ranges: adjacent indices join one; with every slot taken
 * the nearest range grows, so no need is dropped (a dropped need cost a
 * planner round). */
static void test_need_ranges(void)
{
    static struct instar_resize_plan plan;
    struct instar_builder b;
    uint8_t scratch[64];
    bool all = true;
    instar_builder_init(&b, &plan, scratch, sizeof scratch);
    for (uint64_t i = 100; i < 200; i++)
        instar_builder_need(&b, INSTAR_NEED_L2, i, 512);
    ok(plan.nneeds == 1 && plan.needs[0].index == 100 && plan.needs[0].count == 100,
       "100 adjacent L2 needs: one range [100, 200)");
    instar_builder_need(&b, INSTAR_NEED_BYTES, 7, 10);
    for (uint64_t i = 0; i < 300; i++)
        instar_builder_need(&b, INSTAR_NEED_REFBLOCK, 5000 + i * 10, 512);
    is_int((int)plan.nneeds, INSTAR_MAX_NEEDS, "300 scattered block needs fill the slots");
    for (uint64_t i = 0; i < 300 && all; i++) {
        uint64_t x = 5000 + i * 10;
        bool found = false;
        for (size_t k = 0; k < plan.nneeds; k++)
            if (plan.needs[k].kind == INSTAR_NEED_REFBLOCK && x >= plan.needs[k].index
                && x - plan.needs[k].index < plan.needs[k].count)
                found = true;
        all = found;
    }
    ok(all, "every one of them is inside a range");
    ok(plan.needs[0].kind == INSTAR_NEED_L2 && plan.needs[0].count == 100
       && plan.needs[1].kind == INSTAR_NEED_BYTES && plan.needs[1].index == 7,
       "the other needs are untouched");
    is_int(b.err, INSTAR_E_NOT_STAGED, "the builder answers not staged");
}

int main(void)
{
    test_need_ranges();
    test_many_l2();
    test_unreferenced_metadata();
    test_rewrite();
    test_data();
    test_across_l1();
    test_entries();
    test_snapshot();
    test_tail();
    test_widths();
    test_extl2();
    return tap_done();
}
