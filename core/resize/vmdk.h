/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk.h -- internals of the VMDK resize planner (core/resize/vmdk*.c).
 *
 * The planner runs in steps, one file each: the header and the tables it
 * points at, checked into a layout (vmdk-layout.c); the request, the
 * staged tables and the descriptor (vmdk.c, which drives the steps); then
 * the shrink (vmdk-shrink.c) or the grow (vmdk-grow.c). */
#ifndef INSTAR_RESIZE_VMDK_H
#define INSTAR_RESIZE_VMDK_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/refuse.h"
#include "resize/vmdk-format.h"

struct vmdk_range {             /* [start, end) in bytes; empty when equal */
    uint64_t start, end;
};

static inline bool vmdk_overlap(struct vmdk_range a, struct vmdk_range b)
{
    return a.start < a.end && b.start < b.end && a.start < b.end && b.start < a.end;
}

/* What the header says, checked: the layout every later step reads. */
struct vmdk_layout {
    struct instar_vmdk_header h;
    bool has_rgd;
    uint64_t file_sectors;      /* whole sectors of the file */
    uint64_t old_size, cover, old_gt, gd_bytes, gt_sectors;
    struct vmdk_range desc_r, gd_r, rgd_r;
};

/* Refuse with CODE, saying why (MSG; NULL: a callee said it already) and,
 * with a TABLE, which entry; the builder is finished. */
static inline int vmdk_refuse_at(struct instar_builder *b, const struct instar_resize_request *why,
                                 int code, const char *table, uint64_t index, const char *msg)
{
    instar_refuse_at(why, code, table, index, msg);
    b->err = code;
    return instar_builder_finish(b);
}

static inline int vmdk_refuse(struct instar_builder *b, const struct instar_resize_request *why,
                              int code, const char *msg)
{
    return vmdk_refuse_at(b, why, code, NULL, 0, msg);
}

/* ---- vmdk-layout.c ---- */
/* A range of sectors inside the file, never including the header sector. */
bool vmdk_sectors_in_file(uint64_t off, uint64_t count, uint64_t file_sectors,
                          struct vmdk_range *r);
/* Step 1: the header into L (or needs it staged). */
int vmdk_check_header(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                      struct vmdk_layout *l);
/* Step 3: every existing grain table of both directories (DIRS; NULL: not
 * there) allocated, inside the file, clear of the metadata. */
int vmdk_check_tables(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                      const struct vmdk_layout *l, const uint8_t *const dirs[2]);

/* ---- vmdk-grow.c: what a grow makes guest-visible, to be zeroed: the
 * unused slots of the last grain table of each directory, and the tail of
 * the last grain ---- */
struct vmdk_visible_tail {
    struct vmdk_range slots[2], tail;
};
/* Find it into V (staging the last grain-table entry when the last grain
 * is partial), refusing when it overlaps metadata or another table.  A
 * same-size request and a shrink run it on L with the new capacity too:
 * what it refuses, no grow of their result could plan. */
int vmdk_find_visible_tail(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                           const struct vmdk_layout *l, const uint8_t *const dirs[2],
                           struct vmdk_visible_tail *v);

/* ---- vmdk-shrink.c, vmdk-grow.c: the plans; D is the parsed descriptor,
 * NEW_CAP the new capacity in sectors ---- */
int vmdk_plan_shrink(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                     const struct vmdk_layout *l, const struct instar_vmdk_desc *d,
                     uint64_t new_cap);
int vmdk_plan_grow(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                   const struct vmdk_layout *l, const struct instar_vmdk_desc *d,
                   const uint8_t *const dirs[2], uint64_t new_cap, uint64_t new_gt);

#endif
