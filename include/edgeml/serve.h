/* Serving: the model repository of a node (versions on disk, verified deploys, atomic switch,
 * rollback). It knows nothing of HTTP; the agent and the CLI are thin fronts on it. */
#ifndef EDGEML_SERVE_H
#define EDGEML_SERVE_H

#include "edgeml/env.h"
#include "edgeml/graph.h"
#include "edgeml/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model repository ----
 *
 * On disk:
 *   <repo>/.lock                      flock: one process opens a repository at a time
 *   <repo>/<model>/current            the commit point: the serving version, the versions kept,
 *                                     and the earlier serving versions (for rollback); replaced
 *                                     by write + fsync + rename + fsync of the folder
 *   <repo>/<model>/<version>/         model.onnx, model.sha256 (hex), config.json,
 *                                     model.sig (hex, when the deploy was signed),
 *                                     weights.onnx + weights.bin + weights.sha256 (the mapped
 *                                     copy, with map_weights)
 *   <repo>/<model>/.tmp-<version>/    a deploy in progress (removed when the repository opens)
 * A version folder counts only once `current` lists it; anything else an interrupted deploy or
 * retirement left behind is removed when the repository is opened, so kill -9 at any moment, or
 * a full disk, leaves the last committed serving version serving.
 *
 * Model names: 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.
 * Versions: 1, 2, 3... per model, assigned by deploy; 0 in a query means "the serving one". */

typedef struct eml_repo eml_repo;

/* Lifecycle of a model version. Append-only values. A deploy goes downloading → verifying →
 * compiling → warming → ready (now serving), or ends in failed. A kept version that is not
 * serving is retired (a rollback target); versions beyond the kept count are deleted. */
typedef enum eml_model_state {
    EML_MODEL_STATE_NONE = 0,
    EML_MODEL_DOWNLOADING = 1, /* bytes being written aside (and fsynced) */
    EML_MODEL_VERIFYING = 2,   /* SHA-256 and, with a trusted key, the Ed25519 signature */
    EML_MODEL_COMPILING = 3,   /* load, optimize, compile into a plan */
    EML_MODEL_WARMING = 4,     /* health check: golden inputs → expected outputs, latency */
    EML_MODEL_READY = 5,       /* the serving version */
    EML_MODEL_FAILED = 6,      /* a deploy that failed (kept in memory only, with its reason) */
    EML_MODEL_RETIRED = 7      /* kept on disk, not serving */
} eml_model_state;

/* "downloading", "verifying", "compiling", "warming", "ready", "failed", "retired", "none". */
EML_API const char *eml_model_state_name(eml_model_state state);

#define EML_REPO_MAX_NAME 64

typedef struct eml_repo_options {
    uint32_t struct_size;        /* set by eml_repo_options_init(); fields are only appended */
    uint32_t keep_versions;      /* K: versions kept per model, the serving one always kept; 0: 3 */
    const char *trusted_key_hex; /* copied: Ed25519 public key, 64 hex chars. When set, every
                                    deploy must carry a valid signature. NULL: none required. */
    int optimize_level;          /* eml_graph_optimize level before compile (0 none, 1, 2);
                                    default 2. The same level is used by deploy and eml_repo_load. */
    double max_latency_ms;       /* latency limit of a health check whose config sets none;
                                    0: none (latency is then measured and reported only) */
    uint32_t latency_runs;       /* timed runs of the health check after one warm-up; 0: 5 */
    uint32_t n_threads;          /* threads of health-check sessions; 0: the env's pool */

    /* Callbacks, all optional, called on the thread doing the work, never with the repository's
     * lock held (they may call the query functions). `user` is passed back unchanged. */
    void *user;
    /* A version changed state. diag is non-NULL for EML_MODEL_FAILED: why. */
    void (*on_state)(void *user, const char *model, uint32_t version, eml_model_state state,
                     const eml_diag *diag);
    /* The serving version of a model changed (deploy or rollback); previous is 0 for the first. */
    void (*on_serving)(void *user, const char *model, uint32_t version, uint32_t previous);
    /* After a successful deploy: the graph and plan the health check ran, handed over so that a
     * cache can keep them (taken: the callee destroys them; the plan borrows the graph and the
     * graph the repository's env). NULL: the repository destroys them. */
    void (*on_compiled)(void *user, const char *model, uint32_t version, eml_graph *graph,
                        eml_plan *plan);
    /* 1 (default): deploy also writes the version as weights.onnx + weights.bin (ONNX external
     * data, initializers of 4 KiB or more at aligned offsets, with weights.sha256), and loads map
     * those weights instead of copying them: they live in page cache the system can reclaim and
     * read again, not in the heap. Costs the model's size again on disk. 0: load model.onnx. */
    int map_weights;
} eml_repo_options;

