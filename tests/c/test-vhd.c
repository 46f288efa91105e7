/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-vhd.c -- the VHD (vpc) planner, engine and create on in-memory
 * images: qemu's geometry table, the three BAT growth paths, fixed disks,
 * every crash prefix re-parsed, and hostile values up to 2^64. */
#include <config.h>

#include <inttypes.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "resize/vhd-format.h"
#include "tap.h"
#include "testutil.h"
#include "util/endian.h"

#define MEM_LIMIT (256u << 20)

static uint8_t scratch[8u << 20];

/* ---- helpers ------------------------------------------------------------ */

static int create(struct instar_mem_io *m, const char *sub, bool force, uint64_t size)
{
    struct instar_create_opts o;
    test_create_start(m, MEM_LIMIT, &o, INSTAR_FORMAT_VPC, size);
    strcpy(o.subformat, sub);
    o.force_size = force;
    return instar_image_create(&m->io, &o, NULL);
}

static struct instar_mem_io copy_of(const struct instar_mem_io *m)
{
    struct instar_mem_io c;
    instar_mem_io_init(&c, MEM_LIMIT);
    instar_mem_io_load(&c, m->data, (size_t)m->size);
    return c;
}

static void refresh_footer(uint8_t *f)
{
    instar_put_be32(f + VHD_F_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
}
static void refresh_header(uint8_t *h)
{
    instar_put_be32(h + VHD_D_CHECKSUM, vhd_checksum(h, VHD_DYN_HEADER_SIZE, VHD_D_CHECKSUM));
}

/* Planner options from the bytes of M, as the engine reads them.  The
 * slices are copies (as the engine stages them): a plan may point into the
 * staged BAT, and the image's own buffer moves when a patch grows it. */
static uint8_t stage[16u << 20];

static void opts_of(const struct instar_mem_io *m, struct instar_vhd_resize_opts *o,
                    uint64_t new_size)
{
    const uint8_t *d = stage;
    memset(stage, 0, sizeof stage);
    memcpy(stage, m->data, m->size < sizeof stage ? (size_t)m->size : sizeof stage);
    if (m->size > sizeof stage)     /* fixed images: their footer at the end */
        d = m->data;
    memset(o, 0, sizeof *o);
    o->current_file_size = m->size;
    o->req.new_size = new_size;
    if (memcmp(d, "conectix", 8) == 0) {
        uint64_t h = instar_be64(d + VHD_F_DATA_OFFSET);
        o->disk_type = (enum instar_vhd_type)instar_be32(d + VHD_F_TYPE);
        o->footer.data = d;
        if (h + VHD_DYN_HEADER_SIZE <= m->size) {
            o->dyn_header.data = d + h;
            o->dyn_header.len = VHD_DYN_HEADER_SIZE;
            o->bat_offset = instar_be64(d + h + VHD_D_TABLE_OFFSET);
            o->max_table_entries = instar_be32(d + h + VHD_D_MAX_ENTRIES);
            o->block_size = instar_be32(d + h + VHD_D_BLOCK_SIZE);
            if (o->bat_offset + 4ull * o->max_table_entries <= m->size) {
                o->bat.data = d + o->bat_offset;
                o->bat.len = 4 * (size_t)o->max_table_entries;
            }
        }
    } else {
        o->disk_type = INSTAR_VHD_FIXED;
        o->footer.data = d + m->size - VHD_FOOTER_SIZE;
    }
    o->footer.len = VHD_FOOTER_SIZE;
    struct vhd_footer f;
    if (vhd_parse_footer(o->footer.data, VHD_FOOTER_SIZE, &f) == INSTAR_OK)
        o->virtual_size = f.virtual_size;
}

static int plan_of(const struct instar_mem_io *m, uint64_t new_size, struct instar_resize_plan *p)
{
    struct instar_vhd_resize_opts o;
    opts_of(m, &o, new_size);
    return instar_plan_resize_vhd(&o, scratch, sizeof scratch, p);
}

/* The engine's own reader, read-only: the size it sees, or 0 on refusal. */
static uint64_t engine_size(struct instar_mem_io *m)
{
    struct instar_resize_args a;
    struct instar_image_plan p;
    uint64_t size = 0;
    memset(&a, 0, sizeof a);
    a.format = INSTAR_FORMAT_VPC;
    instar_parse_size_spec("+0", &a.size);
    if (instar_image_plan(&m->io, &a, &p, NULL) == INSTAR_OK)
        size = p.current_size;
    instar_image_plan_free(&p);
    return size;
}

/* One guest byte of a dynamic or fixed disk, through the BAT as qemu maps it. */
static int vread(const struct instar_mem_io *m, uint64_t off)
{
    const uint8_t *d = m->data;
    if (memcmp(d, "conectix", 8) != 0)
        return d[off];
    const uint8_t *h = d + instar_be64(d + VHD_F_DATA_OFFSET);
    uint64_t bat = instar_be64(h + VHD_D_TABLE_OFFSET);
    uint32_t bs = instar_be32(h + VHD_D_BLOCK_SIZE);
    uint32_t e = instar_be32(d + bat + 4 * (off / bs));
    if (e == VHD_BAT_UNUSED)
        return 0;
    return d[(uint64_t)e * 512 + 512 + off % bs];
}

/* Allocate block IDX as qemu does (bitmap + data where the EOF footer was,
 * footer after it, then the BAT entry) and fill it with BYTE. */
static void alloc_block(struct instar_mem_io *m, uint32_t idx, uint8_t byte)
{
    uint8_t foot[512], *blk = malloc(512 + VHD_DEFAULT_BLOCK_SIZE), be[4];
    uint64_t at = m->size - 512;
    const uint8_t *h = m->data + instar_be64(m->data + VHD_F_DATA_OFFSET);
    uint64_t bat = instar_be64(h + VHD_D_TABLE_OFFSET);
    memcpy(foot, m->data, 512);
    memset(blk, 0xff, 512);
    memset(blk + 512, byte, VHD_DEFAULT_BLOCK_SIZE);
    instar_io_write(&m->io, blk, 512 + VHD_DEFAULT_BLOCK_SIZE, at);
    instar_io_write(&m->io, foot, 512, at + 512 + VHD_DEFAULT_BLOCK_SIZE);
    instar_put_be32(be, (uint32_t)(at / 512));
    instar_io_write(&m->io, be, 4, bat + 4 * idx);
    free(blk);
}

/* Apply P to M: every prefix on a copy must still parse with the old or
 * the new size and keep guest byte CHECK_OFF == WANT; then the whole plan. */
static void check_prefixes(struct instar_mem_io *m, const struct instar_resize_plan *p,
                           uint64_t check_off, int want, const char *what)
{
    int bad = 0;
    for (size_t k = 0; k < p->npatches; k++) {
        struct instar_mem_io c = copy_of(m);
        int rc = instar_plan_apply(&c.io, p, INSTAR_PREALLOC_OFF, k, NULL);
        uint64_t s = engine_size(&c);
        if (rc != INSTAR_OK || (s != p->old_virtual_size && s != p->new_virtual_size)
            || vread(&c, check_off) != want) {
            printf("# prefix %zu: rc %d, size %llu, byte %d\n", k, rc,
                   (unsigned long long)s, vread(&c, check_off));
            bad = 1;
        }
        instar_mem_io_free(&c);
    }
    ok(!bad, "%s: every crash prefix (0..%zu) parses, old data intact", what, p->npatches - 1);
}

static bool footers_agree(const struct instar_mem_io *m)
{
    return memcmp(m->data, m->data + m->size - 512, 512) == 0;
}

/* ---- geometry and rounding (formats.md 3.5, measured with qemu-img) ---- */

static void test_rounding(void)
{
    static const struct { uint64_t req, stored; unsigned c, h, s; } t[] = {
        {1024, 34816, 1, 4, 17},        /* 1000 rounded up to 512 first */
        {1000448, 1009664, 29, 4, 17},
        {10485760, 10514432, 302, 4, 17},
        {104857600, 104865792, 1004, 12, 17},
        {1073741824, 1073995776, 2081, 16, 63},
        {136365211648ull, 136365219840ull, 65279, 16, 255},
        {16777216, 16781312, 482, 4, 17},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct vhd_chs chs;
        uint64_t st = 0;
        int rc = vhd_round_size(t[i].req, false, &st, &chs);
        ok(rc == INSTAR_OK && st == t[i].stored && chs.cyls == t[i].c && chs.heads == t[i].h
           && chs.secs == t[i].s, "create %llu stores %llu as %u/%u/%u (got %llu %u/%u/%u)",
           (unsigned long long)t[i].req, (unsigned long long)t[i].stored, t[i].c, t[i].h,
           t[i].s, (unsigned long long)st, chs.cyls, chs.heads, chs.secs);
    }
    struct vhd_chs chs;
    uint64_t st;
    ok(vhd_round_size(128ull << 30, false, &st, &chs) == INSTAR_OK && st == 128ull << 30
       && vhd_chs_is_max(&chs), "128 GiB pins the geometry and keeps the exact size");
    ok(vhd_round_size(VHD_MAX_BYTES, false, &st, &chs) == INSTAR_OK && st == VHD_MAX_BYTES,
       "2040 GiB is accepted");
    is_int(vhd_round_size(VHD_MAX_BYTES + 512, false, &st, &chs), INSTAR_E_TOO_LARGE,
           "2040 GiB + 512 is too large");
    is_int(vhd_round_size(VHD_MAX_BYTES + 512, true, &st, &chs), INSTAR_E_TOO_LARGE,
           "2040 GiB + 512 is too large with force_size too");
    ok(vhd_round_size(1000448, true, &st, &chs) == INSTAR_OK && st == 1000448 && vhd_chs_is_max(&chs),
       "force_size: exact size, maximum geometry");
    ok(vhd_round_size(0, false, &st, &chs) == INSTAR_OK && st == 0, "size 0 stays 0");

    ok(vhd_creator_uses_chs((const uint8_t *)"qemu") && vhd_creator_uses_chs((const uint8_t *)"vpc ")
       && !vhd_creator_uses_chs((const uint8_t *)"qem2") && !vhd_creator_uses_chs((const uint8_t *)"win ")
       && !vhd_creator_uses_chs((const uint8_t *)"d2v ") && !vhd_creator_uses_chs((const uint8_t *)"CTXS")
       && !vhd_creator_uses_chs((const uint8_t *)"tap\0") && vhd_creator_uses_chs((const uint8_t *)"tap "),
       "creator apps: CHS for qemu/vpc/others, current size for qem2/win/d2v/CTXS/tap\\0");

    uint8_t z[512];
    memset(z, 0, sizeof z);
    is_u64(vhd_checksum(z, sizeof z, VHD_F_CHECKSUM), 0xffffffffu, "checksum of zeros is ~0");
    memset(z, 0xff, sizeof z);
    is_u64(vhd_checksum(z, sizeof z, VHD_F_CHECKSUM), ~(uint32_t)(508 * 255),
           "checksum skips its own field");
}

/* ---- create layout (formats.md 3.6) ------------------------------------ */

static void test_create(void)
{
    struct instar_mem_io m;
    ok(create(&m, "dynamic", false, 1ull << 30) == INSTAR_OK && m.size == 4608
       && footers_agree(&m) && memcmp(m.data + 512, "cxsparse", 8) == 0
       && instar_be32(m.data + 512 + VHD_D_MAX_ENTRIES) == 513
       && instar_be64(m.data + 512 + VHD_D_TABLE_OFFSET) == 1536
       && memcmp(m.data + VHD_F_CREATOR_APP, "qemu", 4) == 0,
       "dynamic 1 GiB: 4608 bytes, 513 entries at 1536, footer twice, creator qemu");
    is_u64(engine_size(&m), 1073995776, "the engine reads it back as 1,073,995,776");
    instar_mem_io_free(&m);

    ok(create(&m, "fixed", true, 1000000) == INSTAR_OK && m.size == 1000448 + 512
       && memcmp(m.data + 1000448 + VHD_F_CREATOR_APP, "qem2", 4) == 0,
       "fixed force_size 1000000: data 1000448 + footer, creator qem2");
    is_u64(engine_size(&m), 1000448, "the engine reads the exact size");
    instar_mem_io_free(&m);

    instar_mem_io_init(&m, MEM_LIMIT);
    struct instar_create_opts o;
    instar_create_opts_init(&o, INSTAR_FORMAT_VPC);
    o.size = 2041ull << 30;
    is_int(instar_image_create(&m.io, &o, NULL), INSTAR_E_TOO_LARGE, "create 2041 GiB is refused");
    strcpy(o.subformat, "sparse");
    o.size = 1 << 20;
    is_int(instar_image_create(&m.io, &o, NULL), INSTAR_E_INVALID_OPTION, "unknown subformat refused");
    strcpy(o.subformat, "fixed");
    o.prealloc = INSTAR_PREALLOC_METADATA;
    is_int(instar_image_create(&m.io, &o, NULL), INSTAR_E_UNSUPPORTED_PREALLOC,
           "preallocation=metadata refused (as qemu-img)");
    is_u64(m.size, 0, "nothing written by the refusals");
    instar_mem_io_free(&m);
}

/* ---- dynamic growth paths ---------------------------------------------- */

static void test_dynamic(void)
{
    struct instar_resize_plan p;
    struct instar_mem_io m;
    int rc;

    /* In place: 8 entries in a 128-entry pad, a block after the table. */
    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 0, 0x5a);
    alloc_block(&m, 7, 0xa5);
    uint64_t len0 = m.size;
    rc = plan_of(&m, 200 << 20, &p);
    ok(rc == INSTAR_OK && p.npatches == 4 && p.total_file_size == len0
       && instar_plan_check(&p, NULL) == 0 && p.new_virtual_size == 209764352,
       "16M -> 200M with blocks: in place, 4 patches, length unchanged, invariants hold");
    check_prefixes(&m, &p, 0, 0x5a, "in place");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == 209764352 && footers_agree(&m) && vread(&m, 0) == 0x5a
       && vread(&m, 16777215) == 0xa5 && vread(&m, 209764351) == 0
       && instar_be32(m.data + 512 + VHD_D_MAX_ENTRIES) == 101
       && instar_be32(m.data + 1536 + 4 * 100) == VHD_BAT_UNUSED,
       "in place: 101 entries, new ones unused, old data mapped, footers agree");

    /* Relocation: past the pad, the table moves to the old EOF footer. */
    uint64_t eof_footer = m.size - 512;
    rc = plan_of(&m, 1ull << 30, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0
       && p.total_file_size == eof_footer + ((4 * 513 + 511) & ~511ull) + 512,
       "200M -> 1G: relocated after the blocks, file grows by the table");
    check_prefixes(&m, &p, 16777215, 0xa5, "relocation");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == 1073995776 && footers_agree(&m)
       && instar_be64(m.data + 512 + VHD_D_TABLE_OFFSET) == eof_footer
       && vread(&m, 0) == 0x5a && vread(&m, 16777215) == 0xa5 && vread(&m, 1073995775) == 0,
       "relocated table at the old footer, data still mapped");
    /* qemu allocates after the relocated table: do it and grow again (tail). */
    alloc_block(&m, 511, 0x77);
    rc = plan_of(&m, 3ull << 30, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0, "grow again after a new block: planned");
    check_prefixes(&m, &p, 511ull * VHD_DEFAULT_BLOCK_SIZE, 0x77, "second relocation");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(vread(&m, 511ull * VHD_DEFAULT_BLOCK_SIZE) == 0x77 && vread(&m, 0) == 0x5a
       && engine_size(&m) > (3ull << 30), "after the second growth the new block reads back");
    instar_mem_io_free(&m);

    /* Tail: no blocks, the table grows over the EOF footer: the result has
     * exactly the layout qemu-img create writes for the new size. */
    struct instar_mem_io fresh;
    create(&m, "dynamic", false, 16 << 20);
    create(&fresh, "dynamic", false, 1ull << 30);
    rc = plan_of(&m, 1ull << 30, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0 && p.total_file_size == fresh.size,
       "empty 16M -> 1G: the table grows at the tail, length as a fresh 1G create");
    check_prefixes(&m, &p, 0, 0, "tail");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(m.size == fresh.size && memcmp(m.data + 1536, fresh.data + 1536, m.size - 2048) == 0
       && memcmp(m.data + 512, fresh.data + 512, 36) == 0 && footers_agree(&m),
       "tail: header fields and BAT byte-identical to qemu-style create of 1G");
    instar_mem_io_free(&fresh);
    instar_mem_io_free(&m);

    /* Current-size creator (qem2): exact sizes, geometry stays pinned. */
    create(&m, "dynamic", true, 1000000);
    rc = plan_of(&m, 3000001, &p);
    ok(rc == INSTAR_OK && p.new_virtual_size == 3000320, "qem2: 3000001 -> exactly 3000320");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == 3000320 && instar_be16(m.data + VHD_F_CYLS) == VHD_CHS_MAX_C
       && memcmp(m.data + VHD_F_CREATOR_APP, "qem2", 4) == 0, "qem2: geometry pinned, creator kept");
    instar_mem_io_free(&m);

    /* Up to the limit, with bounded scratch and patch count. */
    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 0, 1);
    rc = plan_of(&m, VHD_MAX_BYTES, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0 && p.npatches <= 128
       && p.new_virtual_size == VHD_MAX_BYTES, "16M -> 2040 GiB: planned, %zu patches", p.npatches);
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == VHD_MAX_BYTES && vread(&m, 0) == 1
       && instar_be32(m.data + 512 + VHD_D_MAX_ENTRIES) == 1044480, "2040 GiB: 1044480 entries");
    is_int(plan_of(&m, VHD_MAX_BYTES + 512, &p), INSTAR_E_TOO_LARGE, "2040 GiB + 512 refused");
    instar_mem_io_free(&m);
}

