/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-refusals.c -- every format's planner says why it refused, and the
 * engine's message carries the reason: the field and, where there is one,
 * the table index (core/resize/refuse.h, instar_engine_refusal). */
#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/io.h"
#include "resize/qcow2-format.h"
#include "resize/vhd-format.h"
#include "resize/vmdk-format.h"
#include "tap.h"
#include "testutil.h"
#include "util/endian.h"

#define MEM_LIMIT (256ull << 20)

static void make(struct instar_mem_io *m, enum instar_format fmt, uint64_t size,
                 const char *subformat)
{
    struct instar_create_opts o;
    struct instar_diag d;
    test_create_start(m, MEM_LIMIT, &o, fmt, size);
    o.size_set = true;
    if (subformat) {
        strcpy(o.subformat, subformat);
        o.subformat_set = true;
    }
    instar_diag_clear(&d);
    int rc = instar_image_create(&m->io, &o, &d);
    if (rc != INSTAR_OK)
        printf("# create %s failed: %s\n", instar_format_name(fmt), d.message);
}

static void put(struct instar_mem_io *m, uint64_t off, const void *bytes, size_t n)
{
    instar_io_write(&m->io, bytes, n, off);
}

static void put_be32(struct instar_mem_io *m, uint64_t off, uint32_t v)
{
    uint8_t b[4];
    instar_put_be32(b, v);
    put(m, off, b, 4);
}

static void put_be64(struct instar_mem_io *m, uint64_t off, uint64_t v)
{
    uint8_t b[8];
    instar_put_be64(b, v);
    put(m, off, b, 8);
}

static uint64_t get(struct instar_mem_io *m, uint64_t off, int width, bool big)
{
    uint8_t b[8] = {0};
    instar_io_read(&m->io, b, (size_t)width, off);
    if (width == 4)
        return big ? instar_be32(b) : instar_le32(b);
    return big ? instar_be64(b) : instar_le64(b);
}

/* Plan a grow of FMT to SIZE (PREALLOC); expect CODE and a message that
 * contains WANT.  The image must be byte-identical afterwards. */
static void refused(struct instar_mem_io *m, enum instar_format fmt, const char *size,
                    enum instar_prealloc prealloc, int code, const char *want, const char *what)
{
    struct instar_resize_args a;
    struct instar_image_plan p;
    struct instar_diag d;
    memset(&a, 0, sizeof a);
    a.format = fmt;
    a.prealloc = prealloc;
    instar_parse_size_spec(size, &a.size);
    instar_diag_clear(&d);
    int rc = instar_image_plan(&m->io, &a, &p, &d);
    instar_image_plan_free(&p);
    ok(rc == code && strstr(d.message, want) != NULL, "%s: %s (rc %s, \"%s\")", what, want,
       instar_error_name(rc), d.message);
}

static void test_qcow2(void)
{
    struct instar_mem_io m;

    make(&m, INSTAR_FORMAT_QCOW2, 1u << 20, NULL);
    uint64_t l1 = get(&m, QCOW2_HDR_L1_OFFSET, 8, true);
    put_be64(&m, QCOW2_HDR_L1_OFFSET, l1 + 8);
    refused(&m, INSTAR_FORMAT_QCOW2, "+1M", INSTAR_PREALLOC_OFF, INSTAR_E_PARSE,
            "invalid qcow2 metadata: l1_table_offset is not cluster-aligned",
            "qcow2 unaligned L1 table");
    instar_mem_io_free(&m);

    make(&m, INSTAR_FORMAT_QCOW2, 1u << 20, NULL);
    put_be64(&m, QCOW2_HDR_INCOMPAT, QCOW2_INCOMPAT_DIRTY);
    refused(&m, INSTAR_FORMAT_QCOW2, "+1M", INSTAR_PREALLOC_OFF, INSTAR_E_NEEDS_CHECK,
            "Image is dirty; run 'qemu-img check -r all' before resizing it: "
            "incompatible_features: the dirty bit is set", "qcow2 dirty bit");
    instar_mem_io_free(&m);

    /* qemu-img writes the feature name table as extension 0. */
    make(&m, INSTAR_FORMAT_QCOW2, 1u << 20, NULL);
    put_be32(&m, QCOW2_V3_HEADER_LENGTH, QCOW2_EXT_DATA_FILE);
    refused(&m, INSTAR_FORMAT_QCOW2, "+1M", INSTAR_PREALLOC_OFF, INSTAR_E_UNSUPPORTED_SUBFORMAT,
            "header extension 0 names an external data file", "qcow2 data-file extension");
    instar_mem_io_free(&m);

    /* qemu's own words stand alone. */
    make(&m, INSTAR_FORMAT_QCOW2, 1u << 20, NULL);
    refused(&m, INSTAR_FORMAT_QCOW2, "1048577", INSTAR_PREALLOC_OFF,
            INSTAR_E_NOT_SECTOR_MULTIPLE, "The new size must be a multiple of 512",
            "qcow2 odd size: qemu's message");
    instar_mem_io_free(&m);
}

