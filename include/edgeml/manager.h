/* The fleet manager of one edge site (the product brief's EdgeMLManager): the site's models and
 * their measured figures, its nodes, deploys, rollbacks, inference and benchmarks on a node,
 * quantization and pruning of the site's models. */
#ifndef EDGEML_MANAGER_H
#define EDGEML_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/optimize.h"
#include "edgeml/status.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the site ----
 *
 * With no broker configured (the embedded default) a site lives in one folder:
 *   <home>/<site>/site.db            SQLite: models, versions, nodes, deployments, measurements
 *   <home>/<site>/artifacts/<sha256>.onnx   every model version the site knows, by content
 *   <home>/<site>/nodes/local/repo/  the model repository of the local node
 * and has one node, "local", that runs in this process with the same command handler as edgemld
 * (eml_agent_command). <home> is opts->home, else $EDGEML_HOME, else $XDG_DATA_HOME/edgeml,
 * else $HOME/.local/share/edgeml.
 *
 * With a broker (opts->broker "mqtt://host:port", docs/fleet.md "The fleet over MQTT") the site
 * also has the edgemld nodes that announce themselves on edgeml/<site>/nodes/+/status: they are
 * recorded with transport "mqtt" and reached by MQTT v5 request/response; a node is online while
 * its last status says so and is within 3 heartbeats; the nodes fetch deployed artifacts from an
 * HTTP server the manager runs on the address it reaches the broker from (evaluation data too,
 * as artifacts/<sha256>.npy: eml_manager_evaluate runs on MQTT nodes through their model.eval).
 *
 * An eml_manager is used by one thread at a time; two processes cannot open one site at once
 * (the second gets EML_ELIMIT), since the local node's repository is locked by its process.
 *
 * Names (sites, model ids, node ids): 1-64 characters of [A-Za-z0-9._-], starting with a letter
 * or digit. Versions of a model are numbered 1, 2, 3... by the site, one per distinct file
 * (SHA-256); a node's repository numbers the versions it was given in its own order. */

#define EML_MANAGER_MAX_ID 64

typedef struct eml_manager eml_manager;

typedef struct eml_manager_options {
    uint32_t struct_size; /* set by eml_manager_options_init(); fields are only appended */
    const char *home;     /* copied; the folder holding sites; NULL: as above */
    const char *broker;   /* copied; NULL: the embedded default; "mqtt://host:port" (port
                             default 1883): the site's MQTT nodes through that broker */
    int create;           /* 1 (default): create the site when missing; 0: EML_ENOTFOUND */
    uint32_t n_threads;   /* threads of each inference on the local node; 0: one per CPU */
    uint64_t push_max_bytes; /* deploys to MQTT nodes of artifacts up to this size travel
                                inside the command (base64) instead of by URL; default
                                256 KiB; 0: never (docs/signing.md) */
    /* TLS with an "mqtts://host[:port]" broker (port default 8883; docs/mqtt.md "TLS"): the
     * broker's certificate is always verified (chain and host name), TLS 1.2 or newer. A file
     * that is missing or unreadable, or these with a plain mqtt:// broker, is EML_EINVAL naming
     * it; a failed handshake is EML_EIO naming the broker and the TLS reason. */
    const char *tls_ca;   /* copied; PEM CA file; NULL: the system's CA certificates */
    const char *tls_cert; /* copied; PEM client certificate (mutual TLS), with tls_key */
    const char *tls_key;  /* copied; PEM private key of tls_cert */
} eml_manager_options;

EML_API void eml_manager_options_init(eml_manager_options *opts);

/* Opens (or creates) the site: its folder, its database (created, or checked: a file that is
 * not a site database or comes from a newer edgeml is refused) and its local node.
 * site, opts: copied; opts NULL = defaults. *out: taken, close it with eml_manager_close.
 * Returns EML_OK; EML_EINVAL (bad site name or options); EML_ENOTFOUND (no such site and
 * opts->create is 0); EML_ECORRUPT (site.db is not a site database, or the site's key file
 * site.key/site.pub is malformed: see eml_manager_public_key); EML_EUNSUPPORTED (a
 * database of a newer schema); EML_ELIMIT (the site is open in another process); EML_EIO (also:
 * the broker cannot be reached, or the artifact server cannot start); EML_ENOMEM. diag says
 * which file or broker and why. */
