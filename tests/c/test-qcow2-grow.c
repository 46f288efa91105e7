/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qcow2-grow.c -- the qcow2 planner and engine on growing images:
 * header-only grows, exact L1 growth at qemu's places, refcount-block and
 * refcount-table growth, the L1 limit, every refcount width, v2/v3,
 * extended L2, snapshots and the planner's staging protocol. */
#include <config.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "instar/resize.h"
#include "qcow2-testutil.h"
#include "util/endian.h"

static void test_header_only(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    uint64_t len;
    uint8_t *before;
    o.feature_table = true;
    timg_create(&t, &o);
    before = rs_snapshot_bytes(&t, &len);
    r = rs_do(&t, "64M", 0, INSTAR_PREALLOC_OFF, "16M -> 64M");
    is_int(r.rc, INSTAR_OK, "16M -> 64M succeeds");
    is_u64(r.npatches, 1, "16M -> 64M: one patch (the size)");
    is_u64(timg_u64(&t, 24), 64 << 20, "size field updated");
    is_u64(timg_u32(&t, 36), 1, "l1_size unchanged");
    is_u64(timg_file_size(&t), len, "file length unchanged");
    instar_put_be64(before + 24, 64 << 20);
    ok(rs_same(&t, before, len), "only the size field changed (extensions preserved)");
    free(before);

    before = rs_snapshot_bytes(&t, &len);
    r = rs_do(&t, "64M", 0, INSTAR_PREALLOC_OFF, "same size");
    ok(r.rc == INSTAR_OK && r.npatches == 0 && rs_same(&t, before, len),
       "same-size resize leaves the file byte-identical");
    free(before);
    r = rs_do(&t, "+513", 0, INSTAR_PREALLOC_OFF, "+513");
    is_int(r.rc, INSTAR_E_NOT_SECTOR_MULTIPLE, "+513 refused");
    ok(strcmp(r.msg, "The new size must be a multiple of 512") == 0, "with qemu's message (%s)", r.msg);
    r = rs_do(&t, "32M", 0, INSTAR_PREALLOC_OFF, "shrink without flag");
    is_int(r.rc, INSTAR_E_SHRINK_NEEDS_FLAG, "shrink without --shrink refused");
    r = rs_do(&t, "32M", 1, INSTAR_PREALLOC_FALLOC, "prealloc shrink");
    is_int(r.rc, INSTAR_E_PREALLOC_NOT_GROW, "preallocation on a shrink refused");
    timg_free(&t);
}

static void test_l1_grow(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    uint8_t buf[4];
    o.feature_table = true;
    timg_create(&t, &o);
    timg_write_cluster(&t, 3, 0xab);        /* L2 at c4, data at c5 */
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "16M -> 1G with data");
    is_int(r.rc, INSTAR_OK, "16M -> 1G succeeds");
    is_u64(timg_u32(&t, 36), 2, "l1_size is exactly size_to_l1 (2)");
    is_u64(timg_u64(&t, 40), 6 << 16, "new L1 first fit after the data (c6)");
    is_u64(timg_file_size(&t), (6 << 16) + 16, "file ends right after the new L1 (exact length)");
    is_u64(timg_get_rc(&t, 3), 0, "old L1 cluster released");
    timg_read(&t, 3 << 16, buf, 4);
    ok(buf[0] == 0xab && buf[3] == 0xab, "guest data still mapped through the new L1");
    is_u64(timg_u32(&t, 112), 0x6803f857, "header extension preserved");

    /* Ping-pong between the freed slots, as qemu. */
    r = rs_do(&t, "2T", 0, INSTAR_PREALLOC_OFF, "1G -> 2T");
    is_u64(timg_u32(&t, 36), 4096, "1G -> 2T: l1_size 4096");
    is_u64(timg_u64(&t, 40), 3 << 16, "1G -> 2T: the 32K L1 reuses the freed c3 (ping-pong, as qemu)");
    r = rs_do(&t, "+512", 0, INSTAR_PREALLOC_OFF, "2T -> 2T+512");
    is_u64(timg_u32(&t, 36), 4097, "2T+512: l1_size 4097");
    timg_free(&t);

    /* A fresh image: the new L1 at c4, as qemu-img resize 16M -> 1G. */
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "fresh 16M -> 1G");
    is_u64(timg_u64(&t, 40), 4 << 16, "fresh 16M -> 1G: L1 at c4 (0x40000)");
    is_u64(timg_file_size(&t), 262160, "file 262160 bytes, as qemu");
    timg_free(&t);

    /* Size 0 (no L1 at all): the L1 lands at c3. */
    o.size = 0;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "0 -> 1G");
    is_int(r.rc, INSTAR_OK, "0 -> 1G succeeds");
    is_u64(timg_u64(&t, 40), 3 << 16, "0 -> 1G: L1 at c3");
    is_u64(timg_file_size(&t), 196624, "0 -> 1G: file 196624, as qemu");
    timg_free(&t);
}

