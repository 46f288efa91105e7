/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-create.h -- VMDK create (internal). */
#ifndef INSTAR_VMDK_CREATE_H
#define INSTAR_VMDK_CREATE_H

#include <stdint.h>

#include "instar/image.h"

/* Write a monolithicSparse image as qemu-img 7.2 does into an empty IO. */
/* Every refusal instar_vmdk_create can make before writing, no I/O. */
int instar_vmdk_create_check(const struct instar_create_opts *o, struct instar_diag *diag);
int instar_vmdk_create(struct instar_io *io, const struct instar_create_opts *o,
                       struct instar_diag *diag);

#endif
