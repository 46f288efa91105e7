/* SPDX-License-Identifier: GPL-3.0-or-later */
/* request.c -- the checks every resize runs first, in qemu-img's order. */
#include <config.h>

#include <stdint.h>

#include "instar/error.h"
#include "instar/resize.h"

int instar_resize_check_request(const struct instar_resize_request *req,
                                uint64_t current_size)
{
    /* qemu-img computes the total as int64: 0 and anything >= 2^63 is
     * "not positive" before any format sees it. */
    if (req->new_size == 0 || req->new_size > (uint64_t)INT64_MAX)
        return INSTAR_E_SIZE_NOT_POSITIVE;
    if ((unsigned)req->prealloc > INSTAR_PREALLOC_FULL)
        return INSTAR_E_INVALID_OPTION;
    if (req->prealloc != INSTAR_PREALLOC_OFF && req->new_size <= current_size)
        return INSTAR_E_PREALLOC_NOT_GROW;
    if (req->new_size < current_size && !req->allow_shrink)
        return INSTAR_E_SHRINK_NEEDS_FLAG;
    return INSTAR_OK;
}
