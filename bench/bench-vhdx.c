/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-vhdx.c -- VHDX planner throughput per path: grow in place
 * (dynamic), grow with BAT relocation, fixed growth, shrink, and a
 * refusal. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "resize/vhdx-format.h"

struct vhdx_case {
    struct instar_vhdx_resize_opts o;
    struct instar_resize_plan plan;
    uint8_t *scratch;
    size_t scratch_len;
    uint8_t h1[VHDX_HEADER_SIZE], h2[VHDX_HEADER_SIZE];
    uint8_t r1[VHDX_REGION_SIZE], r2[VHDX_REGION_SIZE];
    uint8_t *meta, *bat;
    int rc;
};

static volatile int sink;

/* Create an image in memory and stage it as the engine would. */
static int setup(struct vhdx_case *c, const char *subformat, uint64_t size, uint32_t bs,
                 uint64_t new_size)
{
    struct instar_mem_io m;
    struct instar_create_opts co;
    struct instar_vhdx_regions rt;
    struct instar_vhdx_meta md;
    memset(c, 0, sizeof *c);
    instar_mem_io_init(&m, 1ull << 30);
    instar_create_opts_init(&co, INSTAR_FORMAT_VHDX);
    co.size = size;
    co.block_size = bs;
    strcpy(co.subformat, subformat);
    if (instar_image_create(&m.io, &co, NULL) != 0)
        return -1;
    instar_io_read(&m.io, c->h1, sizeof c->h1, VHDX_HEADER1_OFFSET);
    instar_io_read(&m.io, c->h2, sizeof c->h2, VHDX_HEADER2_OFFSET);
    instar_io_read(&m.io, c->r1, sizeof c->r1, VHDX_REGION1_OFFSET);
    instar_io_read(&m.io, c->r2, sizeof c->r2, VHDX_REGION2_OFFSET);
    c->o.region1 = (struct instar_slice){c->r1, sizeof c->r1};
    instar_vhdx_parse_regions(c->o.region1, &rt, NULL);
    c->meta = malloc(VHDX_MIB);
    instar_io_read(&m.io, c->meta, VHDX_MIB, rt.meta_offset);
    c->o.metadata = (struct instar_slice){c->meta, VHDX_MIB};
    instar_vhdx_parse_metadata(c->o.metadata, rt.meta_length, &md, NULL);
    uint64_t n = instar_vhdx_bat_entries(size, md.block_size, 512);
    c->bat = malloc(n * 8 + 8);
    instar_io_read(&m.io, c->bat, n * 8, rt.bat_offset);
    c->o.bat = (struct instar_slice){c->bat, n * 8};
    c->o.header1 = (struct instar_slice){c->h1, sizeof c->h1};
    c->o.header2 = (struct instar_slice){c->h2, sizeof c->h2};
    c->o.region2 = (struct instar_slice){c->r2, sizeof c->r2};
    c->o.req.new_size = new_size;
    c->o.current_file_size = m.size;
    c->o.virtual_size = size;
    c->o.block_size = md.block_size;
    c->o.logical_sector_size = 512;
    c->o.leave_blocks_allocated = md.param_bits & 1;
    c->o.metadata_offset = rt.meta_offset;
    c->o.bat_offset = rt.bat_offset;
    c->o.bat_region_length = rt.bat_length;
    c->scratch_len = instar_vhdx_bat_entries(new_size, md.block_size, 512) * 8 + (1 << 18);
    c->scratch = malloc(c->scratch_len);
    instar_mem_io_free(&m);
    return 0;
}

static void run(void *arg)
{
    struct vhdx_case *c = arg;
    c->rc = instar_plan_resize_vhdx(&c->o, c->scratch, c->scratch_len, &c->plan);
    sink += c->rc;
}

static void one(const char *name, const char *subformat, uint64_t size, uint32_t bs,
                uint64_t new_size, bool shrink)
{
    struct vhdx_case *c = malloc(sizeof *c);
    if (c == NULL || setup(c, subformat, size, bs, new_size) != 0) {
        free(c);
        return;
    }
    c->o.req.allow_shrink = shrink;
    double rate = bench_rate(run, c, 0.3);
    bench_report(name, "plans/s", rate, c->rc == 0 ? "\"result\": \"plan\"" : "\"result\": \"refused\"");
    free(c->scratch);
    free(c->meta);
    free(c->bat);
    free(c);
}

void bench_vhdx(void)
{
    one("plan-vhdx-grow-dynamic-in-place", "dynamic", 1ull << 30, 0, 2ull << 30, false);
    one("plan-vhdx-grow-dynamic-relocate", "dynamic", 127ull << 30, 1u << 20, 130ull << 30, false);
    one("plan-vhdx-grow-fixed", "fixed", 64ull << 20, 0, 1ull << 30, false);
    one("plan-vhdx-shrink-dynamic", "dynamic", 1ull << 30, 0, 1ull << 29, true);
    one("plan-vhdx-refuse-shrink-without-flag", "dynamic", 1ull << 30, 0, 1ull << 29, false);
}
