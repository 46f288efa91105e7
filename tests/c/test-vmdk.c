/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-vmdk.c -- the VMDK planner, create and engine on in-memory images:
 * qemu-img 7.2's create layout, grow in place and with relocation, the
 * descriptor kept byte for byte, crash prefixes re-read by a small reader
 * of our own, and hostile numbers (near 2^64 too) answered with errors. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "tap.h"
#include "testutil.h"

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The memory store is sparse (its buffer may be shorter than its length):
 * look at an image through a full copy, change it through the store. */
static uint8_t *snap(struct instar_mem_io *m)
{
    uint8_t *b = malloc(m->size ? (size_t)m->size : 1);
    if (b == NULL || instar_io_read(&m->io, b, (size_t)m->size, 0) != INSTAR_OK)
        abort();
    return b;
}
static void poke(struct instar_mem_io *m, uint64_t off, const void *p, size_t n)
{
    if (instar_io_write(&m->io, p, n, off) != INSTAR_OK)
        abort();
}
static void poke32(struct instar_mem_io *m, uint64_t off, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    poke(m, off, b, 4);
}

/* A fresh in-memory image made by our create. */
static int make_image(struct instar_mem_io *m, uint64_t size, const char *opts)
{
    struct instar_create_opts o;
    struct instar_diag diag;
    test_create_start(m, UINT64_C(1) << 32, &o, INSTAR_FORMAT_VMDK, size);
    o.path = "/some/dir/t.vmdk";
    if (opts && strcmp(opts, "zeroed") == 0)
        o.zeroed_grain = true;
    if (opts && strcmp(opts, "lsilogic") == 0)
        strcpy(o.adapter_type, "lsilogic");
    return instar_image_create(&m->io, &o, &diag);
}

static int resize_mem(struct instar_mem_io *m, const char *spec, bool shrink,
                      enum instar_prealloc pa, struct instar_diag *diag)
{
    return test_resize_mem(m, INSTAR_FORMAT_VMDK, spec, shrink, pa, diag);
}

/* ---- a small independent reader: is this image one qemu can use? ---- */
struct facts {
    uint64_t capacity, grain, gd, rgd, overhead, desc, desc_sectors;
    uint32_t gtes, flags;
};

static bool read_facts(const uint8_t *d, uint64_t len, struct facts *f)
{
    if (len < 512 || memcmp(d, "KDMV", 4) != 0)
        return false;
    f->flags = le32(d + 8);
    f->capacity = le64(d + 12);
    f->grain = le64(d + 20);
    f->desc = le64(d + 28);
    f->desc_sectors = le64(d + 36);
    f->gtes = le32(d + 44);
    f->rgd = le64(d + 48);
    f->gd = le64(d + 56);
    f->overhead = le64(d + 64);
    return memcmp(d + 73, "\n \r\n", 4) == 0;
}

/* Every directory entry (both directories) points at a table inside the
 * file; tables of the two directories are distinct; GTs past the old
 * capacity are zero.  Returns the number of problems. */
static bool check_align = true;   /* the file ends on a grain boundary */
static int audit(const uint8_t *d, uint64_t len, bool tables_zero_from_old, uint64_t old_cap)
{
    struct facts f;
    int bad = 0;
    if (!read_facts(d, len, &f))
        return 1;
    uint64_t cover = f.grain * f.gtes, n = (f.capacity + cover - 1) / cover;
    for (int k = 0; k < ((f.flags & 2) ? 2 : 1); k++) {
        uint64_t dir = (k ? f.rgd : f.gd) * 512;
        if (dir + 4 * n > len)
            return bad + 1;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t gt = (uint64_t)le32(d + dir + 4 * i) * 512;
            if (gt == 0 || gt + 4 * f.gtes > len) {
                bad++;
                continue;
            }
            for (uint32_t j = 0; j < f.gtes && tables_zero_from_old; j++) {
                uint64_t grain_index = i * f.gtes + j;
                if (grain_index * f.grain >= old_cap && le32(d + gt + 4 * j) != 0)
                    bad++;
            }
        }
    }
    if (check_align && len % (f.grain * 512) != 0)
        bad++;
    return bad;
}

/* The descriptor's text (up to the NUL). */
static size_t desc_text(const uint8_t *d, char *out, size_t cap)
{
    size_t n = 0;
    for (; n + 1 < cap && n < 20 * 512 && d[512 + n]; n++)
        out[n] = (char)d[512 + n];
    out[n] = 0;
    return n;
}

