/* The HTTP front (libmicrohttpd): maps Open Inference Protocol and edgeml routes to handler
 * commands, enforces the body and concurrency limits, and writes replies (JSON, or JSON
 * followed by binary tensors). No model runs on these threads: infer waits on a batcher. */
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "agent/agent.h"
#include "core/core.h"

struct eml__http {
    eml_agent *agent;
    struct MHD_Daemon *daemon;
    uint16_t port;
    atomic_uint in_flight;
};

/* One request's upload, kept between the calls of the access handler. */
typedef struct conn {
    char *body;
    size_t n, cap;
    int too_large;
} conn;

#define MAX_SEGMENTS 8

/* Splits "/v2/models/m/versions/3/infer" into segments (copied into buf). */
static int split_path(const char *url, char *buf, size_t cap, char **seg)
{
    snprintf(buf, cap, "%s", url);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = tok;
    }
    return n;
}

static int is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* Queues a reply on the connection and counts it. Takes the reply's memory. */
static enum MHD_Result send_reply(eml__http *h, struct MHD_Connection *c, eml__reply *r)
{
    char *json = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
    size_t json_len = json ? strlen(json) : 0;
    char *body = NULL;
    size_t len = 0;
    const char *type = "application/json";
    if (r->text) {
        body = r->text;
        r->text = NULL;
        len = strlen(body);
        type = r->content_type ? r->content_type : "text/plain";
        free(json);
    } else if (json && r->binary_bytes) {
        body = malloc(json_len + r->binary_bytes);
        if (body) {
            memcpy(body, json, json_len);
            memcpy(body + json_len, r->binary, r->binary_bytes);
            len = json_len + r->binary_bytes;
        }
        free(json);
        type = "application/octet-stream";
    } else {
        body = json;
        len = json_len;
    }
    int code = r->http_status ? r->http_status : 500;
    enum MHD_ResponseMemoryMode mode = MHD_RESPMEM_MUST_FREE;
    if (!body) {
        static char oom[] = "{\"error\":\"out of memory\",\"status\":\"out_of_memory\"}";
        body = oom;
        len = strlen(oom);
        code = 503;
        mode = MHD_RESPMEM_PERSISTENT;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        eml__reply_free(r);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    if (r->binary_bytes && json_len) {
        char v[32];
        snprintf(v, sizeof(v), "%zu", json_len);
        MHD_add_response_header(resp, "Inference-Header-Content-Length", v);
    }
    char label[8];
    snprintf(label, sizeof(label), "%d", code);
    eml__metrics_add(h->agent->metrics, EML_METRIC_HTTP_REQUESTS, label, 1);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, resp);
    MHD_destroy_response(resp);
    eml__reply_free(r);
    return ret;
}

static enum MHD_Result send_error(eml__http *h, struct MHD_Connection *c, eml_status st,
                                  const char *fmt, ...) EML_PRINTF(4, 5);
static enum MHD_Result send_error(eml__http *h, struct MHD_Connection *c, eml_status st,
                                  const char *fmt, ...)
{
    eml_diag d;
    eml_diag_init(&d);
    d.status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d.message, sizeof(d.message), fmt, ap);
    va_end(ap);
    eml__reply r;
    memset(&r, 0, sizeof(r));
    eml__reply_error(&r, st, &d);
    return send_reply(h, c, &r);
}

/* Builds the command of a route. Returns the op name, or NULL when no route matches (404);
 * *method_ok is 0 when the path matches with another method (405). */
