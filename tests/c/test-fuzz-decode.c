/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-decode.c -- the fuzz input decoder maps the fuzz header
 * and pool exactly, and cooked slices are consistent and reset per input. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/fuzz.h"
#include "tests/c/tap.h"
#include "util/endian.h"

static uint8_t input[32 + INSTAR_FUZZ_QCOW2_LAYOUT_MAX + 4096 * 2 + 32768 * 2];

static size_t make(uint8_t sel, uint8_t flags, uint8_t rc, uint8_t sub, uint32_t unit,
                   uint64_t cur, uint64_t new_size, uint64_t file, size_t pool, uint8_t fill)
{
    memset(input, 0, sizeof input);
    input[0] = sel;
    input[1] = flags;
    input[2] = rc;
    input[3] = sub;
    instar_put_le32(input + 4, unit);
    instar_put_le64(input + 8, cur);
    instar_put_le64(input + 16, new_size);
    instar_put_le64(input + 24, file);
    memset(input + 32, fill, pool);
    return 32 + pool;
}

static int all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void test_header(void)
{
    struct instar_fuzz_header h;
    size_t n = make(0x0d, 0x37, 0x0c, 0x42, 0x11223344, 0x0102030405060708ULL,
                    0x1112131415161718ULL, 0x2122232425262728ULL, 0, 0);
    is_int(instar_fuzz_decode_header(input, 31, &h), INSTAR_E_PARSE, "31 bytes: parse error");
    is_int(instar_fuzz_decode_header(input, n, &h), INSTAR_OK, "32 bytes decode");
    is_int(h.target, INSTAR_FUZZ_QCOW2_GROW, "selector 13 mod 6 = 1: qcow2 grow");
    ok(h.allow_shrink && h.extended_l2 && h.lazy_refcounts, "flag bits 0-2");
    ok(!h.raw_slices, "flag bit 3 clear: cooked");
    is_int(h.prealloc, INSTAR_PREALLOC_FULL, "flags bits 4-5 = 3: full");
    is_int(h.refcount_bits, 16, "refcount selector 12 mod 8 = 4 -> 16 bits");
    is_int(h.subformat, 0x42, "subformat byte");
    is_u64(h.unit_size, 0x11223344, "unit size little-endian");
    is_u64(h.current_virtual_size, 0x0102030405060708ULL, "current virtual size LE");
    is_u64(h.new_virtual_size, 0x1112131415161718ULL, "new virtual size LE");
    is_u64(h.current_file_size, 0x2122232425262728ULL, "current file size LE");
    static const uint32_t bits[8] = {1, 2, 4, 8, 16, 32, 64, 0xff};
    int good = 1;
    for (int s = 0; s < 8; s++) {
        input[2] = (uint8_t)s;
        instar_fuzz_decode_header(input, n, &h);
        good &= h.refcount_bits == bits[s];
    }
    ok(good, "refcount selectors 0..7 -> 1 2 4 8 16 32 64 0xff");
    static const enum instar_fuzz_target t[6] = {INSTAR_FUZZ_RAW, INSTAR_FUZZ_QCOW2_GROW,
        INSTAR_FUZZ_QCOW2_SHRINK, INSTAR_FUZZ_VMDK, INSTAR_FUZZ_VHD, INSTAR_FUZZ_VHDX};
    good = 1;
    for (int s = 0; s < 12; s++) {
        input[0] = (uint8_t)s;
        instar_fuzz_decode_header(input, n, &h);
        good &= h.target == t[s % 6];
    }
    ok(good, "format selectors 0..11 -> raw qcow2-grow qcow2-shrink vmdk vhd vhdx, mod 6");
    uint8_t again[32];
    input[0] = 0x0d;
    input[2] = 0x0c;
    instar_fuzz_decode_header(input, n, &h);
    instar_fuzz_encode_header(&h, again);
    ok(memcmp(again, input, 32) == 0, "encode is the inverse of decode");
}

