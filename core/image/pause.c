/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pause.c -- a test-only pause between patches (see engine.h).
 *
 * The lock tests need a resize that is half done and still holding its
 * locks, at a known point, without relying on timing. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "image/engine.h"

void instar_test_pause_point(size_t done, size_t total)
{
    const char *n_text = getenv("INSTAR_TEST_PAUSE_AFTER_PATCH");
    const char *ready = getenv("INSTAR_TEST_PAUSE_READY");
    const char *resume = getenv("INSTAR_TEST_PAUSE_RESUME");
    if (n_text == NULL || ready == NULL || resume == NULL || *n_text == '\0')
        return;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(n_text, &end, 10);
    if (errno != 0 || *end != '\0')
        return;
    if (!(n == done || (n > total && done == total)))
        return;
    int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    const struct timespec tick = {0, 10 * 1000 * 1000};
    while (access(resume, F_OK) != 0)
        nanosleep(&tick, NULL);
}
