/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plan-names.c -- printable names for plan enums and plan initialisation. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/plan.h"

void instar_plan_init(struct instar_resize_plan *plan)
{
    plan->action = INSTAR_ACTION_NOOP;
    plan->old_virtual_size = 0;
    plan->new_virtual_size = 0;
    plan->total_file_size = 0;
    plan->prealloc_offset = 0;
    plan->prealloc_length = 0;
    plan->prealloc_head_offset = 0;
    plan->prealloc_head_length = 0;
    plan->prealloc_head_keep = 0;
    plan->npatches = 0;
    plan->ndiscards = 0;
    plan->nneeds = 0;
}

const char *instar_action_name(enum instar_resize_action action)
{
    switch (action) {
    case INSTAR_ACTION_NOOP: return "noop";
    case INSTAR_ACTION_GROW: return "grow";
    case INSTAR_ACTION_SHRINK: return "shrink";
    }
    return "?";
}

const char *instar_patch_kind_name(enum instar_patch_kind kind)
{
    switch (kind) {
    case INSTAR_PATCH_WRITE: return "write";
    case INSTAR_PATCH_APPEND: return "append";
    case INSTAR_PATCH_ZERO_FILL: return "zero-fill";
    }
    return "?";
}

static const char *const prealloc_names[] = {"off", "metadata", "falloc", "full"};

const char *instar_prealloc_name(enum instar_prealloc mode)
{
    if ((unsigned)mode < sizeof prealloc_names / sizeof prealloc_names[0])
        return prealloc_names[mode];
    return "?";
}

int instar_prealloc_parse(const char *s, enum instar_prealloc *out)
{
    for (unsigned i = 0; i < sizeof prealloc_names / sizeof prealloc_names[0]; i++) {
        if (strcmp(s, prealloc_names[i]) == 0) {
            *out = (enum instar_prealloc)i;
            return INSTAR_OK;
        }
    }
    return INSTAR_E_INVALID_OPTION;
}
