/* SPDX-License-Identifier: GPL-3.0-or-later */
/* plans.c -- the plan foreign object and its accessors.
 *
 * A plan object owns a copy of the C plan and of every payload, so it
 * outlives the scratch buffer, the engine's staging and the caller's
 * bytevectors it was computed from.  Patches and violations cross into
 * Scheme as small vectors; (instar core) turns them into records.  */
#include <config.h>

#include <string.h>

#include "instar-guile.h"
#include "instar/error.h"
#include "util/checked.h"

static SCM plan_type;

SCM_SYMBOL(sym_grow, "grow");
SCM_SYMBOL(sym_shrink, "shrink");
SCM_SYMBOL(sym_noop, "noop");
SCM_SYMBOL(sym_write, "write");
SCM_SYMBOL(sym_append, "append");
SCM_SYMBOL(sym_zero_fill, "zero-fill");
SCM_SYMBOL(sym_needs, "needs");
SCM_SYMBOL(sym_refblock, "refblock");
SCM_SYMBOL(sym_l2, "l2");
SCM_SYMBOL(sym_bytes, "bytes");

SCM_KEYWORD(kw_format, "format");
SCM_KEYWORD(kw_action, "action");
SCM_KEYWORD(kw_old_virtual_size, "old-virtual-size");
SCM_KEYWORD(kw_new_virtual_size, "new-virtual-size");
SCM_KEYWORD(kw_total_file_size, "total-file-size");
SCM_KEYWORD(kw_prealloc_range, "prealloc-range");
SCM_KEYWORD(kw_patches, "patches");
SCM_KEYWORD(kw_prealloc, "prealloc");

static SCM action_symbol(enum instar_resize_action a)
{
    switch (a) {
    case INSTAR_ACTION_GROW: return sym_grow;
    case INSTAR_ACTION_SHRINK: return sym_shrink;
    case INSTAR_ACTION_NOOP:
    default: return sym_noop;
    }
}

static SCM kind_symbol(enum instar_patch_kind k)
{
    switch (k) {
    case INSTAR_PATCH_WRITE: return sym_write;
    case INSTAR_PATCH_APPEND: return sym_append;
    case INSTAR_PATCH_ZERO_FILL: return sym_zero_fill;
    default: return scm_from_int((int)k);
    }
}

/* The patches actually stored (a hand-made plan may claim more than the
 * array holds, to exercise invariant 1). */
static size_t stored_patches(const struct instar_resize_plan *p)
{
    return p->npatches < INSTAR_MAX_RESIZE_PATCHES ? p->npatches : INSTAR_MAX_RESIZE_PATCHES;
}

static int has_payload(const struct instar_patch *p)
{
    return p->kind != INSTAR_PATCH_ZERO_FILL && p->data != NULL;
}

SCM instar_guile_make_plan(enum instar_format format, enum instar_prealloc prealloc,
                           const struct instar_resize_plan *plan)
{
    size_t n = stored_patches(plan), total = 0;
    struct instar_guile_plan *gp =
        scm_gc_malloc_pointerless(sizeof *gp + n * sizeof gp->patches[0], "instar-plan");

    for (size_t i = 0; i < n; i++) {
        const struct instar_patch *p = &plan->patches[i];
        if (has_payload(p)) {
            if (p->length > SIZE_MAX - total)
                instar_guile_throw(INSTAR_E_OVERFLOW, "plan payloads exceed memory", SCM_EOL);
            total += (size_t)p->length;
        }
    }
    uint8_t *payload = total ? scm_gc_malloc_pointerless(total, "instar-plan-payload") : NULL;
    gp->format = format;
    gp->action = plan->action;
    gp->prealloc = prealloc;
    gp->old_virtual_size = plan->old_virtual_size;
    gp->new_virtual_size = plan->new_virtual_size;
    gp->total_file_size = plan->total_file_size;
    gp->prealloc_offset = plan->prealloc_offset;
    gp->prealloc_length = plan->prealloc_length;
    gp->npatches = plan->npatches;
    gp->nstored = n;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        struct instar_patch *p = &gp->patches[i];
        *p = plan->patches[i];
        if (has_payload(p)) {
            memcpy(payload + at, p->data, (size_t)p->length);
            p->data = payload + at;
            at += (size_t)p->length;
        } else {
            p->data = NULL;
        }
    }
    return scm_make_foreign_object_2(plan_type, gp, payload);
}

