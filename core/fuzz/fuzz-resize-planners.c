/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-resize-planners.c -- libFuzzer target `fuzz_resize_planners'
 * (instar/fuzz.h): 32-byte header + existing-state pool -> one planner ->
 * the four plan invariants.  Planner errors are answers, not findings; a
 * crash, a sanitizer report or a broken invariant is.
 *
 * Built three ways from this one file: with clang -fsanitize=fuzzer
 * (make fuzz-resize, OSS-Fuzz), with gcc and replay-main.c (make check
 * replays the corpus), and with INSTAR_FUZZ_TEST_HOOK for the test that
 * proves a broken plan is reported. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>

#include "fuzz/exec-count.h"
#include "fuzz/report.h"
#include "instar/error.h"
#include "instar/fuzz.h"

#ifdef INSTAR_FUZZ_TEST_HOOK
/* Lets a test break a valid plan on purpose (tests/c/fuzz-break-hook.c). */
void instar_fuzz_test_break(struct instar_resize_plan *plan);
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Allocated once and reused: nothing is cleared wholesale per input
     * (the planners' builder zeroes only the scratch it hands out). */
    static struct instar_fuzz_decoder *dec;
    static uint8_t *scratch;
    static struct instar_fuzz_case *c;
    static struct instar_resize_plan *plan;

    instar_fuzz_exec_count();
    if (dec == NULL) {
        dec = instar_fuzz_decoder_new();
        scratch = malloc(INSTAR_FUZZ_SCRATCH_LEN);
        c = malloc(sizeof *c);
        plan = malloc(sizeof *plan);
        if (dec == NULL || scratch == NULL || c == NULL || plan == NULL)
            abort();
    }
    if (instar_fuzz_decode(dec, data, size, c) != INSTAR_OK)
        return 0;
    if (instar_fuzz_plan(c, scratch, INSTAR_FUZZ_SCRATCH_LEN, plan) != INSTAR_OK)
        return 0;
#ifdef INSTAR_FUZZ_TEST_HOOK
    instar_fuzz_test_break(plan);
#endif
    instar_fuzz_check_or_abort("fuzz_resize_planners", instar_fuzz_target_name(c->hdr.target),
                               plan);
    return 0;
}
