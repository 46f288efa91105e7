/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qcow2-create.h -- writing a new qcow2 image (internal to the core). */
#ifndef INSTAR_QCOW2_CREATE_H
#define INSTAR_QCOW2_CREATE_H

#include "instar/image.h"

/* Write a new qcow2 image of O->size bytes (already rounded to 512) into
 * the empty store IO, as qemu-img create does. */
/* Every refusal instar_qcow2_create can make before writing, no I/O. */
int instar_qcow2_create_check(const struct instar_create_opts *o, struct instar_diag *diag);
int instar_qcow2_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag);

#endif
