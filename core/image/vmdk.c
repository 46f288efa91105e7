/* vmdk.c -- the vmdk engine.  Not implemented yet: the engine table entry
 * exists so every caller answers "not supported yet" with a clean error. */
#include <config.h>

#include "image/engine.h"

const struct instar_format_engine instar_engine_vmdk = {
    .format = INSTAR_FORMAT_VMDK,
    .plan = NULL,
    .create = NULL,
};