static void test_qcow2(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    /* 1 GiB, 64 KiB clusters, 16-bit refcounts: qemu-img's defaults. */
    size_t n = make(1, 0, 4, 0, 65536, 1 << 30, 2u << 30, 196624, sizeof input - 32, 0xab);
    is_int(instar_fuzz_decode(d, input, n, c), INSTAR_OK, "qcow2 decode");
    const struct instar_qcow2_resize_opts *o = &c->qcow2;
    is_int(o->cluster_bits, 16, "65536 -> cluster_bits 16");
    is_int(o->version, 3, "version 3");
    is_int(o->refcount_order, 4, "16 bits -> order 4");
    is_u64(o->virtual_size, 1u << 30, "virtual size");
    is_u64(o->req.new_size, 2u << 30, "new size");
    is_int(o->l1_size, 2, "1 GiB needs 2 L1 entries");
    is_u64(o->refcount_table_offset, 65536, "refcount table at cluster 1");
    is_u64(o->l1_table_offset, 3 * 65536, "L1 at cluster 3 (qemu-img's layout)");
    is_int(o->header_length, 112, "v3 header length 112");
    ok(memcmp(o->header.data, "QFI\xfb", 4) == 0, "synthesised header magic");
    is_u64(instar_be64(o->header.data + 24), 1u << 30, "header size field agrees (BE)");
    is_u64(instar_be64(o->header.data + 40), 3 * 65536, "header L1 offset agrees");
    is_u64(instar_be32(o->header.data + 96), 4, "header refcount_order agrees");
    is_u64(o->l1.len, 16, "L1 slice: l1_size * 8 bytes");
    is_u64(o->reftable.len, 65536, "refcount table slice: one whole cluster");
    ok(all(o->reftable.data, 4096, 0xab) && all(o->reftable.data + 4096, 65536 - 4096, 0),
       "refcount table: 4 KiB carve then zeros");
    is_int(o->n_refblocks, 1, "one refcount block staged");
    is_u64(o->refblocks[0].index, 0, "refcount block index 0");
    is_u64(o->refblocks[0].bytes.len, 65536, "refcount block is a whole cluster");
    ok(all(o->refblocks[0].bytes.data, 32768, 0xab) &&
       all(o->refblocks[0].bytes.data + 32768, 32768, 0), "refcount block: 32 KiB carve then zeros");
    is_int(o->n_l2_tables, 1, "one L2 table staged");

    /* Grow with new < current: the sizes are swapped into a grow. */
    n = make(1, 0, 4, 0, 65536, 4ull << 30, 1u << 30, 0, 0, 0);
    instar_fuzz_decode(d, input, n, c);
    ok(c->qcow2.virtual_size == (1u << 30) && c->qcow2.req.new_size == (4ull << 30),
       "qcow2 grow orders the sizes as a grow");
    n = make(2, 0, 4, 0, 65536, 1u << 30, 4ull << 30, 0, 0, 0);
    instar_fuzz_decode(d, input, n, c);
    ok(c->qcow2.virtual_size == (4ull << 30) && c->qcow2.req.new_size == (1u << 30),
       "qcow2 shrink orders the sizes as a shrink");
    is_int(c->qcow2.n_refblocks, 0, "empty pool: no refcount blocks staged");
    is_u64(c->qcow2.l1.len, 8 * c->qcow2.l1_size, "empty pool, cooked: L1 still full length");
    ok(all(c->qcow2.l1.data, c->qcow2.l1.len, 0) && all(c->qcow2.reftable.data, 65536, 0),
       "the previous input's bytes were reset (zeros, not 0xab)");

    /* 512-byte clusters split the carves into many tables. */
    n = make(1, 0, 4, 0x70, 512, 1 << 20, 2 << 20, 0, sizeof input - 32, 1);
    instar_fuzz_decode(d, input, n, c);
    is_int(c->qcow2.refcount_table_clusters, 8, "subformat bits 4-6 = 7: 8 refcount table clusters");
    is_int(c->qcow2.n_refblocks, 64, "32 KiB of 512-byte refcount blocks: 64 staged");
    is_int(c->qcow2.n_l2_tables, 32, "L2 tables clamped to l1_size (32)");
    /* Cooked: only tables whose pointer is allocated are staged. */
    memset(input + 32 + 4096, 0, 8);                    /* refcount table entry 0 */
    memset(input + 32 + 8 * 5, 0, 8);                   /* L1 entry 5 */
    instar_fuzz_decode(d, input, n, c);
    ok(c->qcow2.n_refblocks == 63 && c->qcow2.refblocks[0].index == 1,
       "unallocated refcount block 0 is not staged");
    ok(c->qcow2.n_l2_tables == 31 && c->qcow2.l2_tables[5].index == 6,
       "the L2 table of an empty L1 entry is not staged");
    input[1] |= INSTAR_FUZZ_FLAG_RAW_SLICES;
    instar_fuzz_decode(d, input, n, c);
    ok(c->qcow2.n_refblocks == 64 && c->qcow2.n_l2_tables == 32, "raw slices stage every index (up to the limits)");
    input[1] &= (uint8_t)~INSTAR_FUZZ_FLAG_RAW_SLICES;
    is_u64(c->qcow2.l2_tables[31].index, 31, "indices ascending");

    /* Variations. */
    n = make(1, 0x06, 6, 0x8f, 65536, 1 << 30, 2u << 30, 0, 0, 0);
    instar_fuzz_decode(d, input, n, c);
    is_int(c->qcow2.version, 2, "subformat bit0: version 2");
    is_int(c->qcow2.header_length, 72, "v2 header length 72");
    is_u64(c->qcow2.incompatible_features, 0x13, "extended L2, dirty and corrupt bits");
    is_u64(c->qcow2.compatible_features, 1, "lazy refcounts");
    ok(c->qcow2.has_bitmaps && c->qcow2.autoclear_features == 1, "bitmaps extension");
    is_int(c->qcow2.nb_snapshots, 1, "subformat bit7: one snapshot");
    is_int(c->qcow2.refcount_order, 6, "64 bits -> order 6");
    input[2] = 7;
    instar_fuzz_decode(d, input, n, c);
    is_int(c->qcow2.refcount_order, 0xff, "selector 7 -> 0xff passed through (invalid)");
    instar_put_le32(input + 4, 65535);
    instar_fuzz_decode(d, input, n, c);
    is_int(c->qcow2.cluster_bits, 65535 % 64, "non-power-of-two unit -> hostile cluster_bits");

    /* Raw slices: short carves handed over untouched. */
    n = make(1, 0x08, 4, 0, 65536, 1 << 30, 2u << 30, 0, 5000, 0xab);
    instar_fuzz_decode(d, input, n, c);
    ok(c->qcow2.l1.data == input + 32 && c->qcow2.l1.len == 4096, "raw: L1 is the first 4 KiB");
    ok(c->qcow2.reftable.data == input + 32 + 4096 && c->qcow2.reftable.len == 904,
       "raw: short refcount table carve");
    is_int(c->qcow2.n_refblocks, 0, "raw: no refcount block bytes left");
}

