/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/error.h -- the one error space of the instar core.
 *
 * Every fallible function of the core returns an `int` that is either
 * INSTAR_OK (0) or one of the positive codes below.  instar_strerror()
 * gives the human message, instar_error_name() a stable lower-case symbol
 * (the Guile layer raises it as the `instar-error' key's first datum).  */
#ifndef INSTAR_ERROR_H
#define INSTAR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum instar_error {
    INSTAR_OK = 0,
    /* Planner answers. */
    INSTAR_E_INVALID_SIZE,          /* new size invalid for the format */
    INSTAR_E_SIZE_NOT_POSITIVE,     /* new size <= 0 (qemu: "must be positive") */
    INSTAR_E_NOT_SECTOR_MULTIPLE,   /* new size not a multiple of 512 */
    INSTAR_E_SHRINK_NEEDS_FLAG,     /* shrink requested without allow_shrink */
    INSTAR_E_PREALLOC_NOT_GROW,     /* preallocation on a shrink / same size */
    INSTAR_E_UNSUPPORTED_FORMAT,
    INSTAR_E_UNSUPPORTED_SUBFORMAT,
    INSTAR_E_UNSUPPORTED_SHRINK,
    INSTAR_E_UNSUPPORTED_PREALLOC,
    INSTAR_E_OVERFLOW,              /* size arithmetic would overflow */
    INSTAR_E_TOO_LARGE,             /* beyond the format's limit */
    INSTAR_E_SCRATCH_TOO_SMALL,
    INSTAR_E_NOT_STAGED,            /* a table the plan needs was not staged */
    INSTAR_E_NEEDS_CHECK,           /* dirty or corrupt image: check/repair first */
    INSTAR_E_HEADER_MISMATCH,       /* options disagree with staged bytes */
    INSTAR_E_PARSE,                 /* staged metadata is malformed */
    INSTAR_E_BITMAPS,               /* persistent bitmaps present */
    INSTAR_E_SNAPSHOTS,             /* internal snapshots block the operation */
    /* Host / engine answers. */
    INSTAR_E_INVALID_ARGUMENT,
    INSTAR_E_SIZE_SYNTAX,           /* a size spec that does not parse */
    INSTAR_E_SIZE_RANGE,            /* a size spec beyond 2^64 - 1 */
    INSTAR_E_INVALID_OPTION,        /* bad create/resize option */
    INSTAR_E_UNKNOWN_FORMAT,        /* probing found no known format */
    INSTAR_E_IO,                    /* a system call failed (see errno detail) */
    INSTAR_E_NOMEM,
    INSTAR_E_FILE_TOO_LARGE,        /* the host refused the length (EFBIG) */
    INSTAR_E_TIMEOUT,
    INSTAR_E_LOCKED,                /* another open of the image holds a conflicting lock */
    INSTAR_E__COUNT                 /* not an error: number of codes */
};

/* The message for CODE; never NULL ("unknown error" for foreign codes). */
const char *instar_strerror(int code);

/* A stable symbol for CODE, e.g. "shrink-needs-flag"; never NULL. */
const char *instar_error_name(int code);

#ifdef __cplusplus
}
#endif
#endif
