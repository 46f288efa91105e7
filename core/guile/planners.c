/* SPDX-License-Identifier: GPL-3.0-or-later */
/* planners.c -- the five pure planners, called with keyword arguments
 * that mirror the C option structs (instar/resize.h): numbers as exact
 * integers, slices as bytevectors (#f or absent: not staged), staged
 * tables as lists of (index . bytevector) pairs.
 *
 * The scratch buffer is kept per thread and grown on
 * INSTAR_E_SCRATCH_TOO_SMALL: a planner call from Scheme then costs no
 * allocation beyond the plan object itself.  A thread-specific key frees
 * it when its thread exits (a campaign's workers come and go).  */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar-guile.h"
#include "instar/error.h"

/* Beyond this the planner's appetite is a bug, not a need. */
#define SCRATCH_MAX ((size_t)256 << 20)
#define SCRATCH_MIN ((size_t)64 << 10)

static _Thread_local uint8_t *scratch_buf;
static _Thread_local size_t scratch_cap;

/* The key's value is the thread's buffer; its destructor frees it. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void make_scratch_key(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, free) == 0;
}

/* Adopt BUF as this thread's buffer (and the key's value). */
static void set_scratch(uint8_t *buf, size_t cap)
{
    scratch_buf = buf;
    scratch_cap = cap;
    pthread_once(&scratch_key_once, make_scratch_key);
    if (scratch_key_ok)
        (void)pthread_setspecific(scratch_key, buf);
}

SCM_KEYWORD(kw_new_size, "new-size");
SCM_KEYWORD(kw_shrink, "shrink?");
/* The planners' old name for #:shrink? (image-plan and image-resize always
 * said #:shrink?); still accepted so code written against it keeps
 * working. */
SCM_KEYWORD(kw_allow_shrink, "allow-shrink?");
SCM_KEYWORD(kw_prealloc, "prealloc");
SCM_KEYWORD(kw_current_file_size, "current-file-size");
/* qcow2 */
SCM_KEYWORD(kw_version, "version");
SCM_KEYWORD(kw_cluster_bits, "cluster-bits");
SCM_KEYWORD(kw_virtual_size, "virtual-size");
SCM_KEYWORD(kw_l1_size, "l1-size");
SCM_KEYWORD(kw_l1_table_offset, "l1-table-offset");
SCM_KEYWORD(kw_refcount_table_offset, "refcount-table-offset");
SCM_KEYWORD(kw_refcount_table_clusters, "refcount-table-clusters");
SCM_KEYWORD(kw_refcount_order, "refcount-order");
SCM_KEYWORD(kw_incompatible_features, "incompatible-features");
SCM_KEYWORD(kw_compatible_features, "compatible-features");
SCM_KEYWORD(kw_autoclear_features, "autoclear-features");
SCM_KEYWORD(kw_header_length, "header-length");
SCM_KEYWORD(kw_nb_snapshots, "nb-snapshots");
SCM_KEYWORD(kw_snapshots_offset, "snapshots-offset");
SCM_KEYWORD(kw_has_bitmaps, "has-bitmaps?");
SCM_KEYWORD(kw_header, "header");
SCM_KEYWORD(kw_l1, "l1");
SCM_KEYWORD(kw_reftable, "reftable");
SCM_KEYWORD(kw_refblocks, "refblocks");
SCM_KEYWORD(kw_l2_tables, "l2-tables");
/* vhd */
SCM_KEYWORD(kw_disk_type, "disk-type");
SCM_KEYWORD(kw_block_size, "block-size");
SCM_KEYWORD(kw_max_table_entries, "max-table-entries");
SCM_KEYWORD(kw_bat_offset, "bat-offset");
SCM_KEYWORD(kw_footer, "footer");
SCM_KEYWORD(kw_dyn_header, "dyn-header");
SCM_KEYWORD(kw_bat, "bat");
SCM_KEYWORD(kw_first_block_offset, "first-block-offset");
/* vhdx */
SCM_KEYWORD(kw_logical_sector_size, "logical-sector-size");
SCM_KEYWORD(kw_leave_blocks_allocated, "leave-blocks-allocated?");
SCM_KEYWORD(kw_header1, "header1");
SCM_KEYWORD(kw_header2, "header2");
SCM_KEYWORD(kw_region1, "region1");
SCM_KEYWORD(kw_region2, "region2");
SCM_KEYWORD(kw_metadata, "metadata");
SCM_KEYWORD(kw_metadata_offset, "metadata-offset");
SCM_KEYWORD(kw_bat_region_length, "bat-region-length");
SCM_KEYWORD(kw_file_write_guid, "file-write-guid");
SCM_KEYWORD(kw_data_write_guid, "data-write-guid");
/* vmdk */
SCM_KEYWORD(kw_capacity_sectors, "capacity-sectors");
SCM_KEYWORD(kw_grain_sectors, "grain-sectors");
SCM_KEYWORD(kw_gtes_per_gt, "gtes-per-gt");
SCM_KEYWORD(kw_gd_offset_sectors, "gd-offset-sectors");
SCM_KEYWORD(kw_rgd_offset_sectors, "rgd-offset-sectors");
SCM_KEYWORD(kw_descriptor_offset_sectors, "descriptor-offset-sectors");
SCM_KEYWORD(kw_descriptor_sectors, "descriptor-sectors");
SCM_KEYWORD(kw_descriptor, "descriptor");
SCM_KEYWORD(kw_gd, "gd");
SCM_KEYWORD(kw_rgd, "rgd");
SCM_KEYWORD(kw_tail_gte, "tail-gte");
SCM_KEYWORD(kw_new_cid, "new-cid");

