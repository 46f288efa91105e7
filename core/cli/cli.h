/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cli.h -- shared pieces of the instar-img command line front end. */
#ifndef INSTAR_CLI_H
#define INSTAR_CLI_H

#include <stdio.h>

#include "instar/image.h"

/* Exit codes: qemu-img's 0/1, plus 2 for usage errors. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Reporting (errors.c): usage errors return CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the error for CODE (using DIAG's detail when present); return CLI_FAIL. */
int cli_report(int code, const struct instar_diag *diag);

int cli_cmd_create(int argc, char **argv);
int cli_cmd_resize(int argc, char **argv, int dry_run);
int cli_cmd_fuzz_explain(int argc, char **argv);

/* The plan as JSON (action, sizes, patches) on OUT. */
void cli_print_plan_json(FILE *out, const struct instar_image_plan *p);

#endif
