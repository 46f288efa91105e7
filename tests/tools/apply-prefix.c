/* SPDX-License-Identifier: GPL-3.0-or-later */
/* apply-prefix.c -- simulate a crash in the middle of a resize.
 *
 *   apply-prefix [-f FMT] [--shrink] [--preallocation=MODE] FILE SIZE [K]
 *
 * Plans the resize of FILE to SIZE (a qemu-img size spec) exactly as
 * instar-img would and prints the plan's patch count on stdout.  With K it
 * then applies only the first K patches and nothing else (no length
 * change, no preallocation, no sync): what a crash after K patches leaves.
 * K "all" applies the whole plan as a real resize does.  Without K nothing
 * is written.  The image is planned and applied by path, its backing
 * chain open, as instar-img does.  Every format's crash-prefix suite uses
 * this one driver.  Exit 0 on success, 1 when
 * planning or applying fails (message on stderr), 2 on usage errors. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/image.h"

static int usage(void)
{
    fputs("usage: apply-prefix [-f FMT] [--shrink] [--preallocation=MODE] FILE SIZE [K|all]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct instar_resize_args args;
    struct instar_diag diag;
    const char *pos[3];
    int npos = 0;

    memset(&args, 0, sizeof args);
    instar_diag_clear(&diag);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            if (instar_format_parse(argv[++i], &args.format) != INSTAR_OK)
                return usage();
        } else if (strcmp(a, "--shrink") == 0) {
            args.allow_shrink = true;
        } else if (strncmp(a, "--preallocation=", 16) == 0) {
            if (instar_prealloc_parse(a + 16, &args.prealloc) != INSTAR_OK)
                return usage();
        } else if (npos < 3) {
            pos[npos++] = a;    /* sizes like "-1M" are positional too */
        } else {
            return usage();
        }
    }
    if (npos != 2 && npos != 3)
        return usage();
    bool count_only = npos == 2;

    size_t limit = SIZE_MAX;
    if (!count_only && strcmp(pos[2], "all") != 0) {
        char *end;
        errno = 0;
        unsigned long long k = strtoull(pos[2], &end, 10);
        if (errno != 0 || *end != '\0' || end == pos[2] || k > SIZE_MAX - 1)
            return usage();
        limit = (size_t)k;
    }
    if (instar_parse_size_spec(pos[1], &args.size) != INSTAR_OK)
        return usage();

    /* By path, as instar-img plans and resizes: the backing chain is
     * opened (its length and data shape a qcow2 plan). */
    struct instar_image_plan p;
    int rc = instar_plan_file(pos[0], &args, false, &p, &diag);
    if (rc == INSTAR_OK) {
        printf("%zu\n", p.plan.npatches);
        fflush(stdout);
        if (!count_only)
            rc = instar_apply_file(pos[0], p.format, &p.plan, args.prealloc, limit, &diag);
    }
    instar_image_plan_free(&p);
    if (rc != INSTAR_OK) {
        fprintf(stderr, "apply-prefix: %s\n",
                diag.message[0] ? diag.message : instar_strerror(rc));
        return 1;
    }
    return 0;
}
