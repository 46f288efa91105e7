/* SPDX-License-Identifier: GPL-3.0-or-later */
/* print.c -- a decoded fuzz input in words (instar-img fuzz-explain). */
#include <config.h>

#include <inttypes.h>

#include "instar/fuzz.h"

static void slice(FILE *out, const char *name, struct instar_slice s)
{
    fprintf(out, "  %-22s %zu bytes\n", name, s.len);
}

static void request(FILE *out, const struct instar_resize_request *r)
{
    fprintf(out, "  %-22s %" PRIu64 "\n", "new_size", r->new_size);
    fprintf(out, "  %-22s %s\n", "allow_shrink", r->allow_shrink ? "yes" : "no");
    fprintf(out, "  %-22s %s\n", "prealloc", instar_prealloc_name(r->prealloc));
}

#define U64(name, v) fprintf(out, "  %-22s %" PRIu64 " (0x%" PRIx64 ")\n", name, (uint64_t)(v), (uint64_t)(v))

void instar_fuzz_case_print(FILE *out, const struct instar_fuzz_case *c)
{
    const struct instar_fuzz_header *h = &c->hdr;
    fprintf(out, "header:\n");
    fprintf(out, "  %-22s %u -> %s\n", "format selector", h->format_byte,
            instar_fuzz_target_name(h->target));
    fprintf(out, "  %-22s 0x%02x (allow_shrink=%d extended_l2=%d lazy_refcounts=%d "
            "raw_slices=%d prealloc=%s tight_scratch=%d)\n", "flags", h->flags, h->allow_shrink,
            h->extended_l2, h->lazy_refcounts, h->raw_slices, instar_prealloc_name(h->prealloc),
            (h->flags & INSTAR_FUZZ_FLAG_TIGHT_SCRATCH) != 0);
    fprintf(out, "  %-22s %u -> %u\n", "refcount-bits sel", h->refcount_sel, h->refcount_bits);
    fprintf(out, "  %-22s %u (0x%02x)\n", "subformat sel", h->subformat, h->subformat);
    fprintf(out, "  %-22s %zu%s\n", "planner scratch", h->scratch_len,
            h->flags & INSTAR_FUZZ_FLAG_TIGHT_SCRATCH ? " (tight)" : "");
    U64("unit size", h->unit_size);
    U64("current virtual size", h->current_virtual_size);
    U64("new virtual size", h->new_virtual_size);
    U64("current file size", h->current_file_size);
    fprintf(out, "pool: %zu bytes, %zu carves:", c->pool_len, c->ncarves);
    for (size_t i = 0; i < c->ncarves; i++)
        fprintf(out, " %zu", c->carve[i].len);
    fprintf(out, "\n%s options:\n", instar_fuzz_target_name(h->target));

    switch (h->target) {
    case INSTAR_FUZZ_RAW:
        request(out, &c->raw.req);
        U64("current_file_size", c->raw.current_file_size);
        break;
    case INSTAR_FUZZ_QCOW2_GROW:
    case INSTAR_FUZZ_QCOW2_SHRINK: {
        const struct instar_qcow2_resize_opts *o = &c->qcow2;
        request(out, &o->req);
        U64("current_file_size", o->current_file_size);
        U64("version", o->version);
        U64("cluster_bits", o->cluster_bits);
        U64("virtual_size", o->virtual_size);
        U64("l1_size", o->l1_size);
        U64("l1_table_offset", o->l1_table_offset);
        U64("refcount_table_offset", o->refcount_table_offset);
        U64("refcount_table_clust", o->refcount_table_clusters);
        U64("refcount_order", o->refcount_order);
        U64("incompatible", o->incompatible_features);
        U64("compatible", o->compatible_features);
        U64("autoclear", o->autoclear_features);
        U64("header_length", o->header_length);
        U64("nb_snapshots", o->nb_snapshots);
        U64("snapshots_offset", o->snapshots_offset);
        fprintf(out, "  %-22s %s\n", "has_bitmaps", o->has_bitmaps ? "yes" : "no");
        if (o->zero_grow)
            fprintf(out, "  %-22s %s\n", "zero_grow", "yes (backing file longer)");
        if (o->backing_head.data != NULL)
            slice(out, "backing_head", o->backing_head);
        slice(out, "header", o->header);
        slice(out, "l1", o->l1);
        slice(out, "reftable", o->reftable);
        fprintf(out, "  %-22s %zu", "refblocks staged", o->n_refblocks);
        if (o->n_refblocks)
            fprintf(out, " (indices 0..%zu, %zu bytes each)", o->n_refblocks - 1,
                    o->refblocks[0].bytes.len);
        fprintf(out, "\n  %-22s %zu", "l2 tables staged", o->n_l2_tables);
        if (o->n_l2_tables)
            fprintf(out, " (indices 0..%zu, %zu bytes each)", o->n_l2_tables - 1,
                    o->l2_tables[0].bytes.len);
        fputc('\n', out);
        /* The layout block's bitmap directory and tables. */
        for (size_t i = 0; i < o->n_byte_ranges; i++)
            fprintf(out, "  %-22s at 0x%llx, %zu bytes\n", i == 0 ? "bitmap directory" : "bitmap table",
                    (unsigned long long)o->byte_ranges[i].index, o->byte_ranges[i].bytes.len);
        break;
    }
    case INSTAR_FUZZ_VHD: {
        const struct instar_vhd_resize_opts *o = &c->vhd;
        request(out, &o->req);
        U64("current_file_size", o->current_file_size);
        U64("disk_type", o->disk_type);
        U64("virtual_size", o->virtual_size);
        U64("block_size", o->block_size);
        U64("max_table_entries", o->max_table_entries);
        U64("bat_offset", o->bat_offset);
        U64("first_block_offset", o->first_block_offset);
        slice(out, "footer", o->footer);
        slice(out, "dyn_header", o->dyn_header);
        slice(out, "bat", o->bat);
        break;
    }
    case INSTAR_FUZZ_VHDX: {
        const struct instar_vhdx_resize_opts *o = &c->vhdx;
        request(out, &o->req);
        U64("current_file_size", o->current_file_size);
        U64("virtual_size", o->virtual_size);
        U64("block_size", o->block_size);
        U64("logical_sector_size", o->logical_sector_size);
        fprintf(out, "  %-22s %s\n", "leave_blocks_alloc", o->leave_blocks_allocated ? "yes" : "no");
        U64("metadata_offset", o->metadata_offset);
        U64("bat_offset", o->bat_offset);
        U64("bat_region_length", o->bat_region_length);
        slice(out, "header1", o->header1);
        slice(out, "header2", o->header2);
        slice(out, "region1", o->region1);
        slice(out, "metadata", o->metadata);
        slice(out, "bat", o->bat);
        break;
    }
    case INSTAR_FUZZ_VMDK: {
        const struct instar_vmdk_resize_opts *o = &c->vmdk;
        request(out, &o->req);
        U64("current_file_size", o->current_file_size);
        U64("capacity_sectors", o->capacity_sectors);
        U64("grain_sectors", o->grain_sectors);
        U64("gtes_per_gt", o->gtes_per_gt);
        U64("gd_offset_sectors", o->gd_offset_sectors);
        U64("rgd_offset_sectors", o->rgd_offset_sectors);
        U64("descriptor_offset", o->descriptor_offset_sectors);
        U64("descriptor_sectors", o->descriptor_sectors);
        slice(out, "header", o->header);
        slice(out, "descriptor", o->descriptor);
        slice(out, "gd", o->gd);
        slice(out, "rgd", o->rgd);
        break;
    }
    case INSTAR_FUZZ__COUNT:
        break;
    }
}
