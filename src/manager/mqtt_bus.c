/* The manager's MQTT connection to a site's broker: one libmosquitto client (MQTT v5, its own
 * network thread) that keeps the last status of every node and matches command replies to the
 * callers waiting for them by correlation data. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "agent/agent.h"
#include "core/core.h"
#include "manager/mqtt_bus.h"
#include "manager/mqtt_internal.h"

/* A caller waiting for a reply. */
typedef struct pending {
    struct pending *next;
    char corr[96];
    int done, lost;
    char *reply;
    int http_status;
    double node_ms; /* the reply's node_ms user property; -1 when it had none */
} pending;

struct eml__mqtt_bus {
    struct mosquitto *mosq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int loop_started;
    char url[256], host[200];
    int port;
    char site[EML_MANAGER_MAX_ID + 1];
    char client_id[64];
    char status_sub[160], reply_topic[200];
    int connected, synced;
    uint64_t next_corr;
    eml__mqtt_seen *seen; /* under mu */
    size_t n_seen, cap_seen;
    pending *waiting; /* under mu */
    eml__node **nodes;
    size_t n_nodes;
    eml__artifact_http *http;
    char artifact_base[128]; /* http://host:port */
    char site_dir[2048];     /* the site's folder (artifacts/ holds what nodes fetch) */
    int tls;                 /* an mqtts:// broker */
    char tls_error[160];     /* under mu: the first TLS error libmosquitto logged (on_log) */
    char tls_closed[96];     /* under mu: why a TLS connection closed before its CONNACK */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

const char *eml__mqtt_bus_url(const eml__mqtt_bus *bus)
{
    return bus->url;
}

const char *eml__mqtt_bus_artifact_base(const eml__mqtt_bus *bus)
{
    return bus->artifact_base;
}

const char *eml__mqtt_bus_site_dir(const eml__mqtt_bus *bus)
{
    return bus->site_dir;
}

int eml__mqtt_bus_connected(eml__mqtt_bus *bus)
{
    pthread_mutex_lock(&bus->mu);
    int c = bus->connected;
    pthread_mutex_unlock(&bus->mu);
    return c;
}

/* Subscribes (again, after a reconnect: the session is clean) and sends the marker that tells
 * the opener the retained statuses have arrived: the broker handles this client's packets in
 * order, so the marker comes back after the statuses retained for the subscription. */
static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    eml__mqtt_bus *bus = obj;
    if (rc != 0)
        return;
    mosquitto_subscribe_v5(mosq, NULL, bus->status_sub, 1, 0, NULL);
    mosquitto_subscribe_v5(mosq, NULL, bus->reply_topic, 1, 0, NULL);
    mosquitto_property *p = NULL;
    mosquitto_property_add_binary(&p, MQTT_PROP_CORRELATION_DATA, "sync", 4);
    mosquitto_publish_v5(mosq, NULL, bus->reply_topic, 2, "{}", 1, false, p);
    mosquitto_property_free_all(&p);
    pthread_mutex_lock(&bus->mu);
    bus->connected = 1;
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

/* Commands in flight cannot get their reply any more: the reply topic's messages are lost with
 * the clean session. */
static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    (void)mosq;
    (void)rc;
    (void)props;
    eml__mqtt_bus *bus = obj;
    int err = errno;
    pthread_mutex_lock(&bus->mu);
    /* A TLS broker that drops the connection before its CONNACK (a client certificate it does
     * not take, often with no alert): the opener stops waiting for its sync (open). */
    if (bus->tls && !bus->connected && !bus->synced && rc != 0 && !bus->tls_closed[0]) {
        errno = err;
        snprintf(bus->tls_closed, sizeof(bus->tls_closed), "%s", mosquitto_strerror(rc));
    }
    bus->connected = 0;
    for (pending *p = bus->waiting; p; p = p->next)
        p->lost = 1;
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

static void on_reply(eml__mqtt_bus *bus, const struct mosquitto_message *msg,
                     const mosquitto_property *props)
{
    void *corr = NULL;
    uint16_t corr_len = 0;
    if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false))
        return;
    int code = 200;
    double node_ms = -1;
    char *name = NULL, *value = NULL;
    const mosquitto_property *it =
        mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &name, &value, false);
    while (it) {
        if (name && value && strcmp(name, "http_status") == 0)
            code = atoi(value);
        if (name && value && strcmp(name, "node_ms") == 0) {
            char *end;
            double v = strtod(value, &end);
            if (end != value && !*end && v >= 0 && v < 1e12)
                node_ms = v;
        }
        free(name);
        free(value);
        name = value = NULL;
        it = mosquitto_property_read_string_pair(it, MQTT_PROP_USER_PROPERTY, &name, &value, true);
    }
    pthread_mutex_lock(&bus->mu);
    if (corr_len == 4 && memcmp(corr, "sync", 4) == 0) {
        bus->synced = 1;
    } else {
        for (pending *p = bus->waiting; p; p = p->next) {
            if (p->done || strlen(p->corr) != corr_len || memcmp(p->corr, corr, corr_len) != 0)
                continue;
            p->reply = malloc((size_t)msg->payloadlen + 1);
            if (p->reply) {
                memcpy(p->reply, msg->payload, (size_t)msg->payloadlen);
                p->reply[msg->payloadlen] = 0;
            }
            p->http_status = code;
            p->node_ms = node_ms;
            p->done = 1;
        }
    }
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    free(corr);
}

