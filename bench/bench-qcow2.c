/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-qcow2.c -- qcow2 resize planning throughput per path (engine plan
 * on an in-memory image: header read, staging rounds, planner), and the
 * wall time of whole in-memory resizes at sizes where qemu takes seconds. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "instar/image.h"
#include "../tests/c/qcow2-testimg.h"
#include "../tests/c/testutil.h"

struct job {
    struct timg *t;
    struct instar_resize_args a;
};

static volatile int sink;

static void plan_once(void *arg)
{
    struct job *j = arg;
    struct instar_image_plan p;
    sink += instar_image_plan(&j->t->m.io, &j->a, &p, NULL);
    instar_image_plan_free(&p);
}

static void measure(const char *name, struct timg *t, const char *spec, int shrink,
                    enum instar_prealloc pa)
{
    struct job j;
    struct instar_image_plan p;
    char extra[160];
    int rc;
    memset(&j, 0, sizeof j);
    j.t = t;
    test_resize_args(&j.a, INSTAR_FORMAT_QCOW2, spec, shrink, pa);
    rc = instar_image_plan(&t->m.io, &j.a, &p, NULL);
    snprintf(extra, sizeof extra, "\"rc\": %d, \"patches\": %zu", rc, p.plan.npatches);
    instar_image_plan_free(&p);
    bench_report(name, "plans/s", bench_rate(plan_once, &j, 0.3), extra);
}

/* Whole resize (plan + apply) of an in-memory image, in milliseconds. */
static void resize_ms(const char *name, struct timg *t, const char *spec, int shrink)
{
    struct instar_resize_args a;
    double t0;
    int rc;
    test_resize_args(&a, INSTAR_FORMAT_QCOW2, spec, shrink, INSTAR_PREALLOC_OFF);
    t0 = bench_now();
    rc = instar_image_resize(&t->m.io, &a, NULL);
    bench_report(name, "ms", (bench_now() - t0) * 1e3, rc ? "\"rc\": \"error\"" : NULL);
}

/* Process CPU seconds: the machine may be shared, and a ratio of wall
 * times then measures the neighbours. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Planning a shrink over an L1 that names N distinct L2 tables (512-byte
 * clusters): CPU seconds per L1 entry at 32K..256K, side by side in one run.
 * Linear planning keeps the ratio 256K / 32K near 1 (it was ~7 when every
 * staging round walked the whole cut). */
static void many_l2(void)
{
    static const uint64_t ns[] = {32768, 65536, 131072, 262144};
    double per[4];
    char extra[160];
    for (size_t k = 0; k < 4; k++) {
        struct timg t;
        struct instar_resize_args a;
        struct instar_image_plan p;
        double best = 0;
        int rc = -1;
        memset(&a, 0, sizeof a);
        a.format = INSTAR_FORMAT_QCOW2;
        a.allow_shrink = 1;
        instar_parse_size_spec("1M", &a.size);
        if (timg_create_many_l2(&t, ns[k]) != 0) {
            bench_report("qcow2-plan-shrink-many-l2", "s/entry", 0, "\"rc\": \"no memory\"");
            return;
        }
        for (int rep = 0; rep < 3; rep++) {
            double t0 = cpu_now(), dt;
            rc = instar_image_plan(&t.m.io, &a, &p, NULL);
            dt = cpu_now() - t0;
            instar_image_plan_free(&p);
            if (rep == 0 || dt < best)
                best = dt;
        }
        per[k] = best / (double)ns[k];
        snprintf(extra, sizeof extra, "\"entries\": %llu, \"cpu_seconds\": %.4f, \"rc\": %d",
                 (unsigned long long)ns[k], best, rc);
        bench_report("qcow2-plan-shrink-many-l2", "s/entry", per[k], extra);
        timg_free(&t);
    }
    snprintf(extra, sizeof extra, "\"per_entry_32k\": %.3g, \"per_entry_256k\": %.3g",
             per[0], per[3]);
    bench_report("qcow2-plan-shrink-many-l2-ratio-256k-32k", "ratio", per[3] / per[0], extra);
}

void bench_qcow2(void)
{
    struct timg t;
    struct timg_opts o;

    o = timg_defaults(16 << 20, 16);
    timg_create(&t, &o);
    measure("qcow2-plan-header-only-grow", &t, "64M", 0, INSTAR_PREALLOC_OFF);
    measure("qcow2-plan-l1-grow-1T", &t, "1T", 0, INSTAR_PREALLOC_OFF);
    measure("qcow2-plan-l1-grow-2P", &t, "2P", 0, INSTAR_PREALLOC_OFF);
    measure("qcow2-plan-metadata-prealloc-1G", &t, "1G", 0, INSTAR_PREALLOC_METADATA);
    timg_free(&t);

    o = timg_defaults(1 << 20, 9);
    timg_create(&t, &o);
    measure("qcow2-plan-reftable-growth", &t, "64G", 0, INSTAR_PREALLOC_OFF);
    timg_free(&t);

    o = timg_defaults(1ull << 30, 16);
    timg_create(&t, &o);
    for (uint64_t g = 0; g < 16384; g += 37)
        timg_write_cluster(&t, g, 1);
    measure("qcow2-plan-shrink-data-1G-256M", &t, "256M", 1, INSTAR_PREALLOC_OFF);
    timg_free(&t);

    o = timg_defaults(1ull << 40, 16);
    timg_create(&t, &o);
    resize_ms("qcow2-resize-1T-to-2T", &t, "2T", 0);
    resize_ms("qcow2-resize-2T-to-1G-shrink", &t, "1G", 1);
    timg_free(&t);

    many_l2();
}
