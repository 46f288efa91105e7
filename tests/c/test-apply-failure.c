/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-apply-failure.c -- a resize that fails on I/O leaves the image as
 * it was (length, bytes, virtual size), whatever fails and wherever:
 *  - the store is full (in-memory LIMIT): found before anything is written;
 *  - the store cannot reserve space and the preallocation fails after the
 *    commit: the commit is rolled back;
 *  - the Nth write fails (an I/O error), for every N of the plan: what
 *    was written is rolled back. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/io.h"
#include "tap.h"

#define M (1ull << 20)

struct faulty {
    struct instar_mem_io m;     /* first: the io pointer is both */
    struct instar_io_ops ops;
    const struct instar_io_ops *base;
    long fail_write;            /* fail this write (0-based), then work; -1: never */
    long writes;
    bool no_reserve;            /* reserve: EOPNOTSUPP */
    bool fail_prealloc;         /* allocate and zero: ENOSPC */
};

#define FAULTY(io) ((struct faulty *)(void *)(io))

static int f_pwrite(struct instar_io *io, const void *b, size_t len, uint64_t off)
{
    struct faulty *f = FAULTY(io);
    if (f->writes++ == f->fail_write) {
        io->sys_errno = EIO;
        return INSTAR_E_IO;
    }
    return f->base->pwrite(io, b, len, off);
}

static int f_reserve(struct instar_io *io, uint64_t off, uint64_t len)
{
    struct faulty *f = FAULTY(io);
    if (f->no_reserve) {
        io->sys_errno = EOPNOTSUPP;
        return INSTAR_E_IO;
    }
    return f->base->reserve(io, off, len);
}

/* Both ways of preallocating fail alike: the disk is full. */
static bool prealloc_fails(struct instar_io *io)
{
    if (!FAULTY(io)->fail_prealloc)
        return false;
    io->sys_errno = ENOSPC;
    return true;
}

static int f_allocate(struct instar_io *io, uint64_t off, uint64_t len)
{
    return prealloc_fails(io) ? INSTAR_E_IO : FAULTY(io)->base->allocate(io, off, len);
}

static int f_zero(struct instar_io *io, uint64_t off, uint64_t len)
{
    return prealloc_fails(io) ? INSTAR_E_IO : FAULTY(io)->base->zero(io, off, len);
}

struct kase {
    const char *name;
    enum instar_format fmt;
    const char *subformat;
    uint64_t cluster_size;
    enum instar_prealloc prealloc;
    const char *size;
};

static const struct kase cases[] = {
    {"qcow2 metadata +9M", INSTAR_FORMAT_QCOW2, "", 0, INSTAR_PREALLOC_METADATA, "+9M"},
    {"qcow2 falloc +9M", INSTAR_FORMAT_QCOW2, "", 0, INSTAR_PREALLOC_FALLOC, "+9M"},
    {"qcow2 full +9M", INSTAR_FORMAT_QCOW2, "", 0, INSTAR_PREALLOC_FULL, "+9M"},
    {"qcow2 off +900G", INSTAR_FORMAT_QCOW2, "", 0, INSTAR_PREALLOC_OFF, "+900G"},
    {"qcow2 512 metadata +4M", INSTAR_FORMAT_QCOW2, "", 512, INSTAR_PREALLOC_METADATA, "+4M"},
    {"raw falloc +9M", INSTAR_FORMAT_RAW, "", 0, INSTAR_PREALLOC_FALLOC, "+9M"},
    {"raw full +9M", INSTAR_FORMAT_RAW, "", 0, INSTAR_PREALLOC_FULL, "+9M"},
    {"vpc fixed off +9M", INSTAR_FORMAT_VPC, "fixed", 0, INSTAR_PREALLOC_OFF, "+9M"},
    {"vpc fixed falloc +9M", INSTAR_FORMAT_VPC, "fixed", 0, INSTAR_PREALLOC_FALLOC, "+9M"},
    {"vpc fixed full +9M", INSTAR_FORMAT_VPC, "fixed", 0, INSTAR_PREALLOC_FULL, "+9M"},
    {"vpc dynamic off +100G", INSTAR_FORMAT_VPC, "", 0, INSTAR_PREALLOC_OFF, "+100G"},
    {"vhdx off +1T", INSTAR_FORMAT_VHDX, "", 0, INSTAR_PREALLOC_OFF, "+1T"},
    {"vmdk off +9G", INSTAR_FORMAT_VMDK, "", 0, INSTAR_PREALLOC_OFF, "+9G"},
};

