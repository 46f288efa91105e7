/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-emit.c -- the writes both VHDX plans share: a region table with
 * its BAT moved, the header update with the size commit, and the zeroed
 * tail of a partial last block. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vhdx.h"
#include "util/endian.h"

/* A copy of region table RT (64 KiB) with its BAT entry moved. */
uint8_t *vhdx_moved_region_table(struct instar_builder *b, struct instar_slice rt,
                                 uint32_t bat_index, uint64_t off, uint32_t len)
{
    uint8_t *t = instar_builder_alloc(b, VHDX_REGION_SIZE);
    if (t == NULL)
        return NULL;
    memcpy(t, rt.data, VHDX_REGION_SIZE);
    uint8_t *e = t + 16 + (size_t)bat_index * 32;
    instar_put_le64(e + 16, off);
    instar_put_le32(e + 24, len);
    instar_vhdx_checksum_set(t, VHDX_REGION_SIZE);
    return t;
}

static uint8_t *updated_header(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                               const uint8_t *current, uint64_t seq)
{
    uint8_t *h = instar_builder_alloc(b, VHDX_HEADER_SIZE);
    if (h == NULL)
        return NULL;
    memcpy(h, current, VHDX_HEADER_SIZE);
    instar_put_le64(h + 8, seq);
    memcpy(h + 16, o->file_write_guid, 16);
    memcpy(h + 32, o->data_write_guid, 16);
    instar_vhdx_checksum_set(h, VHDX_HEADER_SIZE);
    return h;
}

/* The header update (MS-VHDX: the non-current header with seq+1 and the
 * new GUIDs, then the other with seq+2) and the commit: the Virtual Disk
 * Size item. */
void vhdx_emit_headers_and_commit(struct instar_builder *b,
                                  const struct instar_vhdx_resize_opts *o,
                                  const struct vhdx_facts *f, uint64_t new_size)
{
    const uint8_t *cur = f->hdr.current == 0 ? o->header1.data : o->header2.data;
    uint8_t *h_first = updated_header(b, o, cur, f->hdr.seq + 1);
    uint8_t *h_second = updated_header(b, o, cur, f->hdr.seq + 2);
    uint8_t *size_item = instar_builder_alloc(b, 8);
    if (h_first == NULL || h_second == NULL || size_item == NULL)
        return;                                 /* b->err is set */
    const uint64_t other_off = f->hdr.current == 0 ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET;
    const uint64_t cur_off = f->hdr.current == 0 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET;
    instar_builder_write(b, other_off, h_first, VHDX_HEADER_SIZE);
    instar_builder_write(b, cur_off, h_second, VHDX_HEADER_SIZE);
    instar_put_le64(size_item, new_size);
    instar_builder_write(b, f->rt1.meta_offset + f->meta.size_item_offset, size_item, 8);
}

void vhdx_zero_block_tail(struct instar_builder *b, const struct instar_vhdx_resize_opts *o,
                          const struct vhdx_facts *f, uint64_t cr, uint64_t size)
{
    const uint64_t bs = f->meta.block_size;
    if (size % bs == 0)
        return;
    const uint64_t p = instar_div_round_up_u64(size, bs);
    uint64_t e = instar_le64(o->bat.data + instar_vhdx_payload_index(p - 1, cr) * 8);
    if ((e & VHDX_BAT_STATE_MASK) == VHDX_PAYLOAD_FULLY_PRESENT) {
        uint64_t from = (e & VHDX_BAT_OFFSET_MASK) + size % bs;
        uint64_t to = (e & VHDX_BAT_OFFSET_MASK) + bs;
        if (to > o->current_file_size)
            to = o->current_file_size;  /* past EOF reads as zeros already */
        if (from < to)
            instar_builder_zero(b, from, to - from);
    }
}
