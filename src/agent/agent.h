/* Internals of the agent shared by its files: the agent, the handler's request and reply, the
 * OIP tensor codec and the HTTP front. */
#ifndef EML_AGENT_AGENT_H
#define EML_AGENT_AGENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "edgeml/agent.h"
#include "edgeml/serve.h"
#include "serve/cache.h"
#include "serve/metrics.h"
#include "serve/adapt.h"
#include "serve/router.h"

/* Transport conditions the HTTP front meets (agent-internal statuses, beside batcher.h's). */
#define EML__ETOOLARGE ((eml_status)-104)
#define EML__EMETHOD ((eml_status)-105)

typedef struct eml__http eml__http;

struct eml_agent {
    eml_agent_options o;
    char *repo_dir, *listen, *key;
    eml_allocator allocator;  /* counts the live bytes of everything the env allocates */
    _Atomic uint64_t live_bytes;
    eml_env *env;
    eml_repo *repo;
    eml__metrics *metrics;
    eml__cache *cache;
    eml__http *http;
    struct eml__route_state *route; /* A/B tests, variants, power mode (route_state.c) */
    struct eml__drift_set *drift;   /* input drift monitors per model version (handler_drift.c) */
    struct eml__mqtt *mqtt;         /* the MQTT front, NULL without a broker (mqtt.c) */
};

/* A command for the handler: the JSON (borrowed), and raw bytes beside it (borrowed): the binary
 * tensors of an OIP binary-data request, or the model of an upload. */
typedef struct eml__request {
    const cJSON *cmd;
    const uint8_t *binary;
    size_t binary_bytes;
} eml__request;

typedef struct eml__reply {
    int http_status;
    cJSON *json;              /* the body, or NULL when text is set */
    char *text;               /* malloc'd plain text body (metrics) */
    const char *content_type; /* of text */
    uint8_t *binary;          /* malloc'd; follows the JSON (binary-data extension) */
    size_t binary_bytes;
} eml__reply;

/* Runs one command; always fills reply (errors as {"error": ...}). */
void eml__agent_handle(eml_agent *a, const eml__request *req, eml__reply *reply);
void eml__reply_free(eml__reply *reply);
/* Fills reply with an error: the status's HTTP code and {"error", "status", "diag"}. */
void eml__reply_error(eml__reply *reply, eml_status st, const eml_diag *diag);
/* The one table from statuses to HTTP codes. */
int eml__http_code(eml_status st);

/* ---- the handler's parts: each fills reply (handler_infer.c, handler_deploy.c) ---- */
/* The command's "model" (required, a string) and "version" (optional: a number or a decimal
 * string; 0 when absent). Returns EML_OK or EML_EINVAL. */
eml_status eml__cmd_model(const cJSON *cmd, const char **model, int64_t *version, eml_diag *diag);
void eml__op_metadata(eml_agent *a, const eml__request *req, eml__reply *reply);
void eml__op_infer(eml_agent *a, const eml__request *req, eml__reply *reply);
void eml__op_deploy(eml_agent *a, const eml__request *req, eml__reply *reply);
void eml__op_rollback(eml_agent *a, const eml__request *req, eml__reply *reply);
void eml__op_versions(eml_agent *a, const eml__request *req, eml__reply *reply);
/* Benchmarks a model on this node (handler_bench.c; the reply's shape is documented there). */
void eml__op_bench(eml_agent *a, const eml__request *req, eml__reply *reply);
/* Accuracy of a kept model version on labelled .npy data (handler_eval.c, docs/agent.md). */
void eml__op_eval(eml_agent *a, const eml__request *req, eml__reply *reply);
/* Downloads a URL (http, https, file) into malloc'd memory, refusing more than max_bytes
 * (EML_ELIMIT). Returns EML_OK, EML_EINVAL (bad URL), EML_EIO, EML_ELIMIT, EML_ENOMEM. */
eml_status eml__fetch_url(const char *url, uint64_t max_bytes, uint8_t **data, size_t *n_bytes,
                          eml_diag *diag);

