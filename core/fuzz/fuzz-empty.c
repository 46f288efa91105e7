/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-empty.c -- a target that does nothing, built with the same flags as
 * the real ones: `make bench' divides their rates by its rate. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
