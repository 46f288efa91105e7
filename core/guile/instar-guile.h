/* SPDX-License-Identifier: GPL-3.0-or-later */
/* instar-guile.h -- shared internals of the Guile extension libguile-instar.
 *
 * One file per job: errors.c (argument conversion and the instar-error
 * key), plans.c (the plan foreign object), planners.c (the five planners
 * with keyword arguments), image.c (files: create, probe, plan, resize,
 * size specs), hashing.c (xxh3), fuzz-decode.c (the fuzz header), spawn.c
 * (children in their own process group, for (instar process)) and
 * init.c (the entry point load-extension calls).  bench.c (C loops for
 * make bench) is only in the uninstalled bench copy of the extension. */
#ifndef INSTAR_GUILE_H
#define INSTAR_GUILE_H

#include <stddef.h>
#include <stdint.h>

#include <libguile.h>

#include "instar/image.h"
#include "instar/plan.h"
#include "instar/resize.h"

/* ---- init.c: documentation ---------------------------------------------- */

/* Attach DOC to the procedure NAME the extension just defined. */
void instar_guile_document(const char *name, const char *doc);

/* SCM_DEFINE's docstring is otherwise only read by guile-snarf-docs;
 * here it also becomes the procedure's documentation when the extension
 * loads (procedure-documentation, ,describe), so each primitive's
 * docstring has one source: its SCM_DEFINE.  The registration follows
 * the definition in the snarfed init code. */
#undef SCM_DEFINE
#define SCM_DEFINE(FNAME, PRIMNAME, REQ, OPT, VAR, ARGLIST, DOCSTRING)       \
    SCM_DEFINE_GSUBR(FNAME, PRIMNAME, REQ, OPT, VAR, ARGLIST, DOCSTRING)     \
    SCM_SNARF_INIT(instar_guile_document(s_##FNAME, DOCSTRING);)

/* ---- errors.c -------------------------------------------------------------- */

/* Raise (throw 'instar-error 'NAME MESSAGE . DETAILS).  MESSAGE may be
 * NULL or empty: the core's strerror text is used.  Never returns. */
SCM_NORETURN void instar_guile_throw(int code, const char *message, SCM details);

/* Argument conversion.  Each raises Guile's standard wrong-type-arg or
 * out-of-range error naming SUBR and WHAT (e.g. "#:new-size"). */
uint64_t instar_guile_to_u64(SCM v, const char *subr, int pos, const char *what);
uint32_t instar_guile_to_u32(SCM v, const char *subr, int pos, const char *what);
int instar_guile_to_bool(SCM v, const char *subr, int pos, const char *what);
enum instar_prealloc instar_guile_to_prealloc(SCM v, const char *subr, int pos,
                                              const char *what);
/* A format symbol or string; #f gives INSTAR_FORMAT_UNKNOWN (probe). */
enum instar_format instar_guile_to_format(SCM v, const char *subr, int pos,
                                          const char *what);
/* A bytevector as a slice (or #f / unbound: the empty "not staged" slice).
 * The slice borrows the bytevector's storage: keep V alive. */
struct instar_slice instar_guile_to_slice(SCM v, const char *subr, int pos,
                                          const char *what);
/* A string argument as a malloc'd UTF-8 C string (free it). */
char *instar_guile_to_cstring(SCM v, const char *subr, int pos, const char *what);

/* Value or default when the keyword was not given. */
#define INSTAR_GIVEN(v) (!SCM_UNBNDP(v))

SCM instar_guile_u64(uint64_t v);
SCM instar_guile_sym(const char *name);

/* ---- plans.c --------------------------------------------------------------- */

/* What a plan object holds: a compact copy of the C plan (only the
 * patches it has; GC-managed, no pointers the collector must trace) whose
 * WRITE/APPEND payloads point into a payload buffer the object's second
 * slot keeps alive. */
struct instar_guile_plan {
    enum instar_format format;
    enum instar_resize_action action;
    enum instar_prealloc prealloc;  /* the mode it was planned for */
    uint64_t old_virtual_size;
    uint64_t new_virtual_size;
    uint64_t total_file_size;
    uint64_t prealloc_offset;
    uint64_t prealloc_length;
    size_t npatches;            /* as the plan claims (hand-made: may exceed nstored) */
    size_t nstored;
    struct instar_patch patches[];
};

/* The full C plan again (for instar_plan_check and friends). */
void instar_guile_plan_expand(const struct instar_guile_plan *gp,
                              struct instar_resize_plan *out);

/* Wrap a copy of PLAN (payloads are copied, so the source's scratch,
 * staging and bytevectors may go away afterwards). */
SCM instar_guile_make_plan(enum instar_format format, enum instar_prealloc prealloc,
                           const struct instar_resize_plan *plan);
struct instar_guile_plan *instar_guile_plan_ref(SCM obj, const char *subr, int pos);
/* The (needs ...) detail for an INSTAR_E_NOT_STAGED answer. */
SCM instar_guile_needs_detail(const struct instar_resize_plan *plan);

void instar_guile_init_errors(void);
void instar_guile_init_plans(void);
void instar_guile_init_planners(void);
void instar_guile_init_image(void);
void instar_guile_init_hashing(void);
void instar_guile_init_spawn(void);
void instar_guile_init_fuzz_decode(void);
void instar_guile_init_bench(void);

#endif
