/* SPDX-License-Identifier: GPL-3.0-or-later */
/* engine.h -- what each format's engine provides (internal to the core). */
#ifndef INSTAR_ENGINE_H
#define INSTAR_ENGINE_H

#include "instar/image.h"

struct instar_format_engine {
    enum instar_format format;
    /* Read the facts, stage what the planner asks for, plan.  Fills
     * OUT->plan, OUT->scratch and OUT->staging; never writes. */
    int (*plan)(struct instar_io *io, const struct instar_resize_args *args,
                struct instar_image_plan *out, struct instar_diag *diag);
    /* Write a new image of O->size bytes into an empty IO (O has passed
     * create_check). */
    int (*create)(struct instar_io *io, const struct instar_create_opts *o,
                  struct instar_diag *diag);
};

extern const struct instar_format_engine instar_engine_raw;
extern const struct instar_format_engine instar_engine_qcow2;
extern const struct instar_format_engine instar_engine_vhd;
extern const struct instar_format_engine instar_engine_vhdx;
extern const struct instar_format_engine instar_engine_vmdk;

/* The reason to print for an I/O failure RC on IO: strerror of the real
 * errno, as qemu-img words it. */
const char *instar_create_io_reason(const struct instar_io *io, int rc);

/* Each format's create checks: every refusal of O (its size already
 * rounded to 512) without I/O; the format's create runs them first. */
int instar_raw_create_check(const struct instar_create_opts *o, struct instar_diag *diag);
int instar_vhd_create_check(const struct instar_create_opts *o, struct instar_diag *diag);

const struct instar_format_engine *instar_engine_for(enum instar_format fmt);

/* How an engine's plan starts: the file's size into *FILE_SIZE, then a
 * zeroed staging area of SIZE bytes into OUT (RELEASE frees it with the
 * plan).  Failures are worded once, here. */
int instar_engine_start(struct instar_io *io, struct instar_image_plan *out, size_t size,
                        void (*release)(void *), uint64_t *file_size,
                        struct instar_diag *diag);

/* *LEN bytes of scratch for a plan (an engine's bound on what the plan
 * may need), cut to ARGS->scratch_limit when one is set (a plan needing
 * more is then refused as too big): the caller's buffer ARGS->scratch
 * when there is one, else memory OUT owns.  A plan that fits is the same
 * either way.  NULL (and DIAG set) when out of memory. */
uint8_t *instar_engine_scratch(const struct instar_resize_args *args,
                               struct instar_image_plan *out, size_t *len,
                               struct instar_diag *diag);

/* The generic "New image size" resolution every engine uses: resolve the
 * spec against CURRENT and apply qemu's block-layer maximum. */
int instar_engine_resolve_size(const struct instar_resize_args *args,
                               uint64_t current, uint64_t *new_size,
                               struct instar_diag *diag);

/* Give back the space of PLAN's released ranges (discard.c): after the
 * last patch, best effort, never an error. */
void instar_plan_discard(struct instar_io *io, const struct instar_resize_plan *plan);

/* Test hook, for the lock tests only: when INSTAR_TEST_PAUSE_AFTER_PATCH
 * is a number N, a real resize pauses once, after its first N patches
 * (after the last one if it has fewer), holding its locks: it creates the
 * file named by INSTAR_TEST_PAUSE_READY and waits until the file named by
 * INSTAR_TEST_PAUSE_RESUME exists (polling; both variables required).
 * DONE patches of TOTAL have been applied.  Without the variables it does
 * nothing. */
void instar_test_pause_point(size_t done, size_t total);

#endif
