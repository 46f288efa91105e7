/* qcow2-shrink.c -- shrinking (not yet implemented: refused). */
#include <config.h>

#include "instar/error.h"
#include "resize/qcow2.h"

int q2_shrink(struct q2 *q)
{
    (void)q;
    return INSTAR_E_UNSUPPORTED_SHRINK;
}
