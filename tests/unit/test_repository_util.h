/* Helpers shared by the model repository tests: the Fashion-MNIST CNN, temporary folders, and a
 * consistency check of a repository folder. */
#ifndef EML_TESTS_REPOSITORY_UTIL_H
#define EML_TESTS_REPOSITORY_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "serve/repository.h"

/* The CNN and its test data (repository copy first, then ../shared); skips without them. */
static char repo_model_dir[1024];
static char repo_model_path[1100];

static inline void repo_find_model(void)
{
    const char *roots[2] = {eml_test_source_dir(), eml_test_shared_dir()};
    for (int i = 0; i < 2 && !repo_model_dir[0]; i++) {
        char path[1100];
        if (!roots[i])
            continue;
        snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", roots[i]);
        if (access(path, R_OK) == 0) {
            snprintf(repo_model_dir, sizeof(repo_model_dir), "%s/models/fashion_cnn", roots[i]);
            snprintf(repo_model_path, sizeof(repo_model_path), "%s", path);
        }
    }
    if (!repo_model_dir[0])
        eml_test_skip("models/fashion_cnn/model.onnx not found in the source or shared folder");
}

/* A new empty folder under $TMPDIR, else /dev/shm when fast is set (many fsyncs; a killed
 * process leaves the same state on any file system), else /tmp. */
static inline void repo_tmpdir_in(char *buf, size_t cap, const char *tag, int fast)
{
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if (!tmp || !*tmp)
        tmp = fast && stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                                  : "/tmp";
    snprintf(buf, cap, "%s/eml_%s_XXXXXX", tmp, tag);
    REQUIRE(mkdtemp(buf) != NULL);
}

static inline void repo_tmpdir(char *buf, size_t cap, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, cap, "%s/eml_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    REQUIRE(mkdtemp(buf) != NULL);
}

/* A config whose health check is the CNN's test_data_set_0 (files relative to the model). */
static const char repo_cnn_config[] =
    "{\"inputs\":[{\"name\":\"input\",\"dtype\":\"float32\",\"shape\":[1,1,28,28]}],"
    "\"outputs\":[{\"name\":\"output\"}],"
    "\"batching\":{\"max_batch_size\":8,\"max_queue_delay_us\":2000},"
    "\"health_check\":{\"cases\":[{\"inputs\":[{\"name\":\"input\","
    "\"file\":\"test_data_set_0/input_0.pb\"}],"
    "\"outputs\":[{\"name\":\"output\",\"file\":\"test_data_set_0/output_0.pb\"}]}],"
    "\"rtol\":1e-3,\"atol\":1e-4}}";

static inline eml_env *repo_env(void)
{
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1; /* no pool threads: the crash tests fork */
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    return env;
}

static inline int repo_exists(const char *dir, const char *leaf)
{
    char p[2048];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s", dir, leaf);
    return stat(p, &sb) == 0;
}

/* Names in a model folder that start with '.' (leftovers of interrupted work). */
static inline int repo_count_hidden(const char *model_dir)
{
    DIR *d = opendir(model_dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

#endif
