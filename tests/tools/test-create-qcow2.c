/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-create-qcow2.c -- qcow2 create in memory: qemu-img 7.2's option
 * checks (order and messages, nothing written on refusal), the size limits,
 * and every created image re-parsed by an independent walker that rebuilds
 * the references (header, refcount table and blocks, L1, L2, data) and
 * requires each used cluster to have refcount exactly 1 and each cluster
 * with a refcount to be used.  Runs under ASan/UBSan in CI. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instar/error.h"
#include "instar/image.h"
#include "tap.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Bytes of the image; past the materialised part they read as zero. */
static const uint8_t *at(const struct instar_mem_io *m, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[1 << 21];
    if (off + len <= m->capacity && off + len <= m->size)
        return m->data + off;
    if (off >= m->capacity && len <= sizeof zeros)
        return zeros;
    return NULL;                /* straddles: not expected from the layouts */
}

static uint64_t refcount_of(const uint8_t *blk, uint64_t idx, uint32_t order)
{
    uint32_t bits = 1u << order;
    if (bits < 8)
        return (blk[idx * bits / 8] >> ((idx * bits) % 8)) & ((1u << bits) - 1);
    uint64_t v = 0;
    for (uint32_t b = 0; b < bits / 8; b++)
        v = v << 8 | blk[idx * (bits / 8) + b];
    return v;
}

struct walk {
    uint64_t cs, nclusters;
    uint8_t *uses;              /* references per cluster (saturating) */
    int bad;
};

static void use(struct walk *w, uint64_t off, uint64_t n)
{
    if (off % w->cs != 0) {
        w->bad = 1;
        return;
    }
    for (uint64_t c = off / w->cs; c < off / w->cs + n; c++) {
        if (c >= w->nclusters)
            w->bad = 1;
        else if (w->uses[c] < 255)
            w->uses[c]++;
    }
}

/* Re-parse the image: 0 when every reference and refcount agree. */
static int verify_image(const struct instar_mem_io *m, uint64_t want_size, uint64_t *data_clusters)
{
    const uint8_t *h = at(m, 0, 104);
    if (h == NULL || be32(h) != 0x514649fbu)
        return -1;
    uint32_t version = be32(h + 4), cb = be32(h + 20);
    uint64_t cs = 1ull << cb, size = be64(h + 24);
    uint32_t l1_size = be32(h + 36);
    uint64_t l1_off = be64(h + 40), rt_off = be64(h + 48);
    uint32_t rt_clusters = be32(h + 56);
    uint32_t order = version >= 3 ? be32(h + 96) : 4;
    int ext = version >= 3 && (be64(h + 72) & 16);
    uint64_t l2e = cs / (ext ? 16 : 8);
    uint64_t rbe = cs * 8 >> order;
    struct walk w = {cs, (m->size + cs - 1) / cs, NULL, 0};

    if (size != want_size || order > 6)
        return -2;
    /* The L1 is exactly as long as qemu makes it. */
    uint64_t cover = cs * l2e;
    if (l1_size != (size + cover - 1) / cover)
        return -3;
    w.uses = calloc(w.nclusters ? w.nclusters : 1, 1);
    if (w.uses == NULL)
        return -4;
    use(&w, 0, 1);
    use(&w, rt_off, rt_clusters);
    const uint8_t *rt = at(m, rt_off, (uint64_t)rt_clusters * cs);
    if (rt == NULL) {
        free(w.uses);
        return -5;
    }
    for (uint64_t i = 0; i < (uint64_t)rt_clusters * cs / 8; i++)
        if (be64(rt + i * 8))
            use(&w, be64(rt + i * 8), 1);
    *data_clusters = 0;
    if (l1_size > 0) {
        use(&w, l1_off, (l1_size * 8 + cs - 1) / cs);
        const uint8_t *l1 = at(m, l1_off, l1_size * 8ull);
        for (uint64_t i = 0; l1 && i < l1_size; i++) {
            uint64_t e = be64(l1 + i * 8);
            if (e == 0)
                continue;
            uint64_t l2off = e & 0x00fffffffffffe00ull;
            use(&w, l2off, 1);
            const uint8_t *l2 = at(m, l2off, cs);
            for (uint64_t k = 0; l2 && k < l2e; k++) {
                uint64_t d = be64(l2 + k * (ext ? 16 : 8));
                if (d == 0)
                    continue;
                /* Guest clusters past the end must not be mapped. */
                if ((i * l2e + k) * cs >= size)
                    w.bad = 1;
                use(&w, d & 0x00fffffffffffe00ull, 1);
                (*data_clusters)++;
            }
        }
    }
    /* Every cluster's refcount equals its number of uses (1 or 0). */
    int rc = w.bad ? -6 : 0;
    for (uint64_t c = 0; rc == 0 && c < w.nclusters; c++) {
        uint64_t ti = c / rbe, rb = ti < (uint64_t)rt_clusters * cs / 8 ? be64(rt + ti * 8) : 0;
        uint64_t r = 0;
        if (rb) {
            const uint8_t *blk = at(m, rb, cs);
            if (blk == NULL)
                rc = -7;
            else
                r = refcount_of(blk, c % rbe, order);
        }
        if (rc == 0 && (r != w.uses[c] || r > 1))
            rc = -8;
    }
    free(w.uses);
    return rc;
}

