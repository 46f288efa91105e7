/* SPDX-License-Identifier: GPL-3.0-or-later */
/* size.c -- size specs with qemu-img's syntax (util/cutils.c do_strtosz)
 * but exact integer arithmetic instead of doubles. */
#include <config.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "instar/error.h"
#include "instar/size.h"
#include "util/checked.h"

static int suffix_shift(char c, unsigned *shift)
{
    static const char units[] = "bkmgtpe";
    const char *p = strchr(units, tolower((unsigned char)c));
    if (c == '\0' || p == NULL)
        return -1;
    *shift = 10u * (unsigned)(p - units);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Fraction digits beyond this are ignored: qemu's double carries fewer. */
#define MAX_FRACTION_DIGITS 18

int instar_parse_size(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t whole = 0;
    uint64_t frac = 0, frac_scale = 1;   /* fraction = frac / frac_scale */
    bool any_digit = false, is_hex = false, has_point = false;
    unsigned shift = 0;

    if (text == NULL)
        return INSTAR_E_SIZE_SYNTAX;
    while (isspace((unsigned char)*p))
        p++;
    /* strtoull, under qemu's parser, takes one '+' (so "-+1M" is a
     * shrink by 1M); a '-' is never part of a size. */
    if (*p == '+')
        p++;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hexval(p[2]) >= 0) {
        is_hex = true;
        p += 2;
        for (int d; (d = hexval(*p)) >= 0; p++) {
            if (!instar_mul_u64(whole, 16, &whole) || !instar_add_u64(whole, (uint64_t)d, &whole))
                return INSTAR_E_SIZE_RANGE;
            any_digit = true;
        }
    } else {
        for (; isdigit((unsigned char)*p); p++) {
            if (!instar_mul_u64(whole, 10, &whole) || !instar_add_u64(whole, (uint64_t)(*p - '0'), &whole))
                return INSTAR_E_SIZE_RANGE;
            any_digit = true;
        }
        if (*p == '.') {
            unsigned ndigits = 0;
            has_point = true;
            p++;
            for (; isdigit((unsigned char)*p); p++) {
                any_digit = true;
                if (ndigits < MAX_FRACTION_DIGITS) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    frac_scale *= 10;
                    ndigits++;
                }
            }
        }
    }
    if (!any_digit)
        return INSTAR_E_SIZE_SYNTAX;

    if (*p != '\0') {
        if (suffix_shift(*p, &shift) != 0 || p[1] != '\0')
            return INSTAR_E_SIZE_SYNTAX;
    } else if (has_point && frac != 0) {
        /* A fraction needs a unit to be meaningful ("1.5" is an error,
         * "16777216.0" is not). */
        return INSTAR_E_SIZE_SYNTAX;
    }
    (void)is_hex;

    uint64_t result;
    if (shift >= 64 || (shift > 0 && whole > (UINT64_MAX >> shift)))
        return INSTAR_E_SIZE_RANGE;
    result = whole << shift;
    if (frac != 0) {
        /* round(frac * 2^shift / frac_scale), half up, in 128 bits. */
        unsigned __int128 num = (unsigned __int128)frac << shift;
        uint64_t part = (uint64_t)((num + frac_scale / 2) / frac_scale);
        if (!instar_add_u64(result, part, &result))
            return INSTAR_E_SIZE_RANGE;
    }
    *out = result;
    return INSTAR_OK;
}

int instar_parse_size_spec(const char *text, struct instar_size_spec *out)
{
    if (text == NULL)
        return INSTAR_E_SIZE_SYNTAX;
    /* Exactly one sign character is stripped, as qemu-img does; what
     * follows is a plain size ("+-1M" and "--1M" are syntax errors). */
    out->sign = INSTAR_SIZE_ABSOLUTE;
    if (text[0] == '+') {
        out->sign = INSTAR_SIZE_PLUS;
        text++;
    } else if (text[0] == '-') {
        out->sign = INSTAR_SIZE_MINUS;
        text++;
    }
    return instar_parse_size(text, &out->amount);
}

int instar_size_spec_resolve(const struct instar_size_spec *spec,
                             uint64_t current, uint64_t *out)
{
    /* qemu-img: total = current +/- (int64)n in wrapping int64 arithmetic,
     * then "total <= 0" is refused.  Reproduce that exactly. */
    uint64_t total;
    switch (spec->sign) {
    case INSTAR_SIZE_PLUS:
        total = current + spec->amount;
        break;
    case INSTAR_SIZE_MINUS:
        total = current - spec->amount;
        break;
    case INSTAR_SIZE_ABSOLUTE:
    default:
        total = spec->amount;
        break;
    }
    if (total == 0 || total > (uint64_t)INT64_MAX)
        return INSTAR_E_SIZE_NOT_POSITIVE;
    *out = total;
    return INSTAR_OK;
}
