/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-header.c -- decode and encode the 512-byte hosted sparse extent
 * header (VMDK4).  Pure: no validation beyond the magic; the planner and
 * the engine judge the numbers. */
#include <config.h>

#include <string.h>

#include "resize/vmdk-format.h"
#include "util/endian.h"

bool instar_vmdk_header_decode(const uint8_t *p, struct instar_vmdk_header *h)
{
    memset(h, 0, sizeof *h);
    if (memcmp(p + VMDK_H_MAGIC, VMDK_MAGIC, VMDK_MAGIC_LEN) != 0)
        return false;
    h->version = instar_le32(p + VMDK_H_VERSION);
    h->flags = instar_le32(p + VMDK_H_FLAGS);
    h->capacity = instar_le64(p + VMDK_H_CAPACITY);
    h->grain = instar_le64(p + VMDK_H_GRAIN);
    h->desc_offset = instar_le64(p + VMDK_H_DESC_OFFSET);
    h->desc_sectors = instar_le64(p + VMDK_H_DESC_SECTORS);
    h->gtes = instar_le32(p + VMDK_H_GTES);
    h->rgd_offset = instar_le64(p + VMDK_H_RGD_OFFSET);
    h->gd_offset = instar_le64(p + VMDK_H_GD_OFFSET);
    h->overhead = instar_le64(p + VMDK_H_OVERHEAD);
    h->unclean = p[VMDK_H_UNCLEAN];
    memcpy(h->check_bytes, p + VMDK_H_CHECK_BYTES, 4);
    h->compress = instar_le16(p + VMDK_H_COMPRESS);
    return true;
}

void instar_vmdk_header_encode(uint8_t *p, const struct instar_vmdk_header *h)
{
    memcpy(p + VMDK_H_MAGIC, VMDK_MAGIC, VMDK_MAGIC_LEN);
    instar_put_le32(p + VMDK_H_VERSION, h->version);
    instar_put_le32(p + VMDK_H_FLAGS, h->flags);
    instar_put_le64(p + VMDK_H_CAPACITY, h->capacity);
    instar_put_le64(p + VMDK_H_GRAIN, h->grain);
    instar_put_le64(p + VMDK_H_DESC_OFFSET, h->desc_offset);
    instar_put_le64(p + VMDK_H_DESC_SECTORS, h->desc_sectors);
    instar_put_le32(p + VMDK_H_GTES, h->gtes);
    instar_put_le64(p + VMDK_H_RGD_OFFSET, h->rgd_offset);
    instar_put_le64(p + VMDK_H_GD_OFFSET, h->gd_offset);
    instar_put_le64(p + VMDK_H_OVERHEAD, h->overhead);
    p[VMDK_H_UNCLEAN] = h->unclean;
    memcpy(p + VMDK_H_CHECK_BYTES, h->check_bytes, 4);
    instar_put_le16(p + VMDK_H_COMPRESS, h->compress);
}
