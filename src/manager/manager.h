/* Internals of the fleet manager shared by its files: the handle, node lookup, commands to a
 * node with their JSON replies, and the site's artifact store. */
#ifndef EML_MANAGER_MANAGER_H
#define EML_MANAGER_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "edgeml/graph.h"
#include "edgeml/manager.h"
#include "manager/site_db.h"
#include "manager/transport.h"

/* The id of the embedded default's in-process node. */
#define EML__LOCAL_NODE "local"
/* A node's last_seen is written when older than this. */
#define EML__SEEN_EVERY_S 5

struct eml_manager {
    char site[EML_MANAGER_MAX_ID + 1];
    char dir[2048]; /* <home>/<site> */
    uint32_t n_threads;
    eml__site_db *db;
    eml__node *local;          /* the in-process node */
    struct eml__mqtt_bus *bus; /* the broker connection; NULL: the embedded default */
    /* The site's Ed25519 secret key (site_key.c: libsodium's form, seed then public key). */
    uint8_t site_key[64];
    uint64_t push_max_bytes; /* MQTT deploys of artifacts up to this size go inline; 0: never */
};

/* 1 for a valid site, model or node id. */
int eml__manager_name_ok(const char *name);

/* The connection to a node of the site. Returns EML_OK, EML_EINVAL (bad id), EML_ENOTFOUND
 * ("node 'x' is not in site 'y'"), EML_EIO (offline: its transport is not configured). */
eml_status eml__manager_node(eml_manager *m, const char *id, eml__node **out, eml_diag *diag);

/* Sends cmd (taken: deleted here) to the node and parses its reply into *reply (the caller
 * deletes it). A reply that is an error becomes the status it names, with the node's message
 * in diag. *node_ms (may be NULL): the time the node spent. Records when the node was seen. */
eml_status eml__manager_command(eml_manager *m, eml__node *node, cJSON *cmd, cJSON **reply,
                                double *node_ms, eml_diag *diag);

/* MQTT nodes (node_mqtt.c): records the nodes announced on the broker in the site database
 * (no-op without a broker), and the connection to one ("node 'x' is offline" as EML_EIO when
 * no broker, the broker unreachable, or no fresh online status). */
eml_status eml__manager_mqtt_sync(eml_manager *m, eml_diag *diag);
eml_status eml__manager_mqtt_node(eml_manager *m, const char *id, eml__node **out, eml_diag *diag);

/* The site knows the model: EML_OK, else EML_ENOTFOUND "model 'x' is not in site 'y'". */
eml_status eml__manager_model_known(eml_manager *m, const char *model, eml_diag *diag);

/* Stores a model file in the site's artifact store (<dir>/artifacts/<sha256>.onnx, written
 * aside, fsynced and renamed) unless there already; returns its hash, size and the path
 * relative to the site folder. */
eml_status eml__manager_store_file(eml_manager *m, const char *path, char sha256[65],
                                   uint64_t *bytes, char *rel, size_t rel_cap, eml_diag *diag);

/* Checks a descriptor and its file (shapes included), stores the file and records the model and
 * the version (a new one when its SHA-256 is new) in one transaction: what a deploy or a rollout
 * does before any node is asked. No file: the model's latest site version. *v: the version row. Returns EML_OK, EML_EINVAL, EML_ENOTFOUND
 * (no such file), EML_ESHAPE, the loader's statuses, EML_EIO. */
eml_status eml__manager_register_version(eml_manager *m, const eml_model_descriptor *desc,
                                        eml__db_version *v, eml_diag *diag);

/* Records a measurement (kind, value) of a model on a node. */
eml_status eml__manager_measure(eml_manager *m, const char *model, uint32_t version,
                                const char *node, const char *kind, double value,
                                const char *detail, eml_diag *diag);

/* "[[-1,1,28,28]]": the declared shapes of a graph's inputs (outputs = 0) or outputs, dynamic
 * dims as -1, for the versions table. */
void eml__manager_shapes_json(const eml_graph *g, int outputs, char *buf, size_t cap);

/* ---- the site key and signed deploys (site_key.c) ---- */

/* Loads <dir>/site.key (Ed25519 secret key, hex, mode 0600) and <dir>/site.pub (its public key,
 * hex) into m->site_key, creating them when site.key is missing (written aside, fsynced, then
 * linked into place; a missing site.pub is written again). Returns EML_OK; EML_ECORRUPT (a key
 * file that is malformed or does not match: named, left untouched); EML_EIO. */
eml_status eml__site_key_load(eml_manager *m, eml_diag *diag);
/* Clears the secret key from memory (on close). */
void eml__site_key_forget(eml_manager *m);
/* The site's public key, 64 lower-case hex digits. */
void eml__site_key_public_hex(const eml_manager *m, char hex[65]);
/* The model.deploy command of the artifact at `path` (its SHA-256 checked again) for `node`:
 * {"op", "model", "url" or (MQTT nodes, artifacts up to m->push_max_bytes) "model_base64",
 * "sha256", "signature" (Ed25519 of the bytes with the site key), "config": {"site": {name,
 * version}}}. *out: taken. Returns EML_OK, EML_ENOTFOUND, EML_EIO, EML_ECORRUPT (the artifact
 * changed on disk), EML_ENOMEM, the transport's artifact_url errors. */
eml_status eml__site_deploy_command(eml_manager *m, eml__node *node, const char *model,
                                    const char *path, const char *sha256, uint32_t version,
                                    cJSON **out, eml_diag *diag);

#endif