SCM_SYMBOL(sym_fixed, "fixed");
SCM_SYMBOL(sym_dynamic, "dynamic");
SCM_SYMBOL(sym_differencing, "differencing");

/* Optional number: DEF when the keyword was not given. */
static uint64_t opt_u64(SCM v, uint64_t def, const char *subr, const char *what)
{
    return INSTAR_GIVEN(v) ? instar_guile_to_u64(v, subr, 0, what) : def;
}

static uint32_t opt_u32(SCM v, uint32_t def, const char *subr, const char *what)
{
    return INSTAR_GIVEN(v) ? instar_guile_to_u32(v, subr, 0, what) : def;
}

static bool opt_bool(SCM v, const char *subr, const char *what)
{
    return INSTAR_GIVEN(v) && instar_guile_to_bool(v, subr, 0, what);
}

/* A 16-byte GUID from a bytevector (absent: zeros). */
static void opt_guid(uint8_t out[16], SCM v, const char *subr, const char *what)
{
    memset(out, 0, 16);
    if (!INSTAR_GIVEN(v) || scm_is_false(v))
        return;
    struct instar_slice s = instar_guile_to_slice(v, subr, 0, what);
    if (s.len != 16)
        scm_out_of_range(subr, v);
    memcpy(out, s.data, 16);
}

static void request(struct instar_resize_request *req, SCM new_size, SCM shrink,
                    SCM allow_shrink, SCM prealloc, const char *subr)
{
    /* A missing required keyword is a keyword error, as Guile's own
     * lambda* reports an unknown one. */
    if (!INSTAR_GIVEN(new_size))
        scm_error(scm_from_utf8_symbol("keyword-argument-error"), subr,
                  "Missing required keyword argument: ~S", scm_list_1(kw_new_size),
                  scm_list_1(kw_new_size));
    req->new_size = instar_guile_to_u64(new_size, subr, 0, "#:new-size");
    if (INSTAR_GIVEN(shrink) && INSTAR_GIVEN(allow_shrink))
        scm_error(scm_from_utf8_symbol("keyword-argument-error"), subr,
                  "Give #:shrink? only (#:allow-shrink? is its old name)",
                  SCM_EOL, scm_list_1(kw_allow_shrink));
    req->allow_shrink = INSTAR_GIVEN(shrink) ? opt_bool(shrink, subr, "#:shrink?")
                                             : opt_bool(allow_shrink, subr, "#:allow-shrink?");
    req->prealloc = instar_guile_to_prealloc(prealloc, subr, 0, "#:prealloc");
}

/* A list of (index . bytevector) pairs as a GC-managed table array; the
 * slices borrow the bytevectors (the caller keeps LIST alive). */
