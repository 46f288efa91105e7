/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-size.c -- the size-spec parser at its edges, against the behaviour
 * measured from qemu-img 7.2 on Debian 12. */
#include <config.h>

#include <stdint.h>

#include "instar/error.h"
#include "instar/size.h"
#include "tap.h"

static void accepts(const char *text, uint64_t want)
{
    uint64_t got = 0;
    int rc = instar_parse_size(text, &got);
    ok(rc == INSTAR_OK && got == want, "'%s' = %" PRIu64 " (rc %d, got %" PRIu64 ")",
       text, want, rc, got);
}

static void rejects(const char *text, int want_rc)
{
    uint64_t got = 0;
    int rc = instar_parse_size(text, &got);
    ok(rc == want_rc, "'%s' rejected as %s (got %s)", text,
       instar_error_name(want_rc), instar_error_name(rc));
}

static void test_plain(void)
{
    accepts("0", 0);
    accepts("1", 1);
    accepts("513", 513);
    accepts("0017", 17);
    accepts(" 16M", 16u << 20);
    accepts("18446744073709551615", UINT64_MAX);
    accepts("16777216.0", 16777216);
    accepts("+5", 5);
    rejects("18446744073709551616", INSTAR_E_SIZE_RANGE);
    rejects("99999999999999999999999", INSTAR_E_SIZE_RANGE);
    rejects("", INSTAR_E_SIZE_SYNTAX);
    rejects("-", INSTAR_E_SIZE_SYNTAX);
    rejects("+", INSTAR_E_SIZE_SYNTAX);
    rejects("abc", INSTAR_E_SIZE_SYNTAX);
    rejects("-1", INSTAR_E_SIZE_SYNTAX);
    rejects("16M ", INSTAR_E_SIZE_SYNTAX);
    rejects("1 M", INSTAR_E_SIZE_SYNTAX);
    rejects("1KiB", INSTAR_E_SIZE_SYNTAX);
    rejects("1e6", INSTAR_E_SIZE_SYNTAX);
    rejects("32M5", INSTAR_E_SIZE_SYNTAX);
    rejects("1.5", INSTAR_E_SIZE_SYNTAX);
    rejects(".", INSTAR_E_SIZE_SYNTAX);
}

static void test_suffixes(void)
{
    static const char units[] = "bkmgtpe";
    for (int i = 0; units[i]; i++) {
        char lower[3] = {'1', units[i], 0};
        char upper[3] = {'1', (char)(units[i] - 'a' + 'A'), 0};
        accepts(lower, (uint64_t)1 << (10 * i));
        accepts(upper, (uint64_t)1 << (10 * i));
    }
    accepts("15E", 15ull << 60);
    accepts("8E", 8ull << 60);
    rejects("16E", INSTAR_E_SIZE_RANGE);
    rejects("17179869184G", INSTAR_E_SIZE_RANGE);  /* 2^64 */
    accepts("17179869183G", 17179869183ull << 30);
}

static void test_fractions(void)
{
    accepts("1.5M", 1572864);
    accepts("1.1K", 1126);
    accepts("0.1K", 102);
    accepts("1.0000001M", 1048576);
    accepts("0.5K", 512);
    accepts("15.99E", 15ull * (1ull << 60) + 1141392289560778506ull);
}

static void test_hex(void)
{
    accepts("0x1000000", 16u << 20);
    accepts("0x1000000K", (uint64_t)0x1000000 << 10);
    accepts("0xffffffffffffffff", UINT64_MAX);
    rejects("0x10000000000000000", INSTAR_E_SIZE_RANGE);
    rejects("0x10.5", INSTAR_E_SIZE_SYNTAX);
    rejects("0xg", INSTAR_E_SIZE_SYNTAX);
}

static void spec(const char *text, enum instar_size_sign sign, uint64_t amount)
{
    struct instar_size_spec s;
    int rc = instar_parse_size_spec(text, &s);
    ok(rc == INSTAR_OK && s.sign == sign && s.amount == amount,
       "spec '%s' parses as sign %d amount %" PRIu64, text, (int)sign, amount);
}

static void resolve(enum instar_size_sign sign, uint64_t amount, uint64_t current,
                    int want_rc, uint64_t want)
{
    struct instar_size_spec s = {sign, amount};
    uint64_t got = 0;
    int rc = instar_size_spec_resolve(&s, current, &got);
    ok(rc == want_rc && (rc != INSTAR_OK || got == want),
       "resolve sign %d %" PRIu64 " on %" PRIu64 " -> %s %" PRIu64,
       (int)sign, amount, current, instar_error_name(want_rc), want);
}

static void test_specs(void)
{
    struct instar_size_spec s;
    spec("16M", INSTAR_SIZE_ABSOLUTE, 16u << 20);
    spec("+1M", INSTAR_SIZE_PLUS, 1u << 20);
    spec("-1M", INSTAR_SIZE_MINUS, 1u << 20);
    spec("-+1M", INSTAR_SIZE_MINUS, 1u << 20);
    ok(instar_parse_size_spec("+-1M", &s) == INSTAR_E_SIZE_SYNTAX, "'+-1M' is a syntax error");
    ok(instar_parse_size_spec("--1M", &s) == INSTAR_E_SIZE_SYNTAX, "'--1M' is a syntax error");
    ok(instar_parse_size_spec(NULL, &s) == INSTAR_E_SIZE_SYNTAX, "NULL is a syntax error");

    resolve(INSTAR_SIZE_ABSOLUTE, 1, 0, INSTAR_OK, 1);
    resolve(INSTAR_SIZE_ABSOLUTE, 0, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_MINUS, 16, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_MINUS, 17, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_MINUS, 15, 16, INSTAR_OK, 1);
    resolve(INSTAR_SIZE_PLUS, 0, 16, INSTAR_OK, 16);
    resolve(INSTAR_SIZE_PLUS, (uint64_t)INT64_MAX, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_PLUS, (uint64_t)INT64_MAX - 16, 16, INSTAR_OK, (uint64_t)INT64_MAX);
    resolve(INSTAR_SIZE_ABSOLUTE, 8ull << 60, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_ABSOLUTE, UINT64_MAX, 16, INSTAR_E_SIZE_NOT_POSITIVE, 0);
    resolve(INSTAR_SIZE_ABSOLUTE, (uint64_t)INT64_MAX, 16, INSTAR_OK, (uint64_t)INT64_MAX);
    resolve(INSTAR_SIZE_MINUS, UINT64_MAX, 16, INSTAR_OK, 17);  /* wraps, as qemu's int64 */
}

int main(void)
{
    test_plain();
    test_suffixes();
    test_fractions();
    test_hex();
    test_specs();
    return tap_done();
}
