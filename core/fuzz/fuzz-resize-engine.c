/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-resize-engine.c -- libFuzzer target `fuzz_resize_engine': the whole
 * engine in memory.  Input (little-endian):
 *
 *   0  u8   format: mod 6 -> 0 probe, 1 raw, 2 qcow2, 3 vpc, 4 vhdx, 5 vmdk
 *   1  u8   flags: bit0 --shrink, bits4-5 preallocation 0..3
 *   2  u8   size spec: mod 3 -> absolute, +N, -N
 *   3  u8   bit 0: a seed the engine accepted when it was made, bit 1: one it
 *           refused (seed-mark.h)
 *   4  u32  with bit 0 or 1: FNV-1a of the input but bytes 3..7 (else ignored)
 *   8  u64  file length (capped at 64 MiB; the image is sparse)
 *   16 u64  size amount
 *   24 ...  extents: u64 offset, u16 length, bytes -- the image's non-zero
 *           parts (corpus/generate.sh writes real qemu-img images this way)
 *
 * The image is built in an instar_sparse_io (writes bounded, reused from
 * one input to the next: only written chunks cost anything), planned with
 * instar_image_plan and applied with instar_plan_apply.  When both
 * succeed, the result is re-read with the independent checkers of
 * reparse.c, and judged by the semantic oracle of oracle.c (size, guest
 * data kept, new range zero, refcounts/tables exact): a plan that is
 * well-formed but wrong is a finding. */
#include <config.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/engine-input.h"
#include "fuzz/oracle.h"
#include "fuzz/reparse.h"
#include "fuzz/seed-mark.h"
#include "fuzz/exec-count.h"
#include "fuzz/report.h"
#include "fuzz/sparse-io.h"
#include "instar/error.h"
#include "instar/image.h"
#include "util/endian.h"

/* What the engine may materialise while resizing (sparse beyond). */
#define MEM_LIMIT ((uint64_t)96 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Plan "+4096" on the resized image; true when the engine accepts it. */
static bool instar_fuzz_replan(struct instar_io *io, enum instar_format fmt,
                               struct instar_diag *diag)
{
    struct instar_resize_args again;
    struct instar_image_plan q;
    memset(&again, 0, sizeof again);
    again.format = fmt;
    again.size.sign = INSTAR_SIZE_PLUS;
    again.size.amount = 4096;
    instar_diag_clear(diag);
    int rc = instar_image_plan(io, &again, &q, diag);
    instar_image_plan_free(&q);
    return rc == INSTAR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One store for the whole session, emptied per input. */
    static struct instar_sparse_io m;
    static bool ready;
    static struct instar_oracle oracle;
    struct instar_resize_args args;
    struct instar_image_plan p;
    struct instar_diag diag;
    char why[256];

    /* INSTAR_FUZZ_ORACLE=0: structural re-parse only (tests/fuzz-oracle.sh
     * shows what the oracle and the accepted-seed mark add). */
    static int use_oracle = -1;
    if (use_oracle < 0) {
        const char *e = getenv("INSTAR_FUZZ_ORACLE");
        use_oracle = !(e && strcmp(e, "0") == 0);
    }

    instar_fuzz_exec_count();
    if (size < INSTAR_FUZZ_ENGINE_HEADER_LEN)
        return 0;
    uint64_t length;
    instar_fuzz_engine_args(data, &args, &length);
    /* A plan carrying more bytes than the store holds could never be
     * applied and judged; building one (hundreds of MiB for a preallocated
     * grow by terabytes) only spent the session's time.  Plans are made in
     * one buffer for the session: pages already in, not fresh scratch
     * (page faults, sanitizer poisoning) per plan. */
    static uint8_t *scratch;

    if (!ready) {
        if (instar_sparse_io_init(&m, MEM_LIMIT) != INSTAR_OK)
            abort();
        scratch = malloc((size_t)MEM_LIMIT);
        if (scratch == NULL)
            abort();
        ready = true;
    }
    args.scratch_limit = (size_t)MEM_LIMIT;
    args.scratch = scratch;
    instar_sparse_io_reset(&m);
    if (instar_fuzz_engine_load(&m.io, data, size, length) != 0)
        return 0;
    /* Only a structurally valid start image makes the result's validity
     * the engine's responsibility; a broken one is just refused or not. */
    enum instar_format start = args.format;
    if (start == INSTAR_FORMAT_UNKNOWN && instar_probe(&m.io, &start) != INSTAR_OK)
        start = INSTAR_FORMAT_UNKNOWN;
    if (start == INSTAR_FORMAT_UNKNOWN || !instar_reparse(start, &m.io, 0, why, sizeof why))
        return 0;
    instar_diag_clear(&diag);
    int rc = instar_image_plan(&m.io, &args, &p, &diag);
    if (rc == INSTAR_OK) {
        const char *fmt = instar_format_name(p.format);
        /* The engine refuses broken plans itself; a broken plan reaching
         * here is still a finding. */
        instar_fuzz_check_or_abort("fuzz_resize_engine", fmt, &p.plan);
        uint64_t want = 0;
        if (instar_size_spec_resolve(&args.size, p.current_size, &want) != INSTAR_OK)
            want = 0;
        /* qcow2 takes the size exactly (qemu-img's behaviour), and so does
         * raw except when it grows an empty file, where qemu writes a
         * whole first block (core/resize/raw.c); vpc/vhdx/vmdk may round,
         * so there only the plan's own answer is checked below. */
        bool exact = p.format == INSTAR_FORMAT_QCOW2 ||
                     (p.format == INSTAR_FORMAT_RAW && p.current_size != 0);
        if (exact && p.plan.action != INSTAR_ACTION_NOOP && p.plan.new_virtual_size != want) {
            fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: planned size differs\n"
                    "  plan new_virtual_size %" PRIu64 " != requested %" PRIu64 "\n",
                    fmt, p.plan.new_virtual_size, want);
            abort();
        }
        bool judged = use_oracle && instar_oracle_before(&oracle, p.format, &m.io, &args.size,
                                                         instar_sparse_io_next_data, why, sizeof why);
        /* The plan's action says what it does to the size (callers and
         * reports rely on it). */
        uint64_t was = p.plan.old_virtual_size, now = p.plan.new_virtual_size;
        enum instar_resize_action act = now > was ? INSTAR_ACTION_GROW
            : now < was ? INSTAR_ACTION_SHRINK : p.plan.action;
        if (use_oracle && p.plan.action != act) {
            fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: plan action %d for a size "
                    "change %" PRIu64 " -> %" PRIu64 "\n", fmt, (int)p.plan.action, was, now);
            abort();
        }
        rc = instar_plan_apply(&m.io, &p.plan, args.prealloc, SIZE_MAX, &diag);
        if (rc == INSTAR_OK && judged &&
            !instar_oracle_after(&oracle, &m.io, args.allow_shrink, why, sizeof why)) {
            fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: %s\n  (resize %s%" PRIu64
                    " with %s)\n", fmt, why, args.size.sign == INSTAR_SIZE_PLUS ? "+" :
                    args.size.sign == INSTAR_SIZE_MINUS ? "-" : "", args.size.amount,
                    args.allow_shrink ? "--shrink" : "no --shrink");
            abort();
        }
        if (rc == INSTAR_OK &&
            !instar_reparse(p.format, &m.io, p.plan.new_virtual_size, why, sizeof why)) {
            fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: re-parse failed\n  %s\n"
                    "  (resize %s%" PRIu64 " from %" PRIu64 ", %d patches)\n", fmt, why,
                    args.size.sign == INSTAR_SIZE_PLUS ? "+" :
                    args.size.sign == INSTAR_SIZE_MINUS ? "-" : "",
                    args.size.amount, p.current_size, (int)p.plan.npatches);
            abort();
        }
        /* The engine's own result of a sound start must stay growable
         * (planned only): a parser that misreads what it wrote refuses
         * here.  Small sizes only, far from every format's limit; not
         * qcow2, whose result the oracle reads whole (and whose grow
         * planner can be slow on a large fuzzed file). */
        if (rc == INSTAR_OK && judged && oracle.before.exact && p.format != INSTAR_FORMAT_QCOW2 &&
            p.plan.new_virtual_size <= ((uint64_t)1 << 40) &&
            !instar_fuzz_replan(&m.io, p.format, &diag)) {
            fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: the engine refuses to "
                    "grow its own result (+4096)\n  %s\n", fmt, diag.message);
            abort();
        }
    }
    if (rc == INSTAR_OK && use_oracle && instar_seed_marked_refused(data, size)) {
        fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: accepted a seed it refused "
                "when the seed was made\n", instar_format_name(start));
        abort();
    }
    if (rc != INSTAR_OK && use_oracle && instar_seed_marked_accepted(data, size)) {
        fprintf(stderr, "INSTAR-FINDING: fuzz_resize_engine/%s: refused a seed it accepted "
                "when the seed was made\n  %s\n", instar_format_name(start), diag.message);
        abort();
    }
    instar_image_plan_free(&p);
    return 0;
}
