/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench.c -- `make bench': run every benchmark, print JSON lines. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_report(const char *name, const char *unit, double value, const char *extra_json)
{
    printf("{\"bench\": \"%s\", \"unit\": \"%s\", \"value\": %.6g%s%s}\n",
           name, unit, value, extra_json ? ", " : "", extra_json ? extra_json : "");
    fflush(stdout);
}

double bench_rate(void (*fn)(void *), void *arg, double seconds)
{
    unsigned long calls = 0, batch = 64;
    double start = bench_now(), elapsed;
    do {
        for (unsigned long i = 0; i < batch; i++)
            fn(arg);
        calls += batch;
        elapsed = bench_now() - start;
        if (batch < (1ul << 20))
            batch *= 2;
    } while (elapsed < seconds);
    return (double)calls / elapsed;
}

/* Each area adds its benchmarks in its own file; a missing one is skipped
 * (weak symbols), so areas land independently. */
void bench_qcow2(void) __attribute__((weak));
void bench_vhd(void) __attribute__((weak));
void bench_vhdx(void) __attribute__((weak));
void bench_vmdk(void) __attribute__((weak));

int main(int argc, char **argv)
{
    void (*const benches[])(void) = {bench_core, bench_qcow2, bench_vhd, bench_vhdx, bench_vmdk};
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (benches[i])
            benches[i]();
    return 0;
}
