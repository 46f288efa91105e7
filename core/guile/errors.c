/* SPDX-License-Identifier: GPL-3.0-or-later */
/* errors.c -- the instar-error key and argument conversion.
 *
 * C errors become (throw 'instar-error 'NAME "message" . details); bad
 * Scheme arguments become Guile's own wrong-type-arg / out-of-range
 * errors, so callers can tell "the core refused" from "you called it
 * wrongly".  Every conversion checks before it narrows: nothing a Scheme
 * caller passes can reach the core out of range.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar-guile.h"
#include "instar/error.h"

SCM_SYMBOL(instar_error_key, "instar-error");
SCM_SYMBOL(sym_off, "off");
SCM_SYMBOL(sym_metadata, "metadata");
SCM_SYMBOL(sym_falloc, "falloc");
SCM_SYMBOL(sym_full, "full");

void instar_guile_throw(int code, const char *message, SCM details)
{
    /* The core words this refusal for the command line (--shrink); a
     * Scheme caller passes a keyword, so the message names that. */
    if (code == INSTAR_E_SHRINK_NEEDS_FLAG)
        message = "Use #:shrink? #t to perform a shrink operation.";
    if (message == NULL || message[0] == '\0')
        message = instar_strerror(code);
    SCM args = scm_cons2(scm_from_utf8_symbol(instar_error_name(code)),
                         scm_from_utf8_string(message),
                         SCM_UNBNDP(details) ? SCM_EOL : details);
    scm_throw(instar_error_key, args);
    abort(); /* scm_throw does not return */
}

SCM instar_guile_sym(const char *name)
{
    return scm_from_utf8_symbol(name);
}

SCM instar_guile_u64(uint64_t v)
{
    return scm_from_uint64(v);
}

static SCM_NORETURN void wrong_type(SCM v, const char *subr, int pos, const char *what,
                                    const char *expected)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s for %s", expected, what);
    scm_wrong_type_arg_msg(subr, pos, v, msg);
    abort();
}

static SCM_NORETURN void out_of_range(SCM v, const char *subr, int pos, const char *what,
                                      const char *range)
{
    char msg[200];
    (void)pos;
    snprintf(msg, sizeof msg, "Value out of range for %s (%s): ~S", what, range);
    scm_error(scm_out_of_range_key, subr, msg, scm_list_1(v), scm_list_1(v));
    abort();
}

/* V as an exact integer from 0 to MAX (RANGE says it in words). */
static uint64_t to_unsigned(SCM v, const char *subr, int pos, const char *what, uint64_t max,
                            const char *range)
{
    if (!scm_is_exact_integer(v))
        wrong_type(v, subr, pos, what, "exact integer");
    if (!scm_is_unsigned_integer(v, 0, max))
        out_of_range(v, subr, pos, what, range);
    return scm_to_uint64(v);
}

uint64_t instar_guile_to_u64(SCM v, const char *subr, int pos, const char *what)
{
    return to_unsigned(v, subr, pos, what, UINT64_MAX, "0 to 2^64-1");
}

uint32_t instar_guile_to_u32(SCM v, const char *subr, int pos, const char *what)
{
    return (uint32_t)to_unsigned(v, subr, pos, what, UINT32_MAX, "0 to 2^32-1");
}

int instar_guile_to_bool(SCM v, const char *subr, int pos, const char *what)
{
    if (!scm_is_bool(v))
        wrong_type(v, subr, pos, what, "boolean");
    return scm_is_true(v);
}

/* V, a symbol or a string, as a C string in BUF ("" when too long to be
 * any name we know); a wrong-type error naming EXPECTED when it is
 * neither. */
static const char *name_of(SCM v, char *buf, size_t cap, const char *subr, int pos,
                           const char *what, const char *expected)
{
    SCM s;
    if (scm_is_symbol(v))
        s = scm_symbol_to_string(v);
    else if (scm_is_string(v))
        s = v;
    else
        wrong_type(v, subr, pos, what, expected);
    size_t n;
    char *c = scm_to_utf8_stringn(s, &n);
    if (n >= cap || memchr(c, '\0', n) != NULL) {
        free(c);
        buf[0] = '\0';
        return buf;
    }
    memcpy(buf, c, n + 1);
    free(c);
    return buf;
}

enum instar_prealloc instar_guile_to_prealloc(SCM v, const char *subr, int pos,
                                              const char *what)
{
    char buf[32];
    enum instar_prealloc p;
    /* The usual symbols without a round trip through C strings. */
    if (SCM_UNBNDP(v) || scm_is_false(v) || scm_is_eq(v, sym_off))
        return INSTAR_PREALLOC_OFF;
    if (scm_is_eq(v, sym_falloc))
        return INSTAR_PREALLOC_FALLOC;
    if (scm_is_eq(v, sym_full))
        return INSTAR_PREALLOC_FULL;
    if (scm_is_eq(v, sym_metadata))
        return INSTAR_PREALLOC_METADATA;
    const char *s = name_of(v, buf, sizeof buf, subr, pos, what,
                            "symbol (off metadata falloc full)");
    if (instar_prealloc_parse(s, &p) != INSTAR_OK)
        out_of_range(v, subr, pos, what, "off, metadata, falloc or full");
    return p;
}

enum instar_format instar_guile_to_format(SCM v, const char *subr, int pos,
                                          const char *what)
{
    char buf[32];
    enum instar_format f;
    if (SCM_UNBNDP(v) || scm_is_false(v))
        return INSTAR_FORMAT_UNKNOWN;
    const char *s = name_of(v, buf, sizeof buf, subr, pos, what,
                            "symbol (raw qcow2 vpc vhdx vmdk)");
    if (instar_format_parse(s, &f) != INSTAR_OK)
        out_of_range(v, subr, pos, what, "raw, qcow2, vpc (vhd), vhdx or vmdk");
    return f;
}

struct instar_slice instar_guile_to_slice(SCM v, const char *subr, int pos,
                                          const char *what)
{
    struct instar_slice s = {NULL, 0};
    if (SCM_UNBNDP(v) || scm_is_false(v))
        return s;
    if (!scm_is_bytevector(v))
        wrong_type(v, subr, pos, what, "bytevector");
    s.len = SCM_BYTEVECTOR_LENGTH(v);
    s.data = s.len ? (const uint8_t *)SCM_BYTEVECTOR_CONTENTS(v) : NULL;
    return s;
}

char *instar_guile_to_cstring(SCM v, const char *subr, int pos, const char *what)
{
    if (!scm_is_string(v))
        wrong_type(v, subr, pos, what, "string");
    size_t n;
    char *c = scm_to_utf8_stringn(v, &n);
    if (memchr(c, '\0', n) != NULL) {
        free(c);
        out_of_range(v, subr, pos, what, "a string without NUL characters");
    }
    return c;
}

void instar_guile_init_errors(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "errors.x"
#endif
}
