/* cmd-create.c -- `instar-img create'. */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "instar/error.h"

enum { OPT_PREALLOC = 256 };

/* Apply "k=v[,k=v...]" to O.  qemu's ",," escape is not needed by any
 * option we take, so a plain split suffices. */
static int apply_option_list(struct instar_create_opts *o, const char *list,
                             struct instar_diag *diag)
{
    char buf[1024];
    size_t n = strlen(list);
    if (n >= sizeof buf)
        return instar_diag_set(diag, INSTAR_E_INVALID_OPTION, "option list too long");
    memcpy(buf, list, n + 1);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            return instar_diag_set(diag, INSTAR_E_INVALID_OPTION,
                                   "Invalid parameter '%s'", tok);
        *eq = '\0';
        int rc = instar_create_opts_set(o, tok, eq + 1, diag);
        if (rc != INSTAR_OK)
            return rc;
    }
    return INSTAR_OK;
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
    const char *optlists[32];
    size_t noptlists = 0;
    const char *prealloc = NULL;
    int quiet = 0, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (instar_format_parse(optarg, &fmt) != INSTAR_OK)
                return cli_usage_error("Unknown file format '%s'", optarg);
            break;
        case 'o':
            if (noptlists == sizeof optlists / sizeof optlists[0])
                return cli_usage_error("too many -o options");
            optlists[noptlists++] = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case OPT_PREALLOC:
            prealloc = optarg;
            break;
        case 'h':
            return cli_usage_error("create [-f FMT] [-o OPTIONS] FILE [SIZE]");
        case ':':
            return cli_usage_error("option requires an argument -- '%s'", argv[optind - 1]);
        default:
            return cli_usage_error("unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("Expecting image file name");
    if (argc - optind > 2)
        return cli_usage_error("Unexpected argument: %s", argv[optind + 2]);

    struct instar_create_opts o;
    struct instar_diag diag;
    instar_diag_clear(&diag);
    instar_create_opts_init(&o, fmt);
    for (size_t i = 0; i < noptlists; i++)
        if (apply_option_list(&o, optlists[i], &diag) != INSTAR_OK)
            return cli_report(INSTAR_E_INVALID_OPTION, &diag);
    if (prealloc && instar_create_opts_set(&o, "preallocation", prealloc, &diag) != INSTAR_OK)
        return cli_report(INSTAR_E_INVALID_OPTION, &diag);

    const char *path = argv[optind];
    if (optind + 1 < argc) {
        uint64_t size;
        int rc = instar_parse_size(argv[optind + 1], &size);
        if (rc != INSTAR_OK || size > (uint64_t)INT64_MAX) {
            cli_error("Invalid image size specified. Must be between 0 and %" PRId64 ".",
                      INT64_MAX);
            return CLI_FAIL;
        }
        o.size = size;
    }
    if (!quiet)
        printf("Formatting '%s', fmt=%s size=%" PRIu64 "\n", path,
               instar_format_name(fmt), o.size);
    int rc = instar_create_file(path, &o, &diag);
    return rc == INSTAR_OK ? CLI_OK : cli_report(rc, &diag);
}
