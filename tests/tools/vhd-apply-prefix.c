/* vhd-apply-prefix.c -- a crash simulator for the VHD tests: plan a resize
 * of FILE to SIZE (format vpc) and apply only the first K patches, as if
 * the machine stopped right there.
 *
 *   vhd-apply-prefix [--shrink] FILE SIZE count   print the plan's patch count
 *   vhd-apply-prefix [--shrink] FILE SIZE K       apply patches 0..K-1
 * (a K below the patch count changes no length: the crash came first).
 * Exit 0 on success, 1 on a refusal or failure (message on stderr). */
#include <config.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/image.h"

int main(int argc, char **argv)
{
    struct instar_resize_args args;
    struct instar_image_plan p;
    struct instar_diag diag;
    struct instar_fd_io fio;
    int count_only, fd, rc;
    size_t k = 0;
    bool shrink = argc > 1 && strcmp(argv[1], "--shrink") == 0;

    if (shrink) {
        argv++;
        argc--;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE SIZE count|K\n", argv[0]);
        return 2;
    }
    count_only = strcmp(argv[3], "count") == 0;
    if (!count_only)
        k = (size_t)strtoull(argv[3], NULL, 10);
    memset(&args, 0, sizeof args);
    args.format = INSTAR_FORMAT_VPC;
    args.allow_shrink = shrink;
    if (instar_parse_size_spec(argv[2], &args.size) != INSTAR_OK) {
        fprintf(stderr, "bad size '%s'\n", argv[2]);
        return 2;
    }
    fd = open(argv[1], count_only ? O_RDONLY : O_RDWR);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    instar_fd_io_init(&fio, fd);
    instar_diag_clear(&diag);
    rc = instar_image_plan(&fio.io, &args, &p, &diag);
    if (rc == INSTAR_OK) {
        if (count_only)
            printf("%zu\n", p.plan.npatches);
        else
            rc = instar_plan_apply(&fio.io, &p.plan, args.prealloc, k, &diag);
    }
    if (rc != INSTAR_OK)
        fprintf(stderr, "%s: %s\n", instar_error_name(rc), diag.message);
    instar_image_plan_free(&p);
    close(fd);
    return rc == INSTAR_OK ? 0 : 1;
}