EML_API eml_status eml_manager_open(const char *site, const eml_manager_options *opts,
                                    eml_manager **out, eml_diag *diag);
/* Stops the local node (commands in flight finish), disconnects from the broker (stopping the
 * artifact server) and closes the database. NULL is a no-op. */
EML_API void eml_manager_close(eml_manager *m);

/* The site's folder; valid until eml_manager_close. */
EML_API const char *eml_manager_site_dir(const eml_manager *m);

/* The site's Ed25519 public key as 64 hex digits (hex: 65 bytes with the NUL), the key every
 * deploy is signed with: give it to nodes (edgemld --trusted-key HEX, or --trusted-key-file
 * with a copy of <site>/site.pub) so that they accept only the site's models. The key pair is
 * made when the site is (or on the first open of a site made before sites had keys) and kept
 * in <site>/site.key (secret, mode 0600) and <site>/site.pub; eml_manager_open refuses a key
 * file that is malformed (EML_ECORRUPT, naming it). Returns EML_OK, EML_EINVAL (NULL). */
EML_API eml_status eml_manager_public_key(const eml_manager *m, char hex[65]);

/* ---- models ---- */

/* A measurement as recorded: has is 0 when never measured ("not measured"). */
typedef struct eml_measured {
    int has;
    double value;
    uint32_t version;                  /* the model version measured */
    char node[EML_MANAGER_MAX_ID + 1]; /* where */
    int64_t measured_unix;             /* when (seconds) */
} eml_measured;

typedef struct eml_model_info {
    char id[EML_MANAGER_MAX_ID + 1];
    char name[128]; /* human name */
    char type[64];  /* "classification", ... as given at deploy ("" when not) */
    char parent[EML_MANAGER_MAX_ID + 1]; /* the model it was made from by quantize/prune, or "" */
    char derivation[64];                 /* "int8", "fp16", "pruned 50%", ... or "" */
    uint32_t latest_version;
    uint64_t model_bytes;       /* of the latest version */
    char sha256[65];            /* of the latest version, hex */
    uint32_t nodes_serving;     /* nodes whose last deploy/rollback of the model succeeded */
    eml_measured latency_ms;    /* median latency of the last benchmark (batch as run) */
    eml_measured accuracy_pct;  /* top-1 % of the last accuracy evaluation */
    char accuracy_dataset[128]; /* what it was measured on */
} eml_model_info;

/* Every model of the site, ordered by id, with the figures last measured (model.bench for
 * latency, eml_manager_evaluate for accuracy) — never estimated. *out: taken, free it with
 * eml_manager_free (NULL when none). Returns EML_OK, EML_EIO, EML_ENOMEM. */
EML_API eml_status eml_manager_models(eml_manager *m, eml_model_info **out, size_t *count,
                                      eml_diag *diag);
/* One model. Returns EML_OK, EML_ENOTFOUND ("model 'x' is not in site 'y'"), EML_EIO. */
EML_API eml_status eml_manager_model(eml_manager *m, const char *model, eml_model_info *out,
                                     eml_diag *diag);

/* Frees an array the manager returned. NULL is a no-op. */
EML_API void eml_manager_free(void *array);

/* ---- site status ---- */

typedef struct eml_site_status {
    char site[EML_MANAGER_MAX_ID + 1];
    char transport[16];       /* "local" (embedded default), "mqtt" (with a broker) */
    uint32_t models_total;    /* models the site knows */
    uint32_t models_deployed; /* of them, served by at least one node */
    uint32_t deployments;     /* (node, model) pairs serving */
    uint32_t nodes_total, nodes_online;
} eml_site_status;

/* Counts from the database; a node is online when its transport reaches it now.
 * Returns EML_OK, EML_EIO. */
EML_API eml_status eml_manager_status(eml_manager *m, eml_site_status *out, eml_diag *diag);

/* ---- nodes ---- */

typedef struct eml_node_model {
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version;      /* the node's serving version */
    uint32_t site_version; /* the site's version it corresponds to; 0 when unknown */
    int loaded;            /* in the node's memory now */
} eml_node_model;