static const struct instar_staged_table *staged(SCM list, size_t *n, const char *subr,
                                                const char *what)
{
    *n = 0;
    if (!INSTAR_GIVEN(list) || scm_is_false(list) || scm_is_null(list))
        return NULL;
    long len = scm_ilength(list);
    if (len < 0)
        scm_wrong_type_arg_msg(subr, 0, list, "list of (index . bytevector) pairs");
    struct instar_staged_table *t =
        scm_gc_malloc_pointerless(sizeof *t * (size_t)len, "instar-staged");
    size_t i = 0;
    for (SCM l = list; scm_is_pair(l); l = scm_cdr(l), i++) {
        SCM e = scm_car(l);
        if (!scm_is_pair(e) || !scm_is_bytevector(scm_cdr(e)))
            scm_wrong_type_arg_msg(subr, 0, e, "(index . bytevector) pair");
        t[i].index = instar_guile_to_u64(scm_car(e), subr, 0, what);
        t[i].bytes = instar_guile_to_slice(scm_cdr(e), subr, 0, what);
    }
    *n = i;
    return t;
}

enum planner_kind { P_RAW, P_QCOW2, P_VHD, P_VHDX, P_VMDK };

static int call_planner(enum planner_kind k, const void *opts, uint8_t *scratch,
                        size_t len, struct instar_resize_plan *plan)
{
    switch (k) {
    case P_RAW: return instar_plan_resize_raw(opts, scratch, len, plan);
    case P_QCOW2: return instar_plan_resize_qcow2(opts, scratch, len, plan);
    case P_VHD: return instar_plan_resize_vhd(opts, scratch, len, plan);
    case P_VHDX: return instar_plan_resize_vhdx(opts, scratch, len, plan);
    case P_VMDK: return instar_plan_resize_vmdk(opts, scratch, len, plan);
    }
    return INSTAR_E_INVALID_ARGUMENT;
}

/* Where a plan's payloads may legitimately point: the scratch buffer or
 * the caller's slices.  Checked before the payloads are copied, so a
 * planner bug (a payload pointer or length past its buffer) is reported
 * as an error instead of becoming an out-of-bounds read in Guile. */
struct payload_sources {
    struct instar_slice slices[8];
    size_t nslices;
    const struct instar_staged_table *tables[2];
    size_t ntables[2];
};

static void add_slice(struct payload_sources *src, struct instar_slice s)
{
    if (s.len > 0 && src->nslices < sizeof src->slices / sizeof src->slices[0])
        src->slices[src->nslices++] = s;
}

static int within(const uint8_t *p, uint64_t len, const uint8_t *base, size_t blen)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return base != NULL && a >= b && a - b <= blen && len <= blen - (a - b);
}

static int payloads_in_bounds(const struct instar_resize_plan *plan,
                              const struct payload_sources *src)
{
    size_t n = plan->npatches < INSTAR_MAX_RESIZE_PATCHES ? plan->npatches
                                                          : INSTAR_MAX_RESIZE_PATCHES;
    for (size_t i = 0; i < n; i++) {
        const struct instar_patch *p = &plan->patches[i];
        if (p->kind == INSTAR_PATCH_ZERO_FILL || p->data == NULL)
            continue;
        int ok = within(p->data, p->length, scratch_buf, scratch_cap);
        for (size_t j = 0; !ok && j < src->nslices; j++)
            ok = within(p->data, p->length, src->slices[j].data, src->slices[j].len);
        for (size_t t = 0; !ok && t < 2; t++)
            for (size_t j = 0; !ok && j < src->ntables[t]; j++)
                ok = within(p->data, p->length, src->tables[t][j].bytes.data,
                            src->tables[t][j].bytes.len);
        if (!ok)
            return 0;
    }
    return 1;
}

/* Plan with a growing scratch buffer; a plan object or an instar-error
 * whose message is the planner's reason (REQ is OPTS' request). */
static SCM run_planner(enum planner_kind k, enum instar_format fmt, const void *opts,
                       struct instar_resize_request *req, const struct payload_sources *src)
{
    struct instar_resize_plan plan;
    struct instar_refusal why = {NULL, NULL, 0};
    int rc;

    req->why = &why;

