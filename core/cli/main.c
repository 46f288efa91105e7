/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c -- instar-img: a qemu-img-shaped command line over the core. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage_text[] =
    "usage: instar-img COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  create [-f FMT] [-o K=V[,K=V...]] [--preallocation MODE] [-q] FILE [SIZE]\n"
    "  resize [-f FMT] [--shrink] [--preallocation MODE] [-q] FILE [+|-]SIZE\n"
    "  plan   [-f FMT] [-U] [--shrink] [--preallocation MODE] FILE [+|-]SIZE\n"
    "  fuzz-explain FILE   decode a fuzz_resize_planners input and plan it\n"
    "\n"
    "FMT is raw, qcow2, vpc, vhdx or vmdk (probed from content when absent).\n"
    "MODE is off, metadata, falloc or full.  SIZE takes qemu-img's syntax:\n"
    "bytes, or a number with a suffix k, M, G, T, P, E (powers of 1024).\n"
    "`plan' prints the plan as JSON and leaves the file untouched.\n";

int main(int argc, char **argv)
{
    /* Under `ulimit -f', writing past the limit raises SIGXFSZ, which
     * would kill us silently mid-resize; ignored, the write fails with
     * EFBIG and is reported ("File too large") like qemu-img does. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2)
        return cli_usage_error("missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("instar-img (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return CLI_OK;
    }
    if (strcmp(cmd, "create") == 0)
        return cli_cmd_create(argc - 1, argv + 1);
    if (strcmp(cmd, "resize") == 0)
        return cli_cmd_resize(argc - 1, argv + 1, 0);
    if (strcmp(cmd, "plan") == 0)
        return cli_cmd_resize(argc - 1, argv + 1, 1);
    if (strcmp(cmd, "fuzz-explain") == 0)
        return cli_cmd_fuzz_explain(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", cmd);
}