/* ---- shrink, and stale data beyond the size ----------------------------- */

static void test_shrink(void)
{
    struct instar_resize_plan p;
    struct instar_vhd_resize_opts o;
    struct instar_mem_io m;
    int rc;

    /* A block past the virtual end (another tool's leftovers): a grow must
     * not expose its bytes. */
    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 8, 0xee);
    rc = plan_of(&m, 20 << 20, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0, "grow with data past the end: planned");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(vread(&m, 16781311) == 0xee && vread(&m, 16781312) == 0 && vread(&m, 18874367) == 0,
       "grow: the partial last block's tail reads zeros, its visible part kept");
    instar_mem_io_free(&m);

    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 3, 9);
    alloc_block(&m, 4, 0xee);
    alloc_block(&m, 6, 0x66);
    uint64_t len0 = m.size;
    opts_of(&m, &o, 8 << 20);
    o.req.allow_shrink = true;
    rc = instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p);
    ok(rc == INSTAR_OK && p.action == INSTAR_ACTION_SHRINK && p.new_virtual_size == 8390656
       && p.total_file_size == len0 && instar_plan_check(&p, NULL) == 0,
       "dynamic 16M -> 8M: shrink to 8390656, file length kept");
    check_prefixes(&m, &p, 7u << 20, 9, "dynamic shrink");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == 8390656 && footers_agree(&m) && vread(&m, 7u << 20) == 9
       && vread(&m, 8390655) == 0xee && instar_be32(m.data + 1536 + 4 * 6) == VHD_BAT_UNUSED,
       "shrunk: kept data reads back, blocks beyond unmapped");
    rc = plan_of(&m, 16 << 20, &p);
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(rc == INSTAR_OK && engine_size(&m) == 16781312 && vread(&m, 8390655) == 0xee
       && vread(&m, 8390656) == 0 && vread(&m, 12u << 20) == 0 && vread(&m, 7u << 20) == 9,
       "grown back: the range dropped by the shrink reads zeros");
    instar_mem_io_free(&m);

    create(&m, "fixed", false, 3 << 20);
    memset(m.data, 0x5a, (size_t)m.size - 512);
    opts_of(&m, &o, 1 << 20);
    o.req.allow_shrink = true;
    rc = instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p);
    ok(rc == INSTAR_OK && p.action == INSTAR_ACTION_SHRINK && p.npatches == 1
       && p.total_file_size == p.new_virtual_size + 512, "fixed shrink: one footer write, then the cut");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    ok(engine_size(&m) == p.new_virtual_size && m.size == p.new_virtual_size + 512
       && m.data[p.new_virtual_size - 1] == 0x5a, "fixed shrunk: size read back, data kept");
    instar_mem_io_free(&m);
}

