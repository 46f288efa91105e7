/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhd-format.h -- VHD (qemu "vpc") on-disk facts shared by the planner, the
 * engine and create (internal to the core).  All fields are big-endian. */
#ifndef INSTAR_VHD_FORMAT_H
#define INSTAR_VHD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The footer's and the dynamic header's cookies (8 bytes, no NUL). */
#define VHD_FOOTER_COOKIE "conectix"
#define VHD_DYN_COOKIE "cxsparse"
#define VHD_COOKIE_LEN 8u
/* The footer's Features field: bit 1 is reserved and always set. */
#define VHD_FEATURES_RESERVED 2u
/* File format and dynamic header version 1.0. */
#define VHD_VERSION_1_0 0x00010000u

#define VHD_SECTOR 512u
#define VHD_FOOTER_SIZE 512u
#define VHD_DYN_HEADER_SIZE 1024u
/* qemu's limit: 2040 GiB (VHD_MAX_SECTORS in block/vpc.c). */
#define VHD_MAX_SECTORS 0xff000000ULL
#define VHD_MAX_BYTES (VHD_MAX_SECTORS * VHD_SECTOR)
/* The largest CHS geometry, 65535/16/255 (about 127 GiB). */
#define VHD_CHS_MAX_C 65535u
#define VHD_CHS_MAX_H 16u
#define VHD_CHS_MAX_S 255u
#define VHD_MAX_GEOMETRY ((uint64_t)VHD_CHS_MAX_C * VHD_CHS_MAX_H * VHD_CHS_MAX_S)
/* The block size qemu always writes. */
#define VHD_DEFAULT_BLOCK_SIZE 0x200000u
/* BAT entries are 32-bit sector numbers: no structure may start at or
 * beyond 2^32 sectors. */
#define VHD_MAX_FILE_BYTES (0xffffffffULL * VHD_SECTOR)
/* qemu refuses more BAT entries than this ("Max Table Entries too large"). */
#define VHD_MAX_TABLE_ENTRIES (0x7fffffffu / 4)
#define VHD_BAT_UNUSED 0xffffffffu

/* Footer field offsets. */
#define VHD_F_COOKIE 0
#define VHD_F_FEATURES 8
#define VHD_F_VERSION 12
#define VHD_F_DATA_OFFSET 16
#define VHD_F_TIMESTAMP 24
#define VHD_F_CREATOR_APP 28
#define VHD_F_CREATOR_VER 32
#define VHD_F_CREATOR_OS 36
#define VHD_F_ORIG_SIZE 40
#define VHD_F_CUR_SIZE 48
#define VHD_F_CYLS 56
#define VHD_F_HEADS 58
#define VHD_F_SECS 59
#define VHD_F_TYPE 60
#define VHD_F_CHECKSUM 64
#define VHD_F_UUID 68

/* Dynamic header field offsets. */
#define VHD_D_COOKIE 0
#define VHD_D_DATA_OFFSET 8
#define VHD_D_TABLE_OFFSET 16
#define VHD_D_VERSION 24
#define VHD_D_MAX_ENTRIES 28
#define VHD_D_BLOCK_SIZE 32
#define VHD_D_CHECKSUM 36

struct vhd_chs {
    uint16_t cyls;
    uint8_t heads;
    uint8_t secs;
};

/* The parsed, validated footer. */
struct vhd_footer {
    uint64_t data_offset;
    uint64_t current_size;
    struct vhd_chs chs;
    uint32_t type;
    bool uses_chs;              /* qemu sizes the disk by C*H*S */
    uint64_t virtual_size;      /* as qemu 7.2 reads it, bytes */
};

/* The VHD spec's geometry for TOTAL_SECTORS (rounds down, clamps). */
void vhd_geometry(uint64_t total_sectors, struct vhd_chs *chs);
static inline uint64_t vhd_chs_sectors(const struct vhd_chs *c)
{
    return (uint64_t)c->cyls * c->heads * c->secs;
}
static inline bool vhd_chs_is_max(const struct vhd_chs *c)
{
    return vhd_chs_sectors(c) == VHD_MAX_GEOMETRY;
}

/* One's complement of the byte sum of BUF[0..LEN), the 4-byte checksum
 * field at CSUM_OFF counted as zero. */
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off);

/* Does qemu 7.2 size a disk with this creator app by its CHS geometry?
 * (Everything except "win ", "qem2", "d2v ", "CTXS" and "tap\0".) */
bool vhd_creator_uses_chs(const uint8_t app[4]);

/* The size qemu-img create stores for a request of BYTES (already a
 * multiple of 512): with FORCE_SIZE off, the first C*H*S >= the request
 * (or the exact size once the geometry is pinned at its maximum); with it
 * on, the exact size and the maximum geometry.  INSTAR_E_TOO_LARGE past
 * 2040 GiB. */
int vhd_round_size(uint64_t bytes, bool force_size, uint64_t *stored,
                   struct vhd_chs *chs);

/* Parse and validate a footer (cookie, checksum, sizes within qemu's
 * limit): INSTAR_OK or INSTAR_E_PARSE. */
int vhd_parse_footer(const uint8_t *buf, size_t len, struct vhd_footer *f);

#endif
