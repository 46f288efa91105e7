/* SPDX-License-Identifier: GPL-3.0-or-later */
/* init.c -- the entry point (instar core) names in load-extension, and
 * the documentation each SCM_DEFINE registers (instar-guile.h). */
#include <config.h>

#include "instar-guile.h"

void init_instar(void);

void instar_guile_document(const char *name, const char *doc)
{
    SCM proc = scm_variable_ref(scm_c_lookup(name));
    scm_set_procedure_property_x(proc, scm_from_utf8_symbol("documentation"),
                                 scm_from_utf8_string(doc));
}

void init_instar(void)
{
    instar_guile_init_errors();
    instar_guile_init_plans();
    instar_guile_init_planners();
    instar_guile_init_image();
    instar_guile_init_hashing();
    instar_guile_init_fuzz_decode();
#ifdef INSTAR_GUILE_BENCH
    /* Only in make bench's uninstalled copy (core/guile/local.mk). */
    instar_guile_init_bench();
#endif
    instar_guile_init_spawn();
}
