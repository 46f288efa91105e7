/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-builder.c -- the planners' scratch allocator at its edges: an
 * allocation that exactly fills what is left succeeds, one byte more does
 * not, and allocations are 8-byte aligned.  Callers size scratch to what a
 * plan needs; an off-by-one here refuses a plan that fits. */
#include <config.h>

#include <stdint.h>

#include "instar/error.h"
#include "instar/plan.h"
#include "resize/builder.h"
#include "tap.h"

int main(void)
{
    uint8_t scratch[64];
    struct instar_resize_plan plan;
    struct instar_builder b;

    instar_plan_init(&plan);
    instar_builder_init(&b, &plan, scratch, sizeof scratch);
    uint8_t *a = instar_builder_alloc(&b, 1);
    uint8_t *c = instar_builder_alloc(&b, 8);
    ok(a == scratch && c == scratch + 8, "allocations are 8-byte aligned");
    uint8_t *d = instar_builder_alloc(&b, 48);
    ok(d == scratch + 16 && b.err == INSTAR_OK, "an allocation that fills the rest exactly fits");
    ok(instar_builder_alloc(&b, 0) == scratch + 64 && b.err == INSTAR_OK,
       "nothing left: a zero-byte allocation at the very end still succeeds");

    instar_builder_init(&b, &plan, scratch, sizeof scratch);
    ok(instar_builder_alloc(&b, 64) == scratch, "the whole scratch in one allocation");
    instar_builder_init(&b, &plan, scratch, sizeof scratch);
    ok(instar_builder_alloc(&b, 65) == NULL && b.err == INSTAR_E_SCRATCH_TOO_SMALL,
       "one byte more than the scratch: refused, scratch-too-small");
    return tap_done();
}
