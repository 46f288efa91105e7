/* vhdx.c -- the vhdx engine.  Not implemented yet: the engine table entry
 * exists so every caller answers "not supported yet" with a clean error. */
#include <config.h>

#include "image/engine.h"

const struct instar_format_engine instar_engine_vhdx = {
    .format = INSTAR_FORMAT_VHDX,
    .plan = NULL,
    .create = NULL,
};
