/* SPDX-License-Identifier: GPL-3.0-or-later */
/* init.c -- the entry point (instar core) names in load-extension. */
#include <config.h>

#include "instar-guile.h"

void init_instar(void);

void init_instar(void)
{
    instar_guile_init_errors();
    instar_guile_init_plans();
    instar_guile_init_planners();
    instar_guile_init_image();
    instar_guile_init_hashing();
    instar_guile_init_fuzz_decode();
    instar_guile_init_bench();
    instar_guile_init_spawn();
}