typedef struct eml_node_info {
    char id[EML_MANAGER_MAX_ID + 1];
    char transport[16];     /* "local", "mqtt" */
    int online;             /* reached now; when 0 the other fields are the last ones seen */
    int64_t last_seen_unix; /* 0: never */
    char hostname[128];
    char device_type[64]; /* "x86_64-cpu", ... */
    char cpu_model[128];  /* "" when unknown */
    uint32_t cpu_count;
    int has_memory;
    uint64_t memory_total_bytes, memory_available_bytes;
    int has_temperature;
    double temperature_c;
    int has_power; /* 0: the node has no power sensor ("unavailable") */
    double power_w;
    size_t model_count;     /* models served (online nodes: as the node says) */
    eml_node_model *models; /* owned: eml_node_info_deinit */
} eml_node_info;

EML_API void eml_node_info_deinit(eml_node_info *info);

/* The status of one node, asked of the node when online (and recorded), else the last recorded.
 * out: deinit it even on failure. Returns EML_OK, EML_ENOTFOUND ("node 'x' is not in site
 * 'y'"), EML_EIO, EML_ENOMEM. */
EML_API eml_status eml_manager_node_status(eml_manager *m, const char *node, eml_node_info *out,
                                           eml_diag *diag);
/* Every node, ordered by id, each as eml_manager_node_status gives it. *out: taken; free each
 * with eml_node_info_deinit, then the array with eml_manager_free. */
EML_API eml_status eml_manager_nodes(eml_manager *m, eml_node_info **out, size_t *count,
                                     eml_diag *diag);
/* Records a node reached through another transport ("mqtt"). It is offline until that
 * transport is configured; commands to it fail with EML_EIO ("node 'x' is offline").
 * Returns EML_OK, EML_EINVAL (bad id, unknown transport, the id exists), EML_EIO. */
EML_API eml_status eml_manager_node_add(eml_manager *m, const char *node, const char *transport,
                                        eml_diag *diag);

/* ---- deploy and rollback ---- */

/* What a model is, as the product brief describes it. */
typedef struct eml_model_descriptor {
    uint32_t struct_size; /* set by eml_model_descriptor_init(); fields are only appended */
    const char *id;       /* the model's id in the site (a name, as above) */
    const char *name;     /* human name; NULL: the id */
    const char *type;     /* "classification", "detection", ...; NULL: "" */
    const char *file;     /* the ONNX file; NULL: the latest version the site has of id */
    /* Optional expected shapes of the first input and output (rank 0: not checked). A dim of
     * -1 matches any; a dynamic dim of the model matches any value. */
    int32_t input_rank;
    int64_t input_shape[EML_MAX_RANK];
    int32_t output_rank;
    int64_t output_shape[EML_MAX_RANK];
} eml_model_descriptor;

EML_API void eml_model_descriptor_init(eml_model_descriptor *desc);

typedef struct eml_deploy_result {
    uint32_t version;      /* the site's version of the file (new, or the one it already was) */
    uint32_t node_version; /* the node's new serving version */
    char sha256[65];
    uint64_t model_bytes;
    double health_latency_ms; /* the node's health check, median */
} eml_deploy_result;

/* Registers the file as a version of desc->id (a new version when its SHA-256 is new; the
 * model is created on first deploy) and deploys it to `node`, which verifies, compiles and
 * health-checks it before serving it. Shapes given in desc are checked against the file first.
 * The deployment is recorded in the site database whether it succeeds or not.
 * desc: borrowed for the call. result: may be NULL.
 * Returns EML_OK; EML_EINVAL (bad descriptor); EML_ENOTFOUND (no such node, no such file);
 * EML_EIO (node offline, disk); EML_ESHAPE (desc's shapes differ from the model's); the node's
 * deploy errors (EML_ECORRUPT, EML_ERANGE, the load/compile statuses). */
EML_API eml_status eml_manager_deploy(eml_manager *m, const eml_model_descriptor *desc,
                                      const char *node, eml_deploy_result *result, eml_diag *diag);

/* Switches the node back to the version that served before (version 0) or to a kept node
 * version, and records it. serving: may be NULL; receives the node's new serving version.
 * Returns EML_OK, EML_ENOTFOUND (node, model, or no earlier version), EML_EIO (offline). */
