/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-parse.c -- pure parsers for VHDX headers, region tables and the
 * metadata region, with qemu 7.2's acceptance rules (block/vhdx.c) plus
 * range checks on every number that later feeds an offset or a length. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vhdx-format.h"
#include "util/checked.h"
#include "util/crc32c.h"
#include "util/endian.h"

const uint8_t instar_vhdx_guid_bat[16] = {
    0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42,
    0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08};
const uint8_t instar_vhdx_guid_metadata[16] = {
    0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B,
    0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E};
const uint8_t instar_vhdx_guid_file_params[16] = {
    0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D,
    0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B};
const uint8_t instar_vhdx_guid_virtual_size[16] = {
    0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48,
    0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8};
const uint8_t instar_vhdx_guid_page83[16] = {
    0xAB, 0x12, 0xCA, 0xBE, 0xE6, 0xB2, 0x23, 0x45,
    0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46};
const uint8_t instar_vhdx_guid_logical_sector[16] = {
    0x1D, 0xBF, 0x41, 0x81, 0x6F, 0xA9, 0x09, 0x47,
    0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F};
const uint8_t instar_vhdx_guid_physical_sector[16] = {
    0xC7, 0x48, 0xA3, 0xCD, 0x5D, 0x44, 0x71, 0x44,
    0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56};
const uint8_t instar_vhdx_guid_parent_locator[16] = {
    0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45,
    0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C};

static const uint8_t zero4[4];

uint32_t instar_vhdx_checksum(const uint8_t *buf, size_t len)
{
    uint32_t c;
    if (len < 8)
        return 0;
    c = instar_crc32c(0, buf, 4);
    c = instar_crc32c(c, zero4, 4);
    return instar_crc32c(c, buf + 8, len - 8);
}

bool instar_vhdx_checksum_ok(const uint8_t *buf, size_t len)
{
    return len >= 8 && instar_le32(buf + 4) == instar_vhdx_checksum(buf, len);
}

void instar_vhdx_checksum_set(uint8_t *buf, size_t len)
{
    if (len >= 8)
        instar_put_le32(buf + 4, instar_vhdx_checksum(buf, len));
}

static int bad(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return INSTAR_E_PARSE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* qemu: a header counts when its CRC, signature and version are right. */
static bool header_valid(struct instar_slice h)
{
    return h.data != NULL && h.len >= VHDX_HEADER_SIZE
        && instar_vhdx_checksum_ok(h.data, VHDX_HEADER_SIZE)
        && memcmp(h.data, VHDX_HEADER_SIGNATURE, VHDX_SIG_LEN(VHDX_HEADER_SIGNATURE)) == 0 && instar_le16(h.data + 66) == 1;
}

int instar_vhdx_parse_headers(struct instar_slice h1, struct instar_slice h2,
                              struct instar_vhdx_headers *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->valid[0] = header_valid(h1);
    out->valid[1] = header_valid(h2);
    if (!out->valid[0] && !out->valid[1])
        return bad(why, "no valid VHDX header (bad signature, version or CRC-32C)");
    if (out->valid[0] && out->valid[1]) {
        uint64_t s1 = instar_le64(h1.data + 8), s2 = instar_le64(h2.data + 8);
        if (s1 > s2)
            out->current = 0;
        else if (s2 > s1)
            out->current = 1;
        else if (memcmp(h1.data, h2.data, VHDX_HEADER_SIZE) == 0)
            out->current = 0;   /* Disk2VHD writes twin headers; qemu accepts them */
        else
            return bad(why, "both VHDX headers carry the same sequence number but differ");
    } else {
        out->current = out->valid[0] ? 0 : 1;
    }
    const uint8_t *h = out->current == 0 ? h1.data : h2.data;
    out->seq = instar_le64(h + 8);
    out->log_guid_zero = all_zero(h + 48, 16);
    out->log_length = instar_le32(h + 68);
    out->log_offset = instar_le64(h + 72);
    if (out->log_length % VHDX_MIB != 0 || out->log_offset % VHDX_MIB != 0)
        return bad(why, "log offset or length is not a multiple of 1 MiB");
    if (out->log_length != 0) {
        uint64_t end;
        if (out->log_offset < VHDX_HEADER_SECTION
            || !instar_add_u64(out->log_offset, out->log_length, &end)
            || end > (uint64_t)INT64_MAX)
            return bad(why, "log region lies outside the file's addressable range");
    }
    return INSTAR_OK;
}

/* Two byte ranges [a, a+al) and [b, b+bl) intersect. */
static bool overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return al != 0 && bl != 0 && a < b + bl && b < a + al;
}