/* A fresh 1 MiB image of case K in F (limit: 1 GiB). */
static int make(struct faulty *f, const struct kase *k)
{
    struct instar_create_opts o;
    struct instar_diag d;
    memset(f, 0, sizeof *f);
    instar_mem_io_init(&f->m, 1ull << 30);
    f->base = f->m.io.ops;
    f->ops = *f->base;
    f->ops.pwrite = f_pwrite;
    f->ops.reserve = f_reserve;
    f->ops.allocate = f_allocate;
    f->ops.zero = f_zero;
    f->m.io.ops = &f->ops;
    f->fail_write = -1;
    instar_create_opts_init(&o, k->fmt);
    o.size = M;
    if (k->subformat[0])
        strcpy(o.subformat, k->subformat);
    if (k->cluster_size) {
        o.cluster_size = (uint32_t)k->cluster_size;
        o.cluster_size_set = true;
    }
    instar_diag_clear(&d);
    return instar_image_create(&f->m.io, &o, &d);
}

/* The image's bytes (the logical length of them). */
static uint8_t *snapshot(struct faulty *f, uint64_t *len)
{
    uint8_t *b;
    *len = f->m.size;
    b = malloc(*len ? (size_t)*len : 1);
    if (b && f->base->pread(&f->m.io, b, (size_t)*len, 0) != INSTAR_OK) {
        free(b);
        b = NULL;
    }
    return b;
}

static int resize(struct faulty *f, const struct kase *k, struct instar_diag *d)
{
    struct instar_resize_args a;
    memset(&a, 0, sizeof a);
    a.format = k->fmt;
    a.prealloc = k->prealloc;
    instar_diag_clear(d);
    if (instar_parse_size_spec(k->size, &a.size) != INSTAR_OK)
        return -1;
    return instar_image_resize(&f->m.io, &a, d);
}

/* Did the failed resize leave exactly BEFORE (LEN bytes)? */
static void same(struct faulty *f, const uint8_t *before, uint64_t len, const char *what,
                 const char *name)
{
    uint64_t now;
    uint8_t *after = snapshot(f, &now);
    is_u64(now, len, "%s: %s: length unchanged", name, what);
    ok(after && now == len && memcmp(after, before, (size_t)len) == 0,
       "%s: %s: bytes unchanged", name, what);
    free(after);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kase *k = &cases[i];
        struct faulty f;
        struct instar_diag d;
        uint64_t len;
        uint8_t *before;
        int rc;

        /* 1. Full: not one more byte may be written. */
        if (!ok(make(&f, k) == INSTAR_OK, "%s: created", k->name))
            continue;
        before = snapshot(&f, &len);
        f.m.limit = f.m.size;
        rc = resize(&f, k, &d);
        ok(rc != INSTAR_OK && f.m.io.sys_errno != 0, "%s: full store: refused (%s)",
           k->name, d.message);
        same(&f, before, len, "full store", k->name);
        instar_mem_io_free(&f.m);
        free(before);

        /* 2. No reservation, the preallocation fails after the commit. */
        if (k->prealloc == INSTAR_PREALLOC_FALLOC || k->prealloc == INSTAR_PREALLOC_FULL) {
            make(&f, k);
            before = snapshot(&f, &len);
            f.no_reserve = true;
            f.fail_prealloc = true;
            rc = resize(&f, k, &d);
            ok(rc != INSTAR_OK && strstr(d.message, "No space left on device") != NULL,
               "%s: preallocation fails after the commit: refused (%s)", k->name, d.message);
            same(&f, before, len, "preallocation failed after the commit", k->name);
            instar_mem_io_free(&f.m);
            free(before);
        }

        /* 3. The Nth write fails, for every N the plan has. */
        make(&f, k);
        before = snapshot(&f, &len);
        f.no_reserve = true;
        f.writes = 0;
        rc = resize(&f, k, &d);
        long total = f.writes;
        ok(rc == INSTAR_OK, "%s: succeeds without faults (%ld writes)", k->name, total);
        instar_mem_io_free(&f.m);
        free(before);
        for (long n = 0; n < total; n++) {
            char what[64];
            make(&f, k);
            before = snapshot(&f, &len);
            f.no_reserve = true;
            f.fail_write = n;
            f.writes = 0;
            rc = resize(&f, k, &d);
            snprintf(what, sizeof what, "write %ld of %ld fails", n + 1, total);
            ok(rc != INSTAR_OK, "%s: %s: refused (%s)", k->name, what, d.message);
            same(&f, before, len, what, k->name);
            instar_mem_io_free(&f.m);
            free(before);
        }
    }
    return tap_done();
}
