/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-header.c -- decode and encode the 512-byte hosted sparse extent
 * header (VMDK4).  Pure: no validation beyond the magic; the planner and
 * the engine judge the numbers. */
#include <config.h>

#include <string.h>

#include "resize/vmdk.h"
#include "util/endian.h"

bool instar_vmdk_header_decode(const uint8_t *p, struct instar_vmdk_header *h)
{
    memset(h, 0, sizeof *h);
    if (memcmp(p, VMDK_MAGIC, 4) != 0)
        return false;
    h->version = instar_le32(p + 4);
    h->flags = instar_le32(p + 8);
    h->capacity = instar_le64(p + 12);
    h->grain = instar_le64(p + 20);
    h->desc_offset = instar_le64(p + 28);
    h->desc_sectors = instar_le64(p + 36);
    h->gtes = instar_le32(p + 44);
    h->rgd_offset = instar_le64(p + 48);
    h->gd_offset = instar_le64(p + 56);
    h->overhead = instar_le64(p + 64);
    h->unclean = p[72];
    memcpy(h->check_bytes, p + 73, 4);
    h->compress = instar_le16(p + 77);
    return true;
}

void instar_vmdk_header_encode(uint8_t *p, const struct instar_vmdk_header *h)
{
    memcpy(p, VMDK_MAGIC, 4);
    instar_put_le32(p + 4, h->version);
    instar_put_le32(p + 8, h->flags);
    instar_put_le64(p + 12, h->capacity);
    instar_put_le64(p + 20, h->grain);
    instar_put_le64(p + 28, h->desc_offset);
    instar_put_le64(p + 36, h->desc_sectors);
    instar_put_le32(p + 44, h->gtes);
    instar_put_le64(p + 48, h->rgd_offset);
    instar_put_le64(p + 56, h->gd_offset);
    instar_put_le64(p + 64, h->overhead);
    p[72] = h->unclean;
    memcpy(p + 73, h->check_bytes, 4);
    instar_put_le16(p + 77, h->compress);
}