int instar_vhdx_parse_regions(struct instar_slice rt, struct instar_vhdx_regions *out,
                              const char **why)
{
    bool have_bat = false, have_meta = false;
    memset(out, 0, sizeof *out);
    if (rt.data == NULL || rt.len < VHDX_REGION_SIZE)
        return bad(why, "region table truncated");
    if (!instar_vhdx_checksum_ok(rt.data, VHDX_REGION_SIZE))
        return bad(why, "region table CRC-32C mismatch");
    if (memcmp(rt.data, VHDX_REGION_SIGNATURE, VHDX_SIG_LEN(VHDX_REGION_SIGNATURE)) != 0)
        return bad(why, "region table signature is not 'regi'");
    uint32_t n = instar_le32(rt.data + 8);
    if (n > VHDX_MAX_TABLE_ENTRIES)
        return bad(why, "region table has more than 2047 entries");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = rt.data + 16 + (size_t)i * 32;
        uint64_t off = instar_le64(e + 16);
        uint32_t len = instar_le32(e + 24);
        uint32_t flags = instar_le32(e + 28);
        uint64_t end;
        if (off % VHDX_MIB != 0 || len % VHDX_MIB != 0 || off < VHDX_HEADER_SECTION
            || !instar_add_u64(off, len, &end) || end > (uint64_t)INT64_MAX)
            return bad(why, "region offset or length is not 1 MiB-aligned or out of range");
        /* qemu refuses regions that overlap each other. */
        for (uint32_t j = 0; j < i; j++) {
            const uint8_t *f = rt.data + 16 + (size_t)j * 32;
            if (overlaps(off, len, instar_le64(f + 16), instar_le32(f + 24)))
                return bad(why, "regions overlap");
        }
        if (memcmp(e, instar_vhdx_guid_bat, 16) == 0) {
            if (have_bat)
                return bad(why, "two BAT regions");
            have_bat = true;
            out->bat_offset = off;
            out->bat_length = len;
            out->bat_index = i;
        } else if (memcmp(e, instar_vhdx_guid_metadata, 16) == 0) {
            if (have_meta)
                return bad(why, "two metadata regions");
            have_meta = true;
            out->meta_offset = off;
            out->meta_length = len;
        } else if (flags & 1u) {
            return bad(why, "a required region of an unknown kind");
        }
    }
    if (!have_bat || !have_meta)
        return bad(why, "BAT or metadata region missing");
    if (out->bat_length == 0 || out->meta_length < VHDX_METADATA_TABLE_SIZE)
        return bad(why, "BAT or metadata region too short");
    return INSTAR_OK;
}

/* One item's payload, bounded by the region and by what was staged.  The
 * entry's length field is not checked: qemu-img 7.2 reads NEED bytes at
 * the offset whatever the entry says (it opens, checks and reads an image
 * whose items declare length 0), so refusing one would be stricter than
 * the reference. */
static const uint8_t *item(struct instar_slice md, uint32_t region_length,
                           const uint8_t *entry, uint32_t need)
{
    uint32_t off = instar_le32(entry + 16);
    uint64_t end = (uint64_t)off + need;
    if (off < VHDX_METADATA_TABLE_SIZE || end > region_length || end > md.len)
        return NULL;
    return md.data + off;
}

/* Does the Virtual Disk Size item's 8 bytes at SIZE_OFF share a byte with
 * another entry's payload?  Each payload is taken as the larger of what
 * its entry declares and what qemu reads (NEED), so a rewrite of the size
 * never lands on bytes another item owns. */
static bool size_item_shared(struct instar_slice md, uint32_t n, const uint8_t *vs_entry)
{
    const uint64_t size_off = instar_le32(vs_entry + 16);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = md.data + 32 + (size_t)i * 32;
        if (e == vs_entry)
            continue;
        uint64_t len = instar_le32(e + 20), need = 0;
        if (memcmp(e, instar_vhdx_guid_file_params, 16) == 0)
            need = 8;
        else if (memcmp(e, instar_vhdx_guid_page83, 16) == 0)
            need = 16;
        else if (memcmp(e, instar_vhdx_guid_logical_sector, 16) == 0
                 || memcmp(e, instar_vhdx_guid_physical_sector, 16) == 0)
            need = 4;
        if (overlaps(size_off, 8, instar_le32(e + 16), len > need ? len : need))
            return true;
    }
    return false;
}

