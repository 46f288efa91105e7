/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdk-synth.c -- write a monolithicSparse VMDK with a layout qemu-img
 * never makes, to prove the planner does not assume qemu's:
 *
 *   vmdk-synth FILE SIZE GRAIN_SECTORS GTES [norgd]
 *
 * Layout: header, a 4-sector descriptor at sector 1, the GD *before* the
 * RGD, then the RGD's tables, then the GD's tables (reversed order, unlike
 * qemu), first grain at the next grain boundary.  "norgd" leaves the
 * redundant directory out (flags 0x1). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resize/vmdk-format.h"
#include "util/endian.h"

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s FILE SIZE GRAIN GTES [norgd]\n", argv[0]);
        return 2;
    }
    uint64_t size = strtoull(argv[2], NULL, 10), grain = strtoull(argv[3], NULL, 10);
    uint32_t gtes = (uint32_t)strtoul(argv[4], NULL, 10);
    int rgd = argc == 5;
    uint64_t cap = (size + 511) / 512, cover = grain * gtes;
    uint64_t n = (cap + cover - 1) / cover, gd_sec = (4 * n + 511) / 512;
    uint64_t gt_sec = instar_vmdk_gt_sectors(gtes);
    struct instar_vmdk_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.flags = VMDK_FLAG_NL_DETECT | (rgd ? VMDK_FLAG_RGD : 0);
    h.capacity = cap;
    h.grain = grain;
    h.desc_offset = 1;
    h.desc_sectors = 4;
    h.gtes = gtes;
    h.gd_offset = 5;
    h.rgd_offset = rgd ? 5 + gd_sec : 0;
    uint64_t rgt0 = 5 + gd_sec + (rgd ? gd_sec : 0);
    uint64_t gt0 = rgt0 + (rgd ? n * gt_sec : 0);
    uint64_t end = gt0 + n * gt_sec;
    h.overhead = (end + grain - 1) / grain * grain;
    memcpy(h.check_bytes, "\n \r\n", 4);

    size_t len = (size_t)(h.overhead * 512);
    uint8_t *img = calloc(1, len);
    if (img == NULL)
        return 1;
    instar_vmdk_header_encode(img, &h);
    const char *base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    snprintf((char *)img + 512, 4 * 512,
             "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
             "createType=\"monolithicSparse\"\n\n# Extent description\n"
             "RW %" PRIu64 " SPARSE \"%s\"\n\n# The Disk Data Base\n#DDB\n\n"
             "ddb.adapterType = \"lsilogic\"\nddb.geometry.sectors = \"63\"\n"
             "ddb.geometry.heads = \"255\"\nddb.geometry.cylinders = \"%" PRIu64 "\"\n"
             "ddb.uuid = \"60 00 c2 91 0f 1e 2d 3c-4b 5a 69 78 87 96 a5 b4\"\n",
             cap, base, cap * 512 / (255 * 63 * 512));
    for (uint64_t i = 0; i < n; i++) {
        instar_put_le32(img + 5 * 512 + 4 * i, (uint32_t)(gt0 + i * gt_sec));
        if (rgd)
            instar_put_le32(img + h.rgd_offset * 512 + 4 * i, (uint32_t)(rgt0 + i * gt_sec));
    }
    FILE *f = fopen(argv[1], "wb");
    if (f == NULL || fwrite(img, 1, len, f) != len || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    free(img);
    return 0;
}
