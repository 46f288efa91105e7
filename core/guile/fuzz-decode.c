/* fuzz-decode.c -- (fuzz-decode bytevector): the 32-byte fuzz header of
 * DESIGN.md 3.5 as an alist, so corpus files can be read from Scheme.
 *
 * Decoded here field by field, little-endian, with no validation (the
 * numbers are hostile on purpose).  The fuzz layer's C decoder
 * (instar/fuzz.h) reads the same layout; when it lands this file should
 * call instar_fuzz_decode_header instead of repeating it.  */
#include <config.h>

#include <string.h>

#include "instar-guile.h"
#include "instar/error.h"

#define FUZZ_HEADER_LEN 32

static const char *const targets[6] = {
    "raw", "qcow2-grow", "qcow2-shrink", "vmdk", "vhd", "vhdx",
};

static const unsigned refcount_bits[8] = {1, 2, 4, 8, 16, 32, 64, 0xff};

static const char *const prealloc_names[4] = {"off", "metadata", "falloc", "full"};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define ENTRY(name, value) scm_cons(scm_from_utf8_symbol(name), (value))

SCM_DEFINE(scm_instar_fuzz_decode, "fuzz-decode", 1, 0, 0, (SCM input),
           "Decode the 32-byte header of a fuzz input (bytevector) into an alist.")
#define FUNC_NAME s_scm_instar_fuzz_decode
{
    SCM_VALIDATE_BYTEVECTOR(SCM_ARG1, input);
    size_t len = SCM_BYTEVECTOR_LENGTH(input);
    uint8_t h[FUZZ_HEADER_LEN];
    if (len < FUZZ_HEADER_LEN)
        instar_guile_throw(INSTAR_E_PARSE, "fuzz input shorter than its 32-byte header",
                           scm_list_1(scm_from_size_t(len)));
    memcpy(h, SCM_BYTEVECTOR_CONTENTS(input), sizeof h);
    scm_remember_upto_here_1(input);

    uint8_t flags = h[1];
    SCM alist = scm_list_n(
        ENTRY("target", scm_from_utf8_symbol(targets[h[0] % 6])),
        ENTRY("format-byte", scm_from_uint8(h[0])),
        ENTRY("flags", scm_from_uint8(flags)),
        ENTRY("allow-shrink?", scm_from_bool(flags & 0x01)),
        ENTRY("extended-l2?", scm_from_bool(flags & 0x02)),
        ENTRY("lazy-refcounts?", scm_from_bool(flags & 0x04)),
        ENTRY("raw-slices?", scm_from_bool(flags & 0x08)),
        ENTRY("prealloc", scm_from_utf8_symbol(prealloc_names[(flags >> 4) & 3])),
        ENTRY("refcount-selector", scm_from_uint8(h[2])),
        ENTRY("refcount-bits", scm_from_uint(refcount_bits[h[2] % 8])),
        ENTRY("subformat", scm_from_uint8(h[3])),
        ENTRY("unit-size", scm_from_uint32(le32(h + 4))),
        ENTRY("current-virtual-size", scm_from_uint64(le64(h + 8))),
        ENTRY("new-virtual-size", scm_from_uint64(le64(h + 16))),
        ENTRY("current-file-size", scm_from_uint64(le64(h + 24))),
        ENTRY("pool-length", scm_from_size_t(len - FUZZ_HEADER_LEN)),
        SCM_UNDEFINED);
    return alist;
}
#undef FUNC_NAME

void instar_guile_init_fuzz_decode(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "fuzz-decode.x"
#endif
}