static void test_create(void)
{
    struct instar_mem_io m;
    struct facts f;
    char text[10240];

    is_int(make_image(&m, UINT64_C(1) << 30, NULL), INSTAR_OK, "create 1 GiB");
    is_u64(m.size, 196608, "1 GiB: file length as qemu-img (196608)");
    uint8_t *d = snap(&m);
    ok(read_facts(d, m.size, &f), "1 GiB: magic and newline bytes");
    is_u64(f.capacity, 2097152, "capacity 2097152 sectors");
    ok(f.grain == 128 && f.gtes == 512 && f.desc == 1 && f.desc_sectors == 20,
       "grain 128, 512 GTEs, descriptor at 1 for 20 sectors");
    ok(f.rgd == 21 && f.gd == 150 && f.overhead == 384, "rgd 21, gd 150, overHead 384");
    is_u64(le32(d + 4), 1, "version 1");
    is_u64(f.flags, 3, "flags 0x3");
    is_u64(le32(d + 21 * 512), 22, "first RGD entry -> sector 22");
    is_u64(le32(d + 150 * 512 + 31 * 4), 151 + 31 * 4, "last GD entry -> 275");
    is_int(audit(d, m.size, true, 0), 0, "all 32+32 tables allocated and zero");
    desc_text(d, text, sizeof text);
    free(d);
    ok(strstr(text, "RW 2097152 SPARSE \"t.vmdk\"\n") != NULL, "extent line names the base name");
    ok(strstr(text, "ddb.geometry.cylinders = \"2080\"\n") != NULL, "cylinders 2080");
    instar_mem_io_free(&m);

    is_int(make_image(&m, 10ull << 30, "lsilogic"), INSTAR_OK, "create 10 GiB lsilogic");
    d = snap(&m);
    read_facts(d, m.size, &f);
    ok(f.gd == 1304 && f.overhead == 2688, "10 GiB: gd 1304, overHead 2688 (qemu's)");
    desc_text(d, text, sizeof text);
    free(d);
    ok(strstr(text, "ddb.geometry.cylinders = \"1305\"") && strstr(text, "heads = \"255\""),
       "10 GiB lsilogic: 1305 cylinders, 255 heads");
    instar_mem_io_free(&m);

    is_int(make_image(&m, 1024, "zeroed"), INSTAR_OK, "create 1 KiB zeroed_grain");
    d = snap(&m);
    read_facts(d, m.size, &f);
    ok(le32(d + 4) == 2 && f.flags == 7 && f.capacity == 2 && m.size == 65536,
       "zeroed_grain: version 2, flags 0x7, capacity 2, 64 KiB file");
    free(d);
    instar_mem_io_free(&m);
}

static void test_grow(const char *from_desc, uint64_t from, const char *to, uint64_t to_bytes,
                      bool relocates)
{
    struct instar_mem_io m;
    struct instar_diag diag;
    struct facts f0, f1;
    char before[10240], after[10240];

    make_image(&m, from, NULL);
    uint8_t *d0 = snap(&m);
    read_facts(d0, m.size, &f0);
    desc_text(d0, before, sizeof before);
    int rc = resize_mem(&m, to, false, INSTAR_PREALLOC_OFF, &diag);
    is_int(rc, INSTAR_OK, "grow %s -> %s: ok %s", from_desc, to, diag.message);
    uint8_t *d = snap(&m);
    read_facts(d, m.size, &f1);
    is_u64(f1.capacity * 512, to_bytes, "grow %s -> %s: header capacity", from_desc, to);
    ok((f1.gd != f0.gd) == relocates && (f1.rgd != f0.rgd) == relocates,
       "grow %s -> %s: directories %s", from_desc, to, relocates ? "relocated" : "kept in place");
    is_int(audit(d, m.size, true, f0.capacity), 0,
           "grow %s -> %s: every directory entry allocated, new tables zero, grain-aligned end",
           from_desc, to);
    if (relocates)
        ok(memcmp(d0 + f0.gd * 512, d + f1.gd * 512,
                  4 * ((f0.capacity + 65535) / 65536)) == 0,
           "grow %s -> %s: old entries copied into the new directory", from_desc, to);
    desc_text(d, after, sizeof after);
    free(d0);
    /* Only the CID, RW and cylinders lines may differ. */
    char *sb, *sa, *lb = strtok_r(before, "\n", &sb), *la = strtok_r(after, "\n", &sa);
    int diff = 0, same = 0;
    while (lb && la) {
        if (strcmp(lb, la) != 0) {
            if (strncmp(lb, "CID=", 4) && strncmp(lb, "RW ", 3)
                && strncmp(lb, "ddb.geometry.cylinders", 22))
                diff++;
        } else {
            same++;
        }
        lb = strtok_r(NULL, "\n", &sb);
        la = strtok_r(NULL, "\n", &sa);
    }
    ok(diff == 0 && lb == NULL && la == NULL && same >= 12,
       "grow %s -> %s: descriptor keeps every other line (%d same)", from_desc, to, same);
    free(d);
    instar_mem_io_free(&m);
}

/* ---- driving the planner directly on a byte image (hostile values) ---- */
struct staged {
    const uint8_t *img;
    uint64_t len;
};

static int plan_bytes(const uint8_t *img, uint64_t len, uint64_t file_size, uint64_t new_size,
                      bool shrink, enum instar_prealloc pa, struct instar_resize_plan *plan,
                      uint8_t *scratch, size_t scratch_len, struct instar_refusal *why)
{
    struct instar_vmdk_resize_opts o;
    memset(&o, 0, sizeof o);
    o.req.new_size = new_size;
    o.req.allow_shrink = shrink;
    o.req.prealloc = pa;
    o.current_file_size = file_size;
    if (len >= 512) {
        o.capacity_sectors = le64(img + 12);
        o.grain_sectors = le64(img + 20);
        o.descriptor_offset_sectors = le64(img + 28);
        o.descriptor_sectors = le64(img + 36);
        o.gtes_per_gt = le32(img + 44);
        o.rgd_offset_sectors = (le32(img + 8) & 2) ? le64(img + 48) : 0;
        o.gd_offset_sectors = le64(img + 56);
        o.header.data = img;
        o.header.len = 512;
    }
    o.new_cid = 0x1234abcd;
    o.req.why = why;
    int rc = INSTAR_E_NOT_STAGED;
    for (int round = 0; round < 5 && rc == INSTAR_E_NOT_STAGED; round++) {
        rc = instar_plan_resize_vmdk(&o, scratch, scratch_len, plan);
        for (size_t i = 0; rc == INSTAR_E_NOT_STAGED && i < plan->nneeds; i++) {
            const struct instar_need *n = &plan->needs[i];
            if (n->index > len || n->length > len - n->index)
                return -2;              /* the planner asked beyond the file */
            struct instar_slice s = { img + n->index, (size_t)n->length };
            if (n->length == 4)
                o.tail_gte = s;
            else if (n->index == o.descriptor_offset_sectors * 512 && !o.descriptor.data)
                o.descriptor = s;
            else if (n->index == o.gd_offset_sectors * 512 && !o.gd.data)
                o.gd = s;
            else if (n->index == o.rgd_offset_sectors * 512 && !o.rgd.data)
                o.rgd = s;
            else if (n->index == 0 && n->length == 512)
                o.header = s;
            else
                return -3;
        }
    }
    return rc;
}

