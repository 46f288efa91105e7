/* vpc.c -- the vpc engine.  Not implemented yet: the engine table entry
 * exists so every caller answers "not supported yet" with a clean error. */
#include <config.h>

#include "image/engine.h"

const struct instar_format_engine instar_engine_vpc = {
    .format = INSTAR_FORMAT_VPC,
    .plan = NULL,
    .create = NULL,
};
