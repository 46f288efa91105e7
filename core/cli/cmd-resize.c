/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd-resize.c -- `instar-img resize' and `instar-img plan'. */
#include <config.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "instar/error.h"

enum { OPT_SHRINK = 256, OPT_PREALLOC };

int cli_cmd_resize(int argc, char **argv, int dry_run)
{
    static const struct option longopts[] = {
        {"shrink", no_argument, NULL, OPT_SHRINK},
        {"preallocation", required_argument, NULL, OPT_PREALLOC},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct instar_resize_args args;
    struct instar_diag diag;
    int quiet = 0, force_share = 0, c;
    const char *size_text;

    memset(&args, 0, sizeof args);
    instar_diag_clear(&diag);
    /* Like qemu-img, the size is the last argument and is taken before
     * option parsing, so negative sizes ("-1M") are not read as options. */
    if (argc < 3)
        return cli_usage_error("Expecting image file name and size");
    size_text = argv[argc - 1];
    argc--;

    optind = 1;
    opterr = 0;
    /* -U (force share) only for plan, which only reads: qemu-img 7.2's
     * resize does not take it either. */
    while ((c = getopt_long(argc, argv, dry_run ? ":f:qhU" : ":f:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (instar_format_parse(optarg, &args.format) != INSTAR_OK)
                return cli_usage_error("Unknown file format '%s'", optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'U':
            force_share = 1;
            break;
        case OPT_SHRINK:
            args.allow_shrink = true;
            break;
        case OPT_PREALLOC:
            if (instar_prealloc_parse(optarg, &args.prealloc) != INSTAR_OK)
                return cli_usage_error("Invalid preallocation mode '%s'", optarg);
            break;
        case 'h':
            return cli_usage_error("%s FILE [+|-]SIZE", dry_run ? "plan" : "resize");
        case ':':
            return cli_usage_error("option requires an argument -- '%s'", argv[optind - 1]);
        default:
            return cli_usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("Expecting image file name and size");
    const char *path = argv[optind];

    int rc = instar_parse_size_spec(size_text, &args.size);
    if (rc == INSTAR_E_SIZE_RANGE) {
        cli_error("Value '%s' is out of range for parameter 'size'", size_text);
        return CLI_FAIL;
    }
    if (rc != INSTAR_OK) {
        cli_error("Parameter 'size' expects a non-negative number below 2^64\n"
                  "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                  "and exabytes, respectively.");
        return CLI_FAIL;
    }

    if (!dry_run) {
        rc = instar_resize_file(path, &args, &diag);
        if (rc != INSTAR_OK)
            return cli_report(rc, &diag);
        if (diag.message[0] != '\0')
            cli_error("%s", diag.message);      /* a warning, as qemu-img's */
        if (!quiet)
            puts("Image resized.");
        return CLI_OK;
    }

    /* plan: only read, under qemu-img measure's locks (-U: measure -U's). */
    struct instar_image_plan p;
    rc = instar_plan_file(path, &args, force_share, &p, &diag);
    if (rc == INSTAR_OK && diag.message[0] != '\0')
        cli_error("%s", diag.message);          /* a warning, as qemu-img's */
    if (rc == INSTAR_OK)
        cli_print_plan_json(stdout, &p);
    instar_image_plan_free(&p);
    return rc == INSTAR_OK ? CLI_OK : cli_report(rc, &diag);
}
