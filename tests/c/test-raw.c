/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-raw.c -- the raw planner and the raw engine path (in memory), with
 * qemu-img 7.2's answers for every edge case as the expectation. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "tap.h"
#include "testutil.h"

static int plan_raw(uint64_t cur, uint64_t new_size, int shrink,
                    enum instar_prealloc pa, struct instar_resize_plan *plan)
{
    struct instar_raw_resize_opts o;
    memset(&o, 0, sizeof o);
    o.current_file_size = cur;
    o.req.new_size = new_size;
    o.req.allow_shrink = shrink;
    o.req.prealloc = pa;
    return instar_plan_resize_raw(&o, NULL, 0, plan);
}

static void test_planner(void)
{
    struct instar_resize_plan plan;
    int rc;

    rc = plan_raw(1 << 20, 2 << 20, 0, INSTAR_PREALLOC_OFF, &plan);
    ok(rc == INSTAR_OK && plan.action == INSTAR_ACTION_GROW && plan.total_file_size == 2 << 20
       && plan.npatches == 0 && plan.prealloc_length == 0, "grow 1M -> 2M: length only");

    rc = plan_raw(1 << 20, (1 << 20) + 1, 0, INSTAR_PREALLOC_FALLOC, &plan);
    ok(rc == INSTAR_OK && plan.total_file_size == (1 << 20) + 1 && plan.prealloc_offset == 1 << 20
       && plan.prealloc_length == 1, "grow by one byte with falloc: exact length, 1-byte prealloc range");

    rc = plan_raw(1 << 20, 513, 1, INSTAR_PREALLOC_OFF, &plan);
    ok(rc == INSTAR_OK && plan.action == INSTAR_ACTION_SHRINK && plan.total_file_size == 513,
       "shrink to 513 with the flag: exact byte count (no rounding)");

    is_int(plan_raw(1 << 20, 513, 0, INSTAR_PREALLOC_OFF, &plan), INSTAR_E_SHRINK_NEEDS_FLAG,
           "shrink without the flag is refused");
    is_int(plan_raw(1 << 20, 513, 1, INSTAR_PREALLOC_FALLOC, &plan), INSTAR_E_PREALLOC_NOT_GROW,
           "falloc with shrink is refused");
    is_int(plan_raw(1 << 20, 513, 1, INSTAR_PREALLOC_FULL, &plan), INSTAR_E_PREALLOC_NOT_GROW,
           "full with shrink is refused");
    is_int(plan_raw(1 << 20, 513, 0, INSTAR_PREALLOC_FULL, &plan), INSTAR_E_PREALLOC_NOT_GROW,
           "prealloc is checked before the shrink flag (qemu's order)");
    is_int(plan_raw(1 << 20, 1 << 20, 0, INSTAR_PREALLOC_FALLOC, &plan), INSTAR_E_PREALLOC_NOT_GROW,
           "prealloc with the same size is refused");
    is_int(plan_raw(1 << 20, 2 << 20, 0, INSTAR_PREALLOC_METADATA, &plan), INSTAR_E_UNSUPPORTED_PREALLOC,
           "metadata preallocation is unsupported on raw");
    is_int(plan_raw(1 << 20, 512, 1, INSTAR_PREALLOC_METADATA, &plan), INSTAR_E_PREALLOC_NOT_GROW,
           "metadata on a shrink fails the generic check first");
    is_int(plan_raw(1 << 20, 0, 1, INSTAR_PREALLOC_OFF, &plan), INSTAR_E_SIZE_NOT_POSITIVE,
           "size 0 is refused");
    is_int(plan_raw(0, 0, 1, INSTAR_PREALLOC_OFF, &plan), INSTAR_E_SIZE_NOT_POSITIVE,
           "size 0 on an empty file is refused");
    is_int(plan_raw(1, (uint64_t)INT64_MAX + 1, 0, INSTAR_PREALLOC_OFF, &plan), INSTAR_E_SIZE_NOT_POSITIVE,
           "2^63 is not positive as int64");
    is_int(plan_raw(1, 0x7fffffffc0000001ull, 0, INSTAR_PREALLOC_OFF, &plan), INSTAR_E_TOO_LARGE,
           "beyond BDRV_MAX_LENGTH is too large");

    rc = plan_raw(1 << 20, 1 << 20, 0, INSTAR_PREALLOC_OFF, &plan);
    ok(rc == INSTAR_OK && plan.action == INSTAR_ACTION_NOOP && plan.npatches == 0
       && plan.total_file_size == 1 << 20, "same size is a no-op");

    /* qemu writes the first block of an empty file: 512 bytes below 4 KiB. */
    rc = plan_raw(0, 100, 0, INSTAR_PREALLOC_OFF, &plan);
    ok(rc == INSTAR_OK && plan.total_file_size == 512 && plan.npatches == 1
       && plan.patches[0].kind == INSTAR_PATCH_ZERO_FILL && plan.patches[0].length == 512,
       "0 -> 100: first 512 bytes written, file becomes 512 bytes (as qemu)");
    rc = plan_raw(0, 5000, 0, INSTAR_PREALLOC_FALLOC, &plan);
    ok(rc == INSTAR_OK && plan.total_file_size == 5000 && plan.npatches == 1
       && plan.patches[0].length == 4096, "0 -> 5000 falloc: first 4096 bytes written");
    rc = plan_raw(0, 100, 0, INSTAR_PREALLOC_FULL, &plan);
    ok(rc == INSTAR_OK && plan.total_file_size == 100 && plan.npatches == 0,
       "0 -> 100 full: no first-block write, exact length");
    ok(instar_plan_check(&plan, NULL) == 0, "raw plans satisfy the invariants");
}

