/* SPDX-License-Identifier: GPL-3.0-or-later */
/* diag.c -- detailed messages that travel with error codes. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "instar/error.h"
#include "instar/image.h"

void instar_diag_clear(struct instar_diag *diag)
{
    if (diag) {
        diag->sys_errno = 0;
        diag->message[0] = '\0';
    }
}

int instar_diag_set(struct instar_diag *diag, int code, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->message, sizeof diag->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