void instar_guile_plan_expand(const struct instar_guile_plan *gp,
                              struct instar_resize_plan *out)
{
    instar_plan_init(out);
    out->action = gp->action;
    out->old_virtual_size = gp->old_virtual_size;
    out->new_virtual_size = gp->new_virtual_size;
    out->total_file_size = gp->total_file_size;
    out->prealloc_offset = gp->prealloc_offset;
    out->prealloc_length = gp->prealloc_length;
    out->npatches = gp->npatches;
    memcpy(out->patches, gp->patches, gp->nstored * sizeof gp->patches[0]);
}

struct instar_guile_plan *instar_guile_plan_ref(SCM obj, const char *subr, int pos)
{
    if (!SCM_IS_A_P(obj, plan_type))
        scm_wrong_type_arg_msg(subr, pos, obj, "plan");
    return scm_foreign_object_ref(obj, 0);
}

SCM instar_guile_needs_detail(const struct instar_resize_plan *plan)
{
    SCM needs = SCM_EOL;
    size_t n = plan->nneeds < INSTAR_MAX_NEEDS ? plan->nneeds : INSTAR_MAX_NEEDS;
    for (size_t i = n; i-- > 0;) {
        const struct instar_need *nd = &plan->needs[i];
        SCM kind = nd->kind == INSTAR_NEED_REFBLOCK ? sym_refblock
                 : nd->kind == INSTAR_NEED_L2 ? sym_l2
                 : nd->kind == INSTAR_NEED_BYTES ? sym_bytes
                 : scm_from_int((int)nd->kind);
        needs = scm_cons(scm_list_3(kind, scm_from_uint64(nd->index),
                                    scm_from_uint64(nd->length)), needs);
    }
    return scm_list_1(scm_cons(sym_needs, needs));
}

#define PLAN(obj) instar_guile_plan_ref((obj), FUNC_NAME, SCM_ARG1)

SCM_DEFINE(scm_instar_plan_p, "plan?", 1, 0, 0, (SCM obj),
           "(plan? OBJ) -- true when OBJ is a plan.")
#define FUNC_NAME s_scm_instar_plan_p
{
    return scm_from_bool(SCM_IS_A_P(obj, plan_type));
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_action, "plan-action", 1, 0, 0, (SCM plan),
           "(plan-action PLAN) -- grow, shrink or noop.")
#define FUNC_NAME s_scm_instar_plan_action
{
    return action_symbol(PLAN(plan)->action);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_format, "plan-format", 1, 0, 0, (SCM plan),
           "(plan-format PLAN) -- raw qcow2 vpc vhdx vmdk, or #f for a hand-made plan.")
#define FUNC_NAME s_scm_instar_plan_format
{
    struct instar_guile_plan *gp = instar_guile_plan_ref(plan, FUNC_NAME, SCM_ARG1);
    if (gp->format == INSTAR_FORMAT_UNKNOWN)
        return SCM_BOOL_F;
    return scm_from_utf8_symbol(instar_format_name(gp->format));
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_prealloc, "plan-prealloc", 1, 0, 0, (SCM plan),
           "(plan-prealloc PLAN) -- the preallocation mode PLAN was made for: off\n"
           "metadata falloc full.")
#define FUNC_NAME s_scm_instar_plan_prealloc
{
    return scm_from_utf8_symbol(instar_prealloc_name(PLAN(plan)->prealloc));
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_total_file_size, "plan-total-file-size", 1, 0, 0, (SCM plan),
           "(plan-total-file-size PLAN) -- the file length once every patch is\n"
           "applied.")
#define FUNC_NAME s_scm_instar_plan_total_file_size
{
    return scm_from_uint64(PLAN(plan)->total_file_size);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_new_virtual_size, "plan-new-virtual-size", 1, 0, 0, (SCM plan),
           "(plan-new-virtual-size PLAN) -- the virtual size the format reports\n"
           "afterwards.")
#define FUNC_NAME s_scm_instar_plan_new_virtual_size
{
    return scm_from_uint64(PLAN(plan)->new_virtual_size);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_old_virtual_size, "plan-old-virtual-size", 1, 0, 0, (SCM plan),
           "(plan-old-virtual-size PLAN) -- the virtual size before.")
#define FUNC_NAME s_scm_instar_plan_old_virtual_size
{
    return scm_from_uint64(PLAN(plan)->old_virtual_size);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_prealloc_range, "plan-prealloc-range", 1, 0, 0, (SCM plan),
           "(plan-prealloc-range PLAN) -- (offset . length) the host preallocates;\n"
           "length 0 when none.")
#define FUNC_NAME s_scm_instar_plan_prealloc_range
{
    const struct instar_guile_plan *p = PLAN(plan);
    return scm_cons(scm_from_uint64(p->prealloc_offset), scm_from_uint64(p->prealloc_length));
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_patch_count, "plan-patch-count", 1, 0, 0, (SCM plan),
           "(plan-patch-count PLAN) -- the number of patches.")