/* ---- fixed --------------------------------------------------------------- */

static void test_fixed(void)
{
    struct instar_resize_plan p;
    struct instar_mem_io m;
    int rc;

    create(&m, "fixed", false, 1 << 20);
    uint64_t old = m.size - 512;
    memset(m.data, 0x5a, (size_t)old);
    rc = plan_of(&m, 3 << 20, &p);
    ok(rc == INSTAR_OK && instar_plan_check(&p, NULL) == 0 && p.npatches == 2
       && p.patches[1].kind == INSTAR_PATCH_ZERO_FILL && p.patches[1].offset == old
       && p.total_file_size == p.new_virtual_size + 512,
       "fixed grow: footer at the new end, then the old footer zeroed");
    check_prefixes(&m, &p, old - 1, 0x5a, "fixed");
    instar_plan_apply(&m.io, &p, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    uint8_t zeros[512] = {0};
    ok(engine_size(&m) == p.new_virtual_size && memcmp(m.data + old, zeros, 512) == 0
       && m.data[old - 1] == 0x5a, "fixed: size read back, old footer now zeros, data kept");

    struct instar_mem_io c = copy_of(&m);
    struct instar_vhd_resize_opts o;
    opts_of(&c, &o, 5 << 20);
    o.req.prealloc = INSTAR_PREALLOC_FALLOC;
    rc = instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p);
    ok(rc == INSTAR_OK && p.prealloc_offset == c.size - 512
       && p.prealloc_length == p.new_virtual_size - (c.size - 512),
       "fixed falloc: the new data range is preallocated");
    o.req.prealloc = INSTAR_PREALLOC_METADATA;
    ok(instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p) == INSTAR_OK && p.prealloc_length == 0,
       "fixed metadata: accepted, nothing beyond the footer to preallocate");
    instar_mem_io_free(&c);
    instar_mem_io_free(&m);
}

