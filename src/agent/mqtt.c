/* The agent's MQTT front (docs/mqtt.md): connects to a broker with a will, takes commands from
 * edgeml/<site>/nodes/<node>/cmd, runs them through the one handler on worker threads and
 * publishes the replies (MQTT v5 request/response), and publishes the node's retained status. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "agent/agent.h"
#include "core/core.h"
#include "edgeml/edgeml.h"

#define MQTT_WORKERS 4     /* commands run at once; the rest wait in the queue */
#define MQTT_QUEUE_MAX 256 /* queued commands; beyond: refused with 503 */
#define MQTT_KEEPALIVE_S 30
#define ACKED_RING 16

typedef struct job {
    struct job *next;
    char *payload;
    size_t payload_bytes;
    char *response_topic; /* NULL: run, drop the reply */
    void *correlation;
    uint16_t correlation_bytes;
    double node_ms; /* the handler's time on the command (0: the handler never saw it) */
} job;

struct eml__mqtt {
    eml_agent *agent;
    struct mosquitto *mosq;
    char *url, *host, *site, *node_id;
    int port;
    uint32_t heartbeat_s;
    char status_topic[160], cmd_topic[160];

    pthread_mutex_t lock;
    pthread_cond_t wake;      /* workers: a job or stopping; heartbeat: a (re)connect */
    pthread_cond_t published; /* the offline status left */
    int connected, stopping, status_due;
    int started; /* eml__mqtt_start has returned m to the agent: its status may name the broker */
    int refused;           /* the broker said no in its CONNACK: libmosquitto gives up, we retry */
    int acked[ACKED_RING]; /* the last message ids the broker took (QoS 1) */
    unsigned n_acked;
    char last_error[512];
    job *head, *tail;
    size_t n_queued;
    pthread_t workers[MQTT_WORKERS], heartbeat;
    int n_workers, has_heartbeat, loop_started;
    int tls;             /* an mqtts:// broker */
    char tls_error[120]; /* the first TLS error libmosquitto logged since the last (dis)connect */
    eml__mqtt_tls tls_files; /* malloc'd copies, for error messages */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
    lib_rc = mosquitto_lib_init();
}

/* site and node ids: 1-64 of [A-Za-z0-9._-] (no MQTT wildcard or separator can slip in). */
static int valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* "mqtt://HOST[:PORT]" only (as before TLS came): an mqtts:// URL is refused here. */
eml_status eml__mqtt_parse_broker(const char *url, char *host, size_t host_cap, int *port,
                                  eml_diag *diag)
{
    int tls = 0;
    eml_status st = eml__mqtt_parse_broker_tls(url, host, host_cap, port, &tls, diag);
    if (st == EML_OK && tls)
        return eml__diag(diag, EML_EINVAL, "broker '%.200s': expected mqtt://HOST:PORT", url);
    return st;
}

/* "mqtt://HOST[:PORT]" (default port 1883) or "mqtts://HOST[:PORT]" (default 8883) → host and
 * port. */
eml_status eml__mqtt_parse_broker_tls(const char *url, char *host, size_t host_cap, int *port,
                                      int *tls, eml_diag *diag)
{
    const char *p = NULL;
    *tls = 0;
    if (url && strncmp(url, "mqtt://", 7) == 0) {
        p = url + 7;
    } else if (url && strncmp(url, "mqtts://", 8) == 0) {
        p = url + 8;
        *tls = 1;
    }
    if (!p)
        return eml__diag(diag, EML_EINVAL,
                         "broker '%.200s': expected mqtt://HOST:PORT or mqtts://HOST:PORT",
                         url ? url : "");
    const char *colon = strrchr(p, ':');
    size_t host_len = colon ? (size_t)(colon - p) : strlen(p);
    *port = *tls ? 8883 : 1883;
    if (colon) {
        char *end;
        errno = 0;
        long v = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || v < 1 || v > 65535)
            return eml__diag(diag, EML_EINVAL, "broker '%.200s': bad port", url);
        *port = (int)v;
    }
    if (host_len == 0 || host_len >= host_cap || memchr(p, '/', host_len) ||
        memchr(p, '@', host_len))
        return eml__diag(diag, EML_EINVAL, "broker '%.200s': bad host", url);
    memcpy(host, p, host_len);
    host[host_len] = '\0';
    return EML_OK;
}

