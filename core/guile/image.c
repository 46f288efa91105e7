/* SPDX-License-Identifier: GPL-3.0-or-later */
/* image.c -- images on files: create, probe, plan, resize; size specs.
 *
 * Long operations (create and resize, which may preallocate gigabytes)
 * run outside Guile mode, so other threads, the collector and Ctrl-C
 * (delivered as an async once the call returns) are not held up.  */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instar-guile.h"
#include "instar/error.h"

SCM_KEYWORD(kw_format, "format");
SCM_KEYWORD(kw_size, "size");
SCM_KEYWORD(kw_options, "options");
SCM_KEYWORD(kw_prealloc, "prealloc");
SCM_KEYWORD(kw_shrink, "shrink?");

SCM_SYMBOL(sym_absolute, "absolute");
SCM_SYMBOL(sym_plus, "plus");
SCM_SYMBOL(sym_minus, "minus");
SCM_SYMBOL(sym_errno, "errno");

static SCM errno_detail(int err)
{
    return err ? scm_list_1(scm_cons(sym_errno, scm_from_int(err))) : SCM_EOL;
}

/* Raise CODE with DIAG's message; frees nothing (callers free first). */
static SCM_NORETURN void throw_diag(int code, const struct instar_diag *diag)
{
    instar_guile_throw(code, diag->message, errno_detail(diag->sys_errno));
}

static SCM_NORETURN void throw_size(int code, SCM text)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s", instar_strerror(code));
    instar_guile_throw(code, msg, scm_list_1(text));
}

static SCM sign_symbol(enum instar_size_sign s)
{
    return s == INSTAR_SIZE_PLUS ? sym_plus : s == INSTAR_SIZE_MINUS ? sym_minus : sym_absolute;
}

SCM_DEFINE(scm_instar_parse_size, "parse-size", 1, 0, 0, (SCM text),
           "(parse-size TEXT) -- a qemu-img size (\"1.5M\", \"0x200\", \"512\") in bytes.")
#define FUNC_NAME s_scm_instar_parse_size
{
    uint64_t out;
    char *c = instar_guile_to_cstring(text, FUNC_NAME, SCM_ARG1, "size");
    int rc = instar_parse_size(c, &out);
    free(c);
    if (rc != INSTAR_OK)
        throw_size(rc, text);
    return scm_from_uint64(out);
}
#undef FUNC_NAME

SCM_DEFINE(scm_instar_parse_size_spec, "parse-size-spec", 1, 0, 0, (SCM text),
           "(parse-size-spec TEXT) -- (absolute|plus|minus . bytes) for \"2G\",\n"
           "\"+1M\", \"-512\".")
#define FUNC_NAME s_scm_instar_parse_size_spec
{
    struct instar_size_spec spec;
    char *c = instar_guile_to_cstring(text, FUNC_NAME, SCM_ARG1, "size spec");
    int rc = instar_parse_size_spec(c, &spec);
    free(c);
    if (rc != INSTAR_OK)
        throw_size(rc, text);
    return scm_cons(sign_symbol(spec.sign), scm_from_uint64(spec.amount));
}
#undef FUNC_NAME

/* A size spec argument: a string, a non-negative integer (absolute) or a
 * (sign . amount) pair as parse-size-spec returns. */
static struct instar_size_spec to_spec(SCM v, const char *subr, int pos)
{
    struct instar_size_spec spec = {INSTAR_SIZE_ABSOLUTE, 0};
    if (scm_is_string(v)) {
        char *c = instar_guile_to_cstring(v, subr, pos, "size spec");
        int rc = instar_parse_size_spec(c, &spec);
        free(c);
        if (rc != INSTAR_OK)
            throw_size(rc, v);
    } else if (scm_is_pair(v)) {
        SCM s = scm_car(v);
        if (scm_is_eq(s, sym_plus))
            spec.sign = INSTAR_SIZE_PLUS;
        else if (scm_is_eq(s, sym_minus))
            spec.sign = INSTAR_SIZE_MINUS;
        else if (!scm_is_eq(s, sym_absolute))
            scm_wrong_type_arg_msg(subr, pos, v, "size spec (string, integer or (sign . amount))");
        spec.amount = instar_guile_to_u64(scm_cdr(v), subr, pos, "size spec amount");
    } else if (scm_is_exact_integer(v)) {
        spec.amount = instar_guile_to_u64(v, subr, pos, "size");
    } else {
        scm_wrong_type_arg_msg(subr, pos, v, "size spec (string, integer or (sign . amount))");
    }
    return spec;
}