/* ---- refusals and hostile values ------------------------------------------ */

static int plan_opts(struct instar_vhd_resize_opts *o)
{
    struct instar_resize_plan p;
    int rc = instar_plan_resize_vhd(o, scratch, sizeof scratch, &p);
    if (rc == INSTAR_OK && instar_plan_check(&p, NULL) != 0)
        return -1;
    return rc;
}

static void test_hostile(void)
{
    struct instar_vhd_resize_opts o;
    struct instar_resize_plan p;
    struct instar_mem_io m, c;
    uint8_t *h;

    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 3, 9);

    opts_of(&m, &o, 32 << 20);
    o.req.allow_shrink = false;
    o.req.new_size = 8 << 20;
    is_int(plan_opts(&o), INSTAR_E_SHRINK_NEEDS_FLAG, "shrink without the flag: the generic message");
    o.req.new_size = 32 << 20;
    o.req.prealloc = INSTAR_PREALLOC_FULL;
    is_int(plan_opts(&o), INSTAR_E_UNSUPPORTED_PREALLOC, "dynamic full preallocation refused");
    o.req.prealloc = INSTAR_PREALLOC_OFF;
    o.req.new_size = UINT64_MAX;
    is_int(plan_opts(&o), INSTAR_E_SIZE_NOT_POSITIVE, "2^64-1 is not a positive int64");
    o.req.new_size = (uint64_t)INT64_MAX;
    is_int(plan_opts(&o), INSTAR_E_TOO_LARGE, "2^63-1 too large");
    o.req.new_size = 32 << 20;
    is_int(plan_opts(&o), INSTAR_OK, "the untouched options plan fine");

    o.disk_type = INSTAR_VHD_DIFFERENCING;
    is_int(plan_opts(&o), INSTAR_E_UNSUPPORTED_SUBFORMAT, "differencing refused");
    o.disk_type = INSTAR_VHD_FIXED;
    is_int(plan_opts(&o), INSTAR_E_HEADER_MISMATCH, "disk type disagrees with the footer");
    opts_of(&m, &o, 32 << 20);
    o.virtual_size++;
    is_int(plan_opts(&o), INSTAR_E_HEADER_MISMATCH, "virtual size disagrees with the footer");
    opts_of(&m, &o, 32 << 20);
    o.block_size = 4096;
    is_int(plan_opts(&o), INSTAR_E_HEADER_MISMATCH, "block size disagrees with the header");

    for (uint64_t fs = UINT64_MAX - 511; fs > UINT64_MAX - 600; fs -= 1) {
        opts_of(&m, &o, 32 << 20);
        o.current_file_size = fs & ~511ull;
        if (plan_opts(&o) != INSTAR_E_PARSE) {
            ok(0, "file size near 2^64 refused");
            break;
        }
        if (fs == UINT64_MAX - 599)
            ok(1, "file sizes near 2^64 refused as malformed");
    }
    opts_of(&m, &o, 32 << 20);
    o.current_file_size = m.size - 1;
    is_int(plan_opts(&o), INSTAR_E_PARSE, "file length not a multiple of 512");
    opts_of(&m, &o, 32 << 20);
    o.current_file_size = 1ull << 40;
    is_int(plan_opts(&o), INSTAR_OK, "a longer file (1 TiB) is still fine");
    o.current_file_size = 1ull << 41;
    is_int(plan_opts(&o), INSTAR_E_TOO_LARGE,
           "a 2 TiB file: blocks after its end could not be named by 32-bit BAT entries");

    /* Not staged: the planner names what it needs. */
    opts_of(&m, &o, 32 << 20);
    o.footer.len = 0;
    ok(instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p) == INSTAR_E_NOT_STAGED
       && p.nneeds == 1 && p.needs[0].index == 0 && p.needs[0].length == 512,
       "no footer: need 512 bytes at 0");
    opts_of(&m, &o, 32 << 20);
    o.bat.len = 4;
    ok(instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p) == INSTAR_E_NOT_STAGED
       && p.nneeds == 1 && p.needs[0].index == 1536 && p.needs[0].length == 36,
       "short BAT: need the 36 table bytes (9 entries) at 1536");
    opts_of(&m, &o, 32 << 20);
    o.dyn_header.data = NULL;
    ok(instar_plan_resize_vhd(&o, scratch, sizeof scratch, &p) == INSTAR_E_NOT_STAGED
       && p.needs[0].index == 512, "no dynamic header: need it at 512");
    opts_of(&m, &o, 1ull << 30);
    is_int(instar_plan_resize_vhd(&o, scratch, 100, &p), INSTAR_E_SCRATCH_TOO_SMALL,
           "scratch too small");

    /* Bytes corrupted in a copy (checksums refreshed so only the field is wrong). */
    struct { size_t off; int width; uint64_t val; int fix; const char *what; } bad[] = {
        {VHD_F_CHECKSUM, 4, 0x12345678, 0, "bad footer checksum"},
        {512 + 40, 1, 1, 0, "bad dynamic header checksum"},
        {VHD_F_DATA_OFFSET, 8, UINT64_MAX - 100, 1, "dynamic header offset near 2^64"},
        {VHD_F_DATA_OFFSET, 8, 0, 1, "dynamic header offset 0 (over the footer)"},
        {VHD_F_DATA_OFFSET, 8, 1ull << 40, 1, "dynamic header offset past EOF"},
        {512 + VHD_D_TABLE_OFFSET, 8, UINT64_MAX - 3, 2, "table offset near 2^64"},
        {512 + VHD_D_TABLE_OFFSET, 8, 0, 2, "table offset 0"},
        {512 + VHD_D_TABLE_OFFSET, 8, 1024, 2, "table over the dynamic header"},
        {512 + VHD_D_MAX_ENTRIES, 4, 0xffffffff, 2, "max_table_entries 2^32-1"},
        {512 + VHD_D_MAX_ENTRIES, 4, 0x1fffffff, 2, "max_table_entries past EOF"},
        {512 + VHD_D_MAX_ENTRIES, 4, 1, 2, "table too small for the disk"},
        {512 + VHD_D_BLOCK_SIZE, 4, 0, 2, "block size 0"},
        {512 + VHD_D_BLOCK_SIZE, 4, 3 << 20, 2, "block size not a power of 2"},
        {512 + VHD_D_BLOCK_SIZE, 4, 256, 2, "block size below 512"},
        {512 + VHD_D_BLOCK_SIZE, 4, 0x80000000u, 2, "block size 2 GiB (blocks past EOF)"},
        {1536 + 12, 4, 0xfffffffe, 0, "BAT entry far past EOF"},
        {1536 + 12, 4, 1, 0, "BAT entry over the dynamic header"},
        {1536 + 12, 4, 3, 0, "BAT entry over the table"},
        {VHD_F_CUR_SIZE, 8, UINT64_MAX, 3, "current size 2^64-1 with a current-size creator"},
        {VHD_F_CUR_SIZE, 8, VHD_MAX_BYTES + 512, 3, "current size 2040 GiB + 512"},
        {VHD_F_TYPE, 4, 4, 1, "differencing disk type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = copy_of(&m);
        uint8_t *at = c.data + bad[i].off;
        if (bad[i].width == 8)
            instar_put_be64(at, bad[i].val);
        else if (bad[i].width == 4)
            instar_put_be32(at, (uint32_t)bad[i].val);
        else
            at[0] ^= (uint8_t)bad[i].val;
        if (bad[i].fix == 3)
            memcpy(c.data + VHD_F_CREATOR_APP, "qem2", 4);
        if (bad[i].fix == 1 || bad[i].fix == 3)
            refresh_footer(c.data);
        if (bad[i].fix == 2)
            refresh_header(c.data + 512);
        struct instar_mem_io before = copy_of(&c);
        opts_of(&c, &o, 64 << 20);
        int rc = plan_opts(&o);
        int want = i == sizeof bad / sizeof bad[0] - 1 ? INSTAR_E_UNSUPPORTED_SUBFORMAT : INSTAR_E_PARSE;
        /* The engine on the same bytes: refuses and leaves them alone. */
        struct instar_resize_args a;
        memset(&a, 0, sizeof a);
        a.format = INSTAR_FORMAT_VPC;
        instar_parse_size_spec("64M", &a.size);
        int erc = instar_image_resize(&c.io, &a, NULL);
        ok(rc == want && erc == want && c.size == before.size
           && memcmp(c.data, before.data, (size_t)c.size) == 0,
           "%s: planner %s, engine %s, bytes untouched", bad[i].what,
           instar_error_name(rc), instar_error_name(erc));
        instar_mem_io_free(&before);
        instar_mem_io_free(&c);
    }

    /* A fixed image whose data area is shorter than its size: truncated. */
    struct instar_mem_io f;
    create(&f, "fixed", false, 1 << 20);
    opts_of(&f, &o, 2 << 20);
    h = (uint8_t *)f.data + f.size - 512;
    instar_put_be64(h + VHD_F_CUR_SIZE, 4 << 20);
    memcpy(h + VHD_F_CREATOR_APP, "win ", 4);
    refresh_footer(h);
    opts_of(&f, &o, 8 << 20);
    is_int(plan_opts(&o), INSTAR_E_PARSE, "fixed: size beyond the data area (truncated)");
    instar_mem_io_free(&f);
    instar_mem_io_free(&m);
}