int instar_vhdx_parse_metadata(struct instar_slice md, uint32_t region_length,
                               struct instar_vhdx_meta *out, const char **why)
{
    const uint8_t *fp = NULL, *vs = NULL, *p83 = NULL, *ls = NULL, *ps = NULL, *pl = NULL;
    const uint8_t *vs_entry = NULL;
    memset(out, 0, sizeof *out);
    if (md.data == NULL || md.len < VHDX_METADATA_TABLE_SIZE)
        return bad(why, "metadata table truncated");
    if (memcmp(md.data, VHDX_METADATA_SIGNATURE, VHDX_SIG_LEN(VHDX_METADATA_SIGNATURE)) != 0)
        return bad(why, "metadata table signature is not 'metadata'");
    uint32_t n = instar_le16(md.data + 10);
    if (n > VHDX_MAX_TABLE_ENTRIES)
        return bad(why, "metadata table has more than 2047 entries");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = md.data + 32 + (size_t)i * 32;
        const uint8_t **slot = NULL;
        uint32_t need = 0;
        if (memcmp(e, instar_vhdx_guid_file_params, 16) == 0)
            slot = &fp, need = 8;
        else if (memcmp(e, instar_vhdx_guid_virtual_size, 16) == 0)
            slot = &vs, need = 8, vs_entry = e;
        else if (memcmp(e, instar_vhdx_guid_page83, 16) == 0)
            slot = &p83, need = 16;
        else if (memcmp(e, instar_vhdx_guid_logical_sector, 16) == 0)
            slot = &ls, need = 4;
        else if (memcmp(e, instar_vhdx_guid_physical_sector, 16) == 0)
            slot = &ps, need = 4;
        else if (memcmp(e, instar_vhdx_guid_parent_locator, 16) == 0)
            slot = &pl, need = 0;
        if (slot == NULL) {
            if (instar_le32(e + 24) & VHDX_META_IS_REQUIRED)
                return bad(why, "a required metadata item of an unknown kind");
            continue;
        }
        if (*slot != NULL)
            return bad(why, "a metadata item appears twice");
        *slot = need ? item(md, region_length, e, need) : md.data;
        if (*slot == NULL)
            return bad(why, "a metadata item lies outside the metadata region");
    }
    if (!fp || !vs || !p83 || !ls || !ps)
        return bad(why, "a required metadata item is missing");
    out->block_size = instar_le32(fp);
    out->param_bits = instar_le32(fp + 4);
    out->virtual_size = instar_le64(vs);
    out->logical_sector_size = instar_le32(ls);
    out->physical_sector_size = instar_le32(ps);
    out->size_item_offset = instar_le32(vs_entry + 16);
    out->has_parent_locator = pl != NULL;
    out->size_item_shared = size_item_shared(md, n, vs_entry);
    if (out->block_size < VHDX_MIN_BLOCK_SIZE || out->block_size > VHDX_MAX_BLOCK_SIZE
        || !instar_is_pow2_u64(out->block_size))
        return bad(why, "block size is not a power of two between 1 MiB and 256 MiB");
    if (out->logical_sector_size != 512 && out->logical_sector_size != 4096)
        return bad(why, "logical sector size is neither 512 nor 4096");
    if (out->virtual_size > VHDX_MAX_VIRTUAL_SIZE
        || out->virtual_size % out->logical_sector_size != 0)
        return bad(why, "virtual disk size is above 64 TiB or not a multiple of the logical sector size");
    return INSTAR_OK;
}

uint64_t instar_vhdx_chunk_ratio(uint32_t block_size, uint32_t logical_sector_size)
{
    if (block_size == 0)
        return 0;
    return VHDX_SECTORS_PER_BITMAP * logical_sector_size / block_size;
}

uint64_t instar_vhdx_payload_index(uint64_t k, uint64_t chunk_ratio)
{
    return k + k / chunk_ratio;
}

uint64_t instar_vhdx_bat_entries(uint64_t virtual_size, uint32_t block_size,
                                 uint32_t logical_sector_size)
{
    uint64_t cr = instar_vhdx_chunk_ratio(block_size, logical_sector_size);
    if (cr == 0)
        return 0;
    /* qemu keeps the block count in a uint32_t: with 0 blocks, "blocks - 1"
     * wraps and the table is sized for 2^32 - 1 sector-bitmap slots. */
    uint32_t blocks = (uint32_t)instar_div_round_up_u64(virtual_size, block_size);
    return (uint64_t)blocks + (uint32_t)(blocks - 1u) / cr;
}