EML_API eml_status eml_manager_rollback(eml_manager *m, const char *node, const char *model,
                                        uint32_t version, uint32_t *serving, eml_diag *diag);

/* ---- inference ---- */

typedef struct eml_named_tensor {
    char name[128];
    eml_tensor tensor; /* data owned by the result */
} eml_named_tensor;

typedef struct eml_infer_result {
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version; /* the node's version that ran */
    char node[EML_MANAGER_MAX_ID + 1];
    double inference_ms; /* measured on the node (monotonic clock): the model run itself, without
                            the wait in the node's batching queue (for a merged batch: that
                            batch's run); a node that does not report it: its handler's time on
                            the command, else (an older MQTT node) the round trip */
    size_t output_count;
    eml_named_tensor *outputs; /* owned: eml_infer_result_deinit */
    double round_trip_ms; /* measured by the manager around the command: encoding, transport
                             (broker hops for MQTT), the node's handler, decoding (and, at most
                             every 5 s, recording when the node was last seen) */
} eml_infer_result;

EML_API void eml_infer_result_deinit(eml_infer_result *result);

/* Runs the serving version of `model` on `node`. inputs: borrowed, one per model input in the
 * model's order (as the node's metadata lists them), float32/int/bool tensors with concrete
 * shapes. result: deinit it even on failure.
 * Returns EML_OK; EML_ENOTFOUND (node, or a model the node does not serve); EML_EIO (offline);
 * EML_EINVAL, EML_ESHAPE, EML_ETYPE (inputs that do not fit); EML_ENOMEM; the run's status. */
EML_API eml_status eml_manager_infer(eml_manager *m, const char *node, const char *model,
                                     const eml_tensor *inputs, size_t input_count,
                                     eml_infer_result *result, eml_diag *diag);

/* ---- measurements ---- */

typedef struct eml_bench_options {
    uint32_t struct_size; /* set by eml_bench_options_init(); fields are only appended */
    uint32_t runs;        /* measured runs; 0: 100 */
    uint32_t warmup;      /* runs before measuring; 0: 10 */
    uint32_t batch;       /* rows per run (dim 0 of the input); 0: 1 */
} eml_bench_options;

EML_API void eml_bench_options_init(eml_bench_options *opts);

/* A benchmark, as the node measured it. Figures the node cannot measure have has_* = 0 and are
 * reported as "unavailable". */
typedef struct eml_bench_result {
    char node[EML_MANAGER_MAX_ID + 1];
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version;      /* the node's version benchmarked */
    uint32_t site_version; /* the site's (0 when unknown) */
    uint32_t runs, batch;
    double throughput_ips; /* inferences (rows) per second */
    double latency_ms_mean, latency_ms_p50, latency_ms_p90, latency_ms_p99;
    double latency_ms_min, latency_ms_max;
    int has_peak_memory;
    uint64_t peak_memory_bytes;
    int has_power;
    double power_w; /* average draw while running */
    int has_energy;
    double energy_j_per_inference;
    int64_t measured_unix;
} eml_bench_result;

/* Runs the serving version of `model` on `node` opts->runs times (the node's model.bench op)
 * and records latency and throughput (and energy where measured) for the model list.
 * opts: NULL = defaults. Returns EML_OK, EML_ENOTFOUND, EML_EIO (offline), EML_EUNSUPPORTED
 * (the node has no benchmark op), the run's status. */
EML_API eml_status eml_manager_bench(eml_manager *m, const char *node, const char *model,
                                     const eml_bench_options *opts, eml_bench_result *result,
                                     eml_diag *diag);

/* Measures the top-1 (and top-5) accuracy of the model version `node` serves on labelled data
 * (eml_eval_classifier on the node: in this process for the local node; for an MQTT node its
 * agent's model.eval, the data and labels fetched from the site's artifact server as
 * <sha256>.npy and checked against their hashes) and records the top-1 figure.
 * data, labels: borrowed (as eml_eval_classifier takes them: float32 [N, ...], integer [N]).
 * dataset: a short name recorded with the figure ("fashion-mnist t10k").
 * Returns EML_OK, EML_ENOTFOUND (also: the node does not serve the model), EML_EIO (offline),
 * EML_EUNSUPPORTED (the node's transport or agent cannot evaluate), EML_ECORRUPT (a download
 * that does not match its hash), and eml_eval_classifier's statuses (EML_ESHAPE, EML_ETYPE). */