static uint8_t scratch[1 << 20];

static void test_refusals(void)
{
    struct instar_mem_io m;
    struct instar_resize_plan plan;
    struct instar_diag diag;
    struct instar_refusal why;
    uint8_t *img;
    const uint64_t G = UINT64_C(1) << 30;

    make_image(&m, G, NULL);
    img = snap(&m);
    const uint64_t len = m.size;

#define PLAN(nsz, shrink, pa) plan_bytes(img, len, len, (nsz), (shrink), (pa), &plan, scratch, \
                                         sizeof scratch, &why)
#define WITH(off, width, val, expect, ...)                                        \
    do {                                                                          \
        uint8_t save_[8];                                                         \
        memcpy(save_, img + (off), (width));                                      \
        if ((width) == 8) put_le64(img + (off), (val)); else if ((width) == 4)    \
            put_le32(img + (off), (uint32_t)(val)); else img[(off)] = (uint8_t)(val); \
        is_int(PLAN(2 * G, false, INSTAR_PREALLOC_OFF), (expect), __VA_ARGS__);   \
        memcpy(img + (off), save_, (width));                                      \
    } while (0)

    is_int(PLAN(2 * G, false, INSTAR_PREALLOC_OFF), INSTAR_OK, "baseline: 1G -> 2G plans");
    ok(instar_plan_check(&plan, NULL) == 0, "baseline plan is invariant-clean");
    is_int(PLAN(G, false, INSTAR_PREALLOC_OFF), INSTAR_OK, "same size: ok");
    ok(plan.action == INSTAR_ACTION_NOOP && plan.npatches == 0, "same size: a no-op plan");
    is_int(PLAN(G / 2, false, INSTAR_PREALLOC_OFF), INSTAR_E_SHRINK_NEEDS_FLAG, "shrink without flag");
    is_int(PLAN(G / 2, true, INSTAR_PREALLOC_OFF), INSTAR_OK, "shrink with flag");
    ok(plan.action == INSTAR_ACTION_SHRINK && plan.npatches == 2 && plan.patches[0].offset == 0
       && plan.patches[1].offset == 512 && plan.total_file_size == len
       && plan.new_virtual_size == G / 2 && instar_plan_check(&plan, NULL) == 0,
       "shrink: header then descriptor, file length kept");
    is_u64(le64(plan.patches[0].data + 12), G / 2 / 512, "shrink: the new capacity in the header");
    is_int(PLAN(G / 2, true, INSTAR_PREALLOC_FULL), INSTAR_E_PREALLOC_NOT_GROW,
           "prealloc on a shrink: qemu's message first");
    is_int(PLAN(2 * G, false, INSTAR_PREALLOC_FALLOC), INSTAR_E_UNSUPPORTED_PREALLOC, "falloc grow");
    is_int(PLAN(2 * G, false, INSTAR_PREALLOC_METADATA), INSTAR_E_UNSUPPORTED_PREALLOC, "metadata grow");
    is_int(PLAN(0, false, INSTAR_PREALLOC_OFF), INSTAR_E_SIZE_NOT_POSITIVE, "new size 0");
    is_int(PLAN(UINT64_MAX, false, INSTAR_PREALLOC_OFF), INSTAR_E_SIZE_NOT_POSITIVE, "new size 2^64-1");
    is_int(PLAN(INT64_MAX, false, INSTAR_PREALLOC_OFF), INSTAR_E_TOO_LARGE, "new size 2^63-1: too large");
    /* qemu's bound is its 32 Mi directory entries, not 2 TiB of grains. */
    is_int(PLAN(UINT64_C(1) << 41, false, INSTAR_PREALLOC_OFF), INSTAR_OK,
           "exactly 2 TiB plans (qemu-img creates and reads it)");
    is_int(PLAN((UINT64_C(1) << 50) + 512, false, INSTAR_PREALLOC_OFF), INSTAR_E_TOO_LARGE,
           "1 PiB + 512: past qemu's 32 Mi directory entries");
    is_int(plan_bytes(img, len, (UINT64_C(1) << 41) - 512, 2 * G, false, INSTAR_PREALLOC_OFF,
                      &plan, scratch, sizeof scratch, &why),
           INSTAR_E_TOO_LARGE, "new tables past sector 2^32 of the file: too large");
    ok(why.reason != NULL && strstr(why.reason, "sector 2^32") != NULL, "... for that reason: %s",
       why.reason ? why.reason : "");
    is_int(plan_bytes(img, len, len, 2 * G, false, INSTAR_PREALLOC_OFF, &plan, scratch, 600, &why),
           INSTAR_E_SCRATCH_TOO_SMALL, "scratch too small is an error, not an overflow");
    is_int(plan_bytes(img, len, UINT64_MAX, 2 * G, false, INSTAR_PREALLOC_OFF, &plan, scratch,
                      sizeof scratch, &why), INSTAR_E_TOO_LARGE, "file size 2^64-1: too large");
    {
        struct instar_vmdk_resize_opts o;
        memset(&o, 0, sizeof o);
        o.req.new_size = 2 * G;
        o.current_file_size = len;
        is_int(instar_plan_resize_vmdk(&o, scratch, sizeof scratch, &plan), INSTAR_E_NOT_STAGED,
               "no header staged: asks for it");
    }
    ok(plan.nneeds == 1 && plan.needs[0].index == 0 && plan.needs[0].length == 512,
       "... the need names bytes [0, 512)");

    WITH(0, 1, 'X', INSTAR_E_PARSE, "bad magic");
    WITH(4, 4, 0, INSTAR_E_PARSE, "version 0");
    WITH(4, 4, 4, INSTAR_E_PARSE, "version 4");
    WITH(4, 4, 3, INSTAR_E_UNSUPPORTED_SUBFORMAT, "version 3 (streamOptimized)");
    WITH(8, 4, 0x30003, INSTAR_E_UNSUPPORTED_SUBFORMAT, "compressed + markers flags");
    WITH(8, 4, 0x80003, INSTAR_E_UNSUPPORTED_SUBFORMAT, "unknown flag");
    WITH(77, 1, 1, INSTAR_E_UNSUPPORTED_SUBFORMAT, "deflate compression");
    WITH(56, 8, UINT64_MAX, INSTAR_E_UNSUPPORTED_SUBFORMAT, "GD_AT_END");
    WITH(72, 1, 1, INSTAR_E_NEEDS_CHECK, "unclean shutdown");
    WITH(74, 1, 'x', INSTAR_E_PARSE, "newline check bytes");
    WITH(12, 8, 0, INSTAR_E_PARSE, "capacity 0");
    WITH(12, 8, UINT64_MAX, INSTAR_E_OVERFLOW, "capacity 2^64-1: capacity*512 overflows");
    WITH(12, 8, UINT64_C(1) << 55, INSTAR_E_OVERFLOW, "capacity 2^55: *512 wraps to 0");
    WITH(12, 8, UINT64_C(1) << 54, INSTAR_E_OVERFLOW, "capacity 2^54: *512 above INT64_MAX");
    WITH(12, 8, UINT64_C(1) << 46, INSTAR_E_PARSE, "capacity 2^46: directory above 32 Mi entries");
    WITH(20, 8, 0, INSTAR_E_PARSE, "grain 0");
    WITH(20, 8, 3, INSTAR_E_PARSE, "grain 3");
    WITH(20, 8, UINT64_C(1) << 63, INSTAR_E_PARSE, "grain 2^63");
    WITH(20, 8, 0x400000, INSTAR_E_PARSE, "grain above qemu's 0x200000");
    WITH(44, 4, 0, INSTAR_E_PARSE, "0 GTEs per table");
    WITH(44, 4, 513, INSTAR_E_PARSE, "513 GTEs per table");
    WITH(44, 4, UINT32_MAX, INSTAR_E_PARSE, "2^32-1 GTEs per table");
    WITH(28, 8, UINT64_MAX, INSTAR_E_PARSE, "descriptor offset 2^64-1");
    WITH(28, 8, 0, INSTAR_E_PARSE, "descriptor offset 0 (the header)");
    WITH(36, 8, UINT64_MAX, INSTAR_E_PARSE, "descriptor size 2^64-1");
    WITH(36, 8, 0, INSTAR_E_PARSE, "descriptor size 0");
    WITH(56, 8, UINT64_MAX - 1, INSTAR_E_PARSE, "GD offset 2^64-2");
    WITH(56, 8, 0, INSTAR_E_PARSE, "GD offset 0 (the header)");
    WITH(56, 8, 10, INSTAR_E_PARSE, "GD inside the descriptor");
    WITH(48, 8, 150, INSTAR_E_PARSE, "RGD on top of the GD");
    WITH(48, 8, UINT64_C(1) << 60, INSTAR_E_PARSE, "RGD offset 2^60");
    WITH(64, 8, UINT64_MAX, INSTAR_E_PARSE, "overHead 2^64-1 (file truncated)");
    WITH(150 * 512 + 8, 4, 0, INSTAR_E_NEEDS_CHECK, "a GD entry of 0");
    WITH(21 * 512 + 124, 4, 0, INSTAR_E_NEEDS_CHECK, "the last RGD entry 0");
    WITH(150 * 512, 4, UINT32_MAX, INSTAR_E_PARSE, "a GD entry 2^32-1 (past EOF)");
    WITH(150 * 512, 4, 1, INSTAR_E_PARSE, "a GD entry pointing into the descriptor");
    WITH(150 * 512, 4, 150, INSTAR_E_PARSE, "a GD entry pointing at the GD itself");
    WITH(512 + 32, 1, 'X', INSTAR_E_PARSE, "no CID line");
    ok(why.reason != NULL && why.reason[0] != 0, "a refusal carries a reason (\"%s\")",
       why.reason ? why.reason : "");
    free(img);
    instar_mem_io_free(&m);

    /* Engine refusals leave the bytes as they were. */
    make_image(&m, G, NULL);
    poke(&m, 72, "\1", 1);
    img = snap(&m);
    int rc = resize_mem(&m, "2G", false, INSTAR_PREALLOC_OFF, &diag);
    uint8_t *after = snap(&m);
    ok(rc == INSTAR_E_NEEDS_CHECK && m.size == len && memcmp(after, img, len) == 0
       && diag.message[0],
       "engine: unclean image refused, bytes untouched (%s)", diag.message);
    free(img);
    free(after);
    instar_mem_io_free(&m);
}

