/* SPDX-License-Identifier: GPL-3.0-or-later */
/* exec-count.h -- a live execution counter for `make fuzz-resize''s
 * status line.  Plain libFuzzer prints a line only when coverage grows or
 * the run count reaches a power of two, so the count of executions goes
 * stale for minutes; when INSTAR_FUZZ_EXEC_COUNTER names a file, each
 * execution adds one to the 64-bit host-order counter at its start
 * (core/fuzz/run.sh reads it).  Shared by fork-mode workers, hence atomic.
 * Unset (make check's replay, OSS-Fuzz), it costs one branch. */
#ifndef INSTAR_FUZZ_EXEC_COUNT_H
#define INSTAR_FUZZ_EXEC_COUNT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static inline void instar_fuzz_exec_count(void)
{
    static uint64_t *counter;
    static int state;           /* 0: not looked yet, 1: counting, 2: off */
    if (state == 0) {
        const char *path = getenv("INSTAR_FUZZ_EXEC_COUNTER");
        state = 2;
        if (path != NULL && *path != '\0') {
            int fd = open(path, O_RDWR | O_CREAT, 0600);
            if (fd >= 0) {
                if (ftruncate(fd, (off_t)sizeof *counter) == 0) {
                    void *p = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE, MAP_SHARED,
                                   fd, 0);
                    if (p != MAP_FAILED) {
                        counter = p;
                        state = 1;
                    }
                }
                close(fd);
            }
        }
    }
    if (state == 1)
        __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

#endif
