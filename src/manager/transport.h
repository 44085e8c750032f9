/* How the manager reaches a node: one interface, one implementation per transport ("local":
 * an agent in this process; "mqtt" later: edgemld agents through a broker). Callers build the
 * agent's JSON commands (docs/agent.md) and read its JSON replies the same way for every
 * transport. */
#ifndef EML_MANAGER_TRANSPORT_H
#define EML_MANAGER_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/manager.h"
#include "edgeml/optimize.h"
#include "edgeml/status.h"

typedef struct eml__node eml__node;

typedef struct eml__transport {
    const char *name; /* "local", "mqtt" */
    /* Sends one command (JSON text, borrowed) and waits up to timeout_ms for the node's reply:
     * *reply malloc'd JSON text (the caller frees it), *http_status the code the agent gave it,
     * *node_ms the time the node's handler spent on it, measured on the node's side ("mqtt":
     * the reply's node_ms user property; the round trip only for a node that sends none).
     * Returns EML_OK when a reply came (the node's errors included: read them with
     * eml__node_reply_status), EML_EIO when the node cannot be reached ("offline"),
     * EML_ENOMEM. */
    eml_status (*command)(eml__node *node, const char *json, uint64_t timeout_ms, char **reply,
                          int *http_status, double *node_ms, eml_diag *diag);
    /* The URL a node fetches a site artifact from (file:// for the local node; the MQTT
     * transport will publish it content-addressed). path: the artifact on the manager's disk. */
    eml_status (*artifact_url)(eml__node *node, const char *path, const char *sha256, char *url,
                               size_t cap, eml_diag *diag);
    /* Measures the accuracy of the model version the node serves (eml_eval_classifier on the
     * node: in process for "local", the agent's model.eval for "mqtt"). NULL: the transport
     * cannot (EML_EUNSUPPORTED). */
    eml_status (*evaluate)(eml__node *node, const char *model, const eml_tensor *data,
                           const eml_tensor *labels, uint32_t *node_version,
                           eml_eval_result *result, eml_diag *diag);
    /* 1 when the node answers now. */
    int (*online)(eml__node *node);
    /* Stops and frees the connection. */
    void (*close)(eml__node *node);
} eml__transport;

/* A connection to one node; the transport's state follows it. */
struct eml__node {
    const eml__transport *transport;
    char id[EML_MANAGER_MAX_ID + 1];
};

/* The local node of a site: an eml_agent in this process (no HTTP) whose repository is
 * <site_dir>/nodes/<id>/repo. Returns EML_OK, EML_ELIMIT (the repository is open in another
 * process: the site is in use), EML_EIO, EML_ENOMEM. */
eml_status eml__node_local_open(const char *site_dir, const char *id, uint32_t n_threads,
                                eml__node **out, eml_diag *diag);
/* The same with a trusted key (64 hex digits, copied; NULL: none): the node then accepts only
 * deploys signed with it (the site's key, site_key.c). */
eml_status eml__node_local_open_trusted(const char *site_dir, const char *id, uint32_t n_threads,
                                        const char *trusted_key_hex, eml__node **out,
                                        eml_diag *diag);

/* Accuracy on a node that runs the agent's model.eval (node_eval.c): data (float32 [N, ...]) and
 * labels (integer [N]) are written as <site_dir>/artifacts/<sha256>.npy (kept: the same data
 * again writes nothing), the node is sent their URLs (the transport's artifact_url) and hashes,
 * downloads and checks them, and runs eml_eval_classifier on the version it serves.
 * *node_version: the node's version evaluated. Returns EML_OK, EML_EINVAL, EML_EIO, EML_ENOMEM
 * and the node's statuses (EML_ENOTFOUND: the node does not serve the model; EML_ECORRUPT: a
 * file that does not match its hash; EML_ESHAPE / EML_ETYPE: data that does not fit). */
eml_status eml__node_eval_remote(eml__node *node, const char *site_dir, const char *model,
                                 const eml_tensor *data, const eml_tensor *labels,
                                 uint32_t *node_version, eml_eval_result *result, eml_diag *diag);

/* Reads an agent reply: EML_OK for a success; else the status its "status" name maps to (the
 * agent's table in src/agent/handler.c, read backwards) with its "error" message in diag,
 * prefixed with `what` ("node 'local': "). */
eml_status eml__node_reply_status(const char *reply, int http_status, const char *what,
                                  eml_diag *diag);

#endif