static const char *route(const char *method, int n, char **seg, const char **model,
                         const char **version, int *method_ok)
{
    int get = is(method, "GET"), post = is(method, "POST");
    *model = *version = NULL;
    *method_ok = 1;
    if (n == 1 && is(seg[0], "metrics"))
        return (*method_ok = get) ? "metrics" : "";
    if (n < 1 || !is(seg[0], "v2"))
        return NULL;
    if (n == 1)
        return (*method_ok = get) ? "server.metadata" : "";
    if (n == 3 && is(seg[1], "health") && (is(seg[2], "live") || is(seg[2], "ready")))
        return (*method_ok = get) ? (is(seg[2], "live") ? "health.live" : "health.ready") : "";
    if (is(seg[1], "models") && n >= 3) {
        *model = seg[2];
        int k = 3;
        if (n >= 5 && is(seg[3], "versions")) {
            *version = seg[4];
            k = 5;
        }
        if (n == k)
            return (*method_ok = get) ? "model.metadata" : "";
        if (n == k + 1 && is(seg[k], "ready"))
            return (*method_ok = get) ? "model.ready" : "";
        if (n == k + 1 && is(seg[k], "infer"))
            return (*method_ok = post) ? "model.infer" : "";
        return NULL;
    }
    if (is(seg[1], "repository")) {
        if (n == 3 && is(seg[2], "index"))
            return (*method_ok = post) ? "repository.index" : "";
        if (n == 5 && is(seg[2], "models") && (is(seg[4], "load") || is(seg[4], "unload"))) {
            *model = seg[3];
            return (*method_ok = post) ? (is(seg[4], "load") ? "model.load" : "model.unload")
                                       : "";
        }
        return NULL;
    }
    if (is(seg[1], "edgeml")) {
        const char *route_op = eml__route_http(method, n, seg, model, method_ok);
        if (route_op)
            return route_op;
        if (n == 3 && (is(seg[2], "node") || is(seg[2], "status")))
            return (*method_ok = get) ? "node.status" : "";
        if (n == 3 && is(seg[2], "command"))
            return (*method_ok = post) ? "" : "";
        if (n == 3 && is(seg[2], "models"))
            return (*method_ok = get) ? "model.versions" : "";
        if (n == 5 && is(seg[2], "models")) {
            *model = seg[3];
            if (is(seg[4], "versions"))
                return (*method_ok = get) ? "model.versions" : "";
            if (is(seg[4], "deploy"))
                return (*method_ok = post) ? "model.deploy" : "";
            if (is(seg[4], "rollback"))
                return (*method_ok = post) ? "model.rollback" : "";
            if (is(seg[4], "bench"))
                return (*method_ok = post) ? "model.bench" : "";
            if (is(seg[4], "drift"))
                return (*method_ok = get) ? "model.drift" : "";
        }
        if (n == 6 && is(seg[2], "models") && is(seg[4], "drift") && is(seg[5], "reset")) {
            *model = seg[3];
            return (*method_ok = post) ? "model.drift.reset" : "";
        }
        if (n == 7 && is(seg[2], "models") && is(seg[4], "versions") && is(seg[6], "bench")) {
            *model = seg[3];
            *version = seg[5];
            return (*method_ok = post) ? "model.bench" : "";
        }
    }
    return NULL;
}

/* Query arguments and headers a deploy upload may carry beside the bytes. */
static void add_arg(struct MHD_Connection *c, cJSON *cmd, const char *key, const char *header)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v)
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, header);
    if (v && !cJSON_GetObjectItemCaseSensitive(cmd, key))
        cJSON_AddStringToObject(cmd, key, v);
}

