/* vhdx-apply-prefix.c -- plan a VHDX resize of FILE to SIZE and apply only
 * its first K patches, as a crash after K writes would leave the file.
 *
 *   vhdx-apply-prefix FILE SIZE K     apply K patches (all when K >= count)
 *   vhdx-apply-prefix FILE SIZE       print the plan's patch count only
 *
 * Used by tests/vhdx-consistency.sh to prove every prefix opens in qemu. */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instar/error.h"
#include "instar/image.h"

int main(int argc, char **argv)
{
    struct instar_resize_args a;
    struct instar_image_plan p;
    struct instar_fd_io fio;
    struct instar_diag d;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s FILE SIZE [K]\n", argv[0]);
        return 2;
    }
    memset(&a, 0, sizeof a);
    a.format = INSTAR_FORMAT_VHDX;
    a.allow_shrink = true;      /* the suite prefixes shrinks too */
    if (instar_parse_size_spec(argv[2], &a.size) != INSTAR_OK) {
        fprintf(stderr, "bad size '%s'\n", argv[2]);
        return 2;
    }
    int fd = open(argv[1], argc == 4 ? O_RDWR : O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    instar_fd_io_init(&fio, fd);
    instar_diag_clear(&d);
    int rc = instar_image_plan(&fio.io, &a, &p, &d);
    if (rc == INSTAR_OK && argc == 3)
        printf("%zu\n", p.plan.npatches);
    if (rc == INSTAR_OK && argc == 4) {
        size_t k = (size_t)strtoull(argv[3], NULL, 10);
        rc = instar_plan_apply(&fio.io, &p.plan, INSTAR_PREALLOC_OFF, k, &d);
    }
    instar_image_plan_free(&p);
    close(fd);
    if (rc != INSTAR_OK) {
        fprintf(stderr, "vhdx-apply-prefix: %s\n", d.message);
        return 1;
    }
    return 0;
}
