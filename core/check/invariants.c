/* SPDX-License-Identifier: GPL-3.0-or-later */
/* invariants.c -- instar_plan_check: the four plan invariants.
 *
 * Shared by the fuzz targets, the tests and Scheme, so it must itself be
 * safe on any plan, including one with a corrupt patch count.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "instar/plan.h"
#include "util/checked.h"

static void record(struct instar_check_report *r, enum instar_invariant inv,
                   size_t a, size_t b)
{
    if (r == NULL)
        return;
    if (r->nviolations < INSTAR_MAX_VIOLATIONS) {
        struct instar_violation *v = &r->violations[r->nviolations];
        v->invariant = inv;
        v->patch_a = a;
        v->patch_b = b;
    }
    r->nviolations++;
}

/* Order WRITE patches by offset so overlaps are found in n log n; the
 * indices are sorted in a small stack array (at most 128 patches). */
struct write_ref {
    uint64_t offset;
    uint64_t end;
    size_t index;
};

static int compare_write_ref(const void *pa, const void *pb)
{
    const struct write_ref *a = pa, *b = pb;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return 0;
}

size_t instar_plan_check(const struct instar_resize_plan *plan,
                         struct instar_check_report *report)
{
    struct instar_check_report local = {0};
    struct instar_check_report *r = report ? report : &local;
    struct write_ref writes[INSTAR_MAX_RESIZE_PATCHES];
    size_t nwrites = 0;
    size_t n = plan->npatches;

    r->nviolations = 0;

    /* 1: patch count.  Check only what the array can hold beyond this. */
    if (n > INSTAR_MAX_RESIZE_PATCHES) {
        record(r, INSTAR_INV_PATCH_COUNT, SIZE_MAX, SIZE_MAX);
        n = INSTAR_MAX_RESIZE_PATCHES;
    }

    for (size_t i = 0; i < n; i++) {
        const struct instar_patch *p = &plan->patches[i];
        uint64_t end;
        /* 2: offset + length must not wrap. */
        if (!instar_add_u64(p->offset, p->length, &end)) {
            record(r, INSTAR_INV_OFFSET_OVERFLOW, i, SIZE_MAX);
            continue;
        }
        /* 3: nothing ends beyond the final file size. */
        if (end > plan->total_file_size)
            record(r, INSTAR_INV_BEYOND_END, i, SIZE_MAX);
        if (p->kind == INSTAR_PATCH_WRITE && p->length > 0) {
            writes[nwrites].offset = p->offset;
            writes[nwrites].end = end;
            writes[nwrites].index = i;
            nwrites++;
        }
    }

    /* 4: no two WRITE patches overlap.  After sorting, a write overlaps a
     * later one iff it ends past the later one's start; track the write
     * reaching furthest so every overlapping pair's first member is seen. */
    qsort(writes, nwrites, sizeof writes[0], compare_write_ref);
    size_t furthest = 0;
    for (size_t i = 1; i < nwrites; i++) {
        if (writes[furthest].end > writes[i].offset) {
            size_t a = writes[furthest].index, b = writes[i].index;
            record(r, INSTAR_INV_WRITE_OVERLAP, a < b ? a : b, a < b ? b : a);
        }
        if (writes[i].end > writes[furthest].end)
            furthest = i;
    }
    return r->nviolations;
}

const char *instar_invariant_name(enum instar_invariant inv)
{
    switch (inv) {
    case INSTAR_INV_NONE: return "none";
    case INSTAR_INV_PATCH_COUNT: return "1 (patch count exceeds 128)";
    case INSTAR_INV_OFFSET_OVERFLOW: return "2 (offset + length overflows u64)";
    case INSTAR_INV_BEYOND_END: return "3 (patch ends beyond total_file_size)";
    case INSTAR_INV_WRITE_OVERLAP: return "4 (WRITE patches overlap)";
    }
    return "?";
}

void instar_violation_format(const struct instar_resize_plan *plan,
                             const struct instar_violation *v,
                             char *buf, size_t buflen)
{
    if (buflen == 0)
        return;
    switch (v->invariant) {
    case INSTAR_INV_PATCH_COUNT:
        snprintf(buf, buflen, "invariant %s: %zu patches",
                 instar_invariant_name(v->invariant), plan->npatches);
        break;
    case INSTAR_INV_OFFSET_OVERFLOW:
    case INSTAR_INV_BEYOND_END: {
        const struct instar_patch *p = &plan->patches[v->patch_a];
        snprintf(buf, buflen,
                 "invariant %s: patch %zu (%s offset=0x%llx length=0x%llx, total_file_size=0x%llx)",
                 instar_invariant_name(v->invariant), v->patch_a,
                 instar_patch_kind_name(p->kind), (unsigned long long)p->offset,
                 (unsigned long long)p->length,
                 (unsigned long long)plan->total_file_size);
        break;
    }
    case INSTAR_INV_WRITE_OVERLAP: {
        const struct instar_patch *a = &plan->patches[v->patch_a];
        const struct instar_patch *b = &plan->patches[v->patch_b];
        snprintf(buf, buflen,
                 "invariant %s: patches %zu [0x%llx+0x%llx) and %zu [0x%llx+0x%llx)",
                 instar_invariant_name(v->invariant),
                 v->patch_a, (unsigned long long)a->offset, (unsigned long long)a->length,
                 v->patch_b, (unsigned long long)b->offset, (unsigned long long)b->length);
        break;
    }
    case INSTAR_INV_NONE:
    default:
        snprintf(buf, buflen, "no violation");
        break;
    }
}
