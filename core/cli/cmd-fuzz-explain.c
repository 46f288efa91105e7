/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd-fuzz-explain.c -- `instar-img fuzz-explain FILE': a fuzz_resize_planners
 * input in words: the decoded header, the carved pool, the planner options,
 * and the planner's answer (plan and invariant check, or error). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "instar/error.h"
#include "instar/fuzz.h"

/* Fuzz inputs are small; refuse anything that cannot be one. */
#define EXPLAIN_MAX_INPUT ((size_t)1 << 20)

static int explain(const uint8_t *data, size_t len)
{
    struct instar_fuzz_decoder *d = instar_fuzz_decoder_new();
    struct instar_fuzz_case *c = malloc(sizeof *c);
    struct instar_resize_plan *plan = malloc(sizeof *plan);
    uint8_t *scratch = malloc(INSTAR_FUZZ_SCRATCH_LEN);
    int status = CLI_FAIL;

    if (d == NULL || c == NULL || plan == NULL || scratch == NULL) {
        cli_error("%s", instar_strerror(INSTAR_E_NOMEM));
        goto out;
    }
    int rc = instar_fuzz_decode(d, data, len, c);
    if (rc != INSTAR_OK) {
        cli_error("not a fuzz input: %zu bytes, the header alone is %d", len,
                  INSTAR_FUZZ_HEADER_LEN);
        goto out;
    }
    instar_fuzz_case_print(stdout, c);
    rc = instar_fuzz_plan(c, scratch, INSTAR_FUZZ_SCRATCH_LEN, plan);
    if (rc != INSTAR_OK) {
        printf("planner: error %s: %s\n", instar_error_name(rc), instar_strerror(rc));
        for (size_t i = 0; rc == INSTAR_E_NOT_STAGED && i < plan->nneeds && i < INSTAR_MAX_NEEDS; i++)
            printf("  needs kind=%d index=%" PRIu64 " length=%" PRIu64 "\n",
                   (int)plan->needs[i].kind, plan->needs[i].index, plan->needs[i].length);
        status = CLI_OK;        /* an error is an answer, not a finding */
        goto out;
    }
    printf("planner: ok, %s %" PRIu64 " -> %" PRIu64 ", total file size %" PRIu64
           ", %zu patches\n", instar_action_name(plan->action), plan->old_virtual_size,
           plan->new_virtual_size, plan->total_file_size, plan->npatches);
    for (size_t i = 0; i < plan->npatches && i < INSTAR_MAX_RESIZE_PATCHES; i++)
        printf("  %3zu %-9s offset=0x%" PRIx64 " length=0x%" PRIx64 "\n", i,
               instar_patch_kind_name(plan->patches[i].kind), plan->patches[i].offset,
               plan->patches[i].length);
    struct instar_check_report rep;
    size_t nv = instar_plan_check(plan, &rep);
    if (nv == 0) {
        printf("invariants: all 4 hold\n");
        status = CLI_OK;
    } else {
        char line[256];
        printf("invariants: %zu violation(s)\n", nv);
        for (size_t i = 0; i < nv && i < INSTAR_MAX_VIOLATIONS; i++) {
            instar_violation_format(plan, &rep.violations[i], line, sizeof line);
            printf("  %s\n", line);
        }
    }
out:
    instar_fuzz_decoder_free(d);
    free(c);
    free(plan);
    free(scratch);
    return status;
}

int cli_cmd_fuzz_explain(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error("usage: fuzz-explain FILE");
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        cli_error("Could not open '%s': %s", argv[1], strerror(errno));
        return CLI_FAIL;
    }
    uint8_t *buf = malloc(EXPLAIN_MAX_INPUT + 1);
    size_t n = buf ? fread(buf, 1, EXPLAIN_MAX_INPUT + 1, f) : 0;
    int err = buf == NULL || ferror(f);
    fclose(f);
    if (err || n > EXPLAIN_MAX_INPUT) {
        free(buf);
        cli_error("'%s': unreadable or larger than %zu bytes", argv[1], EXPLAIN_MAX_INPUT);
        return CLI_FAIL;
    }
    int rc = explain(buf, n);
    free(buf);
    return rc;
}
