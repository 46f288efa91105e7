/* SPDX-License-Identifier: GPL-3.0-or-later */
/* format.c -- format names, the engine table and content probing. */
#include <config.h>

#include <string.h>

#include "image/engine.h"
#include "instar/error.h"
#include "instar/image.h"
#include "resize/qcow2-format.h"
#include "resize/vhd-format.h"
#include "resize/vhdx-format.h"
#include "resize/vmdk-format.h"
#include "util/endian.h"

static const char *const names[] = {
    [INSTAR_FORMAT_UNKNOWN] = "unknown",
    [INSTAR_FORMAT_RAW] = "raw",
    [INSTAR_FORMAT_QCOW2] = "qcow2",
    [INSTAR_FORMAT_VPC] = "vpc",
    [INSTAR_FORMAT_VHDX] = "vhdx",
    [INSTAR_FORMAT_VMDK] = "vmdk",
};

const char *instar_format_name(enum instar_format fmt)
{
    if ((unsigned)fmt < sizeof names / sizeof names[0])
        return names[fmt];
    return "unknown";
}

int instar_format_parse(const char *name, enum instar_format *out)
{
    for (unsigned i = INSTAR_FORMAT_RAW; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum instar_format)i;
            return INSTAR_OK;
        }
    }
    if (strcmp(name, "vhd") == 0) {
        *out = INSTAR_FORMAT_VPC;
        return INSTAR_OK;
    }
    return INSTAR_E_UNKNOWN_FORMAT;
}

const struct instar_format_engine *instar_engine_for(enum instar_format fmt)
{
    switch (fmt) {
    case INSTAR_FORMAT_RAW: return &instar_engine_raw;
    case INSTAR_FORMAT_QCOW2: return &instar_engine_qcow2;
    case INSTAR_FORMAT_VPC: return &instar_engine_vhd;
    case INSTAR_FORMAT_VHDX: return &instar_engine_vhdx;
    case INSTAR_FORMAT_VMDK: return &instar_engine_vmdk;
    case INSTAR_FORMAT_UNKNOWN:
    default: return NULL;
    }
}

/* Magic numbers at offset 0; a fixed VHD has its only footer at the end
 * (and looks like raw from the front), so the tail is read too. */
int instar_probe(struct instar_io *io, enum instar_format *out)
{
    uint8_t head[512];
    uint64_t size;
    int rc = instar_io_size(io, &size);
    if (rc != INSTAR_OK)
        return rc;
    rc = instar_io_read(io, head, sizeof head, 0);
    if (rc != INSTAR_OK)
        return rc;
    if (size >= 4 && instar_be32(head) == QCOW2_MAGIC)
        *out = INSTAR_FORMAT_QCOW2;
    else if (size >= 8 && memcmp(head, VHDX_FILE_SIGNATURE, VHDX_SIG_LEN(VHDX_FILE_SIGNATURE)) == 0)
        *out = INSTAR_FORMAT_VHDX;
    else if (size >= 4 && memcmp(head, VMDK_MAGIC, VMDK_MAGIC_LEN) == 0)
        *out = INSTAR_FORMAT_VMDK;
    /* A VMDK descriptor file (flat and split subformats): qemu probes it
     * as vmdk, and resizing it as raw would wreck the text. */
    else if (size >= sizeof VMDK_DESC_SIGNATURE - 1
             && memcmp(head, VMDK_DESC_SIGNATURE, sizeof VMDK_DESC_SIGNATURE - 1) == 0)
        *out = INSTAR_FORMAT_VMDK;
    else if (size >= 8 && memcmp(head, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) == 0)
        *out = INSTAR_FORMAT_VPC;
    else {
        *out = INSTAR_FORMAT_RAW;
        if (size >= 512) {
            uint8_t tail[512];
            rc = instar_io_read(io, tail, sizeof tail, size - 512);
            if (rc != INSTAR_OK)
                return rc;
            if (memcmp(tail, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) == 0)
                *out = INSTAR_FORMAT_VPC;
        }
    }
    return INSTAR_OK;
}
