/* Internals of the model repository shared by its files: the handle, the `current` manifest,
 * file-system helpers that fsync, digests and signatures, the health check. */
#ifndef EML_SERVE_REPOSITORY_H
#define EML_SERVE_REPOSITORY_H

#include <pthread.h>
#include <stdint.h>

#include "core/core.h"
#include "edgeml/serve.h"

/* Most versions a manifest lists (kept, and earlier serving ones); keep_versions is capped here. */
#define EML__REPO_MAX_KEPT 64

/* The content of <repo>/<model>/current. */
typedef struct eml__manifest {
    uint32_t serving;                  /* 0: none */
    uint32_t kept[EML__REPO_MAX_KEPT]; /* ascending */
    size_t n_kept;
    uint32_t previous[EML__REPO_MAX_KEPT]; /* earlier serving versions, most recent first */
    size_t n_previous;
} eml__manifest;

/* A deploy in progress, or the last failed one of a model (what the disk does not say). */
typedef struct eml__repo_job {
    char model[EML_REPO_MAX_NAME + 1];
    uint32_t version;
    eml_model_state state;
    int active; /* a deploy is running */
    uint64_t model_bytes;
    char sha256[65];
    char failed_step[32];
    char message[512];
} eml__repo_job;

/* Called at each point of a deploy, rollback or recovery where a crash could happen (after each
 * write, fsync, rename, unlink): the crash tests kill the process there. */
typedef void (*eml__repo_probe_fn)(void *user, const char *point);

struct eml_repo {
    eml_env *env;
    char *root;
    int lock_fd;
    eml_repo_options opts; /* trusted_key_hex cleared; see key */
    uint8_t key[32];
    int has_key;
    pthread_mutex_t mu; /* manifests (read-modify-write) and jobs */
    eml__repo_job *jobs;
    size_t n_jobs, cap_jobs;
    size_t recovered;
    eml__repo_probe_fn probe;
    void *probe_user;
};

/* Tests only: installs the crash probe (NULL removes it). */
void eml__repo_set_probe(eml_repo *repo, eml__repo_probe_fn fn, void *user);
/* Tests only: a probe for every repository without its own, recovery in eml_repo_create
 * included. Not thread-safe: set it before any repository exists. */
void eml__repo_set_global_probe(eml__repo_probe_fn fn, void *user);
void eml__repo_point(eml_repo *repo, const char *point);

/* 1 when name is a valid model name. */
int eml__repo_name_ok(const char *name);
/* "<root>/<model>" or "<root>/<model>/<leaf>" into buf; EML_ELIMIT when it does not fit. */
eml_status eml__repo_join(char *buf, size_t cap, const char *a, const char *b, const char *c);

/* ---- manifest (repository.c); callers hold repo->mu ---- */
/* EML_ENOTFOUND when the model has no manifest; EML_ECORRUPT when it cannot be parsed. */
eml_status eml__manifest_read(eml_repo *repo, const char *model, eml__manifest *m, eml_diag *diag);
/* Writes current.tmp, fsyncs, renames over current, fsyncs the model folder. */
eml_status eml__manifest_write(eml_repo *repo, const char *model, const eml__manifest *m,
                               eml_diag *diag);
int eml__manifest_has(const eml__manifest *m, uint32_t version);
void eml__manifest_add(eml__manifest *m, uint32_t version);
void eml__manifest_remove(eml__manifest *m, uint32_t version);

/* ---- jobs (repository.c); these lock repo->mu themselves ---- */
/* The record of a model, NULL when none; the caller holds repo->mu. */
eml__repo_job *eml__repo_job_find(eml_repo *repo, const char *model);
/* Registers a running deploy; EML_ELIMIT when one of this model is running. */
eml_status eml__repo_job_begin(eml_repo *repo, const char *model, eml_diag *diag);
void eml__repo_job_update(eml_repo *repo, const char *model, uint32_t version,
                          eml_model_state state, uint64_t model_bytes, const char *sha256);
/* Ends the running deploy: forgotten on success, kept as the model's failed record otherwise. */
void eml__repo_job_end(eml_repo *repo, const char *model, const char *failed_step,
                       const char *message);
/* Highest version this process gave a deploy of the model (0: none). */
uint32_t eml__repo_job_max_version(eml_repo *repo, const char *model);