/* Random hostile headers and directories: every answer is an error or an
 * invariant-clean plan, and the planner never asks beyond the file. */
static void test_random(void)
{
    struct instar_mem_io m;
    struct instar_resize_plan plan;
    struct instar_refusal why;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int plans = 0, errors = 0, broken = 0, grows = 0;
    static const uint64_t edge[] = { 0, 1, 2, 127, 128, 512, 513, 0x200000, UINT32_MAX,
                                     (uint64_t)UINT32_MAX + 1, (uint64_t)INT64_MAX,
                                     UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 55,
                                     UINT64_C(1) << 54 };
    make_image(&m, 100ull << 20, NULL);
    uint8_t *pristine = snap(&m);
    uint8_t *img = malloc(m.size);
    for (int it = 0; it < 20000; it++) {
        memcpy(img, pristine, m.size);
        int nflip = (int)(x % 4);
        for (int k = 0; k < nflip; k++) {
            test_xorshift(&x);
            static const int fields[] = { 4, 8, 12, 20, 28, 36, 44, 48, 56, 64, 72 };
            int fi = fields[x % 11];
            uint64_t v = (x >> 8) & 1 ? edge[(x >> 16) % 15] : x >> 20;
            if (fi == 4 || fi == 8 || fi == 44)
                put_le32(img + fi, (uint32_t)v);
            else if (fi == 72)
                img[72] = (uint8_t)v;
            else
                put_le64(img + fi, v);
            if ((x >> 30) % 4 == 0)     /* sometimes hit a directory entry */
                put_le32(img + 21 * 512 + 4 * ((x >> 40) % 4), (uint32_t)v);
        }
        test_xorshift(&x);
        uint64_t ns = (x >> 1) % 3 == 0 ? edge[x % 15]
                      : (x >> 1) % 3 == 1 ? ((x >> 24) % (UINT64_C(8) << 30)) : (x >> 24) << 9;
        int rc = plan_bytes(img, m.size, m.size, ns, x & 1, INSTAR_PREALLOC_OFF, &plan,
                            scratch, sizeof scratch, &why);
        if (rc == INSTAR_OK) {
            plans++;
            if (instar_plan_check(&plan, NULL) != 0 || plan.total_file_size < m.size)
                broken++;
            if (plan.action == INSTAR_ACTION_GROW && plan.total_file_size <= (16u << 20)) {
                /* Apply it: the result must be an image our reader accepts
                 * at its new capacity (every directory entry allocated). */
                struct instar_mem_io a;
                struct instar_diag diag;
                instar_mem_io_init(&a, UINT64_C(1) << 34);
                instar_mem_io_load(&a, img, (size_t)m.size);
                if (instar_plan_apply(&a.io, &plan, INSTAR_PREALLOC_OFF, SIZE_MAX, &diag) != 0)
                    broken++;
                uint8_t *d = snap(&a);
                check_align = false;
                if (audit(d, a.size, false, 0) != 0 || le64(d + 12) * 512 != plan.new_virtual_size)
                    broken++;
                check_align = true;
                grows++;
                free(d);
                instar_mem_io_free(&a);
            }
        } else if (rc < 0) {
            broken++;
        } else {
            errors++;
        }
    }
    ok(broken == 0, "20000 hostile variants: %d plans (%d grows applied and re-read), %d errors, "
       "%d broken", plans, grows, errors, broken);
    ok(grows > 100 && errors > 1000, "... both grows and refusals were exercised");
    free(img);
    free(pristine);
    instar_mem_io_free(&m);
}