static void test_limit(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    timg_create(&t, &o);
    r = rs_do(&t, "2P", 0, INSTAR_PREALLOC_OFF, "16M -> 2P");
    is_int(r.rc, INSTAR_OK, "16M -> 2P (the L1 limit) succeeds");
    is_u64(timg_u32(&t, 36), 4194304, "l1_size 4 Mi entries");
    is_u64(timg_file_size(&t), 33816576, "file 33816576, as qemu");
    ok(r.npatches <= 6, "a 32 MiB L1 costs a handful of patches (%zu)", r.npatches);
    rs_refused(&t, "+512", "2P + 512", INSTAR_E_TOO_LARGE, "beyond the L1 limit refused",
               "Failed to grow the L1 table: File too large",
               "refused resize leaves the image untouched");
    timg_free(&t);

    o.cluster_bits = 9;
    o.size = 1 << 20;
    timg_create(&t, &o);
    r = rs_do(&t, "128G", 0, INSTAR_PREALLOC_OFF, "512 B clusters 1M -> 128G");
    is_int(r.rc, INSTAR_OK, "512 B clusters: 1M -> 128G (its limit) succeeds");
    is_u64(timg_u32(&t, 36), 4194304, "l1_size 4 Mi entries");
    ok(timg_u32(&t, 56) > 1, "the refcount table grew (%u clusters)", timg_u32(&t, 56));
    is_u64(timg_get_rc(&t, 1), 0, "old refcount table released");
    r = rs_do(&t, "+512", 0, INSTAR_PREALLOC_OFF, "512 B clusters 128G + 512");
    is_int(r.rc, INSTAR_E_TOO_LARGE, "512 B clusters: 128G + 512 refused");
    timg_free(&t);
}

static void test_widths(void)
{
    for (unsigned order = 0; order <= 6; order++) {
        for (unsigned cb = 9; cb <= 16; cb += 7) {
            struct timg t;
            struct timg_opts o = timg_defaults(1 << 20, 0);
            struct rs r;
            char what[96];
            uint64_t want;
            o.cluster_bits = cb;
            o.refcount_order = order;
            o.order_set = true;
            timg_create(&t, &o);
            for (uint64_t g = 0; g < 8; g++)
                timg_write_cluster(&t, g * 3, (uint8_t)(g + 1));
            snprintf(what, sizeof what, "refcount_bits=%u cs=%u 1M -> 8G", 1u << order, 1u << cb);
            r = rs_do(&t, "8G", 0, INSTAR_PREALLOC_OFF, what);
            is_int(r.rc, INSTAR_OK, "%s succeeds", what);
            want = (8ull << 30) / ((1ull << cb) * ((1ull << cb) / 8));
            is_u64(timg_u32(&t, 36), want, "%s: l1_size exact", what);
            snprintf(what, sizeof what, "refcount_bits=%u cs=%u 8G -> 8G+512", 1u << order, 1u << cb);
            r = rs_do(&t, "+512", 0, INSTAR_PREALLOC_OFF, what);
            is_int(r.rc, INSTAR_OK, "%s succeeds", what);
            {
                uint8_t b[2];
                timg_read(&t, (uint64_t)21 << cb, b, 2);
                ok(b[0] == 8 && b[1] == 8, "%s: data intact", what);
            }
            timg_free(&t);
            /* Every crash prefix of the L1 (and refcount) growth. */
            timg_create(&t, &o);
            for (uint64_t g = 0; g < 8; g++)
                timg_write_cluster(&t, g * 3, (uint8_t)(g + 1));
            snprintf(what, sizeof what, "refcount_bits=%u cs=%u big grow (L1 + refcount growth)", 1u << order, 1u << cb);
            rs_crash_prefixes(&t, cb == 9 ? "64G" : "8T", 0, INSTAR_PREALLOC_OFF, what);
            timg_free(&t);
        }
    }
}