SCM_DEFINE(scm_instar_image_probe, "image-probe", 1, 0, 0, (SCM path),
           "(image-probe PATH) -- the format of PATH from its content: raw qcow2 vpc\n"
           "vhdx vmdk.")
#define FUNC_NAME s_scm_instar_image_probe
{
    struct instar_diag diag;
    enum instar_format fmt;
    char *c = instar_guile_to_cstring(path, FUNC_NAME, SCM_ARG1, "path");
    instar_diag_clear(&diag);
    int rc = instar_probe_file(c, &fmt, &diag);
    free(c);
    if (rc != INSTAR_OK)
        throw_diag(rc, &diag);
    return scm_from_utf8_symbol(instar_format_name(fmt));
}
#undef FUNC_NAME

static void resize_args(struct instar_resize_args *a, SCM spec, SCM format, SCM shrink,
                        SCM prealloc, const char *subr)
{
    memset(a, 0, sizeof *a);
    a->size = to_spec(spec, subr, SCM_ARG2);
    a->format = instar_guile_to_format(format, subr, 0, "#:format");
    a->allow_shrink = INSTAR_GIVEN(shrink) && instar_guile_to_bool(shrink, subr, 0, "#:shrink?");
    a->prealloc = instar_guile_to_prealloc(prealloc, subr, 0, "#:prealloc");
}

SCM_DEFINE(scm_instar_image_plan, "image-plan", 2, 0, 1, (SCM path, SCM spec, SCM rest),
           "(image-plan PATH SIZE-SPEC #:format #f #:shrink? #f #:prealloc 'off) --\n"
           "plan resizing PATH without touching it (the file is only read;\n"
           "a qcow2 image's backing chain is opened too, as for image-resize).\n"
           "SIZE-SPEC: \"+1M\", \"-512\", \"2G\", a non-negative integer (absolute) or\n"
           "(sign . amount).  #:format #f probes.")
#define FUNC_NAME s_scm_instar_image_plan
{
    SCM format = SCM_UNDEFINED, shrink = SCM_UNDEFINED, prealloc = SCM_UNDEFINED;
    struct instar_resize_args a;
    struct instar_image_plan ip;
    struct instar_diag diag;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0, kw_format, &format, kw_shrink, &shrink,
                                 kw_prealloc, &prealloc, SCM_UNDEFINED);
    resize_args(&a, spec, format, shrink, prealloc, FUNC_NAME);
    char *c = instar_guile_to_cstring(path, FUNC_NAME, SCM_ARG1, "path");
    instar_diag_clear(&diag);
    int rc = instar_plan_file(c, &a, false, &ip, &diag);
    free(c);
    if (rc != INSTAR_OK) {
        SCM details = rc == INSTAR_E_NOT_STAGED ? instar_guile_needs_detail(&ip.plan)
                                                : errno_detail(diag.sys_errno);
        instar_image_plan_free(&ip);
        instar_guile_throw(rc, diag.message, details);
    }
    /* Copying can only fail by raising; free the C side first would lose
     * the payloads, so copy inside a dynwind that frees on either exit. */
    scm_dynwind_begin(0);
    scm_dynwind_unwind_handler((void (*)(void *))instar_image_plan_free, &ip,
                               SCM_F_WIND_EXPLICITLY);
    SCM obj = instar_guile_make_plan(ip.format, a.prealloc, &ip.plan);
    scm_dynwind_end();
    return obj;
}
#undef FUNC_NAME

struct resize_job {
    const char *path;
    struct instar_resize_args args;
    struct instar_diag diag;
    int rc;
};

static void *resize_outside_guile(void *data)
{
    struct resize_job *j = data;
    j->rc = instar_resize_file(j->path, &j->args, &j->diag);
    return NULL;
}

SCM_DEFINE(scm_instar_image_resize, "image-resize", 2, 0, 1, (SCM path, SCM spec, SCM rest),
           "(image-resize PATH SIZE-SPEC #:format #f #:shrink? #f #:prealloc 'off) --\n"
           "resize PATH as qemu-img resize would; #t or instar-error (a smaller size\n"
           "without #:shrink? #t is shrink-needs-flag).  Runs outside Guile mode\n"
           "(long preallocations do not block other threads).")
