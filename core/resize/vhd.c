/* vhd.c -- the vhd resize planner (not implemented yet: it refuses every
 * request, so no image is ever touched by a half-built planner). */
#include <config.h>

#include "instar/error.h"
#include "instar/resize.h"
#include "resize/builder.h"

int instar_plan_resize_vhd(const struct instar_vhd_resize_opts *opts,
                          uint8_t *scratch, size_t scratch_len,
                          struct instar_resize_plan *plan)
{
    struct instar_builder b;
    (void)opts;
    instar_builder_init(&b, plan, scratch, scratch_len);
    return INSTAR_E_UNSUPPORTED_FORMAT;
}