static void test_versions(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;

    o.version = 2;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "v2 16M -> 1G");
    is_int(r.rc, INSTAR_OK, "v2 grows");
    is_u64(timg_u32(&t, 4), 2, "v2 stays v2");
    timg_snapshot(&t);
    rs_refused(&t, "2G", "v2 with snapshot", INSTAR_E_SNAPSHOTS, "v2 with snapshots refused",
               "Can't resize a v2 image which has snapshots", "image untouched");
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "v2 with snapshot, same size");
    is_int(r.rc, INSTAR_E_SNAPSHOTS, "even at the same size, as qemu");
    timg_free(&t);

    o.version = 3;
    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 0x11);
    timg_snapshot(&t);
    r = rs_do(&t, "4G", 0, INSTAR_PREALLOC_OFF, "v3 with snapshot 16M -> 4G");
    is_int(r.rc, INSTAR_OK, "v3 with a snapshot grows");
    is_u64(timg_u32(&t, 60), 1, "snapshot kept");
    timg_free(&t);

    o.extl2 = true;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "extended L2 16M -> 1G");
    is_int(r.rc, INSTAR_OK, "extended L2 grows");
    is_u64(timg_u32(&t, 36), 4, "extended L2 halves the coverage: l1_size 4");
    is_u64(timg_u64(&t, 72), 16, "incompatible bits preserved");
    timg_free(&t);

    o.extl2 = false;
    o.lazy = true;
    timg_create(&t, &o);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "lazy refcounts 16M -> 1G");
    is_int(r.rc, INSTAR_OK, "lazy refcounts grows");
    is_u64(timg_u64(&t, 80), 1, "compatible bits preserved");
    timg_free(&t);
}

/* Corrupt one field and expect a clean refusal with the file untouched. */
static void hostile(const char *what, uint64_t off, unsigned width, uint64_t value, int want)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    uint64_t len;
    uint8_t *before;
    o.feature_table = true;
    timg_create(&t, &o);
    if (width == 8)
        timg_put_u64(&t, off, value);
    else
        timg_put_u32(&t, off, (uint32_t)value);
    before = rs_snapshot_bytes(&t, &len);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, what);
    if (want)
        is_int(r.rc, want, "%s: refused (%s)", what, r.msg);
    else
        ok(r.rc != INSTAR_OK, "%s: refused (%s)", what, r.msg);
    ok(rs_same(&t, before, len), "%s: image untouched", what);
    free(before);
    timg_free(&t);
}

static void test_hostile(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    hostile("cluster_bits 30", 20, 4, 30, INSTAR_E_PARSE);
    hostile("cluster_bits 8", 20, 4, 8, INSTAR_E_PARSE);
    hostile("l1_size 5 Mi", 36, 4, 5u << 20, INSTAR_E_PARSE);
    hostile("l1_size 0xffffffff", 36, 4, 0xffffffffu, INSTAR_E_PARSE);
    hostile("l1_size 0 below the size", 36, 4, 0, INSTAR_E_PARSE);
    hostile("misaligned L1 offset", 40, 8, (3 << 16) + 8, INSTAR_E_PARSE);
    hostile("L1 past the end of the file", 40, 8, 1ull << 40, INSTAR_E_PARSE);
    hostile("misaligned reftable", 48, 8, (1 << 16) + 512, INSTAR_E_PARSE);
    hostile("reftable offset 0", 48, 8, 0, INSTAR_E_PARSE);
    hostile("reftable clusters 0", 56, 4, 0, INSTAR_E_PARSE);
    hostile("reftable 4G clusters", 56, 4, 0xffffffffu, INSTAR_E_PARSE);
    hostile("refcount_order 7", 96, 4, 7, INSTAR_E_PARSE);
    hostile("header_length 7", 100, 4, 7, INSTAR_E_PARSE);
    hostile("header_length 1M", 100, 4, 1 << 20, INSTAR_E_PARSE);
    hostile("version 4", 4, 4, 4, INSTAR_E_UNSUPPORTED_SUBFORMAT);
    hostile("dirty", 72, 8, 1, INSTAR_E_NEEDS_CHECK);
    hostile("corrupt", 72, 8, 2, INSTAR_E_NEEDS_CHECK);
    hostile("external data file", 72, 8, 4, INSTAR_E_UNSUPPORTED_SUBFORMAT);
    hostile("unknown incompatible bit", 72, 8, 1ull << 40, INSTAR_E_UNSUPPORTED_SUBFORMAT);
    hostile("encrypted", 32, 4, 2, INSTAR_E_UNSUPPORTED_SUBFORMAT);
    hostile("size 2^63", 24, 8, 1ull << 63, 0);
    hostile("snapshot table misaligned", 60, 4, 1, INSTAR_E_PARSE);
    hostile("bitmaps extension pointing nowhere", 112, 4, 0x23852875, INSTAR_E_PARSE);
    hostile("huge extension length", 116, 4, 0xfffffff0u, INSTAR_E_PARSE);
    /* A refcount table entry pointing nowhere sensible. */
    timg_create(&t, &o);
    timg_put_u64(&t, 1 << 16, (2 << 16) + 512);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "misaligned refblock");
    ok(r.rc != INSTAR_OK, "misaligned refcount block refused (%s)", r.msg);
    timg_free(&t);
    /* A truncated file. */
    timg_create(&t, &o);
    t.m.io.ops->set_size(&t.m.io, 50);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "truncated");
    ok(r.rc != INSTAR_OK, "a 50-byte file is refused (%s)", r.msg);
    t.m.io.ops->set_size(&t.m.io, 70000);
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "truncated after the reftable");
    ok(r.rc != INSTAR_OK, "a file cut inside the refcount block is refused (%s)", r.msg);
    timg_free(&t);
    /* An L1 entry with a misaligned L2 offset (needed by preallocation). */
    timg_create(&t, &o);
    timg_write_cluster(&t, 0, 1);
    timg_put_u64(&t, (3 << 16), (4 << 16) + 512);
    r = rs_do(&t, "17M", 0, INSTAR_PREALLOC_METADATA, "misaligned L2");
    ok(r.rc != INSTAR_OK, "misaligned L2 table refused (%s)", r.msg);
    timg_free(&t);
}

