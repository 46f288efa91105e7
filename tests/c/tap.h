/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tap.h -- a tiny TAP producer for the C unit tests.
 *
 * Each check prints "ok N - name" or "not ok N - name" plus a diagnostic,
 * so automake's TAP driver counts every assertion, not just every binary. */
#ifndef INSTAR_TAP_H
#define INSTAR_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_u64(got, want, ...)                                                  \
    do {                                                                        \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);              \
        if (!ok(got_ == want_, __VA_ARGS__))                                    \
            printf("#   got %" PRIu64 " (0x%" PRIx64 "), want %" PRIu64        \
                   " (0x%" PRIx64 ")\n", got_, got_, want_, want_);             \
    } while (0)

#define is_int(got, want, ...)                                                  \
    do {                                                                        \
        long long got_ = (long long)(got), want_ = (long long)(want);           \
        if (!ok(got_ == want_, __VA_ARGS__))                                    \
            printf("#   got %lld, want %lld\n", got_, want_);                   \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