static void test_vhd(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    size_t n = make(4, 0, 0, 0, 2 << 20, 1 << 30, 2u << 30, 4608, 512 + 1024 + 100, 0);
    memset(input + 32 + 512 + 1024, 0xff, 100);
    instar_put_be32(input + 32 + 512 + 1024 + 8, 8);    /* BAT[2] = sector 8 */
    instar_fuzz_decode(d, input, n, c);
    const struct instar_vhd_resize_opts *o = &c->vhd;
    is_int(o->disk_type, INSTAR_VHD_DYNAMIC, "subformat 0: dynamic");
    is_int(o->max_table_entries, 512, "1 GiB / 2 MiB = 512 entries");
    is_u64(o->bat_offset, 1536, "BAT at 1536");
    is_u64(o->bat.len, 2048, "BAT slice: 512 entries");
    ok(all(o->bat.data + 100, 2048 - 100, 0xff), "BAT extended with 0xff (unallocated)");
    is_u64(o->first_block_offset, 8 * 512, "first block found in the BAT");
    uint32_t sum = 0;
    for (int i = 0; i < 512; i++)
        if (i < 64 || i >= 68)
            sum += o->footer.data[i];
    is_u64(instar_be32(o->footer.data + 64), ~sum, "footer checksum recomputed");
    is_u64(instar_be64(o->footer.data + 48), 1u << 30, "footer current size");
    ok(memcmp(o->footer.data, "conectix", 8) == 0 && memcmp(o->dyn_header.data, "cxsparse", 8) == 0,
       "cookies written over an empty carve");
    is_u64(instar_be32(o->dyn_header.data + 28), 512, "dynamic header max_table_entries");
    input[3] = 1;
    instar_fuzz_decode(d, input, n, c);
    ok(c->vhd.disk_type == INSTAR_VHD_FIXED && c->vhd.bat.len == 0, "subformat 1: fixed, no BAT");
}

