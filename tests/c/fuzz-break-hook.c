/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-break-hook.c -- breaks a valid plan on request, so tests can prove
 * that fuzz_resize_planners reports each invariant (tests/fuzz-invariants.sh).
 * INSTAR_FUZZ_BREAK names the invariant to break: count, overflow, beyond,
 * overlap; or torn (plan-rules.h: the qcow2 header commit at 24 one byte
 * longer, into the next field); unset leaves plans alone. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/plan.h"

void instar_fuzz_test_break(struct instar_resize_plan *plan);

static const uint8_t payload[16];

static void add(struct instar_resize_plan *plan, enum instar_patch_kind kind,
                uint64_t off, uint64_t len)
{
    if (plan->npatches >= INSTAR_MAX_RESIZE_PATCHES)
        return;
    struct instar_patch *p = &plan->patches[plan->npatches++];
    p->kind = kind;
    p->offset = off;
    p->length = len;
    p->data = kind == INSTAR_PATCH_ZERO_FILL ? NULL : payload;
}

void instar_fuzz_test_break(struct instar_resize_plan *plan)
{
    const char *how = getenv("INSTAR_FUZZ_BREAK");
    if (how == NULL)
        return;
    if (strcmp(how, "overlap") == 0) {
        add(plan, INSTAR_PATCH_WRITE, 0, 16);
        add(plan, INSTAR_PATCH_WRITE, 8, 8);
    } else if (strcmp(how, "beyond") == 0) {
        add(plan, INSTAR_PATCH_ZERO_FILL, plan->total_file_size, 1);
    } else if (strcmp(how, "overflow") == 0) {
        add(plan, INSTAR_PATCH_WRITE, UINT64_MAX - 1, 16);
    } else if (strcmp(how, "torn") == 0) {
        /* The commit's buffer is at least 36 bytes (core/resize/qcow2.c):
         * one more byte of it, as a wrong commit length would write. */
        for (size_t i = 0; i < plan->npatches; i++)
            if (plan->patches[i].offset == 24 && plan->patches[i].length < 36) {
                plan->patches[i].length++;
                break;
            }
    } else if (strcmp(how, "count") == 0) {
        /* A corrupt count, as a buggy planner could leave it. */
        plan->npatches = INSTAR_MAX_RESIZE_PATCHES + 1;
    }
}
