/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-invariants.c -- each plan invariant fires on a plan built to break
 * it, and valid plans (including the edge cases) pass. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "instar/plan.h"
#include "tap.h"

static const uint8_t payload[16];

static void add(struct instar_resize_plan *p, enum instar_patch_kind k,
                uint64_t off, uint64_t len)
{
    struct instar_patch *pt = &p->patches[p->npatches++];
    pt->kind = k;
    pt->offset = off;
    pt->length = len;
    pt->data = k == INSTAR_PATCH_ZERO_FILL ? NULL : payload;
}

static size_t check(const struct instar_resize_plan *p, struct instar_check_report *r)
{
    memset(r, 0, sizeof *r);
    return instar_plan_check(p, r);
}

static void test_valid_plans(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;

    instar_plan_init(&p);
    is_u64(check(&p, &r), 0, "empty plan passes");

    instar_plan_init(&p);
    p.total_file_size = 4096;
    add(&p, INSTAR_PATCH_WRITE, 0, 512);
    add(&p, INSTAR_PATCH_WRITE, 512, 512);        /* adjacent, not overlapping */
    add(&p, INSTAR_PATCH_ZERO_FILL, 1024, 3072);  /* ends exactly at total */
    add(&p, INSTAR_PATCH_APPEND, 4000, 96);       /* ends exactly at total */
    is_u64(check(&p, &r), 0, "adjacent writes and patches ending exactly at total_file_size pass");

    instar_plan_init(&p);
    p.total_file_size = 0;
    add(&p, INSTAR_PATCH_WRITE, 0, 0);
    add(&p, INSTAR_PATCH_WRITE, 0, 0);
    is_u64(check(&p, &r), 0, "zero-length writes at the same offset do not overlap");

    instar_plan_init(&p);
    p.total_file_size = UINT64_MAX;
    add(&p, INSTAR_PATCH_WRITE, UINT64_MAX - 16, 16);  /* ends exactly at 2^64-1 */
    add(&p, INSTAR_PATCH_ZERO_FILL, UINT64_MAX, 0);
    is_u64(check(&p, &r), 0, "patches ending at 2^64-1 pass");

    instar_plan_init(&p);
    p.total_file_size = 1 << 20;
    for (int i = 0; i < INSTAR_MAX_RESIZE_PATCHES; i++)
        add(&p, INSTAR_PATCH_WRITE, (uint64_t)(INSTAR_MAX_RESIZE_PATCHES - 1 - i) * 16, 16);
    is_u64(check(&p, &r), 0, "128 disjoint writes in reverse order pass");

    instar_plan_init(&p);
    p.total_file_size = 8192;
    add(&p, INSTAR_PATCH_WRITE, 0, 4096);
    add(&p, INSTAR_PATCH_ZERO_FILL, 0, 8192);      /* zero-fill may cover writes */
    add(&p, INSTAR_PATCH_APPEND, 4096, 4096);
    add(&p, INSTAR_PATCH_APPEND, 4096, 4096);      /* appends are not writes */
    is_u64(check(&p, &r), 0, "only WRITE patches are subject to invariant 4");
}

static void test_count(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;
    instar_plan_init(&p);
    p.total_file_size = 1 << 20;
    for (int i = 0; i < INSTAR_MAX_RESIZE_PATCHES; i++)
        add(&p, INSTAR_PATCH_ZERO_FILL, (uint64_t)i, 1);
    p.npatches = INSTAR_MAX_RESIZE_PATCHES + 1;  /* a corrupt count */
    is_u64(check(&p, &r), 1, "129 patches: one violation");
    is_int(r.violations[0].invariant, INSTAR_INV_PATCH_COUNT, "reported as invariant 1");

    p.npatches = SIZE_MAX;
    is_u64(check(&p, &r), 1, "SIZE_MAX patches: checked safely, one violation");
}

