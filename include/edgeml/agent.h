/* The edge node agent (edgemld): serves a model repository over HTTP (Open Inference Protocol,
 * KServe v2 / Triton REST) and edgeml's own endpoints, through one JSON command handler. */
#ifndef EDGEML_AGENT_H
#define EDGEML_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eml_agent eml_agent;

/* max_queue_delay_us value for "no wait": a batch leaves as soon as a worker is free (0 in the
 * options keeps meaning "the default", as for every other field). */
#define EML_AGENT_NO_DELAY UINT64_MAX

typedef struct eml_agent_options {
    uint32_t struct_size;          /* set by eml_agent_options_init(); fields are only appended */
    const char *repo_dir;          /* copied; the model repository (created when missing) */
    const char *listen;            /* copied; "HOST:PORT" (port 0: any free port); NULL: no HTTP */
    uint64_t memory_budget_bytes;  /* loaded models; 0: unlimited */
    const char *trusted_key_hex;   /* copied; Ed25519 key every deploy must be signed with */
    uint64_t max_body_bytes;       /* HTTP request bodies; 0: 64 MiB */
    uint64_t max_model_bytes;      /* a deployed model (upload or URL); 0: 256 MiB */
    uint32_t max_concurrent;       /* requests handled at once; beyond: 503; 0: 64 */
    uint32_t max_queue;            /* queued requests per model; beyond: 503; 0: 64 */
    uint32_t max_batch_size;       /* default dynamic batch (rows); 0: 8; 1: no batching */
    uint64_t max_queue_delay_us;   /* default wait for a fuller batch; 0: 2000;
                                      EML_AGENT_NO_DELAY: none (dispatch at once) */
    uint64_t request_timeout_ms;   /* default deadline of an inference request; 0: 30000 */
    uint32_t n_threads;            /* intra-op threads per inference; 0: one per CPU */
    uint32_t keep_versions;        /* versions kept per model; 0: 3 */
    int optimize_level;            /* graph optimization before compile; default 2 */
    const char *power_mode;        /* read at create: "normal", "low" or "auto" (low when a
                                      battery discharges with no mains online); NULL: the mode
                                      last set by node.power_mode, else normal */
    int no_map_weights;            /* 1: models load into the heap from model.onnx; 0 (default):
                                      deploys keep a mapped-weights copy and loads map it
                                      (eml_repo_options.map_weights) */
    /* The MQTT front (docs/mqtt.md): with broker set, the agent also takes commands from
     * edgeml/<site>/nodes/<node_id>/cmd and publishes its retained status; listen may then be
     * NULL (MQTT only). A broker that is down or refuses the connection does not fail
     * eml_agent_create: the agent keeps retrying (1 s apart, growing to 30 s) and node.status says
     * "broker": {"connected": false, "last_error": ...}. */
    const char *broker;            /* copied; "mqtt://HOST:PORT" (port default 1883); NULL: none */
    const char *site;              /* copied; 1-64 of [A-Za-z0-9._-]; required with broker */
    const char *node_id;           /* copied; 1-64 of [A-Za-z0-9._-]; required with broker */
    uint32_t heartbeat_s;          /* status republished every N s; 0: 5 */
    /* TLS with an "mqtts://HOST[:PORT]" broker (port default 8883; docs/mqtt.md "TLS"): the
     * broker's certificate is always verified (chain and host name), TLS 1.2 or newer. A file
     * that is missing or unreadable is EML_EINVAL at create; these with a plain mqtt:// broker
     * too. A broker whose certificate does not verify is retried like one that is down, and
     * node.status's "last_error" says why. */
    const char *tls_ca;            /* copied; PEM CA file; NULL: the system's CA certificates */
    const char *tls_cert;          /* copied; PEM client certificate (mutual TLS), with tls_key */
    const char *tls_key;           /* copied; PEM private key of tls_cert */
    double health_max_latency_ms;  /* the repository's max_latency_ms: the latency limit of a
                                      deploy's health check whose config sets none; 0: none */
} eml_agent_options;

EML_API void eml_agent_options_init(eml_agent_options *opts);

/* Opens the repository and, when opts->listen is set, starts the HTTP server; when opts->broker
 * is set, the MQTT front (connecting in the background). opts: copied.
 * Returns EML_OK, EML_EINVAL (bad options, listen address, broker URL, site or node id),
 * EML_EIO (repository folder, port
 * in use), EML_ELIMIT (repository open elsewhere), EML_ENOMEM; diag says why. */
EML_API eml_status eml_agent_create(const eml_agent_options *opts, eml_agent **out,
                                    eml_diag *diag);
/* Stops the HTTP server (requests in flight finish), unloads every model. NULL is a no-op. */
EML_API void eml_agent_destroy(eml_agent *agent);

/* The bound TCP port (useful with port 0); 0 without HTTP. */
EML_API uint16_t eml_agent_port(const eml_agent *agent);

/* The one command handler every front uses: a JSON command {"op": "...", ...} in, a JSON reply
 * out (malloc'd, NUL-terminated; the caller frees it), with the HTTP status code the reply
 * maps to in *http_status. Ops: health.live, health.ready, model.metadata, model.ready,
 * model.infer, repository.index, model.load, model.unload, model.deploy, model.rollback,
 * model.versions, node.status, metrics; model.ab.{start,status,promote,stop},
 * model.variants.{set,get,clear}, node.power_mode (docs/ab-and-variants.md). Thread-safe.
 * Returns EML_OK when a reply was made (errors included, as {"error": ...}), EML_ENOMEM
 * otherwise. */
EML_API eml_status eml_agent_command(eml_agent *agent, const char *json, size_t json_bytes,
                                     char **reply, int *http_status);

#ifdef __cplusplus
}
#endif
#endif
