/* SPDX-License-Identifier: GPL-3.0-or-later */
/* request.c -- the checks every resize runs first, in qemu-img's order,
 * and the refusal reasons every planner gives (refuse.h). */
#include <config.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/refuse.h"

void instar_refusal_start(const struct instar_resize_request *req)
{
    if (req->why) {
        req->why->reason = NULL;
        req->why->table = NULL;
        req->why->index = 0;
    }
}

int instar_refuse_at(const struct instar_resize_request *req, int code, const char *table,
                     uint64_t index, const char *reason)
{
    if (req->why && req->why->reason == NULL && reason != NULL) {
        req->why->reason = reason;
        req->why->table = table;
        req->why->index = index;
    }
    return code;
}

int instar_refuse(const struct instar_resize_request *req, int code, const char *reason)
{
    return instar_refuse_at(req, code, NULL, 0, reason);
}

char *instar_refusal_format(const struct instar_refusal *r, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (r == NULL || r->reason == NULL)
        return buf;
    if (r->table)
        snprintf(buf, len, "%s %" PRIu64 " %s", r->table, r->index, r->reason);
    else
        snprintf(buf, len, "%s", r->reason);
    return buf;
}

int instar_resize_check_request(const struct instar_resize_request *req,
                                uint64_t current_size)
{
    /* qemu-img computes the total as int64: 0 and anything >= 2^63 is
     * "not positive" before any format sees it. */
    if (req->new_size == 0 || req->new_size > (uint64_t)INT64_MAX)
        return instar_refuse(req, INSTAR_E_SIZE_NOT_POSITIVE,
                             "the new size is 0 or at least 2^63");
    if ((unsigned)req->prealloc > INSTAR_PREALLOC_FULL)
        return instar_refuse(req, INSTAR_E_INVALID_OPTION, "unknown preallocation mode");
    if (req->prealloc != INSTAR_PREALLOC_OFF && req->new_size <= current_size)
        return instar_refuse(req, INSTAR_E_PREALLOC_NOT_GROW,
                             "preallocation needs a new size above the current one");
    if (req->new_size < current_size && !req->allow_shrink)
        return instar_refuse(req, INSTAR_E_SHRINK_NEEDS_FLAG,
                             "the new size is below the current one and shrink was not allowed");
    return INSTAR_OK;
}