static void set_error(eml__mqtt *m, const char *what, const char *why)
{
    pthread_mutex_lock(&m->lock);
    snprintf(m->last_error, sizeof(m->last_error), "%s: %s", what, why);
    pthread_mutex_unlock(&m->lock);
}

/* Publishes reply to a command's response topic: QoS 1, the command's correlation data, and the
 * user property http_status. */
static void publish_reply(eml__mqtt *m, const job *j, const char *reply, int http_status)
{
    if (!j->response_topic)
        return;
    mosquitto_property *props = NULL;
    char code[16];
    snprintf(code, sizeof(code), "%d", http_status);
    int rc =
        mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "http_status", code);
    if (rc == MOSQ_ERR_SUCCESS && j->correlation)
        rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, j->correlation,
                                           j->correlation_bytes);
    /* The node-side time of every reply (docs/mqtt.md): the manager reports it, not its own
     * round trip through the broker. */
    char node_ms[32];
    snprintf(node_ms, sizeof(node_ms), "%.3f", j->node_ms);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "node_ms",
                                                node_ms);
    size_t n = strlen(reply);
    if (rc == MOSQ_ERR_SUCCESS && n > MQTT_MAX_PAYLOAD)
        rc = MOSQ_ERR_PAYLOAD_SIZE;
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_publish_v5(m->mosq, NULL, j->response_topic, (int)n, reply, 1, false, props);
    if (rc != MOSQ_ERR_SUCCESS)
        set_error(m, "reply not published", mosquitto_strerror(rc));
    mosquitto_property_free_all(&props);
}

/* An error reply made here (the handler never saw the command): {"error", "status"}. */
static void publish_error(eml__mqtt *m, const job *j, int http_status, const char *status,
                          const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", message);
    cJSON_AddStringToObject(o, "status", status);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text)
        publish_reply(m, j, text, http_status);
    free(text);
}

static void job_free(job *j)
{
    if (!j)
        return;
    free(j->payload);
    free(j->response_topic);
    free(j->correlation);
    free(j);
}

static void *worker_main(void *arg)
{
    eml__mqtt *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        while (!m->head && !m->stopping)
            pthread_cond_wait(&m->wake, &m->lock);
        job *j = m->head;
        if (m->stopping)
            j = NULL; /* queued commands are dropped at shutdown; those running finish */
        if (j) {
            m->head = j->next;
            if (!m->head)
                m->tail = NULL;
            m->n_queued--;
        }
        pthread_mutex_unlock(&m->lock);
        if (!j)
            return NULL;
        char *reply = NULL;
        int code = 500;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        eml_status handled = eml_agent_command(m->agent, j->payload, j->payload_bytes, &reply,
                                               &code);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        j->node_ms =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (handled == EML_OK)
            publish_reply(m, j, reply, code);
        else
            publish_error(m, j, 500, "out_of_memory", "out of memory");
        free(reply);
        job_free(j);
    }
}

/* The network thread: copies the command and queues it (commands may run long: never here). */
static void on_message(struct mosquitto *mosq, void *user, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)mosq;
    eml__mqtt *m = user;
    if (strcmp(msg->topic, m->cmd_topic) != 0)
        return;
    job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &j->response_topic, false);
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &j->correlation,
                                   &j->correlation_bytes, false);
    size_t n = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    if (n > m->agent->o.max_body_bytes) {
        char why[128];
        snprintf(why, sizeof(why), "the command is %zu bytes, the limit %llu", n,
                 (unsigned long long)m->agent->o.max_body_bytes);
        publish_error(m, j, 413, "too_large", why);
        job_free(j);
        return;
    }
    j->payload = malloc(n + 1);
    if (!j->payload) {
        publish_error(m, j, 500, "out_of_memory", "out of memory");
        job_free(j);
        return;
    }
    if (n)
        memcpy(j->payload, msg->payload, n);
    j->payload[n] = 0;
    j->payload_bytes = n;
    pthread_mutex_lock(&m->lock);
    int full = m->n_queued >= MQTT_QUEUE_MAX || m->stopping;
    if (!full) {
        if (m->tail)
            m->tail->next = j;
        else
            m->head = j;
        m->tail = j;
        m->n_queued++;
        pthread_cond_broadcast(&m->wake);
    }
    pthread_mutex_unlock(&m->lock);
    if (full) {
        publish_error(m, j, 503, "unavailable", "too many MQTT commands queued");
        job_free(j);
    }
}

