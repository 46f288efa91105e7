/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhd-footer.c -- VHD geometry, size rounding, checksums and footer
 * parsing, as qemu 7.2's block/vpc.c reads and writes them. */
#include <config.h>

#include <string.h>

#include "instar/error.h"
#include "resize/vhd-format.h"
#include "util/endian.h"
#include "util/nocov.h"

void vhd_geometry(uint64_t total_sectors, struct vhd_chs *chs)
{
    uint32_t cth, heads, secs;

    if (total_sectors > VHD_MAX_GEOMETRY)
        total_sectors = VHD_MAX_GEOMETRY;
    if (total_sectors >= 65535ULL * 16 * 63) {
        secs = 255;
        heads = 16;
        cth = (uint32_t)(total_sectors / secs);
    } else {
        secs = 17;
        cth = (uint32_t)(total_sectors / secs);
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            secs = 31;
            heads = 16;
            cth = (uint32_t)(total_sectors / secs);
        }
        if (cth >= heads * 1024) {
            secs = 63;
            heads = 16;
            cth = (uint32_t)(total_sectors / secs);
        }
    }
    /* cth / heads <= 65535 by the clamp above, so the casts are exact. */
    chs->cyls = (uint16_t)(cth / heads);
    chs->heads = (uint8_t)heads;
    chs->secs = (uint8_t)secs;
}

/* Branch-free over the bytes and untraced: the fuzz decoder checksums
 * every synthesised footer and header with it. */
INSTAR_NO_COVERAGE
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += buf[i];
    for (size_t i = csum_off; i < csum_off + 4 && i < len; i++)
        sum -= buf[i];
    return ~sum;
}

bool vhd_creator_uses_chs(const uint8_t app[4])
{
    static const char *const by_size[] = {"win ", "qem2", "d2v ", "CTXS"};
    for (size_t i = 0; i < sizeof by_size / sizeof by_size[0]; i++)
        if (memcmp(app, by_size[i], 4) == 0)
            return false;
    /* qemu compares "tap" with memcmp over 4 bytes: the NUL counts. */
    return memcmp(app, "tap", 4) != 0;
}

int vhd_round_size(uint64_t bytes, bool force_size, uint64_t *stored,
                   struct vhd_chs *chs)
{
    uint64_t want = bytes / VHD_SECTOR, total;

    if (force_size) {
        chs->cyls = VHD_CHS_MAX_C;
        chs->heads = VHD_CHS_MAX_H;
        chs->secs = VHD_CHS_MAX_S;
    } else {
        /* Try T, T+1, ... until the geometry covers T (qemu's loop).  It
         * ends at the latest at the maximum geometry, which covers every
         * T it is tried with, so it is bounded. */
        uint64_t t = want < VHD_MAX_GEOMETRY ? want : VHD_MAX_GEOMETRY;
        chs->cyls = 0;
        chs->heads = 0;
        chs->secs = 0;
        for (uint64_t i = 0; t > vhd_chs_sectors(chs); i++)
            vhd_geometry(t + i, chs);
    }
    if (vhd_chs_is_max(chs)) {
        if (want > VHD_MAX_SECTORS)
            return INSTAR_E_TOO_LARGE;
        total = want;
    } else {
        total = vhd_chs_sectors(chs);
    }
    *stored = total * VHD_SECTOR;
    return INSTAR_OK;
}

int vhd_parse_footer(const uint8_t *buf, size_t len, struct vhd_footer *f)
{
    uint64_t sectors;

    if (buf == NULL || len < VHD_FOOTER_SIZE || memcmp(buf, VHD_FOOTER_COOKIE, VHD_COOKIE_LEN) != 0)
        return INSTAR_E_PARSE;
    if (vhd_checksum(buf, VHD_FOOTER_SIZE, VHD_F_CHECKSUM) != instar_be32(buf + VHD_F_CHECKSUM))
        return INSTAR_E_PARSE;
    f->data_offset = instar_be64(buf + VHD_F_DATA_OFFSET);
    f->current_size = instar_be64(buf + VHD_F_CUR_SIZE);
    f->chs.cyls = instar_be16(buf + VHD_F_CYLS);
    f->chs.heads = buf[VHD_F_HEADS];
    f->chs.secs = buf[VHD_F_SECS];
    f->type = instar_be32(buf + VHD_F_TYPE);
    f->uses_chs = vhd_creator_uses_chs(buf + VHD_F_CREATOR_APP);
    /* qemu: C*H*S, unless the creator sizes by current size or the
     * geometry is pinned at its maximum. */
    sectors = vhd_chs_sectors(&f->chs);
    if (!f->uses_chs || sectors == VHD_MAX_GEOMETRY)
        sectors = f->current_size / VHD_SECTOR;
    if (sectors > VHD_MAX_SECTORS)
        return INSTAR_E_PARSE;      /* qemu: EFBIG, the image does not open */
    f->virtual_size = sectors * VHD_SECTOR;
    return INSTAR_OK;
}