/* ---- file system (repository_fs.c) ---- */
/* Writes a whole file (created exclusively) and fsyncs it. EML_EIO with errno text. */
eml_status eml__fs_write_file(const char *path, const void *data, size_t n_bytes, eml_diag *diag);
/* Reads a whole file from env memory, refusing files above max_bytes (EML_ELIMIT). */
eml_status eml__fs_read_file(eml_env *env, const char *path, uint64_t max_bytes, void **data,
                             size_t *n_bytes, eml_diag *diag);
eml_status eml__fs_fsync_dir(const char *path, eml_diag *diag);
/* Renames and fsyncs the folder holding `to`. */
eml_status eml__fs_rename(const char *from, const char *to, eml_diag *diag);
/* rm -rf; 0 on success or when absent, else errno. */
int eml__fs_remove_tree(const char *path);

/* ---- digests and signatures (repository_digest.c) ---- */
void eml__sha256_hex(const void *data, size_t n_bytes, char hex[65]);
/* 1 when hex is exactly 2*n_bytes hex digits; then out holds the bytes. */
int eml__hex_decode(const char *hex, uint8_t *out, size_t n_bytes);
/* Lower-case hex of 64 chars: 1 when valid (case-insensitive), then copied lower-cased. */
int eml__sha256_hex_normalize(const char *in, char out[65]);
/* Ed25519 detached signature over data. EML_ECORRUPT when it does not verify. */
eml_status eml__ed25519_verify(const uint8_t key[32], const uint8_t sig[64], const void *data,
                               size_t n_bytes, eml_diag *diag);

/* ---- config and health check (repository_health.c) ---- */
typedef struct eml__repo_config eml__repo_config;

/* Parses and validates a version's config. base_dir: where "file" entries are read (NULL:
 * refused). Returns EML_EINVAL with what is wrong, EML_ENOMEM. */
eml_status eml__repo_config_parse(eml_repo *repo, const char *json, const char *base_dir,
                                  eml__repo_config **out, eml_diag *diag);
void eml__repo_config_destroy(eml__repo_config *cfg);
/* Copies the health-check files into dir/health/ and writes dir/config.json naming the copies. */
eml_status eml__repo_config_store(eml__repo_config *cfg, const char *dir, eml_diag *diag);
/* Checks the config's "inputs"/"outputs" against the graph. */
eml_status eml__repo_config_check_graph(const eml__repo_config *cfg, const eml_graph *graph,
                                        eml_diag *diag);
/* Runs the health check on plan; *latency_ms gets the median timed run. failed_step receives
 * "health_check" or "latency_check" on failure. */
eml_status eml__repo_health_check(eml_repo *repo, const eml__repo_config *cfg,
                                  const eml_graph *graph, const eml_plan *plan, double *latency_ms,
                                  const char **failed_step, eml_diag *diag);

/* The mapped-weights copy of a version (repository_weights.c): writes weights.onnx, weights.bin
 * (initializers of 4 KiB or more, aligned) and weights.sha256 into dir and fsyncs it. */
eml_status eml__repo_weights_write(eml_repo *repo, const eml_graph *graph, const char *dir,
                                   eml_diag *diag);
/* Checks weights.sha256 and loads dir/weights.onnx with its weights mapped. EML_ENOTFOUND (no
 * message) when dir has no copy; EML_ECORRUPT when a file changed; the load statuses. */
eml_status eml__repo_weights_load(eml_repo *repo, const char *dir, eml_graph **graph,
                                  eml_diag *diag);
/* Optimizes a loaded graph (taken: destroyed on failure) at the repository's level and compiles
 * it. failed_step receives "compile" on failure. */
eml_status eml__repo_compile_graph(eml_repo *repo, eml_graph **graph, const char *file,
                                   eml_plan **plan, const char **failed_step, eml_diag *diag);

/* Loads model bytes, optimizes at the repository's level and compiles. failed_step receives
 * "load" or "compile" on failure. */
eml_status eml__repo_compile(eml_repo *repo, const void *bytes, size_t n_bytes, const char *file,
                             eml_graph **graph, eml_plan **plan, const char **failed_step,
                             eml_diag *diag);

#endif