    for (;;) {
        if (scratch_cap == 0) {
            uint8_t *buf = malloc(SCRATCH_MIN);
            if (buf == NULL)
                instar_guile_throw(INSTAR_E_NOMEM, NULL, SCM_EOL);
            set_scratch(buf, SCRATCH_MIN);
        }
        rc = call_planner(k, opts, scratch_buf, scratch_cap, &plan);
        if (rc != INSTAR_E_SCRATCH_TOO_SMALL || scratch_cap >= SCRATCH_MAX)
            break;
        uint8_t *bigger = malloc(scratch_cap * 2);
        if (bigger == NULL)
            break;
        free(scratch_buf);
        set_scratch(bigger, scratch_cap * 2);
    }
    if (rc != INSTAR_OK) {
        /* Worded as the engines word it. */
        struct instar_diag diag;
        instar_diag_clear(&diag);
        instar_engine_refusal(rc, &why, &diag);
        instar_guile_throw(rc, diag.message,
                           rc == INSTAR_E_NOT_STAGED ? instar_guile_needs_detail(&plan) : SCM_EOL);
    }
    if (!payloads_in_bounds(&plan, src))
        instar_guile_throw(INSTAR_E_INVALID_ARGUMENT,
                           "planner bug: a patch payload lies outside the scratch buffer "
                           "and the staged slices", SCM_EOL);
    return instar_guile_make_plan(fmt, req->prealloc, &plan);
}

SCM_DEFINE(scm_instar_plan_resize_raw, "plan-resize-raw", 0, 0, 1, (SCM rest),
           "(plan-resize-raw #:new-size N [#:current-file-size 0] [#:shrink? #f]\n"
           "[#:prealloc 'off]) -- plan a raw resize.  Raw is its bytes: the plan sets\n"
           "the length (and zero-fills the first block of an empty file, as qemu-img\n"
           "does).  Returns a plan or raises instar-error (size-not-positive,\n"
           "shrink-needs-flag, prealloc-not-grow, unsupported-prealloc, too-large, ...).\n"
           "#:allow-shrink? is the old name of #:shrink?, still accepted.")
#define FUNC_NAME s_scm_instar_plan_resize_raw
{
    SCM cur = SCM_UNDEFINED, ns = SCM_UNDEFINED, sh = SCM_UNDEFINED, ash = SCM_UNDEFINED, pa = SCM_UNDEFINED;
    struct instar_raw_resize_opts o;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0, kw_current_file_size, &cur,
                                 kw_new_size, &ns, kw_shrink, &sh, kw_allow_shrink, &ash, kw_prealloc, &pa,
                                 SCM_UNDEFINED);
    memset(&o, 0, sizeof o);
    request(&o.req, ns, sh, ash, pa, FUNC_NAME);
    o.current_file_size = opt_u64(cur, 0, FUNC_NAME, "#:current-file-size");
    struct payload_sources src = {0};
    return run_planner(P_RAW, INSTAR_FORMAT_RAW, &o, &o.req, &src);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_resize_qcow2, "plan-resize-qcow2", 0, 0, 1, (SCM rest),
           "(plan-resize-qcow2 #:new-size N ...) -- plan a qcow2 resize.  Besides\n"
           "#:new-size, #:shrink? and #:prealloc, the keywords mirror struct\n"
           "instar_qcow2_resize_opts: #:current-file-size #:version #:cluster-bits\n"
           "#:virtual-size #:l1-size #:l1-table-offset #:refcount-table-offset\n"
           "#:refcount-table-clusters #:refcount-order #:incompatible-features\n"
           "#:compatible-features #:autoclear-features #:header-length #:nb-snapshots\n"
           "#:snapshots-offset #:has-bitmaps? and the bytevector slices #:header #:l1\n"
           "#:reftable; #:refblocks and #:l2-tables are lists of (index . bytevector).\n"
           "A missing table raises instar-error not-staged with details\n"
           "((needs (kind index length) ...)).")
