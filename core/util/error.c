/* SPDX-License-Identifier: GPL-3.0-or-later */
/* error.c -- the core's one strerror table. */
#include <config.h>

#include <stddef.h>

#include "instar/error.h"

struct instar_error_entry {
    const char *name;
    const char *message;
};

/* Indexed by enum instar_error; keep in step with instar/error.h. */
static const struct instar_error_entry instar_errors[INSTAR_E__COUNT] = {
    [INSTAR_OK] = {"ok", "success"},
    [INSTAR_E_INVALID_SIZE] = {"invalid-new-size", "invalid new size for this format"},
    [INSTAR_E_SIZE_NOT_POSITIVE] = {"size-not-positive", "New image size must be positive"},
    [INSTAR_E_NOT_SECTOR_MULTIPLE] = {"not-sector-multiple", "The new size must be a multiple of 512"},
    [INSTAR_E_SHRINK_NEEDS_FLAG] = {"shrink-needs-flag", "Use the --shrink option to perform a shrink operation."},
    [INSTAR_E_PREALLOC_NOT_GROW] = {"prealloc-not-grow", "Preallocation can only be used for growing images"},
    [INSTAR_E_UNSUPPORTED_FORMAT] = {"unsupported-format", "image format not supported by this operation"},
    [INSTAR_E_UNSUPPORTED_SUBFORMAT] = {"unsupported-subformat", "image subformat not supported"},
    [INSTAR_E_UNSUPPORTED_SHRINK] = {"unsupported-shrink", "shrinking is not supported for this format"},
    [INSTAR_E_UNSUPPORTED_PREALLOC] = {"unsupported-prealloc", "preallocation mode not supported for this format"},
    [INSTAR_E_OVERFLOW] = {"overflow", "size arithmetic overflow"},
    [INSTAR_E_TOO_LARGE] = {"too-large", "size exceeds the format's limit"},
    [INSTAR_E_SCRATCH_TOO_SMALL] = {"scratch-too-small", "scratch buffer too small for the plan"},
    [INSTAR_E_NOT_STAGED] = {"not-staged", "a table the plan needs was not staged"},
    [INSTAR_E_NEEDS_CHECK] = {"needs-check", "image is dirty or corrupt; check and repair it first"},
    [INSTAR_E_HEADER_MISMATCH] = {"header-mismatch", "options disagree with the staged header"},
    [INSTAR_E_PARSE] = {"parse-failed", "image metadata is malformed"},
    [INSTAR_E_BITMAPS] = {"bitmaps-present", "image has persistent bitmaps"},
    [INSTAR_E_SNAPSHOTS] = {"snapshots-present", "internal snapshots prevent this operation"},
    [INSTAR_E_INVALID_ARGUMENT] = {"invalid-argument", "invalid argument"},
    [INSTAR_E_SIZE_SYNTAX] = {"size-syntax", "Parameter 'size' expects a non-negative number below 2^64"},
    [INSTAR_E_SIZE_RANGE] = {"size-range", "Value is out of range for parameter 'size'"},
    [INSTAR_E_INVALID_OPTION] = {"invalid-option", "invalid option"},
    [INSTAR_E_UNKNOWN_FORMAT] = {"unknown-format", "unknown image format"},
    [INSTAR_E_IO] = {"io-error", "input/output error"},
    [INSTAR_E_NOMEM] = {"out-of-memory", "out of memory"},
    [INSTAR_E_FILE_TOO_LARGE] = {"file-too-large", "File too large"},
    [INSTAR_E_TIMEOUT] = {"timeout", "operation timed out"},
    [INSTAR_E_LOCKED] = {"locked", "image is locked by another process"},
};

static const struct instar_error_entry *lookup(int code)
{
    if (code < 0 || code >= INSTAR_E__COUNT || instar_errors[code].name == NULL)
        return NULL;
    return &instar_errors[code];
}

const char *instar_strerror(int code)
{
    const struct instar_error_entry *e = lookup(code);
    return e ? e->message : "unknown error";
}

const char *instar_error_name(int code)
{
    const struct instar_error_entry *e = lookup(code);
    return e ? e->name : "unknown-error";
}