static uint32_t crc32c_slow(const uint8_t *p, size_t n, size_t field)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= (i >= field && i < field + 4) ? 0 : p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_vmdk_vhdx(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    static const char desc[] = "# Disk DescriptorFile\nversion=1\nCID=1\n"
                               "createType=\"monolithicSparse\"\nRW 2048 SPARSE \"x.vmdk\"\n";
    size_t n = make(3, 0, 0, 1, 65536, 1 << 20, 2 << 20, 196608, 512 + 1024 + 4096, 0);
    memcpy(input + 32, "KDMV", 4);
    instar_put_le64(input + 32 + 28, 1);
    instar_put_le64(input + 32 + 36, 20);
    instar_put_le32(input + 32 + 44, 512);
    instar_put_le64(input + 32 + 48, 21);
    instar_put_le64(input + 32 + 56, 150);
    memcpy(input + 32 + 512, desc, sizeof desc - 1);
    instar_put_le32(input + 32 + 1536, 154);           /* GD[0] -> GT at 154 */
    instar_fuzz_decode(d, input, n, c);
    const struct instar_vmdk_resize_opts *o = &c->vmdk;
    is_u64(o->capacity_sectors, 2048, "capacity in sectors");
    is_u64(o->grain_sectors, 128, "64 KiB grain = 128 sectors");
    is_u64(o->gd_offset_sectors, 150, "GD offset read from the header carve");
    is_u64(o->descriptor.len, 20 * 512, "descriptor slice: descriptor_sectors * 512");
    ok(strstr((const char *)o->descriptor.data, "createType=\"streamOptimized\"") != NULL,
       "subformat 1 rewrites createType to streamOptimized");
    ok(o->rgd.len == 512 && instar_le32(o->rgd.data) == 154 - 150 + 21 &&
       instar_le32(o->rgd.data + 4) == 0, "RGD entries: the GD's shifted by rgd - gd (qemu's layout)");

    n = make(5, 0, 0, 3, 8 << 20, 1 << 30, 2u << 30, 8 << 20, 512 + 1024 + 64, 0);
    instar_put_le64(input + 32 + 8, 41);               /* header sequence */
    instar_fuzz_decode(d, input, n, c);
    const struct instar_vhdx_resize_opts *x = &c->vhdx;
    is_int(x->logical_sector_size, 4096, "subformat bit0: 4 KiB sectors");
    ok(x->leave_blocks_allocated, "subformat bit1: fixed");
    is_u64(instar_le64(x->header2.data + 8), 42, "header 2 is one sequence number on");
    ok(memcmp(x->region1.data, "regi", 4) == 0 && memcmp(x->metadata.data, "metadata", 8) == 0,
       "region and metadata tables synthesised");
    is_u64(instar_le64(x->metadata.data + 0x10008), 1u << 30, "metadata virtual size item");
    is_u64(instar_le32(x->header1.data + 4), crc32c_slow(x->header1.data, 4096, 4),
           "header 1 CRC-32C over 4 KiB (zero-extension tables)");
    is_u64(instar_le32(x->header2.data + 4), crc32c_slow(x->header2.data, 4096, 4),
           "header 2 CRC-32C");
    is_u64(instar_le32(x->region1.data + 4), crc32c_slow(x->region1.data, 65536, 4),
           "region table CRC-32C over 64 KiB");
    is_u64(x->bat.len, 128 * 8, "BAT: 128 payload blocks, chunk ratio 4096 -> 128 entries");
}

/* The qcow2 layout block: offsets, snapshots, backing file and bitmaps
 * of a real image; the carves follow it. */
static void test_qcow2_layout(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    size_t n = make(1, INSTAR_FUZZ_FLAG_QCOW2_LAYOUT, 4, INSTAR_FUZZ_QCOW2_BITMAPS, 65536,
                    1 << 30, 2u << 30, 1 << 20, 64 + 48 + 16 + 4096, 0);
    uint8_t *lay = input + 32;
    instar_put_le16(lay, 64 + 48 + 16);
    lay[2] = 1;                                     /* backing file */
    instar_put_le32(lay + 4, 2);                    /* 2 snapshots */
    instar_put_le64(lay + 8, 5 * 65536);            /* L1 */
    instar_put_le64(lay + 16, 7 * 65536);           /* refcount table */
    instar_put_le64(lay + 24, 9 * 65536);           /* snapshots */
    instar_put_le64(lay + 32, 10 * 65536);          /* bitmap directory */
    instar_put_le32(lay + 40, 1);
    instar_put_le32(lay + 44, 48);
    /* One directory entry: table at cluster 11, 2 entries, name "b0". */
    uint8_t *e = lay + 64;
    instar_put_be64(e, 11 * 65536);
    instar_put_be32(e + 8, 2);
    e[16] = 1;
    e[17] = 16;
    instar_put_be16(e + 18, 2);
    memcpy(e + 24, "b0", 2);
    memset(lay + 64 + 48, 0x5c, 16);                /* the table */
    memset(lay + 128, 0xab, 8);                     /* first L1 entry */
    is_int(instar_fuzz_decode(d, input, n, c), INSTAR_OK, "qcow2 layout decode");
    const struct instar_qcow2_resize_opts *o = &c->qcow2;
    is_u64(o->l1_table_offset, 5 * 65536, "layout: L1 offset");
    is_u64(o->refcount_table_offset, 7 * 65536, "layout: refcount table offset");
    is_int(o->nb_snapshots, 2, "layout: snapshots");
    is_u64(o->snapshots_offset, 9 * 65536, "layout: snapshot table offset");
    is_u64(instar_be64(o->header.data + 64), 9 * 65536, "header snapshot offset agrees");
    ok(instar_be64(o->header.data + 8) != 0, "layout: backing file offset set");
    ok(o->has_bitmaps && (o->autoclear_features & 1), "layout: bitmaps extension");
    is_int(o->n_byte_ranges, 2, "directory and one table staged");
    is_u64(o->byte_ranges[0].index, 10 * 65536, "directory at its offset");
    is_u64(o->byte_ranges[0].bytes.len, 48, "directory: its size");
    is_u64(o->byte_ranges[1].index, 11 * 65536, "table at the entry's offset");
    ok(o->byte_ranges[1].bytes.len == 16 && all(o->byte_ranges[1].bytes.data, 16, 0x5c),
       "table: the entry's 2 entries from after the directory");
    ok(all(o->l1.data, 8, 0xab), "L1 carve starts after the layout block");
    /* Without the flag the same pool is the L1 carve. */
    input[1] = 0;
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->qcow2.l1_table_offset, 3 * 65536, "no layout flag: default L1 offset");
    is_int(c->qcow2.n_byte_ranges, 0, "no layout flag: nothing staged");
}