/* A refcount table entry no part of the resize needs is left alone, even
 * when it is corrupt, as qemu-img leaves it (7.2 resizes such an image; its
 * result and ours are byte-identical, measured).  The run of new clusters
 * ends exactly on the next block's boundary: a planner that visits one
 * refcount block too many (an off-by-one in a block range) reads that
 * entry and refuses the image. */
static void test_unneeded_entry(void)
{
    /* 1 KiB clusters, 64-bit refcounts: a block covers 128 clusters.
     * c0 header, c1 table, c2 block 0, c3 L1 (1M: 8 entries); c4-c123 in
     * use.  1M -> 64M needs a 4-cluster L1: c124-c127, the end of block
     * 0.  Entry 1 is not cluster-aligned (qemu-img check: "refcount block
     * 1 is not cluster aligned"); block 1 covers no cluster in use. */
    struct timg t;
    struct timg_opts o = timg_defaults(1 << 20, 10);
    struct instar_resize_args a;
    struct instar_image_plan p;
    struct instar_diag d;
    const uint64_t cs = 1024, bad = 0x20000 + 512;
    int rc;
    o.refcount_order = 6;
    o.order_set = true;
    timg_create(&t, &o);
    for (int i = 0; i < 120; i++)
        timg_alloc(&t);
    is_u64(timg_file_size(&t), 124 * cs, "unneeded entry: 124 clusters in use");
    timg_put_u64(&t, cs + 8, bad);
    test_resize_args(&a, INSTAR_FORMAT_QCOW2, "64M", 0, INSTAR_PREALLOC_OFF);
    instar_diag_clear(&d);
    rc = instar_image_plan(&t.m.io, &a, &p, &d);
    is_int(rc, INSTAR_OK, "unneeded corrupt entry: 1M -> 64M planned (%s)", d.message);
    if (rc == INSTAR_OK) {
        ok(instar_plan_check(&p.plan, NULL) == 0, "unneeded entry: plan passes the invariants");
        is_int(instar_plan_apply(&t.m.io, &p.plan, INSTAR_PREALLOC_OFF, SIZE_MAX, &d), INSTAR_OK,
               "unneeded entry: applied");
    }
    instar_image_plan_free(&p);
    is_u64(timg_u64(&t, 40), 124 * cs, "unneeded entry: new L1 at c124, as qemu");
    is_u64(timg_file_size(&t), 128 * cs, "unneeded entry: file ends on block 1's boundary");
    is_u64(timg_u64(&t, cs + 8), bad, "unneeded entry: left as it was");
    ok(timg_get_rc(&t, 124) == 1 && timg_get_rc(&t, 127) == 1 && timg_get_rc(&t, 3) == 0,
       "unneeded entry: new L1 counted, old one released");
    timg_free(&t);
}