/* Create with "k=v" options into M; returns the code, DIAG set. */
static int create(struct instar_mem_io *m, uint64_t limit, const char *opts, uint64_t size,
                  struct instar_diag *diag)
{
    struct instar_create_opts o;
    char buf[256];
    instar_create_opts_init(&o, INSTAR_FORMAT_QCOW2);
    instar_diag_clear(diag);
    o.size = size;
    snprintf(buf, sizeof buf, "%s", opts);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (eq == NULL)
            return INSTAR_E_INVALID_ARGUMENT;
        *eq = '\0';
        int rc = instar_create_opts_set(&o, t, eq + 1, diag);
        if (rc != INSTAR_OK)
            return rc;
    }
    instar_mem_io_init(m, limit);
    return instar_image_create(&m->io, &o, diag);
}

static void test_refusals(void)
{
    static const struct {
        const char *opts, *msg;
    } cases[] = {
        {"compat=0.10,lazy_refcounts=on", "Lazy refcounts only supported with compatibility "
         "level 1.1 and above (use version=v3 or greater)"},
        {"compat=0.10,extended_l2=on,cluster_size=4k", "Extended L2 entries are only supported "
         "with compatibility level 1.1 and above (use version=v3 or greater)"},
        {"extended_l2=on,cluster_size=8k", "Extended L2 entries are only supported with cluster "
         "sizes of at least 16384 bytes"},
        {"extended_l2=on,cluster_size=3000", "Cluster size must be a power of two between 512 and 2048k"},
        {"cluster_size=256", "Cluster size must be a power of two between 512 and 2048k"},
        {"cluster_size=4M", "Cluster size must be a power of two between 512 and 2048k"},
        {"cluster_size=0", "Cluster size must be a power of two between 512 and 2048k"},
        {"cluster_size=4294967295", "Cluster size must be a power of two between 512 and 2048k"},
        {"refcount_bits=0", "Refcount width must be a power of two and may not exceed 64 bits"},
        {"refcount_bits=3", "Refcount width must be a power of two and may not exceed 64 bits"},
        {"refcount_bits=128", "Refcount width must be a power of two and may not exceed 64 bits"},
        {"refcount_bits=4294967295", "Refcount width must be a power of two and may not exceed 64 bits"},
        {"compat=0.10,refcount_bits=3", "Refcount width must be a power of two and may not exceed 64 bits"},
        {"compat=0.10,lazy_refcounts=on,refcount_bits=3", "Lazy refcounts only supported with "
         "compatibility level 1.1 and above (use version=v3 or greater)"},
        {"compat=0.10,refcount_bits=8", "Different refcount widths than 16 bits require "
         "compatibility level 1.1 or above (use version=v3 or greater)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct instar_mem_io m;
        struct instar_diag d;
        int rc = create(&m, 1 << 20, cases[i].opts, 1 << 30, &d);
        ok(rc == INSTAR_E_INVALID_OPTION && strcmp(d.message, cases[i].msg) == 0 && m.size == 0,
           "refused -o %s: qemu's message, nothing written", cases[i].opts);
        if (strcmp(d.message, cases[i].msg) != 0)
            printf("#   got '%s'\n", d.message);
        instar_mem_io_free(&m);
    }
}

static void test_limits(void)
{
    static const struct {
        const char *opts;
        uint64_t size;
        int fits;
    } cases[] = {
        {"", 2ull << 50, 1},
        {"", (2ull << 50) + 512, 0},
        {"extended_l2=on", 1ull << 50, 1},
        {"extended_l2=on", (1ull << 50) + 512, 0},
        {"cluster_size=512", 128ull << 30, 1},
        {"cluster_size=512", (128ull << 30) + 512, 0},
        {"cluster_size=2M", 1ull << 61, 1},
        {"cluster_size=2M", (1ull << 61) + 512, 0},
        {"cluster_size=2M,preallocation=metadata", 1ull << 60, 0},
        {"cluster_size=512,refcount_bits=64,preallocation=metadata", 128ull << 30, 0},
    };
    const char *msg = "The image size is too large for file format 'qcow2' "
                      "(try using a larger cluster size)";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct instar_mem_io m;
        struct instar_diag d;
        int rc = create(&m, 64 << 20, cases[i].opts, cases[i].size, &d);
        if (cases[i].fits) {
            uint64_t data;
            ok(rc == INSTAR_OK && verify_image(&m, cases[i].size, &data) == 0,
               "-o '%s' size %" PRIu64 ": at the limit, valid", cases[i].opts, cases[i].size);
        } else {
            ok(rc == INSTAR_E_TOO_LARGE && strcmp(d.message, msg) == 0 && m.size == 0,
               "-o '%s' size %" PRIu64 ": too large, nothing written", cases[i].opts,
               cases[i].size);
        }
        instar_mem_io_free(&m);
    }

    /* A store that cannot hold the image: an error, never a crash. */
    struct instar_mem_io m;
    struct instar_diag d;
    int rc = create(&m, 4096, "cluster_size=4k,preallocation=metadata", 1 << 20, &d);
    ok(rc != INSTAR_OK && d.message[0] != '\0', "store too small: refused with a message");
    instar_mem_io_free(&m);
}

