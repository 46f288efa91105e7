/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-create.c -- create a monolithicSparse VMDK exactly as qemu-img 7.2
 * lays it out: header, 20-sector embedded descriptor, redundant grain
 * directory and its tables, grain directory and its tables (all tables
 * preallocated and zero), first grain at the next 64 KiB boundary. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/engine.h"
#include "image/vmdk-create.h"
#include "instar/error.h"
#include "resize/vmdk-format.h"
#include "util/endian.h"
#include "util/random.h"

static const char *base_name(const char *path)
{
    const char *slash;
    if (path == NULL || *path == '\0')
        return "image.vmdk";
    slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int write_dir(struct instar_io *io, uint64_t dir, uint64_t first_gt,
                     uint64_t gt_count, uint64_t gd_sectors)
{
    size_t len = (size_t)(gd_sectors * 512);
    uint8_t *buf;
    int rc;
    if (len == 0)
        return INSTAR_OK;
    buf = calloc(1, len);
    if (buf == NULL)
        return INSTAR_E_NOMEM;
    for (uint64_t i = 0; i < gt_count; i++)
        instar_put_le32(buf + 4 * i, (uint32_t)(first_gt + 4 * i));
    rc = instar_io_write(io, buf, len, dir * 512);
    free(buf);
    return rc;
}

/* qemu's refusals of the options, and ours (subformats other than
 * monolithicSparse; sizes qemu cannot describe).  ADAPTER: the one used. */
static int vmdk_params(const struct instar_create_opts *o, const char **adapter,
                       struct instar_diag *diag)
{
    static const char *const adapters[] = { "ide", "buslogic", "lsilogic", "legacyESX" };
    static const char *const others[] = { "streamOptimized", "monolithicFlat",
                                          "twoGbMaxExtentSparse", "twoGbMaxExtentFlat" };
    bool known = false;

    /* Given explicitly (even empty), each must name a known value. */
    if ((o->subformat_set || o->subformat[0] != '\0')
        && strcmp(o->subformat, "monolithicSparse") != 0) {
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
            if (strcmp(o->subformat, others[i]) == 0)
                return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_SUBFORMAT,
                                       "VMDK subformat '%s' is not supported "
                                       "(instar-img creates monolithicSparse only)", o->subformat);
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "invalid parameter value: %s", o->subformat);
    }
    *adapter = o->adapter_type_set || o->adapter_type[0] ? o->adapter_type : "ide";
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        known = known || strcmp(*adapter, adapters[i]) == 0;
    if (!known)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "invalid parameter value: %s", *adapter);
    /* qemu's vmdk driver takes no preallocation option; falloc and full
     * reach the (then empty) file and change nothing, metadata is refused. */
    if (o->prealloc == INSTAR_PREALLOC_METADATA)
        return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_PREALLOC,
                               "Unsupported preallocation mode: metadata");
    /* qemu 7.2 counts grains in 32 bits: from 256 TiB on its header is
     * garbage and the image cannot be opened.  Refuse instead. */
    if ((o->size / 512 + VMDK_QEMU_GRAIN - 1) / VMDK_QEMU_GRAIN > UINT32_MAX)
        return instar_diag_set(diag, INSTAR_E_TOO_LARGE,
                               "VMDK images of 256 TiB and more are not supported "
                               "(qemu-img 7.2 writes an unusable header for them)");
    /* The descriptor holds the file's base name; its 20 sectors must. */
    if (strlen(base_name(o->path)) > VMDK_QEMU_DESC_SECTORS * 512 / 2)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "file name too long for the VMDK descriptor");
    return INSTAR_OK;
}

int instar_vmdk_create_check(const struct instar_create_opts *o, struct instar_diag *diag)
{
    const char *adapter;
    return vmdk_params(o, &adapter, diag);
}

int instar_vmdk_create(struct instar_io *io, const struct instar_create_opts *o,
                       struct instar_diag *diag)
{
    const char *adapter;
    struct instar_vmdk_header h;
    uint8_t hdr[VMDK_HEADER_SIZE];
    char desc[VMDK_QEMU_DESC_SECTORS * 512];
    int rc = vmdk_params(o, &adapter, diag), n;
    if (rc != INSTAR_OK)
        return rc;