/* edgeml/<site>/nodes/<id>/status: keeps what it says (an empty payload clears the node). */
static void on_status(eml__mqtt_bus *bus, const char *id, const struct mosquitto_message *msg)
{
    cJSON *j =
        msg->payloadlen > 0 ? cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen) : NULL;
    const cJSON *online = cJSON_GetObjectItemCaseSensitive(j, "online");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(j, "heartbeat_s");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
    char *status_json = cJSON_IsObject(status) ? cJSON_PrintUnformatted(status) : NULL;
    pthread_mutex_lock(&bus->mu);
    eml__mqtt_seen *s = NULL;
    for (size_t i = 0; i < bus->n_seen; i++)
        if (strcmp(bus->seen[i].id, id) == 0)
            s = &bus->seen[i];
    if (!s && bus->n_seen == bus->cap_seen) {
        size_t cap = bus->cap_seen ? 2 * bus->cap_seen : 16;
        eml__mqtt_seen *grown = realloc(bus->seen, cap * sizeof(*grown));
        if (grown) {
            bus->seen = grown;
            bus->cap_seen = cap;
        }
    }
    if (!s && bus->n_seen < bus->cap_seen) {
        s = &bus->seen[bus->n_seen++];
        memset(s, 0, sizeof(*s));
        snprintf(s->id, sizeof(s->id), "%s", id);
    }
    if (s) {
        s->online = cJSON_IsTrue(online);
        s->ts = cJSON_IsNumber(ts) ? (int64_t)ts->valuedouble : 0;
        if (cJSON_IsNumber(hb) && hb->valuedouble >= 1 && hb->valuedouble <= 86400)
            s->heartbeat_s = (uint32_t)hb->valuedouble;
        if (status_json) {
            free(s->status_json);
            s->status_json = status_json;
            status_json = NULL;
        }
    }
    pthread_cond_broadcast(&bus->cv); /* a command waiting for this node may give up */
    pthread_mutex_unlock(&bus->mu);
    free(status_json);
    cJSON_Delete(j);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)mosq;
    eml__mqtt_bus *bus = obj;
    if (strcmp(msg->topic, bus->reply_topic) == 0) {
        on_reply(bus, msg, props);
        return;
    }
    /* The status subscription's topics: <prefix><id>/status. */
    size_t pre = strlen(bus->status_sub) - strlen("+/status");
    if (strncmp(msg->topic, bus->status_sub, pre) != 0)
        return;
    const char *id = msg->topic + pre;
    const char *slash = strchr(id, '/');
    char buf[EML_MANAGER_MAX_ID + 1];
    if (!slash || strcmp(slash, "/status") != 0 || (size_t)(slash - id) > EML_MANAGER_MAX_ID)
        return;
    memcpy(buf, id, (size_t)(slash - id));
    buf[slash - id] = 0;
    if (!eml__manager_name_ok(buf))
        return;
    on_status(bus, buf, msg);
}

static eml_status parse_url(eml__mqtt_bus *bus, const char *url, eml_diag *diag)
{
    if ((size_t)snprintf(bus->url, sizeof(bus->url), "%s", url) >= sizeof(bus->url))
        return eml__diag(diag, EML_EINVAL, "broker '%.200s': expected mqtt://HOST:PORT", url);
    return eml__mqtt_parse_broker_tls(url, bus->host, sizeof(bus->host), &bus->port, &bus->tls,
                                      diag);
}

/* libmosquitto's log: the reason a TLS handshake failed is only said there (its error codes
 * say "a TLS error occurred"). */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *line)
{
    (void)mosq;
    eml__mqtt_bus *bus = obj;
    char why[sizeof(bus->tls_error)];
    if (level != MOSQ_LOG_ERR || !bus->tls || !eml__mqtt_tls_log_reason(line, why, sizeof(why)))
        return;
    pthread_mutex_lock(&bus->mu);
    if (!bus->tls_error[0])
        snprintf(bus->tls_error, sizeof(bus->tls_error), "%s", why);
    pthread_cond_broadcast(&bus->cv); /* the opener waiting for its sync gives up */
    pthread_mutex_unlock(&bus->mu);
}