/* The staging protocol, straight on the planner. */
static void test_protocol(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct instar_qcow2_resize_opts q;
    static struct instar_resize_plan plan;
    static uint8_t scratch[1 << 20];
    uint8_t *hdr, *l1, *rt, *rb;
    struct instar_staged_table st;
    int rc;

    timg_create(&t, &o);
    hdr = t.m.data;
    l1 = t.m.data + (3 << 16);
    rt = t.m.data + (1 << 16);
    rb = t.m.data + (2 << 16);
    memset(&q, 0, sizeof q);
    q.req.new_size = 1 << 30;
    q.current_file_size = timg_file_size(&t);
    q.version = 3;
    q.cluster_bits = 16;
    q.virtual_size = 16 << 20;
    q.l1_size = 1;
    q.l1_table_offset = 3 << 16;
    q.refcount_table_offset = 1 << 16;
    q.refcount_table_clusters = 1;
    q.refcount_order = 4;
    q.header_length = 112;
    q.header.data = hdr;
    q.header.len = 1 << 16;
    q.l1.data = l1;
    q.l1.len = 8;
    q.reftable.data = rt;
    q.reftable.len = 1 << 16;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_E_NOT_STAGED, "without refcount blocks: not staged");
    ok(plan.nneeds == 1 && plan.needs[0].kind == INSTAR_NEED_REFBLOCK && plan.needs[0].index == 0,
       "asks for refcount block 0 only");
    st.index = 0;
    st.bytes.data = rb;
    st.bytes.len = 1 << 16;
    q.refblocks = &st;
    q.n_refblocks = 1;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_OK, "with it staged: planned");
    ok(instar_plan_check(&plan, NULL) == 0, "plan passes the invariants");
    ok(plan.npatches >= 3 && plan.patches[plan.npatches - 2].offset == 24
       && plan.patches[plan.npatches - 2].length == 24,
       "prepare, then one 24-byte header commit at 24, then cleanup");
    rc = instar_plan_resize_qcow2(&q, scratch, 100, &plan);
    is_int(rc, INSTAR_E_SCRATCH_TOO_SMALL, "tiny scratch: scratch too small");
    rc = instar_plan_resize_qcow2(&q, NULL, 0, &plan);
    is_int(rc, INSTAR_E_SCRATCH_TOO_SMALL, "no scratch: scratch too small");
    q.l1_size = 2;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_E_HEADER_MISMATCH, "options disagreeing with the header: mismatch");
    q.l1_size = 1;
    q.l1.len = 4;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_E_HEADER_MISMATCH, "short L1 slice: mismatch");
    q.l1.len = 8;
    st.index = 9000;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_E_HEADER_MISMATCH, "staged block with an absurd index: mismatch");
    q.header.len = 50;
    rc = instar_plan_resize_qcow2(&q, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_E_PARSE, "short header slice: parse error");
    timg_free(&t);
}

/* A refcount table with a hole (a block unhooked by a shrink between live
 * ones): new blocks fill the hole without touching the live entries. */
static void test_holed_reftable(void)
{
    /* 512 B clusters, 16-bit refcounts: a block covers 256 clusters.
     * c0-c4 header, table, block 0, L1 (2 clusters); 247 data + 4 L2
     * fill block 0; 251 data + 4 L2 + block 1 itself fill block 1; more
     * data goes to block 2.  Shrinking away the second set empties block
     * 1: a hole between live entries 0 and 2. */
    struct timg t;
    struct timg_opts o = timg_defaults(4 << 20, 0);
    struct rs r;
    uint64_t rt = 512, e[4], hole = 0;
    o.cluster_bits = 9;
    timg_create(&t, &o);
    for (uint64_t g = 0; g < 247; g++)
        timg_write_cluster(&t, g, 1);
    for (uint64_t g = 1024; g < 1024 + 251; g++)
        timg_write_cluster(&t, g, 2);
    for (uint64_t g = 300; g < 400; g++)
        timg_write_cluster(&t, g, 3);
    r = rs_do(&t, "512K", 1, INSTAR_PREALLOC_OFF, "shrink that unhooks a middle block");
    is_int(r.rc, INSTAR_OK, "shrink succeeds");
    for (uint64_t i = 0; i < 4; i++)
        e[i] = timg_u64(&t, rt + i * 8);
    for (uint64_t i = 1; i < 3; i++)
        if (e[i] == 0 && e[i + 1] != 0)
            hole = i;
    is_u64(hole, 1, "the refcount table has a hole at entry 1");
    r = rs_do(&t, "256M", 0, INSTAR_PREALLOC_OFF, "grow into the hole");
    is_int(r.rc, INSTAR_OK, "grow succeeds");
    is_u64(timg_u64(&t, 40), 256 * 512, "the new L1 goes first fit into the hole (c256)");
    ok(timg_u64(&t, rt + 8) != 0, "the hole got a new refcount block");
    is_u64(timg_u64(&t, rt + 16), e[2], "the live entry after it is untouched");
    {
        uint8_t b;
        timg_read(&t, 350ull * 512, &b, 1);
        is_int(b, 3, "data behind the live block intact");
    }
    timg_free(&t);
}

