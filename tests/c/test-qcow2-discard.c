/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-qcow2-discard.c -- a shrink names the clusters it released as
 * discard ranges, and the engine gives their space back only after the
 * last patch, best effort:
 *  - the ranges cover exactly the released clusters inside the final
 *    file (none still referenced, none past the end);
 *  - a store that punches holes gets them after every patch was synced;
 *    the image stays consistent and the kept data intact;
 *  - a store that cannot (EOPNOTSUPP) is asked once, and the resize
 *    succeeds all the same;
 *  - a crash prefix discards nothing; a grow names no ranges. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/io.h"
#include "qcow2-testimg.h"
#include "tap.h"
#include "testutil.h"

struct store {
    struct instar_mem_io *m;
    struct instar_io_ops ops;
    const struct instar_io_ops *base;
    bool refuse;                /* discard: EOPNOTSUPP */
    unsigned calls;
    unsigned writes_after;      /* writes seen after the first discard */
    bool discarding;
};

static struct store st;

static int s_discard(struct instar_io *io, uint64_t off, uint64_t len)
{
    st.calls++;
    st.discarding = true;
    if (st.refuse) {
        io->sys_errno = EOPNOTSUPP;
        return INSTAR_E_IO;
    }
    /* A hole reads as zeros. */
    if (off < st.m->size)
        memset(st.m->data + off, 0, (size_t)(len < st.m->size - off ? len : st.m->size - off));
    return INSTAR_OK;
}

static int s_pwrite(struct instar_io *io, const void *b, size_t len, uint64_t off)
{
    if (st.discarding)
        st.writes_after++;
    return st.base->pwrite(io, b, len, off);
}

static void wrap(struct timg *t, bool refuse)
{
    memset(&st, 0, sizeof st);
    st.m = &t->m;
    st.base = t->m.io.ops;
    st.ops = *t->m.io.ops;
    st.ops.discard = s_discard;
    st.ops.pwrite = s_pwrite;
    st.refuse = refuse;
    t->m.io.ops = &st.ops;
}

static void unwrap(struct timg *t)
{
    t->m.io.ops = st.base;
}

static uint64_t host_of(struct timg *t, uint64_t gc)
{
    return (timg_l2_entry(t, gc) & 0x00fffffffffffe00ull) >> t->cb;
}

static int plan(struct timg *t, const char *spec, bool shrink, struct instar_image_plan *p)
{
    struct instar_resize_args a;
    struct instar_diag d;
    instar_diag_clear(&d);
    if (test_resize_args(&a, INSTAR_FORMAT_QCOW2, spec, shrink, INSTAR_PREALLOC_OFF) != 0)
        return -1;
    return instar_image_plan(&t->m.io, &a, p, &d);
}

/* 64M image, data in guest clusters 0 and 200..263; the latter are
 * released by a shrink to 1M. */
static void build(struct timg *t)
{
    struct timg_opts o;
    memset(&o, 0, sizeof o);
    o.size = 64 << 20;
    o.cluster_bits = 16;
    timg_create(t, &o);
    for (uint64_t g = 200; g < 264; g++)
        timg_write_cluster(t, g, 0x77);
    timg_write_cluster(t, 0, 0x11);
}

static void test_ranges(void)
{
    struct timg t;
    struct instar_image_plan p;
    struct instar_diag d;
    uint64_t released[64], covered = 0;
    unsigned leaks;
    build(&t);
    for (int i = 0; i < 64; i++)
        released[i] = host_of(&t, 200 + (uint64_t)i);
    is_int(plan(&t, "1M", true, &p), INSTAR_OK, "shrink 64M -> 1M planned");
    ok(p.plan.ndiscards > 0, "the plan names released ranges (%zu)", p.plan.ndiscards);
    for (size_t i = 0; i < p.plan.ndiscards; i++) {
        const struct instar_range *r = &p.plan.discards[i];
        ok(r->offset % t.cs == 0 && r->length % t.cs == 0 && r->length > 0
           && r->offset + r->length <= p.plan.total_file_size,
           "range %zu [%llu, +%llu) is whole clusters inside the final file", i,
           (unsigned long long)r->offset, (unsigned long long)r->length);
        covered += r->length;
    }
    instar_diag_clear(&d);
    wrap(&t, false);
    is_int(instar_plan_apply(&t.m.io, &p.plan, INSTAR_PREALLOC_OFF, SIZE_MAX, &d), INSTAR_OK,
           "applied");
    unwrap(&t);
    ok(st.writes_after == 0, "no patch written after the first discard");
    is_int(timg_check(&t, &leaks), 0, "image consistent after the discards");
    is_int(leaks, 0, "no leaks");
    for (size_t i = 0; i < p.plan.ndiscards; i++)
        for (uint64_t c = p.plan.discards[i].offset >> t.cb;
             c < (p.plan.discards[i].offset + p.plan.discards[i].length) >> t.cb; c++)
            if (timg_get_rc(&t, c) != 0)
                ok(0, "discarded cluster %llu still has a refcount", (unsigned long long)c);
    {
        uint64_t want = 0;
        for (int i = 0; i < 64; i++)
            want += (released[i] << t.cb) < p.plan.total_file_size ? t.cs : 0;
        ok(covered >= want, "every released data cluster inside the file is named "
           "(%llu bytes named, %llu released)", (unsigned long long)covered,
           (unsigned long long)want);
    }
    uint8_t b[4];
    timg_read(&t, 0, b, sizeof b);
    ok(b[0] == 0x11 && b[3] == 0x11, "kept data intact");
    instar_image_plan_free(&p);
    timg_free(&t);
}

static void test_unsupported(void)
{
    struct timg t;
    struct instar_image_plan p;
    struct instar_diag d;
    unsigned leaks;
    uint8_t b[4];
    build(&t);
    is_int(plan(&t, "1M", true, &p), INSTAR_OK, "shrink planned");
    instar_diag_clear(&d);
    wrap(&t, true);
    is_int(instar_plan_apply(&t.m.io, &p.plan, INSTAR_PREALLOC_OFF, SIZE_MAX, &d), INSTAR_OK,
           "EOPNOTSUPP from discard: the resize still succeeds");
    unwrap(&t);
    is_int(st.calls, 1, "asked once, then given up");
    is_u64(timg_u64(&t, 24), 1 << 20, "size 1M");
    is_int(timg_check(&t, &leaks), 0, "image consistent");
    timg_read(&t, 0, b, sizeof b);
    ok(b[0] == 0x11, "kept data intact");
    instar_image_plan_free(&p);
    timg_free(&t);
}

static void test_prefix_and_grow(void)
{
    struct timg t;
    struct instar_image_plan p;
    struct instar_diag d;
    build(&t);
    is_int(plan(&t, "1M", true, &p), INSTAR_OK, "shrink planned");
    instar_diag_clear(&d);
    wrap(&t, false);
    for (size_t n = 0; n < p.plan.npatches; n++)
        (void)instar_plan_apply(&t.m.io, &p.plan, INSTAR_PREALLOC_OFF, n, &d);
    unwrap(&t);
    is_int(st.calls, 0, "crash prefixes discard nothing");
    instar_image_plan_free(&p);
    timg_free(&t);

    build(&t);
    is_int(plan(&t, "1G", false, &p), INSTAR_OK, "grow planned");
    is_int(p.plan.ndiscards, 0, "a grow names no released ranges");
    instar_image_plan_free(&p);
    timg_free(&t);
}

int main(void)
{
    test_ranges();
    test_unsupported();
    test_prefix_and_grow();
    return tap_done();
}