/* On every (re)connect: subscribe again (clean start drops the session) and have the heartbeat
 * thread publish the status now. */
static void on_connect(struct mosquitto *mosq, void *user, int rc, int flags,
                       const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    eml__mqtt *m = user;
    if (rc != 0) {
        pthread_mutex_lock(&m->lock);
        m->refused = 1;
        snprintf(m->last_error, sizeof(m->last_error), "broker refused the connection: %s",
                 mosquitto_reason_string(rc));
        pthread_cond_broadcast(&m->wake);
        pthread_mutex_unlock(&m->lock);
        return;
    }
    int sub = mosquitto_subscribe_v5(mosq, NULL, m->cmd_topic, 1, 0, NULL);
    pthread_mutex_lock(&m->lock);
    m->connected = 1;
    m->refused = 0;
    m->status_due = 1;
    m->tls_error[0] = 0;
    if (sub != MOSQ_ERR_SUCCESS)
        snprintf(m->last_error, sizeof(m->last_error), "subscribe: %s", mosquitto_strerror(sub));
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
}

/* Under m->lock: last_error for a failed TLS connection (reason "": the broker closed it). */
static void set_tls_error(eml__mqtt *m, const char *reason, const char *closed_why)
{
    char why[400];
    eml__mqtt_tls_explain(&m->tls_files, m->host, reason, closed_why, why, sizeof(why));
    snprintf(m->last_error, sizeof(m->last_error), "TLS handshake with the broker failed: %s", why);
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc,
                          const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    eml__mqtt *m = user;
    int err = errno;
    pthread_mutex_lock(&m->lock);
    int was_connected = m->connected;
    m->connected = 0;
    if (rc != 0 && !m->stopping && !m->refused) /* keep the refusal's reason */
        snprintf(m->last_error, sizeof(m->last_error), "connection lost: %s",
                 mosquitto_strerror(rc));
    /* libmosquitto's rc only says "a TLS error" or "Protocol error": the reason is what it
     * logged (on_log), or, when the broker dropped the connection before its CONNACK with no
     * alert, a hint at what the broker wanted. */
    int dropped = !was_connected &&
                  (rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_PROTOCOL ||
                   (rc == MOSQ_ERR_ERRNO && (err == EPROTO || err == ECONNRESET || err == EPIPE)));
    if (m->tls && !m->stopping && !m->refused && (m->tls_error[0] || dropped)) {
        errno = err;
        set_tls_error(m, m->tls_error, mosquitto_strerror(rc));
        m->tls_error[0] = 0;
    }
    pthread_mutex_unlock(&m->lock);
}

/* libmosquitto's log: a TLS error's reason (certificate verify failed, the broker wants a client
 * certificate, ...) is only said there; it becomes last_error. */
static void on_log(struct mosquitto *mosq, void *user, int level, const char *line)
{
    (void)mosq;
    eml__mqtt *m = user;
    char why[sizeof(m->tls_error)];
    if (level != MOSQ_LOG_ERR || !m->tls || !eml__mqtt_tls_log_reason(line, why, sizeof(why)))
        return;
    pthread_mutex_lock(&m->lock);
    if (!m->tls_error[0] && !m->connected) {
        snprintf(m->tls_error, sizeof(m->tls_error), "%s", why);
        set_tls_error(m, why, "");
    }
    pthread_mutex_unlock(&m->lock);
}

static void on_publish(struct mosquitto *mosq, void *user, int mid, int rc,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)rc;
    (void)props;
    eml__mqtt *m = user;
    pthread_mutex_lock(&m->lock);
    m->acked[m->n_acked++ % ACKED_RING] = mid;
    pthread_cond_broadcast(&m->published);
    pthread_mutex_unlock(&m->lock);
}

