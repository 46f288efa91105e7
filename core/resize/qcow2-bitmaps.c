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

static bool in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
    uint64_t end;
    return off != 0 && (off & (q->cs - 1)) == 0 && instar_add_u64(off, len, &end)
           && end <= q->file_size;
}

int q2_check_bitmaps(struct q2 *q)
{
    const uint8_t *d;
    uint64_t pos = 0;
    uint32_t n = 0;
    int result = INSTAR_OK;

    q->nbm = 0;
    if (q->nb_bitmaps == 0 || q->bmdir_size == 0 || q->bmdir_size > BM_MAX_DIR_SIZE
        || !in_file(q, q->bmdir_offset, q->bmdir_size))
        return INSTAR_E_PARSE;
    d = bytes_at(q, q->bmdir_offset, q->bmdir_size);
    if (d == NULL)
        return INSTAR_E_NOT_STAGED;
    while (pos < q->bmdir_size) {
        const uint8_t *e = d + pos;
        uint64_t toff, next, want;
        uint32_t tsize, flags, extra;
        uint16_t name;
        unsigned type, gbits;
        if (q->bmdir_size - pos < BM_ENTRY_HEADER || ++n > q->nb_bitmaps)
            return INSTAR_E_PARSE;
        toff = instar_be64(e);
        tsize = instar_be32(e + 8);
        flags = instar_be32(e + 12);
        type = e[16];
        gbits = e[17];
        name = instar_be16(e + 18);
        extra = instar_be32(e + 20);
        next = pos + ((BM_ENTRY_HEADER + (uint64_t)name + extra + 7) & ~7ull);
        if (next > q->bmdir_size || type != 1 || gbits < 9 || gbits > 31 || tsize == 0
            || tsize > BM_MAX_TABLE_SIZE || !in_file(q, toff, (uint64_t)tsize * 8))
            return INSTAR_E_PARSE;
        /* In-use (inconsistent) bitmaps and extra data qemu refuses too. */
        if ((flags & BM_FLAG_IN_USE) || extra != 0)
            return INSTAR_E_BITMAPS;
        want = table_entries(q, q->new_size, gbits);
        if (want > BM_MAX_TABLE_SIZE)
            return INSTAR_E_BITMAPS;
        if (want != tsize) {
            struct q2_bm *b;
            if (q->nbm >= Q2_MAX_BM)
                return INSTAR_E_BITMAPS;
            b = &q->bm[q->nbm++];
            b->dir_pos = pos;
            b->old_offset = toff;
            b->old_entries = tsize;
            b->new_entries = want;
            b->table = bytes_at(q, toff, (uint64_t)tsize * 8);
            if (b->table == NULL)
                result = INSTAR_E_NOT_STAGED;
        }
        pos = next;
    }
    if (n != q->nb_bitmaps)
        return INSTAR_E_PARSE;
    return result;
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
            uint64_t e = instar_be64(b->table + i * 8) & Q2_OFFSET_MASK;
            if (e & (q->cs - 1))
                return INSTAR_E_PARSE;
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
