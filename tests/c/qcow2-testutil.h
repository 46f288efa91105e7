/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-testutil.h -- resize an in-memory test image through the engine
 * and assert what every successful resize must satisfy. */
#ifndef INSTAR_QCOW2_TESTUTIL_H
#define INSTAR_QCOW2_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "qcow2-testimg.h"
#include "tap.h"
#include "testutil.h"

struct rs {
    int rc;
    char msg[512];
    size_t npatches;
    uint64_t total, prealloc_off, prealloc_len;
    enum instar_resize_action action;
};

/* Plan and apply SPEC; on success assert the invariants and the walker. */
static inline struct rs rs_do(struct timg *t, const char *spec, int shrink,
                              enum instar_prealloc pa, const char *what)
{
    struct rs r;
    struct instar_resize_args a;
    struct instar_image_plan p;
    struct instar_diag d;
    memset(&r, 0, sizeof r);
    instar_diag_clear(&d);
    if (test_resize_args(&a, INSTAR_FORMAT_QCOW2, spec, shrink, pa) != 0) {
        r.rc = -1;
        return r;
    }
    r.rc = instar_image_plan(&t->m.io, &a, &p, &d);
    if (r.rc == INSTAR_OK) {
        struct instar_check_report rep;
        r.npatches = p.plan.npatches;
        r.total = p.plan.total_file_size;
        r.prealloc_off = p.plan.prealloc_offset;
        r.prealloc_len = p.plan.prealloc_length;
        r.action = p.plan.action;
        ok(instar_plan_check(&p.plan, &rep) == 0, "%s: plan passes the invariants (%zu patches)",
           what, p.plan.npatches);
        r.rc = instar_plan_apply(&t->m.io, &p.plan, pa, SIZE_MAX, &d);
        if (r.rc == INSTAR_OK) {
            unsigned leaks, errs = timg_check(t, &leaks);
            ok(errs == 0 && leaks == 0, "%s: refcounts consistent (%u errors, %u leaks)",
               what, errs, leaks);
        }
    }
    snprintf(r.msg, sizeof r.msg, "%s", d.message);
    instar_image_plan_free(&p);
    return r;
}

static inline uint8_t *rs_snapshot_bytes(struct timg *t, uint64_t *len)
{
    uint8_t *b;
    *len = timg_file_size(t);
    b = malloc(*len ? *len : 1);
    instar_io_read(&t->m.io, b, *len, 0);
    return b;
}

/* The image is byte-identical to BYTES. */
static inline int rs_same(struct timg *t, const uint8_t *bytes, uint64_t len)
{
    uint64_t l2;
    uint8_t *now = rs_snapshot_bytes(t, &l2);
    int same = l2 == len && memcmp(now, bytes, len) == 0;
    free(now);
    return same;
}

#endif

/* Grow to SPEC (no --shrink, no preallocation) refused with WANT -- and,
 * when MSG is not NULL, with qemu's message MSG -- and the image left
 * byte-identical; REFUSED and UNTOUCHED describe those two checks. */
static inline void rs_refused(struct timg *t, const char *spec, const char *what, int want,
                              const char *refused, const char *msg, const char *untouched)
{
    uint64_t len;
    uint8_t *before = rs_snapshot_bytes(t, &len);
    struct rs r = rs_do(t, spec, 0, INSTAR_PREALLOC_OFF, what);
    is_int(r.rc, want, "%s", refused);
    if (msg)
        ok(strcmp(r.msg, msg) == 0, "qemu's message (%s)", r.msg);
    ok(rs_same(t, before, len), "%s", untouched);
    free(before);
}

/* Plan SPEC once, then apply every prefix of the plan (a crash after k
 * patches) to a fresh copy: none may leave a corrupt image (leaks are
 * allowed).  The full plan must also leave no leak. */
static inline void rs_crash_prefixes(struct timg *t, const char *spec, int shrink,
                                     enum instar_prealloc pa, const char *what)
{
    struct instar_resize_args a;
    struct instar_image_plan p;
    struct instar_diag d;
    uint64_t len;
    uint8_t *orig = rs_snapshot_bytes(t, &len);
    unsigned bad = 0;
    size_t n;
    test_resize_args(&a, INSTAR_FORMAT_QCOW2, spec, shrink, pa);
    if (!ok(instar_image_plan(&t->m.io, &a, &p, &d) == INSTAR_OK, "%s: planned", what)) {
        printf("#   %s\n", d.message);
        instar_image_plan_free(&p);
        free(orig);
        return;
    }
    n = p.plan.npatches;
    for (size_t k = 0; k <= n; k++) {
        struct timg c = *t;
        unsigned leaks, errs;
        instar_mem_io_init(&c.m, 1ull << 31);
        instar_mem_io_load(&c.m, orig, len);
        instar_plan_apply(&c.m.io, &p.plan, pa, k == n ? SIZE_MAX : k, &d);
        timg_quiet_leaks = k < n;
        errs = timg_check(&c, &leaks);
        timg_quiet_leaks = false;
        if (errs != 0 || (k == n && leaks != 0)) {
            printf("#   prefix %zu of %zu: %u errors, %u leaks\n", k, n, errs, leaks);
            bad++;
        }
        instar_mem_io_free(&c.m);
    }
    ok(bad == 0, "%s: every crash prefix (0..%zu patches) is free of corruption", what, n);
    instar_image_plan_free(&p);
    free(orig);
}
