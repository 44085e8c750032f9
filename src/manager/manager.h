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

/* Records a measurement (kind, value) of a model on a node. */
eml_status eml__manager_measure(eml_manager *m, const char *model, uint32_t version,
                                const char *node, const char *kind, double value,
                                const char *detail, eml_diag *diag);

/* "[[-1,1,28,28]]": the declared shapes of a graph's inputs (outputs = 0) or outputs, dynamic
 * dims as -1, for the versions table. */
void eml__manager_shapes_json(const eml_graph *g, int outputs, char *buf, size_t cap);

#endif