/* ---- A/B tests, model variants, power mode (route_state.c, route_infer.c, handler_route.c) */
typedef struct eml__route_state eml__route_state;
/* How one inference request was routed (on the caller's stack; nothing to free). */
typedef struct eml__route {
    int kind;              /* 0: not routed, 1: an A/B arm, 2: a variant */
    int recorded;
    const char *requested; /* the model the request named (borrowed from the command) */
    uint64_t start_ns;
    eml__ab_pick ab;
    eml__adapt_choice variant;
} eml__route;
/* Creates the state and brings back the tests and sets kept in the repository folder.
 * power_mode: "normal", "low", "auto" or NULL (the kept mode, else normal). Returns EML_OK,
 * EML_EINVAL (power_mode), EML_ENOMEM. */
eml_status eml__route_init(eml_agent *a, const char *power_mode, eml_diag *diag);
void eml__route_deinit(eml_agent *a);
/* The ops model.ab.{start,status,promote,stop}, model.variants.{set,get,clear},
 * node.power_mode. */
void eml__op_route(eml_agent *a, const char *op, const eml__request *req, eml__reply *reply);
/* The op of an HTTP route under /v2/edgeml/ (as http.c's route()), or NULL when none. */
const char *eml__route_http(const char *method, int n, char **seg, const char **model,
                            int *method_ok);
/* Before an inference whose request names no version: the A/B arm or variant to run, written
 * into *model and *version (left alone when the model is neither tested nor has variants). */
void eml__route_choose(eml_agent *a, const cJSON *request, const char **model, int64_t *version,
                       eml__route *rt);
/* After it: counts the outcome (latency, status; for an A/B arm the first output's top-1
 * confidence and, when shadowed, agreement with the control, run here on the same inputs). */
void eml__route_record(eml_agent *a, eml__route *rt, eml_status st, const eml_tensor *inputs,
                       size_t n_inputs, const eml_tensor *outputs, size_t n_outputs);
/* Names the requested model in the response and adds the arm or variant to its parameters. */
void eml__route_reply(const eml__route *rt, cJSON *response);

/* ---- input drift (handler_drift.c) ---- */
typedef struct eml__drift_set eml__drift_set;
/* Returns EML_OK or EML_ENOMEM. */
eml_status eml__drift_init(eml_agent *a);
void eml__drift_deinit(eml_agent *a);
/* Counts a request's inputs (graph order, as read for graph g) into the monitor of that model
 * version, made from its config's "drift" profile on first use; nothing without a profile. */
void eml__drift_on_infer(eml_agent *a, const char *model, int64_t version, const eml_graph *g,
                         const eml_tensor *inputs, size_t n_inputs);
/* The ops model.drift and model.drift.reset. */
void eml__op_drift(eml_agent *a, const char *op, const eml__request *req, eml__reply *reply);
/* Adds {"model", "version", "status", "max_psi"} to arr for each monitored version in status
 * "warn" or "drift" (node status). */
void eml__drift_list_alerts(eml_agent *a, cJSON *arr);

/* ---- OIP codec (oip.c) ---- */
/* Reads the "inputs" of an OIP infer request into one tensor per graph input (graph order), data
 * malloc'd (eml__tensors_free). binary: the bytes after the JSON, consumed in input order by
 * inputs whose parameters give binary_data_size. Returns EML_OK, EML_EINVAL (missing or unknown
 * input, bad JSON values, sizes), EML_ETYPE (datatype), EML_ESHAPE (shape vs data). */
eml_status eml__oip_read_inputs(const cJSON *request, const eml_graph *graph,
                                const uint8_t *binary, size_t binary_bytes, eml_tensor *inputs,
                                eml_diag *diag);
void eml__tensors_free(eml_tensor *t, size_t n);
/* Writes the OIP infer response for outputs; the outputs the request asks for with
 * binary_data go into *binary (malloc'd, appended in order). Returns EML_OK, EML_EINVAL (an
 * unknown output name was requested), EML_ENOMEM. */
eml_status eml__oip_write_outputs(const cJSON *request, const eml_graph *graph,
                                  const eml_tensor *outputs, size_t n_outputs, cJSON *response,
                                  uint8_t **binary, size_t *binary_bytes, eml_diag *diag);
