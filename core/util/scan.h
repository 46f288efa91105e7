/* SPDX-License-Identifier: GPL-3.0-or-later */
/* scan.h -- find the first (last) set bit, or the first (last) differing
 * byte, in a range, eight bytes per compare.  Planners use them to step over runs of
 * zero (trivially valid) table entries and refcounts: a loop over each
 * entry costs a libFuzzer callback per compare, these none
 * (INSTAR_NO_COVERAGE). */
#ifndef INSTAR_UTIL_SCAN_H
#define INSTAR_UTIL_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* The first set bit of P in bits [BIT, END), END when none.  Bits are
 * numbered least significant first: bit B is bit B % 8 of byte B / 8
 * (qcow2's packing of refcounts narrower than a byte). */
uint64_t instar_first_set_bit(const uint8_t *p, uint64_t bit, uint64_t end);

/* The last set bit of P in bits [BIT, END), END when none. */
uint64_t instar_last_set_bit(const uint8_t *p, uint64_t bit, uint64_t end);

/* The first index in [FROM, TO) where A and B differ, TO when none. */
size_t instar_first_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to);

/* The last index in [FROM, TO) where A and B differ, TO when none. */
size_t instar_last_diff(const uint8_t *a, const uint8_t *b, size_t from, size_t to);

#endif
