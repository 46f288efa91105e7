/* SPDX-License-Identifier: GPL-3.0-or-later */
/* seed-mark.h -- the engine target's "accepted seed" mark.
 *
 * Byte 3 bit 0 of a fuzz_resize_engine input says the engine accepted
 * (planned and applied) this very input when the seed was made; bytes
 * 4..7 hold FNV-1a 32 of bytes 8.. (little-endian), so any mutation
 * libFuzzer makes outside bytes 0..7 drops the mark, and one inside them
 * (the request) almost always does too.  A marked input that the engine
 * refuses is a finding: an engine that refuses every image of a format
 * cannot pass the corpus.  corpus/generate-data.sh marks its seeds with
 * core/fuzz/seed-mark after checking the engine accepts them.
 *
 * Bit 1 is the converse, under the same checksum: the engine refused this
 * input when the seed was made (an image it must refuse: a VMDK with a
 * parent, ...).  A marked input that the engine accepts is a finding: an
 * engine that accepts what it should refuse cannot pass the corpus. */
#ifndef INSTAR_FUZZ_SEED_MARK_H
#define INSTAR_FUZZ_SEED_MARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSTAR_SEED_MARK_ACCEPTED 0x01
#define INSTAR_SEED_MARK_REFUSED 0x02

/* FNV-1a 32 of DATA[8..SIZE) mixed with bytes 0..2 (format, flags, spec). */
static inline uint32_t instar_seed_mark_sum(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        if (i < 3 || i >= 8)
            h = (h ^ data[i]) * 16777619u;
    return h;
}

/* The compare must be invisible to libFuzzer: traced (trace-cmp), it put
 * the pair (stored sum, right sum) into its table of compare operands,
 * and a CMP mutation copies the right sum over bytes 4..7, so a mutated
 * input passed as a marked seed and its refusal was a false finding.
 * So no coverage instrumentation here, and never inlined into the
 * instrumented target (tests/fuzz-seed-mark.sh checks the binary). */
#if defined(__clang__)
#define INSTAR_SEED_MARK_UNTRACED __attribute__((noinline, no_sanitize("coverage")))
#else
#define INSTAR_SEED_MARK_UNTRACED
#endif

/* DATA carries mark bit BIT and a checksum that matches. */
INSTAR_SEED_MARK_UNTRACED static inline bool instar_seed_marked(const uint8_t *data, size_t size,
                                                                uint8_t bit)
{
    return size >= 24 && (data[3] & bit) &&
           ((uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 |
            (uint32_t)data[7] << 24) == instar_seed_mark_sum(data, size);
}

INSTAR_SEED_MARK_UNTRACED static inline bool instar_seed_marked_accepted(const uint8_t *data,
                                                                         size_t size)
{
    return instar_seed_marked(data, size, INSTAR_SEED_MARK_ACCEPTED);
}

INSTAR_SEED_MARK_UNTRACED static inline bool instar_seed_marked_refused(const uint8_t *data,
                                                                        size_t size)
{
    return instar_seed_marked(data, size, INSTAR_SEED_MARK_REFUSED);
}

#endif