#define FUNC_NAME s_scm_instar_plan_resize_qcow2
{
    SCM ns = SCM_UNDEFINED, sh = SCM_UNDEFINED, ash = SCM_UNDEFINED, pa = SCM_UNDEFINED, cur = SCM_UNDEFINED;
    SCM version = SCM_UNDEFINED, cbits = SCM_UNDEFINED, vsize = SCM_UNDEFINED;
    SCM l1_size = SCM_UNDEFINED, l1_off = SCM_UNDEFINED, rt_off = SCM_UNDEFINED;
    SCM rt_clusters = SCM_UNDEFINED, rorder = SCM_UNDEFINED, incompat = SCM_UNDEFINED;
    SCM compat = SCM_UNDEFINED, autoclear = SCM_UNDEFINED, hlen = SCM_UNDEFINED;
    SCM nsnap = SCM_UNDEFINED, snap_off = SCM_UNDEFINED, bitmaps = SCM_UNDEFINED;
    SCM header = SCM_UNDEFINED, l1 = SCM_UNDEFINED, reftable = SCM_UNDEFINED;
    SCM refblocks = SCM_UNDEFINED, l2s = SCM_UNDEFINED;
    struct instar_qcow2_resize_opts o;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0,
        kw_new_size, &ns, kw_shrink, &sh, kw_allow_shrink, &ash, kw_prealloc, &pa,
        kw_current_file_size, &cur, kw_version, &version, kw_cluster_bits, &cbits,
        kw_virtual_size, &vsize, kw_l1_size, &l1_size, kw_l1_table_offset, &l1_off,
        kw_refcount_table_offset, &rt_off, kw_refcount_table_clusters, &rt_clusters,
        kw_refcount_order, &rorder, kw_incompatible_features, &incompat,
        kw_compatible_features, &compat, kw_autoclear_features, &autoclear,
        kw_header_length, &hlen, kw_nb_snapshots, &nsnap, kw_snapshots_offset, &snap_off,
        kw_has_bitmaps, &bitmaps, kw_header, &header, kw_l1, &l1, kw_reftable, &reftable,
        kw_refblocks, &refblocks, kw_l2_tables, &l2s, SCM_UNDEFINED);
    memset(&o, 0, sizeof o);
    request(&o.req, ns, sh, ash, pa, FUNC_NAME);
    o.current_file_size = opt_u64(cur, 0, FUNC_NAME, "#:current-file-size");
    o.version = opt_u32(version, 3, FUNC_NAME, "#:version");
    o.cluster_bits = opt_u32(cbits, 16, FUNC_NAME, "#:cluster-bits");
    o.virtual_size = opt_u64(vsize, 0, FUNC_NAME, "#:virtual-size");
    o.l1_size = opt_u32(l1_size, 0, FUNC_NAME, "#:l1-size");
    o.l1_table_offset = opt_u64(l1_off, 0, FUNC_NAME, "#:l1-table-offset");
    o.refcount_table_offset = opt_u64(rt_off, 0, FUNC_NAME, "#:refcount-table-offset");
    o.refcount_table_clusters = opt_u32(rt_clusters, 0, FUNC_NAME, "#:refcount-table-clusters");
    o.refcount_order = opt_u32(rorder, 4, FUNC_NAME, "#:refcount-order");
    o.incompatible_features = opt_u64(incompat, 0, FUNC_NAME, "#:incompatible-features");
    o.compatible_features = opt_u64(compat, 0, FUNC_NAME, "#:compatible-features");
    o.autoclear_features = opt_u64(autoclear, 0, FUNC_NAME, "#:autoclear-features");
    o.header_length = opt_u32(hlen, 0, FUNC_NAME, "#:header-length");
    o.nb_snapshots = opt_u32(nsnap, 0, FUNC_NAME, "#:nb-snapshots");
    o.snapshots_offset = opt_u64(snap_off, 0, FUNC_NAME, "#:snapshots-offset");
    o.has_bitmaps = opt_bool(bitmaps, FUNC_NAME, "#:has-bitmaps?");
    o.header = instar_guile_to_slice(header, FUNC_NAME, 0, "#:header");
    o.l1 = instar_guile_to_slice(l1, FUNC_NAME, 0, "#:l1");
    o.reftable = instar_guile_to_slice(reftable, FUNC_NAME, 0, "#:reftable");
    o.refblocks = staged(refblocks, &o.n_refblocks, FUNC_NAME, "#:refblocks");
    o.l2_tables = staged(l2s, &o.n_l2_tables, FUNC_NAME, "#:l2-tables");
    struct payload_sources src = {0};
    add_slice(&src, o.header);
    add_slice(&src, o.l1);
    add_slice(&src, o.reftable);
    src.tables[0] = o.refblocks;
    src.ntables[0] = o.n_refblocks;
    src.tables[1] = o.l2_tables;
    src.ntables[1] = o.n_l2_tables;
    SCM result = run_planner(P_QCOW2, INSTAR_FORMAT_QCOW2, &o, &o.req, &src);
    scm_remember_upto_here_2(header, l1);
    scm_remember_upto_here_2(reftable, refblocks);
    scm_remember_upto_here_1(l2s);
    return result;
}
#undef FUNC_NAME

