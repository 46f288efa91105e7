/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar/fuzz.h -- the fuzz input decoder.
 *
 * A fuzz input is a fixed 32-byte header followed by an "existing-state
 * pool".  The decoder turns it into the options of one planner, so the
 * libFuzzer targets, `instar-img fuzz-explain', the tests and Scheme all
 * read a corpus file the same way.
 *
 *   off size field (little-endian)
 *   0   1    format selector mod 6: 0 raw, 1 qcow2 grow, 2 qcow2 shrink,
 *            3 vmdk, 4 vhd, 5 vhdx
 *   1   1    flags: bit0 allow_shrink, bit1 extended_l2, bit2 lazy_refcounts,
 *            bit3 raw slices (see below), bits4-5 preallocation 0..3,
 *            bit6 qcow2 layout block (see INSTAR_FUZZ_FLAG_QCOW2_LAYOUT),
 *            bit7 tight scratch (see INSTAR_FUZZ_FLAG_TIGHT_SCRATCH)
 *   2   1    bits0-2: refcount-bits selector -> 1 2 4 8 16 32 64 0xff;
 *            bits3-7: scratch shift S, with the tight-scratch flag
 *   3   1    subformat selector
 *   4   4    cluster / grain / block size in bytes (passed on unvalidated)
 *   8   8    current virtual size
 *   16  8    new virtual size
 *   24  8    current file size
 *
 * The pool is carved in order: qcow2 L1 4 KiB, refcount table 4 KiB,
 * refcount blocks 32 KiB, L2 tables 32 KiB; vhd/vhdx/vmdk a 512-byte header,
 * a 1024-byte dynamic header and a BAT / grain directory of up to 32 KiB.
 * A short pool gives short or empty carves.
 *
 * By default ("cooked") the decoder makes the state self-consistent the
 * way a real image is: the scalar facts are written into synthesised or
 * copied headers (with their checksums), and tables are extended to the
 * length the geometry asks for with the format's "unallocated" value, so
 * most inputs reach deep into a planner.  Flag bit 3 ("raw slices") hands
 * the carves over untouched and short, to probe the planners' defences.
 * Either way every number stays hostile: nothing is validated here.  */
#ifndef INSTAR_FUZZ_H
#define INSTAR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "instar/plan.h"
#include "instar/resize.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INSTAR_FUZZ_HEADER_LEN 32

#define INSTAR_FUZZ_FLAG_ALLOW_SHRINK   0x01
#define INSTAR_FUZZ_FLAG_EXTENDED_L2    0x02
#define INSTAR_FUZZ_FLAG_LAZY_REFCOUNTS 0x04
#define INSTAR_FUZZ_FLAG_RAW_SLICES     0x08
#define INSTAR_FUZZ_PREALLOC_SHIFT      4
#define INSTAR_FUZZ_FLAG_QCOW2_LAYOUT   0x40  /* qcow2: the pool starts with a layout block */
/* The planner gets INSTAR_FUZZ_SCRATCH_LEN >> S bytes of scratch (S from
 * byte 2), not all of it: a caller's short buffer is an input like any
 * other, and every planner must refuse it cleanly, wherever it runs out. */
#define INSTAR_FUZZ_FLAG_TIGHT_SCRATCH  0x80

/* qcow2 subformat selector bits (the design leaves the byte to vmdk and vhd;
 * qcow2 uses it for header variations a real image can have). */
#define INSTAR_FUZZ_QCOW2_V2        0x01  /* compat=0.10 header */
#define INSTAR_FUZZ_QCOW2_BITMAPS   0x02  /* bitmaps extension + autoclear bit */
#define INSTAR_FUZZ_QCOW2_DIRTY     0x04  /* incompatible bit 0 */
#define INSTAR_FUZZ_QCOW2_CORRUPT   0x08  /* incompatible bit 1 */
#define INSTAR_FUZZ_QCOW2_RT_SHIFT  4     /* bits 4-6: extra refcount-table clusters */
#define INSTAR_FUZZ_QCOW2_SNAPSHOT  0x80  /* one internal snapshot */

/* The qcow2 layout block (flag bit 6): a real image's layout and its
 * persistent bitmaps, so seeds taken from any qcow2 image line up.
 *   0  u16 block length (64 .. INSTAR_FUZZ_QCOW2_LAYOUT_MAX, clamped)
 *   2  u8  bit 0: a backing file (the header's backing offset non-zero);
 *          with it, bit 1: the backing file is longer than the current
 *          size (a grow must make the new range read as zeros), bit 2:
 *          the backing file's bytes in the old end's cluster are known
 *          (read as zeros)
 *   4  u32 nb_snapshots          8 u64 L1 table offset (0: the default)
 *   16 u64 refcount table offset (0: the default)
 *   24 u64 snapshot table offset (0 with snapshots: the default)
 *   32 u64 bitmap directory offset (non-zero: a bitmaps extension)
 *   40 u32 nb_bitmaps            44 u32 bitmap directory size
 *   64 the bitmap directory, then each entry's bitmap table in directory
 *      order; each is staged as a byte range at its file offset.
 * Little-endian like the fuzz header; the directory and tables are as on
 * disk (big-endian).  The L1, refcount-table, ... carves follow it. */
#define INSTAR_FUZZ_QCOW2_LAYOUT_HEAD 64
#define INSTAR_FUZZ_QCOW2_LAYOUT_MAX  16384
#define INSTAR_FUZZ_MAX_BYTE_RANGES   17   /* the directory + 16 tables */

/* Pool carve sizes. */
#define INSTAR_FUZZ_QCOW2_L1_CARVE       4096
#define INSTAR_FUZZ_QCOW2_REFTABLE_CARVE 4096
#define INSTAR_FUZZ_QCOW2_REFBLOCK_CARVE 32768
#define INSTAR_FUZZ_QCOW2_L2_CARVE       32768
#define INSTAR_FUZZ_HDR_CARVE            512
#define INSTAR_FUZZ_DYN_CARVE            1024
#define INSTAR_FUZZ_TABLE_CARVE          32768

/* At most this many staged refcount blocks / L2 tables (32 KiB / 512). */
#define INSTAR_FUZZ_MAX_STAGED 64

enum instar_fuzz_target {
    INSTAR_FUZZ_RAW = 0,
    INSTAR_FUZZ_QCOW2_GROW,
    INSTAR_FUZZ_QCOW2_SHRINK,
    INSTAR_FUZZ_VMDK,
    INSTAR_FUZZ_VHD,
    INSTAR_FUZZ_VHDX,
    INSTAR_FUZZ__COUNT
};

/* The 32-byte header, decoded field by field (no validation). */
struct instar_fuzz_header {
    uint8_t format_byte;
    enum instar_fuzz_target target;     /* format_byte % 6 */
    uint8_t flags;
    bool allow_shrink;
    bool extended_l2;
    bool lazy_refcounts;
    bool raw_slices;
    enum instar_prealloc prealloc;      /* (flags >> 4) & 3 */
    uint8_t refcount_sel;
    uint32_t refcount_bits;             /* 1..64, or 0xff (invalid on purpose) */
    uint8_t subformat;
    size_t scratch_len;                 /* the most instar_fuzz_plan hands on */
    uint32_t unit_size;
    uint64_t current_virtual_size;
    uint64_t new_virtual_size;
    uint64_t current_file_size;
};

/* One decoded input: the header, the carves and the planner options
 * (only the member for hdr.target is meaningful, and only it is reset).  Slices point into the
 * input or into the decoder's buffers: valid until the next decode. */
struct instar_fuzz_case {
    struct instar_fuzz_header hdr;
    struct instar_slice carve[4];       /* the pool as carved */
    size_t ncarves;
    size_t pool_len;
    struct instar_raw_resize_opts raw;
    struct instar_qcow2_resize_opts qcow2;
    struct instar_vhd_resize_opts vhd;
    struct instar_vhdx_resize_opts vhdx;
    struct instar_vmdk_resize_opts vmdk;
    struct instar_staged_table refblocks[INSTAR_FUZZ_MAX_STAGED];
    struct instar_staged_table l2_tables[INSTAR_FUZZ_MAX_STAGED];
    struct instar_staged_table byte_ranges[INSTAR_FUZZ_MAX_BYTE_RANGES];
};

/* Owns the zero- (or 0xff-) filled buffers cooked slices live in.  Made
 * once; each decode only restores the bytes the previous one touched. */
struct instar_fuzz_decoder;

struct instar_fuzz_decoder *instar_fuzz_decoder_new(void);
void instar_fuzz_decoder_free(struct instar_fuzz_decoder *d);

/* Decode the 32-byte header.  INSTAR_E_PARSE when LEN < 32. */
int instar_fuzz_decode_header(const uint8_t *data, size_t len,
                              struct instar_fuzz_header *out);

/* Decode a whole input into C.  INSTAR_E_PARSE when LEN < 32. */
int instar_fuzz_decode(struct instar_fuzz_decoder *d, const uint8_t *data,
                       size_t len, struct instar_fuzz_case *c);

/* Run the planner C selects, on at most C->hdr.scratch_len bytes of
 * SCRATCH. */
int instar_fuzz_plan(const struct instar_fuzz_case *c, uint8_t *scratch,
                     size_t scratch_len, struct instar_resize_plan *plan);

/* The scratch size the fuzz targets allocate once (worst qcow2 case). */
#define INSTAR_FUZZ_SCRATCH_LEN ((size_t)16 << 20)

const char *instar_fuzz_target_name(enum instar_fuzz_target t);

/* Print C in words (header fields, carves, planner options). */
void instar_fuzz_case_print(FILE *out, const struct instar_fuzz_case *c);

/* Encode H (the inverse of instar_fuzz_decode_header, for tools and tests:
 * target and flag booleans are taken from H's raw bytes). */
void instar_fuzz_encode_header(const struct instar_fuzz_header *h,
                               uint8_t out[INSTAR_FUZZ_HEADER_LEN]);

#ifdef __cplusplus
}
#endif
#endif