static uint64_t mem_size(struct instar_mem_io *m)
{
    uint64_t s = 0;
    instar_io_size(&m->io, &s);
    return s;
}

static int engine_resize(struct instar_mem_io *m, const char *spec, int shrink,
                         enum instar_prealloc pa, struct instar_diag *diag)
{
    return test_resize_mem(m, INSTAR_FORMAT_RAW, spec, shrink, pa, diag);
}

static void test_engine(void)
{
    struct instar_mem_io m;
    struct instar_diag diag;
    uint8_t buf[512];
    uint8_t pattern[512];

    memset(pattern, 0xab, sizeof pattern);
    instar_mem_io_init(&m, 64u << 20);
    instar_mem_io_load(&m, pattern, sizeof pattern);

    is_int(engine_resize(&m, "+1K", 0, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK, "engine grows +1K");
    is_u64(mem_size(&m), 512 + 1024, "file is 1536 bytes");
    instar_io_read(&m.io, buf, sizeof buf, 0);
    ok(memcmp(buf, pattern, sizeof buf) == 0, "old bytes preserved after grow");

    is_int(engine_resize(&m, "-1K", 0, INSTAR_PREALLOC_OFF, &diag), INSTAR_E_SHRINK_NEEDS_FLAG,
           "engine refuses shrink without flag");
    is_u64(mem_size(&m), 1536, "refused shrink leaves the size alone");
    ok(strstr(diag.message, "--shrink") != NULL, "message mentions --shrink");

    is_int(engine_resize(&m, "256", 1, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK, "engine shrinks to 256");
    is_int(engine_resize(&m, "+0", 0, INSTAR_PREALLOC_OFF, &diag), INSTAR_OK,
           "+0 on a 256-byte file succeeds");
    is_u64(mem_size(&m), 512, "and pads it to the whole sector qemu counts");
    instar_io_read(&m.io, buf, sizeof buf, 0);
    ok(memcmp(buf, pattern, 256) == 0 && buf[256] == 0 && buf[511] == 0,
       "the cut tail reads as zeros after regrow");

    is_int(engine_resize(&m, "-512", 1, INSTAR_PREALLOC_OFF, &diag), INSTAR_E_SIZE_NOT_POSITIVE,
           "resize to 0 refused");
    ok(strcmp(diag.message, "New image size must be positive") == 0, "with qemu's message");

    is_int(engine_resize(&m, "128M", 0, INSTAR_PREALLOC_FULL, &diag), INSTAR_E_IO,
           "full preallocation past the store's limit fails");
    ok(strstr(diag.message, "Could not write zeros for preallocation") != NULL,
       "with qemu's message: %s", diag.message);
    is_u64(mem_size(&m), 512, "and the old length is restored (nothing lost)");

    is_int(engine_resize(&m, "9223372036854775807", 0, INSTAR_PREALLOC_OFF, &diag),
           INSTAR_E_TOO_LARGE, "INT64_MAX exceeds the block-layer maximum");
    ok(strstr(diag.message, "exceeds maximum(9223372035781033984)") != NULL,
       "with qemu's message: %s", diag.message);
    instar_mem_io_free(&m);
}

static void test_probe(void)
{
    struct instar_mem_io m;
    enum instar_format f;
    uint8_t img[2048];

    instar_mem_io_init(&m, 1 << 20);
    memset(img, 0, sizeof img);
    instar_mem_io_load(&m, img, sizeof img);
    ok(instar_probe(&m.io, &f) == INSTAR_OK && f == INSTAR_FORMAT_RAW, "zeros probe as raw");

    memcpy(img, "QFI\xfb", 4);
    instar_mem_io_load(&m, img, sizeof img);
    ok(instar_probe(&m.io, &f) == INSTAR_OK && f == INSTAR_FORMAT_QCOW2, "QFI\\xfb probes as qcow2");

    memset(img, 0, sizeof img);
    memcpy(img + sizeof img - 512, "conectix", 8);
    instar_mem_io_load(&m, img, sizeof img);
    ok(instar_probe(&m.io, &f) == INSTAR_OK && f == INSTAR_FORMAT_VPC,
       "a footer at the end probes as vpc (fixed VHD)");

    instar_mem_io_load(&m, "KDMV", 4);
    ok(instar_probe(&m.io, &f) == INSTAR_OK && f == INSTAR_FORMAT_VMDK, "KDMV probes as vmdk");

    instar_mem_io_load(&m, "", 0);
    ok(instar_probe(&m.io, &f) == INSTAR_OK && f == INSTAR_FORMAT_RAW, "an empty file probes as raw");
    instar_mem_io_free(&m);
}

static void test_errors(void)
{
    int distinct = 1;
    for (int i = 0; i < INSTAR_E__COUNT; i++) {
        ok(instar_strerror(i)[0] != '\0' && strcmp(instar_error_name(i), "unknown-error") != 0,
           "error %d has a message and a name (%s)", i, instar_error_name(i));
        for (int j = 0; j < i; j++)
            if (strcmp(instar_error_name(i), instar_error_name(j)) == 0)
                distinct = 0;
    }
    ok(distinct, "error names are distinct");
    ok(strcmp(instar_error_name(-1), "unknown-error") == 0
       && strcmp(instar_strerror(INSTAR_E__COUNT), "unknown error") == 0,
       "foreign codes are answered, not indexed out of bounds");
}

int main(void)
{
    test_planner();
    test_engine();
    test_probe();
    test_errors();
    return tap_done();
}
