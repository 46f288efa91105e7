/* SPDX-License-Identifier: GPL-3.0-or-later */
/* builder.h -- how planners assemble a plan (internal to the core).
 *
 * A builder hands out scratch bytes and appends patches; the first failure
 * sticks in `err' so a planner can emit a whole sequence and test once. */
#ifndef INSTAR_BUILDER_H
#define INSTAR_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "instar/error.h"
#include "instar/plan.h"

struct instar_builder {
    struct instar_resize_plan *plan;
    uint8_t *scratch;
    size_t scratch_len;
    size_t used;
    int err;
};

void instar_builder_init(struct instar_builder *b, struct instar_resize_plan *plan,
                         uint8_t *scratch, size_t scratch_len);

/* LEN zeroed scratch bytes, 8-byte aligned; NULL (and err set) when short. */
uint8_t *instar_builder_alloc(struct instar_builder *b, size_t len);

/* Append patches.  DATA must stay valid until the plan is applied (it is
 * normally scratch from instar_builder_alloc, or a caller's slice). */
void instar_builder_write(struct instar_builder *b, uint64_t offset,
                          const uint8_t *data, uint64_t len);
void instar_builder_append(struct instar_builder *b, uint64_t offset,
                           const uint8_t *data, uint64_t len);
void instar_builder_zero(struct instar_builder *b, uint64_t offset, uint64_t len);

/* Record a table the planner needs staged (sets err to NOT_STAGED). */
void instar_builder_need(struct instar_builder *b, enum instar_need_kind kind,
                         uint64_t index, uint64_t length);

/* Finish: on error, clear the patches (keep needs) and return the error. */
int instar_builder_finish(struct instar_builder *b);

#endif
