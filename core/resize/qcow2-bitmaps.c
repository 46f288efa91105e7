/* qcow2-bitmaps.c -- persistent dirty bitmaps across a resize.
 *
 * A bitmap's table must have exactly the clusters its bits need at the
 * image's size (qemu refuses to load it otherwise).  When no table changes
 * size, the bitmaps stay valid as they are: bits past a shrunk end are
 * ignored by qemu (and read as dirty after a later grow, which is safe for
 * an incremental backup), and a grow inside the same table adds bits that
 * are clean or stale-dirty, never wrongly clean.  Rewriting tables that
 * change size is not implemented: such a resize is refused. */
#include <config.h>

#include "instar/error.h"
#include "resize/qcow2.h"
#include "util/checked.h"
#include "util/endian.h"

#define BM_MAX_DIR_SIZE (64u * 1024 * 1024)
#define BM_FLAG_IN_USE 1u
#define BM_ENTRY_HEADER 24

static uint64_t table_clusters(const struct q2 *q, uint64_t size, unsigned gbits)
{
    uint64_t bits = (size >> gbits) + ((size & ((1ull << gbits) - 1)) != 0);
    uint64_t bytes = instar_div_round_up_u64(bits, 8);
    return instar_div_round_up_u64(bytes, q->cs);
}

int q2_check_bitmaps(struct q2 *q)
{
    const struct instar_slice *d = &q->o->bitmap_directory;
    uint64_t pos = 0, end;
    uint32_t n = 0;

    if (q->nb_bitmaps == 0 || q->bmdir_size == 0 || q->bmdir_size > BM_MAX_DIR_SIZE
        || (q->bmdir_offset & (q->cs - 1)) || q->bmdir_offset == 0
        || !instar_add_u64(q->bmdir_offset, q->bmdir_size, &end) || end > q->file_size)
        return INSTAR_E_PARSE;
    if (d->data == NULL || d->len < q->bmdir_size) {
        instar_builder_need(&q->b, INSTAR_NEED_BYTES, q->bmdir_offset, q->bmdir_size);
        return INSTAR_E_NOT_STAGED;
    }
    while (pos < q->bmdir_size) {
        const uint8_t *e = d->data + pos;
        uint32_t tsize, flags, extra;
        uint16_t name;
        unsigned type, gbits;
        uint64_t next;
        if (q->bmdir_size - pos < BM_ENTRY_HEADER || ++n > q->nb_bitmaps)
            return INSTAR_E_PARSE;
        tsize = instar_be32(e + 8);
        flags = instar_be32(e + 12);
        type = e[16];
        gbits = e[17];
        name = instar_be16(e + 18);
        extra = instar_be32(e + 20);
        next = pos + ((BM_ENTRY_HEADER + (uint64_t)name + extra + 7) & ~7ull);
        if (next > q->bmdir_size || type != 1 || gbits < 9 || gbits > 31 || tsize == 0)
            return INSTAR_E_PARSE;
        /* An in-use (inconsistent) bitmap, or one whose table would have
         * to change size: not something this planner rewrites. */
        if ((flags & BM_FLAG_IN_USE) || extra != 0
            || table_clusters(q, q->new_size, gbits) != tsize)
            return INSTAR_E_BITMAPS;
        pos = next;
    }
    if (n != q->nb_bitmaps)
        return INSTAR_E_PARSE;
    return INSTAR_OK;
}
