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
    memset(&a, 0, sizeof a);
    a.format = INSTAR_FORMAT_QCOW2;
    a.allow_shrink = shrink;
    a.prealloc = pa;
    instar_diag_clear(&d);
    if (instar_parse_size_spec(spec, &a.size) != INSTAR_OK) {
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