#define FUNC_NAME s_scm_instar_image_resize
{
    SCM format = SCM_UNDEFINED, shrink = SCM_UNDEFINED, prealloc = SCM_UNDEFINED;
    struct resize_job j;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0, kw_format, &format, kw_shrink, &shrink,
                                 kw_prealloc, &prealloc, SCM_UNDEFINED);
    resize_args(&j.args, spec, format, shrink, prealloc, FUNC_NAME);
    char *c = instar_guile_to_cstring(path, FUNC_NAME, SCM_ARG1, "path");
    instar_diag_clear(&j.diag);
    j.path = c;
    scm_without_guile(resize_outside_guile, &j);
    free(c);
    if (j.rc != INSTAR_OK)
        throw_diag(j.rc, &j.diag);
    return SCM_BOOL_T;
}
#undef FUNC_NAME

static void option_check(SCM v, const char *subr)
{
    if (!scm_is_string(v) && !scm_is_symbol(v) && !scm_is_bool(v) && !scm_is_exact_integer(v))
        scm_wrong_type_arg_msg(subr, 0, v, "string, symbol, boolean or integer in #:options");
}

struct apply_job {
    const char *path;
    enum instar_format format;
    struct instar_resize_plan plan;
    enum instar_prealloc prealloc;
    size_t limit;
    struct instar_diag diag;
    int rc;
};

static void *apply_outside_guile(void *data)
{
    struct apply_job *j = data;
    j->rc = instar_apply_file(j->path, j->format, &j->plan, j->prealloc, j->limit, &j->diag);
    return NULL;
}

SCM_KEYWORD(kw_limit, "limit");

SCM_DEFINE(scm_instar_image_apply_plan, "image-apply-plan", 2, 0, 1, (SCM path, SCM plan, SCM rest),
           "(image-apply-plan PATH PLAN #:limit #f #:prealloc MODE) -- apply PLAN to\n"
           "the image at PATH: patches in order, then the final length,\n"
           "preallocation and sync.  #:limit N applies only the first N patches and\n"
           "stops (a simulated crash: nothing else is done).  #:prealloc defaults to\n"
           "the plan's own mode.  Refuses (invalid-argument) a plan that breaks an\n"
           "invariant or has write patches without payload bytes.  Runs outside\n"
           "Guile mode.")
#define FUNC_NAME s_scm_instar_image_apply_plan
{
    SCM limit = SCM_UNDEFINED, prealloc = SCM_UNDEFINED;
    struct apply_job *j;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0, kw_limit, &limit, kw_prealloc, &prealloc,
                                 SCM_UNDEFINED);
    const struct instar_guile_plan *gp = instar_guile_plan_ref(plan, FUNC_NAME, SCM_ARG2);
    /* GC-managed: nothing to free when a conversion below raises. */
    j = scm_gc_malloc_pointerless(sizeof *j, "instar-apply");
    instar_guile_plan_expand(gp, &j->plan);
    j->format = gp->format;
    j->prealloc = INSTAR_GIVEN(prealloc)
                ? instar_guile_to_prealloc(prealloc, FUNC_NAME, 0, "#:prealloc") : gp->prealloc;
    j->limit = SIZE_MAX;
    if (INSTAR_GIVEN(limit) && scm_is_true(limit)) {
        uint64_t l = instar_guile_to_u64(limit, FUNC_NAME, 0, "#:limit");
        j->limit = l < SIZE_MAX ? (size_t)l : SIZE_MAX;
    }
    /* A hand-made plan may have writes without payload bytes: there is
     * nothing to write from, so refuse rather than hand the core NULL. */
    for (size_t i = 0; i < gp->nstored; i++) {
        const struct instar_patch *p = &gp->patches[i];
        if (p->kind != INSTAR_PATCH_ZERO_FILL && p->length > 0 && p->data == NULL)
            instar_guile_throw(INSTAR_E_INVALID_ARGUMENT,
                               "a write patch without payload bytes cannot be applied",
                               scm_list_1(scm_from_size_t(i)));
    }
    char *c = instar_guile_to_cstring(path, FUNC_NAME, SCM_ARG1, "path");
    instar_diag_clear(&j->diag);
    j->path = c;
    scm_without_guile(apply_outside_guile, j);
    free(c);
    scm_remember_upto_here_1(plan);     /* the payloads live in PLAN */
    if (j->rc != INSTAR_OK)
        throw_diag(j->rc, &j->diag);
    return SCM_BOOL_T;
}
#undef FUNC_NAME