/* "FP32" ↔ EML_DTYPE_F32, ... UNDEFINED / NULL when not an OIP type of this library. */
eml_dtype eml__oip_dtype(const char *name);
const char *eml__oip_dtype_name(eml_dtype dtype);

/* ---- HTTP front (http.c) ---- */
eml_status eml__http_start(eml_agent *a, const char *listen, eml__http **out, eml_diag *diag);
void eml__http_stop(eml__http *h);
uint16_t eml__http_port(const eml__http *h);

/* ---- MQTT front (mqtt.c, docs/mqtt.md) ---- */
typedef struct eml__mqtt eml__mqtt;
/* "mqtt://HOST[:PORT]" (port 1883 when left out) into host (NUL-terminated, at most host_cap - 1
 * characters) and *port; the one parser of broker URLs, the manager's too. Returns EML_OK or
 * EML_EINVAL. */
eml_status eml__mqtt_parse_broker(const char *url, char *host, size_t host_cap, int *port,
                                  eml_diag *diag);
/* Checks a->o's broker, site, node_id (copied) and starts connecting in the background (the
 * broker may be down: it keeps retrying). Returns EML_OK, EML_EINVAL (bad URL, site, node id),
 * EML_ENOMEM, EML_EIO (the MQTT library could not start). */
eml_status eml__mqtt_start(eml_agent *a, eml__mqtt **out, eml_diag *diag);
/* Finishes the commands in flight, publishes the offline status, disconnects. NULL: no-op. */
void eml__mqtt_stop(eml__mqtt *m);
/* Adds "broker": {"url", "site", "node_id", "connected", "last_error"} to a node status;
 * nothing when m is NULL. */
void eml__mqtt_add_status(eml__mqtt *m, cJSON *status);

/* ---- TLS on the fleet bus (mqtt_tls.c, docs/mqtt.md "TLS") ---- */
/* As eml__mqtt_parse_broker, also taking "mqtts://HOST[:PORT]" (port 8883 when left out);
 * *tls: 1 for mqtts://, 0 for mqtt://. Returns EML_OK or EML_EINVAL. */
eml_status eml__mqtt_parse_broker_tls(const char *url, char *host, size_t host_cap, int *port,
                                      int *tls, eml_diag *diag);
/* The certificate files of an mqtts:// connection (all borrowed, each may be NULL). */
typedef struct eml__mqtt_tls {
    const char *ca_file;   /* PEM CA certificate(s) the broker must chain to; NULL: the system's
                              CA certificates (/etc/ssl/certs) */
    const char *cert_file; /* PEM client certificate (mutual TLS); with key_file */
    const char *key_file;  /* PEM private key of cert_file (not encrypted) */
} eml__mqtt_tls;
/* Checks t for broker url (tls: its scheme is mqtts://): TLS files with a plain mqtt:// URL, a
 * certificate without its key (or the reverse), a file that is missing, unreadable or empty are
 * EML_EINVAL naming it. t NULL: no files. Returns EML_OK or EML_EINVAL. */
eml_status eml__mqtt_tls_check(const char *url, int tls, const eml__mqtt_tls *t, eml_diag *diag);
struct mosquitto;
/* Turns TLS on for a libmosquitto client before it connects: t's files (checked first with
 * eml__mqtt_tls_check), the broker's certificate always verified (chain and host name), TLS 1.2
 * or newer. Returns EML_OK, EML_EINVAL (libmosquitto refused a file), EML_ENOMEM. */
eml_status eml__mqtt_tls_apply(struct mosquitto *mosq, const char *url, const eml__mqtt_tls *t,
                               eml_diag *diag);
/* For a libmosquitto log line (its log callback): 1 and the reason in reason (e.g. "certificate
 * verify failed", "tlsv13 alert certificate required") when the line reports a TLS error; 0. */
int eml__mqtt_tls_log_reason(const char *line, char *reason, size_t cap);
/* The reason of a failed TLS connection to host, for an error message, with what to check:
 * reason as eml__mqtt_tls_log_reason gave it, or "" when libmosquitto logged none (the broker
 * closed the connection: closed_why, e.g. "Protocol error"). */
void eml__mqtt_tls_explain(const eml__mqtt_tls *t, const char *host, const char *reason,
                           const char *closed_why, char *out, size_t cap);

#endif
