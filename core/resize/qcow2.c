/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2.c -- the qcow2 resize planner: validation in qemu's order, then
 * grow (qcow2-grow.c) or shrink (qcow2-shrink.c), and the emission steps
 * both share (new clusters, the header commit). */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/qcow2.h"
#include "util/endian.h"

static void sort_runs(const struct q2 *q, size_t *order)
{
    for (size_t i = 0; i < q->nruns; i++)
        order[i] = i;
    for (size_t i = 1; i < q->nruns; i++) {
        size_t t = order[i], j = i;
        for (; j > 0 && q->runs[order[j - 1]].start > q->runs[t].start; j--)
            order[j] = order[j - 1];
        order[j] = t;
    }
}

/* WRITE BUF at OFF, extending the previous patch when both the file range
 * and the scratch bytes continue it: contiguous allocations cost one patch. */
static void write_merged(struct q2 *q, uint64_t off, const uint8_t *buf, uint64_t len)
{
    struct instar_resize_plan *p = q->b.plan;
    if (q->b.err == INSTAR_OK && p->npatches > 0) {
        struct instar_patch *last = &p->patches[p->npatches - 1];
        if (last->kind == INSTAR_PATCH_WRITE && last->offset + last->length == off
            && last->data + last->length == buf) {
            last->length += len;
            return;
        }
    }
    instar_builder_write(&q->b, off, buf, len);
}

static void fill_refblock(struct q2 *q, uint64_t bi, uint8_t *buf)
{
    uint64_t first = bi << q->rb_shift, last = first + q->rb_entries;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        uint64_t s = run->start > first ? run->start : first;
        uint64_t e = run->start + run->count < last ? run->start + run->count : last;
        if (s < e)
            q2_rc_fill(buf, q->rbits, s - first, e - first, 1);
    }
}

static void fill_reftable(struct q2 *q, uint8_t *buf)
{
    memcpy(buf, q->o->reftable.data, q->rt_entries * 8);
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        if (run->kind != Q2_RUN_REFBLOCK)
            continue;
        for (uint64_t j = 0; j < run->count; j++)
            instar_put_be64(buf + (run->first_index + j) * 8,
                            (run->start + j) << q->cluster_bits);
    }
}

int q2_emit_new_clusters(struct q2 *q, const uint8_t *l1_image, uint64_t l1_image_len)
{
    size_t order[Q2_MAX_RUNS];
    sort_runs(q, order);
    for (size_t k = 0; k < q->nruns; k++) {
        const struct q2_run *run = &q->runs[order[k]];
        uint64_t off = run->start << q->cluster_bits, len = run->count << q->cluster_bits;
        uint8_t *buf;
        if (run->kind == Q2_RUN_L1) {
            uint64_t full = q->op_l1_bytes;
            if (l1_image_len > 0)
                instar_builder_write(&q->b, off, l1_image, l1_image_len);
            if (full > l1_image_len)
                instar_builder_zero(&q->b, off + l1_image_len, full - l1_image_len);
            continue;
        }
        if (run->kind == Q2_RUN_DATA) {
            /* Reused clusters inside the old file may hold stale bytes. */
            if (off < q->file_size) {
                uint64_t end = off + len < q->file_size ? off + len : q->file_size;
                instar_builder_zero(&q->b, off, end - off);
            }
            continue;
        }
        buf = instar_builder_alloc(&q->b, len);
        if (buf == NULL)
            return q->b.err;
        if (run->kind == Q2_RUN_L2)
            q->fill_l2(q, run, buf);
        else if (run->kind == Q2_RUN_REFBLOCK)
            for (uint64_t j = 0; j < run->count; j++)
                fill_refblock(q, run->first_index + j, buf + (j << q->cluster_bits));
        else if (run->kind == Q2_RUN_REFTABLE)
            fill_reftable(q, buf);
        else if (run->kind == Q2_RUN_COMPACT)
            q2_fill_compact(q, run, buf);
        else if (run->kind == Q2_RUN_BMTABLE || run->kind == Q2_RUN_BMDIR)
            q2_fill_bitmaps(q, run, buf);
        write_merged(q, off, buf, len);
    }
    return q->b.err;
}

/* Hook new refcount blocks into the existing (live) refcount table: done
 * after their contents and counts are on disk. */
int q2_emit_reftable_hooks(struct q2 *q)
{
    if (q->rt_moved)
        return INSTAR_OK;
    for (size_t r = 0; r < q->nruns; r++) {
        const struct q2_run *run = &q->runs[r];
        uint8_t *buf;
        if (run->kind != Q2_RUN_REFBLOCK)
            continue;
        buf = instar_builder_alloc(&q->b, run->count * 8);
        if (buf == NULL)
            return q->b.err;
        for (uint64_t j = 0; j < run->count; j++)
            instar_put_be64(buf + j * 8, (run->start + j) << q->cluster_bits);
        instar_builder_write(&q->b, q->rt_offset + run->first_index * 8, buf, run->count * 8);
    }
    return q->b.err;
}