    const uint64_t sectors = o->size / 512;
    const uint64_t grains = (sectors + VMDK_QEMU_GRAIN - 1) / VMDK_QEMU_GRAIN;
    const uint64_t gt_count = (grains + VMDK_QEMU_GTES - 1) / VMDK_QEMU_GTES;
    const uint64_t gt_sectors = instar_vmdk_gt_sectors(VMDK_QEMU_GTES);
    const uint64_t gd_sectors = (gt_count * 4 + 511) / 512;

    memset(&h, 0, sizeof h);
    h.version = o->zeroed_grain ? 2 : 1;
    h.flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD | (o->zeroed_grain ? VMDK_FLAG_ZERO_GRAIN : 0);
    h.capacity = sectors;
    h.grain = VMDK_QEMU_GRAIN;
    h.desc_offset = VMDK_QEMU_DESC_OFFSET;
    h.desc_sectors = VMDK_QEMU_DESC_SECTORS;
    h.gtes = VMDK_QEMU_GTES;
    h.rgd_offset = h.desc_offset + h.desc_sectors;
    h.gd_offset = h.rgd_offset + gd_sectors + gt_sectors * gt_count;
    h.overhead = (h.gd_offset + gd_sectors + gt_sectors * gt_count + VMDK_QEMU_GRAIN - 1)
                 / VMDK_QEMU_GRAIN * VMDK_QEMU_GRAIN;
    memcpy(h.check_bytes, "\n \r\n", 4);
    memset(hdr, 0, sizeof hdr);
    instar_vmdk_header_encode(hdr, &h);

    uint32_t cid;
    if (instar_random_u32_id(&cid) != INSTAR_OK)
        return instar_diag_set(diag, INSTAR_E_IO, "Could not generate a CID: no randomness");
    const bool ide = strcmp(adapter, "ide") == 0;
    const uint64_t heads = ide ? 16 : 255;
    n = snprintf(desc, sizeof desc,
                 "# Disk DescriptorFile\n"
                 "version=1\n"
                 "CID=%" PRIx32 "\n"
                 "parentCID=ffffffff\n"
                 "createType=\"monolithicSparse\"\n"
                 "\n"
                 "# Extent description\n"
                 "RW %" PRIu64 " SPARSE \"%s\"\n"
                 "\n"
                 "# The Disk Data Base\n"
                 "#DDB\n"
                 "\n"
                 "ddb.virtualHWVersion = \"4\"\n"
                 "ddb.geometry.cylinders = \"%" PRIu64 "\"\n"
                 "ddb.geometry.heads = \"%" PRIu64 "\"\n"
                 "ddb.geometry.sectors = \"63\"\n"
                 "ddb.adapterType = \"%s\"\n"
                 "ddb.toolsVersion = \"2147483647\"\n",
                 cid, sectors, base_name(o->path),
                 instar_vmdk_cylinders(o->size, heads, 63), heads, adapter);
    if (n < 0 || (size_t)n >= sizeof desc)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                               "file name too long for the VMDK descriptor");

    /* qemu's order: header, length, redundant directory, directory, text. */
    rc = instar_io_write(io, hdr, sizeof hdr, 0);
    if (rc == INSTAR_OK)
        rc = io->ops->set_size(io, h.overhead * 512);
    if (rc == INSTAR_OK)
        rc = write_dir(io, h.rgd_offset, h.rgd_offset + gd_sectors, gt_count, gd_sectors);
    if (rc == INSTAR_OK)
        rc = write_dir(io, h.gd_offset, h.gd_offset + gd_sectors, gt_count, gd_sectors);
    if (rc == INSTAR_OK)
        rc = instar_io_write(io, desc, (size_t)n, h.desc_offset * 512);
    if (rc == INSTAR_OK)
        rc = io->ops->sync(io);
    if (rc != INSTAR_OK)
        return instar_diag_set(diag, rc, "Could not write the VMDK image: %s",
                               instar_create_io_reason(io, rc));
    return INSTAR_OK;
}
