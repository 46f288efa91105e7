/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd-create.c -- `instar-img create': qemu-img create's argument handling
 * (-o lists joined, checked and parsed as qemu-img does, help, sizes). */
#include <config.h>

#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "instar/error.h"

enum { OPT_PREALLOC = 256 };

/* qemu-img's -o help: the keys each format takes here. */
static int print_option_help(enum instar_format fmt)
{
    static const struct { enum instar_format fmt; const char *line; } keys[] = {
        {INSTAR_FORMAT_QCOW2, "cluster_size=<size>    - qcow2 cluster size"},
        {INSTAR_FORMAT_QCOW2, "compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])"},
        {INSTAR_FORMAT_QCOW2, "extended_l2=<bool (on/off)> - Extended L2 tables"},
        {INSTAR_FORMAT_QCOW2, "lazy_refcounts=<bool (on/off)> - Postpone refcount updates"},
        {INSTAR_FORMAT_QCOW2, "refcount_bits=<num>    - Width of a reference count entry in bits"},
        {INSTAR_FORMAT_VHDX, "block_size=<size>      - Block Size; min 1MB, max 256MB. 0 means auto-calculate based on image size."},
        {INSTAR_FORMAT_VHDX, "block_state_zero=<bool (on/off)> - Force use of payload blocks of type 'ZERO'."},
        {INSTAR_FORMAT_VHDX, "log_size=<size>        - Log size; min 1MB."},
        {INSTAR_FORMAT_VMDK, "adapter_type=<str>     - Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX"},
        {INSTAR_FORMAT_VPC, "force_size=<bool (on/off)> - Force disk size calculation to use the actual size specified"},
        {INSTAR_FORMAT_UNKNOWN, "preallocation=<str>    - Preallocation mode (allowed values: off, metadata, falloc, full)"},
        {INSTAR_FORMAT_UNKNOWN, "size=<size>            - Virtual disk size"},
        {INSTAR_FORMAT_VPC, "subformat=<str>        - dynamic (default) or fixed"},
        {INSTAR_FORMAT_VHDX, "subformat=<str>        - dynamic (default) or fixed"},
        {INSTAR_FORMAT_VMDK, "subformat=<str>        - monolithicSparse (the only one created here)"},
        {INSTAR_FORMAT_VMDK, "zeroed_grain=<bool (on/off)> - Enable efficient zero writes using the zeroed-grain GTE feature"},
    };
    printf("Supported options:\n");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].fmt == INSTAR_FORMAT_UNKNOWN || keys[i].fmt == fmt)
            printf("  %s\n", keys[i].line);
    return CLI_OK;
}

int cli_cmd_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"preallocation", required_argument, NULL, OPT_PREALLOC},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum instar_format fmt = INSTAR_FORMAT_RAW;
    char *options = NULL;     /* the -o lists joined by ',', as qemu-img does */
    const char *prealloc = NULL;
    int quiet = 0, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (instar_format_parse(optarg, &fmt) != INSTAR_OK) {
                free(options);
                return cli_usage_error("Unknown file format '%s'", optarg);
            }
            break;
        case 'o': {
            if (!instar_create_option_list_valid(optarg)) {
                free(options);
                cli_error("Invalid option list: %s", optarg);
                return CLI_FAIL;
            }
            size_t had = options ? strlen(options) + 1 : 0;
            char *joined = realloc(options, had + strlen(optarg) + 1);
            if (joined == NULL) {
                free(options);
                cli_error("%s", instar_strerror(INSTAR_E_NOMEM));
                return CLI_FAIL;
            }
            if (had > 0)
                joined[had - 1] = ',';
            strcpy(joined + had, optarg);
            options = joined;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case OPT_PREALLOC:
            prealloc = optarg;
            break;
        case 'h':
            free(options);
            return cli_usage_error("create [-f FMT] [-o OPTIONS] FILE [SIZE]");
        case ':':
            free(options);
            return cli_usage_error("option requires an argument -- '%s'", argv[optind - 1]);
        default:
            free(options);
            return cli_usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    /* qemu-img answers help before it looks at the other arguments. */
    if (options && instar_create_option_list_wants_help(options)) {
        free(options);
        return print_option_help(fmt);
    }
    if (optind >= argc) {
        free(options);
        return cli_usage_error("Expecting image file name");
    }
    if (argc - optind > 2) {
        free(options);
        return cli_usage_error("Unexpected argument: %s", argv[optind + 2]);
    }

    /* qemu-img's order: the positional size, the -o list, then the two
     * sizes against each other; the format's checks come last (inside
     * instar_create_file, before the file is opened). */
    const char *path = argv[optind];
    uint64_t size = 0;
    bool have_size = optind + 1 < argc;
    if (have_size) {
        int rc = instar_parse_size(argv[optind + 1], &size);
        if (rc == INSTAR_E_SIZE_SYNTAX) {
            free(options);
            cli_error("Invalid image size specified. You may use k, M, G, T, P or E suffixes for\n"
                      "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
            return CLI_FAIL;
        }
        if (rc != INSTAR_OK || size > (uint64_t)INT64_MAX) {
            free(options);
            cli_error("Invalid image size specified. Must be between 0 and %" PRId64 ".",
                      INT64_MAX);
            return CLI_FAIL;
        }
    }

    struct instar_create_opts o;
    struct instar_diag diag;
    instar_diag_clear(&diag);
    instar_create_opts_init(&o, fmt);
    int prc = options ? instar_create_opts_parse_list(&o, options, &diag) : INSTAR_OK;
    free(options);
    if (prc != INSTAR_OK)
        return cli_report(prc, &diag);
    if (prealloc && instar_create_opts_set(&o, "preallocation", prealloc, &diag) != INSTAR_OK)
        return cli_report(INSTAR_E_INVALID_OPTION, &diag);
    if (o.size_set && have_size) {
        cli_error("The image size must be specified only once");
        return CLI_FAIL;
    }
    if (!o.size_set && !have_size) {
        cli_error("Image creation needs a size parameter");
        return CLI_FAIL;
    }
    if (have_size) {
        o.size = size;
        o.size_set = true;
    }
    if (!quiet)
        printf("Formatting '%s', fmt=%s size=%" PRIu64 "\n", path,
               instar_format_name(fmt), o.size);
    int rc = instar_create_file(path, &o, &diag);
    return rc == INSTAR_OK ? CLI_OK : cli_report(rc, &diag);
}