/* Crash prefixes in memory: the image stays readable by our reader. */
static void test_crash_prefixes(uint64_t from, const char *to)
{
    struct instar_mem_io base, m;
    struct instar_image_plan p;
    struct instar_resize_args a;
    struct instar_diag diag;
    make_image(&base, from, NULL);
    uint8_t *b0 = snap(&base);
    memset(&a, 0, sizeof a);
    a.format = INSTAR_FORMAT_VMDK;
    instar_parse_size_spec(to, &a.size);
    int rc = instar_image_plan(&base.io, &a, &p, &diag);
    is_int(rc, INSTAR_OK, "crash %s: planned", to);
    int bad = 0;
    for (size_t k = 0; rc == INSTAR_OK && k <= p.plan.npatches; k++) {
        instar_mem_io_init(&m, UINT64_C(1) << 32);
        instar_mem_io_load(&m, b0, (size_t)base.size);
        instar_plan_apply(&m.io, &p.plan, INSTAR_PREALLOC_OFF, k, &diag);
        struct facts f;
        uint8_t *d = snap(&m);
        if (!read_facts(d, m.size, &f) || audit(d, m.size, false, 0) != 0)
            bad++;
        /* Before the header write the header is the old one, byte for byte. */
        if (k < p.plan.npatches && p.plan.patches[k].offset == 0 && memcmp(d, b0, 512))
            bad++;
        free(d);
        instar_mem_io_free(&m);
    }
    ok(bad == 0, "crash %s: all %zu prefixes leave a consistent image", to, p.plan.npatches + 1);
    /* The header write comes after every directory write, the descriptor last. */
    size_t hdr = SIZE_MAX;
    for (size_t i = 0; i < p.plan.npatches; i++)
        if (p.plan.patches[i].offset == 0)
            hdr = i;
    ok(hdr != SIZE_MAX && hdr + 2 == p.plan.npatches && p.plan.patches[hdr + 1].offset == 512,
       "crash %s: header commit is the next-to-last patch, the descriptor the last", to);
    /* Interrupted right before the descriptor write: the next grow works
     * and repairs the extent line. */
    instar_mem_io_init(&m, UINT64_C(1) << 32);
    instar_mem_io_load(&m, b0, (size_t)base.size);
    instar_plan_apply(&m.io, &p.plan, INSTAR_PREALLOC_OFF, p.plan.npatches - 1, &diag);
    int rc2 = resize_mem(&m, "6G", false, INSTAR_PREALLOC_OFF, &diag);
    uint8_t *d = snap(&m);
    char text[10240];
    desc_text(d, text, sizeof text);
    ok(rc2 == INSTAR_OK && strstr(text, "RW 12582912 SPARSE") && audit(d, m.size, false, 0) == 0,
       "crash %s before the descriptor: a later grow to 6G works and repairs it %s", to,
       diag.message);
    free(d);
    instar_mem_io_free(&m);
    instar_image_plan_free(&p);
    free(b0);
    instar_mem_io_free(&base);
}