static enum instar_vhd_type vhd_type(SCM v, const char *subr)
{
    if (!INSTAR_GIVEN(v) || scm_is_eq(v, sym_dynamic))
        return INSTAR_VHD_DYNAMIC;
    if (scm_is_eq(v, sym_fixed))
        return INSTAR_VHD_FIXED;
    if (scm_is_eq(v, sym_differencing))
        return INSTAR_VHD_DIFFERENCING;
    /* Any other number is passed on: the planner must refuse it. */
    return (enum instar_vhd_type)instar_guile_to_u32(v, subr, 0,
                                                     "#:disk-type (fixed dynamic differencing or a number)");
}

SCM_DEFINE(scm_instar_plan_resize_vhd, "plan-resize-vhd", 0, 0, 1, (SCM rest),
           "(plan-resize-vhd #:new-size N ...) -- plan a VHD (vpc) resize.  Keywords\n"
           "besides #:new-size #:shrink? #:prealloc: #:current-file-size #:disk-type\n"
           "(fixed dynamic differencing) #:virtual-size #:block-size\n"
           "#:max-table-entries #:bat-offset #:first-block-offset and the bytevectors\n"
           "#:footer #:dyn-header #:bat.")
#define FUNC_NAME s_scm_instar_plan_resize_vhd
{
    SCM ns = SCM_UNDEFINED, sh = SCM_UNDEFINED, ash = SCM_UNDEFINED, pa = SCM_UNDEFINED, cur = SCM_UNDEFINED;
    SCM type = SCM_UNDEFINED, vsize = SCM_UNDEFINED, bsize = SCM_UNDEFINED;
    SCM mte = SCM_UNDEFINED, bat_off = SCM_UNDEFINED, footer = SCM_UNDEFINED;
    SCM dyn = SCM_UNDEFINED, bat = SCM_UNDEFINED, first = SCM_UNDEFINED;
    struct instar_vhd_resize_opts o;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0,
        kw_new_size, &ns, kw_shrink, &sh, kw_allow_shrink, &ash, kw_prealloc, &pa,
        kw_current_file_size, &cur, kw_disk_type, &type, kw_virtual_size, &vsize,
        kw_block_size, &bsize, kw_max_table_entries, &mte, kw_bat_offset, &bat_off,
        kw_footer, &footer, kw_dyn_header, &dyn, kw_bat, &bat,
        kw_first_block_offset, &first, SCM_UNDEFINED);
    memset(&o, 0, sizeof o);
    request(&o.req, ns, sh, ash, pa, FUNC_NAME);
    o.current_file_size = opt_u64(cur, 0, FUNC_NAME, "#:current-file-size");
    o.disk_type = vhd_type(type, FUNC_NAME);
    o.virtual_size = opt_u64(vsize, 0, FUNC_NAME, "#:virtual-size");
    o.block_size = opt_u32(bsize, 0, FUNC_NAME, "#:block-size");
    o.max_table_entries = opt_u32(mte, 0, FUNC_NAME, "#:max-table-entries");
    o.bat_offset = opt_u64(bat_off, 0, FUNC_NAME, "#:bat-offset");
    o.footer = instar_guile_to_slice(footer, FUNC_NAME, 0, "#:footer");
    o.dyn_header = instar_guile_to_slice(dyn, FUNC_NAME, 0, "#:dyn-header");
    o.bat = instar_guile_to_slice(bat, FUNC_NAME, 0, "#:bat");
    o.first_block_offset = opt_u64(first, 0, FUNC_NAME, "#:first-block-offset");
    struct payload_sources src = {0};
    add_slice(&src, o.footer);
    add_slice(&src, o.dyn_header);
    add_slice(&src, o.bat);
    SCM result = run_planner(P_VHD, INSTAR_FORMAT_VPC, &o, &o.req, &src);
    scm_remember_upto_here_2(footer, dyn);
    scm_remember_upto_here_1(bat);
    return result;
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_resize_vhdx, "plan-resize-vhdx", 0, 0, 1, (SCM rest),
           "(plan-resize-vhdx #:new-size N ...) -- plan a VHDX resize.  Keywords\n"
           "besides #:new-size #:shrink? #:prealloc: #:current-file-size #:virtual-size\n"
           "#:block-size #:logical-sector-size #:leave-blocks-allocated?\n"
           "#:metadata-offset #:bat-offset #:bat-region-length, the bytevectors\n"
           "#:header1 #:header2 #:region1 #:region2 #:metadata #:bat, and the new\n"
           "header GUIDs #:file-write-guid #:data-write-guid (16-byte bytevectors,\n"
           "default zeros: the planner is pure, so the caller supplies them).")