eml_status eml__mqtt_bus_open(const char *broker, const char *site, const char *site_dir,
                              eml__mqtt_bus **out, eml_diag *diag)
{
    return eml__mqtt_bus_open_tls(broker, NULL, NULL, NULL, site, site_dir, out, diag);
}

eml_status eml__mqtt_bus_open_tls(const char *broker, const char *tls_ca, const char *tls_cert,
                                  const char *tls_key, const char *site, const char *site_dir,
                                  eml__mqtt_bus **out, eml_diag *diag)
{
    *out = NULL;
    pthread_once(&lib_once, lib_init);
    eml__mqtt_bus *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    pthread_mutex_init(&bus->mu, NULL);
    pthread_cond_init(&bus->cv, NULL);
    eml_status st = parse_url(bus, broker, diag);
    eml__mqtt_tls tls_files = {tls_ca, tls_cert, tls_key};
    if (st == EML_OK)
        st = eml__mqtt_tls_check(bus->url, bus->tls, &tls_files, diag);
    if (st != EML_OK)
        goto fail;
    snprintf(bus->site, sizeof(bus->site), "%s", site);
    snprintf(bus->site_dir, sizeof(bus->site_dir), "%s", site_dir);
    uint8_t rnd[6];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t mix = (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)bus;
    for (int i = 0; i < 6; i++)
        rnd[i] = (uint8_t)(mix >> (8 * i));
    snprintf(bus->client_id, sizeof(bus->client_id), "edgeml-mgr-%d-%02x%02x%02x%02x%02x%02x",
             (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    snprintf(bus->status_sub, sizeof(bus->status_sub), "edgeml/%s/nodes/+/status", site);
    snprintf(bus->reply_topic, sizeof(bus->reply_topic), "edgeml/%s/manager/%s/reply", site,
             bus->client_id);
    bus->mosq = mosquitto_new(bus->client_id, true, bus);
    if (!bus->mosq) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory (MQTT client)");
        goto fail;
    }
    mosquitto_int_option(bus->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* Requests and replies are single messages waited for: Nagle's delay (against the peer's
     * delayed ACK) would add ~40 ms to each round trip (with a broker that sets TCP_NODELAY
     * too: mosquitto's set_tcp_nodelay, docs/fleet.md). */
    mosquitto_int_option(bus->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(bus->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(bus->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(bus->mosq, on_message);
    mosquitto_reconnect_delay_set(bus->mosq, 1, 2, false);
    if (bus->tls) {
        mosquitto_log_callback_set(bus->mosq, on_log);
        if ((st = eml__mqtt_tls_apply(bus->mosq, bus->url, &tls_files, diag)) != EML_OK)
            goto fail;
    }
    int rc = mosquitto_connect(bus->mosq, bus->host, bus->port, 10);
    int err = errno;
    /* The TLS reason is what libmosquitto logged (on_log); a broker that drops the connection
     * with no alert (it wanted a client certificate, most often) only gives "Protocol error". */
    if (rc != MOSQ_ERR_SUCCESS && bus->tls &&
        (bus->tls_error[0] || rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_CONN_LOST ||
         rc == MOSQ_ERR_PROTOCOL ||
         (rc == MOSQ_ERR_ERRNO && (err == EPROTO || err == ECONNRESET || err == EPIPE)))) {
        char why[400];
        errno = err;
        eml__mqtt_tls_explain(&tls_files, bus->host, bus->tls_error, mosquitto_strerror(rc), why,
                              sizeof(why));
        st = eml__diag(diag, EML_EIO, "broker %s: TLS handshake failed: %s", bus->url, why);
        goto fail;
    }
    errno = err;
    if (rc != MOSQ_ERR_SUCCESS) {
        st = eml__diag(diag, EML_EIO, "cannot reach broker %s: %s", bus->url,
                       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        goto fail;
    }
    /* The address this host reaches the broker from is the one nodes of the broker can reach
     * back, most likely: the artifact server listens there. */
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    if (getsockname(mosquitto_socket(bus->mosq), (struct sockaddr *)&local, &local_len) != 0) {
        st = eml__diag(diag, EML_EIO, "broker %s: getsockname: %s", bus->url, strerror(errno));
        goto fail;
    }
    rc = mosquitto_loop_start(bus->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        st = eml__diag(diag, EML_EIO, "broker %s: %s", bus->url, mosquitto_strerror(rc));
        goto fail;
    }
    bus->loop_started = 1;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&bus->mu);
    while (!bus->synced && !bus->tls_error[0] && !bus->tls_closed[0] &&
           pthread_cond_timedwait(&bus->cv, &bus->mu, &deadline) == 0)
        ;
    int synced = bus->synced;
    char tls_error[sizeof(bus->tls_error)], tls_closed[sizeof(bus->tls_closed)];
    memcpy(tls_error, bus->tls_error, sizeof(tls_error));
    memcpy(tls_closed, bus->tls_closed, sizeof(tls_closed));
    pthread_mutex_unlock(&bus->mu);
    if (!synced && (tls_error[0] || tls_closed[0])) {
        char why[400];
        eml__mqtt_tls_explain(&tls_files, bus->host, tls_error, tls_closed, why, sizeof(why));
        st = eml__diag(diag, EML_EIO, "broker %s: TLS handshake failed: %s", bus->url, why);
        goto fail;
    }
    if (!synced) {
        st = eml__diag(diag, EML_EIO,
                       "broker %s: no answer within 10 s (is it an MQTT v5 broker that allows "
                       "this client?)",
                       bus->url);
        goto fail;
    }
    st = eml__artifact_http_start(site_dir, (const struct sockaddr *)&local, &bus->http,
                                  bus->artifact_base, sizeof(bus->artifact_base), diag);
    if (st != EML_OK)
        goto fail;
    *out = bus;
    return EML_OK;
fail:
    eml__mqtt_bus_close(bus);
    return st;
}

void eml__mqtt_bus_close(eml__mqtt_bus *bus)
{
    if (!bus)
        return;
    if (bus->mosq) {
        mosquitto_disconnect(bus->mosq);
        if (bus->loop_started)
            mosquitto_loop_stop(bus->mosq, false);
        mosquitto_destroy(bus->mosq);
    }
    eml__artifact_http_stop(bus->http);
    for (size_t i = 0; i < bus->n_nodes; i++)
        free(bus->nodes[i]);
    free(bus->nodes);
    eml__mqtt_seen_free(bus->seen, bus->n_seen);
    pthread_cond_destroy(&bus->cv);
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

/* ---- node statuses ---- */

static int fresh(const eml__mqtt_seen *s, int64_t now)
{
    uint32_t hb = s->heartbeat_s ? s->heartbeat_s : 5;
    return s->online && s->ts > 0 && now - s->ts <= 3 * (int64_t)hb;
}

eml_status eml__mqtt_bus_seen(eml__mqtt_bus *bus, eml__mqtt_seen **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    int64_t now = (int64_t)time(NULL);
    eml_status st = EML_OK;
    pthread_mutex_lock(&bus->mu);
    size_t n = bus->n_seen;
    eml__mqtt_seen *copy = calloc(n ? n : 1, sizeof(*copy));
    if (!copy)
        st = EML_ENOMEM;
    for (size_t i = 0; copy && i < n; i++) {
        copy[i] = bus->seen[i];
        copy[i].online = fresh(&bus->seen[i], now);
        copy[i].status_json = NULL;
        if (bus->seen[i].status_json && !(copy[i].status_json = strdup(bus->seen[i].status_json)))
            st = EML_ENOMEM;
    }
    pthread_mutex_unlock(&bus->mu);
    if (st != EML_OK) {
        eml__mqtt_seen_free(copy, n);
        return st;
    }
    *out = copy;
    *count = n;
    return EML_OK;
}

void eml__mqtt_seen_free(eml__mqtt_seen *seen, size_t count)
{
    for (size_t i = 0; seen && i < count; i++)
        free(seen[i].status_json);
    free(seen);
}

static int online_locked(eml__mqtt_bus *bus, const char *id, int64_t now)
{
    for (size_t i = 0; i < bus->n_seen; i++)
        if (strcmp(bus->seen[i].id, id) == 0)
            return bus->connected && fresh(&bus->seen[i], now);
    return 0;
}

int eml__mqtt_bus_online(eml__mqtt_bus *bus, const char *id)
{
    pthread_mutex_lock(&bus->mu);
    int on = online_locked(bus, id, (int64_t)time(NULL));
    pthread_mutex_unlock(&bus->mu);
    return on;
}

eml_status eml__mqtt_bus_node(eml__mqtt_bus *bus, const char *id, eml__node **out, eml_diag *diag)
{
    *out = NULL;
    for (size_t i = 0; i < bus->n_nodes; i++)
        if (strcmp(bus->nodes[i]->id, id) == 0) {
            *out = bus->nodes[i];
            return EML_OK;
        }
    eml__node **grown = realloc(bus->nodes, (bus->n_nodes + 1) * sizeof(*grown));
    if (!grown)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    bus->nodes = grown;
    eml_status st = eml__node_mqtt_create(bus, id, &bus->nodes[bus->n_nodes], diag);
    if (st != EML_OK)
        return st;
    *out = bus->nodes[bus->n_nodes++];
    return EML_OK;
}

/* ---- commands ---- */

static void unlink_pending(eml__mqtt_bus *bus, pending *p)
{
    for (pending **pp = &bus->waiting; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

eml_status eml__mqtt_bus_request(eml__mqtt_bus *bus, const char *id, const char *json,
                                 uint64_t timeout_ms, char **reply, int *http_status,
                                 eml_diag *diag)
{
    return eml__mqtt_bus_request_timed(bus, id, json, timeout_ms, reply, http_status, NULL, diag);
}

eml_status eml__mqtt_bus_request_timed(eml__mqtt_bus *bus, const char *id, const char *json,
                                       uint64_t timeout_ms, char **reply, int *http_status,
                                       double *node_ms, eml_diag *diag)
{
    *reply = NULL;
    if (node_ms)
        *node_ms = -1;
    pending p;
    memset(&p, 0, sizeof(p));
    char topic[256];
    snprintf(topic, sizeof(topic), "edgeml/%s/nodes/%s/cmd", bus->site, id);
    pthread_mutex_lock(&bus->mu);
    if (!bus->connected) {
        pthread_mutex_unlock(&bus->mu);
        return eml__diag(diag, EML_EIO, "node '%s': broker %s is unreachable (not connected)", id,
                         bus->url);
    }
    snprintf(p.corr, sizeof(p.corr), "%s-%llu", bus->client_id,
             (unsigned long long)++bus->next_corr);
    p.next = bus->waiting;
    bus->waiting = &p;
    pthread_mutex_unlock(&bus->mu);

    mosquitto_property *props = NULL;
    int rc = mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, bus->reply_topic);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, p.corr,
                                           (uint16_t)strlen(p.corr));
    size_t len = strlen(json);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = len > 256u * 1024 * 1024
                 ? MOSQ_ERR_PAYLOAD_SIZE
                 : mosquitto_publish_v5(bus->mosq, NULL, topic, (int)len, json, 1, false, props);
    mosquitto_property_free_all(&props);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* Woken by the reply, a lost connection, or each quarter second to see whether the node went
     * offline meanwhile (its will, or no heartbeat): then waiting on is pointless. */
    int gone = 0;
    pthread_mutex_lock(&bus->mu);
    while (rc == MOSQ_ERR_SUCCESS && !p.done && !p.lost) {
        struct timespec tick;
        clock_gettime(CLOCK_REALTIME, &tick);
        tick.tv_nsec += 250000000L;
        if (tick.tv_nsec >= 1000000000L) {
            tick.tv_sec++;
            tick.tv_nsec -= 1000000000L;
        }
        int last = tick.tv_sec > deadline.tv_sec ||
                   (tick.tv_sec == deadline.tv_sec && tick.tv_nsec >= deadline.tv_nsec);
        int wr = pthread_cond_timedwait(&bus->cv, &bus->mu, last ? &deadline : &tick);
        if (p.done || p.lost)
            break;
        if (!online_locked(bus, id, (int64_t)time(NULL))) {
            gone = 1;
            break;
        }
        if (wr != 0 && last)
            break;
    }
    unlink_pending(bus, &p);
    pthread_mutex_unlock(&bus->mu);
    if (rc != MOSQ_ERR_SUCCESS) {
        free(p.reply);
        return eml__diag(diag, EML_EIO, "node '%s': cannot send the command to broker %s: %s", id,
                         bus->url, mosquitto_strerror(rc));
    }
    if (p.done) {
        if (!p.reply)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        *reply = p.reply;
        *http_status = p.http_status;
        if (node_ms)
            *node_ms = p.node_ms;
        return EML_OK;
    }
    if (gone)
        return eml__diag(diag, EML_EIO, "node '%s' went offline before its reply (broker %s)", id,
                         bus->url);
    if (p.lost)
        return eml__diag(diag, EML_EIO,
                         "node '%s': the connection to broker %s was lost before the reply", id,
                         bus->url);
    return eml__diag(diag, EML_EIO, "node '%s': no reply within %llu s (broker %s)", id,
                     (unsigned long long)((timeout_ms + 999) / 1000), bus->url);
}
