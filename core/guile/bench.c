/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench.c -- the C side of `make bench''s Scheme-vs-C comparison: the same
 * planner call as (plan-resize-raw ...) and (plan-check ...) from Scheme,
 * looped in C within the same process, so the two rates differ only by
 * the cost of crossing into Scheme and building plan objects.  */
#include <config.h>

#include <string.h>
#include <time.h>

#include "instar-guile.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

SCM_DEFINE(scm_instar_bench_plan_raw_c, "%bench-plan-raw-c", 4, 0, 0,
           (SCM iterations, SCM current, SCM new_size, SCM prealloc),
           "Plan a raw resize ITERATIONS times in C; the elapsed seconds.")
#define FUNC_NAME s_scm_instar_bench_plan_raw_c
{
    uint64_t n = instar_guile_to_u64(iterations, FUNC_NAME, SCM_ARG1, "iterations");
    struct instar_raw_resize_opts o;
    struct instar_resize_plan plan;
    volatile int sink = 0;

    memset(&o, 0, sizeof o);
    o.current_file_size = instar_guile_to_u64(current, FUNC_NAME, SCM_ARG2, "current size");
    o.req.new_size = instar_guile_to_u64(new_size, FUNC_NAME, SCM_ARG3, "new size");
    o.req.prealloc = instar_guile_to_prealloc(prealloc, FUNC_NAME, SCM_ARG4, "prealloc");
    double start = now();
    for (uint64_t i = 0; i < n; i++)
        sink += instar_plan_resize_raw(&o, NULL, 0, &plan);
    (void)sink;
    return scm_from_double(now() - start);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_bench_plan_check_c, "%bench-plan-check-c", 2, 0, 0,
           (SCM iterations, SCM plan),
           "Check PLAN ITERATIONS times in C; the elapsed seconds.")
#define FUNC_NAME s_scm_instar_bench_plan_check_c
{
    uint64_t n = instar_guile_to_u64(iterations, FUNC_NAME, SCM_ARG1, "iterations");
    struct instar_resize_plan full;
    instar_guile_plan_expand(instar_guile_plan_ref(plan, FUNC_NAME, SCM_ARG2), &full);
    volatile size_t sink = 0;
    double start = now();
    for (uint64_t i = 0; i < n; i++)
        sink += instar_plan_check(&full, NULL);
    (void)sink;
    scm_remember_upto_here_1(plan);
    return scm_from_double(now() - start);
}
#undef FUNC_NAME

void instar_guile_init_bench(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "bench.x"
#endif
}
