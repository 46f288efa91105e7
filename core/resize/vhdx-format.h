/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vhdx-format.h -- VHDX on-disk constants and the pure parsers the planner,
 * the engine and the tests share (internal to the core).
 *
 * Every parser takes read-only slices, checks lengths before every access
 * and answers INSTAR_E_PARSE (with a short reason in *WHY) for anything
 * qemu 7.2 would refuse to open or that is absurd.  No I/O, no allocation. */
#ifndef INSTAR_VHDX_FORMAT_H
#define INSTAR_VHDX_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/resize.h"

/* Signatures (no NUL): the file identifier, the headers, region tables,
 * log entries and the metadata table. */
#define VHDX_FILE_SIGNATURE "vhdxfile"
#define VHDX_HEADER_SIGNATURE "head"
#define VHDX_REGION_SIGNATURE "regi"
#define VHDX_METADATA_SIGNATURE "metadata"
/* The length of signature S, without its NUL. */
#define VHDX_SIG_LEN(s) (sizeof s - 1)

#define VHDX_KIB 1024ull
#define VHDX_MIB (1024ull * 1024)
#define VHDX_TIB (1024ull * 1024 * 1024 * 1024)

#define VHDX_HEADER_SECTION VHDX_MIB          /* file id, headers, region tables */
#define VHDX_HEADER1_OFFSET (64 * VHDX_KIB)
#define VHDX_HEADER2_OFFSET (128 * VHDX_KIB)
#define VHDX_REGION1_OFFSET (192 * VHDX_KIB)
#define VHDX_REGION2_OFFSET (256 * VHDX_KIB)
#define VHDX_HEADER_SIZE 4096u
#define VHDX_REGION_SIZE 65536u
#define VHDX_METADATA_TABLE_SIZE 65536u
#define VHDX_MAX_VIRTUAL_SIZE (64 * VHDX_TIB)
#define VHDX_MIN_BLOCK_SIZE ((uint32_t)VHDX_MIB)
#define VHDX_MAX_BLOCK_SIZE (256u * (uint32_t)VHDX_MIB)
#define VHDX_MAX_TABLE_ENTRIES 2047u
/* Sectors one 1 MiB sector-bitmap block describes (2^23). */
#define VHDX_SECTORS_PER_BITMAP (1ull << 23)

/* BAT entry: state in bits 0-2, FileOffsetMB in bits 20-63. */
#define VHDX_BAT_STATE_MASK 7ull
#define VHDX_BAT_OFFSET_MASK 0xFFFFFFFFFFF00000ull
enum {
    VHDX_PAYLOAD_NOT_PRESENT = 0,
    VHDX_PAYLOAD_UNDEFINED = 1,
    VHDX_PAYLOAD_ZERO = 2,
    VHDX_PAYLOAD_UNMAPPED = 3,
    VHDX_PAYLOAD_UNMAPPED_V095 = 5,
    VHDX_PAYLOAD_FULLY_PRESENT = 6,
    VHDX_PAYLOAD_PARTIALLY_PRESENT = 7
};

/* File Parameters bits. */
#define VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED 1u
#define VHDX_PARAM_HAS_PARENT 2u

/* Metadata entry flags. */
#define VHDX_META_IS_USER 1u
#define VHDX_META_IS_VIRTUAL_DISK 2u
#define VHDX_META_IS_REQUIRED 4u

/* GUIDs in their on-disk (MS mixed-endian) byte order. */
extern const uint8_t instar_vhdx_guid_bat[16];
extern const uint8_t instar_vhdx_guid_metadata[16];
extern const uint8_t instar_vhdx_guid_file_params[16];
extern const uint8_t instar_vhdx_guid_virtual_size[16];
extern const uint8_t instar_vhdx_guid_page83[16];
extern const uint8_t instar_vhdx_guid_logical_sector[16];
extern const uint8_t instar_vhdx_guid_physical_sector[16];
extern const uint8_t instar_vhdx_guid_parent_locator[16];

/* CRC-32C of BUF with the 4-byte checksum field at offset 4 taken as 0. */
uint32_t instar_vhdx_checksum(const uint8_t *buf, size_t len);
bool instar_vhdx_checksum_ok(const uint8_t *buf, size_t len);
void instar_vhdx_checksum_set(uint8_t *buf, size_t len);

/* The two headers, chosen as qemu chooses them. */
struct instar_vhdx_headers {
    int current;                /* 0: header 1 (64 KiB), 1: header 2 (128 KiB) */
    bool valid[2];
    uint64_t seq;               /* sequence number of the current header */
    bool log_guid_zero;         /* LogGuid == 0: no log to replay */
    uint64_t log_offset;
    uint32_t log_length;
};
int instar_vhdx_parse_headers(struct instar_slice h1, struct instar_slice h2,
                              struct instar_vhdx_headers *out, const char **why);

/* A region table (64 KiB). */
struct instar_vhdx_regions {
    uint64_t bat_offset;
    uint32_t bat_length;
    uint32_t bat_index;         /* entry number of the BAT region in the table */
    uint64_t meta_offset;
    uint32_t meta_length;
};
int instar_vhdx_parse_regions(struct instar_slice rt, struct instar_vhdx_regions *out,
                              const char **why);

/* The metadata region: its table and the items qemu reads. */
struct instar_vhdx_meta {
    uint32_t block_size;
    uint32_t param_bits;        /* VHDX_PARAM_* */
    uint64_t virtual_size;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    uint32_t size_item_offset;  /* Virtual Disk Size item, relative to the region */
    bool has_parent_locator;
    /* The size item's bytes belong to another item too: rewriting the
     * size would change that item (qemu opens such an image). */
    bool size_item_shared;
};
/* MD holds the first bytes of a region REGION_LENGTH long; every item read
 * must lie inside both. */
int instar_vhdx_parse_metadata(struct instar_slice md, uint32_t region_length,
                               struct instar_vhdx_meta *out, const char **why);

/* Sector-bitmap interleave: payload entries per chunk. */
uint64_t instar_vhdx_chunk_ratio(uint32_t block_size, uint32_t logical_sector_size);
/* BAT index of payload block K. */
uint64_t instar_vhdx_payload_index(uint64_t k, uint64_t chunk_ratio);
/* The BAT entry count qemu 7.2 computes for a dynamic or fixed image,
 * including its 32-bit wrap for an empty disk (0 payload blocks). */
uint64_t instar_vhdx_bat_entries(uint64_t virtual_size, uint32_t block_size,
                                 uint32_t logical_sector_size);

#endif
