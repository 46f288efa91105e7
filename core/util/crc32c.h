/* SPDX-License-Identifier: GPL-3.0-or-later */
/* crc32c.h -- CRC-32C (Castagnoli), as VHDX checksums its headers, region
 * tables and log entries: reflected polynomial 0x82F63B78, initial value
 * and final XOR 0xFFFFFFFF. */
#ifndef INSTAR_CRC32C_H
#define INSTAR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend CRC (a finished CRC-32C, 0 for the empty string) over LEN bytes of
 * BUF.  Chaining calls gives the CRC of the concatenation, so a checksum
 * field can be "zeroed" by feeding zeros in its place without a copy.
 * instar_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t instar_crc32c(uint32_t crc, const void *buf, size_t len);

/* The same function by table lookups alone (what instar_crc32c uses on a
 * CPU without SSE4.2): for tests that compare the two paths. */
uint32_t instar_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
