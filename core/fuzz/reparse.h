/* SPDX-License-Identifier: GPL-3.0-or-later */
/* reparse.h -- independent structural checkers for resized images.
 *
 * The engine fuzz target re-reads what the engine wrote with these, not
 * with the engines' own parsers, so a planner and its engine cannot agree
 * on a mistake.  Each returns true when the image is structurally valid
 * for WANT (the virtual size the plan announced; 0: do not compare) and
 * otherwise false with a one-line reason in WHY.  Reads are bounded by the
 * file size and by INSTAR_REPARSE_MAX_TABLE; a checker never allocates
 * more than that.  */
#ifndef INSTAR_FUZZ_REPARSE_H
#define INSTAR_FUZZ_REPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instar/image.h"
#include "instar/io.h"

#define INSTAR_REPARSE_MAX_TABLE ((uint64_t)64 << 20)

bool instar_reparse_raw(struct instar_io *io, uint64_t want, char *why, size_t whylen);
/* qcow2: header, L1/L2 and refcount tables inside the file, every
 * referenced cluster's refcount >= its references (leaks allowed, as
 * qemu-img check treats them).  Images with snapshots or bitmaps get the
 * structural checks only. */
bool instar_reparse_qcow2(struct instar_io *io, uint64_t want, char *why, size_t whylen);
bool instar_reparse_vhd(struct instar_io *io, uint64_t want, char *why, size_t whylen);
bool instar_reparse_vhdx(struct instar_io *io, uint64_t want, char *why, size_t whylen);
bool instar_reparse_vmdk(struct instar_io *io, uint64_t want, char *why, size_t whylen);

bool instar_reparse(enum instar_format fmt, struct instar_io *io, uint64_t want,
                    char *why, size_t whylen);

#endif
