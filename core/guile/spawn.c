/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spawn.c -- start a child in its own process group, for (instar process).
 *
 * Guile 3.0.8 cannot set a child's process group between fork and exec,
 * and setting it from the parent afterwards races with the child's exec
 * (and with the grandchildren it may already have started).  The
 * recipes kill a timed-out or interrupted child with kill(-pgid), so the
 * group must exist before the program runs: the child calls setpgid
 * itself, then execs.  Between fork and exec only async-signal-safe
 * calls run (the recipes' workers are threads), so everything is
 * prepared before the fork.  An exec failure is reported through a
 * close-on-exec pipe as its errno, raised in the parent as a
 * system-error: callers never have to guess from an exit status of 127. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instar-guile.h"

/* Close every descriptor above 2 except KEEP (async-signal-safe). */
static void close_others(int keep)
{
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* The child side: never returns. */
static void child(char *const argv[], int in, int out, int err, int report)
{
    sigset_t all;
    int e;

    /* The parent's handlers and blocked signals must not leak into the
     * program (Guile blocks some in its threads; our SIGINT handler is
     * the parent's business). */
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (setpgid(0, 0) != 0)
        goto fail;
    /* Move the three descriptors above 2 first, so dup2 into 0..2 cannot
     * clobber one we still need. */
    if ((in = fcntl(in, F_DUPFD, 3)) < 0 || (out = fcntl(out, F_DUPFD, 3)) < 0 ||
        (err = fcntl(err, F_DUPFD, 3)) < 0)
        goto fail;
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        goto fail;
    close_others(report);
    execv(argv[0], argv);
fail:
    e = errno;
    while (write(report, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

SCM_DEFINE(scm_instar_spawn_process_group, "spawn-process-group", 4, 0, 0,
           (SCM argv, SCM in, SCM out, SCM err),
           "(spawn-process-group ARGV IN OUT ERR) -- start ARGV (strings, the\n"
           "program's path first, no PATH search) with the file descriptors IN, OUT,\n"
           "ERR as its stdin, stdout and stderr, as the leader of a new process\n"
           "group; returns the pid, which is also the group id.  An exec failure\n"
           "raises system-error with the child's errno.")
#define FUNC_NAME s_scm_instar_spawn_process_group
{
    long n = scm_ilength(argv);
    if (n < 1)
        scm_wrong_type_arg_msg(FUNC_NAME, SCM_ARG1, argv, "non-empty list of strings");
    int fd_in = scm_to_int(in), fd_out = scm_to_int(out), fd_err = scm_to_int(err);

    /* scm_calloc raises Guile's out-of-memory error itself. */
    char **cargv = scm_calloc(((size_t)n + 1) * sizeof *cargv);
    SCM rest = argv;
    for (long i = 0; i < n; i++, rest = scm_cdr(rest)) {
        SCM s = scm_car(rest);
        if (!scm_is_string(s)) {
            for (long j = 0; j < i; j++)
                free(cargv[j]);
            free(cargv);
            scm_wrong_type_arg_msg(FUNC_NAME, SCM_ARG1, argv, "list of strings");
        }
        cargv[i] = scm_to_locale_string(s);
    }

    int report[2];
    int saved = 0;
    pid_t pid = -1;
    if (pipe2(report, O_CLOEXEC) != 0) {
        saved = errno;
    } else {
        pid = fork();
        if (pid == 0)
            child(cargv, fd_in, fd_out, fd_err, report[1]);
        if (pid < 0)
            saved = errno;
        close(report[1]);
        if (pid > 0) {
            /* EOF: the exec happened (the pipe closed with it). */
            int e;
            ssize_t got;
            do
                got = read(report[0], &e, sizeof e);
            while (got < 0 && errno == EINTR);
            if (got == (ssize_t)sizeof e) {
                saved = e;
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                    ;
                pid = -1;
            }
        }
        close(report[0]);
    }
    for (long i = 0; i < n; i++)
        free(cargv[i]);
    free(cargv);
    scm_remember_upto_here_1(argv);
    if (pid < 0) {
        errno = saved;
        scm_syserror(FUNC_NAME);
    }
    return scm_from_int((int)pid);
}
#undef FUNC_NAME

void instar_guile_init_spawn(void)
{
#ifndef SCM_MAGIC_SNARFER
#include "spawn.x"
#endif
}