/* Persistent bitmaps: carried through while no bitmap table changes size. */
static void test_bitmaps(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct rs r;
    uint64_t dir, len, blen;
    uint8_t *before, *bm;
    timg_create(&t, &o);
    timg_write_cluster(&t, 1, 1);
    dir = timg_bitmap(&t, 16, 2);
    {
        unsigned leaks, errs = timg_check(&t, &leaks);
        ok(errs == 0 && leaks == 0, "test image with a bitmap is consistent");
    }
    bm = rs_snapshot_bytes(&t, &blen);
    r = rs_do(&t, "8M", 1, INSTAR_PREALLOC_OFF, "bitmap 16M -> 8M");
    is_int(r.rc, INSTAR_OK, "shrink with a bitmap whose table keeps its size");
    r = rs_do(&t, "1G", 0, INSTAR_PREALLOC_OFF, "bitmap 8M -> 1G");
    is_int(r.rc, INSTAR_OK, "grow with a bitmap whose table keeps its size");
    {
        uint8_t a[64];
        instar_io_read(&t.m.io, a, sizeof a, dir);
        ok(memcmp(a, bm + dir, sizeof a) == 0, "bitmap directory untouched");
        is_u64(timg_u64(&t, 88) & 1, 1, "bitmaps autoclear bit kept");
    }
    free(bm);
    (void)before;
    (void)len;
    r = rs_do(&t, "2T", 0, INSTAR_PREALLOC_OFF, "bitmap 1G -> 2T");
    is_int(r.rc, INSTAR_OK, "a bitmap table that must grow: rewritten");
    {
        uint64_t ndir = timg_u64(&t, 112 + 24), tab = timg_u64(&t, ndir);
        ok(ndir != dir, "the bitmaps extension points to a new directory");
        is_u64(timg_u32(&t, ndir + 8), 64, "its table has the 64 entries 2T needs");
        is_u64(timg_get_rc(&t, dir >> 16), 0, "the old directory released");
        ok(timg_u64(&t, tab) != 0, "the old table's first entry (with data) kept");
        /* Data for entry 10 of the big table, then shrink back. */
        timg_put_u64(&t, tab + 80, timg_alloc(&t) << 16);
    }
    {
        unsigned leaks, errs = timg_check(&t, &leaks);
        ok(errs == 0 && leaks == 0, "with a second bitmap data cluster, still consistent");
    }
    r = rs_do(&t, "1G", 1, INSTAR_PREALLOC_OFF, "bitmap 2T -> 1G");
    is_int(r.rc, INSTAR_OK, "a bitmap table that must shrink: rewritten");
    is_u64(timg_u32(&t, timg_u64(&t, 112 + 24) + 8), 1, "back to one entry (dropped data freed)");
    rs_crash_prefixes(&t, "4T", 0, INSTAR_PREALLOC_OFF, "bitmap table rewrite");
    timg_free(&t);

    timg_create(&t, &o);
    timg_bitmap(&t, 16, 1);
    r = rs_do(&t, "32M", 0, INSTAR_PREALLOC_OFF, "in-use bitmap");
    is_int(r.rc, INSTAR_E_BITMAPS, "an in-use (inconsistent) bitmap: refused");
    timg_free(&t);

    timg_create(&t, &o);
    dir = timg_bitmap(&t, 16, 2);
    timg_put_u64(&t, 112 + 16, 1ull << 40);     /* directory size */
    r = rs_do(&t, "32M", 0, INSTAR_PREALLOC_OFF, "absurd directory size");
    is_int(r.rc, INSTAR_E_PARSE, "an absurd bitmap directory size: parse error");
    timg_put_u64(&t, 112 + 16, 32);
    timg_put_u32(&t, dir + 8, 0);               /* table size 0 */
    r = rs_do(&t, "32M", 0, INSTAR_PREALLOC_OFF, "table size 0");
    is_int(r.rc, INSTAR_E_PARSE, "a bitmap with an empty table: parse error");
    timg_free(&t);
}

/* qemu's limits with persistent bitmaps (qcow2_co_truncate's order): the
 * L1 limit is not skipped by the bitmap check; a bitmap whose data would
 * outgrow 512 MiB leaves every bitmap marked in use (qemu's failed store),
 * its table unchanged; past 2^41 granules (qemu aborts) a refusal. */
