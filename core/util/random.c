/* SPDX-License-Identifier: GPL-3.0-or-later */
/* random.c -- random bytes from the kernel (random.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "instar/error.h"
#include "util/random.h"

#if defined(HAVE_GETRANDOM) && defined(HAVE_SYS_RANDOM_H)
/* How many bytes getrandom gave (short when it fails for good). */
static size_t from_getrandom(uint8_t *p, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    return got;
}
#else
static size_t from_getrandom(uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    return 0;
}
#endif

int instar_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = from_getrandom(p, len);
    if (got == len)
        return INSTAR_OK;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return INSTAR_E_IO;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            close(fd);
            return INSTAR_E_IO;
        }
        got += (size_t)n;
    }
    close(fd);
    return INSTAR_OK;
}

int instar_random_u32_id(uint32_t *out)
{
    uint32_t v;
    do {
        int rc = instar_random_bytes(&v, sizeof v);
        if (rc != INSTAR_OK)
            return rc;
    } while (v == 0 || v == UINT32_MAX);
    *out = v;
    return INSTAR_OK;
}