static enum MHD_Result handle(eml__http *h, struct MHD_Connection *c, const char *url,
                              const char *method, conn *cn)
{
    eml_agent *a = h->agent;
    char buf[1024];
    char *seg[MAX_SEGMENTS];
    int n = split_path(url, buf, sizeof(buf), seg);
    const char *model = NULL, *version = NULL;
    int method_ok = 1;
    const char *op = n < 0 ? NULL : route(method, n, seg, &model, &version, &method_ok);
    int raw_command = n == 3 && is(seg[1], "edgeml") && is(seg[2], "command");
    if (!op)
        return send_error(h, c, EML_ENOTFOUND, "no route for %s %.200s", method, url);
    if (!method_ok)
        return send_error(h, c, EML__EMETHOD, "%s is not allowed on %.200s", method, url);
    if (raw_command && !is(method, "POST"))
        return send_error(h, c, EML__EMETHOD, "%s is not allowed on %.200s", method, url);
    if (is(op, "server.metadata")) {
        eml__reply r = {200, cJSON_CreateObject(), NULL, NULL, NULL, 0};
        if (r.json) {
            cJSON_AddStringToObject(r.json, "name", "edgemld");
            cJSON_AddStringToObject(r.json, "version", "0.1.0");
            cJSON *ext = cJSON_AddArrayToObject(r.json, "extensions");
            cJSON_AddItemToArray(ext, cJSON_CreateString("binary_tensor_data"));
            cJSON_AddItemToArray(ext, cJSON_CreateString("model_repository"));
        }
        return send_reply(h, c, &r);
    }

    /* The body: JSON, or for infer a JSON header followed by binary tensors, or for a deploy
     * upload the model's bytes. */
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *hlen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   "Inference-Header-Content-Length");
    size_t json_len = cn->n;
    const uint8_t *binary = NULL;
    size_t binary_bytes = 0;
    int upload = is(op, "model.deploy") && type &&
                 strncmp(type, "application/octet-stream", 24) == 0;
    if (upload) {
        json_len = 0;
        binary = (const uint8_t *)cn->body;
        binary_bytes = cn->n;
    } else if (hlen && is(op, "model.infer")) {
        char *end;
        unsigned long long k = strtoull(hlen, &end, 10);
        if (*end || k > cn->n)
            return send_error(h, c, EML_EINVAL,
                              "Inference-Header-Content-Length %.32s does not fit the %zu-byte "
                              "body", hlen, cn->n);
        json_len = (size_t)k;
        binary = (const uint8_t *)cn->body + k;
        binary_bytes = cn->n - k;
    }
    cJSON *body = NULL;
    if (json_len) {
        body = cJSON_ParseWithLength(cn->body, json_len);
        if (!body || !cJSON_IsObject(body)) {
            cJSON_Delete(body);
            return send_error(h, c, EML_EINVAL, "the request body is not a JSON object");
        }
    } else if (is(op, "model.infer") || raw_command) {
        return send_error(h, c, EML_EINVAL, "the request needs a JSON body");
    }
    cJSON *cmd;
    if (raw_command) {
        cmd = body;
    } else if (is(op, "model.infer")) {
        cmd = cJSON_CreateObject();
        if (cmd)
            cJSON_AddItemToObject(cmd, "request", body);
        else
            cJSON_Delete(body);
    } else {
        cmd = body ? body : cJSON_CreateObject();
    }
    if (!cmd)
        return send_error(h, c, EML_ENOMEM, "out of memory");
    if (!raw_command) {
        cJSON_DeleteItemFromObjectCaseSensitive(cmd, "op");
        cJSON_AddStringToObject(cmd, "op", op);
        if (model) {
            cJSON_DeleteItemFromObjectCaseSensitive(cmd, "model");
            cJSON_AddStringToObject(cmd, "model", model);
        }
        if (version) {
            cJSON_DeleteItemFromObjectCaseSensitive(cmd, "version");
            cJSON_AddStringToObject(cmd, "version", version);
        }
        if (upload) {
            add_arg(c, cmd, "sha256", "X-Edgeml-Sha256");
            add_arg(c, cmd, "signature", "X-Edgeml-Signature");
            add_arg(c, cmd, "config", "X-Edgeml-Config");
        }
    }
    eml__request req = {cmd, binary, binary_bytes};
    eml__reply r;
    eml__agent_handle(a, &req, &r);
    cJSON_Delete(cmd);
    return send_reply(h, c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    eml__http *h = cls;
    /* A deploy's body is the model: its own limit. */
    size_t url_len = strlen(url);
    int deploy = url_len >= 7 && strcmp(url + url_len - 7, "/deploy") == 0;
    uint64_t max = deploy ? EML_MAX(h->agent->o.max_model_bytes, h->agent->o.max_body_bytes)
                          : h->agent->o.max_body_bytes;
    conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof(*cn));
        if (!cn)
            return MHD_NO;
        *con_cls = cn;
        /* A declared length over the limit is refused before reading the body. */
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (len && strtoull(len, NULL, 10) > max) {
            cn->too_large = 1;
            return send_error(h, c, EML__ETOOLARGE, "the body is %.24s bytes, the limit %llu",
                              len, (unsigned long long)max);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t k = *upload_data_size;
        *upload_data_size = 0;
        if (cn->too_large || cn->n + k > max) {
            cn->too_large = 1;
            free(cn->body);
            cn->body = NULL;
            cn->n = cn->cap = 0;
            return MHD_YES;
        }
        if (cn->n + k + 1 > cn->cap) {
            size_t cap = EML_MAX(cn->cap * 2, cn->n + k + 1);
            char *p = realloc(cn->body, cap);
            if (!p)
                return MHD_NO;
            cn->body = p;
            cn->cap = cap;
        }
        memcpy(cn->body + cn->n, upload_data, k);
        cn->n += k;
        return MHD_YES;
    }
    if (cn->too_large)
        return send_error(h, c, EML__ETOOLARGE, "the body is over the limit of %llu bytes",
                          (unsigned long long)max);
    unsigned busy = atomic_fetch_add(&h->in_flight, 1);
    enum MHD_Result ret;
    if (busy >= h->agent->o.max_concurrent)
        ret = send_error(h, c, EML__EBUSY, "%u requests in progress: the limit", busy);
    else
        ret = handle(h, c, url, method, cn);
    atomic_fetch_sub(&h->in_flight, 1);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn *cn = *con_cls;
    if (cn) {
        free(cn->body);
        free(cn);
        *con_cls = NULL;
    }
}

eml_status eml__http_start(eml_agent *a, const char *listen, eml__http **out, eml_diag *diag)
{
    *out = NULL;
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host) || !colon[1])
        return eml__diag(diag, EML_EINVAL, "--listen '%.200s': expected HOST:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0)
        return eml__diag(diag, EML_EINVAL, "--listen '%.200s': %s", listen, gai_strerror(gai));
    eml__http *h = calloc(1, sizeof(*h));
    if (!h) {
        freeaddrinfo(ai);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    h->agent = a;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Connections beyond max_concurrent are accepted and answered 503 by on_request; the
     * socket limit only stops a flood. */
    unsigned limit = a->o.max_concurrent * 2 + 16;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, limit,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        free(h);
        return eml__diag(diag, EML_EIO, "cannot listen on %.200s (address in use?)", listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return EML_OK;
}

void eml__http_stop(eml__http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

uint16_t eml__http_port(const eml__http *h)
{
    return h->port;
}
