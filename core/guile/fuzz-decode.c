/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-decode.c -- (fuzz-decode bytevector): the 32-byte fuzz header of
 * (instar/fuzz.h) as an alist, so corpus files can be read from Scheme.
 * The decoding is the core's own (instar/fuzz.h), shared with the fuzz
 * targets and `instar-img fuzz-explain'. */
#include <config.h>

#include "instar-guile.h"
#include "instar/error.h"
#include "instar/fuzz.h"

#define ENTRY(name, value) scm_cons(scm_from_utf8_symbol(name), (value))

SCM_DEFINE(scm_instar_fuzz_decode, "fuzz-decode", 1, 0, 0, (SCM input),
           "(fuzz-decode BV) -- the 32-byte fuzz header (manual: Coverage fuzzing)\n"
           "as an alist: target, format-byte, flags, allow-shrink?, extended-l2?,\n"
           "lazy-refcounts?, raw-slices?, prealloc, refcount-selector, refcount-bits,\n"
           "subformat, unit-size, current-virtual-size, new-virtual-size,\n"
           "current-file-size, pool-length.  Raises instar-error parse-failed below\n"
           "32 bytes.")
#define FUNC_NAME s_scm_instar_fuzz_decode
{
    struct instar_fuzz_header h;
    SCM_VALIDATE_BYTEVECTOR(SCM_ARG1, input);
    size_t len = SCM_BYTEVECTOR_LENGTH(input);
    int rc = instar_fuzz_decode_header((const uint8_t *)SCM_BYTEVECTOR_CONTENTS(input), len, &h);
    scm_remember_upto_here_1(input);
    if (rc != INSTAR_OK)
        instar_guile_throw(rc, "fuzz input shorter than its 32-byte header",
                           scm_list_1(scm_from_size_t(len)));

    return scm_list_n(
        ENTRY("target", scm_from_utf8_symbol(instar_fuzz_target_name(h.target))),
        ENTRY("format-byte", scm_from_uint8(h.format_byte)),
        ENTRY("flags", scm_from_uint8(h.flags)),
        ENTRY("allow-shrink?", scm_from_bool(h.allow_shrink)),
        ENTRY("extended-l2?", scm_from_bool(h.extended_l2)),
        ENTRY("lazy-refcounts?", scm_from_bool(h.lazy_refcounts)),
        ENTRY("raw-slices?", scm_from_bool(h.raw_slices)),
        ENTRY("prealloc", scm_from_utf8_symbol(instar_prealloc_name(h.prealloc))),
        ENTRY("refcount-selector", scm_from_uint8(h.refcount_sel)),
        ENTRY("refcount-bits", scm_from_uint32(h.refcount_bits)),
        ENTRY("subformat", scm_from_uint8(h.subformat)),
        ENTRY("unit-size", scm_from_uint32(h.unit_size)),
        ENTRY("current-virtual-size", scm_from_uint64(h.current_virtual_size)),
        ENTRY("new-virtual-size", scm_from_uint64(h.new_virtual_size)),
        ENTRY("current-file-size", scm_from_uint64(h.current_file_size)),
        ENTRY("pool-length", scm_from_size_t(len - INSTAR_FUZZ_HEADER_LEN)),
        SCM_UNDEFINED);
}
#undef FUNC_NAME

void instar_guile_init_fuzz_decode(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "fuzz-decode.x"
#endif
}
