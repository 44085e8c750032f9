/* The manager's one MQTT connection per site (the fleet bus, /work/mqtt-protocol.md version 1):
 * node statuses as they are announced, commands sent as MQTT v5 requests with a correlation id
 * and their replies, and the HTTP server the nodes fetch the site's artifacts from. */
#ifndef EML_MANAGER_MQTT_BUS_H
#define EML_MANAGER_MQTT_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/status.h"
#include "manager/transport.h"

typedef struct eml__mqtt_bus eml__mqtt_bus;

/* What a node's last status message said. status_json: malloc'd copy of its "status" object
 * (the agent's node.status reply), NULL when it had none. */
typedef struct eml__mqtt_seen {
    char id[EML_MANAGER_MAX_ID + 1];
    int online;           /* the message said online (and is fresh: within 3 x heartbeat_s) */
    int64_t ts;           /* the node's clock, unix seconds; 0 for the will */
    uint32_t heartbeat_s; /* as announced */
    char *status_json;
} eml__mqtt_seen;

/* Connects to broker ("mqtt://host:port", copied) as a fresh client, subscribes to the site's
 * node statuses and its reply topic, waits until the retained statuses have arrived, and starts
 * the artifact server on the address it reaches the broker from, serving <site_dir>/artifacts.
 * Returns EML_OK; EML_EINVAL (bad URL); EML_EIO (broker unreachable: diag names it, or the
 * HTTP server cannot start); EML_ENOMEM. */
eml_status eml__mqtt_bus_open(const char *broker, const char *site, const char *site_dir,
                              eml__mqtt_bus **out, eml_diag *diag);
/* As eml__mqtt_bus_open, also to an "mqtts://host[:port]" broker (port default 8883) with the
 * PEM files tls_ca (NULL: the system's CAs), tls_cert + tls_key (NULL: none), all borrowed.
 * Also returns EML_EINVAL (a TLS file missing or unreadable, TLS files with mqtt://) and
 * EML_EIO "broker mqtts://...: TLS handshake failed: <reason>" when the broker's certificate
 * does not verify or the broker refuses ours. */
eml_status eml__mqtt_bus_open_tls(const char *broker, const char *tls_ca, const char *tls_cert,
                                  const char *tls_key, const char *site, const char *site_dir,
                                  eml__mqtt_bus **out, eml_diag *diag);
/* Disconnects, stops the threads, fails the commands in flight, frees the nodes. NULL: no-op. */
void eml__mqtt_bus_close(eml__mqtt_bus *bus);
/* The broker URL as given. */
const char *eml__mqtt_bus_url(const eml__mqtt_bus *bus);

/* Every node seen since open (statuses retained by the broker included): *out malloc'd, each
 * status_json owned by it (eml__mqtt_seen_free). Returns EML_OK, EML_ENOMEM. */
eml_status eml__mqtt_bus_seen(eml__mqtt_bus *bus, eml__mqtt_seen **out, size_t *count);
void eml__mqtt_seen_free(eml__mqtt_seen *seen, size_t count);

/* The connection to a node, whether seen or not (commands to a node never seen fail as
 * offline); valid until eml__mqtt_bus_close. Returns EML_OK, EML_ENOMEM. */
eml_status eml__mqtt_bus_node(eml__mqtt_bus *bus, const char *id, eml__node **out, eml_diag *diag);
/* 1 while the client is connected to the broker. */
int eml__mqtt_bus_connected(eml__mqtt_bus *bus);

#endif
