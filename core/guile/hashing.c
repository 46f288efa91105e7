/* SPDX-License-Identifier: GPL-3.0-or-later */
/* hashing.c -- xxh3-64 and xxh3-128 from libxxhash, for finding
 * signatures and corpus names.  Strings are hashed as their UTF-8 bytes,
 * so a string and the bytevector of its encoding hash alike.  */
#include <config.h>

#include <stdlib.h>

#include <xxhash.h>

#include "instar-guile.h"

/* Hash V (bytevector or string) with FN-like behaviour chosen by WIDE. */
static SCM hash(SCM v, int wide, const char *subr)
{
    const void *data;
    size_t len;
    char *owned = NULL;

    if (scm_is_bytevector(v)) {
        data = SCM_BYTEVECTOR_CONTENTS(v);
        len = SCM_BYTEVECTOR_LENGTH(v);
    } else if (scm_is_string(v)) {
        owned = scm_to_utf8_stringn(v, &len);
        data = owned;
    } else {
        scm_wrong_type_arg_msg(subr, SCM_ARG1, v, "bytevector or string");
        return SCM_BOOL_F;
    }
    SCM out;
    if (wide) {
        XXH128_hash_t h = XXH3_128bits(data, len);
        out = scm_logior(scm_ash(scm_from_uint64(h.high64), scm_from_int(64)),
                         scm_from_uint64(h.low64));
    } else {
        out = scm_from_uint64(XXH3_64bits(data, len));
    }
    free(owned);
    scm_remember_upto_here_1(v);
    return out;
}

SCM_DEFINE(scm_instar_xxh3_64, "xxh3-64", 1, 0, 0, (SCM data),
           "(xxh3-64 BV-OR-STRING) -- XXH3 64-bit hash (strings as UTF-8) as an\n"
           "exact integer.")
#define FUNC_NAME s_scm_instar_xxh3_64
{
    return hash(data, 0, FUNC_NAME);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_xxh3_128, "xxh3-128", 1, 0, 0, (SCM data),
           "(xxh3-128 BV-OR-STRING) -- XXH3 128-bit hash as one exact integer,\n"
           "high << 64 | low.")
#define FUNC_NAME s_scm_instar_xxh3_128
{
    return hash(data, 1, FUNC_NAME);
}
#undef FUNC_NAME

void instar_guile_init_hashing(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "hashing.x"
#endif
}