static void test_plan(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    static uint8_t scratch[4096];
    struct instar_resize_plan plan;
    size_t n = make(0, 0, 0, 0, 0, 0, 1 << 20, 0, 0, 0);
    instar_fuzz_decode(d, input, n, c);
    is_int(instar_fuzz_plan(c, scratch, sizeof scratch, &plan), INSTAR_OK, "raw plan from an input");
    is_u64(plan.total_file_size, 1 << 20, "raw plan total size");
    is_int(instar_plan_check(&plan, NULL), 0, "raw plan passes the invariants");
}

/* Flag bit 7: the scratch the planner gets shrinks by byte 2's top five
 * bits, and running out is a clean refusal. */
static void test_tight_scratch(struct instar_fuzz_decoder *d, struct instar_fuzz_case *c)
{
    static uint8_t scratch[1 << 16];
    struct instar_resize_plan plan;
    /* qcow2 grow, 64 KiB clusters, 1 MiB -> 64 MiB, 16-bit refcounts. */
    size_t n = make(1, 0, 4, 0, 65536, 1 << 20, 64 << 20, 5 * 65536, 0, 0);
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->hdr.scratch_len, INSTAR_FUZZ_SCRATCH_LEN, "no flag: all the scratch");
    is_int(instar_fuzz_plan(c, scratch, sizeof scratch, &plan), INSTAR_OK,
           "no flag: the grow plans");
    input[1] = INSTAR_FUZZ_FLAG_TIGHT_SCRATCH;
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->hdr.scratch_len, INSTAR_FUZZ_SCRATCH_LEN, "flag, shift 0: all the scratch");
    is_int(c->hdr.refcount_bits, 16, "the shift bits leave the refcount selector alone");
    input[2] = 4 | (12 << 3);
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->hdr.scratch_len, INSTAR_FUZZ_SCRATCH_LEN >> 12, "flag, shift 12");
    is_int(c->hdr.refcount_bits, 16, "refcount selector still bits 0-2");
    input[2] = 4 | (31 << 3);
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->hdr.scratch_len, 0, "flag, shift 31: no scratch");
    is_int(instar_fuzz_plan(c, scratch, sizeof scratch, &plan), INSTAR_E_SCRATCH_TOO_SMALL,
           "no scratch: the planner refuses");
    /* Without the flag the same byte 2 leaves the scratch whole. */
    input[1] = 0;
    instar_fuzz_decode(d, input, n, c);
    is_u64(c->hdr.scratch_len, INSTAR_FUZZ_SCRATCH_LEN, "shift bits without the flag: ignored");
}

int main(void)
{
    struct instar_fuzz_decoder *d = instar_fuzz_decoder_new();
    struct instar_fuzz_case *c = malloc(sizeof *c);
    ok(d != NULL && c != NULL, "decoder allocated");
    if (d == NULL || c == NULL)
        return tap_done();
    test_header();
    test_qcow2(d, c);
    test_qcow2_layout(d, c);
    test_vhd(d, c);
    test_vmdk_vhdx(d, c);
    test_plan(d, c);
    test_tight_scratch(d, c);
    instar_fuzz_decoder_free(d);
    free(c);
    return tap_done();
}