/* {"node", "online": true, "heartbeat_s", "ts", "agent", "status": <node.status>} */
static void publish_status(eml__mqtt *m)
{
    static const char cmd[] = "{\"op\":\"node.status\"}";
    char *text = NULL;
    int code = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", m->node_id);
    cJSON_AddBoolToObject(o, "online", 1);
    cJSON_AddNumberToObject(o, "heartbeat_s", m->heartbeat_s);
    cJSON_AddNumberToObject(o, "ts", (double)time(NULL));
    cJSON_AddStringToObject(o, "agent", "edgemld " EML_VERSION_STRING);
    if (eml_agent_command(m->agent, cmd, sizeof(cmd) - 1, &text, &code) == EML_OK) {
        cJSON *st = cJSON_Parse(text);
        if (st)
            cJSON_AddItemToObject(o, "status", st);
    }
    free(text);
    char *payload = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!payload)
        return;
    int rc = mosquitto_publish_v5(m->mosq, NULL, m->status_topic, (int)strlen(payload), payload, 1,
                                  true, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        set_error(m, "status not published", mosquitto_strerror(rc));
    free(payload);
}

/* The first connection: libmosquitto's network thread only retries a connection that once got
 * under way, and a broker that is down refuses at once (loopback). So until a connect starts,
 * it is retried here (1 s, doubling to 30 s) before the network thread starts. 1: started. */
static int first_connect(eml__mqtt *m)
{
    int rc = mosquitto_connect_async(m->mosq, m->host, m->port, MQTT_KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_error(m, "cannot connect",
                  rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        pthread_mutex_lock(&m->lock);
        if (m->tls_error[0]) { /* the reason libmosquitto logged (on_log) */
            set_tls_error(m, m->tls_error, "");
            m->tls_error[0] = 0;
        }
        pthread_mutex_unlock(&m->lock);
        return 0;
    }
    rc = mosquitto_loop_start(m->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_error(m, "cannot start the network thread", mosquitto_strerror(rc));
        return 0;
    }
    return 1;
}

/* Under m->lock: sleeps s seconds or until stopping. */
static void wait_s(eml__mqtt *m, int s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s;
    while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0) {
    }
}

/* Connects (first_connect), then publishes the status on each (re)connect and every
 * heartbeat_s seconds while connected. */
