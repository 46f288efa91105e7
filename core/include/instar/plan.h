/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/plan.h -- resize plans and their invariants.
 *
 * A plan is what every planner returns: an ordered list of byte patches
 * (applied strictly in order: prepare -> commit -> cleanup) and the final
 * length of the file.  Payloads live in the caller's scratch buffer.  */
#ifndef INSTAR_PLAN_H
#define INSTAR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INSTAR_MAX_RESIZE_PATCHES 128
/* How many released file ranges a plan names for the host to give back. */
#define INSTAR_MAX_DISCARDS 512
/* How many missing tables a planner reports in one INSTAR_E_NOT_STAGED answer. */
#define INSTAR_MAX_NEEDS 64

enum instar_patch_kind {
    INSTAR_PATCH_WRITE = 0,   /* write LENGTH bytes of DATA at OFFSET */
    INSTAR_PATCH_APPEND,      /* like WRITE; OFFSET is the end of file at that moment */
    INSTAR_PATCH_ZERO_FILL    /* make [OFFSET, OFFSET+LENGTH) read as zeros */
};

enum instar_resize_action {
    INSTAR_ACTION_NOOP = 0,
    INSTAR_ACTION_GROW,
    INSTAR_ACTION_SHRINK
};

enum instar_prealloc {
    INSTAR_PREALLOC_OFF = 0,
    INSTAR_PREALLOC_METADATA,
    INSTAR_PREALLOC_FALLOC,
    INSTAR_PREALLOC_FULL
};

struct instar_patch {
    enum instar_patch_kind kind;
    uint64_t offset;
    uint64_t length;
    const uint8_t *data;      /* NULL for ZERO_FILL */
};

/* What kind of table a planner asks the host to stage. */
enum instar_need_kind {
    INSTAR_NEED_NONE = 0,
    INSTAR_NEED_REFBLOCK,     /* qcow2 refcount blocks: indices into the refcount table */
    INSTAR_NEED_L2,           /* qcow2 L2 tables: indices into the L1 table */
    INSTAR_NEED_BYTES         /* any format: a raw byte range of the file */
};

struct instar_need {
    enum instar_need_kind kind;
    uint64_t index;           /* table index, or file offset for NEED_BYTES */
    uint64_t length;          /* bytes, for NEED_BYTES */
    /* REFBLOCK and L2: the tables [index, index + count) that the refcount
     * table or L1 table names (entries that are zero or already staged are
     * skipped); count is at least 1.  A planner that needs thousands of
     * tables asks for them in one round instead of a round per 64. */
    uint64_t count;
};

struct instar_resize_plan {
    enum instar_resize_action action;
    uint64_t old_virtual_size;
    uint64_t new_virtual_size;  /* as the format will report it */
    uint64_t total_file_size;   /* the file's length once every patch is applied */
    /* Guest-data range the host preallocates after the patches
     * (file offsets; length 0 when nothing is to be preallocated). */
    uint64_t prealloc_offset;
    uint64_t prealloc_length;
    /* An existing cluster the preallocation covers too (qcow2: the old
     * end's cluster, allocated but perhaps never written): its first
     * PREALLOC_HEAD_KEEP bytes are guest data and are only allocated, the
     * rest is preallocated as zeros (length 0: none). */
    uint64_t prealloc_head_offset;
    uint64_t prealloc_head_length;
    uint64_t prealloc_head_keep;
    size_t npatches;
    struct instar_patch patches[INSTAR_MAX_RESIZE_PATCHES];
    /* File ranges of clusters the plan released (refcount now 0): after
     * every patch the host gives their space back (punches holes), best
     * effort, as qemu discards them.  Never written, so a crash at any
     * point leaves at most unused space allocated. */
    size_t ndiscards;
    struct instar_range {
        uint64_t offset;
        uint64_t length;
    } discards[INSTAR_MAX_DISCARDS];
    /* Filled when a planner answers INSTAR_E_NOT_STAGED. */
    size_t nneeds;
    struct instar_need needs[INSTAR_MAX_NEEDS];
};

/* Reset PLAN to an empty no-op plan. */
void instar_plan_init(struct instar_resize_plan *plan);

/* ---- invariants ---------------------------------------------------- */

enum instar_invariant {
    INSTAR_INV_NONE = 0,
    INSTAR_INV_PATCH_COUNT,     /* 1: npatches <= 128 */
    INSTAR_INV_OFFSET_OVERFLOW, /* 2: offset + length fits in u64 */
    INSTAR_INV_BEYOND_END,      /* 3: every patch ends at or below total_file_size */
    INSTAR_INV_WRITE_OVERLAP    /* 4: no two WRITE patches overlap */
};

struct instar_violation {
    enum instar_invariant invariant;
    size_t patch_a;             /* offending patch (SIZE_MAX when none) */
    size_t patch_b;             /* second patch for overlaps (SIZE_MAX when none) */
};

#define INSTAR_MAX_VIOLATIONS 16

struct instar_check_report {
    size_t nviolations;         /* violations found (may exceed what is stored) */
    struct instar_violation violations[INSTAR_MAX_VIOLATIONS];
};

/* Check PLAN against the four invariants.  Returns the number of
 * violations found (0: the plan is valid).  REPORT may be NULL. */
size_t instar_plan_check(const struct instar_resize_plan *plan,
                         struct instar_check_report *report);

/* Short text for an invariant, e.g. "4 (WRITE patches overlap)". */
const char *instar_invariant_name(enum instar_invariant inv);

/* Write a one-line description of V into BUF (always NUL-terminated). */
void instar_violation_format(const struct instar_resize_plan *plan,
                             const struct instar_violation *v,
                             char *buf, size_t buflen);

const char *instar_action_name(enum instar_resize_action action);
const char *instar_patch_kind_name(enum instar_patch_kind kind);
const char *instar_prealloc_name(enum instar_prealloc mode);
/* Parse "off|metadata|falloc|full" (case sensitive, as qemu-img). */
int instar_prealloc_parse(const char *s, enum instar_prealloc *out);

#ifdef __cplusplus
}
#endif
#endif
