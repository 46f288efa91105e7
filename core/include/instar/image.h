/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/image.h -- the image engine: probe, create, plan and resize.  */
#ifndef INSTAR_IMAGE_H
#define INSTAR_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/io.h"
#include "instar/plan.h"
#include "instar/resize.h"
#include "instar/size.h"

#ifdef __cplusplus
extern "C" {
#endif

enum instar_format {
    INSTAR_FORMAT_UNKNOWN = 0,
    INSTAR_FORMAT_RAW,
    INSTAR_FORMAT_QCOW2,
    INSTAR_FORMAT_VPC,          /* VHD; qemu's driver name */
    INSTAR_FORMAT_VHDX,
    INSTAR_FORMAT_VMDK
};

/* qemu-img's driver name ("raw", "qcow2", "vpc", "vhdx", "vmdk"). */
const char *instar_format_name(enum instar_format fmt);
/* Accepts the driver names (and "vhd" for vpc). */
int instar_format_parse(const char *name, enum instar_format *out);

/* A detailed, user-facing message to go with an error code. */
struct instar_diag {
    int sys_errno;
    char message[512];
};
void instar_diag_clear(struct instar_diag *diag);
/* printf into diag->message (DIAG may be NULL); returns CODE. */
int instar_diag_set(struct instar_diag *diag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one translator of planner refusals, for every engine and the Guile
 * planners (core/image/resize.c): the words qemu-img would print (unless
 * an engine's own words for its format are in DIAG already), then ": "
 * and the planner's reason WHY, when it gave one -- except after qemu's
 * own message for the same case, which stands alone (an engine passes WHY
 * NULL; the request checks are qemu's).  Returns CODE. */
int instar_engine_refusal(int code, const struct instar_refusal *why,
                          struct instar_diag *diag);

/* Probe the format from content (never from a name).  Unknown content is
 * raw, as qemu-img probes. */
int instar_probe(struct instar_io *io, enum instar_format *out);

/* ---- resize ---------------------------------------------------------------- */
struct instar_resize_args {
    enum instar_format format;  /* UNKNOWN: probe */
    struct instar_size_spec size;
    bool allow_shrink;
    enum instar_prealloc prealloc;
    /* The backing file's virtual size, when the caller has opened the
     * backing chain (instar_resize_file does): a qcow2 grow over a longer
     * backing file makes the new range read as zeros, as qemu's does. */
    bool backing_known;
    uint64_t backing_length;
    /* Reads LEN guest bytes at OFF of the backing file (the image's view
     * through its chain), for the copy-on-write of a cluster a grow starts
     * in; NULL when the chain is not open (such grows are then refused). */
    int (*backing_read)(void *ctx, uint8_t *buf, uint64_t len, uint64_t off,
                        struct instar_diag *diag);
    void *backing_ctx;
    /* The most scratch (the plan's payload bytes) one plan may use; 0:
     * the engine's own bound (qcow2: 1 GiB; the others size theirs from
     * the image's facts).  A plan that needs more is refused
     * (INSTAR_E_SCRATCH_TOO_SMALL) before it is built.  The engine fuzz
     * target sets its store's limit: a bigger plan could never be applied
     * there. */
    size_t scratch_limit;
    /* With SCRATCH_LIMIT: the caller's buffer of that many bytes, which
     * the engines plan in instead of allocating (the plan's payloads then
     * point into it: keep it until the plan is applied).  A caller
     * planning many times (the fuzz target) reuses memory already paged
     * in rather than fresh scratch per plan. */
    uint8_t *scratch;
};

/* The outcome of planning against a live image. */
struct instar_image_plan {
    enum instar_format format;
    uint64_t current_size;      /* virtual size before */
    struct instar_resize_plan plan;
    uint8_t *scratch;           /* owned; payloads of plan->patches */
    size_t scratch_len;
    void *staging;              /* owned by the format engine */
    void (*release_staging)(void *staging);
};

/* Read the image's facts, stage what the planner asks for and plan.
 * Nothing is written.  Free OUT with instar_image_plan_free (also on error). */
int instar_image_plan(struct instar_io *io, const struct instar_resize_args *args,
                      struct instar_image_plan *out, struct instar_diag *diag);
void instar_image_plan_free(struct instar_image_plan *p);

/* Apply PLAN's patches in order, set the final length, preallocate,
 * sync.  Applying only the first LIMIT patches (and nothing else) is how
 * crash prefixes are simulated; pass SIZE_MAX for a real resize. */
int instar_plan_apply(struct instar_io *io, const struct instar_resize_plan *plan,
                      enum instar_prealloc prealloc, size_t limit,
                      struct instar_diag *diag);

/* Plan and apply: the whole resize. */
int instar_image_resize(struct instar_io *io, const struct instar_resize_args *args,
                        struct instar_diag *diag);

/* The same on a path (core/image/file.c): PATH is opened as qemu-img
 * opens it, under the locks of the job (instar/lock.h), the format probed
 * from content when it is UNKNOWN, and every open, probe and close error
 * worded here, so callers only report DIAG.  */
int instar_probe_file(const char *path, enum instar_format *out, struct instar_diag *diag);
/* Plan only: read under qemu-img measure's locks (FORCE_SHARE: measure
 * -U's).  Free OUT with instar_image_plan_free (also on error). */
int instar_plan_file(const char *path, const struct instar_resize_args *args, bool force_share,
                     struct instar_image_plan *out, struct instar_diag *diag);
/* Apply PLAN (made for FMT) under a resize's locks; LIMIT as for
 * instar_plan_apply. */
int instar_apply_file(const char *path, enum instar_format fmt,
                      const struct instar_resize_plan *plan, enum instar_prealloc prealloc,
                      size_t limit, struct instar_diag *diag);
int instar_resize_file(const char *path, const struct instar_resize_args *args,
                       struct instar_diag *diag);

/* ---- create ---------------------------------------------------------------- */
/* Options as qemu-img's -o key=value list; unknown keys are an error. */
struct instar_create_opts {
    enum instar_format format;
    uint64_t size;
    bool size_set;              /* a size was given (qemu-img needs one) */
    enum instar_prealloc prealloc;
    /* qcow2 */
    uint64_t cluster_size;      /* 0: default 65536 */
    bool extended_l2;
    bool lazy_refcounts;
    uint64_t refcount_bits;     /* 0: default 16 */
    uint32_t compat;            /* 0: default (3); 2 = "0.10", 3 = "1.1" */
    /* Whether cluster_size / refcount_bits were given (an explicit 0 is
     * an error for qemu-img, not the default). */
    bool cluster_size_set;
    bool refcount_bits_set;
    /* vpc / vhdx / vmdk; an explicitly empty string is an error for
     * qemu-img, so "given" is kept apart from "empty". */
    char subformat[32];         /* "" = the format's default */
    bool subformat_set;
    uint64_t block_size;        /* vhdx block_size; 0 = default */
    uint64_t log_size;          /* vhdx log_size (when log_size_set) */
    bool log_size_set;
    bool force_size;            /* vpc */
    bool block_state_zero;      /* vhdx (default true) */
    char adapter_type[16];      /* vmdk */
    bool adapter_type_set;
    bool zeroed_grain;          /* vmdk */
    /* The file being created, when known (instar_create_file sets it):
     * vmdk writes its base name into the descriptor's extent line. */
    const char *path;
};
void instar_create_opts_init(struct instar_create_opts *o, enum instar_format fmt);
/* Apply one "key=value" option with qemu-img 7.2's typing (sizes, numbers,
 * on/off booleans, enumerations) and messages; INSTAR_E_INVALID_OPTION. */
int instar_create_opts_set(struct instar_create_opts *o, const char *key,
                           const char *value, struct instar_diag *diag);
/* Apply a whole "k=v[,k=v...]" list as qemu's option parser reads it:
 * ",," is a literal comma, a bare "k" is k=on and "nok" k=off, later
 * keys override earlier ones, the first bad element stops the parse. */
int instar_create_opts_parse_list(struct instar_create_opts *o, const char *list,
                                  struct instar_diag *diag);
/* qemu-img's checks of an option list given to -o (not empty, no leading
 * comma, no odd run of trailing commas) and of "help" / "?" in it. */
bool instar_create_option_list_valid(const char *list);
bool instar_create_option_list_wants_help(const char *list);
/* Every refusal the options and the size can cause, without any I/O: a
 * create that passes this fails afterwards only on I/O. */
int instar_create_check(const struct instar_create_opts *o, struct instar_diag *diag);

/* Write a new image into IO (checked first; IO should be empty). */
int instar_image_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag);
/* Create PATH: everything is checked before the file is opened; an
 * existing regular file is truncated only then; a device node is written
 * in place (never truncated); anything else is refused by truncation's
 * own error.  A failed qcow2 create removes the file only if this call
 * created it. */
int instar_create_file(const char *path, const struct instar_create_opts *o,
                       struct instar_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
