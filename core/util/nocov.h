/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nocov.h -- INSTAR_NO_COVERAGE marks a bulk loop (fill a run of table
 * entries, scan bytes, checksum) that libFuzzer need not trace: its
 * comparisons repeat once per entry and say nothing about the decisions a
 * planner makes, yet under -fsanitize=fuzzer each one is a callback.  The
 * decisions around such a loop stay instrumented.  Never inlined: inlined
 * into an instrumented caller, the loop would be traced again. */
#ifndef INSTAR_NOCOV_H
#define INSTAR_NOCOV_H

#if defined(__clang__)
#define INSTAR_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define INSTAR_NO_COVERAGE
#endif

#endif
