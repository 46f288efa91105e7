/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk.c -- the VMDK planner: grow a monolithicSparse hosted sparse extent.
 *
 * qemu-img 7.2 cannot resize VMDK; qemu reads the virtual size from the
 * header's capacity.  A grow therefore:
 *   prepare  extend the file to hold zero-filled grain tables for every new
 *            grain-directory entry (in BOTH directories: an entry of 0 makes
 *            qemu write guest data over the header), padded to a grain
 *            boundary (qemu allocates grains at round_up(EOF, grain));
 *            zero the unused tail of the last grain table and of the last
 *            grain (they become visible); write the new directory entries in
 *            place, or whole new directories past the old end of file;
 *   commit   one write of the header (capacity, and the directory offsets
 *            when they moved);
 *   cleanup  the descriptor (extent sector count, cylinders, a new CID).
 * A crash before the commit leaves the old image plus unreferenced bytes;
 * after it, a complete new one with a stale descriptor (qemu ignores the
 * descriptor's size).  A shrink (with the flag) rewrites the header and
 * the descriptor only.  streamOptimized, flat and split images, images with
 * a parent, and preallocation are refused before anything is planned. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/refuse.h"
#include "resize/vmdk-format.h"
#include "util/checked.h"
#include "util/endian.h"

struct range {                  /* [start, end) in bytes; empty when equal */
    uint64_t start, end;
};

static bool overlap(struct range a, struct range b)
{
    return a.start < a.end && b.start < b.end && a.start < b.end && b.start < a.end;
}

/* A range of sectors inside the file, never including the header sector.
 * Callers pass counts bounded well below 2^40, offsets are untrusted. */
static bool sectors_in_file(uint64_t off, uint64_t count, uint64_t file_sectors,
                            struct range *r)
{
    if (off < 1 || count > file_sectors || off > file_sectors - count)
        return false;
    r->start = off * 512;
    r->end = (off + count) * 512;
    return true;
}

/* Refuse with CODE, saying why (MSG; NULL: a callee said it already) and,
 * with a TABLE, which entry. */
static int refuse_at(struct instar_builder *b, const struct instar_resize_request *why, int code,
                     const char *table, uint64_t index, const char *msg)
{
    instar_refuse_at(why, code, table, index, msg);
    b->err = code;
    return instar_builder_finish(b);
}

static int refuse(struct instar_builder *b, const struct instar_resize_request *why, int code,
                  const char *msg)
{
    return refuse_at(b, why, code, NULL, 0, msg);
}

/* Scratch a grow needs, from facts the host already has; SIZE_MAX when the
 * numbers are absurd (the planner will refuse them anyway). */
size_t instar_vmdk_scratch_hint(const struct instar_vmdk_resize_opts *o)
{
    uint64_t cover, gt, sectors;
    if (o->grain_sectors == 0 || o->grain_sectors > VMDK_MAX_GRAIN_SECTORS
        || o->gtes_per_gt == 0 || o->gtes_per_gt > VMDK_MAX_GTES
        || o->descriptor_sectors > VMDK_MAX_DESC_SECTORS)
        return SIZE_MAX;
    cover = o->grain_sectors * o->gtes_per_gt;
    /* Directories past 32 Mi entries are refused, so none needs more. */
    sectors = o->req.new_size / 512 + 1;
    gt = sectors / cover + 1;
    if (gt > VMDK_MAX_GD_ENTRIES)
        gt = VMDK_MAX_GD_ENTRIES;
    return (size_t)(4096 + o->descriptor_sectors * 512 + 2 * (gt * 4 + 512));
}

/* Header (commit) then descriptor: the new capacity and nothing else.
 * Directory entries, tables and grains past the new end stay where they
 * are (qemu reads only what the capacity covers); they are unreferenced
 * space.  A later grow never reuses them: it zeroes the unused entries of
 * the last table and the tail of the last grain, and gives every new
 * directory entry a fresh zero table, so no old data comes back. */
static int plan_shrink(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                       struct instar_vmdk_header *h, const struct instar_vmdk_desc *d,
                       uint64_t new_cap, struct range desc_r,
                       const struct instar_resize_request *why)
{
    struct instar_resize_plan *plan = b->plan;
    uint8_t *hb = instar_builder_alloc(b, VMDK_HEADER_SIZE);
    uint8_t *db = instar_builder_alloc(b, (size_t)(h->desc_sectors * 512));
    plan->action = INSTAR_ACTION_SHRINK;
    plan->new_virtual_size = new_cap * 512;
    plan->total_file_size = opts->current_file_size;
    if (hb == NULL || db == NULL)
        return instar_builder_finish(b);
    if (instar_vmdk_desc_rewrite(opts->descriptor.data, d, opts->new_cid, new_cap, db,
                                 (size_t)(h->desc_sectors * 512)) != INSTAR_OK)
        return refuse(b, why, INSTAR_E_TOO_LARGE, "the new descriptor does not fit its sectors");
    memcpy(hb, opts->header.data, VMDK_HEADER_SIZE);
    h->capacity = new_cap;
    instar_vmdk_header_encode(hb, h);
    instar_builder_write(b, 0, hb, VMDK_HEADER_SIZE);
    instar_builder_write(b, desc_r.start, db, h->desc_sectors * 512);
    return instar_builder_finish(b);
}

/* What the header says, checked: the layout every later step reads. */
struct layout {
    struct instar_vmdk_header h;
    bool has_rgd;
    uint64_t old_size, cover, old_gt, gd_bytes, gt_sectors;
    struct range desc_r, gd_r, rgd_r;
};

/* Step 1: the header, every number untrusted; the descriptor and the
 * directories inside the file and apart. */
static int check_header(struct instar_builder *b, const struct instar_vmdk_resize_opts *opts,
                        struct layout *l)
{
    const struct instar_resize_request *why = &opts->req;
    const uint64_t fsize = opts->current_file_size;
    const uint64_t file_sectors = fsize / 512;
    struct instar_vmdk_header h;
    uint64_t old_size, cover, old_gt, gd_bytes, gt_sectors;
    struct range desc_r, gd_r, rgd_r = {0, 0};
    bool has_rgd;

    if (opts->header.data == NULL || opts->header.len < VMDK_HEADER_SIZE) {
        instar_builder_need(b, INSTAR_NEED_BYTES, 0, VMDK_HEADER_SIZE);
        return instar_builder_finish(b);
    }
    if (fsize < VMDK_HEADER_SIZE)
        return refuse(b, why, INSTAR_E_PARSE, "file is shorter than a VMDK header");
    if (!instar_vmdk_header_decode(opts->header.data, &h))
        return refuse(b, why, INSTAR_E_PARSE, "bad magic: not a VMDK sparse extent");
    has_rgd = (h.flags & VMDK_FLAG_RGD) != 0;
    if (opts->capacity_sectors != h.capacity || opts->grain_sectors != h.grain
        || opts->gtes_per_gt != h.gtes || opts->gd_offset_sectors != h.gd_offset
        || opts->rgd_offset_sectors != (has_rgd ? h.rgd_offset : 0)
        || opts->descriptor_offset_sectors != h.desc_offset
        || opts->descriptor_sectors != h.desc_sectors)
        return refuse(b, why, INSTAR_E_HEADER_MISMATCH,
                      "options disagree with the staged header");
    if ((h.flags & (VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER)) != 0 || h.compress != 0
        || h.gd_offset == VMDK_GD_AT_END || h.version == 3)
        return refuse(b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                      "streamOptimized (compressed) VMDK cannot be resized in place");
    if (h.version < 1 || h.version > 3)
        return refuse(b, why, INSTAR_E_PARSE, "unsupported VMDK version");
    if ((h.flags & ~VMDK_FLAGS_KNOWN) != 0)
        return refuse(b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT, "unknown VMDK header flags");
    if ((h.flags & VMDK_FLAG_NL_DETECT) && memcmp(h.check_bytes, "\n \r\n", 4) != 0)
        return refuse(b, why, INSTAR_E_PARSE,
                      "newline check bytes damaged (was the file transferred as text?)");
    if (h.unclean)
        return refuse(b, why, INSTAR_E_NEEDS_CHECK, "the unclean-shutdown flag is set");
    if (!instar_is_pow2_u64(h.grain) || h.grain > VMDK_MAX_GRAIN_SECTORS)
        return refuse(b, why, INSTAR_E_PARSE, "grain size is not a power of two up to 1 GiB");
    if (h.gtes == 0 || h.gtes > VMDK_MAX_GTES)
        return refuse(b, why, INSTAR_E_PARSE, "grain-table size out of range (1..512 entries)");
    if (h.capacity == 0)
        return refuse(b, why, INSTAR_E_PARSE, "capacity is 0 (qemu cannot open such an image)");
    if (!instar_mul_u64(h.capacity, 512, &old_size) || old_size > (uint64_t)INT64_MAX)
        return refuse(b, why, INSTAR_E_OVERFLOW, "capacity * 512 overflows");
    cover = h.grain * h.gtes;                     /* <= 2^30 */
    gt_sectors = instar_vmdk_gt_sectors(h.gtes);  /* 1..4 */
    old_gt = instar_div_round_up_u64(h.capacity, cover);
    if (old_gt > VMDK_MAX_GD_ENTRIES)
        return refuse(b, why, INSTAR_E_PARSE, "grain directory larger than qemu opens");
    gd_bytes = (old_gt * 4 + 511) / 512 * 512;

    if (h.desc_sectors == 0 || h.desc_sectors > VMDK_MAX_DESC_SECTORS
        || !sectors_in_file(h.desc_offset, h.desc_sectors, file_sectors, &desc_r))
        return refuse(b, why, INSTAR_E_PARSE, "no embedded descriptor inside the file");
    if (h.overhead > file_sectors)
        return refuse(b, why, INSTAR_E_PARSE, "file truncated (shorter than overHead)");
    if (!sectors_in_file(h.gd_offset, gd_bytes / 512, file_sectors, &gd_r))
        return refuse(b, why, INSTAR_E_PARSE, "grain directory outside the file");
    if (has_rgd && !sectors_in_file(h.rgd_offset, gd_bytes / 512, file_sectors, &rgd_r))
        return refuse(b, why, INSTAR_E_PARSE, "redundant grain directory outside the file");
    if (overlap(desc_r, gd_r) || overlap(desc_r, rgd_r) || overlap(gd_r, rgd_r))
        return refuse(b, why, INSTAR_E_PARSE, "descriptor and grain directories overlap");

    l->h = h;
    l->has_rgd = has_rgd;
    l->old_size = old_size;
    l->cover = cover;
    l->old_gt = old_gt;
    l->gd_bytes = gd_bytes;
    l->gt_sectors = gt_sectors;
    l->desc_r = desc_r;
    l->gd_r = gd_r;
    l->rgd_r = rgd_r;
    return INSTAR_OK;
}

int instar_plan_resize_vmdk(const struct instar_vmdk_resize_opts *opts,
                            uint8_t *scratch, size_t scratch_len,
                            struct instar_resize_plan *plan)
{
    struct instar_builder b;
    struct instar_vmdk_desc d;
    struct layout l;
    const struct instar_resize_request *why = &opts->req;
    const uint64_t fsize = opts->current_file_size;
    const uint64_t file_sectors = fsize / 512;
    uint64_t new_gt, new_cap;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    instar_refusal_start(why);

    memset(&l, 0, sizeof l);
    rc = check_header(&b, opts, &l);
    if (rc != INSTAR_OK)
        return rc;              /* the builder is finished: needs or refusal */
    struct instar_vmdk_header h = l.h;
    const bool has_rgd = l.has_rgd;
    const uint64_t old_size = l.old_size, cover = l.cover, old_gt = l.old_gt;
    const uint64_t gd_bytes = l.gd_bytes, gt_sectors = l.gt_sectors;
    const struct range desc_r = l.desc_r, gd_r = l.gd_r, rgd_r = l.rgd_r;

    /* ---- the request ---- */
    rc = instar_resize_check_request(&opts->req, old_size);
    if (rc != INSTAR_OK)
        return refuse(&b, why, rc, NULL);
    if (opts->req.prealloc != INSTAR_PREALLOC_OFF)
        return refuse(&b, why, INSTAR_E_UNSUPPORTED_PREALLOC,
                      "VMDK grow supports preallocation=off only");
    /* Like qemu-img create, sizes round up to whole sectors (new_size is
     * below 2^63 here, so this cannot overflow). */
    new_cap = instar_div_round_up_u64(opts->req.new_size, 512);
    plan->old_virtual_size = old_size;
    const bool shrink = new_cap < h.capacity;   /* allow_shrink was checked */
    if (new_cap == h.capacity) {
        plan->new_virtual_size = old_size;
        plan->total_file_size = fsize;
        return instar_builder_finish(&b);
    }
    new_gt = instar_div_round_up_u64(new_cap, cover);
    if (!shrink && new_gt > VMDK_MAX_GD_ENTRIES)
        return refuse(&b, why, INSTAR_E_TOO_LARGE,
                      "grain directory would pass qemu's limit of 32 Mi entries");

    /* ---- staged tables ---- */
    if (opts->descriptor.data == NULL || opts->descriptor.len < h.desc_sectors * 512)
        instar_builder_need(&b, INSTAR_NEED_BYTES, desc_r.start, h.desc_sectors * 512);
    if (opts->gd.data == NULL || opts->gd.len < gd_bytes)
        instar_builder_need(&b, INSTAR_NEED_BYTES, gd_r.start, gd_bytes);
    if (has_rgd && (opts->rgd.data == NULL || opts->rgd.len < gd_bytes))
        instar_builder_need(&b, INSTAR_NEED_BYTES, rgd_r.start, gd_bytes);
    if (b.err != INSTAR_OK)
        return instar_builder_finish(&b);

    const char *desc_why = NULL;
    rc = instar_vmdk_desc_parse(opts->descriptor.data, h.desc_sectors * 512, &d, &desc_why);
    if (rc != INSTAR_OK)
        return refuse(&b, why, rc, desc_why);
    if (!d.monolithic_sparse || d.n_extents != 1 || d.non_sparse_extent)
        return refuse(&b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                      "only monolithicSparse VMDK (one SPARSE extent) can be resized");
    if (d.has_parent)
        return refuse(&b, why, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                      "VMDK images with a parent are not supported");
    /* The extent line's count may disagree with the header: qemu ignores
     * it, and a resize interrupted between its header commit and its
     * descriptor write leaves exactly that.  It is rewritten below, which
     * repairs it. */

    /* ---- every existing grain table: allocated, inside the file, clear of
     * the header, descriptor and directories ---- */
    const uint8_t *dirs[2] = { opts->gd.data, has_rgd ? opts->rgd.data : NULL };
    for (int k = 0; k < 2; k++) {
        if (dirs[k] == NULL)
            continue;
        for (uint64_t i = 0; i < old_gt; i++) {
            uint32_t e = instar_le32(dirs[k] + 4 * i);
            struct range r;
            const char *dir = k == 0 ? "grain-directory entry" : "redundant grain-directory entry";
            if (e == 0)
                return refuse_at(&b, why, INSTAR_E_NEEDS_CHECK, dir, i,
                                 "is 0 (qemu would write over the header)");
            if (!sectors_in_file(e, gt_sectors, file_sectors, &r))
                return refuse_at(&b, why, INSTAR_E_PARSE, dir, i,
                                 "points to a grain table outside the file");
            if (overlap(r, desc_r) || overlap(r, gd_r) || overlap(r, rgd_r))
                return refuse_at(&b, why, INSTAR_E_PARSE, dir, i,
                                 "points to a grain table overlapping the descriptor or a directory");
        }
    }

    if (shrink)
        return plan_shrink(&b, opts, &h, &d, new_cap, desc_r, why);

    /* The unused slots of the last grain table and the bytes of the last
     * grain past the old capacity become guest-visible: make them zero. */
    const uint64_t last_grain = (h.capacity - 1) / h.grain;
    const uint64_t last_gt = last_grain / h.gtes, last_slot = last_grain % h.gtes;
    struct range slots[2] = { {0, 0}, {0, 0} }, tail = {0, 0}, grain_r = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (dirs[k] != NULL && last_slot + 1 < h.gtes) {
            uint64_t t = (uint64_t)instar_le32(dirs[k] + 4 * last_gt) * 512;
            slots[k].start = t + 4 * (last_slot + 1);
            slots[k].end = t + 4 * (uint64_t)h.gtes;
        }
    }
    if (h.capacity % h.grain != 0) {
        if (opts->tail_gte.data == NULL || opts->tail_gte.len < 4) {
            uint64_t t = (uint64_t)instar_le32(opts->gd.data + 4 * last_gt) * 512;
            instar_builder_need(&b, INSTAR_NEED_BYTES, t + 4 * last_slot, 4);
            return instar_builder_finish(&b);
        }
        uint32_t g = instar_le32(opts->tail_gte.data);
        bool zeroed = g == 1 && (h.flags & VMDK_FLAG_ZERO_GRAIN);
        if (g != 0 && !zeroed) {
            /* The whole grain must be clear of the metadata (g >= 1 keeps
             * it off the header; the tables are checked below): a grain
             * inside it means the image is already corrupt. */
            grain_r.start = (uint64_t)g * 512;
            grain_r.end = ((uint64_t)g + h.grain) * 512;
            if (overlap(grain_r, desc_r) || overlap(grain_r, gd_r) || overlap(grain_r, rgd_r))
                return refuse(&b, why, INSTAR_E_PARSE, "the last grain overlaps metadata");
            tail.start = (uint64_t)g * 512 + (h.capacity % h.grain) * 512;
            tail.end = ((uint64_t)g + h.grain) * 512;
            if (tail.end > fsize)
                tail.end = fsize;
            if (tail.start >= tail.end)
                tail.start = tail.end = 0;
        }
    }
    if (slots[0].end || slots[1].end || grain_r.end) {
        for (int k = 0; k < 2; k++) {
            if (dirs[k] == NULL)
                continue;
            for (uint64_t i = 0; i < old_gt; i++) {
                uint64_t e = instar_le32(dirs[k] + 4 * i);
                struct range r = { e * 512, (e + gt_sectors) * 512 };
                if (overlap(r, grain_r))
                    return refuse(&b, why, INSTAR_E_PARSE, "the last grain overlaps a grain table");
                for (int j = 0; j < 2; j++)
                    if (!(j == k && i == last_gt) && overlap(r, slots[j]))
                        return refuse(&b, why, INSTAR_E_PARSE, "grain tables overlap");
            }
        }
    }

    /* ---- the new layout: everything new goes past the old end of file ---- */
    const bool in_place = new_gt * 4 <= gd_bytes;
    const uint64_t new_gd_bytes = (new_gt * 4 + 511) / 512 * 512;
    const uint64_t added = new_gt - old_gt;
    const uint64_t start = instar_div_round_up_u64(fsize, 512);
    uint64_t cur = start, new_rgd = 0, new_gd = 0, rgt0, gt0, end;
    if (!in_place) {
        if (has_rgd) {
            new_rgd = cur;
            cur += new_gd_bytes / 512;
        }
        new_gd = cur;
        cur += new_gd_bytes / 512;
    }
    rgt0 = cur;
    if (has_rgd)
        cur += added * gt_sectors;
    gt0 = cur;
    cur += added * gt_sectors;
    /* Pad to a grain so the next grain qemu allocates follows our tables. */
    if (!instar_align_up_u64(cur, h.grain, &end))
        return refuse(&b, why, INSTAR_E_OVERFLOW, "file size overflows");
    /* Grain-directory entries are 32-bit sector numbers: the new tables
     * must lie below sector 2^32.  The capacity itself is bounded only by
     * qemu's 32 Mi directory entries (checked above), as for qemu-img
     * create: qemu opens a 2 TiB or 1 PiB image and refuses a grain
     * allocation past sector 2^32 only when a write needs one. */
    if (end > VMDK_MAX_SECTOR)
        return refuse(&b, why, INSTAR_E_TOO_LARGE,
                      "the new grain tables would pass sector 2^32 of the file");

    plan->action = INSTAR_ACTION_GROW;
    plan->new_virtual_size = new_cap * 512;
    plan->total_file_size = fsize;

    /* prepare: make the file long enough to hold the new tables (they read
     * as zeros), before anything points at them */
    if (cur > start) {
        uint8_t *zero = instar_builder_alloc(&b, 512);
        instar_builder_write(&b, end * 512 - 512, zero, 512);
        plan->total_file_size = end * 512;
    }
    for (int k = 0; k < 2; k++)
        if (slots[k].end)
            instar_builder_zero(&b, slots[k].start, slots[k].end - slots[k].start);
    if (tail.end)
        instar_builder_zero(&b, tail.start, tail.end - tail.start);
    for (int k = has_rgd ? 0 : 1; k < 2; k++) {
        const uint8_t *old = k == 0 ? opts->rgd.data : opts->gd.data;
        uint64_t first = k == 0 ? rgt0 : gt0;
        uint64_t where = in_place ? (k == 0 ? h.rgd_offset : h.gd_offset) * 512 + old_gt * 4
                                  : (k == 0 ? new_rgd : new_gd) * 512;
        uint64_t len = in_place ? added * 4 : new_gd_bytes;
        uint8_t *p;
        if (added == 0 && in_place)
            continue;
        p = instar_builder_alloc(&b, (size_t)len);
        if (p == NULL)
            break;
        uint8_t *q = p;
        if (!in_place) {
            memcpy(p, old, (size_t)(old_gt * 4));
            q = p + old_gt * 4;
        }
        for (uint64_t i = 0; i < added; i++)
            instar_put_le32(q + 4 * i, (uint32_t)(first + i * gt_sectors));
        instar_builder_write(&b, where, p, len);
    }

    /* commit: the header */
    uint8_t *hb = instar_builder_alloc(&b, VMDK_HEADER_SIZE);
    if (hb != NULL) {
        memcpy(hb, opts->header.data, VMDK_HEADER_SIZE);
        h.capacity = new_cap;
        if (!in_place) {
            h.gd_offset = new_gd;
            if (has_rgd)
                h.rgd_offset = new_rgd;
        }
        instar_vmdk_header_encode(hb, &h);
        instar_builder_write(&b, 0, hb, VMDK_HEADER_SIZE);
    }

    /* cleanup: the descriptor, for VMware (qemu ignores its size) */
    uint8_t *db = instar_builder_alloc(&b, (size_t)(h.desc_sectors * 512));
    if (db != NULL) {
        rc = instar_vmdk_desc_rewrite(opts->descriptor.data, &d, opts->new_cid, new_cap,
                                      db, (size_t)(h.desc_sectors * 512));
        if (rc != INSTAR_OK)
            return refuse(&b, why, rc, "the new descriptor does not fit its sectors");
        instar_builder_write(&b, desc_r.start, db, h.desc_sectors * 512);
    }
    return instar_builder_finish(&b);
}
