/* qcow2-create.c -- qcow2 create (not implemented yet: refuses cleanly). */
#include <config.h>

#include "image/qcow2-create.h"
#include "instar/error.h"

int instar_qcow2_create(struct instar_io *io, const struct instar_create_opts *o,
                        struct instar_diag *diag)
{
    (void)io;
    (void)o;
    return instar_diag_set(diag, INSTAR_E_UNSUPPORTED_FORMAT,
                           "qcow2 create is not supported yet");
}
