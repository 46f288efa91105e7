/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-vhd.c -- VHD planner throughput per path: fixed grow, dynamic
 * BAT growth in place, at the tail, relocated, and a grow to 2040 GiB. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/resize.h"
#include "resize/vhd-format.h"
#include "util/endian.h"

struct vhd_case {
    struct instar_vhd_resize_opts o;
    struct instar_resize_plan plan;
    uint8_t *scratch;
    size_t scratch_len;
    uint8_t *image;             /* staged copy the slices point into */
};

static volatile int sink;

static void run(void *arg)
{
    struct vhd_case *c = arg;
    sink += instar_plan_resize_vhd(&c->o, c->scratch, c->scratch_len, &c->plan);
}

/* Build an in-memory image (created by our engine, BLOCKS blocks allocated
 * right after the table as qemu would) and the options for NEW_SIZE. */
static int setup(struct vhd_case *c, const char *sub, uint64_t size, unsigned blocks,
                 uint64_t new_size)
{
    struct instar_mem_io m;
    struct instar_create_opts co;
    instar_mem_io_init(&m, 64u << 20);
    instar_create_opts_init(&co, INSTAR_FORMAT_VPC);
    strcpy(co.subformat, sub);
    co.size = size;
    if (instar_image_create(&m.io, &co, NULL) != INSTAR_OK)
        return -1;
    for (unsigned i = 0; i < blocks; i++) {
        uint8_t be[4], foot[512];
        uint64_t at = m.size - 512;
        memcpy(foot, m.data + at, 512);
        instar_put_be32(be, (uint32_t)(at / 512));
        instar_io_write(&m.io, foot, 512, at + 512 + VHD_DEFAULT_BLOCK_SIZE);
        instar_io_write(&m.io, be, 4, 1536 + 4 * i);
    }
    memset(c, 0, sizeof *c);
    c->image = malloc((size_t)m.size);
    if (c->image == NULL)
        return -1;
    memcpy(c->image, m.data, (size_t)m.size);
    c->o.current_file_size = m.size;
    c->o.req.new_size = new_size;
    c->o.footer.len = 512;
    if (strcmp(sub, "fixed") == 0) {
        c->o.disk_type = INSTAR_VHD_FIXED;
        c->o.footer.data = c->image + m.size - 512;
    } else {
        const uint8_t *h = c->image + 512;
        c->o.disk_type = INSTAR_VHD_DYNAMIC;
        c->o.footer.data = c->image;
        c->o.dyn_header.data = h;
        c->o.dyn_header.len = 1024;
        c->o.bat_offset = instar_be64(h + 16);
        c->o.max_table_entries = instar_be32(h + 28);
        c->o.block_size = instar_be32(h + 32);
        c->o.bat.data = c->image + c->o.bat_offset;
        c->o.bat.len = 4 * (size_t)c->o.max_table_entries;
    }
    struct vhd_footer f;
    vhd_parse_footer(c->o.footer.data, 512, &f);
    c->o.virtual_size = f.virtual_size;
    c->scratch_len = 1u << 20;
    c->scratch = malloc(c->scratch_len);
    instar_mem_io_free(&m);
    return c->scratch ? 0 : -1;
}

void bench_vhd(void)
{
    static const struct {
        const char *name, *sub;
        uint64_t size;
        unsigned blocks;
        uint64_t new_size;
    } cases[] = {
        {"plan-vhd-fixed-grow", "fixed", 16u << 20, 0, 1ull << 30},
        {"plan-vhd-dynamic-in-place", "dynamic", 16u << 20, 2, 200u << 20},
        {"plan-vhd-dynamic-tail", "dynamic", 16u << 20, 0, 1ull << 30},
        {"plan-vhd-dynamic-relocate", "dynamic", 16u << 20, 2, 1ull << 30},
        {"plan-vhd-dynamic-relocate-2040G", "dynamic", 1ull << 30, 2, 2040ull << 30},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vhd_case c;
        if (setup(&c, cases[i].sub, cases[i].size, cases[i].blocks, cases[i].new_size) != 0)
            continue;
        run(&c);
        if (c.plan.npatches == 0)
            bench_report(cases[i].name, "error", 1, NULL);
        else
            bench_report(cases[i].name, "plans/s", bench_rate(run, &c, 0.3), NULL);
        free(c.scratch);
        free(c.image);
    }
}