static void test_overflow(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;
    instar_plan_init(&p);
    p.total_file_size = UINT64_MAX;
    add(&p, INSTAR_PATCH_WRITE, 0, 16);
    add(&p, INSTAR_PATCH_WRITE, UINT64_MAX, 1);
    is_u64(check(&p, &r), 1, "offset 2^64-1 + 1 byte: one violation");
    is_int(r.violations[0].invariant, INSTAR_INV_OFFSET_OVERFLOW, "reported as invariant 2");
    is_u64(r.violations[0].patch_a, 1, "names patch 1");

    instar_plan_init(&p);
    p.total_file_size = UINT64_MAX;
    add(&p, INSTAR_PATCH_ZERO_FILL, 1, UINT64_MAX);
    is_u64(check(&p, &r), 1, "zero-fill with length 2^64-1 at offset 1 overflows");
    is_int(r.violations[0].invariant, INSTAR_INV_OFFSET_OVERFLOW, "reported as invariant 2");
}

static void test_beyond_end(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;
    static const enum instar_patch_kind kinds[] = {
        INSTAR_PATCH_WRITE, INSTAR_PATCH_APPEND, INSTAR_PATCH_ZERO_FILL};
    for (int k = 0; k < 3; k++) {
        instar_plan_init(&p);
        p.total_file_size = 4096;
        add(&p, kinds[k], 4090, 7);
        is_u64(check(&p, &r), 1, "%s ending one byte past the end is caught",
               instar_patch_kind_name(kinds[k]));
        is_int(r.violations[0].invariant, INSTAR_INV_BEYOND_END, "reported as invariant 3");
    }
    instar_plan_init(&p);
    p.total_file_size = 0;
    add(&p, INSTAR_PATCH_ZERO_FILL, 1, 0);
    is_u64(check(&p, &r), 1, "zero-length patch starting past a 0-byte end is caught");
}

static void test_overlap(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;
    char msg[256];

    instar_plan_init(&p);
    p.total_file_size = 1 << 20;
    add(&p, INSTAR_PATCH_WRITE, 4096, 512);
    add(&p, INSTAR_PATCH_WRITE, 0, 512);
    add(&p, INSTAR_PATCH_WRITE, 4607, 2);   /* overlaps patch 0 by one byte */
    is_u64(check(&p, &r), 1, "one-byte overlap is caught");
    is_int(r.violations[0].invariant, INSTAR_INV_WRITE_OVERLAP, "reported as invariant 4");
    ok(r.violations[0].patch_a == 0 && r.violations[0].patch_b == 2,
       "names patches 0 and 2 (got %zu, %zu)", r.violations[0].patch_a, r.violations[0].patch_b);
    instar_violation_format(&p, &r.violations[0], msg, sizeof msg);
    ok(strstr(msg, "invariant 4") && strstr(msg, "patches 0") && strstr(msg, "and 2"),
       "message names the invariant and patches: %s", msg);

    instar_plan_init(&p);
    p.total_file_size = 1 << 20;
    add(&p, INSTAR_PATCH_WRITE, 0, 10000);  /* covers both of the next */
    add(&p, INSTAR_PATCH_WRITE, 100, 10);
    add(&p, INSTAR_PATCH_WRITE, 5000, 10);
    is_u64(check(&p, &r), 2, "a long write overlapping two short ones gives two violations");

    instar_plan_init(&p);
    p.total_file_size = 1 << 20;
    add(&p, INSTAR_PATCH_WRITE, 64, 8);
    add(&p, INSTAR_PATCH_WRITE, 64, 8);
    is_u64(check(&p, &r), 1, "the same range written twice is caught");
}

static void test_many_violations(void)
{
    struct instar_resize_plan p;
    struct instar_check_report r;
    instar_plan_init(&p);
    p.total_file_size = 10;
    for (int i = 0; i < 40; i++)
        add(&p, INSTAR_PATCH_APPEND, 100, 1);
    is_u64(check(&p, &r), 40, "every violation is counted beyond the stored ones");
    is_u64(instar_plan_check(&p, NULL), 40, "a NULL report is accepted");
}

int main(void)
{
    test_valid_plans();
    test_count();
    test_overflow();
    test_beyond_end();
    test_overlap();
    test_many_violations();
    return tap_done();
}
