/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx.h -- internals of the VHDX resize planner (core/resize/vhdx*.c).
 *
 * The planner runs in steps, one file each: the staged structures parsed
 * and cross-checked, and the BAT entries that stay in use validated
 * (vhdx-facts.c); the request (vhdx.c, which drives the steps); then the
 * shrink (vhdx-shrink.c) or the grow (vhdx-grow.c), both ending with the
 * header update and the size commit (vhdx-emit.c: the writes both plans share). */
#ifndef INSTAR_RESIZE_VHDX_H
#define INSTAR_RESIZE_VHDX_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/refuse.h"
#include "resize/vhdx-format.h"
#include "util/checked.h"

static inline uint64_t vhdx_max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static inline bool vhdx_overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return al != 0 && bl != 0 && a < b + bl && b < a + al;
}

/* End of [off, off+len) into *hi, when that is higher; false on overflow. */
static inline bool vhdx_raise_end(uint64_t *hi, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (!instar_add_u64(off, len, &end))
        return false;
    *hi = vhdx_max_u64(*hi, end);
    return true;
}

struct vhdx_facts {
    struct instar_vhdx_headers hdr;
    struct instar_vhdx_regions rt1, rt2;
    struct instar_vhdx_meta meta;
};

/* What the scan of the surviving BAT entries found. */
struct vhdx_bat_scan {
    bool any_zero;          /* a payload entry in state ZERO: the image's convention */
    uint64_t present_end;   /* highest end of a present block (full block size) */
};

/* ---- vhdx-facts.c ---- */
/* Parse and cross-check everything staged; no request-dependent checks. */
int vhdx_read_facts(const struct instar_vhdx_resize_opts *o, struct vhdx_facts *f);
/* Validate the first KEEP BAT entries (CR: chunk ratio) as qemu does. */
int vhdx_scan_bat(const struct instar_vhdx_resize_opts *o, const struct vhdx_facts *f,
                  uint64_t keep, uint64_t cr, struct vhdx_bat_scan *s);

/* ---- vhdx-emit.c ---- */
/* A copy of region table RT (64 KiB) with its BAT entry moved. */
uint8_t *vhdx_moved_region_table(struct instar_builder *b, struct instar_slice rt,
                                 uint32_t bat_index, uint64_t off, uint32_t len);
/* Both headers updated, then the commit: the Virtual Disk Size item. */
void vhdx_emit_headers_and_commit(struct instar_builder *b,
                                  const struct instar_vhdx_resize_opts *o,
                                  const struct vhdx_facts *f, uint64_t new_size);
/* Zero the bytes past SIZE of the block holding SIZE's end, when that
 * block is present and partial (they are, or become, guest-visible). */
void vhdx_zero_block_tail(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                          const struct vhdx_facts *f, uint64_t cr, uint64_t size);

/* ---- vhdx-shrink.c, vhdx-grow.c: the plans (CR: chunk ratio; KEEP: the
 * BAT entries that stay in use, scanned into SCAN) ---- */
int vhdx_plan_shrink(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                     const struct vhdx_facts *f, uint64_t new_size, uint64_t cr);
int vhdx_plan_grow(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                   const struct vhdx_facts *f, uint64_t new_size, uint64_t cr,
                   uint64_t keep, const struct vhdx_bat_scan *scan);

#endif
