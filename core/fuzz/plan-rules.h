/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plan-rules.h -- format rules a plan must keep beyond the four
 * invariants (instar/plan.h), checked by both fuzz targets.
 *
 * qcow2: a patch inside the fixed header (the first 104 bytes) starts and
 * ends on a field boundary.  A resize rewrites whole fields (size,
 * l1_size + l1_table_offset, the refcount table's offset and length);
 * a patch that writes part of a field means the planner's picture of the
 * header is off -- a wrong length or offset of the commit -- even when the
 * bytes it writes there happen to be the old ones. */
#ifndef INSTAR_FUZZ_PLAN_RULES_H
#define INSTAR_FUZZ_PLAN_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "instar/plan.h"

/* Offsets where a field of qcow2's fixed header (v2 and v3) starts, and
 * its end. */
static inline bool instar_fuzz_qcow2_field_edge(uint64_t off)
{
    static const uint8_t edges[] = {0,  4,  8,  16, 20, 24, 32, 36, 40, 48,
                                    56, 60, 64, 72, 80, 88, 96, 100, 104};
    for (size_t i = 0; i < sizeof edges; i++)
        if (off == edges[i])
            return true;
    return false;
}

/* The index of the first patch of PLAN (for format WHAT, a target or
 * format name) that breaks a format rule, or -1. */
static inline long instar_fuzz_plan_rules(const char *what, const struct instar_resize_plan *plan)
{
    if (strncmp(what, "qcow2", 5) != 0)
        return -1;
    for (size_t i = 0; i < plan->npatches && i < INSTAR_MAX_RESIZE_PATCHES; i++) {
        uint64_t off = plan->patches[i].offset, end = off + plan->patches[i].length;
        if (off >= 104)
            continue;
        if (!instar_fuzz_qcow2_field_edge(off) || (end < 104 && !instar_fuzz_qcow2_field_edge(end)))
            return (long)i;
    }
    return -1;
}

#endif
