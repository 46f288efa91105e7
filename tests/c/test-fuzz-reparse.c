/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-fuzz-reparse.c -- the engine target's independent checkers accept
 * images qemu-img makes (and resizes) and reject broken ones. */
#include <config.h>

#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz/reparse.h"
#include "instar/error.h"
#include "tests/c/tap.h"
#include "util/endian.h"

extern char **environ;

static char dir[] = "/tmp/instar-reparse.XXXXXX";
static char why[256];

static int run(char *const argv[])
{
    pid_t pid;
    int st;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* qemu-img create -f FMT [-o OPTS] DIR/NAME SIZE. */
static int create(const char *path, const char *fmt, const char *opts, const char *size)
{
    const char *qemu = getenv("QEMU_IMG");
    unlink(path);
    char *argv[10];
    int i = 0;
    argv[i++] = (char *)qemu;
    argv[i++] = "create";
    argv[i++] = "-q";
    argv[i++] = "-f";
    argv[i++] = (char *)fmt;
    if (opts) {
        argv[i++] = "-o";
        argv[i++] = (char *)opts;
    }
    argv[i++] = (char *)path;
    argv[i++] = (char *)size;
    argv[i] = NULL;
    return run(argv);
}

/* Load the file at PATH into M. */
static int load(struct instar_mem_io *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    instar_mem_io_init(m, (uint64_t)1 << 30);
    int rc = got == (size_t)len ? instar_mem_io_load(m, buf, got) : -1;
    free(buf);
    return rc;
}

/* qemu-img create -f FMT [-o OPTS] DIR/img SIZE, loaded into M. */
static int make(struct instar_mem_io *m, const char *fmt, const char *opts, const char *size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/img", dir);
    return create(path, fmt, opts, size) == 0 ? load(m, path) : -1;
}

static void poke_be64(struct instar_mem_io *m, uint64_t off, uint64_t v)
{
    uint8_t b[8];
    instar_put_be64(b, v);
    instar_io_write(&m->io, b, 8, off);
}

int main(void)
{
    struct instar_mem_io m;
    const char *qemu = getenv("QEMU_IMG");
    if (qemu == NULL || *qemu == '\0' || access(qemu, X_OK) != 0) {
        printf("Bail out! QEMU_IMG not set or not executable\n");
        return 99;
    }
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 99;
    }

    /* raw */
    instar_mem_io_init(&m, 1 << 20);
    instar_mem_io_load(&m, "abc", 3);
    ok(instar_reparse_raw(&m.io, 3, why, sizeof why), "raw: length matches");
    ok(!instar_reparse_raw(&m.io, 4, why, sizeof why), "raw: length mismatch caught (%s)", why);
    instar_mem_io_free(&m);

    /* qcow2 across the options that change the layout checks. */
    static const char *const q2[][2] = {
        {NULL, "1G"}, {"cluster_size=512", "1M"}, {"refcount_bits=1", "64M"},
        {"refcount_bits=64,cluster_size=4096", "64M"}, {"extended_l2=on", "1G"},
        {"compat=0.10", "100M"}, {"preallocation=metadata,cluster_size=4096", "8M"},
        {"refcount_bits=4,preallocation=metadata,cluster_size=4096", "8M"},
    };
    for (size_t i = 0; i < sizeof q2 / sizeof q2[0]; i++) {
        uint64_t want;
        instar_parse_size(q2[i][1], &want);
        ok(make(&m, "qcow2", q2[i][0], q2[i][1]) == 0 &&
           instar_reparse_qcow2(&m.io, want, why, sizeof why),
           "qcow2 %s %s valid (%s)", q2[i][0] ? q2[i][0] : "defaults", q2[i][1], why);
        instar_mem_io_free(&m);
        why[0] = '\0';
    }
    make(&m, "qcow2", NULL, "1G");
    ok(!instar_reparse_qcow2(&m.io, 2u << 30, why, sizeof why), "qcow2: size mismatch caught (%s)", why);
    poke_be64(&m, 65536 * 2, 0);        /* refcount block: cluster 0 -> refcount 0 */
    ok(!instar_reparse_qcow2(&m.io, 0, why, sizeof why), "qcow2: zero refcount caught (%s)", why);
    instar_mem_io_free(&m);
    make(&m, "qcow2", NULL, "1G");
    poke_be64(&m, 40, 1u << 30);        /* L1 beyond EOF */
    ok(!instar_reparse_qcow2(&m.io, 0, why, sizeof why), "qcow2: L1 outside caught (%s)", why);
    instar_mem_io_free(&m);
    make(&m, "qcow2", "preallocation=metadata,cluster_size=4096", "8M");
    m.io.ops->set_size(&m.io, m.size - 4096);   /* cut the last data cluster */
    ok(!instar_reparse_qcow2(&m.io, 0, why, sizeof why), "qcow2: data beyond EOF caught (%s)", why);
    instar_mem_io_free(&m);
    make(&m, "qcow2", "refcount_bits=1,cluster_size=4096", "1M");
    {
        /* refcount bits of clusters 0-3 are the low bits of byte 0 (LSB
         * first); clearing bit 3 (the L1 cluster) must be caught. */
        uint8_t b;
        instar_io_read(&m.io, &b, 1, 2 * 4096);
        ok(b == 0x0f, "qcow2 1-bit refcounts: byte 0 is 0x0f (LSB first)");
        b = 0x07;
        instar_io_write(&m.io, &b, 1, 2 * 4096);
        ok(!instar_reparse_qcow2(&m.io, 0, why, sizeof why), "qcow2: 1-bit refcount 0 caught (%s)", why);
    }
    instar_mem_io_free(&m);
    why[0] = '\0';
    {
        /* Persistent bitmaps (autoclear bit 0) only add references: a
         * live data cluster at refcount 0 must still be caught (it was
         * not, and a shrink that trusts refcounts as qemu-img does cut
         * the file below it: fuzz_resize_engine crash 55f7c006). */
        char path[128];
        snprintf(path, sizeof path, "%s/img", dir);
        char *bitmap[] = {(char *)getenv("QEMU_IMG"), "bitmap", "--add", path, "b0", NULL};
        char *write[] = {(char *)getenv("QEMU_IO"), "-c", "write -q -P 0x5a 0 4k", path, NULL};
        int made = write[0] != NULL &&
                   create(path, "qcow2", "cluster_size=4096", "1M") == 0 &&
                   run(bitmap) == 0 && run(write) == 0 && load(&m, path) == 0;
        uint8_t h[112] = {0};
        instar_io_read(&m.io, h, sizeof h, 0);
        ok(made && (instar_be64(h + 88) & 1) != 0 &&
           instar_reparse_qcow2(&m.io, 1u << 20, why, sizeof why),
           "qcow2 with a persistent bitmap and data valid (%s)", why);
        uint8_t e[8];
        instar_io_read(&m.io, e, 8, instar_be64(h + 40));            /* L1[0] */
        instar_io_read(&m.io, e, 8, instar_be64(e) & 0x00fffffffffffe00ULL);   /* L2[0] */
        uint64_t data = instar_be64(e) & 0x00fffffffffffe00ULL;
        instar_io_read(&m.io, e, 8, instar_be64(h + 48));            /* refcount block 0 */
        uint64_t rb = instar_be64(e);
        uint8_t z[2] = {0, 0};
        ok(data != 0 && rb != 0 && instar_io_write(&m.io, z, 2, rb + 2 * (data / 4096)) == INSTAR_OK &&
           !instar_reparse_qcow2(&m.io, 0, why, sizeof why),
           "qcow2 with a bitmap: data cluster 0x%" PRIx64 " at refcount 0 caught (%s)", data, why);
        instar_mem_io_free(&m);
        /* The bitmap's own clusters are references too: guest data
         * pointed at its bitmap table (refcount 1, two owners) must be
         * caught; a grow that moves the table frees it under the data
         * (fuzz_resize_engine, 30 s session over the corpus). */
        load(&m, path);
        why[0] = '\0';
        uint64_t table = 0, l2 = 0;
        uint8_t hc[4096];
        instar_io_read(&m.io, hc, sizeof hc, 0);
        for (uint64_t pos = instar_be32(hc + 100); pos + 32 <= sizeof hc && instar_be32(hc + pos);
             pos += 8 + ((instar_be32(hc + pos + 4) + 7ull) & ~7ull))
            if (instar_be32(hc + pos) == 0x23852875) {
                instar_io_read(&m.io, e, 8, instar_be64(hc + pos + 24));    /* directory entry 0 */
                table = instar_be64(e);
            }
        instar_io_read(&m.io, e, 8, instar_be64(h + 40));            /* L1[0] */
        l2 = instar_be64(e) & 0x00fffffffffffe00ULL;
        instar_put_be64(e, (1ULL << 63) | table);
        ok(table != 0 && table % 4096 == 0 && instar_io_write(&m.io, e, 8, l2) == INSTAR_OK &&
           !instar_reparse_qcow2(&m.io, 0, why, sizeof why),
           "qcow2 with a bitmap: data in its bitmap table 0x%" PRIx64 " caught (%s)", table, why);
        instar_mem_io_free(&m);
    }
    /* Entry kinds the data-cluster rule must not misjudge, as qemu-io
     * writes them: a compressed cluster (byte offset, the file ending
     * inside its last sector), a zero-flag entry keeping its offset, and
     * one subcluster of an extended-L2 cluster at EOF (the file holds
     * the cluster only partially). */
    static const char *const kinds[][3] = {
        {NULL, "write -q -c -P 0x5a 0 64k", "compressed"},
        {"cluster_size=4096", "write -q -P 1 0 8k", "zero flag with an offset"},
        {"extended_l2=on", "write -q -P 1 0 512", "extended L2, cluster partly in the file"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/img", dir);
        char *write[] = {(char *)getenv("QEMU_IO"), "-c", (char *)kinds[i][1], "-c",
                         i == 1 ? "write -q -z 0 4k" : "flush", path, NULL};
        why[0] = '\0';
        int made = write[0] != NULL && create(path, "qcow2", kinds[i][0], "1M") == 0 &&
                   run(write) == 0 && load(&m, path) == 0;
        uint8_t h[112] = {0}, e[8] = {0};
        instar_io_read(&m.io, h, sizeof h, 0);
        instar_io_read(&m.io, e, 8, instar_be64(h + 40));            /* L1[0] */
        instar_io_read(&m.io, e, 8, instar_be64(e) & 0x00fffffffffffe00ULL);   /* L2[0] */
        uint64_t l2e = instar_be64(e);
        /* The image has the entry kind claimed, with the file length claimed. */
        bool kind = i == 0 ? (l2e >> 62) == 1 && m.size % 512 != 0
                  : i == 1 ? (l2e & 1) && (l2e & 0x00fffffffffffe00ULL) != 0
                  : (l2e & 0x00fffffffffffe00ULL) + 65536 > m.size;
        ok(made && kind && instar_reparse_qcow2(&m.io, 1u << 20, why, sizeof why),
           "qcow2 %s valid (L2[0] 0x%016" PRIx64 ", file %" PRIu64 ") (%s)", kinds[i][2], l2e,
           (uint64_t)m.size, why);
        instar_mem_io_free(&m);
    }

    /* vpc, vhdx, vmdk */
    ok(make(&m, "vpc", NULL, "1G") == 0 && instar_reparse_vhd(&m.io, 0, why, sizeof why),
       "vhd dynamic valid (%s)", why);
    {
        uint8_t b = 0x55;
        instar_io_write(&m.io, &b, 1, m.size - 512 + 48);
        ok(!instar_reparse_vhd(&m.io, 0, why, sizeof why), "vhd: footer change caught (%s)", why);
    }
    instar_mem_io_free(&m);
    why[0] = '\0';
    ok(make(&m, "vpc", "subformat=fixed", "1M") == 0 && instar_reparse_vhd(&m.io, 0, why, sizeof why),
       "vhd fixed valid (%s)", why);
    instar_mem_io_free(&m);
    why[0] = '\0';
    ok(make(&m, "vhdx", NULL, "1G") == 0 && instar_reparse_vhdx(&m.io, 1u << 30, why, sizeof why),
       "vhdx valid (%s)", why);
    ok(!instar_reparse_vhdx(&m.io, 2u << 30, why, sizeof why), "vhdx: size mismatch caught (%s)", why);
    {
        uint8_t b = 0x55;
        instar_io_write(&m.io, &b, 1, 192 * 1024 + 100);
        ok(!instar_reparse_vhdx(&m.io, 0, why, sizeof why), "vhdx: region CRC caught (%s)", why);
    }
    instar_mem_io_free(&m);
    why[0] = '\0';
    ok(make(&m, "vmdk", NULL, "100M") == 0 && instar_reparse_vmdk(&m.io, 100u << 20, why, sizeof why),
       "vmdk valid (%s)", why);
    ok(!instar_reparse_vmdk(&m.io, 200u << 20, why, sizeof why), "vmdk: capacity mismatch caught (%s)", why);
    {
        uint8_t z[4] = {0}, h[512];
        instar_io_read(&m.io, h, 512, 0);
        instar_io_write(&m.io, z, 4, instar_le64(h + 56) * 512);    /* GD entry 0 -> 0 */
        ok(!instar_reparse_vmdk(&m.io, 0, why, sizeof why), "vmdk: GD entry 0 caught (%s)", why);
    }
    instar_mem_io_free(&m);
    /* The redundant GD counts only while header flag bit 1 says it is
     * used: a grow of an image without the flag leaves the stale RGD
     * alone (qemu ignores rgdOffset then), and that is no fault. */
    why[0] = '\0';
    if (make(&m, "vmdk", NULL, "100M") == 0) {
        uint8_t z[4] = {0}, h[512];
        instar_io_read(&m.io, h, 512, 0);
        ok((instar_le32(h + 8) & 2) != 0, "vmdk: qemu-img create sets the RGD flag");
        instar_io_write(&m.io, z, 4, instar_le64(h + 48) * 512);    /* RGD entry 0 -> 0 */
        ok(!instar_reparse_vmdk(&m.io, 0, why, sizeof why), "vmdk: RGD entry 0 caught (%s)", why);
        instar_put_le32(h + 8, instar_le32(h + 8) & ~2u);
        instar_io_write(&m.io, h, 512, 0);
        why[0] = '\0';
        ok(instar_reparse_vmdk(&m.io, 0, why, sizeof why),
           "vmdk: stale RGD without the RGD flag ignored (%s)", why);
        /* A grain of 2^63 sectors times 2 entries wraps to 0: refused,
         * not divided by (fuzz finding crash-228cffc7, a SIGFPE). */
        uint8_t big[8] = {0, 0, 0, 0, 0, 0, 0, 0x80}, two[4] = {2, 0, 0, 0};
        instar_io_write(&m.io, big, 8, 20);
        instar_io_write(&m.io, two, 4, 44);
        ok(!instar_reparse_vmdk(&m.io, 0, why, sizeof why), "vmdk: grain 2^63 refused (%s)", why);
    } else {
        ok(0, "vmdk: qemu-img create");
    }
    instar_mem_io_free(&m);

    char path[128];
    snprintf(path, sizeof path, "%s/img", dir);
    unlink(path);
    rmdir(dir);
    return tap_done();
}
