/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhd.c -- the VHD (qemu "vpc") resize planner: grow and shrink fixed and
 * dynamic disks so that qemu 7.2 reads back the new size, the kept data
 * and zeros in any new range.
 *
 * Sizes are rounded as qemu-img create would store them for the image's
 * creator app: CHS-sized creators ("qemu", "vpc ", ...) get the first
 * C*H*S >= the request (or the exact size once the geometry is pinned at
 * 65535/16/255); current-size creators ("qem2", "win ", ...) get the
 * request rounded up to 512.
 *
 * Crash order (prepare, commit, cleanup):
 *   fixed grow:     new footer at the new end -> zero the old footer (now data)
 *   fixed shrink:   new footer inside the discarded data -> (host) cut
 *   dynamic grow:   footer copy at the (new) end of file -> zero/unmap stale
 *                   data beyond the old size -> BAT growth (in its padding,
 *                   at the tail over the old EOF footer, or a relocated copy
 *                   at the old EOF footer) -> dynamic header (table offset,
 *                   entries, checksum) -> footer at offset 0 (the commit:
 *                   qemu reads that copy)
 *   dynamic shrink: footer copy at end -> footer at 0 (commit) -> unmap
 *                   blocks beyond, zero the new last block's tail ->
 *                   dynamic header (entries = the new block count).
 * Max Table Entries ends equal to the block count the size needs, as
 * qemu-img create writes it: the spec says it "should be equal", and
 * 7-Zip refuses any other value.  qemu takes a larger table, so a prefix
 * that stops between the footer commit and the header is still read; the
 * file always ends in a footer, so every prefix opens (in qemu and in our
 * own reader).  Original Size never stays above Current Size: libvhdi
 * reports Original Size as the disk's size, and other VHD libraries
 * refuse a footer whose original size exceeds the current one. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/builder.h"
#include "resize/vhd-format.h"
#include "resize/refuse.h"
#include "util/checked.h"
#include "util/endian.h"

static bool staged(const struct instar_slice *s, uint64_t need)
{
    return s->data != NULL && s->len >= need;
}

/* The new size and geometry for a request of NEW_BYTES (<= 2040 GiB). */
static int round_new_size(const struct vhd_footer *f, const uint8_t *footer,
                          uint64_t new_bytes, uint64_t *stored, struct vhd_chs *chs)
{
    uint64_t r;
    if (!instar_align_up_u64(new_bytes, VHD_SECTOR, &r))
        return INSTAR_E_OVERFLOW;
    if (f->uses_chs)
        return vhd_round_size(r, false, stored, chs);
    /* Current-size creators: the exact size.  Keep a pinned geometry (qemu's
     * force_size writes it); otherwise the spec's geometry, rounded down,
     * as Hyper-V writes it. */
    if (r > VHD_MAX_BYTES)
        return INSTAR_E_TOO_LARGE;
    if (vhd_chs_is_max(&f->chs) || memcmp(footer + VHD_F_CREATOR_APP, "qem2", 4) == 0)
        return vhd_round_size(r, true, stored, chs);
    vhd_geometry(r / VHD_SECTOR, chs);
    *stored = r;
    return INSTAR_OK;
}