EML_API void eml_repo_options_init(eml_repo_options *opts);

/* Opens a repository folder, creating it (one level) when missing, and recovers it: removes
 * folders of interrupted deploys and retirements, and checks each model's `current` (a version
 * it names that is missing is dropped; a model whose `current` cannot be read is left untouched
 * and listed as failed). env: borrowed, must outlive the repository. path, opts: copied.
 * Returns EML_OK, EML_EINVAL (bad options or key), EML_EIO (folder not usable), EML_ELIMIT (the
 * repository is open in another process), EML_ENOMEM. */
EML_API eml_status eml_repo_create(eml_env *env, const char *path, const eml_repo_options *opts,
                                   eml_repo **out, eml_diag *diag);
/* NULL is a no-op. No deploy may be running. */
EML_API void eml_repo_destroy(eml_repo *repo);

/* Folders and files removed by recovery when the repository was opened. */
EML_API size_t eml_repo_recovered_count(const eml_repo *repo);

typedef struct eml_repo_deploy_options {
    uint32_t struct_size; /* set by eml_repo_deploy_options_init(); fields are only appended */
    /* The model: bytes (borrowed for the call) or a file path (copied); exactly one. */
    const void *model_bytes;
    size_t model_bytes_count;
    const char *model_path;
    const char *sha256_hex;    /* expected SHA-256 (64 hex chars); NULL: computed and stored */
    const char *signature_hex; /* Ed25519 signature of the model bytes (128 hex chars); NULL:
                                  none (refused when the repository has a trusted key) */
    const char *config_json;   /* the version's config (below); NULL: "{}" */
    const char *base_dir;      /* folder of "file" entries of the config's health check; NULL:
                                  the model_path's folder, or files refused for byte deploys */
} eml_repo_deploy_options;

EML_API void eml_repo_deploy_options_init(eml_repo_deploy_options *opts);

/* What a deploy did. failed_step names the step that failed: "download", "verify", "load",
 * "compile", "health_check", "latency_check", "switch" ("" on success, "request" when the
 * arguments were refused before any step). */
typedef struct eml_repo_deploy_result {
    uint32_t version; /* the version the deploy was given; 0 when refused before */
    char failed_step[32];
    char sha256[65]; /* of the model bytes, hex */
    uint64_t model_bytes;
    double latency_ms;      /* median of the health check's timed runs; 0 when not reached */
    uint32_t retired_count; /* versions deleted past keep_versions */
} eml_repo_deploy_result;

/* Deploys a new version of `model` (created when new): writes the bytes aside and fsyncs them,
 * verifies the hash and signature, loads, optimizes and compiles, runs the health check, and
 * only then switches the serving version and deletes versions beyond keep_versions. On failure
 * the previous serving version keeps serving and nothing committed is touched; diag says
 * "<step>: why", result->failed_step the step.
 *
 * The config (JSON object; keys other than these are kept for other modules: "batching",
 * "variants", ...):
 *   "inputs":  [{"name": "input", "dtype": "float32", "shape": [1,1,28,28]}]   optional; checked
 *   "outputs": [{"name": "output"}]                                            against the model
 *   "health_check": {
 *       "cases": [{"inputs":  [{"name": "input", "dtype": "float32", "shape": [...],
 *                               "data": [numbers...]}  or  {"name": ..., "file": "in.pb"}],
 *                  "outputs": [same form; compared with the model's outputs]}],
 *       "rtol": 1e-3, "atol": 1e-5,          float tolerance (integers compare exactly)
 *       "max_latency_ms": 50                 limit on the median run time; optional
 *   }
 * "file" entries (.pb, .npy) are read from base_dir and copied into the version folder, and the
 * stored config names the copies. Without cases the health check runs the model once on zeros.
 *
 * opts: borrowed for the call. result: may be NULL. Thread-safe; one deploy per model at a time.
 * Returns EML_OK; EML_EINVAL (bad name, options or config), EML_ELIMIT (a deploy of this model
 * is running), EML_EIO (disk, full disk included), EML_ECORRUPT (hash or signature mismatch,
 * bad model bytes), the load/compile statuses, EML_ERANGE (health check outputs or latency out
 * of bounds), EML_ENOMEM. */
