/* The MQTT transport: a node is an edgemld agent reached through the site's broker (one shared
 * eml__mqtt_bus), and the nodes that announce themselves there are recorded in the site
 * database. Accuracy evaluation runs on the node (model.eval, node_eval.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "manager/manager.h"
#include "manager/mqtt_internal.h"

typedef struct mqtt_node {
    eml__node base;
    eml__mqtt_bus *bus;
} mqtt_node;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* node_ms is the time the node's handler spent, as the node measured it (the reply's node_ms
 * user property); a node that does not send it (an older edgemld) gets the round trip the
 * manager sees instead, broker hops included. */
static eml_status mqtt_command(eml__node *node, const char *json, uint64_t timeout_ms, char **reply,
                               int *http_status, double *node_ms, eml_diag *diag)
{
    mqtt_node *n = (mqtt_node *)node;
    double t0 = now_ms(), on_node = -1;
    eml_status st = eml__mqtt_bus_request_timed(n->bus, node->id, json, timeout_ms, reply,
                                                http_status, &on_node, diag);
    if (node_ms)
        *node_ms = on_node >= 0 ? on_node : now_ms() - t0;
    return st;
}

static eml_status mqtt_artifact_url(eml__node *node, const char *path, const char *sha256,
                                    char *url, size_t cap, eml_diag *diag)
{
    mqtt_node *n = (mqtt_node *)node;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return eml__diag(diag, EML_ENOTFOUND, "node '%s': artifact %s is missing", node->id, path);
    /* Content-addressed names: <sha256>.onnx for models, <sha256>.npy for evaluation data. */
    size_t len = strlen(path);
    const char *ext = len > 4 && strcmp(path + len - 4, ".npy") == 0 ? "npy" : "onnx";
    if ((size_t)snprintf(url, cap, "%s/artifacts/%s.%s", eml__mqtt_bus_artifact_base(n->bus),
                         sha256, ext) >= cap)
        return eml__diag(diag, EML_ELIMIT, "artifact URL too long");
    return EML_OK;
}

static eml_status mqtt_evaluate(eml__node *node, const char *model, const eml_tensor *data,
                                const eml_tensor *labels, uint32_t *node_version,
                                eml_eval_result *result, eml_diag *diag)
{
    mqtt_node *n = (mqtt_node *)node;
    return eml__node_eval_remote(node, eml__mqtt_bus_site_dir(n->bus), model, data, labels,
                                 node_version, result, diag);
}

static int mqtt_online(eml__node *node)
{
    mqtt_node *n = (mqtt_node *)node;
    return eml__mqtt_bus_online(n->bus, node->id);
}

static void mqtt_close(eml__node *node)
{
    (void)node; /* the bus owns its nodes */
}

static const eml__transport mqtt_transport = {
    .name = "mqtt",
    .command = mqtt_command,
    .artifact_url = mqtt_artifact_url,
    .evaluate = mqtt_evaluate,
    .online = mqtt_online,
    .close = mqtt_close,
};

eml_status eml__node_mqtt_create(eml__mqtt_bus *bus, const char *id, eml__node **out,
                                 eml_diag *diag)
{
    mqtt_node *n = calloc(1, sizeof(*n));
    if (!n)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    n->base.transport = &mqtt_transport;
    snprintf(n->base.id, sizeof(n->base.id), "%s", id);
    n->bus = bus;
    *out = &n->base;
    return EML_OK;
}

/* ---- the site database follows the bus ---- */

static void copy_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v) && strcmp(v->valuestring, "unavailable") != 0)
        snprintf(buf, cap, "%s", v->valuestring);
}

static uint64_t get_u64(const cJSON *o, const char *key, uint64_t keep)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (uint64_t)v->valuedouble : keep;
}

/* Upserts one announced node. Written only when something other than the free memory changed
 * or a newer heartbeat came: this runs on the manager's calls, not on each heartbeat. */
static eml_status sync_one(eml_manager *m, const eml__mqtt_seen *s, eml_diag *diag)
{
    eml__db_node row, old;
    int exists = eml__site_db_node_get(m->db, s->id, &old, NULL) == EML_OK;
    if (exists && strcmp(old.transport, "mqtt") != 0)
        return EML_OK; /* "local" and other transports keep their ids */
    if (exists) {
        row = old;
    } else {
        memset(&row, 0, sizeof(row));
        snprintf(row.id, sizeof(row.id), "%s", s->id);
        snprintf(row.transport, sizeof(row.transport), "mqtt");
        row.created_unix = (int64_t)time(NULL);
    }
    cJSON *st = s->status_json ? cJSON_Parse(s->status_json) : NULL;
    if (st) {
        copy_str(st, "hostname", row.hostname, sizeof(row.hostname));
        copy_str(st, "device_type", row.device_type, sizeof(row.device_type));
        copy_str(st, "cpu_model", row.cpu_model, sizeof(row.cpu_model));
        row.cpu_count = (uint32_t)get_u64(st, "cpu_count", row.cpu_count);
        row.memory_total_bytes = get_u64(st, "memory_total_bytes", row.memory_total_bytes);
        row.memory_available_bytes =
            get_u64(st, "memory_available_bytes", row.memory_available_bytes);
        cJSON_Delete(st);
    }
    if (s->online && s->ts > row.last_seen_unix)
        row.last_seen_unix = s->ts;
    if (exists) {
        eml__db_node cmp = row;
        cmp.memory_available_bytes = old.memory_available_bytes;
        cmp.last_seen_unix = old.last_seen_unix;
        if (memcmp(&cmp, &old, sizeof(cmp)) == 0 && row.last_seen_unix == old.last_seen_unix)
            return EML_OK;
    }
    return eml__site_db_node_put(m->db, &row, diag);
}

eml_status eml__manager_mqtt_sync(eml_manager *m, eml_diag *diag)
{
    if (!m->bus)
        return EML_OK;
    eml__mqtt_seen *seen = NULL;
    size_t n = 0;
    if (eml__mqtt_bus_seen(m->bus, &seen, &n) != EML_OK)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    eml_status st = EML_OK;
    for (size_t i = 0; i < n && st == EML_OK; i++)
        st = sync_one(m, &seen[i], diag);
    eml__mqtt_seen_free(seen, n);
    return st;
}

eml_status eml__manager_mqtt_node(eml_manager *m, const char *id, eml__node **out, eml_diag *diag)
{
    *out = NULL;
    if (!m->bus)
        return eml__diag(diag, EML_EIO,
                         "node '%s' is offline: its transport 'mqtt' is not configured (no "
                         "broker: give --broker mqtt://HOST:PORT)",
                         id);
    if (!eml__mqtt_bus_connected(m->bus))
        return eml__diag(diag, EML_EIO, "node '%s' is offline: broker %s is unreachable", id,
                         eml__mqtt_bus_url(m->bus));
    eml__node *node = NULL;
    eml_status st = eml__mqtt_bus_node(m->bus, id, &node, diag);
    if (st != EML_OK)
        return st;
    if (!node->transport->online(node))
        return eml__diag(diag, EML_EIO,
                         "node '%s' is offline: no fresh online status from it on broker %s "
                         "(see 'edgeml nodes' for when it was last seen)",
                         id, eml__mqtt_bus_url(m->bus));
    *out = node;
    return EML_OK;
}