/* An option value as the text qemu-img's -o would carry. */
static char *option_text(SCM v, const char *subr)
{
    if (scm_is_string(v))
        return instar_guile_to_cstring(v, subr, 0, "#:options value");
    if (scm_is_symbol(v))
        return instar_guile_to_cstring(scm_symbol_to_string(v), subr, 0, "#:options value");
    if (scm_is_bool(v))
        return strdup(scm_is_true(v) ? "on" : "off");
    if (scm_is_exact_integer(v))
        return instar_guile_to_cstring(scm_number_to_string(v, scm_from_int(10)), subr, 0,
                                       "#:options value");
    scm_wrong_type_arg_msg(subr, 0, v, "string, symbol, boolean or integer option value");
    return NULL;
}

struct create_job {
    const char *path;
    struct instar_create_opts opts;
    struct instar_diag diag;
    int rc;
};

static void *create_outside_guile(void *data)
{
    struct create_job *j = data;
    j->rc = instar_create_file(j->path, &j->opts, &j->diag);
    return NULL;
}

SCM_DEFINE(scm_instar_image_create, "image-create", 1, 0, 1, (SCM path, SCM rest),
           "(image-create PATH #:format 'raw #:size N-or-\"1G\"\n"
           "#:options '((\"cluster_size\" . \"65536\")) #:prealloc 'off) -- create an\n"
           "image (truncating PATH) as qemu-img create would; options are qemu-img's\n"
           "-o keys.  #t or instar-error (invalid-option, unsupported-format,\n"
           "io-error, ...).")
#define FUNC_NAME s_scm_instar_image_create
{
    SCM format = SCM_UNDEFINED, size = SCM_UNDEFINED, options = SCM_UNDEFINED;
    SCM prealloc = SCM_UNDEFINED;
    struct create_job j;

    scm_c_bind_keyword_arguments(FUNC_NAME, rest, 0, kw_format, &format, kw_size, &size,
                                 kw_options, &options, kw_prealloc, &prealloc, SCM_UNDEFINED);
    enum instar_format fmt = instar_guile_to_format(format, FUNC_NAME, 0, "#:format");
    if (fmt == INSTAR_FORMAT_UNKNOWN)
        fmt = INSTAR_FORMAT_RAW;
    instar_create_opts_init(&j.opts, fmt);
    instar_diag_clear(&j.diag);
    if (INSTAR_GIVEN(size)) {
        if (scm_is_string(size)) {
            char *c = instar_guile_to_cstring(size, FUNC_NAME, 0, "#:size");
            int rc = instar_parse_size(c, &j.opts.size);
            free(c);
            if (rc != INSTAR_OK)
                throw_size(rc, size);
        } else {
            j.opts.size = instar_guile_to_u64(size, FUNC_NAME, 0, "#:size");
        }
    }
    j.opts.prealloc = instar_guile_to_prealloc(prealloc, FUNC_NAME, 0, "#:prealloc");
    if (INSTAR_GIVEN(options) && scm_is_true(options)) {
        if (scm_ilength(options) < 0)
            scm_wrong_type_arg_msg(FUNC_NAME, 0, options, "alist for #:options");
        for (SCM l = options; scm_is_pair(l); l = scm_cdr(l)) {
            SCM e = scm_car(l);
            if (!scm_is_pair(e))
                scm_wrong_type_arg_msg(FUNC_NAME, 0, e, "(key . value) pair for #:options");
            /* Both types first, so a refusal leaks no converted key. */
            option_check(scm_car(e), FUNC_NAME);
            option_check(scm_cdr(e), FUNC_NAME);
            char *k = option_text(scm_car(e), FUNC_NAME);
            char *v = option_text(scm_cdr(e), FUNC_NAME);
            int rc = instar_create_opts_set(&j.opts, k, v, &j.diag);
            free(k);
            free(v);
            if (rc != INSTAR_OK)
                throw_diag(rc, &j.diag);
        }
    }
    char *c = instar_guile_to_cstring(path, FUNC_NAME, SCM_ARG1, "path");
    j.path = c;
    scm_without_guile(create_outside_guile, &j);
    free(c);
    if (j.rc != INSTAR_OK)
        throw_diag(j.rc, &j.diag);
    return SCM_BOOL_T;
}
#undef FUNC_NAME

void instar_guile_init_image(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "image.x"
#endif
}
