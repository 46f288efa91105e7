/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/size.h -- size specs as qemu-img takes them.
 *
 * "N", "+N", "-N"; N decimal (fractions allowed with a suffix), or hex
 * "0x..."; optional suffix b/B (x1), k/K, m/M, g/G, t/T, p/P, e/E (powers
 * of 1024).  Leading white space is accepted, trailing garbage is not.  */
#ifndef INSTAR_SIZE_H
#define INSTAR_SIZE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum instar_size_sign {
    INSTAR_SIZE_ABSOLUTE = 0,
    INSTAR_SIZE_PLUS,
    INSTAR_SIZE_MINUS
};

struct instar_size_spec {
    enum instar_size_sign sign;
    uint64_t amount;
};

/* Parse a plain size (no sign).  INSTAR_E_SIZE_SYNTAX or INSTAR_E_SIZE_RANGE. */
int instar_parse_size(const char *text, uint64_t *out);

/* Parse a resize spec with optional leading '+' or '-'. */
int instar_parse_size_spec(const char *text, struct instar_size_spec *out);

/* Resolve SPEC against CURRENT into a new size.  Like qemu-img this is
 * int64 arithmetic: totals <= 0 or >= 2^63 give INSTAR_E_SIZE_NOT_POSITIVE. */
int instar_size_spec_resolve(const struct instar_size_spec *spec,
                             uint64_t current, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
