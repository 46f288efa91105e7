/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-create.h -- VHDX create and the engine's helpers (internal). */
#ifndef INSTAR_VHDX_CREATE_H
#define INSTAR_VHDX_CREATE_H

#include <stddef.h>

#include "instar/image.h"

/* Write a new VHDX image into the empty store IO as qemu-img 7.2 does
 * (O->size already rounded up to 512). */
/* Every refusal instar_vhdx_create can make before writing, no I/O. */
int instar_vhdx_create_check(const struct instar_create_opts *o, struct instar_diag *diag);
int instar_vhdx_create(struct instar_io *io, const struct instar_create_opts *o,
                       struct instar_diag *diag);

#endif