/* Random options and slices: the planner must answer, never crash, and any
 * plan it returns must satisfy the invariants. */
static void test_random(void)
{
    static uint8_t pool[4096 + 8192];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned okplans = 0, bad = 0;
    struct instar_resize_plan p;
    for (int it = 0; it < 20000; it++) {
        struct instar_vhd_resize_opts o;
        memset(&o, 0, sizeof o);
        for (size_t i = 0; i < sizeof pool; i += 8) {
            test_xorshift(&x);
            memcpy(pool + i, &x, 8);
        }
        memcpy(pool, "conectix", 8);
        memcpy(pool + 512, "cxsparse", 8);
        o.disk_type = (enum instar_vhd_type)(2 + x % 3);
        o.current_file_size = (it & 2) ? (x >> 20) & ~511ull : ((x >> 40) + 4096) & ~511ull;
        if (it & 1) {
            /* Plausible values so the deeper paths run. */
            instar_put_be64(pool + VHD_F_DATA_OFFSET, 512);
            instar_put_be32(pool + VHD_F_TYPE, 3);
            memcpy(pool + VHD_F_CREATOR_APP, (x & 0x100) ? "qem2" : "qemu", 4);
            instar_put_be64(pool + VHD_F_CUR_SIZE, (x % (64u << 20)) & ~511ull);
            if (x & 0x200) {
                instar_put_be16(pool + VHD_F_CYLS, (uint16_t)(x >> 24) % 64);
                pool[VHD_F_HEADS] = 16;
                pool[VHD_F_SECS] = 63;
            }
            instar_put_be64(pool + 512 + VHD_D_TABLE_OFFSET, 1536);
            instar_put_be32(pool + 512 + VHD_D_MAX_ENTRIES, (uint32_t)((x >> 12) % 64));
            instar_put_be32(pool + 512 + VHD_D_BLOCK_SIZE, 0x200000u >> ((x >> 32) % 3));
            for (size_t i = 1536; i < sizeof pool; i += 4)
                if ((pool[i] & 15) != 0)
                    instar_put_be32(pool + i, VHD_BAT_UNUSED);
                else
                    instar_put_be32(pool + i, 4 + pool[i + 1] % 64);
            o.disk_type = INSTAR_VHD_DYNAMIC;
            o.current_file_size = 4096 + ((x >> 40) % 8192) * 512;
        }
        refresh_footer(pool);
        refresh_header(pool + 512);
        o.footer.data = pool;
        o.footer.len = 512;
        o.dyn_header.data = pool + 512;
        o.dyn_header.len = 1024;
        o.bat.data = pool + 1536;
        o.bat.len = sizeof pool - 1536;
        o.block_size = instar_be32(pool + 512 + VHD_D_BLOCK_SIZE);
        o.max_table_entries = instar_be32(pool + 512 + VHD_D_MAX_ENTRIES);
        o.bat_offset = instar_be64(pool + 512 + VHD_D_TABLE_OFFSET);
        struct vhd_footer f;
        if (vhd_parse_footer(pool, 512, &f) == INSTAR_OK)
            o.virtual_size = f.virtual_size;
        o.req.new_size = (it & 4) ? x >> (x % 64) : o.virtual_size + (x >> 44);
        o.req.allow_shrink = x & 8;
        o.req.prealloc = (enum instar_prealloc)((x >> 5) % 4);
        if (instar_plan_resize_vhd(&o, scratch, 1u << 20, &p) == INSTAR_OK) {
            okplans++;
            if (instar_plan_check(&p, NULL) != 0)
                bad++;
        }
    }
    ok(bad == 0, "20000 random inputs: no crash, all %u plans satisfy the invariants", okplans);
    ok(okplans > 0, "random inputs reached successful plans (%u)", okplans);
}

