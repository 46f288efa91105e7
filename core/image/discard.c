/* SPDX-License-Identifier: GPL-3.0-or-later */
/* discard.c -- giving back the space of the clusters a plan released, as
 * qemu discards them (a qcow2 shrink punches holes where its dropped data
 * lay: iotest 250).  Only after every patch: the clusters are unreferenced
 * on disk by then, so a crash before or during this step costs space, not
 * data.  Best effort: where the file system cannot punch holes (or the
 * store has no discard), the space simply stays allocated. */
#include <config.h>

#include "image/engine.h"
#include "instar/error.h"

void instar_plan_discard(struct instar_io *io, const struct instar_resize_plan *plan)
{
    int saved_errno = io->sys_errno;
    if (io->ops->discard == NULL)
        return;
    for (size_t i = 0; i < plan->ndiscards && i < INSTAR_MAX_DISCARDS; i++) {
        uint64_t off = plan->discards[i].offset, len = plan->discards[i].length;
        if (off >= plan->total_file_size)
            continue;
        if (len > plan->total_file_size - off)
            len = plan->total_file_size - off;
        /* One refusal (EOPNOTSUPP, ...) means the rest will fail too. */
        if (len > 0 && io->ops->discard(io, off, len) != INSTAR_OK)
            break;
    }
    io->sys_errno = saved_errno;
}
