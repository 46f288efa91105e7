/* qcow2.c -- the qcow2 engine.  Not implemented yet: the engine table entry
 * exists so every caller answers "not supported yet" with a clean error. */
#include <config.h>

#include "image/engine.h"
#include "image/qcow2-create.h"

const struct instar_format_engine instar_engine_qcow2 = {
    .format = INSTAR_FORMAT_QCOW2,
    .plan = NULL,
    .create = instar_qcow2_create,
};
