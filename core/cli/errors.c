/* SPDX-License-Identifier: GPL-3.0-or-later */
/* errors.c -- how instar-img reports: "instar-img: " and the message on
 * stderr, as qemu-img prefixes its own. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"
#include "instar/error.h"

static void say(const char *fmt, va_list ap)
{
    fputs("instar-img: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    fputs("Try 'instar-img --help' for more information\n", stderr);
    return CLI_USAGE;
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

int cli_report(int code, const struct instar_diag *diag)
{
    if (diag && diag->message[0] != '\0')
        cli_error("%s", diag->message);
    else
        cli_error("%s", instar_strerror(code));
    return CLI_FAIL;
}
