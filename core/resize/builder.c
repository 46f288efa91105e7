/* SPDX-License-Identifier: GPL-3.0-or-later */
/* builder.c -- scratch allocation and patch emission for planners. */
#include <config.h>

#include <stdbool.h>
#include <string.h>

#include "resize/builder.h"

void instar_builder_init(struct instar_builder *b, struct instar_resize_plan *plan,
                         uint8_t *scratch, size_t scratch_len)
{
    b->plan = plan;
    b->scratch = scratch;
    b->scratch_len = scratch ? scratch_len : 0;
    b->used = 0;
    b->err = INSTAR_OK;
    instar_plan_init(plan);
}

uint8_t *instar_builder_alloc(struct instar_builder *b, size_t len)
{
    size_t start = (b->used + 7) & ~(size_t)7;
    if (b->err != INSTAR_OK)
        return NULL;
    if (start < b->used || start > b->scratch_len || len > b->scratch_len - start) {
        b->err = INSTAR_E_SCRATCH_TOO_SMALL;
        return NULL;
    }
    b->used = start + len;
    memset(b->scratch + start, 0, len);
    return b->scratch + start;
}

static void add_patch(struct instar_builder *b, enum instar_patch_kind kind,
                      uint64_t offset, const uint8_t *data, uint64_t len)
{
    struct instar_resize_plan *p = b->plan;
    if (b->err != INSTAR_OK)
        return;
    if (p->npatches >= INSTAR_MAX_RESIZE_PATCHES) {
        /* A plan that needs more patches than the bound cannot be built;
         * the planner reports it rather than emit a broken plan. */
        b->err = INSTAR_E_SCRATCH_TOO_SMALL;
        return;
    }
    p->patches[p->npatches].kind = kind;
    p->patches[p->npatches].offset = offset;
    p->patches[p->npatches].length = len;
    p->patches[p->npatches].data = data;
    p->npatches++;
}

void instar_builder_write(struct instar_builder *b, uint64_t offset,
                          const uint8_t *data, uint64_t len)
{
    add_patch(b, INSTAR_PATCH_WRITE, offset, data, len);
}

void instar_builder_append(struct instar_builder *b, uint64_t offset,
                           const uint8_t *data, uint64_t len)
{
    add_patch(b, INSTAR_PATCH_APPEND, offset, data, len);
}

void instar_builder_zero(struct instar_builder *b, uint64_t offset, uint64_t len)
{
    add_patch(b, INSTAR_PATCH_ZERO_FILL, offset, NULL, len);
}

/* REFBLOCK and L2 needs are index ranges: INDEX joins a range it touches;
 * with every slot taken, the nearest range of its kind grows to cover it
 * (the host skips what is zero or staged), so no need is ever dropped and a
 * round costs what it stages, not a walk per 64 tables. */
static bool join_range(struct instar_resize_plan *p, enum instar_need_kind kind,
                       uint64_t index)
{
    struct instar_need *best = NULL;
    uint64_t best_gap = UINT64_MAX;
    for (size_t i = p->nneeds; i-- > 0;) {
        struct instar_need *n = &p->needs[i];
        uint64_t end = n->index + n->count, gap;
        if (n->kind != kind)
            continue;
        if (index >= n->index && index <= end) {
            if (index == end)
                n->count++;
            return true;
        }
        if (index + 1 == n->index) {
            n->index--;
            n->count++;
            return true;
        }
        gap = index < n->index ? n->index - index : index - end;
        if (gap < best_gap) {
            best_gap = gap;
            best = n;
        }
    }
    if (p->nneeds < INSTAR_MAX_NEEDS || best == NULL)
        return false;
    if (index < best->index) {
        best->count += best->index - index;
        best->index = index;
    } else {
        best->count = index - best->index + 1;
    }
    return true;
}

void instar_builder_need(struct instar_builder *b, enum instar_need_kind kind,
                         uint64_t index, uint64_t length)
{
    struct instar_resize_plan *p = b->plan;
    if (b->err != INSTAR_OK && b->err != INSTAR_E_NOT_STAGED)
        return;
    b->err = INSTAR_E_NOT_STAGED;
    if (kind == INSTAR_NEED_REFBLOCK || kind == INSTAR_NEED_L2) {
        if (index == UINT64_MAX || join_range(p, kind, index))
            return;
    } else {
        for (size_t i = 0; i < p->nneeds; i++)
            if (p->needs[i].kind == kind && p->needs[i].index == index)
                return;
    }
    if (p->nneeds < INSTAR_MAX_NEEDS) {
        p->needs[p->nneeds].kind = kind;
        p->needs[p->nneeds].index = index;
        p->needs[p->nneeds].length = length;
        p->needs[p->nneeds].count = 1;
        p->nneeds++;
    }
}

int instar_builder_finish(struct instar_builder *b)
{
    if (b->err != INSTAR_OK) {
        b->plan->npatches = 0;
        b->plan->ndiscards = 0;
        if (b->err != INSTAR_E_NOT_STAGED)
            b->plan->nneeds = 0;
    }
    return b->err;
}