int q2_emit_header(struct q2 *q, bool l1_changed, uint32_t new_l1_size,
                   uint64_t new_l1_offset)
{
    /* size @24, l1_size @36 + l1_table_offset @40, reftable @48 + @56:
     * one write, so the commit is a single sector update. */
    uint64_t len = q->rt_moved ? 36 : l1_changed ? 24 : 8;
    uint8_t *buf;
    if (q->bm_in_use) {
        int rc = q2_emit_bitmaps_in_use(q);
        if (rc != INSTAR_OK)
            return rc;
    }
    /* A rewritten bitmap directory: the same write reaches the bitmaps
     * extension's directory offset (inside cluster 0). */
    if (q->nbm > 0)
        len = q->bm_ext_off + 32 - 24;
    buf = instar_builder_alloc(&q->b, len > 36 ? len : 36);
    if (buf == NULL)
        return q->b.err;
    memcpy(buf, q->o->header.data + 24, len > 36 ? len : 36);
    if (q->nbm > 0)
        instar_put_be64(buf + q->bm_ext_off + 24 - 24, q->bm_new_dir << q->cluster_bits);
    instar_put_be64(buf, q->new_size);
    if (l1_changed) {
        instar_put_be32(buf + 12, new_l1_size);
        instar_put_be64(buf + 16, new_l1_offset);
    }
    if (q->rt_moved) {
        instar_put_be64(buf + 24, q->new_rt_cluster << q->cluster_bits);
        instar_put_be32(buf + 32, (uint32_t)(q->new_rt_entries * 8 >> q->cluster_bits));
    }
    instar_builder_write(&q->b, 24, buf, len);
    return q->b.err;
}

static int fail(struct q2 *q, int rc)
{
    if (q->b.err == INSTAR_OK || rc != INSTAR_E_NOT_STAGED)
        q->b.err = rc;
    return instar_builder_finish(&q->b);
}

static int plan_once(const struct instar_qcow2_resize_opts *opts, uint8_t *scratch,
                     size_t scratch_len, struct instar_resize_plan *plan, bool compact,
                     bool *overflow)
{
    struct q2 q;
    int rc;

    rc = q2_parse(&q, opts);
    q.compact = compact;
    instar_builder_init(&q.b, plan, scratch, scratch_len);
    if (rc != INSTAR_OK)
        return fail(&q, rc);
    /* qemu-img's own checks come first, then qcow2_co_truncate's. */
    rc = instar_resize_check_request(&opts->req, q.old_size);
    if (rc == INSTAR_OK)
        rc = q2_check_request(&q);
    if (rc == INSTAR_OK)
        rc = q2_index_tables(&q);
    if (rc != INSTAR_OK)
        return fail(&q, rc);

    plan->old_virtual_size = q.old_size;
    plan->new_virtual_size = q.new_size;
    plan->total_file_size = q.file_size;
    if (q.new_size > q.old_size) {
        plan->action = INSTAR_ACTION_GROW;
        rc = q2_grow(&q);
    } else if (q.new_size < q.old_size) {
        plan->action = INSTAR_ACTION_SHRINK;
        rc = q2_shrink(&q);
    }
    /* Same size in whole sectors: nothing changes (qemu leaves the file
     * byte-identical), except that a header size that is not a whole
     * number of sectors is rewritten rounded down, as qemu's truncate
     * writes the size it was given. */
    else if (instar_be64(opts->header.data + 24) != q.new_size) {
        rc = q2_emit_header(&q, false, 0, 0);
    }
    /* Out of patches (not of scratch): the caller may rewrite refcounts. */
    *overflow = q.b.err == INSTAR_E_SCRATCH_TOO_SMALL
                && plan->npatches == INSTAR_MAX_RESIZE_PATCHES;
    if (rc != INSTAR_OK)
        return fail(&q, rc);
    /* Metadata that overlaps itself (a hostile image) could make two
     * writes meet or a write outlive the cut; such a plan is never
     * handed out. */
    if (q.b.err == INSTAR_OK && instar_plan_check(plan, NULL) != 0)
        return fail(&q, q2_refuse(&q, INSTAR_E_NEEDS_CHECK, "the image's metadata overlaps "
                                  "itself (the plan would break an invariant)"));
    return instar_builder_finish(&q.b);
}

int instar_plan_resize_qcow2(const struct instar_qcow2_resize_opts *opts,
                             uint8_t *scratch, size_t scratch_len,
                             struct instar_resize_plan *plan)
{
    bool overflow = false;
    instar_refusal_start(&opts->req);
    int rc = plan_once(opts, scratch, scratch_len, plan, false, &overflow);
    if (rc == INSTAR_E_SCRATCH_TOO_SMALL && overflow) {
        instar_refusal_start(&opts->req);
        rc = plan_once(opts, scratch, scratch_len, plan, true, &overflow);
    }
    return rc;
}
