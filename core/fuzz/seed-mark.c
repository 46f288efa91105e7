/* SPDX-License-Identifier: GPL-3.0-or-later */
/* seed-mark.c -- mark a fuzz_resize_engine seed as accepted or refused
 * (seed-mark.h).
 *
 *   seed-mark FILE             rewrite FILE in place with byte 3 bit 0 set
 *                              and the checksum in bytes 4..7
 *   seed-mark --refused FILE   the same with bit 1 (refused) instead
 *
 * Used by corpus/generate-data.sh only after the replay driver has shown
 * the engine accepts (refuses) the seed. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/seed-mark.h"

int main(int argc, char **argv)
{
    static uint8_t buf[1 << 24];
    uint8_t bit = INSTAR_SEED_MARK_ACCEPTED;
    if (argc == 3 && strcmp(argv[1], "--refused") == 0) {
        bit = INSTAR_SEED_MARK_REFUSED;
        argv++;
        argc--;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: seed-mark [--refused] FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    int big = !feof(f);
    fclose(f);
    if (n < 24 || big) {
        fprintf(stderr, "seed-mark: %s: not an engine seed (%zu bytes)\n", argv[1], n);
        return 1;
    }
    buf[3] = (uint8_t)((buf[3] & ~(INSTAR_SEED_MARK_ACCEPTED | INSTAR_SEED_MARK_REFUSED)) | bit);
    uint32_t h = instar_seed_mark_sum(buf, n);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(h >> (8 * i));
    f = fopen(argv[1], "wb");
    if (f == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