#define FUNC_NAME s_scm_instar_plan_resize_vhdx
{
    SCM ns = SCM_UNDEFINED, sh = SCM_UNDEFINED, ash = SCM_UNDEFINED, pa = SCM_UNDEFINED, cur = SCM_UNDEFINED;
    SCM vsize = SCM_UNDEFINED, bsize = SCM_UNDEFINED, lss = SCM_UNDEFINED;
    SCM leave = SCM_UNDEFINED, h1 = SCM_UNDEFINED, h2 = SCM_UNDEFINED;
    SCM r1 = SCM_UNDEFINED, r2 = SCM_UNDEFINED, meta = SCM_UNDEFINED;
    SCM meta_off = SCM_UNDEFINED, bat = SCM_UNDEFINED, bat_off = SCM_UNDEFINED;
    SCM bat_len = SCM_UNDEFINED, fw_guid = SCM_UNDEFINED, dw_guid = SCM_UNDEFINED;
    struct instar_vhdx_resize_opts o;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0,
        kw_new_size, &ns, kw_shrink, &sh, kw_allow_shrink, &ash, kw_prealloc, &pa,
        kw_current_file_size, &cur, kw_virtual_size, &vsize, kw_block_size, &bsize,
        kw_logical_sector_size, &lss, kw_leave_blocks_allocated, &leave,
        kw_header1, &h1, kw_header2, &h2, kw_region1, &r1, kw_region2, &r2,
        kw_metadata, &meta, kw_metadata_offset, &meta_off, kw_bat, &bat,
        kw_bat_offset, &bat_off, kw_bat_region_length, &bat_len,
        kw_file_write_guid, &fw_guid, kw_data_write_guid, &dw_guid, SCM_UNDEFINED);
    memset(&o, 0, sizeof o);
    request(&o.req, ns, sh, ash, pa, FUNC_NAME);
    o.current_file_size = opt_u64(cur, 0, FUNC_NAME, "#:current-file-size");
    o.virtual_size = opt_u64(vsize, 0, FUNC_NAME, "#:virtual-size");
    o.block_size = opt_u32(bsize, 0, FUNC_NAME, "#:block-size");
    o.logical_sector_size = opt_u32(lss, 512, FUNC_NAME, "#:logical-sector-size");
    o.leave_blocks_allocated = opt_bool(leave, FUNC_NAME, "#:leave-blocks-allocated?");
    o.header1 = instar_guile_to_slice(h1, FUNC_NAME, 0, "#:header1");
    o.header2 = instar_guile_to_slice(h2, FUNC_NAME, 0, "#:header2");
    o.region1 = instar_guile_to_slice(r1, FUNC_NAME, 0, "#:region1");
    o.region2 = instar_guile_to_slice(r2, FUNC_NAME, 0, "#:region2");
    o.metadata = instar_guile_to_slice(meta, FUNC_NAME, 0, "#:metadata");
    o.metadata_offset = opt_u64(meta_off, 0, FUNC_NAME, "#:metadata-offset");
    o.bat = instar_guile_to_slice(bat, FUNC_NAME, 0, "#:bat");
    o.bat_offset = opt_u64(bat_off, 0, FUNC_NAME, "#:bat-offset");
    o.bat_region_length = opt_u32(bat_len, 0, FUNC_NAME, "#:bat-region-length");
    opt_guid(o.file_write_guid, fw_guid, FUNC_NAME, "#:file-write-guid");
    opt_guid(o.data_write_guid, dw_guid, FUNC_NAME, "#:data-write-guid");
    struct payload_sources src = {0};
    add_slice(&src, o.header1);
    add_slice(&src, o.header2);
    add_slice(&src, o.region1);
    add_slice(&src, o.region2);
    add_slice(&src, o.metadata);
    add_slice(&src, o.bat);
    SCM result = run_planner(P_VHDX, INSTAR_FORMAT_VHDX, &o, &o.req, &src);
    scm_remember_upto_here_2(h1, h2);
    scm_remember_upto_here_2(r1, r2);
    scm_remember_upto_here_2(meta, bat);
    return result;
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_resize_vmdk, "plan-resize-vmdk", 0, 0, 1, (SCM rest),
           "(plan-resize-vmdk #:new-size N ...) -- plan a VMDK (monolithicSparse)\n"
           "resize.  Keywords besides #:new-size #:shrink? #:prealloc:\n"
           "#:current-file-size #:capacity-sectors #:grain-sectors #:gtes-per-gt\n"
           "#:gd-offset-sectors #:rgd-offset-sectors #:descriptor-offset-sectors\n"
           "#:descriptor-sectors #:new-cid (the descriptor's new CID) and the\n"
           "bytevectors #:header #:descriptor #:gd #:rgd #:tail-gte (the grain-table\n"
           "entry of the last grain, when the planner asks for it).  A refusal carries\n"
           "the planner's one-line reason as its message.")
