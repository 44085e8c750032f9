/* What the tests of a real edgemld process share: finding the binary and the Fashion-MNIST CNN
 * (its 8 test images and ONNX Runtime's scores in x, y), starting the agent on a loopback port,
 * stopping it, and cleaning up. Define AGENT_TEST_WORK (the temp folder's name) before including. */
#ifndef EML_TEST_AGENT_UTIL_H
#define EML_TEST_AGENT_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

static char binary[1024], model_dir[1024], work[512];
static pid_t agent_pid;
static int port;
static FILE *agent_out;
static eml_env *env;
static eml_tensor x, y; /* 8 images, ONNX Runtime's scores */

/* ---- the agent process ---- */

static void find_files(void)
{
    const char *bin = getenv("EML_BINARY_DIR");
    const char *src = eml_test_source_dir();
    if (!bin || !src)
        eml_test_skip("EML_BINARY_DIR or EML_SOURCE_DIR not set");
    snprintf(binary, sizeof(binary), "%s/edgemld", bin);
    if (access(binary, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    snprintf(model_dir, sizeof(model_dir), "%s/models/fashion_cnn", src);
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/" AGENT_TEST_WORK "_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    char path[1200];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.npy", model_dir);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &x, &d), &d);
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.npy", model_dir);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &y, &d), &d);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A failed REQUIRE exits the test: the agent must not outlive it (CTest would wait for it). */
static void kill_agent(void)
{
    if (agent_pid > 0 && kill(agent_pid, SIGKILL) == 0)
        waitpid(agent_pid, NULL, 0);
}

/* Starts `edgemld --repo WORK/repo --listen 127.0.0.1:0 --threads 1 EXTRA...` (find_files first)
 * and reads the bound port from its first line of output. */
static void agent_start(const char *const *extra)
{
    if (agent_out) /* the output of an agent started before (read after it stopped) */
        fclose(agent_out);
    agent_out = NULL;
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    const char *argv[32] = {binary, "--repo", repo, "--listen", "127.0.0.1:0", "--threads", "1"};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    agent_pid = fork();
    REQUIRE(agent_pid >= 0);
    if (agent_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    static int registered;
    if (!registered++)
        atexit(kill_agent);
    agent_out = fdopen(fds[0], "r");
    char line[512] = "";
    REQUIRE(fgets(line, sizeof(line), agent_out) != NULL);
    printf("%s", line);
    const char *at = strstr(line, "listening on 127.0.0.1:");
    REQUIRE(at != NULL);
    port = atoi(at + strlen("listening on 127.0.0.1:"));
    REQUIRE(port > 0);
}

/* SIGTERM, then waits up to 20 s; returns the exit status (-1: did not stop). */
static int stop_agent(void)
{
    kill(agent_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        if (waitpid(agent_pid, &status, WNOHANG) == agent_pid) {
            agent_pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill_agent();
    agent_pid = 0;
    return -1;
}

static void cleanup(void)
{
    if (agent_out)
        fclose(agent_out);
    agent_out = NULL;
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
    eml_tensor_free(env, &x);
    eml_tensor_free(env, &y);
    eml_env_destroy(env);
    curl_global_cleanup();
}

#endif
