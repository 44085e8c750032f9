/* What the MQTT transport's files share: the bus's requests and node states (mqtt_bus.c), the
 * node objects (node_mqtt.c) and the artifact HTTP server (artifact_http.c). */
#ifndef EML_MANAGER_MQTT_INTERNAL_H
#define EML_MANAGER_MQTT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "manager/mqtt_bus.h"

/* 1 for a valid node id (manager.c). */
int eml__manager_name_ok(const char *name);

/* Publishes json to the node's cmd topic with the bus's reply topic and a fresh correlation id
 * and waits up to timeout_ms for the reply: *reply malloc'd, *http_status from the reply's
 * http_status user property (200 when absent). Returns EML_OK, EML_EIO (not connected, send
 * failed, connection lost, no reply in time: diag names the node and the broker), EML_ENOMEM. */
eml_status eml__mqtt_bus_request(eml__mqtt_bus *bus, const char *id, const char *json,
                                 uint64_t timeout_ms, char **reply, int *http_status,
                                 eml_diag *diag);
/* eml__mqtt_bus_request, and *node_ms (may be NULL) = the reply's node_ms user property: the
 * time the node's handler spent on the command, measured there; -1 when the node sent none (an
 * agent older than that property). */
eml_status eml__mqtt_bus_request_timed(eml__mqtt_bus *bus, const char *id, const char *json,
                                       uint64_t timeout_ms, char **reply, int *http_status,
                                       double *node_ms, eml_diag *diag);
/* The site's folder as given to eml__mqtt_bus_open. */
const char *eml__mqtt_bus_site_dir(const eml__mqtt_bus *bus);
/* 1 when connected and the node's last status says online and is within 3 x heartbeat_s. */
int eml__mqtt_bus_online(eml__mqtt_bus *bus, const char *id);
/* "http://host:port" of the artifact server. */
const char *eml__mqtt_bus_artifact_base(const eml__mqtt_bus *bus);

/* A node object on the bus (freed with free() by the bus). */
eml_status eml__node_mqtt_create(eml__mqtt_bus *bus, const char *id, eml__node **out,
                                 eml_diag *diag);

typedef struct eml__artifact_http eml__artifact_http;
/* Serves GET /artifacts/<64 hex>.onnx and .npy from <site_dir>/artifacts on addr's address (port
 * chosen by the system); a Range request (bytes=A-, A-B, -N) gets 206 with Content-Range, one
 * past the end 416. base: "http://host:port". Returns EML_OK, EML_EIO, EML_ENOMEM. */
eml_status eml__artifact_http_start(const char *site_dir, const struct sockaddr *addr,
                                    eml__artifact_http **out, char *base, size_t base_cap,
                                    eml_diag *diag);
void eml__artifact_http_stop(eml__artifact_http *http);

#endif
