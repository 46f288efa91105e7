/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-vhdx.c -- CRC-32C, the VHDX parsers, create, and the resize planner
 * on in-memory images: grow in place, BAT relocation, fixed growth, the
 * partial-block tail, the sequence-number edge, every crash prefix
 * re-parsed, hostile inputs refused with the image untouched, and a
 * mutation loop that only asks "no crash, invariants hold". */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "resize/vhdx-format.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "tap.h"
#include "testutil.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define MEM_LIMIT (512 * MIB)

static const uint8_t FWG[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t DWG[16] = {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
                                0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf};

/* ---- helpers ----------------------------------------------------------- */

static int mk(struct instar_mem_io *m, const char *subformat, uint64_t size,
              uint32_t block_size, bool zero)
{
    struct instar_create_opts o;
    struct instar_diag d;
    test_create_start(m, MEM_LIMIT, &o, INSTAR_FORMAT_VHDX, size);
    o.block_size = block_size;
    o.block_state_zero = zero;
    strcpy(o.subformat, subformat);
    instar_diag_clear(&d);
    int rc = instar_image_create(&m->io, &o, &d);
    if (rc != INSTAR_OK)
        printf("# create failed: %s\n", d.message);
    return rc;
}

static uint64_t rd64(struct instar_mem_io *m, uint64_t off)
{
    uint8_t b[8];
    instar_io_read(&m->io, b, 8, off);
    return instar_le64(b);
}

static void wr64(struct instar_mem_io *m, uint64_t off, uint64_t v)
{
    uint8_t b[8];
    instar_put_le64(b, v);
    instar_io_write(&m->io, b, 8, off);
}

/* Recompute the CRC of the 4 KiB / 64 KiB structure at OFF. */
static void fix_crc(struct instar_mem_io *m, uint64_t off, size_t len)
{
    uint8_t *b = malloc(len);
    instar_io_read(&m->io, b, len, off);
    instar_vhdx_checksum_set(b, len);
    instar_io_write(&m->io, b, len, off);
    free(b);
}

static void copy_mem(struct instar_mem_io *dst, const struct instar_mem_io *src)
{
    instar_mem_io_init(dst, MEM_LIMIT);
    size_t have = src->size < src->capacity ? (size_t)src->size : src->capacity;
    instar_mem_io_load(dst, src->data, have);
    dst->io.ops->set_size(&dst->io, src->size);
}

static bool same_mem(const struct instar_mem_io *a, const struct instar_mem_io *b)
{
    if (a->size != b->size)
        return false;
    size_t n = a->size < a->capacity ? (size_t)a->size : a->capacity;
    size_t nb = b->size < b->capacity ? (size_t)b->size : b->capacity;
    size_t common = n < nb ? n : nb;
    if (memcmp(a->data, b->data, common) != 0)
        return false;
    for (size_t i = common; i < n; i++)
        if (a->data[i]) return false;
    for (size_t i = common; i < nb; i++)
        if (b->data[i]) return false;
    return true;
}

/* Staged copies of an image's metadata (the planner's inputs). */
struct staged {
    uint8_t h1[VHDX_HEADER_SIZE], h2[VHDX_HEADER_SIZE];
    uint8_t r1[VHDX_REGION_SIZE], r2[VHDX_REGION_SIZE];
    uint8_t *meta, *bat;
    struct instar_vhdx_regions rt;
    struct instar_vhdx_meta md;
};

/* Read everything and fill O for a grow to NEW_SIZE (BAT: whole used part). */
static int stage(struct instar_mem_io *m, struct staged *s, struct instar_vhdx_resize_opts *o,
                 uint64_t new_size)
{
    memset(o, 0, sizeof *o);
    instar_io_read(&m->io, s->h1, sizeof s->h1, VHDX_HEADER1_OFFSET);
    instar_io_read(&m->io, s->h2, sizeof s->h2, VHDX_HEADER2_OFFSET);
    instar_io_read(&m->io, s->r1, sizeof s->r1, VHDX_REGION1_OFFSET);
    instar_io_read(&m->io, s->r2, sizeof s->r2, VHDX_REGION2_OFFSET);
    struct instar_slice r1 = {s->r1, sizeof s->r1};
    if (instar_vhdx_parse_regions(r1, &s->rt, NULL) != INSTAR_OK)
        return -1;
    s->meta = calloc(1, MIB);
    instar_io_read(&m->io, s->meta, MIB, s->rt.meta_offset);
    struct instar_slice md = {s->meta, MIB};
    if (instar_vhdx_parse_metadata(md, s->rt.meta_length, &s->md, NULL) != INSTAR_OK)
        return -1;
    uint64_t n = instar_vhdx_bat_entries(s->md.virtual_size, s->md.block_size,
                                         s->md.logical_sector_size);
    s->bat = malloc(n * 8 + 8);
    instar_io_read(&m->io, s->bat, n * 8, s->rt.bat_offset);
    o->req.new_size = new_size;
    o->current_file_size = m->size;
    o->virtual_size = s->md.virtual_size;
    o->block_size = s->md.block_size;
    o->logical_sector_size = s->md.logical_sector_size;
    o->leave_blocks_allocated = s->md.param_bits & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED;
    o->header1 = (struct instar_slice){s->h1, sizeof s->h1};
    o->header2 = (struct instar_slice){s->h2, sizeof s->h2};
    o->region1 = r1;
    o->region2 = (struct instar_slice){s->r2, sizeof s->r2};
    o->metadata = md;
    o->metadata_offset = s->rt.meta_offset;
    o->bat = (struct instar_slice){s->bat, n * 8};
    o->bat_offset = s->rt.bat_offset;
    o->bat_region_length = s->rt.bat_length;
    memcpy(o->file_write_guid, FWG, 16);
    memcpy(o->data_write_guid, DWG, 16);
    return 0;
}

static void unstage(struct staged *s)
{
    free(s->meta);
    free(s->bat);
    s->meta = s->bat = NULL;
}

/* Our own reader: the image parses, and its facts. */
struct facts {
    int ok;
    struct instar_vhdx_headers hdr;
    struct instar_vhdx_regions rt1, rt2;
    struct instar_vhdx_meta md;
};

static struct facts reparse(struct instar_mem_io *m)
{
    struct facts f;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    memset(&f, 0, sizeof f);
    if (stage(m, &s, &o, 0) != 0) {
        unstage(&s);
        return f;
    }
    f.ok = instar_vhdx_parse_headers(o.header1, o.header2, &f.hdr, NULL) == INSTAR_OK
        && instar_vhdx_parse_regions(o.region1, &f.rt1, NULL) == INSTAR_OK
        && instar_vhdx_parse_regions(o.region2, &f.rt2, NULL) == INSTAR_OK;
    f.md = s.md;
    uint64_t n = instar_vhdx_bat_entries(f.md.virtual_size, f.md.block_size,
                                         f.md.logical_sector_size);
    if (n > f.rt1.bat_length / 8)
        f.ok = 0;
    unstage(&s);
    return f;
}

static int resize_engine(struct instar_mem_io *m, const char *spec, bool shrink,
                         enum instar_prealloc pa, struct instar_diag *d)
{
    return test_resize_mem(m, INSTAR_FORMAT_VHDX, spec, shrink, pa, d);
}

/* ---- tests ------------------------------------------------------------- */

static void test_crc(void)
{
    is_u64(instar_crc32c(0, "123456789", 9), 0xE3069283u, "CRC-32C of \"123456789\" is 0xE3069283");
    is_u64(instar_crc32c(0, "", 0), 0, "CRC-32C of the empty string is 0");
    is_u64(instar_crc32c(instar_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u,
           "CRC-32C chains over pieces");
    /* The sliced fast path against a bit-at-a-time reference, on every
     * length and alignment of a pseudo-random buffer. */
    static uint8_t buf[300];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    int same = 1, same_portable = 1;
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; off + len <= sizeof buf; len += 7) {
            uint32_t c = 0xFFFFFFFFu;
            for (size_t i = 0; i < len; i++) {
                c ^= buf[off + i];
                for (int k = 0; k < 8; k++)
                    c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            }
            same &= instar_crc32c(0, buf + off, len) == ~c;
            same_portable &= instar_crc32c_portable(0, buf + off, len) == ~c;
        }
    ok(same, "CRC-32C (hardware path where the CPU has one) equals the bitwise definition "
       "on all lengths and alignments");
    ok(same_portable, "slicing-by-8 CRC-32C equals the bitwise definition on all lengths "
       "and alignments");
}

static void test_create(void)
{
    struct instar_mem_io m;
    ok(mk(&m, "", 1 * GIB, 0, true) == INSTAR_OK, "create dynamic 1 GiB");
    is_u64(m.size, 8 * MIB, "1 GiB dynamic file is 8 MiB (qemu's layout)");
    struct facts f = reparse(&m);
    ok(f.ok, "created image parses");
    is_int(f.hdr.current, 1, "header 2 is current");
    is_u64(f.md.block_size, 8 * MIB, "default block size for 1 GiB is 8 MiB");
    is_u64(f.rt1.bat_offset, 2 * MIB, "BAT at 2 MiB");
    is_u64(f.rt1.meta_offset, 3 * MIB, "metadata at 3 MiB");
    is_u64(rd64(&m, 2 * MIB) & 7, VHDX_PAYLOAD_ZERO, "block_state_zero: payload entries are ZERO");
    instar_mem_io_free(&m);

    ok(mk(&m, "fixed", 20 * MIB, 0, false) == INSTAR_OK, "create fixed 20 MiB, block_state_zero=off");
    is_u64(m.size, 28 * MIB, "fixed file is data start + size");
    is_u64(rd64(&m, 2 * MIB), 8 * MIB | 6, "first block FULLY_PRESENT at 8 MiB");
    is_u64(rd64(&m, 2 * MIB + 16), 24 * MIB | 6, "third block at 24 MiB");
    instar_mem_io_free(&m);

    ok(mk(&m, "", 0, 0, true) == INSTAR_OK, "create size 0");
    is_u64(m.size, 71 * MIB, "size 0: qemu's 32-bit wrap gives a 64 MiB BAT and a 71 MiB file");
    instar_mem_io_free(&m);

    struct instar_diag d;
    struct instar_create_opts o;
    instar_mem_io_init(&m, MEM_LIMIT);
    instar_create_opts_init(&o, INSTAR_FORMAT_VHDX);
    o.size = 65 * 1024 * GIB;
    instar_diag_clear(&d);
    ok(instar_image_create(&m.io, &o, &d) != INSTAR_OK
       && strcmp(d.message, "Image size too large; max of 64TB") == 0, "65 TiB refused with qemu's message");
    o.size = 1 * GIB;
    o.block_size = 3 * MIB;
    instar_diag_clear(&d);
    ok(instar_image_create(&m.io, &o, &d) != INSTAR_OK
       && strcmp(d.message, "Block size must be a power of two") == 0, "block_size=3M refused with qemu's message");
    instar_mem_io_free(&m);
}

static void test_grow_in_place(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    static uint8_t scratch[4 * 1024 * 1024];

    mk(&m, "", 1 * GIB, 0, true);
    struct facts before = reparse(&m);
    stage(&m, &s, &o, 2 * GIB + 512);
    int rc = instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_OK, "plan 1 GiB -> 2 GiB + 512 in place");
    is_int(instar_plan_check(&plan, NULL), 0, "plan satisfies the invariants");
    ok(plan.action == INSTAR_ACTION_GROW && plan.total_file_size == m.size,
       "grow, file length unchanged (BAT fits its 1 MiB region)");
    ok(plan.npatches >= 4, "patches: BAT, two headers, size item (%zu)", plan.npatches);
    const struct instar_patch *last = &plan.patches[plan.npatches - 1];
    ok(last->kind == INSTAR_PATCH_WRITE && last->length == 8
       && last->offset == s.rt.meta_offset + s.md.size_item_offset,
       "the last patch (the commit) is the Virtual Disk Size item");
    is_int(instar_plan_apply(&m.io, &plan, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL), INSTAR_OK, "apply");
    struct facts f = reparse(&m);
    ok(f.ok, "grown image parses");
    is_u64(f.md.virtual_size, 2 * GIB + 512, "virtual size is 2 GiB + 512");
    is_u64(f.hdr.seq, before.hdr.seq + 2, "current header sequence is old + 2");
    ok(f.hdr.valid[0] && f.hdr.valid[1], "both headers valid");
    is_int(f.hdr.current, before.hdr.current, "the old current header is current again (seq+2)");
    uint8_t h[VHDX_HEADER_SIZE];
    instar_io_read(&m.io, h, sizeof h, VHDX_HEADER1_OFFSET);
    ok(memcmp(h + 16, FWG, 16) == 0 && memcmp(h + 32, DWG, 16) == 0,
       "header 1 carries the supplied FileWriteGuid and DataWriteGuid");
    is_u64(instar_le64(h + 8), before.hdr.seq + 1, "the non-current header was written with seq+1");
    is_u64(rd64(&m, 2 * MIB + 256 * 8) & 7, VHDX_PAYLOAD_ZERO,
           "new payload entry follows the image's ZERO convention");
    unstage(&s);
    instar_mem_io_free(&m);

    /* block_state_zero=off: new entries stay NOT_PRESENT (0). */
    mk(&m, "", 64 * MIB, 1 * MIB, false);
    struct instar_diag d;
    is_int(resize_engine(&m, "+64M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "engine: +64M on a zero-off image");
    f = reparse(&m);
    is_u64(f.md.virtual_size, 128 * MIB, "virtual size 128 MiB");
    is_u64(rd64(&m, f.rt1.bat_offset + 100 * 8), 0, "new entry NOT_PRESENT");
    instar_mem_io_free(&m);

    /* Same size: a no-op without patches. */
    mk(&m, "", 64 * MIB, 0, true);
    stage(&m, &s, &o, 64 * MIB);
    rc = instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan);
    ok(rc == INSTAR_OK && plan.action == INSTAR_ACTION_NOOP && plan.npatches == 0
       && plan.total_file_size == m.size, "same size: no-op, no patches");
    unstage(&s);
    instar_mem_io_free(&m);
}

static void test_relocation(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    static uint8_t scratch[4 * 1024 * 1024];

    /* 1 MiB blocks: the 1 MiB BAT region holds 131072 entries (~127.97 GiB). */
    ok(mk(&m, "", 127 * GIB, 1 * MIB, true) == INSTAR_OK, "create 127 GiB, 1 MiB blocks");
    uint64_t old_len = m.size;
    struct facts before = reparse(&m);
    /* Mark one old block present so the copy is visibly faithful. */
    uint64_t blk = (old_len + MIB - 1) / MIB * MIB;
    wr64(&m, before.rt1.bat_offset + 5 * 8, blk | VHDX_PAYLOAD_FULLY_PRESENT);
    m.io.ops->set_size(&m.io, blk + MIB);
    uint8_t pat[512];
    memset(pat, 0x5a, sizeof pat);
    instar_io_write(&m.io, pat, sizeof pat, blk);
    old_len = m.size;

    stage(&m, &s, &o, 130 * GIB);
    int rc = instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan);
    is_int(rc, INSTAR_OK, "plan 127 GiB -> 130 GiB (BAT outgrows its region)");
    is_int(instar_plan_check(&plan, NULL), 0, "relocation plan satisfies the invariants");
    struct instar_mem_io orig;
    copy_mem(&orig, &m);
    /* Every crash prefix must leave an image that parses with either size. */
    int prefixes_ok = 1;
    for (size_t k = 0; k <= plan.npatches; k++) {
        struct instar_mem_io c;
        copy_mem(&c, &orig);
        instar_plan_apply(&c.io, &plan, INSTAR_PREALLOC_OFF, k, NULL);
        struct facts f = reparse(&c);
        if (!f.ok || (f.md.virtual_size != 127 * GIB && f.md.virtual_size != 130 * GIB)
            || (rd64(&c, f.rt1.bat_offset + 5 * 8) != (blk | VHDX_PAYLOAD_FULLY_PRESENT))) {
            prefixes_ok = 0;
            printf("# prefix %zu broken\n", k);
        }
        instar_mem_io_free(&c);
    }
    ok(prefixes_ok, "all %zu crash prefixes parse, keep the present block and show old or new size",
       plan.npatches + 1);
    instar_mem_io_free(&orig);

    is_int(instar_plan_apply(&m.io, &plan, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL), INSTAR_OK, "apply");
    struct facts f = reparse(&m);
    ok(f.ok, "relocated image parses");
    is_u64(f.md.virtual_size, 130 * GIB, "virtual size 130 GiB");
    ok(f.rt1.bat_offset >= old_len && f.rt1.bat_offset % MIB == 0,
       "new BAT region 1 MiB-aligned at or past the old end of file");
    is_u64(f.rt1.bat_length, 2 * MIB, "new BAT region 2 MiB");
    ok(f.rt2.bat_offset == f.rt1.bat_offset && f.rt2.bat_length == f.rt1.bat_length,
       "both region tables point at the new BAT");
    is_u64(f.rt1.meta_offset, before.rt1.meta_offset, "metadata region unchanged");
    is_u64(rd64(&m, f.rt1.bat_offset + 5 * 8), blk | VHDX_PAYLOAD_FULLY_PRESENT,
           "the present entry kept its index and value");
    is_u64(rd64(&m, f.rt1.bat_offset + 6 * 8) & 7, VHDX_PAYLOAD_ZERO, "old ZERO entry copied");
    uint64_t last = instar_vhdx_payload_index(130 * 1024 - 1, 4096);
    is_u64(rd64(&m, f.rt1.bat_offset + last * 8) & 7, VHDX_PAYLOAD_ZERO, "last new payload entry ZERO");
    is_u64(rd64(&m, f.rt1.bat_offset + 4096 * 8), 0, "sector-bitmap slot stays 0");
    ok(m.size >= f.rt1.bat_offset + f.rt1.bat_length, "file covers the new BAT region");
    uint8_t back[512];
    instar_io_read(&m.io, back, sizeof back, blk);
    ok(memcmp(back, pat, sizeof pat) == 0, "data of the present block untouched");
    unstage(&s);
    instar_mem_io_free(&m);
}