#define FUNC_NAME s_scm_instar_plan_resize_vmdk
{
    SCM ns = SCM_UNDEFINED, sh = SCM_UNDEFINED, ash = SCM_UNDEFINED, pa = SCM_UNDEFINED, cur = SCM_UNDEFINED;
    SCM cap = SCM_UNDEFINED, grain = SCM_UNDEFINED, gtes = SCM_UNDEFINED;
    SCM gd_off = SCM_UNDEFINED, rgd_off = SCM_UNDEFINED, desc_off = SCM_UNDEFINED;
    SCM desc_sec = SCM_UNDEFINED, header = SCM_UNDEFINED, desc = SCM_UNDEFINED;
    SCM gd = SCM_UNDEFINED, rgd = SCM_UNDEFINED, tail = SCM_UNDEFINED, cid = SCM_UNDEFINED;
    struct instar_vmdk_resize_opts o;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0,
        kw_new_size, &ns, kw_shrink, &sh, kw_allow_shrink, &ash, kw_prealloc, &pa,
        kw_current_file_size, &cur, kw_capacity_sectors, &cap, kw_grain_sectors, &grain,
        kw_gtes_per_gt, &gtes, kw_gd_offset_sectors, &gd_off,
        kw_rgd_offset_sectors, &rgd_off, kw_descriptor_offset_sectors, &desc_off,
        kw_descriptor_sectors, &desc_sec, kw_header, &header, kw_descriptor, &desc,
        kw_gd, &gd, kw_rgd, &rgd, kw_tail_gte, &tail, kw_new_cid, &cid, SCM_UNDEFINED);
    memset(&o, 0, sizeof o);
    request(&o.req, ns, sh, ash, pa, FUNC_NAME);
    o.current_file_size = opt_u64(cur, 0, FUNC_NAME, "#:current-file-size");
    o.capacity_sectors = opt_u64(cap, 0, FUNC_NAME, "#:capacity-sectors");
    o.grain_sectors = opt_u64(grain, 128, FUNC_NAME, "#:grain-sectors");
    o.gtes_per_gt = opt_u32(gtes, 512, FUNC_NAME, "#:gtes-per-gt");
    o.gd_offset_sectors = opt_u64(gd_off, 0, FUNC_NAME, "#:gd-offset-sectors");
    o.rgd_offset_sectors = opt_u64(rgd_off, 0, FUNC_NAME, "#:rgd-offset-sectors");
    o.descriptor_offset_sectors = opt_u64(desc_off, 0, FUNC_NAME, "#:descriptor-offset-sectors");
    o.descriptor_sectors = opt_u64(desc_sec, 0, FUNC_NAME, "#:descriptor-sectors");
    o.header = instar_guile_to_slice(header, FUNC_NAME, 0, "#:header");
    o.descriptor = instar_guile_to_slice(desc, FUNC_NAME, 0, "#:descriptor");
    o.gd = instar_guile_to_slice(gd, FUNC_NAME, 0, "#:gd");
    o.rgd = instar_guile_to_slice(rgd, FUNC_NAME, 0, "#:rgd");
    o.tail_gte = instar_guile_to_slice(tail, FUNC_NAME, 0, "#:tail-gte");
    o.new_cid = opt_u32(cid, 0, FUNC_NAME, "#:new-cid");
    struct payload_sources src = {0};
    add_slice(&src, o.header);
    add_slice(&src, o.descriptor);
    add_slice(&src, o.gd);
    add_slice(&src, o.rgd);
    add_slice(&src, o.tail_gte);
    SCM result = run_planner(P_VMDK, INSTAR_FORMAT_VMDK, &o, &o.req, &src);
    scm_remember_upto_here_2(header, desc);
    scm_remember_upto_here_2(gd, rgd);
    scm_remember_upto_here_1(tail);
    return result;
}
#undef FUNC_NAME

void instar_guile_init_planners(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "planners.x"
#endif
}
