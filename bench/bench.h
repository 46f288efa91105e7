/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench.h -- the benchmark driver's registry.  Each benchmark prints one
 * JSON line per figure via bench_report. */
#ifndef INSTAR_BENCH_H
#define INSTAR_BENCH_H

#include <stdint.h>

/* Seconds from a monotonic clock. */
double bench_now(void);
/* Print {"bench": NAME, "unit": UNIT, "value": V, ...EXTRA} */
void bench_report(const char *name, const char *unit, double value, const char *extra_json);
/* Run FN repeatedly for about SECONDS; return calls per second. */
double bench_rate(void (*fn)(void *), void *arg, double seconds);

void bench_core(void);

#endif