static void refuse(struct instar_mem_io *m, const char *spec, bool shrink,
                   enum instar_prealloc pa, int want, const char *what);

static void test_fixed_and_tail(void)
{
    struct instar_mem_io m;
    struct instar_diag d;

    /* Fixed, blocks FULLY_PRESENT, last block partial (20 MiB, 8 MiB blocks). */
    mk(&m, "fixed", 20 * MIB, 0, false);
    uint8_t junk[4096];
    memset(junk, 0xee, sizeof junk);
    /* Junk in the last block beyond the old size (file ends at 28 MiB;
     * block 2 at 24 MiB covers 16..24 MiB of the disk, 4 MiB in use). */
    instar_io_write(&m.io, junk, sizeof junk, 28 * MIB - 4096);  /* inside: guest data */
    is_int(resize_engine(&m, "40M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "fixed 20M -> 40M");
    struct facts f = reparse(&m);
    is_u64(f.md.virtual_size, 40 * MIB, "virtual size 40 MiB");
    uint64_t e3 = rd64(&m, f.rt1.bat_offset + 3 * 8), e4 = rd64(&m, f.rt1.bat_offset + 4 * 8);
    ok((e3 & 7) == 6 && (e4 & 7) == 6, "new blocks FULLY_PRESENT");
    ok((e3 & VHDX_BAT_OFFSET_MASK) >= 32 * MIB && (e4 & VHDX_BAT_OFFSET_MASK) == (e3 & VHDX_BAT_OFFSET_MASK) + 8 * MIB,
       "new blocks past the old last block's full extent, consecutive");
    ok(m.size >= (e4 & VHDX_BAT_OFFSET_MASK) + 8 * MIB, "file covers every new block");
    uint8_t back[4096];
    instar_io_read(&m.io, back, sizeof back, 28 * MIB - 4096);
    ok(memcmp(back, junk, sizeof back) == 0, "old guest data below the old size kept");
    instar_io_read(&m.io, back, sizeof back, 28 * MIB);
    ok(back[0] == 0 && back[4095] == 0, "old block tail beyond the old size reads zero");
    instar_mem_io_free(&m);

    /* Dynamic with a present partial last block holding junk in its tail. */
    mk(&m, "", 2 * MIB + 512 * 1024, 1 * MIB, true);
    struct facts b = reparse(&m);
    uint64_t blk = m.size;          /* 1 MiB-aligned already */
    m.io.ops->set_size(&m.io, blk + MIB);
    uint8_t *ones = malloc(MIB);
    memset(ones, 0xab, MIB);
    instar_io_write(&m.io, ones, MIB, blk);
    wr64(&m, b.rt1.bat_offset + 2 * 8, blk | 6);
    is_int(resize_engine(&m, "4M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "dynamic 2.5M -> 4M");
    uint8_t *back2 = malloc(MIB);
    instar_io_read(&m.io, back2, MIB, blk);
    int head_kept = 1, tail_zero = 1;
    for (size_t i = 0; i < MIB / 2; i++)
        head_kept &= back2[i] == 0xab;
    for (size_t i = MIB / 2; i < MIB; i++)
        tail_zero &= back2[i] == 0;
    ok(head_kept, "partial block: bytes below the old size kept");
    ok(tail_zero, "partial block: tail beyond the old size zeroed");
    free(ones);
    free(back2);
    instar_mem_io_free(&m);

    /* A store that refuses the new length (here: the 512 MiB memory
     * limit, on disk EFBIG or ENOSPC) fails the resize on its first patch,
     * the file extension, so nothing is changed. */
    mk(&m, "fixed", 20 * MIB, 0, false);
    refuse(&m, "1G", false, INSTAR_PREALLOC_OFF, INSTAR_E_IO, "fixed grow beyond what the store takes");
    instar_mem_io_free(&m);

    /* Growing from size 0 (qemu's wrapped BAT). */
    mk(&m, "", 0, 0, true);
    is_int(resize_engine(&m, "100M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "size 0 -> 100M");
    f = reparse(&m);
    ok(f.ok && f.md.virtual_size == 100 * MIB, "grown from 0 parses with 100 MiB");
    instar_mem_io_free(&m);
}

static void set_seq(struct instar_mem_io *m, uint64_t off, uint64_t seq)
{
    wr64(m, off + 8, seq);
    fix_crc(m, off, VHDX_HEADER_SIZE);
}

static void test_sequence_edge(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    static uint8_t scratch[1 << 20];

    mk(&m, "", 64 * MIB, 0, true);
    set_seq(&m, VHDX_HEADER1_OFFSET, 5);
    set_seq(&m, VHDX_HEADER2_OFFSET, UINT64_MAX - 2);
    stage(&m, &s, &o, 128 * MIB);
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_OVERFLOW,
           "sequence 2^64-3 (within 2 of the max) refused");
    unstage(&s);
    set_seq(&m, VHDX_HEADER2_OFFSET, UINT64_MAX);
    stage(&m, &s, &o, 128 * MIB);
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_OVERFLOW,
           "sequence 2^64-1 refused");
    unstage(&s);
    set_seq(&m, VHDX_HEADER2_OFFSET, UINT64_MAX - 3);
    stage(&m, &s, &o, 128 * MIB);
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_OK,
           "sequence 2^64-4 accepted");
    instar_plan_apply(&m.io, &plan, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    is_u64(rd64(&m, VHDX_HEADER1_OFFSET + 8), UINT64_MAX - 2, "header 1 (non-current) gets 2^64-3");
    is_u64(rd64(&m, VHDX_HEADER2_OFFSET + 8), UINT64_MAX - 1, "header 2 gets 2^64-2");
    unstage(&s);
    instar_mem_io_free(&m);

    /* Header 1 current (higher), header 2 corrupt: header 2 is rewritten first. */
    mk(&m, "", 64 * MIB, 0, true);
    set_seq(&m, VHDX_HEADER1_OFFSET, 100);
    wr64(&m, VHDX_HEADER2_OFFSET + 8, 7);   /* CRC now wrong */
    struct instar_diag d;
    is_int(resize_engine(&m, "+1M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK,
           "one corrupt header: the valid one is current");
    struct facts f = reparse(&m);
    ok(f.hdr.valid[0] && f.hdr.valid[1] && f.hdr.seq == 102 && f.hdr.current == 0,
       "both headers valid afterwards, header 1 current with seq 102");
    instar_mem_io_free(&m);
}

/* Engine refusals: the error and an untouched image. */
static void refuse(struct instar_mem_io *m, const char *spec, bool shrink,
                   enum instar_prealloc pa, int want, const char *what)
{
    struct instar_mem_io before;
    struct instar_diag d;
    copy_mem(&before, m);
    int rc = resize_engine(m, spec, shrink, pa, &d);
    if (!ok(rc == want, "%s: %s", what, instar_error_name(want)))
        printf("#   got %s (%s)\n", instar_error_name(rc), d.message);
    ok(same_mem(&before, m), "%s: image byte-identical afterwards", what);
    char first[sizeof d.message];
    snprintf(first, sizeof first, "%s", d.message);
    first[strcspn(first, "\n")] = '\0';
    ok(d.message[0] != '\0', "%s: a message (%s)", what, first);
    instar_mem_io_free(&before);
}

/* A copy of M with the 64-bit value V written at OFF (and, when CRC_LEN
 * is not 0, the structure of CRC_LEN bytes at CRC_OFF given a valid
 * checksum again): resizing it to SPEC is refused as refuse() checks. */
static void refuse_poked(struct instar_mem_io *m, uint64_t off, uint64_t v, uint64_t crc_off,
                         size_t crc_len, const char *spec, int want, const char *what)
{
    struct instar_mem_io h;
    copy_mem(&h, m);
    wr64(&h, off, v);
    if (crc_len != 0)
        fix_crc(&h, crc_off, crc_len);
    refuse(&h, spec, false, INSTAR_PREALLOC_OFF, want, what);
    instar_mem_io_free(&h);
}

static void test_hostile(void)
{
    struct instar_mem_io m;

    mk(&m, "", 64 * MIB, 0, true);
    refuse(&m, "32M", false, INSTAR_PREALLOC_OFF, INSTAR_E_SHRINK_NEEDS_FLAG, "shrink without --shrink");
    refuse(&m, "32M", true, INSTAR_PREALLOC_FALLOC, INSTAR_E_PREALLOC_NOT_GROW, "falloc on a shrink");
    refuse(&m, "0", true, INSTAR_PREALLOC_OFF, INSTAR_E_SIZE_NOT_POSITIVE, "shrink to 0");
    refuse(&m, "128M", false, INSTAR_PREALLOC_FALLOC, INSTAR_E_UNSUPPORTED_PREALLOC, "falloc");
    refuse(&m, "128M", false, INSTAR_PREALLOC_METADATA, INSTAR_E_UNSUPPORTED_PREALLOC, "metadata prealloc");
    refuse(&m, "+1", false, INSTAR_PREALLOC_OFF, INSTAR_E_NOT_SECTOR_MULTIPLE, "size not a multiple of 512");
    refuse(&m, "65T", false, INSTAR_PREALLOC_OFF, INSTAR_E_TOO_LARGE, "65 TiB");

    /* Log not empty. */
    struct instar_mem_io h;
    refuse_poked(&m, VHDX_HEADER2_OFFSET + 48, 0x1234, VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE,
                 "128M", INSTAR_E_NEEDS_CHECK, "LogGuid set");

    /* Both headers with bad CRCs. */
    copy_mem(&h, &m);
    wr64(&h, VHDX_HEADER1_OFFSET + 100, 1);
    wr64(&h, VHDX_HEADER2_OFFSET + 100, 1);
    refuse(&h, "128M", false, INSTAR_PREALLOC_OFF, INSTAR_E_PARSE, "both header CRCs bad");
    instar_mem_io_free(&h);

    /* Region table 1 CRC. */
    refuse_poked(&m, VHDX_REGION1_OFFSET + 1000, 1, 0, 0, "128M", INSTAR_E_PARSE,
                 "region table CRC bad");

    /* Truncated file. */
    copy_mem(&h, &m);
    h.io.ops->set_size(&h.io, 3 * MIB + 4096);
    refuse(&h, "128M", false, INSTAR_PREALLOC_OFF, INSTAR_E_PARSE, "truncated inside the metadata table");
    instar_mem_io_free(&h);
    copy_mem(&h, &m);
    h.io.ops->set_size(&h.io, 512 * 1024);
    refuse(&h, "128M", false, INSTAR_PREALLOC_OFF, INSTAR_E_PARSE, "truncated inside the header section");
    instar_mem_io_free(&h);

    struct facts f = reparse(&m);
    uint64_t meta = f.rt1.meta_offset;
    /* HasParent. */
    refuse_poked(&m, meta + 65536, (uint64_t)VHDX_PARAM_HAS_PARENT << 32 | 8 * MIB, 0, 0,
                 "128M", INSTAR_E_UNSUPPORTED_SUBFORMAT, "HasParent");
    /* Absurd block size. */
    refuse_poked(&m, meta + 65536, 3 * MIB, 0, 0, "128M", INSTAR_E_PARSE, "block size 3 MiB");
    /* Absurd virtual size. */
    refuse_poked(&m, meta + 65536 + 8, UINT64_MAX - 511, 0, 0, "+1M", INSTAR_E_PARSE,
                 "virtual size near 2^64");
    /* Metadata item offset beyond the region (hostile length). */
    refuse_poked(&m, meta + 32 + 32 + 16, 0xFFFFF000ull | (uint64_t)0xFFFFFFFF << 32, 0, 0,
                 "128M", INSTAR_E_PARSE, "metadata item at 4 GiB, length 4 GiB");
    /* Metadata entry count absurd. */
    copy_mem(&h, &m);
    uint8_t cnt[2] = {0xff, 0xff};
    instar_io_write(&h.io, cnt, 2, meta + 10);
    refuse(&h, "128M", false, INSTAR_PREALLOC_OFF, INSTAR_E_PARSE, "metadata entry count 65535");
    instar_mem_io_free(&h);
    /* A present block beyond EOF. */
    refuse_poked(&m, f.rt1.bat_offset, (1024 * MIB) | 6, 0, 0, "128M", INSTAR_E_PARSE,
                 "present block past the end of file");
    /* Differencing block state. */
    refuse_poked(&m, f.rt1.bat_offset, 7, 0, 0, "128M", INSTAR_E_UNSUPPORTED_SUBFORMAT,
                 "PARTIALLY_PRESENT entry");
    /* Region pointing into the header section. */
    refuse_poked(&m, VHDX_REGION1_OFFSET + 32, 0, VHDX_REGION1_OFFSET, VHDX_REGION_SIZE,
                 "128M", INSTAR_E_PARSE, "BAT region at offset 0");
    /* A metadata region claiming 4 GiB - 1 MiB (valid CRC): the engine
     * stages a bounded part (prior art: this length once became a 4 GiB
     * allocation), the items are found and the grow works. */
    copy_mem(&h, &m);
    uint8_t big[4];
    instar_put_le32(big, 0xFFF00000u);
    instar_io_write(&h.io, big, 4, VHDX_REGION1_OFFSET + 72);
    fix_crc(&h, VHDX_REGION1_OFFSET, VHDX_REGION_SIZE);
    instar_io_write(&h.io, big, 4, VHDX_REGION2_OFFSET + 72);
    fix_crc(&h, VHDX_REGION2_OFFSET, VHDX_REGION_SIZE);
    {
        struct instar_diag d;
        uint64_t len0 = h.size;
        is_int(resize_engine(&h, "64G", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK,
               "metadata region length 4 GiB - 1 MiB: bounded staging, grow works");
        struct facts g = reparse(&h);
        ok(g.ok && g.md.virtual_size == 64 * GIB && h.size == len0,
           "result parses with 64 GiB, BAT grown in place");
    }
    instar_mem_io_free(&h);
    /* Not a VHDX at all. */
    refuse_poked(&m, 0, 0, 0, 0, "128M", INSTAR_E_PARSE, "no vhdxfile signature");
    instar_mem_io_free(&m);
}

static void test_planner_inputs(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    static uint8_t scratch[1 << 20];

    mk(&m, "fixed", 64 * MIB, 0, false);
    stage(&m, &s, &o, 128 * MIB);
    o.block_size = 16 * MIB;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_HEADER_MISMATCH,
           "scalar block size disagreeing with the metadata");
    o.block_size = s.md.block_size;
    o.leave_blocks_allocated = false;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_HEADER_MISMATCH,
           "fixed flag disagreeing with the metadata");
    o.leave_blocks_allocated = true;
    is_int(instar_plan_resize_vhdx(&o, scratch, 1000, &plan), INSTAR_E_SCRATCH_TOO_SMALL,
           "scratch too small");
    ok(plan.npatches == 0, "no patches left on error");
    o.bat.len = 0;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_NOT_STAGED,
           "BAT not staged");
    ok(plan.nneeds == 1 && plan.needs[0].kind == INSTAR_NEED_BYTES
       && plan.needs[0].index == s.rt.bat_offset && plan.needs[0].length == 8 * 8,
       "asks for exactly the 8 BAT entries of the old size");
    o.bat.len = 64;
    o.current_file_size = 0;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_PARSE,
           "file size 0 refused (never a plan with total size 0)");
    o.current_file_size = m.size;
    o.header1.len = 100;
    o.header2.len = 100;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_PARSE,
           "short header slices");
    unstage(&s);
    instar_mem_io_free(&m);
}

static void test_shrink(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    static uint8_t scratch[1 << 20];
    struct instar_diag d;

    /* Dynamic, 1 MiB blocks; blocks 10 and 40 present with data. */
    mk(&m, "", 64 * MIB, 1 * MIB, true);
    struct facts b = reparse(&m);
    uint64_t b10 = m.size, b40 = m.size + MIB;
    uint8_t *fill = malloc(MIB);
    memset(fill, 0xab, MIB);
    instar_io_write(&m.io, fill, MIB, b10);
    memset(fill, 0xcd, MIB);
    instar_io_write(&m.io, fill, MIB, b40);
    wr64(&m, b.rt1.bat_offset + 10 * 8, b10 | 6);
    wr64(&m, b.rt1.bat_offset + 40 * 8, b40 | 6);
    uint64_t len = m.size;

    stage(&m, &s, &o, 10 * MIB + 512 * 1024);
    o.req.allow_shrink = false;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_E_SHRINK_NEEDS_FLAG,
           "shrink without allow_shrink refused");
    o.req.allow_shrink = true;
    is_int(instar_plan_resize_vhdx(&o, scratch, sizeof scratch, &plan), INSTAR_OK, "plan 64M -> 10.5M");
    is_int(instar_plan_check(&plan, NULL), 0, "shrink plan satisfies the invariants");
    ok(plan.action == INSTAR_ACTION_SHRINK && plan.total_file_size == len, "shrink keeps the file length");
    struct instar_mem_io orig;
    copy_mem(&orig, &m);
    int prefixes_ok = 1;
    for (size_t k = 0; k <= plan.npatches; k++) {
        struct instar_mem_io c;
        uint8_t x[4];
        copy_mem(&c, &orig);
        instar_plan_apply(&c.io, &plan, INSTAR_PREALLOC_OFF, k, NULL);
        struct facts f = reparse(&c);
        instar_io_read(&c.io, x, 4, b10);
        if (!f.ok || (f.md.virtual_size != 64 * MIB && f.md.virtual_size != 10 * MIB + 512 * 1024)
            || x[0] != 0xab)
            prefixes_ok = 0;
        /* While the old size is live, block 40 must still be there. */
        if (f.md.virtual_size == 64 * MIB && rd64(&c, f.rt1.bat_offset + 40 * 8) != (b40 | 6))
            prefixes_ok = 0;
        instar_mem_io_free(&c);
    }
    ok(prefixes_ok, "all %zu shrink prefixes parse with old or new size, data intact while visible",
       plan.npatches + 1);
    instar_mem_io_free(&orig);
    instar_plan_apply(&m.io, &plan, INSTAR_PREALLOC_OFF, SIZE_MAX, NULL);
    struct facts f = reparse(&m);
    ok(f.ok && f.md.virtual_size == 10 * MIB + 512 * 1024, "shrunk to 10.5 MiB");
    uint8_t *back = malloc(MIB);
    instar_io_read(&m.io, back, MIB, b10);
    int kept = 1, zero = 1;
    for (size_t i = 0; i < MIB / 2; i++) kept &= back[i] == 0xab;
    for (size_t i = MIB / 2; i < MIB; i++) zero &= back[i] == 0;
    ok(kept, "last block: bytes below the new size kept");
    ok(zero, "last block: tail beyond the new size zeroed");
    is_u64(rd64(&m, f.rt1.bat_offset + 40 * 8), 0, "BAT entry past the new table cleared");
    is_int(resize_engine(&m, "64M", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "grow back to 64M");
    is_u64(rd64(&m, f.rt1.bat_offset + 40 * 8) & 7, VHDX_PAYLOAD_ZERO, "regrown block 40 reads as zeros (ZERO)");
    is_u64(rd64(&m, f.rt1.bat_offset + 10 * 8), b10 | 6, "block 10 still present after regrow");
    free(back);
    free(fill);
    unstage(&s);
    instar_mem_io_free(&m);

    /* Fixed: 20M, 8 MiB blocks all present; shrink to 12M. */
    mk(&m, "fixed", 20 * MIB, 0, false);
    uint8_t junk[4096];
    memset(junk, 0x77, sizeof junk);
    instar_io_write(&m.io, junk, sizeof junk, 16 * MIB + 4 * MIB);   /* block 1, past 12M */
    instar_io_write(&m.io, junk, sizeof junk, 16 * MIB);             /* block 1, below 12M */
    len = m.size;
    is_int(resize_engine(&m, "12M", true, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "fixed 20M -> 12M");
    f = reparse(&m);
    ok(f.ok && f.md.virtual_size == 12 * MIB && m.size == len, "fixed shrunk to 12 MiB, same file length");
    uint8_t x[4096];
    instar_io_read(&m.io, x, sizeof x, 16 * MIB);
    ok(x[0] == 0x77 && x[4095] == 0x77, "data below the new size kept");
    instar_io_read(&m.io, x, sizeof x, 20 * MIB);
    ok(x[0] == 0 && x[4095] == 0, "data of the last block past the new size zeroed");
    is_u64(rd64(&m, f.rt1.bat_offset + 2 * 8), 0, "entry of the dropped block cleared");
    instar_mem_io_free(&m);
}

/* 4 KiB logical sectors (qemu cannot create them, but the format has them):
 * the chunk ratio is 8 times larger and sizes must be 4 KiB multiples. */
static void test_4k_sectors(void)
{
    struct instar_mem_io m;
    struct instar_diag d;
    mk(&m, "", 64 * MIB, 1 * MIB, true);
    struct facts f = reparse(&m);
    uint8_t lss[4] = {0x00, 0x10, 0x00, 0x00};      /* 4096 */
    instar_io_write(&m.io, lss, 4, f.rt1.meta_offset + 65536 + 32);
    f = reparse(&m);
    is_u64(f.md.logical_sector_size, 4096, "patched image has 4 KiB logical sectors");
    is_u64(instar_vhdx_chunk_ratio(1 << 20, 4096), 32768, "chunk ratio 32768 for 1 MiB blocks");
    struct instar_mem_io before;
    copy_mem(&before, &m);
    is_int(resize_engine(&m, "+512", false, INSTAR_PREALLOC_OFF, &d), INSTAR_E_INVALID_SIZE,
           "4 KiB sectors: +512 is refused");
    ok(same_mem(&before, &m), "refusal left the image untouched");
    instar_mem_io_free(&before);
    is_int(resize_engine(&m, "+4K", false, INSTAR_PREALLOC_OFF, &d), INSTAR_OK, "4 KiB sectors: +4K grows");
    f = reparse(&m);
    ok(f.ok && f.md.virtual_size == 64 * MIB + 4096, "virtual size 64 MiB + 4 KiB");
    instar_mem_io_free(&m);
}

/* Deterministic mutations of a valid image's staged bytes: the planner
 * must never crash, and every plan it returns must hold the invariants
 * and never shrink the file. */
static void test_mutations(void)
{
    struct instar_mem_io m;
    struct staged s;
    struct instar_vhdx_resize_opts o;
    static struct instar_resize_plan plan;
    static uint8_t scratch[1 << 20];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int bad = 0, plans = 0;

    mk(&m, "", 300 * MIB, 1 * MIB, true);
    stage(&m, &s, &o, 0);
    o.metadata.len = 1 << 17;           /* table + items: all the planner reads */
    uint8_t *areas[] = {s.h1, s.h2, s.r1, s.r2, s.meta, s.bat};
    size_t lens[] = {4096, 4096, 1024, 1024, 65536 + 64, o.bat.len};
    for (int it = 0; it < 3000; it++) {
        struct staged c = s;
        struct instar_vhdx_resize_opts oc = o;
        uint8_t h1[4096], h2[4096], r1[65536], r2[65536];
        static uint8_t meta[1 << 17], bat[4096];
        memcpy(h1, s.h1, sizeof h1);
        memcpy(h2, s.h2, sizeof h2);
        memcpy(r1, s.r1, sizeof r1);
        memcpy(r2, s.r2, sizeof r2);
        memcpy(meta, s.meta, sizeof meta);
        memcpy(bat, s.bat, o.bat.len);
        uint8_t *copies[] = {h1, h2, r1, r2, meta, bat};
        (void)c;
        for (int n = 0; n < 4; n++) {
            test_xorshift(&x);
            int a = (int)(x % 6);
            size_t at = (size_t)((x >> 8) % lens[a]);
            copies[a][at] = (uint8_t)(x >> 40);
            (void)areas;
        }
        /* Sometimes keep the CRCs right so the mutation reaches deeper. */
        if (x & 1) {
            instar_vhdx_checksum_set(h1, 4096);
            instar_vhdx_checksum_set(h2, 4096);
            instar_vhdx_checksum_set(r1, 65536);
            instar_vhdx_checksum_set(r2, 65536);
        }
        oc.header1.data = h1; oc.header2.data = h2;
        oc.region1.data = r1; oc.region2.data = r2;
        oc.metadata.data = meta; oc.bat.data = bat;
        oc.req.new_size = (x >> 20) % 4 == 0 ? (x >> 3) : (300 + (x >> 50) % 600) * MIB;
        oc.req.allow_shrink = (x >> 60) & 1;
        /* Facts taken from the (possibly mutated) bytes, as a host would. */
        struct instar_vhdx_meta md;
        struct instar_vhdx_regions rt;
        if (instar_vhdx_parse_metadata(oc.metadata, (uint32_t)MIB, &md, NULL) == INSTAR_OK) {
            oc.virtual_size = md.virtual_size;
            oc.block_size = md.block_size;
            oc.logical_sector_size = md.logical_sector_size;
            oc.leave_blocks_allocated = md.param_bits & 1;
        }
        if (instar_vhdx_parse_regions(oc.region1, &rt, NULL) == INSTAR_OK) {
            oc.bat_offset = rt.bat_offset;
            oc.bat_region_length = rt.bat_length;
            oc.metadata_offset = rt.meta_offset;
        }
        if (instar_plan_resize_vhdx(&oc, scratch, sizeof scratch, &plan) == INSTAR_OK) {
            plans++;
            if (instar_plan_check(&plan, NULL) != 0 || plan.total_file_size < oc.current_file_size)
                bad++;
        }
    }
    ok(bad == 0, "3000 mutated inputs: no crash, %d plans, all invariant-clean", plans);
    ok(plans > 0, "some mutated inputs still planned (the loop reaches the planner's end)");
    unstage(&s);
    instar_mem_io_free(&m);
}

int main(void)
{
    test_crc();
    test_create();
    test_grow_in_place();
    test_relocation();
    test_fixed_and_tail();
    test_sequence_edge();
    test_hostile();
    test_planner_inputs();
    test_4k_sectors();
    test_shrink();
    test_mutations();
    return tap_done();
}