static void test_layouts(void)
{
    static const char *opts[] = {
        "", "compat=0.10", "cluster_size=512", "cluster_size=1k,refcount_bits=2",
        "cluster_size=4k,refcount_bits=1", "cluster_size=512,refcount_bits=4",
        "cluster_size=512,refcount_bits=64", "refcount_bits=8", "refcount_bits=32",
        "extended_l2=on", "extended_l2=on,cluster_size=16k,refcount_bits=64",
        "cluster_size=2M", "lazy_refcounts=on",
    };
    static const uint64_t sizes[] = {0, 512, 1000448, 16 << 20, 3ull << 30, 100ull << 30};
    static const char *modes[] = {"", "preallocation=metadata", "preallocation=falloc",
                                  "preallocation=full"};
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t p = 0; p < 4; p++) {
                /* Preallocation only where the data is small. */
                if (p > 0 && sizes[s] > (16u << 20))
                    continue;
                if (p > 1 && (s + o) % 3 != 0)
                    continue;   /* falloc/full: a sample */
                char all[128];
                snprintf(all, sizeof all, "%s%s%s", opts[o], *opts[o] && *modes[p] ? "," : "",
                         modes[p]);
                struct instar_mem_io m;
                struct instar_diag d;
                uint64_t data = 0;
                int rc = create(&m, 64 << 20, all, sizes[s], &d);
                int v = rc == INSTAR_OK ? verify_image(&m, sizes[s], &data) : 99;
                uint64_t cs = 65536;
                const char *c = strstr(all, "cluster_size=");
                if (c)
                    cs = strtoull(c + 13, NULL, 10) << (strchr(c, 'k') ? 10 : strchr(c, 'M') ? 20 : 0);
                uint64_t want = p > 0 ? (sizes[s] + cs - 1) / cs : 0;
                ok(rc == INSTAR_OK && v == 0 && data == want,
                   "-o '%s' size %" PRIu64 ": consistent refcounts, %" PRIu64 " data clusters",
                   all, sizes[s], want);
                if (rc != INSTAR_OK || v != 0 || data != want)
                    printf("#   rc %d (%s) verify %d data %" PRIu64 "\n", rc, d.message, v, data);
                instar_mem_io_free(&m);
            }
}

static void test_qemu_bytes(void)
{
    /* qemu-img 7.2's layout for a default 1 GiB image (measured): file
     * 196,624 bytes; reftable c1 -> c2; refcounts 1 for c0..c3; L1 at c3. */
    struct instar_mem_io m;
    struct instar_diag d;
    int rc = create(&m, 1 << 20, "", 1 << 30, &d);
    ok(rc == INSTAR_OK && m.size == 196624, "1G: file length 196624 as qemu");
    const uint8_t *h = at(&m, 0, 512);
    ok(h && be32(h + 4) == 3 && be32(h + 100) == 112 && be32(h + 112) == 0x6803f857u
       && be32(h + 116) == 384 && memcmp(h + 122, "dirty bit", 9) == 0
       && memcmp(h + 458, "raw external data", 17) == 0 && be64(h + 504) == 0,
       "v3 header: length 112, feature name table of 8 names, end marker");
    const uint8_t *rt = at(&m, 65536, 16), *rb = at(&m, 131072, 10);
    ok(rt && rb && be64(rt) == 131072 && be64(rt + 8) == 0
       && rb[1] == 1 && rb[3] == 1 && rb[5] == 1 && rb[7] == 1 && rb[9] == 0,
       "reftable[0] = c2, refcounts of c0..c3 are 1");
    instar_mem_io_free(&m);

    rc = create(&m, 1 << 20, "cluster_size=4k", 1 << 30, &d);
    h = at(&m, 0, 512);
    ok(rc == INSTAR_OK && h && be32(h + 112) == 0, "4k clusters: no feature table (as qemu)");
    instar_mem_io_free(&m);

    rc = create(&m, 1 << 20, "compat=0.10", 0, &d);
    h = at(&m, 0, 512);
    ok(rc == INSTAR_OK && m.size == 196608 && h && be32(h + 4) == 2 && be64(h + 40) == 0
       && be32(h + 72) == 0, "v2, size 0: 3 clusters, no L1, 72-byte header");
    instar_mem_io_free(&m);

    rc = create(&m, 1 << 20, "refcount_bits=1,lazy_refcounts=on,extended_l2=on", 1 << 20, &d);
    h = at(&m, 0, 512);
    rb = at(&m, 131072, 1);
    ok(rc == INSTAR_OK && h && be32(h + 96) == 0 && be64(h + 72) == 16 && be64(h + 80) == 1
       && rb && rb[0] == 0x0f, "1-bit refcounts packed LSB first; ext L2 and lazy bits");
    instar_mem_io_free(&m);
}

int main(void)
{
    test_refusals();
    test_limits();
    test_qemu_bytes();
    test_layouts();
    return tap_done();
}