/* The whole engine on mutated images: each resize either succeeds and
 * leaves an image our reader parses with the planned size (and the kept
 * block's data), or refuses and leaves every byte as it was. */
static void test_engine_mutations(void)
{
    struct instar_mem_io base;
    uint64_t x = 0x243f6a8885a308d3ull;
    unsigned done = 0, refused = 0, bad = 0;
    create(&base, "dynamic", false, 16 << 20);
    alloc_block(&base, 0, 0x5a);
    for (int it = 0; it < 400; it++) {
        struct instar_mem_io c = copy_of(&base), before;
        struct instar_resize_args a;
        struct instar_image_plan ip;
        char spec[32];
        int nmut = 1 + it % 4;
        for (int j = 0; j < nmut; j++) {
            test_xorshift(&x);
            /* Metadata: footer copy, dynamic header, BAT, or the EOF footer. */
            uint64_t off = (x >> 8) % 2048;
            if (x & 1)
                off = c.size - 512 + (x >> 20) % 512;
            c.data[off] ^= (uint8_t)(1u << ((x >> 40) % 8));
        }
        if (it & 1) {
            refresh_footer(c.data);
            refresh_header(c.data + 512);
        }
        before = copy_of(&c);
        memset(&a, 0, sizeof a);
        a.format = INSTAR_FORMAT_VPC;
        a.allow_shrink = (x >> 50) & 1;
        snprintf(spec, sizeof spec, "%llu", (unsigned long long)((x >> 30) % (8ull << 30)) + 1);
        instar_parse_size_spec(spec, &a.size);
        int rc = instar_image_plan(&c.io, &a, &ip, NULL);
        if (rc == INSTAR_OK) {
            uint64_t want = ip.plan.new_virtual_size;
            rc = instar_plan_apply(&c.io, &ip.plan, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
            uint64_t got = engine_size(&c);
            if (rc != INSTAR_OK || got != want) {
                printf("# iteration %d: rc %d, size %llu, planned %llu\n", it, rc,
                       (unsigned long long)got, (unsigned long long)want);
                bad++;
            }
            done++;
        } else {
            if (c.size != before.size || memcmp(c.data, before.data, (size_t)c.size) != 0)
                bad++;
            refused++;
        }
        instar_image_plan_free(&ip);
        instar_mem_io_free(&before);
        instar_mem_io_free(&c);
    }
    ok(bad == 0, "400 mutated images: %u resized and re-parsed with the planned size, "
       "%u refused with bytes untouched", done, refused);
    ok(done > 0 && refused > 0, "both outcomes were reached");
    instar_mem_io_free(&base);
}

/* The engine with a caller's scratch buffer (the engine fuzz target's):
 * the same plan as in its own, every payload in the buffer; a limit below
 * what the plan needs is refused as too big, the file untouched. */
static void test_caller_scratch(void)
{
    struct instar_mem_io m;
    struct instar_resize_args a;
    struct instar_image_plan own, lent;
    static uint8_t buf[4u << 20];
    create(&m, "dynamic", false, 16 << 20);
    alloc_block(&m, 0, 0x5a);
    struct instar_mem_io before = copy_of(&m);
    memset(&a, 0, sizeof a);
    a.format = INSTAR_FORMAT_VPC;
    instar_parse_size_spec("2G", &a.size);
    is_int(instar_image_plan(&m.io, &a, &own, NULL), INSTAR_OK, "caller scratch: 16M -> 2G planned");
    a.scratch = buf;
    a.scratch_limit = sizeof buf;
    is_int(instar_image_plan(&m.io, &a, &lent, NULL), INSTAR_OK, "  and in a caller's buffer");
    bool same = own.plan.npatches == lent.plan.npatches && lent.scratch == NULL;
    uint64_t used = 0;          /* how far into the buffer payloads reach */
    for (size_t i = 0; same && i < own.plan.npatches; i++) {
        const struct instar_patch *x = &own.plan.patches[i], *y = &lent.plan.patches[i];
        same = x->kind == y->kind && x->offset == y->offset && x->length == y->length
               && (x->data == NULL) == (y->data == NULL)
               && (x->data == NULL || memcmp(x->data, y->data, (size_t)x->length) == 0);
        if (y->data != NULL && y->data >= buf && y->data < buf + sizeof buf
            && (uint64_t)(y->data - buf) + y->length > used)
            used = (uint64_t)(y->data - buf) + y->length;
    }
    ok(same, "  the same plan, and no scratch of the engine's own");
    ok(used > 0, "  its new payloads in the caller's buffer (%" PRIu64 " bytes)", used);
    instar_image_plan_free(&lent);
    a.scratch_limit = (size_t)used - 1;
    is_int(instar_image_plan(&m.io, &a, &lent, NULL), INSTAR_E_SCRATCH_TOO_SMALL,
           "  a limit below the %" PRIu64 " bytes it needs: refused", used);
    instar_image_plan_free(&lent);
    instar_image_plan_free(&own);
    ok(m.size == before.size && memcmp(m.data, before.data, (size_t)m.size) == 0,
       "  planning wrote nothing");
    instar_mem_io_free(&before);
    instar_mem_io_free(&m);
}

int main(void)
{
    test_caller_scratch();
    test_rounding();
    test_create();
    test_dynamic();
    test_shrink();
    test_fixed();
    test_hostile();
    test_random();
    test_engine_mutations();
    return tap_done();
}
