/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plan-digest.c -- `plan-digest planners|engine FILE...': one line per
 * plan, "NAME VARIANT DIGEST", for the fuzz inputs FILE and a fixed set of
 * variants of each (refcount widths, preallocation modes, sizes, the
 * shrink flag).  DIGEST is FNV-1a 64 over everything a plan says: the
 * answer code and refusal reason, sizes, every patch with its bytes, the
 * discards and the needs.  Two builds that print the same lines plan
 * byte-identically over those inputs: speed work on the planners must not
 * change a single one (tests/fuzz-plan-digests.sh). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/engine-input.h"
#include "fuzz/sparse-io.h"
#include "instar/error.h"
#include "instar/fuzz.h"
#include "instar/image.h"
#include "instar/io.h"
#include "util/endian.h"

#define ENGINE_MEM_LIMIT ((uint64_t)96 << 20)

struct fnv {
    uint64_t h;
};

static void fnv_bytes(struct fnv *f, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        f->h = (f->h ^ b[i]) * 0x100000001b3ULL;
}

static void fnv_u64(struct fnv *f, uint64_t v)
{
    uint8_t b[8];
    instar_put_le64(b, v);
    fnv_bytes(f, b, 8);
}

static void fnv_str(struct fnv *f, const char *s)
{
    if (s != NULL)
        fnv_bytes(f, s, strlen(s) + 1);
    else
        fnv_u64(f, 0);
}

static uint64_t digest(int rc, const struct instar_resize_plan *p, const char *why)
{
    struct fnv f = {0xcbf29ce484222325ULL};
    fnv_u64(&f, (uint64_t)(int64_t)rc);
    fnv_str(&f, why);
    if (rc != INSTAR_OK && rc != INSTAR_E_NOT_STAGED)
        return f.h;
    fnv_u64(&f, p->action);
    fnv_u64(&f, p->old_virtual_size);
    fnv_u64(&f, p->new_virtual_size);
    fnv_u64(&f, p->total_file_size);
    fnv_u64(&f, p->prealloc_offset);
    fnv_u64(&f, p->prealloc_length);
    fnv_u64(&f, p->prealloc_head_offset);
    fnv_u64(&f, p->prealloc_head_length);
    fnv_u64(&f, p->prealloc_head_keep);
    fnv_u64(&f, p->npatches);
    for (size_t i = 0; i < p->npatches && i < INSTAR_MAX_RESIZE_PATCHES; i++) {
        const struct instar_patch *x = &p->patches[i];
        fnv_u64(&f, x->kind);
        fnv_u64(&f, x->offset);
        fnv_u64(&f, x->length);
        if (x->data != NULL)
            fnv_bytes(&f, x->data, (size_t)x->length);
    }
    fnv_u64(&f, p->ndiscards);
    for (size_t i = 0; i < p->ndiscards && i < INSTAR_MAX_DISCARDS; i++) {
        fnv_u64(&f, p->discards[i].offset);
        fnv_u64(&f, p->discards[i].length);
    }
    fnv_u64(&f, p->nneeds);
    for (size_t i = 0; i < p->nneeds && i < INSTAR_MAX_NEEDS; i++) {
        fnv_u64(&f, p->needs[i].kind);
        fnv_u64(&f, p->needs[i].index);
        fnv_u64(&f, p->needs[i].length);
        fnv_u64(&f, p->needs[i].count);
    }
    return f.h;
}

/* ---- a repeatable random source ------------------------------------- */

/* The engine stamps new GUIDs (VHDX write GUIDs, VHD ids, VMDK CIDs) from
 * core/util/random.c; here the same bytes every plan, so a digest depends
 * on the planner alone.  These definitions take the library's place. */
static uint64_t rnd_state;

static void rnd_reset(void)
{
    rnd_state = 0x9e3779b97f4a7c15ULL;
}

int instar_random_bytes(void *buf, size_t len);
int instar_random_u32_id(uint32_t *out);

int instar_random_bytes(void *buf, size_t len)
{
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) {
        rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
        b[i] = (uint8_t)(rnd_state >> 56);
    }
    return INSTAR_OK;
}

int instar_random_u32_id(uint32_t *out)
{
    *out = 0x5eed1234u;
    return INSTAR_OK;
}

/* ---- planner inputs -------------------------------------------------- */

#define PLANNER_VARIANTS 12

/* Variant V of a planner input, in place (V = 0: as it is). */
static void planner_variant(uint8_t *d, unsigned v)
{
    uint64_t cur = instar_le64(d + 8), new_size = instar_le64(d + 16);
    uint64_t file = instar_le64(d + 24);
    switch (v) {
    case 1: case 2: case 3: case 4:         /* refcount widths 1, 2, 4, 8 */
        d[2] = (uint8_t)((d[2] & ~7u) | (v - 1));
        break;
    case 5: case 6: case 7:                 /* the other preallocation modes */
        d[1] = (uint8_t)((d[1] & ~0x30u) | (((((d[1] >> 4) & 3) + v - 4) & 3) << 4));
        break;
    case 8: instar_put_le64(d + 16, new_size * 2); break;
    case 9: instar_put_le64(d + 16, new_size / 2 + cur / 2); break;
    case 10: instar_put_le64(d + 24, file / 2); break;
    case 11: d[1] ^= 1; break;              /* allow_shrink */
    default: break;
    }
}

static void set_why(struct instar_fuzz_case *c, struct instar_refusal *r)
{
    switch (c->hdr.target) {
    case INSTAR_FUZZ_RAW: c->raw.req.why = r; break;
    case INSTAR_FUZZ_QCOW2_GROW:
    case INSTAR_FUZZ_QCOW2_SHRINK: c->qcow2.req.why = r; break;
    case INSTAR_FUZZ_VHD: c->vhd.req.why = r; break;
    case INSTAR_FUZZ_VHDX: c->vhdx.req.why = r; break;
    case INSTAR_FUZZ_VMDK: c->vmdk.req.why = r; break;
    default: break;
    }
}

static int planners(const char *name, const uint8_t *data, size_t size,
                    struct instar_fuzz_decoder *dec, uint8_t *scratch,
                    struct instar_fuzz_case *c, struct instar_resize_plan *plan)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 1;
    for (unsigned v = 0; v < (size >= INSTAR_FUZZ_HEADER_LEN ? PLANNER_VARIANTS : 1); v++) {
        struct instar_refusal why;
        char buf[256];
        int rc;
        memcpy(copy, data, size);
        if (size >= INSTAR_FUZZ_HEADER_LEN)
            planner_variant(copy, v);
        memset(&why, 0, sizeof why);
        instar_plan_init(plan);
        rnd_reset();
        rc = instar_fuzz_decode(dec, copy, size, c);
        if (rc == INSTAR_OK) {
            set_why(c, &why);
            rc = instar_fuzz_plan(c, scratch, INSTAR_FUZZ_SCRATCH_LEN, plan);
        }
        printf("%s %u %016" PRIx64 "\n", name, v,
               digest(rc, plan, instar_refusal_format(&why, buf, sizeof buf)));
    }
    free(copy);
    return 0;
}

/* ---- engine inputs (as fuzz-resize-engine.c reads them) ------------- */

#define ENGINE_VARIANTS 7

static void engine_variant(uint8_t *d, unsigned v)
{
    uint64_t amount = instar_le64(d + 16);
    switch (v) {
    case 1: case 2: case 3:                 /* the other preallocation modes */
        d[1] = (uint8_t)((d[1] & ~0x30u) | (((((d[1] >> 4) & 3) + v) & 3) << 4));
        break;
    case 4: instar_put_le64(d + 16, amount * 2); break;
    case 5: instar_put_le64(d + 16, amount / 2); break;
    case 6: d[1] ^= 1; break;               /* allow_shrink */
    default: break;
    }
}

static int engine(const char *name, const uint8_t *data, size_t size,
                  struct instar_sparse_io *m)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 1;
    for (unsigned v = 0; v < (size >= INSTAR_FUZZ_ENGINE_HEADER_LEN ? ENGINE_VARIANTS : 1); v++) {
        struct instar_resize_args args;
        struct instar_image_plan p;
        struct instar_diag diag;
        int rc = INSTAR_E_PARSE;
        memcpy(copy, data, size);
        memset(&p, 0, sizeof p);
        instar_plan_init(&p.plan);
        instar_diag_clear(&diag);
        instar_sparse_io_reset(m);
        rnd_reset();
        if (size >= INSTAR_FUZZ_ENGINE_HEADER_LEN) {
            uint64_t length;
            engine_variant(copy, v);
            instar_fuzz_engine_args(copy, &args, &length);
            if (instar_fuzz_engine_load(&m->io, copy, size, length) == 0)
                rc = instar_image_plan(&m->io, &args, &p, &diag);
            else
                rc = INSTAR_E_IO;
        }
        printf("%s %u %016" PRIx64 "\n", name, v, digest(rc, &p.plan, diag.message));
        instar_image_plan_free(&p);
    }
    free(copy);
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    bool engine_mode;
    struct instar_fuzz_decoder *dec = NULL;
    uint8_t *scratch = NULL;
    struct instar_fuzz_case *c = NULL;
    struct instar_resize_plan *plan = NULL;
    struct instar_sparse_io m;
    int status = 0;

    if (argc < 2 || (strcmp(argv[1], "planners") != 0 && strcmp(argv[1], "engine") != 0)) {
        fprintf(stderr, "usage: plan-digest planners|engine FILE...\n");
        return 2;
    }
    engine_mode = strcmp(argv[1], "engine") == 0;
    if (engine_mode && instar_sparse_io_init(&m, ENGINE_MEM_LIMIT) != INSTAR_OK) {
        fprintf(stderr, "plan-digest: out of memory\n");
        return 1;
    }
    if (!engine_mode) {
        dec = instar_fuzz_decoder_new();
        scratch = malloc(INSTAR_FUZZ_SCRATCH_LEN);
        c = malloc(sizeof *c);
        plan = malloc(sizeof *plan);
        if (dec == NULL || scratch == NULL || c == NULL || plan == NULL) {
            fprintf(stderr, "plan-digest: out of memory\n");
            return 1;
        }
    }
    for (int i = 2; i < argc; i++) {
        size_t size = 0;
        uint8_t *data = slurp(argv[i], &size);
        const char *name = strrchr(argv[i], '/');
        name = name ? name + 1 : argv[i];
        if (data == NULL) {
            fprintf(stderr, "plan-digest: cannot read %s\n", argv[i]);
            status = 1;
            continue;
        }
        if ((engine_mode ? engine(name, data, size, &m)
                         : planners(name, data, size, dec, scratch, c, plan)) != 0)
            status = 1;
        free(data);
    }
    free(plan);
    free(c);
    free(scratch);
    instar_fuzz_decoder_free(dec);
    if (engine_mode)
        instar_sparse_io_free(&m);
    return status;
}
