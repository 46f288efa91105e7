/* SPDX-License-Identifier: GPL-3.0-or-later */
/* testutil.h -- what the C unit tests (and the benchmarks) would
 * otherwise each spell out: the engine request `instar-img resize'
 * builds, a resize of an in-memory image, a new in-memory image's create
 * options, and one deterministic pseudo-random generator. */
#ifndef INSTAR_TESTUTIL_H
#define INSTAR_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "instar/io.h"
#include "instar/size.h"

/* A: the request of `instar-img resize -f FMT [--shrink]
 * [--preallocation=PA] FILE SPEC'; -1 when SPEC is not a size. */
static inline int test_resize_args(struct instar_resize_args *a, enum instar_format fmt,
                                   const char *spec, bool shrink, enum instar_prealloc pa)
{
    memset(a, 0, sizeof *a);
    a->format = fmt;
    a->allow_shrink = shrink;
    a->prealloc = pa;
    return instar_parse_size_spec(spec, &a->size) == INSTAR_OK ? 0 : -1;
}

/* Resize the in-memory image M as that request says (DIAG cleared
 * first); -1 when SPEC is not a size. */
static inline int test_resize_mem(struct instar_mem_io *m, enum instar_format fmt,
                                  const char *spec, bool shrink, enum instar_prealloc pa,
                                  struct instar_diag *diag)
{
    struct instar_resize_args a;
    if (test_resize_args(&a, fmt, spec, shrink, pa) != 0)
        return -1;
    instar_diag_clear(diag);
    return instar_image_resize(&m->io, &a, diag);
}

/* An empty in-memory file M of at most LIMIT bytes, and O: the default
 * create options of FMT for SIZE bytes (callers add their -o options). */
static inline void test_create_start(struct instar_mem_io *m, uint64_t limit,
                                     struct instar_create_opts *o, enum instar_format fmt,
                                     uint64_t size)
{
    instar_mem_io_init(m, limit);
    instar_create_opts_init(o, fmt);
    o->size = size;
}

/* xorshift64 (Marsaglia): the tests' reproducible random stream; *S must
 * not be 0. */
static inline uint64_t test_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