EML_API eml_status eml_repo_deploy(eml_repo *repo, const char *model,
                                   const eml_repo_deploy_options *opts,
                                   eml_repo_deploy_result *result, eml_diag *diag);

/* Switches the serving version at once: to `version` (a kept one), or with version 0 to the
 * version that served before the current one (else the newest kept one below it). Nothing is
 * loaded or checked again: the target passed its health check when it was deployed.
 * serving: may be NULL; receives the new serving version. Thread-safe.
 * Returns EML_OK, EML_EINVAL, EML_ENOTFOUND (no such model or version, no previous version),
 * EML_EIO. */
EML_API eml_status eml_repo_rollback(eml_repo *repo, const char *model, uint32_t version,
                                     uint32_t *serving, eml_diag *diag);

/* The serving version of a model. Returns EML_OK, EML_EINVAL, EML_ENOTFOUND. */
EML_API eml_status eml_repo_current(eml_repo *repo, const char *model, uint32_t *version);

typedef enum eml_repo_file {
    EML_REPO_FILE_DIR = 0,      /* the version folder */
    EML_REPO_FILE_MODEL = 1,    /* model.onnx */
    EML_REPO_FILE_CONFIG = 2,   /* config.json */
    EML_REPO_FILE_SHA256 = 3,   /* model.sha256 */
    EML_REPO_FILE_SIGNATURE = 4 /* model.sig (may be absent) */
} eml_repo_file;

/* Path of a file of a kept version (0: the serving one) into buf; *version_out (may be NULL)
 * receives the version resolved. The file stays valid until that version is deleted past
 * keep_versions. Returns EML_OK, EML_EINVAL, EML_ENOTFOUND, EML_ELIMIT (buf too small). */
EML_API eml_status eml_repo_path(eml_repo *repo, const char *model, uint32_t version,
                                 eml_repo_file which, char *buf, size_t cap, uint32_t *version_out);

/* Loads a kept version (0: the serving one) the way deploy does: checks the file's SHA-256,
 * loads, optimizes at the repository's level and compiles. graph, plan: taken by the caller
 * (destroy the plan first); the graph borrows the repository's env. version_out may be NULL.
 * Returns EML_OK, EML_EINVAL, EML_ENOTFOUND, EML_EIO, EML_ECORRUPT (hash mismatch), the
 * load/compile statuses, EML_ENOMEM. */
EML_API eml_status eml_repo_load(eml_repo *repo, const char *model, uint32_t version,
                                 eml_graph **graph, eml_plan **plan, uint32_t *version_out,
                                 eml_diag *diag);

/* One version of one model, as listed. */
typedef struct eml_repo_version_info {
    char model[EML_REPO_MAX_NAME + 1];
    uint32_t version;
    eml_model_state state;
    int serving; /* 1 for the serving version */
    uint64_t model_bytes;
    char sha256[65];       /* hex; "" while downloading */
    int64_t deployed_unix; /* when the version was committed (seconds); 0 when not */
    char failed_step[32];  /* EML_MODEL_FAILED: the step */
    char message[512];     /* EML_MODEL_FAILED: why */
} eml_repo_version_info;

/* Lists kept versions (ready or retired), deploys in progress, and the last failed deploy of
 * each model since the repository was opened, ordered by model name then version.
 * model: NULL for every model. *out: taken, free it with eml_repo_list_free (NULL when none).
 * Returns EML_OK, EML_EINVAL, EML_ENOMEM. Thread-safe. */
EML_API eml_status eml_repo_list(eml_repo *repo, const char *model, eml_repo_version_info **out,
                                 size_t *count);
EML_API void eml_repo_list_free(eml_repo *repo, eml_repo_version_info *infos);

#ifdef __cplusplus
}
#endif
#endif
