/* What the tests that run real processes (mosquitto, edgemld nodes, the edgeml command) share:
 * a monotonic clock, starting a child that dies with the test, and stopping one. */
#ifndef EML_TEST_PROCESS_UTIL_H
#define EML_TEST_PROCESS_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static inline double proc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv[0] (a path) with stdout and stderr into the file log; the child is killed when the
 * test process dies (a failed REQUIRE exits at once: CTest would wait for an orphan). */
static inline pid_t proc_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(log, "w", stdout);
        if (f)
            dup2(fileno(f), 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Sends sig to *pid (when running) and waits for it; *pid becomes 0. */
static inline void proc_stop(pid_t *pid, int sig)
{
    if (*pid > 0 && kill(*pid, sig) == 0)
        waitpid(*pid, NULL, 0);
    *pid = 0;
}

#endif