#define FUNC_NAME s_scm_instar_plan_patch_count
{
    return scm_from_size_t(PLAN(plan)->npatches);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_patches_raw, "%plan-patches", 1, 0, 0, (SCM plan),
           "(%plan-patches PLAN) -- the patches as a list of\n"
           "#(kind offset length payload) vectors (plan-patches makes records).")
#define FUNC_NAME "plan-patches"
{
    struct instar_guile_plan *gp = instar_guile_plan_ref(plan, FUNC_NAME, SCM_ARG1);
    SCM out = SCM_EOL;
    for (size_t i = gp->nstored; i-- > 0;) {
        const struct instar_patch *p = &gp->patches[i];
        SCM payload = SCM_BOOL_F;
        if (has_payload(p)) {
            payload = scm_c_make_bytevector((size_t)p->length);
            if (p->length)
                memcpy(SCM_BYTEVECTOR_CONTENTS(payload), p->data, (size_t)p->length);
        }
        SCM v = scm_c_make_vector(4, SCM_BOOL_F);
        SCM_SIMPLE_VECTOR_SET(v, 0, kind_symbol(p->kind));
        SCM_SIMPLE_VECTOR_SET(v, 1, scm_from_uint64(p->offset));
        SCM_SIMPLE_VECTOR_SET(v, 2, scm_from_uint64(p->length));
        SCM_SIMPLE_VECTOR_SET(v, 3, payload);
        out = scm_cons(v, out);
    }
    scm_remember_upto_here_1(plan);
    return out;
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_plan_check_raw, "%plan-check", 1, 0, 0, (SCM plan),
           "(%plan-check PLAN) -- violations of the four plan invariants as a list\n"
           "of #(invariant (patch-index ...) message) vectors; empty when valid\n"
           "(plan-check makes records).")
#define FUNC_NAME "plan-check"
{
    struct instar_resize_plan full;
    const struct instar_resize_plan *p = &full;
    struct instar_check_report report;
    SCM out = SCM_EOL;
    instar_guile_plan_expand(PLAN(plan), &full);
    size_t n = instar_plan_check(p, &report);
    if (n > INSTAR_MAX_VIOLATIONS)
        n = INSTAR_MAX_VIOLATIONS;
    for (size_t i = n; i-- > 0;) {
        const struct instar_violation *v = &report.violations[i];
        char msg[256];
        SCM idx = SCM_EOL;
        if (v->patch_b != SIZE_MAX)
            idx = scm_cons(scm_from_size_t(v->patch_b), idx);
        if (v->patch_a != SIZE_MAX)
            idx = scm_cons(scm_from_size_t(v->patch_a), idx);
        instar_violation_format(p, v, msg, sizeof msg);
        SCM vec = scm_c_make_vector(3, SCM_BOOL_F);
        SCM_SIMPLE_VECTOR_SET(vec, 0, scm_from_int((int)v->invariant));
        SCM_SIMPLE_VECTOR_SET(vec, 1, idx);
        SCM_SIMPLE_VECTOR_SET(vec, 2, scm_from_utf8_string(msg));
        out = scm_cons(vec, out);
    }
    scm_remember_upto_here_1(plan);
    return out;
}
#undef FUNC_NAME

/* ---- hand-made plans (to exercise the checker and the printer) -------- */

static enum instar_patch_kind kind_from_symbol(SCM k, const char *subr)
{
    if (scm_is_eq(k, sym_write))
        return INSTAR_PATCH_WRITE;
    if (scm_is_eq(k, sym_append))
        return INSTAR_PATCH_APPEND;
    if (scm_is_eq(k, sym_zero_fill))
        return INSTAR_PATCH_ZERO_FILL;
    if (!scm_is_symbol(k))
        scm_wrong_type_arg_msg(subr, 0, k, "patch kind symbol (write append zero-fill)");
    scm_out_of_range(subr, k);
    return INSTAR_PATCH_WRITE;
}

SCM_DEFINE(scm_instar_make_plan_raw, "%make-plan", 0, 0, 1, (SCM rest),
           "(%make-plan #:format ... #:patches VECTORS) -- make a plan by hand;\n"
           "#:patches is a list of #(kind offset length payload) vectors (make-plan\n"
           "takes patch records).")