EML_API eml_status eml_manager_evaluate(eml_manager *m, const char *node, const char *model,
                                        const eml_tensor *data, const eml_tensor *labels,
                                        const char *dataset, eml_eval_result *result,
                                        eml_diag *diag);

/* ---- optimization of the site's models ---- */

typedef struct eml_derive_result {
    char id[EML_MANAGER_MAX_ID + 1];    /* the new model */
    uint32_t version;                   /* its site version */
    uint64_t bytes_before, bytes_after; /* file sizes */
    char sha256[65];
    double sparsity; /* prune: zeros among the pruned layers' weights, measured; else 0 */
} eml_derive_result;

/* Quantizes the latest version of `model` (eml_quantize with opts) into a new model `new_id`
 * (NULL: "<model>-int8", "-int8dyn", "-fp16", "-mixed") recorded in the site with parent
 * `model` and its precision as derivation. The new model is not deployed anywhere.
 * Returns EML_OK, EML_ENOTFOUND (model), EML_EINVAL (new_id exists with other content, bad
 * options), eml_quantize's statuses, EML_EIO. */
EML_API eml_status eml_manager_quantize(eml_manager *m, const char *model, const char *new_id,
                                        const eml_quantize_options *opts, eml_derive_result *result,
                                        eml_diag *diag);

/* Prunes the latest version of `model` (eml_prune with opts) into a new model `new_id` (NULL:
 * "<model>-pruned<P>" with P the sparsity in percent, "-chpruned<P>" for channels) recorded in
 * the site with parent `model` and derivation "pruned P%" ("pruned P% channels"). The new model
 * is not deployed anywhere. Returns as eml_manager_quantize, with eml_prune's statuses. */
EML_API eml_status eml_manager_prune(eml_manager *m, const char *model, const char *new_id,
                                     const eml_prune_options *opts, eml_derive_result *result,
                                     eml_diag *diag);

/* ---- rollouts ----
 *
 * A rollout deploys one model file to a group of nodes in waves: a first wave (opts->first_wave
 * nodes, default 1), then waves growing by opts->growth (default 2: 1, 2, 4, ... capped by what
 * remains). Each node's deploy is eml_manager_deploy: the node verifies, compiles and
 * health-checks the version before it serves it; a failed check, an error or an offline node
 * make a failed node. After each wave the failure ratio (failed nodes / nodes attempted so far)
 * is compared with opts->max_failure_ratio: above it the rollout stops, the nodes of that wave
 * that switched are rolled back to the node version they served before (when
 * opts->rollback_failed_wave), and the rollout is "failed"; nodes of earlier waves keep the new
 * version. Every state change is committed to the site database before the action it describes
 * starts and after it ends, so a manager killed at any point leaves a rollout that
 * eml_manager_rollout_resume continues (docs/rollout.md). */

typedef struct eml_rollout_node {
    char node[EML_MANAGER_MAX_ID + 1];
    uint32_t wave;                  /* 1-based */
    char state[16];                 /* "pending", "deploying", "deployed", "failed",
                                       "rolled_back" */
    uint32_t previous_node_version; /* what the node served before (0: nothing) */
    uint32_t node_version;          /* the node's version of the new file (0: none) */
    double health_latency_ms;       /* the node's health check (deployed nodes) */
    char message[512];              /* why it failed, or what was done */
    int64_t updated_unix;
} eml_rollout_node;

typedef struct eml_rollout_info {
    int64_t id;
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version; /* the site version rolled out */
    char sha256[65];
    char state[16]; /* "running" (unfinished: resume it), "succeeded", "failed" */
    uint32_t waves_done, waves_total;
    uint32_t nodes_total, nodes_ok, nodes_failed, nodes_rolled_back;
    uint32_t first_wave; /* the options it runs with */
    double growth, max_failure_ratio, bake_s;
    int rollback_failed_wave;
    char message[512]; /* how it ended, naming the failed nodes and why */
    int64_t created_unix, updated_unix;
} eml_rollout_info;

/* What eml_manager_rollout and eml_manager_rollout_resume return: the rollout as it ended. */
typedef eml_rollout_info eml_rollout_result;