/* The footer with the new size and geometry, in scratch. */
static uint8_t *new_footer(struct instar_builder *b, const uint8_t *old,
                           uint64_t stored, const struct vhd_chs *chs)
{
    uint8_t *p = instar_builder_alloc(b, VHD_FOOTER_SIZE);
    if (p == NULL)
        return NULL;
    memcpy(p, old, VHD_FOOTER_SIZE);
    if (instar_be64(p + VHD_F_ORIG_SIZE) > stored)
        instar_put_be64(p + VHD_F_ORIG_SIZE, stored);   /* shrunk below it */
    instar_put_be64(p + VHD_F_CUR_SIZE, stored);
    instar_put_be16(p + VHD_F_CYLS, chs->cyls);
    p[VHD_F_HEADS] = chs->heads;
    p[VHD_F_SECS] = chs->secs;
    instar_put_be32(p + VHD_F_CHECKSUM, vhd_checksum(p, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
    return p;
}

/* WRITE, or APPEND when OFFSET is the end of file at that moment. */
static void emit(struct instar_builder *b, uint64_t offset, const uint8_t *data,
                 uint64_t len, uint64_t eof)
{
    if (offset == eof)
        instar_builder_append(b, offset, data, len);
    else
        instar_builder_write(b, offset, data, len);
}

/* Make [OFF, OFF+LEN) hold 0xFF bytes (unused BAT entries and padding).
 * One shared 0xFF buffer serves up to ~100 disjoint writes, so scratch
 * stays about LEN/96 however large the table grows. */
static void emit_fill(struct instar_builder *b, uint64_t off, uint64_t len, uint64_t *eof)
{
    uint64_t chunk;
    uint8_t *ff;
    if (len == 0)
        return;
    chunk = instar_div_round_up_u64(len, 96);
    if (chunk < 65536)
        chunk = 65536;
    if (chunk > len)
        chunk = len;
    if (chunk > SIZE_MAX) {
        b->err = INSTAR_E_SCRATCH_TOO_SMALL;
        return;
    }
    ff = instar_builder_alloc(b, (size_t)chunk);
    if (ff == NULL)
        return;
    memset(ff, 0xff, (size_t)chunk);
    for (uint64_t done = 0; done < len; done += chunk) {
        uint64_t n = len - done < chunk ? len - done : chunk;
        emit(b, off + done, ff, n, *eof);
        if (off + done + n > *eof)
            *eof = off + done + n;
    }
}

static int plan_fixed(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                      const struct vhd_footer *f, uint64_t stored, const struct vhd_chs *chs)
{
    struct instar_resize_plan *plan = b->plan;
    uint64_t file = o->current_file_size;
    uint64_t data_len = file - VHD_FOOTER_SIZE;
    const uint8_t *foot = new_footer(b, o->footer.data, stored, chs);

    if (stored < f->virtual_size) {
        /* Shrink: the footer goes inside the discarded data, then the
         * length cut (the host's final step) makes it the last sector. */
        plan->total_file_size = stored + VHD_FOOTER_SIZE;
        instar_builder_write(b, stored, foot, VHD_FOOTER_SIZE);
        return instar_builder_finish(b);
    }
    /* Another tool may keep more data than the size shows: never cut it,
     * but zero what is about to become visible (it is invisible now). */
    uint64_t new_end = stored > data_len ? stored : data_len;
    plan->total_file_size = new_end + VHD_FOOTER_SIZE;   /* <= 2 TiB + 512 */
    if (data_len > f->virtual_size)
        instar_builder_zero(b, f->virtual_size, data_len - f->virtual_size);
    if (new_end == data_len) {
        instar_builder_write(b, data_len, foot, VHD_FOOTER_SIZE);  /* commit */
    } else {
        emit(b, new_end, foot, VHD_FOOTER_SIZE, file);            /* commit */
        instar_builder_zero(b, data_len, VHD_FOOTER_SIZE);        /* cleanup */
        if (o->req.prealloc == INSTAR_PREALLOC_FALLOC || o->req.prealloc == INSTAR_PREALLOC_FULL) {
            plan->prealloc_offset = data_len;
            plan->prealloc_length = new_end - data_len;
        }
    }
    return instar_builder_finish(b);
}

/* Validated dynamic-disk facts. */
struct dyn {
    uint64_t hdr_off, bat_off, bat_end;
    uint32_t n, bs;
    uint64_t bitmap;
    uint64_t room_end;          /* where the next structure after the BAT starts */
};

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

static int check_dynamic(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                         const struct vhd_footer *f, struct dyn *d)
{
    uint64_t file = o->current_file_size, eof_footer = file - VHD_FOOTER_SIZE;
    const uint8_t *h;
    uint64_t t;

    d->hdr_off = f->data_offset;
    if (d->hdr_off < VHD_FOOTER_SIZE || !instar_add_u64(d->hdr_off, VHD_DYN_HEADER_SIZE, &t)
        || t > eof_footer)
        return instar_refuse(&o->req, INSTAR_E_PARSE, "the footer's data offset points "
                             "outside the file");
    if (!staged(&o->dyn_header, VHD_DYN_HEADER_SIZE)) {
        instar_builder_need(b, INSTAR_NEED_BYTES, d->hdr_off, VHD_DYN_HEADER_SIZE);
        return INSTAR_E_NOT_STAGED;
    }
    h = o->dyn_header.data;
    if (memcmp(h, VHD_DYN_COOKIE, VHD_COOKIE_LEN) != 0
        || vhd_checksum(h, VHD_DYN_HEADER_SIZE, VHD_D_CHECKSUM) != instar_be32(h + VHD_D_CHECKSUM))
        return instar_refuse(&o->req, INSTAR_E_PARSE, "the dynamic header's cookie or "
                             "checksum is wrong");
    d->bat_off = instar_be64(h + VHD_D_TABLE_OFFSET);
    d->n = instar_be32(h + VHD_D_MAX_ENTRIES);
    d->bs = instar_be32(h + VHD_D_BLOCK_SIZE);
    if (o->block_size != d->bs || o->max_table_entries != d->n || o->bat_offset != d->bat_off)
        return instar_refuse(&o->req, INSTAR_E_HEADER_MISMATCH, "the facts disagree with "
                             "the staged dynamic header");
    /* qemu's open checks: block size, table size, table covers the disk. */
    if (!instar_is_pow2_u64(d->bs) || d->bs < VHD_SECTOR || d->n > VHD_MAX_TABLE_ENTRIES
        || (uint64_t)d->n * d->bs < f->virtual_size)
        return instar_refuse(&o->req, INSTAR_E_PARSE, "block size or max table entries "
                             "out of range, or the table does not cover the disk");
    d->bitmap = ((uint64_t)d->bs / (8 * VHD_SECTOR) + 511) & ~(uint64_t)511;
    /* The table lies between the header copies and the EOF footer. */
    d->bat_end = d->bat_off + 4 * (uint64_t)d->n;
    if (d->bat_off < VHD_FOOTER_SIZE || d->bat_off > eof_footer
        || d->bat_end < d->bat_off || d->bat_end > eof_footer
        || overlaps(d->bat_off, 4 * (uint64_t)d->n, d->hdr_off, VHD_DYN_HEADER_SIZE))
        return instar_refuse(&o->req, INSTAR_E_PARSE, "the BAT lies outside the file or "
                             "overlaps the dynamic header");
    if (!staged(&o->bat, 4 * (uint64_t)d->n)) {
        instar_builder_need(b, INSTAR_NEED_BYTES, d->bat_off, 4 * (uint64_t)d->n);
        return INSTAR_E_NOT_STAGED;
    }
    /* Every block inside the file, clear of the metadata; note the first
     * structure after the table (room for growth in place). */
    d->room_end = eof_footer;
    if (d->hdr_off >= d->bat_end && d->hdr_off < d->room_end)
        d->room_end = d->hdr_off;
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t e = instar_be32(o->bat.data + 4 * (size_t)i);
        uint64_t start = (uint64_t)e * VHD_SECTOR, len = d->bitmap + d->bs;
        if (e == VHD_BAT_UNUSED)
            continue;
        if (start < VHD_FOOTER_SIZE || start + len > eof_footer
            || overlaps(start, len, d->hdr_off, VHD_DYN_HEADER_SIZE)
            || overlaps(start, len, d->bat_off, 4 * (uint64_t)d->n))
            return instar_refuse_at(&o->req, INSTAR_E_PARSE, "BAT entry", i,
                                    "points outside the file or into metadata");
        if (start >= d->bat_end && start < d->room_end)
            d->room_end = start;
    }
    return INSTAR_OK;
}

/* Guest data at and beyond virtual offset V that is still mapped: the
 * tail of the block holding V (from V on) and whole blocks from index
 * ceil(V / bs) up to LIMIT.  Before a grow it is invisible and must read
 * as zeros once visible (another tool, or a shrink, may have left data
 * there); after a shrink it is dead.  Zero the tail, unmap the blocks
 * (their space stays allocated in the file: a leak, never reused data). */
static void clear_beyond(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                         const struct dyn *d, uint64_t v, uint64_t limit, uint64_t *eof)
{
    uint64_t first = instar_div_round_up_u64(v, d->bs), p = v / d->bs;
    if (v % d->bs != 0 && p < d->n) {
        uint32_t e = instar_be32(o->bat.data + 4 * p);
        if (e != VHD_BAT_UNUSED)
            instar_builder_zero(b, (uint64_t)e * VHD_SECTOR + d->bitmap + v % d->bs,
                                d->bs - v % d->bs);
    }
    if (limit > d->n)
        limit = d->n;
    for (uint64_t i = first; i < limit; i++) {
        if (instar_be32(o->bat.data + 4 * i) != VHD_BAT_UNUSED) {
            emit_fill(b, d->bat_off + 4 * first, 4 * (limit - first), eof);
            return;
        }
    }
}

/* The dynamic header with table offset TABLE_OFF and N entries. */
static void write_dyn_header(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                             const struct dyn *d, uint64_t table_off, uint32_t n)
{
    uint8_t *hdr = instar_builder_alloc(b, VHD_DYN_HEADER_SIZE);
    if (hdr == NULL)
        return;
    memcpy(hdr, o->dyn_header.data, VHD_DYN_HEADER_SIZE);
    instar_put_be64(hdr + VHD_D_TABLE_OFFSET, table_off);
    instar_put_be32(hdr + VHD_D_MAX_ENTRIES, n);
    instar_put_be32(hdr + VHD_D_CHECKSUM, vhd_checksum(hdr, VHD_DYN_HEADER_SIZE, VHD_D_CHECKSUM));
    instar_builder_write(b, d->hdr_off, hdr, VHD_DYN_HEADER_SIZE);
}

static int shrink_dynamic(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                          const struct dyn *d, uint64_t stored, const struct vhd_chs *chs)
{
    uint64_t file = o->current_file_size, eof = file;
    const uint8_t *foot = new_footer(b, o->footer.data, stored, chs);
    uint64_t new_n = instar_div_round_up_u64(stored, d->bs);   /* < d->n + 1 */
    b->plan->total_file_size = file;    /* dead blocks stay: no compaction */
    instar_builder_write(b, file - VHD_FOOTER_SIZE, foot, VHD_FOOTER_SIZE);
    instar_builder_write(b, 0, foot, VHD_FOOTER_SIZE);          /* commit */
    clear_beyond(b, o, d, stored, d->n, &eof);                  /* cleanup */
    /* Only now, with the smaller size committed, may the table shrink
     * (qemu refuses a table that does not cover the size).  Entries past
     * it stay 0xFF: dead bytes of the old table. */
    if (new_n < d->n)
        write_dyn_header(b, o, d, d->bat_off, (uint32_t)new_n);
    return instar_builder_finish(b);
}

enum bat_growth { BAT_KEEP, BAT_IN_PLACE, BAT_AT_TAIL, BAT_RELOCATE };

static int plan_dynamic(struct instar_builder *b, const struct instar_vhd_resize_opts *o,
                        const struct dyn *d, uint64_t old, uint64_t stored,
                        const struct vhd_chs *chs)
{
    struct instar_resize_plan *plan = b->plan;
    uint64_t file = o->current_file_size, eof_footer = file - VHD_FOOTER_SIZE;
    uint64_t new_n = instar_div_round_up_u64(stored, d->bs);
    uint64_t eof = file, footer_at = eof_footer, table_off = d->bat_off;
    uint64_t pad_end, table_len = 0, keep;
    enum bat_growth how;
    uint8_t *foot;

    if (new_n > VHD_MAX_TABLE_ENTRIES)
        return instar_refuse(&o->req, INSTAR_E_TOO_LARGE, "the new BAT would pass qemu's "
                             "max table entries");
    /* bat_off < 2^42 (file bound) and 4 * new_n < 2^31: no overflow. */
    if (!instar_align_up_u64(d->bat_off + 4 * new_n, VHD_SECTOR, &pad_end))
        return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the new BAT's end overflows");

    if (new_n <= d->n) {
        /* The table already covers the new size (an older table larger
         * than the size needs): only its entry count changes. */
        how = BAT_KEEP;
    } else if (pad_end <= d->room_end) {
        how = BAT_IN_PLACE;         /* inside its padding or free space */
    } else if (d->room_end == eof_footer) {
        /* The table is the last structure: it grows over the old EOF
         * footer and the footer moves out. */
        how = BAT_AT_TAIL;
        footer_at = pad_end;
    } else {
        /* Relocate: a copy where the old EOF footer is, the footer after
         * it.  The old table becomes dead space. */
        how = BAT_RELOCATE;
        table_off = eof_footer;
        if (!instar_align_up_u64(4 * new_n, VHD_SECTOR, &table_len))
            return instar_refuse(&o->req, INSTAR_E_OVERFLOW, "the new BAT's length overflows");
        footer_at = table_off + table_len;
    }
    /* New blocks go right after the last structure; BAT entries must be
     * able to name them (32-bit sector numbers). */
    if (footer_at > VHD_MAX_FILE_BYTES - VHD_FOOTER_SIZE)
        return instar_refuse(&o->req, INSTAR_E_TOO_LARGE, "the file would pass 2^32 sectors, "
                             "more than BAT entries can name");
    plan->total_file_size = footer_at + VHD_FOOTER_SIZE;

    /* 1. The copy at end of file, first: the file's tail is a valid footer
     *    at every step (qemu reads the copy at offset 0 for dynamic disks,
     *    so the new size there changes nothing yet). */
    foot = new_footer(b, o->footer.data, stored, chs);
    emit(b, footer_at, foot, VHD_FOOTER_SIZE, eof);
    if (footer_at + VHD_FOOTER_SIZE > eof)
        eof = footer_at + VHD_FOOTER_SIZE;
    /* 2. What becomes visible must read as zeros; then the table, where
     *    nothing points yet.  A relocated copy keeps only the entries
     *    below the old size. */
    keep = instar_div_round_up_u64(old, d->bs);
    if (keep > d->n)
        keep = d->n;
    if (how == BAT_RELOCATE) {
        clear_beyond(b, o, d, old, 0, &eof);        /* the partial block only */
        if (keep > 0)
            instar_builder_write(b, table_off, o->bat.data, 4 * keep);
        emit_fill(b, table_off + 4 * keep, table_len - 4 * keep, &eof);
    } else {
        clear_beyond(b, o, d, old, d->n, &eof);
        if (how != BAT_KEEP)
            emit_fill(b, d->bat_end, pad_end - d->bat_end, &eof);
    }
    /* 3. The dynamic header points at it with exactly the entries the
     *    new size needs (qemu takes a table larger than the old size
     *    needs, so this is safe before the commit). */
    if (new_n != d->n || table_off != d->bat_off)
        write_dyn_header(b, o, d, table_off, (uint32_t)new_n);
    /* 4. Commit: the footer qemu reads, with the new size. */
    instar_builder_write(b, 0, foot, VHD_FOOTER_SIZE);
    return instar_builder_finish(b);
}

int instar_plan_resize_vhd(const struct instar_vhd_resize_opts *opts,
                           uint8_t *scratch, size_t scratch_len,
                           struct instar_resize_plan *plan)
{
    struct instar_builder b;
    struct vhd_footer f;
    struct vhd_chs chs;
    struct dyn d = {0};
    uint64_t file, stored;
    int rc;

    instar_builder_init(&b, plan, scratch, scratch_len);
    if (opts == NULL)
        return INSTAR_E_INVALID_ARGUMENT;
    const struct instar_resize_request *req = &opts->req;
    instar_refusal_start(req);
    file = opts->current_file_size;
    if (opts->disk_type == INSTAR_VHD_DIFFERENCING)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_SUBFORMAT, "disk type is differencing");
    if (opts->disk_type != INSTAR_VHD_FIXED && opts->disk_type != INSTAR_VHD_DYNAMIC)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                             "disk type is neither fixed nor dynamic");
    /* A VHD file is whole sectors, at least the footer (and for a dynamic
     * disk, the copy at 0 and the dynamic header). */
    if (file < VHD_FOOTER_SIZE || file % VHD_SECTOR != 0)
        return instar_refuse(req, INSTAR_E_PARSE, "the file length is not whole sectors "
                             "with a footer");
    /* Nothing in a VHD lies beyond 2^32 sectors (BAT entries and the
     * 2040 GiB limit); this also keeps every sum below 2^42. */
    if (file > VHD_MAX_FILE_BYTES + VHD_FOOTER_SIZE)
        return instar_refuse(req, INSTAR_E_PARSE, "the file is longer than 2^32 sectors");
    if (!staged(&opts->footer, VHD_FOOTER_SIZE)) {
        instar_builder_need(&b, INSTAR_NEED_BYTES,
                            opts->disk_type == INSTAR_VHD_FIXED ? file - VHD_FOOTER_SIZE : 0,
                            VHD_FOOTER_SIZE);
        return instar_builder_finish(&b);
    }
    rc = vhd_parse_footer(opts->footer.data, opts->footer.len, &f);
    if (rc != INSTAR_OK)
        return instar_refuse(req, rc, "the footer's cookie, checksum or size is invalid");
    if (f.type == INSTAR_VHD_DIFFERENCING)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                             "the footer's disk type is differencing");
    if (f.type != (uint32_t)opts->disk_type || f.virtual_size != opts->virtual_size)
        return instar_refuse(req, INSTAR_E_HEADER_MISMATCH,
                             "the facts disagree with the staged footer");
    if (opts->disk_type == INSTAR_VHD_FIXED) {
        /* The data area must hold the whole disk (else: truncated). */
        if (f.virtual_size > file - VHD_FOOTER_SIZE)
            return instar_refuse(req, INSTAR_E_PARSE, "the file is shorter than the "
                                 "footer's current size (truncated)");
    } else {
        rc = check_dynamic(&b, opts, &f, &d);
        if (rc == INSTAR_E_NOT_STAGED)
            return instar_builder_finish(&b);
        if (rc != INSTAR_OK)
            return rc;
    }

    /* The image is sound; now the request, in qemu-img's order. */
    rc = instar_resize_check_request(&opts->req, f.virtual_size);
    if (rc != INSTAR_OK)
        return rc;
    if (opts->req.new_size > VHD_MAX_BYTES)
        return instar_refuse(req, INSTAR_E_TOO_LARGE, "the new size is above 2040 GiB");
    rc = round_new_size(&f, opts->footer.data, opts->req.new_size, &stored, &chs);
    if (rc != INSTAR_OK)
        return instar_refuse(req, rc, "the new size rounds past 2040 GiB");
    plan->old_virtual_size = f.virtual_size;
    plan->new_virtual_size = stored;
    plan->total_file_size = file;
    /* A smaller request never grows (a geometry qemu would not pick for
     * the current size could round it up past it). */
    if (opts->req.new_size < f.virtual_size && stored > f.virtual_size)
        stored = f.virtual_size;
    plan->new_virtual_size = stored;
    if (stored == f.virtual_size)
        return instar_builder_finish(&b);   /* rounds to the current size */
    if (stored < f.virtual_size) {
        plan->action = INSTAR_ACTION_SHRINK;
        if (opts->disk_type == INSTAR_VHD_FIXED)
            return plan_fixed(&b, opts, &f, stored, &chs);
        return shrink_dynamic(&b, opts, &d, stored, &chs);
    }
    plan->action = INSTAR_ACTION_GROW;
    if (opts->disk_type == INSTAR_VHD_FIXED)
        return plan_fixed(&b, opts, &f, stored, &chs);
    /* A dynamic disk's new range is unallocated: there is nothing it
     * could preallocate without allocating blocks, which we do not do. */
    if (opts->req.prealloc != INSTAR_PREALLOC_OFF)
        return instar_refuse(req, INSTAR_E_UNSUPPORTED_PREALLOC,
                             "a dynamic disk takes preallocation=off only");
    return plan_dynamic(&b, opts, &d, f.virtual_size, stored, &chs);
}
