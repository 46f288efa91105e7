/* SPDX-License-Identifier: GPL-3.0-or-later */
/* random.h -- the core's one source of random bytes (GUIDs, UUIDs, CIDs). */
#ifndef INSTAR_UTIL_RANDOM_H
#define INSTAR_UTIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fill BUF with LEN random bytes: getrandom() where configure found it,
 * else /dev/urandom.  No weaker fallback: INSTAR_E_IO when neither gives
 * the bytes (a GUID made from the clock could repeat). */
int instar_random_bytes(void *buf, size_t len);

/* A random 32-bit number other than 0 and 0xffffffff (a VMDK CID: 0
 * reads as unset, 0xffffffff means "no parent"). */
int instar_random_u32_id(uint32_t *out);

#endif
