/* vmdk-apply-prefix.c -- simulate a crash part-way through a resize.
 *
 *   vmdk-apply-prefix [--shrink] FILE SIZE     print the number of patches the plan has
 *   vmdk-apply-prefix [--shrink] FILE SIZE K   apply only the first K patches (nothing else)
 *
 * Used by tests/vmdk-consistency.sh to prove that every crash prefix of a
 * VMDK plan leaves an image qemu-img still opens. */
#include <config.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/image.h"

int main(int argc, char **argv)
{
    struct instar_resize_args args = { .format = INSTAR_FORMAT_VMDK };
    struct instar_image_plan p;
    struct instar_diag diag;
    struct instar_fd_io fio;
    int fd, rc;

    if (argc > 1 && strcmp(argv[1], "--shrink") == 0) {
        args.allow_shrink = true;
        argv++;
        argc--;
    }
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s [--shrink] FILE SIZE [K]\n", argv[0]);
        return 2;
    }
    if (instar_parse_size_spec(argv[2], &args.size) != INSTAR_OK) {
        fprintf(stderr, "bad size '%s'\n", argv[2]);
        return 2;
    }
    fd = open(argv[1], argc == 4 ? O_RDWR : O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    instar_diag_clear(&diag);
    instar_fd_io_init(&fio, fd);
    rc = instar_image_plan(&fio.io, &args, &p, &diag);
    if (rc == INSTAR_OK) {
        if (argc == 3)
            printf("%zu\n", p.plan.npatches);
        else
            rc = instar_plan_apply(&fio.io, &p.plan, INSTAR_PREALLOC_OFF,
                                   (size_t)strtoull(argv[3], NULL, 10), &diag);
    }
    instar_image_plan_free(&p);
    close(fd);
    if (rc != INSTAR_OK) {
        fprintf(stderr, "%s: %s\n", instar_strerror(rc), diag.message);
        return 1;
    }
    return 0;
}