static void test_bitmap_limits(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(1ull << 30, 0);
    struct rs r;
    uint64_t dir, tab;

    o.cluster_bits = 12;
    timg_create(&t, &o);
    timg_bitmap(&t, 12, 2);
    rs_refused(&t, "16T", "4K clusters, bitmap: 1G -> 16T", INSTAR_E_TOO_LARGE,
               "past the L1 limit with a bitmap: refused", NULL,
               "the refusal leaves the image byte-identical");
    r = rs_do(&t, "8796093022720", 0, INSTAR_PREALLOC_OFF, "bitmap: one sector past 8T");
    is_int(r.rc, INSTAR_E_TOO_LARGE, "one sector past the L1 limit: refused");
    r = rs_do(&t, "1E", 0, INSTAR_PREALLOC_OFF, "bitmap: 1E");
    is_int(r.rc, INSTAR_E_TOO_LARGE, "1E with a bitmap: refused by the L1 limit");
    timg_free(&t);

    timg_create(&t, &o);
    dir = timg_bitmap(&t, 9, 2);
    tab = timg_u64(&t, dir);
    r = rs_do(&t, "2T", 0, INSTAR_PREALLOC_OFF, "512-byte granularity: 1G -> 2T");
    is_int(r.rc, INSTAR_OK, "at the bitmap data limit (512 MiB): resized");
    dir = timg_u64(&t, 112 + 24);
    is_u64(timg_u32(&t, dir + 12), 2, "the bitmap stays consistent (rewritten)");
    is_u64(timg_u32(&t, dir + 8), 131072, "its table has the 131072 entries 2T needs");
    tab = timg_u64(&t, dir);
    r = rs_do(&t, "2199023256064", 0, INSTAR_PREALLOC_OFF, "one sector past 2T");
    is_int(r.rc, INSTAR_OK, "one sector past the bitmap limit: resized, as qemu");
    is_u64(timg_u64(&t, 24), 2199023256064ull, "the new size");
    is_u64(timg_u64(&t, 112 + 24), dir, "the directory stays where it is");
    is_u64(timg_u32(&t, dir + 12), 3, "the bitmap is marked in use");
    is_u64(timg_u64(&t, dir), tab, "its table unchanged");
    r = rs_do(&t, "3T", 0, INSTAR_PREALLOC_OFF, "in use after the limit");
    is_int(r.rc, INSTAR_E_BITMAPS, "then an in-use bitmap: refused");
    timg_free(&t);

    /* The in-use marks come before the commit: every prefix is clean. */
    timg_create(&t, &o);
    timg_bitmap(&t, 9, 2);
    rs_crash_prefixes(&t, "2199023256064", 0, INSTAR_PREALLOC_OFF, "bitmaps marked in use");
    {
        struct instar_resize_args a;
        struct instar_image_plan p;
        size_t at_dir = SIZE_MAX, at_size = SIZE_MAX;
        uint64_t d = timg_u64(&t, 112 + 24);
        test_resize_args(&a, INSTAR_FORMAT_QCOW2, "2199023256064", false, INSTAR_PREALLOC_OFF);
        is_int(instar_image_plan(&t.m.io, &a, &p, NULL), INSTAR_OK, "planned again");
        for (size_t k = 0; k < p.plan.npatches; k++) {
            if (p.plan.patches[k].offset == d && at_dir == SIZE_MAX)
                at_dir = k;
            if (p.plan.patches[k].offset == 24 && at_size == SIZE_MAX)
                at_size = k;
        }
        ok(at_dir < at_size && at_size != SIZE_MAX,
           "the in-use marks (patch %zu) precede the size commit (patch %zu)", at_dir, at_size);
        instar_image_plan_free(&p);
    }
    timg_free(&t);

    o.cluster_bits = 21;
    timg_create(&t, &o);
    timg_bitmap(&t, 16, 2);
    rs_refused(&t, "1E", "2M clusters, 64K granularity: 1E", INSTAR_E_BITMAPS,
               "more than 2^41 granules (qemu aborts): refused", NULL,
               "the refusal leaves the image byte-identical");
    timg_free(&t);
}

/* The payload bytes of P's patches (scratch they point into). */
static uint64_t payload_bytes(const struct instar_image_plan *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->plan.npatches; i++)
        if (p->plan.patches[i].data != NULL)
            n += p->plan.patches[i].length;
    return n;
}

static bool same_plan(const struct instar_resize_plan *a, const struct instar_resize_plan *b)
{
    if (a->npatches != b->npatches || a->total_file_size != b->total_file_size
        || a->new_virtual_size != b->new_virtual_size || a->prealloc_offset != b->prealloc_offset
        || a->prealloc_length != b->prealloc_length || a->ndiscards != b->ndiscards)
        return false;
    for (size_t i = 0; i < a->npatches; i++) {
        const struct instar_patch *x = &a->patches[i], *y = &b->patches[i];
        if (x->kind != y->kind || x->offset != y->offset || x->length != y->length
            || (x->data == NULL) != (y->data == NULL)
            || (x->data != NULL && memcmp(x->data, y->data, (size_t)x->length) != 0))
            return false;
    }
    return true;
}