/* A last grain with bytes past the old capacity (as another tool might
 * leave it): they must read as zero after the grow. */
static void test_tail_grain(void)
{
    struct instar_mem_io m;
    struct instar_diag diag;
    make_image(&m, 1000000, NULL);     /* 1954 sectors: 34 into grain 15 */
    uint64_t eof = m.size;             /* 65536: a grain-aligned place */
    uint8_t junk[65536];
    memset(junk, 0xAB, sizeof junk);
    instar_io_write(&m.io, junk, sizeof junk, eof);
    struct facts f;
    uint8_t *d = snap(&m);
    read_facts(d, m.size, &f);
    uint32_t gt = le32(d + f.gd * 512);
    uint32_t rgt = le32(d + f.rgd * 512);
    free(d);
    poke32(&m, gt * 512 + 15 * 4, (uint32_t)(eof / 512));
    poke32(&m, rgt * 512 + 15 * 4, (uint32_t)(eof / 512));
    poke32(&m, gt * 512 + 100 * 4, 12345);   /* stale entry past capacity */
    is_int(resize_mem(&m, "100M", false, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "unaligned 1000000 -> 100M with a dirty last grain %s", diag.message);
    int kept = 1, zero = 1;
    d = snap(&m);
    for (uint64_t i = 0; i < 34 * 512; i++)
        kept &= d[eof + i] == 0xAB;
    for (uint64_t i = 34 * 512; i < 65536; i++)
        zero &= d[eof + i] == 0;
    ok(kept, "bytes of the last grain inside the old capacity kept");
    ok(zero, "bytes of the last grain past the old capacity zeroed");
    is_u64(le32(d + gt * 512 + 100 * 4), 0, "stale table entry past the old capacity zeroed");
    free(d);
    instar_mem_io_free(&m);

    /* GTE 1 for the last grain: a zeroed grain with the flag (nothing to
     * zero), a grain at sector 1 -- the descriptor -- without it. */
    for (int flag = 0; flag < 2; flag++) {
        make_image(&m, 1000000, flag ? "zeroed" : NULL);
        d = snap(&m);
        read_facts(d, m.size, &f);
        gt = le32(d + f.gd * 512);
        rgt = le32(d + f.rgd * 512);
        free(d);
        poke32(&m, gt * 512 + 15 * 4, 1);
        poke32(&m, rgt * 512 + 15 * 4, 1);
        int rc = resize_mem(&m, "100M", false, INSTAR_PREALLOC_OFF, &diag);
        if (flag)
            is_int(rc, INSTAR_OK, "zeroed_grain image, last grain GTE 1: grows %s", diag.message);
        else
            is_int(rc, INSTAR_E_PARSE, "no zeroed-grain flag, last grain GTE 1 (the descriptor): %s",
                   diag.message);
        instar_mem_io_free(&m);
    }
}

/* A 1 GiB image whose descriptor sectors hold TEXT. */
static void with_descriptor(struct instar_mem_io *m, const char *text)
{
    static const uint8_t blank[20 * 512];
    make_image(m, 1ull << 30, NULL);
    poke(m, 512, blank, sizeof blank);
    poke(m, 512, text, strlen(text));
}

/* A grow to SPEC is refused with WANT and leaves every byte as it was. */
static void refused_untouched(struct instar_mem_io *m, const char *spec, int want,
                              const char *what)
{
    struct instar_diag diag;
    uint8_t *before = snap(m), *after;
    uint64_t len = m->size;
    is_int(resize_mem(m, spec, false, INSTAR_PREALLOC_OFF, &diag), want, "%s refused (%s)",
           what, diag.message);
    after = snap(m);
    ok(m->size == len && memcmp(before, after, len) == 0, "... and nothing was written");
    free(after);
    free(before);
}

/* Descriptors written by other tools: CRLF, extra DDB keys, no cylinders. */
static void test_descriptor(void)
{
    struct instar_mem_io m;
    struct instar_diag diag;
    static const char vmware[] =
        "# Disk DescriptorFile\r\nversion=1\r\nencoding=\"UTF-8\"\r\nCID=fffffffe\r\n"
        "parentCID=ffffffff\r\ncreateType=\"monolithicSparse\"\r\n\r\n"
        "# Extent description\r\nRW 2097152 SPARSE \"disk.vmdk\"\r\n\r\n"
        "# The Disk Data Base\r\n#DDB\r\n\r\nddb.adapterType = \"lsilogic\"\r\n"
        "ddb.geometry.cylinders = \"130\"\r\nddb.geometry.heads = \"255\"\r\n"
        "ddb.geometry.sectors = \"63\"\r\nddb.longContentID = \"0123456789abcdef\"\r\n"
        "ddb.uuid = \"60 00 C2 9a\"\r\nddb.virtualHWVersion = \"19\"\r\n";
    static const char want[] =
        "# Disk DescriptorFile\r\nversion=1\r\nencoding=\"UTF-8\"\r\nCID=";
    static const char want_tail[] =
        "\r\nparentCID=ffffffff\r\ncreateType=\"monolithicSparse\"\r\n\r\n"
        "# Extent description\r\nRW 8388608 SPARSE \"disk.vmdk\"\r\n\r\n"
        "# The Disk Data Base\r\n#DDB\r\n\r\nddb.adapterType = \"lsilogic\"\r\n"
        "ddb.geometry.cylinders = \"522\"\r\nddb.geometry.heads = \"255\"\r\n"
        "ddb.geometry.sectors = \"63\"\r\nddb.longContentID = \"0123456789abcdef\"\r\n"
        "ddb.uuid = \"60 00 C2 9a\"\r\nddb.virtualHWVersion = \"19\"\r\n";
    char text[10240];

    make_image(&m, 1ull << 30, NULL);
    static const uint8_t blank[20 * 512];
    poke(&m, 512, blank, sizeof blank);
    poke(&m, 512, vmware, sizeof vmware - 1);
    is_int(resize_mem(&m, "4G", false, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "VMware-style CRLF descriptor: grow ok %s", diag.message);
    uint8_t *d = snap(&m);
    desc_text(d, text, sizeof text);
    free(d);
    char *cid_end = strstr(text + sizeof want - 1, "\r\n");
    ok(strncmp(text, want, sizeof want - 1) == 0 && cid_end && strcmp(cid_end, want_tail) == 0
       && strncmp(text + sizeof want - 1, "fffffffe", 8) != 0,
       "every line kept byte for byte but CID, RW count and cylinders (522)");
    instar_mem_io_free(&m);

    /* A key that only starts like a geometry key is another key: the
     * cylinders follow ddb.geometry.heads (16), not "headsrs" (63). */
    static const char lookalike[] =
        "CID=1\ncreateType=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n"
        "ddb.adapterType = \"ide\"\nddb.geometry.cylinders = \"2080\"\n"
        "ddb.geometry.heads = \"16\"\nddb.geometry.headsrs = \"63\"\n"
        "ddb.geometry.sectorsX = \"7\"\n";
    with_descriptor(&m, lookalike);
    is_int(resize_mem(&m, "2G", false, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "look-alike geometry keys: grow ok %s", diag.message);
    d = snap(&m);
    desc_text(d, text, sizeof text);
    free(d);
    ok(strstr(text, "ddb.geometry.cylinders = \"4161\"\n") != NULL,
       "look-alike keys ignored: 2 GiB over 16 heads, 63 sectors is 4161 cylinders");
    instar_mem_io_free(&m);

    /* Descriptor lines the planner cannot take at face value: refused,
     * nothing written.  A repeated geometry line is ambiguous.  The
     * adapter type picks the default heads when no heads line exists: an
     * unquoted (unreadable) or repeated adapterType line is refused, not
     * taken for ide (fuzz finding crash-4465355e: cylinders for 16 heads
     * written under an adapter line a reader could take for another
     * adapter's 255). */
#define DESC_HEAD "CID=1\ncreateType=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n" \
    "ddb.geometry.cylinders = \"2080\"\n"
    static const struct {
        const char *text, *what;
    } refused_desc[] = {
        {DESC_HEAD "ddb.geometry.heads = \"16\"\nddb.geometry.heads = \"63\"\n",
         "repeated ddb.geometry.heads"},
        {DESC_HEAD "ddb.adapterType = lsilogic\n", "unquoted ddb.adapterType"},
        {DESC_HEAD "ddb.adapterType = \"ide\"\nddb.adapterType = \"lsilogic\"\n",
         "repeated ddb.adapterType"},
    };
#undef DESC_HEAD
    for (size_t i = 0; i < sizeof refused_desc / sizeof refused_desc[0]; i++) {
        with_descriptor(&m, refused_desc[i].text);
        refused_untouched(&m, "2G", INSTAR_E_PARSE, refused_desc[i].what);
        instar_mem_io_free(&m);
    }

    /* A descriptor that fills its sector: the longer count cannot fit. */
    make_image(&m, 1ull << 30, NULL);
    poke(&m, 512, blank, sizeof blank);
    static const char small[] = "CID=1\ncreateType=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n";
    uint8_t hashes[512], one[8];
    memset(hashes, '#', sizeof hashes);
    memcpy(hashes, small, sizeof small - 1);
    poke(&m, 512, hashes, sizeof hashes);
    put_le64(one, 1);
    poke(&m, 36, one, 8);                     /* descriptorSize: 1 sector */
    refused_untouched(&m, "1T", INSTAR_E_TOO_LARGE,
                      "descriptor that cannot take a longer count");
    instar_mem_io_free(&m);
}

/* A resize to the same size vouches for the image as much as a grow
 * does: it used to answer "no-op" before reading the descriptor and the
 * grain tables, so an image the engine refuses to grow was "resized", and
 * the fuzzer found the engine refusing to grow its own result.  Each
 * start below is refused for the same size, for a grow, and untouched. */
static void test_same_size_vouches(void)
{
    struct instar_mem_io m;
    static const struct {
        const char *text, *what;
        int want;
    } bad[] = {
        { "CID=1\ncreateType=\"monolifhicSparse\"\nRW 2097152 SPARSE \"x\"\n",
          "createType other than monolithicSparse", INSTAR_E_UNSUPPORTED_SUBFORMAT },
        { "CID=1\n# Extent d=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n",
          "no createType line", INSTAR_E_UNSUPPORTED_SUBFORMAT },
        { "version=1\vCID=1\ncreateType=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n",
          "no CID line (it hides behind a vertical tab)", INSTAR_E_PARSE },
        { "CID=1\ncreateType=\"monolithicSparsRW 12297 SPARSE\nRW 2097152 SPARSE \"x\"\n",
          "createType line without its closing quote", INSTAR_E_PARSE },
        { "CID=1\ncreateType=\"monolithicSparse\"\nparentFileNameHinton\n"
          "RW 2097152 SPARSE \"x\"\n", "a parentFileNameHint line", INSTAR_E_UNSUPPORTED_SUBFORMAT },
        { "CID=1\ncreateType=\"monolithicSparse\"\nRW 2097152 SPARSE \"x\"\n"
          "RW 2097152 SPARSE \"y\"\n", "two extent lines", INSTAR_E_UNSUPPORTED_SUBFORMAT },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        with_descriptor(&m, bad[i].text);
        refused_untouched(&m, "1G", bad[i].want, bad[i].what);
        refused_untouched(&m, "+4096", bad[i].want, bad[i].what);
        instar_mem_io_free(&m);
    }
    /* A directory entry of 0: qemu would write guest data over the header. */
    make_image(&m, 1ull << 30, NULL);
    uint8_t *d = snap(&m);
    uint64_t gd = le64(d + 56);
    free(d);
    poke32(&m, gd * 512, 0);
    refused_untouched(&m, "1G", INSTAR_E_NEEDS_CHECK, "grain-directory entry 0 is 0");
    instar_mem_io_free(&m);
    /* A sound image still plans the same size as a no-op. */
    struct instar_diag diag;
    make_image(&m, 1ull << 30, NULL);
    uint8_t *before = snap(&m);
    is_int(resize_mem(&m, "1G", false, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "sound image, same size: ok %s", diag.message);
    uint8_t *after = snap(&m);
    ok(memcmp(before, after, (size_t)m.size) == 0, "... and nothing was written");
    free(before);
    free(after);
    instar_mem_io_free(&m);
}

/* A shrink must leave an image a grow accepts: its new last grain is the
 * one a later grow zeroes the tail of.  A grain-table entry pointing into
 * the descriptor was never looked at by a shrink, so the engine shrank
 * such an image and then refused to grow its own result. */
static void test_shrink_stays_growable(void)
{
    struct instar_mem_io m;
    struct instar_diag diag;
    const uint64_t K64 = 65536, cut = 3 * K64 + 512;   /* grain 3 becomes the last, partial */

    make_image(&m, 1 << 20, NULL);
    uint8_t *d = snap(&m);
    uint64_t gt = le32(d + le64(d + 56) * 512);
    free(d);
    poke32(&m, gt * 512 + 4 * 3, 2);                    /* grain 3 at sector 2: the descriptor */
    uint8_t *before = snap(&m);
    uint64_t len = m.size;
    char spec[32];
    snprintf(spec, sizeof spec, "%llu", (unsigned long long)cut);
    is_int(resize_mem(&m, spec, true, INSTAR_PREALLOC_OFF, &diag), INSTAR_E_PARSE,
           "shrink whose new last grain lies in the descriptor refused (%s)", diag.message);
    uint8_t *after = snap(&m);
    ok(m.size == len && memcmp(before, after, (size_t)len) == 0, "... and nothing was written");
    free(before);
    free(after);
    instar_mem_io_free(&m);

    /* A sound image shrinks to the same partial grain, and grows again. */
    make_image(&m, 1 << 20, NULL);
    is_int(resize_mem(&m, spec, true, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "sound image: shrink to a partial last grain ok %s", diag.message);
    is_int(resize_mem(&m, "+4096", false, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "... and its result grows by 4096 %s", diag.message);
    instar_mem_io_free(&m);
}

int main(void)
{
    const uint64_t M = 1 << 20, G = UINT64_C(1) << 30;
    test_create();
    test_grow("1M", M, "2M", 2 * M, false);
    test_grow("1G", G, "2G", 2 * G, false);
    test_grow("1G", G, "+1", G + 512, false);
    test_grow("1G", G, "5G", 5 * G, true);
    test_grow("100M", 100 * M, "4294967297", 4294967808ull, true);
    test_grow("1000000", 1000000, "33M", 33 * M, false);
    test_refusals();
    test_random();
    test_crash_prefixes(1000000, "100M");
    test_crash_prefixes(G, "5G");
    test_tail_grain();
    test_descriptor();
    test_same_size_vouches();
    test_shrink_stays_growable();
    return tap_done();
}
