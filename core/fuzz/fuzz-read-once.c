/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-read-once.c -- a target that reads every input byte once (FNV-1a),
 * built with the same flags as the real ones: the floor a target that
 * looks at its whole input cannot go below.  `make bench' divides the
 * real targets' per-input cost and fuzzing rate by this one's. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Kept in a global so the loop is not optimised away. */
volatile uint32_t instar_fuzz_read_once_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    instar_fuzz_read_once_sink = h;
    return 0;
}
