/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-core.c -- planner and invariant-checker throughput. */
#include <config.h>

#include <string.h>

#include "bench/bench.h"
#include "instar/plan.h"
#include "instar/resize.h"

static volatile int sink;

static void plan_raw_grow(void *arg)
{
    struct instar_resize_plan *plan = arg;
    struct instar_raw_resize_opts o;
    memset(&o, 0, sizeof o);
    o.current_file_size = 1 << 20;
    o.req.new_size = 1 << 30;
    o.req.prealloc = INSTAR_PREALLOC_FALLOC;
    sink += instar_plan_resize_raw(&o, NULL, 0, plan);
}

static void check_128(void *arg)
{
    sink += (int)instar_plan_check(arg, NULL);
}

void bench_core(void)
{
    static struct instar_resize_plan plan;
    static const unsigned char payload[512];
    double rate;

    rate = bench_rate(plan_raw_grow, &plan, 0.5);
    bench_report("plan-raw-grow", "plans/s", rate, NULL);

    /* A worst-case plan for the checker: 128 disjoint writes, shuffled. */
    instar_plan_init(&plan);
    plan.total_file_size = 1ull << 40;
    for (size_t i = 0; i < INSTAR_MAX_RESIZE_PATCHES; i++) {
        size_t slot = (i * 37) % INSTAR_MAX_RESIZE_PATCHES;  /* 37 is coprime to 128 */
        plan.patches[i].kind = INSTAR_PATCH_WRITE;
        plan.patches[i].offset = (uint64_t)slot * 4096;
        plan.patches[i].length = sizeof payload;
        plan.patches[i].data = payload;
    }
    plan.npatches = INSTAR_MAX_RESIZE_PATCHES;
    rate = bench_rate(check_128, &plan, 0.5);
    bench_report("plan-check-128-writes", "checks/s", rate, NULL);
}