static void *heartbeat_main(void *arg)
{
    eml__mqtt *m = arg;
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    int retry_s = 1;
    pthread_mutex_lock(&m->lock);
    /* the first status must carry "broker", which the agent adds from its pointer to m */
    while (!m->started && !m->stopping)
        pthread_cond_wait(&m->wake, &m->lock);
    while (!m->stopping) {
        if (!m->loop_started) {
            pthread_mutex_unlock(&m->lock);
            int ok = first_connect(m);
            pthread_mutex_lock(&m->lock);
            m->loop_started = ok;
            if (!ok) {
                wait_s(m, retry_s);
                retry_s = retry_s * 2 > 30 ? 30 : retry_s * 2;
            }
            continue;
        }
        if (m->refused) {
            /* libmosquitto's network thread stops after a refusal: stop it and start over */
            wait_s(m, retry_s);
            retry_s = retry_s * 2 > 30 ? 30 : retry_s * 2;
            if (m->stopping)
                break;
            pthread_mutex_unlock(&m->lock);
            mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
            mosquitto_loop_stop(m->mosq, false);
            pthread_mutex_lock(&m->lock);
            m->loop_started = 0;
            continue;
        }
        if (m->connected)
            retry_s = 1;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int due = m->status_due ||
                  (m->connected && (now.tv_sec > next.tv_sec ||
                                    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)));
        if (due && m->connected) {
            m->status_due = 0;
            pthread_mutex_unlock(&m->lock);
            publish_status(m);
            pthread_mutex_lock(&m->lock);
            clock_gettime(CLOCK_REALTIME, &next);
            next.tv_sec += m->heartbeat_s;
            continue;
        }
        if (!m->connected)
            m->status_due = 0; /* the next connect sets it again */
        pthread_cond_timedwait(&m->wake, &m->lock, &next);
        if (!m->connected) {
            clock_gettime(CLOCK_REALTIME, &next);
            next.tv_sec += m->heartbeat_s;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static char *offline_payload(const eml__mqtt *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", m->node_id);
    cJSON_AddBoolToObject(o, "online", 0);
    cJSON_AddNumberToObject(o, "ts", 0);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

eml_status eml__mqtt_start(eml_agent *a, eml__mqtt **out, eml_diag *diag)
{
    *out = NULL;
    const eml_agent_options *o = &a->o;
    eml_status st;
    char host_buf[254], *host;
    int port = 0, tls = 0;
    eml__mqtt_tls tls_files = {o->tls_ca, o->tls_cert, o->tls_key};
    if ((st = eml__mqtt_parse_broker_tls(o->broker, host_buf, sizeof(host_buf), &port, &tls,
                                         diag)) != EML_OK ||
        (st = eml__mqtt_tls_check(o->broker, tls, &tls_files, diag)) != EML_OK)
        return st;
    if (!(host = strdup(host_buf)))
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    if (!valid_id(o->site) || !valid_id(o->node_id)) {
        free(host);
        return eml__diag(diag, EML_EINVAL,
                         "MQTT: --site and --node-id are required, "
                         "1-64 characters of [A-Za-z0-9._-]");
    }
    pthread_once(&lib_once, lib_init);
    if (lib_rc != MOSQ_ERR_SUCCESS) {
        free(host);
        return eml__diag(diag, EML_EIO, "MQTT library: %s", mosquitto_strerror(lib_rc));
    }
    eml__mqtt *m = calloc(1, sizeof(*m));
    if (!m) {
        free(host);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    m->agent = a;
    m->host = host;
    m->port = port;
    m->tls = tls;
    m->tls_files.ca_file = o->tls_ca ? strdup(o->tls_ca) : NULL;
    m->tls_files.cert_file = o->tls_cert ? strdup(o->tls_cert) : NULL;
    m->tls_files.key_file = o->tls_key ? strdup(o->tls_key) : NULL;
    m->heartbeat_s = o->heartbeat_s ? o->heartbeat_s : 5;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_cond_init(&m->published, NULL);
    snprintf(m->last_error, sizeof(m->last_error), "not connected yet");
    m->url = strdup(o->broker);
    m->site = strdup(o->site);
    m->node_id = strdup(o->node_id);
    st = EML_ENOMEM;
    if (!m->url || !m->site || !m->node_id) {
        eml__diag(diag, st, "out of memory");
        goto fail;
    }
    snprintf(m->status_topic, sizeof(m->status_topic), "edgeml/%s/nodes/%s/status", m->site,
             m->node_id);
    snprintf(m->cmd_topic, sizeof(m->cmd_topic), "edgeml/%s/nodes/%s/cmd", m->site, m->node_id);
    char client_id[160];
    snprintf(client_id, sizeof(client_id), "edgemld-%s-%s", m->site, m->node_id);
    m->mosq = mosquitto_new(client_id, true, m);
    if (!m->mosq) {
        eml__diag(diag, st, "MQTT: cannot create the client");
        goto fail;
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* Requests and replies are single messages waited for: Nagle's delay (against the peer's
     * delayed ACK) would add ~40 ms to each round trip (with a broker that sets TCP_NODELAY
     * too: mosquitto's set_tcp_nodelay, docs/fleet.md). */
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(m->mosq, on_message);
    mosquitto_publish_v5_callback_set(m->mosq, on_publish);
    mosquitto_reconnect_delay_set(m->mosq, 1, 30, true);
    if (tls) {
        mosquitto_log_callback_set(m->mosq, on_log);
        if ((o->tls_ca && !m->tls_files.ca_file) || (o->tls_cert && !m->tls_files.cert_file) ||
            (o->tls_key && !m->tls_files.key_file)) {
            eml__diag(diag, st, "out of memory");
            goto fail;
        }
        if ((st = eml__mqtt_tls_apply(m->mosq, m->url, &tls_files, diag)) != EML_OK)
            goto fail;
        st = EML_ENOMEM;
    }
    char *will = offline_payload(m);
    int rc = will ? mosquitto_will_set_v5(m->mosq, m->status_topic, (int)strlen(will), will, 1,
                                          true, NULL)
                  : MOSQ_ERR_NOMEM;
    free(will);
    if (rc != MOSQ_ERR_SUCCESS) {
        st = rc == MOSQ_ERR_NOMEM ? EML_ENOMEM : EML_EIO;
        eml__diag(diag, st, "MQTT will: %s", mosquitto_strerror(rc));
        goto fail;
    }
    for (; m->n_workers < MQTT_WORKERS; m->n_workers++)
        if (pthread_create(&m->workers[m->n_workers], NULL, worker_main, m) != 0) {
            eml__diag(diag, st, "MQTT: cannot start a worker thread");
            goto fail;
        }
    if (pthread_create(&m->heartbeat, NULL, heartbeat_main, m) != 0) {
        eml__diag(diag, st, "MQTT: cannot start the heartbeat thread");
        goto fail;
    }
    m->has_heartbeat = 1;
    /* The heartbeat thread connects (a broker that is down at boot is no error), once the agent
     * holds m: a status published before would lack the broker's state (a flaky test saw it). */
    *out = m;
    pthread_mutex_lock(&m->lock);
    m->started = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return EML_OK;
fail:
    eml__mqtt_stop(m);
    return st;
}

/* Under m->lock. */
static int was_acked(const eml__mqtt *m, int mid)
{
    for (unsigned i = 0; i < ACKED_RING && i < m->n_acked; i++)
        if (m->acked[i] == mid)
            return 1;
    return 0;
}

void eml__mqtt_stop(eml__mqtt *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < m->n_workers; i++)
        pthread_join(m->workers[i], NULL);
    if (m->has_heartbeat)
        pthread_join(m->heartbeat, NULL);
    while (m->head) {
        job *j = m->head;
        m->head = j->next;
        job_free(j);
    }
    if (m->mosq && m->loop_started) {
        /* The will is only for an unclean loss: say offline ourselves, wait (3 s at most) for
         * the broker to take it, then leave with a normal DISCONNECT. */
        pthread_mutex_lock(&m->lock);
        int connected = m->connected;
        pthread_mutex_unlock(&m->lock);
        char *off = connected ? offline_payload(m) : NULL;
        int mid = 0;
        if (off && mosquitto_publish_v5(m->mosq, &mid, m->status_topic, (int)strlen(off), off, 1,
                                        true, NULL) == MOSQ_ERR_SUCCESS) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 3;
            pthread_mutex_lock(&m->lock);
            while (!was_acked(m, mid) &&
                   pthread_cond_timedwait(&m->published, &m->lock, &until) == 0) {
            }
            pthread_mutex_unlock(&m->lock);
        }
        free(off);
        mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
        mosquitto_loop_stop(m->mosq, !connected);
    }
    mosquitto_destroy(m->mosq);
    pthread_cond_destroy(&m->published);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free((char *)m->tls_files.ca_file);
    free((char *)m->tls_files.cert_file);
    free((char *)m->tls_files.key_file);
    free(m->url);
    free(m->host);
    free(m->site);
    free(m->node_id);
    free(m);
}

void eml__mqtt_add_status(eml__mqtt *m, cJSON *status)
{
    if (!m || !status)
        return;
    cJSON *b = cJSON_AddObjectToObject(status, "broker");
    if (!b)
        return;
    pthread_mutex_lock(&m->lock);
    int connected = m->connected;
    char err[sizeof(m->last_error)];
    memcpy(err, m->last_error, sizeof(err));
    pthread_mutex_unlock(&m->lock);
    cJSON_AddStringToObject(b, "url", m->url);
    cJSON_AddStringToObject(b, "site", m->site);
    cJSON_AddStringToObject(b, "node_id", m->node_id);
    cJSON_AddBoolToObject(b, "connected", connected);
    cJSON_AddBoolToObject(b, "tls", m->tls);
    if (connected)
        cJSON_AddNullToObject(b, "last_error");
    else
        cJSON_AddStringToObject(b, "last_error", err);
}
