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
/* Downloads a URL (http, https, file) into malloc'd memory, refusing more than max_bytes
 * (EML_ELIMIT). Returns EML_OK, EML_EINVAL (bad URL), EML_EIO, EML_ELIMIT, EML_ENOMEM. */
eml_status eml__fetch_url(const char *url, uint64_t max_bytes, uint8_t **data, size_t *n_bytes,
                          eml_diag *diag);

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

#endif
