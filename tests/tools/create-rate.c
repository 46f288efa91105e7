/* SPDX-License-Identifier: GPL-3.0-or-later */
/* create-rate.c -- qcow2 creates per second, in memory (the
 * engine's own cost: validation, layout, metadata; no filesystem).
 * One JSON line per case, like bench/instar-bench. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "instar/error.h"
#include "instar/image.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_case {
    const char *name;
    const char *opts[4];        /* key=value, NULL-terminated */
    const char *size;
};

static int create_once(const struct bench_case *c)
{
    struct instar_create_opts o;
    struct instar_mem_io m;
    struct instar_diag diag;
    instar_create_opts_init(&o, INSTAR_FORMAT_QCOW2);
    instar_diag_clear(&diag);
    if (instar_create_opts_set(&o, "size", c->size, &diag) != INSTAR_OK)
        return 1;
    for (size_t i = 0; c->opts[i]; i++) {
        char kv[64];
        snprintf(kv, sizeof kv, "%s", c->opts[i]);
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            return 1;
        *eq = '\0';
        if (instar_create_opts_set(&o, kv, eq + 1, &diag) != INSTAR_OK)
            return 1;
    }
    instar_mem_io_init(&m, 1ull << 30);
    int rc = instar_image_create(&m.io, &o, &diag);
    instar_mem_io_free(&m);
    if (rc != INSTAR_OK)
        fprintf(stderr, "create-rate: %s: %s\n", c->name, diag.message);
    return rc != INSTAR_OK;
}

int main(void)
{
    static const struct bench_case cases[] = {
        {"default-1G", {NULL}, "1G"},
        {"default-2P", {NULL}, "2P"},
        {"c512-rb64-16G", {"cluster_size=512", "refcount_bits=64", NULL}, "16G"},
        {"extl2-c2M-1P", {"extended_l2=on", "cluster_size=2M", NULL}, "1P"},
        {"v2-16M", {"compat=0.10", NULL}, "16M"},
        {"metadata-c4k-64M", {"cluster_size=4k", "preallocation=metadata", NULL}, "64M"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned long calls = 0;
        double start = now(), elapsed;
        do {
            if (create_once(&cases[i]) != 0)
                return 1;
            calls++;
            elapsed = now() - start;
        } while (elapsed < 0.3);
        printf("{\"bench\": \"qcow2-create\", \"case\": \"%s\", \"unit\": \"creates/s\", "
               "\"value\": %.6g}\n", cases[i].name, (double)calls / elapsed);
    }
    return 0;
}
