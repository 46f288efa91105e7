/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-vmdk.c -- VMDK planner throughput per path (plans/s), on images
 * made in memory by our create (as qemu-img lays them out), with the
 * tables staged once: this measures the planner, not I/O. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "instar/error.h"
#include "instar/image.h"
#include "instar/plan.h"
#include "instar/resize.h"

struct vmdk_case {
    struct instar_vmdk_resize_opts o;
    uint8_t *img;
    uint64_t len;
    struct instar_resize_plan plan;
    uint8_t *scratch;
    size_t scratch_len;
};

static volatile int sink;

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void run(void *arg)
{
    struct vmdk_case *c = arg;
    sink += instar_plan_resize_vmdk(&c->o, c->scratch, c->scratch_len, &c->plan);
}

/* Build the image, stage what the planner asks for, and check it plans. */
static int setup(struct vmdk_case *c, uint64_t size, uint64_t new_size)
{
    struct instar_mem_io m;
    struct instar_create_opts co;
    struct instar_diag diag;
    memset(c, 0, sizeof *c);
    instar_mem_io_init(&m, UINT64_C(1) << 32);
    instar_create_opts_init(&co, INSTAR_FORMAT_VMDK);
    co.size = size;
    if (instar_image_create(&m.io, &co, &diag) != INSTAR_OK)
        return -1;
    c->len = m.size;
    c->img = malloc((size_t)m.size);
    if (c->img == NULL || instar_io_read(&m.io, c->img, (size_t)m.size, 0) != INSTAR_OK)
        return -1;
    instar_mem_io_free(&m);
    c->o.req.new_size = new_size;
    c->o.current_file_size = c->len;
    c->o.capacity_sectors = le64(c->img + 12);
    c->o.grain_sectors = le64(c->img + 20);
    c->o.descriptor_offset_sectors = le64(c->img + 28);
    c->o.descriptor_sectors = le64(c->img + 36);
    c->o.gtes_per_gt = 512;
    c->o.rgd_offset_sectors = le64(c->img + 48);
    c->o.gd_offset_sectors = le64(c->img + 56);
    c->o.header.data = c->img;
    c->o.header.len = 512;
    c->o.new_cid = 0xabcdef;
    c->scratch_len = 1 << 20;
    c->scratch = malloc(c->scratch_len);
    int rc = INSTAR_E_NOT_STAGED;
    for (int round = 0; round < 4 && rc == INSTAR_E_NOT_STAGED; round++) {
        rc = instar_plan_resize_vmdk(&c->o, c->scratch, c->scratch_len, &c->plan);
        for (size_t i = 0; rc == INSTAR_E_NOT_STAGED && i < c->plan.nneeds; i++) {
            const struct instar_need *n = &c->plan.needs[i];
            struct instar_slice s = { c->img + n->index, (size_t)n->length };
            if (n->length == 4)
                c->o.tail_gte = s;
            else if (n->index == c->o.descriptor_offset_sectors * 512)
                c->o.descriptor = s;
            else if (n->index == c->o.gd_offset_sectors * 512)
                c->o.gd = s;
            else
                c->o.rgd = s;
        }
    }
    return rc;
}

void bench_vmdk(void)
{
    static const struct {
        const char *name;
        uint64_t from, to;
    } cases[] = {
        { "plan-vmdk-grow-in-place", UINT64_C(1) << 30, UINT64_C(2) << 30 },
        { "plan-vmdk-grow-relocate", UINT64_C(1) << 30, UINT64_C(5) << 30 },
        { "plan-vmdk-grow-unaligned-tail", 1000000, 100 << 20 },
        { "plan-vmdk-grow-relocate-100G", UINT64_C(100) << 30, UINT64_C(1) << 40 },
        { "plan-vmdk-noop", UINT64_C(1) << 30, UINT64_C(1) << 30 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vmdk_case c;
        char extra[96];
        int rc = setup(&c, cases[i].from, cases[i].to);
        if (rc == INSTAR_OK) {
            double rate = bench_rate(run, &c, 0.3);
            snprintf(extra, sizeof extra, "\"patches\": %zu", c.plan.npatches);
            bench_report(cases[i].name, "plans/s", rate, extra);
        } else {
            fprintf(stderr, "bench %s: setup failed (%s)\n", cases[i].name, instar_strerror(rc));
        }
        free(c.img);
        free(c.scratch);
    }
}