/* Progress, reported while a rollout runs (the CLI prints each wave as it goes). */
typedef enum eml_rollout_event_kind {
    EML_ROLLOUT_WAVE_START = 1,  /* wave, waves, node_count (nodes in the wave) */
    EML_ROLLOUT_NODE_DONE = 2,   /* node: its row once deployed or failed */
    EML_ROLLOUT_WAVE_DONE = 3,   /* the wave ended; ok, failed so far; bake_s follows */
    EML_ROLLOUT_ROLLED_BACK = 4, /* node: its row after the rollback of a failed wave */
} eml_rollout_event_kind;

typedef struct eml_rollout_event {
    eml_rollout_event_kind kind;
    int64_t id;
    uint32_t wave, waves, node_count;
    uint32_t nodes_ok, nodes_failed;
    double bake_s;
    const eml_rollout_node *node; /* NODE_DONE, ROLLED_BACK; borrowed for the call */
} eml_rollout_event;

typedef struct eml_rollout_options {
    uint32_t struct_size;     /* set by eml_rollout_options_init(); fields are only appended */
    const char *const *nodes; /* borrowed; the nodes in rollout order; NULL: every node of the
                                 site, ordered by id */
    size_t node_count;
    uint32_t first_wave;       /* nodes in the first wave; default 1 */
    double growth;             /* each wave's size is the last one's times this; default 2.0 */
    double max_failure_ratio;  /* 0..1; default 0.25 */
    double bake_s;             /* seconds waited after each successful wave; default 0 */
    int rollback_failed_wave;  /* default 1 */
    void (*on_event)(void *user, const eml_rollout_event *event); /* NULL: none */
    void *user;
} eml_rollout_options;

EML_API void eml_rollout_options_init(eml_rollout_options *opts);

/* Registers desc->file as a version of desc->id (as eml_manager_deploy does), records a rollout
 * (its id in result->id) with its planned waves, and deploys it wave by wave as described above.
 * desc, opts: borrowed for the call (opts NULL: defaults). result: may be NULL.
 * Returns EML_OK when every wave ran (result->state "succeeded"; some nodes may have failed
 * within the ratio); EML_ELIMIT when the failure ratio stopped it (state "failed", diag and
 * result->message name the nodes and why); before any rollout is recorded: EML_EINVAL (bad
 * options or descriptor, a node named twice, no nodes), EML_ENOTFOUND (a node not in the site,
 * the file), EML_ESHAPE; EML_EIO (database, disk); EML_ENOMEM. */
EML_API eml_status eml_manager_rollout(eml_manager *m, const eml_model_descriptor *desc,
                                       const eml_rollout_options *opts,
                                       eml_rollout_result *result, eml_diag *diag);

/* Continues a "running" rollout, e.g. after the manager was killed: a node left "deploying" is
 * asked what it serves (a version with the rollout's SHA-256 serving: deployed; else deployed
 * again), pending nodes go on in their planned waves; killed during a bake, the bake time left
 * since the last wave ended is waited first. opts: borrowed, only on_event and user
 * are read (NULL: none). Returns as eml_manager_rollout; EML_ENOTFOUND (no rollout `id`),
 * EML_EINVAL (the rollout already ended). */
EML_API eml_status eml_manager_rollout_resume(eml_manager *m, int64_t id,
                                              const eml_rollout_options *opts,
                                              eml_rollout_result *result, eml_diag *diag);

/* Every rollout of the site, newest first. *out: taken, free with eml_manager_free.
 * Returns EML_OK, EML_EIO, EML_ENOMEM. */
EML_API eml_status eml_manager_rollouts(eml_manager *m, eml_rollout_info **out, size_t *count,
                                        eml_diag *diag);
/* One rollout and its nodes in rollout order. info, nodes: may be NULL; *nodes taken, free with
 * eml_manager_free. Returns EML_OK, EML_ENOTFOUND ("rollout 7 is not in site 'x'"), EML_EIO,
 * EML_ENOMEM. */
EML_API eml_status eml_manager_rollout_get(eml_manager *m, int64_t id, eml_rollout_info *info,
                                           eml_rollout_node **nodes, size_t *count,
                                           eml_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
