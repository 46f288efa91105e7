/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-bitmaps.c -- persistent dirty bitmaps across a resize.
 *
 * A bitmap's table must have exactly the clusters its bits need at the
 * image's size (qemu refuses to load it otherwise).  Bitmaps whose table
 * keeps its size stay valid as they are: qemu ignores bits past a shrunk
 * end, and bits a grow adds inside the table are clean or, if stale,
 * dirty (safe for an incremental backup).  A table that changes size is
 * rewritten: a new table (old entries kept, new ones clean; on a shrink
 * the dropped entries' data clusters released) and a new directory
 * pointing to it are written where nothing points yet, the header commit
 * switches the bitmaps extension to the new directory, and the old
 * directory and tables are released after it. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"

#define BM_MAX_DIR_SIZE (64u * 1024 * 1024)
#define BM_MAX_TABLE_SIZE 0x8000000u
#define BM_MAX_PHYS_SIZE 0x20000000u
#define BM_FLAG_IN_USE 1u
#define BM_ENTRY_HEADER 24

/* A staged byte range starting at OFF of at least LEN bytes, or NULL
 * with a need recorded. */
static const uint8_t *bytes_at(struct q2 *q, uint64_t off, uint64_t len)
{
    const struct instar_qcow2_resize_opts *o = q->o;
    for (size_t i = 0; o->byte_ranges && i < o->n_byte_ranges; i++)
        if (o->byte_ranges[i].index == off && o->byte_ranges[i].bytes.data
            && o->byte_ranges[i].bytes.len >= len)
            return o->byte_ranges[i].bytes.data;
    instar_builder_need(&q->b, INSTAR_NEED_BYTES, off, len);
    return NULL;
}

static uint64_t table_entries(const struct q2 *q, uint64_t size, unsigned gbits)
{
    uint64_t bits = (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
    uint64_t bytes = instar_div_round_up_u64(bits, 8);
    return instar_div_round_up_u64(bytes, q->cs);
}

/* qemu's check_constraints_on_bitmap at the new size: the bitmap's data
 * (get_bitmap_bytes_needed) within BME_MAX_PHYS_SIZE and its table within
 * BME_MAX_TABLE_SIZE clusters. */
static bool fits(uint64_t size, uint64_t cs, unsigned gbits)
{
    uint64_t bits = (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
    uint64_t bytes = instar_div_round_up_u64(bits, 8);
    return bytes <= BM_MAX_PHYS_SIZE && bytes <= (uint64_t)BM_MAX_TABLE_SIZE * cs;
}

/* qemu's in-memory bitmaps hold at most 2^41 granules (hbitmap's
 * HBITMAP_LOG_MAX_SIZE): beyond that qemu-img 7.2 aborts after writing the
 * new size, leaving an image no qemu opens.  Refused here instead. */
static bool loadable(uint64_t size, unsigned gbits)
{
    uint64_t bits = (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
    return bits <= (1ull << 41);
}

static bool in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
    uint64_t end;
    return off != 0 && (off & (q->cs - 1)) == 0 && instar_add_u64(off, len, &end)
           && end <= q->file_size;
}

struct bm_entry {
    uint64_t pos, toff;
    uint32_t tsize, flags;
    unsigned gbits;
    uint16_t name_len;
    const uint8_t *name;
};

/* The directory entry at *POS of directory D (validated); *POS moves on. */
static int next_entry(const struct q2 *q, const uint8_t *d, uint64_t *pos,
                      struct bm_entry *b)
{
    const uint8_t *e = d + *pos;
    uint64_t next;
    uint32_t extra;
    unsigned type;
    if (q->bmdir_size - *pos < BM_ENTRY_HEADER)
        return q2_refuse_at(q, INSTAR_E_PARSE, "bitmap directory entry at byte", *pos,
                            "is cut off by the directory's end");
    b->pos = *pos;
    b->toff = instar_be64(e);
    b->tsize = instar_be32(e + 8);
    b->flags = instar_be32(e + 12);
    type = e[16];
    b->gbits = e[17];
    b->name_len = instar_be16(e + 18);
    b->name = e + BM_ENTRY_HEADER;
    extra = instar_be32(e + 20);
    next = *pos + ((BM_ENTRY_HEADER + (uint64_t)b->name_len + extra + 7) & ~7ull);
    if (next > q->bmdir_size || type != 1 || b->gbits < 9 || b->gbits > 31 || b->tsize == 0
        || b->tsize > BM_MAX_TABLE_SIZE || !in_file(q, b->toff, (uint64_t)b->tsize * 8))
        return q2_refuse_at(q, INSTAR_E_PARSE, "bitmap directory entry at byte", b->pos,
                            "has a bad type, granularity, table size or table offset");
    /* In-use (inconsistent) bitmaps and extra data qemu refuses too. */
    if (b->flags & BM_FLAG_IN_USE)
        return q2_refuse_at(q, INSTAR_E_BITMAPS, "bitmap directory entry at byte", b->pos,
                            "is in use");
    if (extra != 0)
        return q2_refuse_at(q, INSTAR_E_BITMAPS, "bitmap directory entry at byte", b->pos,
                            "carries extra data");
    *pos = next;
    return INSTAR_OK;
}

/* Walk the whole directory; with FN, call it on every entry. */
static int walk_dir(struct q2 *q, const uint8_t *d,
                    int (*fn)(struct q2 *q, const struct bm_entry *b))
{
    uint64_t pos = 0;
    uint32_t n = 0;
    while (pos < q->bmdir_size) {
        struct bm_entry b;
        int rc;
        if (++n > q->nb_bitmaps)
            return q2_refuse(q, INSTAR_E_PARSE, "the bitmap directory holds more entries "
                             "than nb_bitmaps");
        rc = next_entry(q, d, &pos, &b);
        if (rc == INSTAR_OK && fn)
            rc = fn(q, &b);
        if (rc != INSTAR_OK)
            return rc;
    }
    return n == q->nb_bitmaps ? INSTAR_OK
        : q2_refuse(q, INSTAR_E_PARSE, "the bitmap directory holds fewer entries than nb_bitmaps");
}

/* qemu's qcow2_truncate_bitmaps_check: every bitmap loadable and none in
 * use.  Comes before the L1 limit, as in qcow2_co_truncate. */
int q2_check_bitmaps(struct q2 *q)
{
    const uint8_t *d;
    q->nbm = 0;
    q->bm_in_use = false;
    if (q->nb_bitmaps == 0 || q->bmdir_size == 0 || q->bmdir_size > BM_MAX_DIR_SIZE
        || !in_file(q, q->bmdir_offset, q->bmdir_size))
        return q2_refuse(q, INSTAR_E_PARSE, "the bitmaps extension: no bitmaps, or the "
                         "directory is empty, too large or past the end of the file");
    d = bytes_at(q, q->bmdir_offset, q->bmdir_size);
    if (d == NULL)
        return INSTAR_E_NOT_STAGED;
    return walk_dir(q, d, NULL);
}

static int check_fit(struct q2 *q, const struct bm_entry *b)
{
    if (!loadable(q->new_size, b->gbits))
        return q2_refuse_at(q, INSTAR_E_BITMAPS, "bitmap directory entry at byte", b->pos,
                            "would need more than 2^41 bits at the new size");
    if (!fits(q->new_size, q->cs, b->gbits))
        q->bm_in_use = true;
    return INSTAR_OK;
}

static int collect(struct q2 *q, const struct bm_entry *b)
{
    uint64_t want = table_entries(q, q->new_size, b->gbits);
    struct q2_bm *m;
    if (want == b->tsize)
        return INSTAR_OK;
    if (q->nbm >= Q2_MAX_BM)
        return q2_refuse(q, INSTAR_E_BITMAPS, "more than 16 bitmap tables change size");
    m = &q->bm[q->nbm++];
    m->dir_pos = b->pos;
    m->old_offset = b->toff;
    m->old_entries = b->tsize;
    m->new_entries = want;
    m->table = bytes_at(q, b->toff, (uint64_t)b->tsize * 8);
    return m->table == NULL ? INSTAR_E_NOT_STAGED : INSTAR_OK;
}

/* After the resize qemu stores the bitmaps at the new size.  When one no
 * longer fits (check_constraints_on_bitmap), the store fails as a whole
 * and every bitmap stays as qemu marked it on opening: in use, its table
 * unchanged.  Otherwise the tables that change size are rewritten. */
int q2_plan_bitmaps(struct q2 *q)
{
    const uint8_t *d = bytes_at(q, q->bmdir_offset, q->bmdir_size);
    int rc = INSTAR_OK;
    if (d == NULL)
        return INSTAR_E_NOT_STAGED;
    rc = walk_dir(q, d, check_fit);
    if (rc != INSTAR_OK)
        return rc;
    if (q->bm_in_use || q->new_size == q->old_size)
        return INSTAR_OK;
    /* Every missing old table is asked for in the same round. */
    for (uint64_t pos = 0; pos < q->bmdir_size;) {
        struct bm_entry b;
        int r = next_entry(q, d, &pos, &b);
        if (r == INSTAR_OK)
            r = collect(q, &b);
        if (r == INSTAR_E_NOT_STAGED)
            rc = r;
        else if (r != INSTAR_OK)
            return r;
    }
    return rc;
}

/* The in-use marks (prepare, before the commit: a table too small for the
 * new size is only loadable when its bitmap is marked in use). */
int q2_emit_bitmaps_in_use(struct q2 *q)
{
    const uint8_t *d = bytes_at(q, q->bmdir_offset, q->bmdir_size);
    uint8_t *buf;
    if (d == NULL)
        return INSTAR_E_NOT_STAGED;
    buf = instar_builder_alloc(&q->b, q->bmdir_size);
    if (buf == NULL)
        return q->b.err;
    memcpy(buf, d, q->bmdir_size);
    for (uint64_t pos = 0; pos < q->bmdir_size;) {
        struct bm_entry b;
        if (next_entry(q, d, &pos, &b) != INSTAR_OK)
            return q2_refuse(q, INSTAR_E_PARSE, "the bitmap directory changed between checks");
        instar_put_be32(buf + b.pos + 12, b.flags | BM_FLAG_IN_USE);
    }
    instar_builder_write(&q->b, q->bmdir_offset, buf, q->bmdir_size);
    return q->b.err;
}

/* See instar/resize.h.  A staged range without recording a need. */
static const uint8_t *staged(const struct instar_qcow2_resize_opts *o, uint64_t off,
                             uint64_t len)
{
    for (size_t i = 0; o->byte_ranges && i < o->n_byte_ranges; i++)
        if (o->byte_ranges[i].index == off && o->byte_ranges[i].bytes.data
            && o->byte_ranges[i].bytes.len >= len)
            return o->byte_ranges[i].bytes.data;
    return NULL;
}

int instar_qcow2_bitmap_report(const struct instar_qcow2_resize_opts *o, char *name,
                               size_t len)
{
    struct q2 q;
    const uint8_t *d;
    const uint8_t *found = NULL;
    uint16_t found_len = 0;
    int kind = 0;
    if (len == 0 || q2_parse(&q, o) != INSTAR_OK || !q.has_bitmaps || q.nb_bitmaps == 0
        || q.bmdir_size > BM_MAX_DIR_SIZE || !in_file(&q, q.bmdir_offset, q.bmdir_size)
        || (d = staged(o, q.bmdir_offset, q.bmdir_size)) == NULL)
        return 0;
    for (uint64_t pos = 0; pos < q.bmdir_size;) {
        struct bm_entry b;
        int rc = next_entry(&q, d, &pos, &b);
        if (rc == INSTAR_E_BITMAPS && (instar_be32(d + pos + 12) & BM_FLAG_IN_USE)
            && q.bmdir_size - pos >= BM_ENTRY_HEADER + (uint64_t)instar_be16(d + pos + 18)) {
            /* qemu's truncate check names the first one in use. */
            found = d + pos + BM_ENTRY_HEADER;
            found_len = instar_be16(d + pos + 18);
            kind = 1;
            break;
        }
        if (rc != INSTAR_OK)
            return 0;
        if (!loadable(q.new_size, b.gbits) && q2_size_to_l1(&q, q.new_size) <= QCOW2_MAX_L1_ENTRIES) {
            found = b.name;
            found_len = b.name_len;
            kind = 3;
            break;
        }
        /* Its store walks the bitmaps newest first: the last misfit. */
        if (!fits(q.new_size, q.cs, b.gbits) && q.new_size > q.old_size) {
            found = b.name;
            found_len = b.name_len;
            kind = 2;
        }
    }
    if (kind == 0)
        return 0;
    if (found_len >= len)
        found_len = (uint16_t)(len - 1);
    memcpy(name, found, found_len);
    name[found_len] = '\0';
    return kind;
}

int q2_bitmaps_release(struct q2 *q)
{
    int rc;
    if (q->nbm == 0)
        return INSTAR_OK;
    rc = q2_rc_decrement(q, q->bmdir_offset >> q->cluster_bits,
                         instar_div_round_up_u64(q->bmdir_size, q->cs));
    for (size_t k = 0; k < q->nbm && rc == INSTAR_OK; k++) {
        struct q2_bm *b = &q->bm[k];
        rc = q2_rc_decrement(q, b->old_offset >> q->cluster_bits,
                             instar_div_round_up_u64(b->old_entries * 8, q->cs));
        /* A shrunk table drops entries: their data clusters go too. */
        for (uint64_t i = b->new_entries; i < b->old_entries && rc == INSTAR_OK; i++) {
            uint64_t e = instar_be64(b->table + i * 8) & QCOW2_OFFSET_MASK;
            if (e & (q->cs - 1))
                return q2_refuse_at(q, INSTAR_E_PARSE, "bitmap table entry", i,
                                    "is not cluster-aligned");
            if (e)
                rc = q2_rc_decrement(q, e >> q->cluster_bits, 1);
        }
    }
    return rc;
}

int q2_bitmaps_alloc(struct q2 *q)
{
    uint64_t at;
    int rc;
    if (q->nbm == 0)
        return INSTAR_OK;
    for (size_t k = 0; k < q->nbm; k++) {
        rc = q2_alloc(q, instar_div_round_up_u64(q->bm[k].new_entries * 8, q->cs),
                      Q2_RUN_BMTABLE, k, &at);
        if (rc != INSTAR_OK)
            return rc;
        q->bm[k].new_cluster = at;
    }
    rc = q2_alloc(q, instar_div_round_up_u64(q->bmdir_size, q->cs), Q2_RUN_BMDIR, 0, &at);
    if (rc != INSTAR_OK)
        return rc;
    q->bm_new_dir = at;
    return INSTAR_OK;
}

void q2_fill_bitmaps(struct q2 *q, const struct q2_run *run, uint8_t *buf)
{
    if (run->kind == Q2_RUN_BMTABLE) {
        const struct q2_bm *b = &q->bm[run->first_index];
        uint64_t keep = b->old_entries < b->new_entries ? b->old_entries : b->new_entries;
        memcpy(buf, b->table, keep * 8);
        return;
    }
    memcpy(buf, bytes_at(q, q->bmdir_offset, q->bmdir_size), q->bmdir_size);
    for (size_t k = 0; k < q->nbm; k++) {
        instar_put_be64(buf + q->bm[k].dir_pos, q->bm[k].new_cluster << q->cluster_bits);
        instar_put_be32(buf + q->bm[k].dir_pos + 8, (uint32_t)q->bm[k].new_entries);
    }
}