/* args.scratch_limit: a plan needing more scratch is refused before it is
 * built (the engine fuzz target's store could never hold it); a limit it
 * fits in plans byte for byte as no limit does. */
static void test_scratch_limit(void)
{
    struct timg t;
    struct timg_opts o = timg_defaults(16 << 20, 0);
    struct instar_resize_args a;
    struct instar_image_plan free_p, lim_p;
    struct instar_diag d;
    uint8_t *before;
    uint64_t len, need;
    timg_create(&t, &o);
    before = rs_snapshot_bytes(&t, &len);
    /* 64 GiB of preallocated metadata: 1 Mi L2 entries, 8 MiB of L2 tables. */
    test_resize_args(&a, INSTAR_FORMAT_QCOW2, "+64G", false, INSTAR_PREALLOC_METADATA);
    instar_diag_clear(&d);
    is_int(instar_image_plan(&t.m.io, &a, &free_p, &d), INSTAR_OK, "+64G metadata: planned");
    need = payload_bytes(&free_p);
    ok(need > (8u << 20), "the plan carries its L2 tables (%" PRIu64 " bytes)", need);

    size_t limits[] = {4096, 1u << 20, (size_t)need - 1};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        a.scratch_limit = limits[k];
        instar_diag_clear(&d);
        is_int(instar_image_plan(&t.m.io, &a, &lim_p, &d), INSTAR_E_SCRATCH_TOO_SMALL,
               "scratch limit %zu below the plan's payload: refused", limits[k]);
        /* The planner may add why (the runs alone outgrow the scratch). */
        ok(strncmp(d.message, "The resize needs more metadata than one plan may carry "
                   "(not supported)", 70) == 0, "  saying so (%s)", d.message);
        ok(lim_p.scratch_len <= limits[k], "  scratch never beyond the limit (%zu)",
           lim_p.scratch_len);
        instar_image_plan_free(&lim_p);
    }
    a.scratch_limit = 64u << 20;
    instar_diag_clear(&d);
    is_int(instar_image_plan(&t.m.io, &a, &lim_p, &d), INSTAR_OK,
           "a limit the plan fits in: planned");
    ok(same_plan(&free_p.plan, &lim_p.plan), "  the same plan as without a limit");
    ok(lim_p.scratch_len <= (64u << 20), "  in scratch within the limit (%zu)", lim_p.scratch_len);
    instar_image_plan_free(&lim_p);

    /* The caller's buffer: planned in it, the same plan; too small a
     * buffer refused as too small a limit is. */
    size_t blen = 32u << 20;
    uint8_t *buf = malloc(blen);
    a.scratch = buf;
    a.scratch_limit = 1u << 20;
    instar_diag_clear(&d);
    is_int(instar_image_plan(&t.m.io, &a, &lim_p, &d), INSTAR_E_SCRATCH_TOO_SMALL,
           "a caller's 1 MiB buffer: refused");
    instar_image_plan_free(&lim_p);
    a.scratch_limit = blen;
    instar_diag_clear(&d);
    is_int(instar_image_plan(&t.m.io, &a, &lim_p, &d), INSTAR_OK,
           "a caller's 32 MiB buffer: planned");
    ok(same_plan(&free_p.plan, &lim_p.plan), "  the same plan as in the engine's own scratch");
    bool inside = lim_p.scratch == NULL;
    for (size_t i = 0; i < lim_p.plan.npatches; i++) {
        const struct instar_patch *x = &lim_p.plan.patches[i];
        if (x->data != NULL && (x->data < buf || x->data + x->length > buf + blen))
            inside = false;
    }
    ok(inside, "  every payload in the caller's buffer, none in memory of the engine's own");
    instar_image_plan_free(&lim_p);
    free(buf);
    instar_image_plan_free(&free_p);
    ok(rs_same(&t, before, len), "planning wrote nothing");
    free(before);
    timg_free(&t);
}

int main(void)
{
    test_scratch_limit();
    test_bitmaps();
    test_bitmap_limits();
    test_holed_reftable();
    test_header_only();
    test_l1_grow();
    test_limit();
    test_widths();
    test_versions();
    test_hostile();
    test_unneeded_entry();
    test_protocol();
    return tap_done();
}