static void test_vhd(void)
{
    struct instar_mem_io m;
    make(&m, INSTAR_FORMAT_VPC, 8u << 20, "dynamic");
    /* Dynamic header at 512, its table offset says where the BAT is. */
    uint64_t bat = get(&m, VHD_FOOTER_SIZE + VHD_D_TABLE_OFFSET, 8, true);
    put_be32(&m, bat + 4 * 3, 1);       /* block 3 at sector 1: inside the metadata */
    refused(&m, INSTAR_FORMAT_VPC, "+8M", INSTAR_PREALLOC_OFF, INSTAR_E_PARSE,
            "BAT entry 3 points outside the file or into metadata", "vhd BAT entry");
    instar_mem_io_free(&m);

    make(&m, INSTAR_FORMAT_VPC, 8u << 20, "dynamic");
    refused(&m, INSTAR_FORMAT_VPC, "+8M", INSTAR_PREALLOC_FALLOC, INSTAR_E_UNSUPPORTED_PREALLOC,
            "a dynamic disk takes preallocation=off only", "vhd preallocation");
    instar_mem_io_free(&m);
}

static void test_vhdx(void)
{
    struct instar_mem_io m;
    make(&m, INSTAR_FORMAT_VHDX, 8u << 20, "dynamic");
    /* Region table 1's BAT entry: the BAT's offset at +16 of entry 0. */
    uint64_t bat = get(&m, (192u << 10) + 16 + 16, 8, false);
    uint8_t e[8];
    instar_put_le64(e, (UINT64_C(4096) << 20) | 6);     /* FULLY_PRESENT at 4 GiB */
    put(&m, bat, e, 8);                 /* the one block a grow keeps */
    refused(&m, INSTAR_FORMAT_VHDX, "+8M", INSTAR_PREALLOC_OFF, INSTAR_E_PARSE,
            "BAT entry 0 points past the end of the file", "vhdx BAT entry");
    instar_mem_io_free(&m);
}

static void test_vmdk(void)
{
    struct instar_mem_io m;
    make(&m, INSTAR_FORMAT_VMDK, 100u << 20, NULL);
    uint64_t gd = get(&m, VMDK_H_GD_OFFSET, 8, false) * 512;
    uint8_t z[4] = {0};
    put(&m, gd + 4 * 2, z, 4);
    refused(&m, INSTAR_FORMAT_VMDK, "+8M", INSTAR_PREALLOC_OFF, INSTAR_E_NEEDS_CHECK,
            "grain-directory entry 2 is 0", "vmdk GD entry");
    instar_mem_io_free(&m);

    make(&m, INSTAR_FORMAT_VMDK, 100u << 20, NULL);
    refused(&m, INSTAR_FORMAT_VMDK, "+8M", INSTAR_PREALLOC_FALLOC, INSTAR_E_UNSUPPORTED_PREALLOC,
            "Unsupported preallocation mode 'falloc' for vmdk: VMDK grow supports "
            "preallocation=off only", "vmdk preallocation");
    instar_mem_io_free(&m);
}

static void test_raw(void)
{
    struct instar_mem_io m;
    make(&m, INSTAR_FORMAT_RAW, 4096, NULL);
    refused(&m, INSTAR_FORMAT_RAW, "+1M", INSTAR_PREALLOC_METADATA, INSTAR_E_UNSUPPORTED_PREALLOC,
            "raw images have no metadata to preallocate", "raw metadata preallocation");
    /* The request checks are qemu's words alone. */
    refused(&m, INSTAR_FORMAT_RAW, "0", INSTAR_PREALLOC_OFF, INSTAR_E_SIZE_NOT_POSITIVE,
            "New image size must be positive", "raw size 0: qemu's message");
    instar_mem_io_free(&m);
}

static void test_format(void)
{
    struct instar_refusal r = {"points past the end of the file", "L1 entry", 17};
    char buf[64];
    ok(strcmp(instar_refusal_format(&r, buf, sizeof buf),
              "L1 entry 17 points past the end of the file") == 0, "indexed: %s", buf);
    r.table = NULL;
    ok(strcmp(instar_refusal_format(&r, buf, sizeof buf), "points past the end of the file") == 0,
       "no index: %s", buf);
    r.reason = NULL;
    ok(instar_refusal_format(&r, buf, sizeof buf)[0] == '\0', "no reason: empty");
    ok(instar_refusal_format(NULL, buf, sizeof buf)[0] == '\0', "NULL: empty");
}

int main(void)
{
    test_format();
    test_qcow2();
    test_vhd();
    test_vhdx();
    test_vmdk();
    test_raw();
    return tap_done();
}