#define FUNC_NAME "make-plan"
{
    SCM format = SCM_UNDEFINED, action = SCM_UNDEFINED, oldv = SCM_UNDEFINED;
    SCM newv = SCM_UNDEFINED, total = SCM_UNDEFINED, range = SCM_UNDEFINED;
    SCM patches = SCM_UNDEFINED, prealloc = SCM_UNDEFINED;
    struct instar_resize_plan plan;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0,
                                 kw_format, &format, kw_action, &action,
                                 kw_old_virtual_size, &oldv, kw_new_virtual_size, &newv,
                                 kw_total_file_size, &total, kw_prealloc_range, &range,
                                 kw_patches, &patches, kw_prealloc, &prealloc, SCM_UNDEFINED);
    instar_plan_init(&plan);
    enum instar_format fmt = instar_guile_to_format(format, FUNC_NAME, 0, "#:format");
    if (INSTAR_GIVEN(action)) {
        if (scm_is_eq(action, sym_grow))
            plan.action = INSTAR_ACTION_GROW;
        else if (scm_is_eq(action, sym_shrink))
            plan.action = INSTAR_ACTION_SHRINK;
        else if (scm_is_eq(action, sym_noop))
            plan.action = INSTAR_ACTION_NOOP;
        else
            scm_wrong_type_arg_msg(FUNC_NAME, 0, action, "action symbol (grow shrink noop) for #:action");
    }
    if (INSTAR_GIVEN(oldv))
        plan.old_virtual_size = instar_guile_to_u64(oldv, FUNC_NAME, 0, "#:old-virtual-size");
    if (INSTAR_GIVEN(newv))
        plan.new_virtual_size = instar_guile_to_u64(newv, FUNC_NAME, 0, "#:new-virtual-size");
    if (INSTAR_GIVEN(total))
        plan.total_file_size = instar_guile_to_u64(total, FUNC_NAME, 0, "#:total-file-size");
    if (INSTAR_GIVEN(range)) {
        if (!scm_is_pair(range))
            scm_wrong_type_arg_msg(FUNC_NAME, 0, range, "pair (offset . length) for #:prealloc-range");
        plan.prealloc_offset = instar_guile_to_u64(scm_car(range), FUNC_NAME, 0, "#:prealloc-range");
        plan.prealloc_length = instar_guile_to_u64(scm_cdr(range), FUNC_NAME, 0, "#:prealloc-range");
    }
    if (INSTAR_GIVEN(patches)) {
        if (scm_ilength(patches) < 0)
            scm_wrong_type_arg_msg(FUNC_NAME, 0, patches, "list for #:patches");
        size_t i = 0;
        for (SCM l = patches; scm_is_pair(l); l = scm_cdr(l), i++) {
            SCM v = scm_car(l);
            if (!scm_is_vector(v) || SCM_SIMPLE_VECTOR_LENGTH(v) != 4)
                scm_wrong_type_arg_msg(FUNC_NAME, 0, v, "patch for #:patches");
            if (i >= INSTAR_MAX_RESIZE_PATCHES)
                continue;       /* counted, not stored: invariant 1 */
            struct instar_patch *p = &plan.patches[i];
            p->kind = kind_from_symbol(SCM_SIMPLE_VECTOR_REF(v, 0), FUNC_NAME);
            p->offset = instar_guile_to_u64(SCM_SIMPLE_VECTOR_REF(v, 1), FUNC_NAME, 0, "patch offset");
            p->length = instar_guile_to_u64(SCM_SIMPLE_VECTOR_REF(v, 2), FUNC_NAME, 0, "patch length");
            SCM payload = SCM_SIMPLE_VECTOR_REF(v, 3);
            p->data = NULL;
            if (p->kind != INSTAR_PATCH_ZERO_FILL && scm_is_true(payload)) {
                struct instar_slice s = instar_guile_to_slice(payload, FUNC_NAME, 0, "patch payload");
                if (s.len != p->length)
                    scm_out_of_range(FUNC_NAME, payload);
                /* A zero-length payload still marks "has payload". */
                p->data = s.data ? s.data : (const uint8_t *)"";
            }
        }
        plan.npatches = i;
    }
    enum instar_prealloc pa = instar_guile_to_prealloc(prealloc, FUNC_NAME, 0, "#:prealloc");
    SCM obj = instar_guile_make_plan(fmt, pa, &plan);
    scm_remember_upto_here_1(patches);
    return obj;
}
#undef FUNC_NAME

void instar_guile_init_plans(void)
{
    SCM name = scm_from_utf8_symbol("plan");
    SCM slots = scm_list_2(scm_from_utf8_symbol("data"), scm_from_utf8_symbol("payload"));
    plan_type = scm_make_foreign_object_type(name, slots, NULL);
    scm_c_define("<plan>", plan_type);
#ifndef SCM_MAGIC_SNARFER
#include "plans.x"
#endif
}
