/* The one command handler: a JSON command in, a JSON reply out, for every front (HTTP, later
 * MQTT). Health, repository index, load/unload, node status and metrics live here; inference,
 * metadata and deploys in handler_infer.c and handler_deploy.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeml/edgeml.h"
#include "agent/agent.h"
#include "core/core.h"
#include "serve/node_status.h"

/* The one table from statuses to HTTP codes (and the names errors carry). */
static const struct {
    eml_status status;
    int http;
    const char *name;
} status_table[] = {
    {EML_OK, 200, "ok"},
    {EML_EINVAL, 400, "invalid_argument"},
    {EML_ENOMEM, 503, "out_of_memory"},
    {EML_EIO, 500, "io_error"},
    {EML_ECORRUPT, 400, "corrupt"},
    {EML_EUNSUPPORTED, 400, "unsupported"},
    {EML_ESHAPE, 400, "shape_mismatch"},
    {EML_ETYPE, 400, "type_mismatch"},
    {EML_EGRAPH, 400, "invalid_graph"},
    {EML_ELIMIT, 503, "limit_exceeded"},
    {EML_ERANGE, 400, "out_of_range"},
    {EML_ENOTFOUND, 404, "not_found"},
    {EML_EDYNAMIC, 500, "dynamic"},
    {EML_EINTERNAL, 500, "internal"},
    {EML__EBUSY, 503, "busy"},
    {EML__ETIMEOUT, 504, "deadline_exceeded"},
    {EML__EUNAVAILABLE, 503, "unavailable"},
    {EML__ETOOLARGE, 413, "too_large"},
    {EML__EMETHOD, 405, "method_not_allowed"},
};
#define N_STATUS (sizeof(status_table) / sizeof(status_table[0]))

int eml__http_code(eml_status st)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (status_table[i].status == st)
            return status_table[i].http;
    return 500;
}

static const char *status_name(eml_status st)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (status_table[i].status == st)
            return status_table[i].name;
    return "internal";
}

void eml__reply_free(eml__reply *r)
{
    cJSON_Delete(r->json);
    free(r->text);
    free(r->binary);
    memset(r, 0, sizeof(*r));
}

void eml__reply_error(eml__reply *r, eml_status st, const eml_diag *diag)
{
    eml__reply_free(r);
    r->http_status = eml__http_code(st);
    r->json = cJSON_CreateObject();
    if (!r->json)
        return;
    const char *msg = diag && diag->message[0] ? diag->message : eml_status_str(st);
    cJSON_AddStringToObject(r->json, "error", msg);
    cJSON_AddStringToObject(r->json, "status", status_name(st));
    if (!diag)
        return;
    cJSON *d = cJSON_AddObjectToObject(r->json, "diag");
    if (!d)
        return;
    cJSON_AddStringToObject(d, "message", diag->message);
    if (diag->file[0])
        cJSON_AddStringToObject(d, "file", diag->file);
    if (diag->node[0])
        cJSON_AddStringToObject(d, "node", diag->node);
    if (diag->op[0])
        cJSON_AddStringToObject(d, "op", diag->op);
    if (diag->opset)
        cJSON_AddNumberToObject(d, "opset", diag->opset);
    if (diag->offset >= 0)
        cJSON_AddNumberToObject(d, "offset", (double)diag->offset);
}

/* A reply whose body is obj (taken); ENOMEM when obj is NULL. */
static void reply_json(eml__reply *r, cJSON *obj)
{
    if (!obj) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    r->http_status = 200;
    r->json = obj;
}

eml_status eml__cmd_model(const cJSON *cmd, const char **model, int64_t *version, eml_diag *diag)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cmd, "model");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, "version");
    *model = NULL;
    *version = 0;
    if (!cJSON_IsString(m) || !m->valuestring[0] || strlen(m->valuestring) > EML_REPO_MAX_NAME)
        return eml__diag(diag, EML_EINVAL, "the command needs a \"model\" name (1-%d characters)",
                         EML_REPO_MAX_NAME);
    *model = m->valuestring;
    if (!v || cJSON_IsNull(v))
        return EML_OK;
    double x = -1;
    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end;
        x = strtod(v->valuestring, &end);
        if (*end)
            x = -1;
    }
    if (!(x >= 0 && x <= UINT32_MAX && x == floor(x)))
        return eml__diag(diag, EML_EINVAL, "\"version\" must be a version number");
    *version = (int64_t)x;
    return EML_OK;
}

static void op_ready(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    char path[4096];
    uint32_t resolved = 0;
    if (st == EML_OK)
        st = eml_repo_path(a->repo, model, (uint32_t)version, EML_REPO_FILE_MODEL, path,
                           sizeof(path), &resolved);
    if (st == EML_ENOTFOUND || st == EML_EINVAL)
        eml__diag(&d, st, "model '%s'%s is not in the repository", model ? model : "",
                  version ? " at that version" : "");
    if (st != EML_OK) {
        eml__reply_error(r, st, &d);
        return;
    }
    /* Models load on demand: a version on disk is ready to serve. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", model);
    char vs[24];
    snprintf(vs, sizeof(vs), "%u", resolved);
    cJSON_AddStringToObject(o, "version", vs);
    cJSON_AddBoolToObject(o, "ready", 1);
    cJSON_AddBoolToObject(o, "loaded", eml__cache_is_loaded(a->cache, model, resolved));
    reply_json(r, o);
}

static void op_index(eml_agent *a, const eml__request *req, eml__reply *r)
{
    (void)req;
    eml_repo_version_info *infos = NULL;
    size_t n = 0;
    eml_status st = eml_repo_list(a->repo, NULL, &infos, &n);
    if (st != EML_OK) {
        eml__reply_error(r, st, NULL);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const eml_repo_version_info *v = &infos[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o))
            break;
        char vs[24];
        snprintf(vs, sizeof(vs), "%u", v->version);
        int loaded = eml__cache_is_loaded(a->cache, v->model, v->version);
        cJSON_AddStringToObject(o, "name", v->model);
        cJSON_AddStringToObject(o, "version", vs);
        /* Triton's states: READY when in memory, UNAVAILABLE otherwise (loads on demand). */
        cJSON_AddStringToObject(o, "state", loaded ? "READY" : "UNAVAILABLE");
        cJSON_AddStringToObject(o, "reason", loaded ? "" : "not loaded");
        cJSON_AddStringToObject(o, "repository_state", eml_model_state_name(v->state));
        cJSON_AddBoolToObject(o, "serving", v->serving);
    }
    eml_repo_list_free(a->repo, infos);
    reply_json(r, arr);
}

static void op_load(eml_agent *a, const eml__request *req, eml__reply *r, int unload)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK && !unload)
        st = eml__cache_prefetch(a->cache, model, version, &d);
    if (st == EML_OK && unload) {
        uint32_t v;
        st = eml__cache_unload(a->cache, model, version, &d);
        /* Unloading what is not in memory succeeds when the model exists (Triton's way). */
        if (st == EML_ENOTFOUND && eml_repo_current(a->repo, model, &v) == EML_OK)
            st = EML_OK;
    }
    if (st != EML_OK) {
        eml__reply_error(r, st, &d);
        return;
    }
    reply_json(r, cJSON_CreateObject());
}

static void add_num_or_unavailable(cJSON *o, const char *key, int has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddStringToObject(o, key, "unavailable");
}

static void op_node_status(eml_agent *a, eml__reply *r)
{
    eml__node_status s;
    eml__node_status_read(&s);
    eml__cache_stats cs;
    eml__cache_stats_get(a->cache, &cs);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    cJSON_AddStringToObject(o, "hostname", s.hostname);
    cJSON_AddStringToObject(o, "device_type", s.device_type);
    cJSON_AddStringToObject(o, "cpu_model", s.cpu_model[0] ? s.cpu_model : "unavailable");
    cJSON_AddNumberToObject(o, "cpu_count", s.cpu_count);
    add_num_or_unavailable(o, "memory_total_bytes", s.mem_total_bytes > 0,
                           (double)s.mem_total_bytes);
    add_num_or_unavailable(o, "memory_available_bytes", s.mem_total_bytes > 0,
                           (double)s.mem_available_bytes);
    cJSON *load = cJSON_AddArrayToObject(o, "load");
    for (int i = 0; load && i < 3; i++)
        cJSON_AddItemToArray(load, s.load[i] >= 0 ? cJSON_CreateNumber(s.load[i])
                                                  : cJSON_CreateString("unavailable"));
    add_num_or_unavailable(o, "temperature_c", s.has_temperature, s.temperature_c);
    add_num_or_unavailable(o, "power_w", s.has_power, s.power_w);
    add_num_or_unavailable(o, "uptime_s", s.uptime_s >= 0, s.uptime_s);
    cJSON_AddNumberToObject(o, "process_rss_bytes", (double)s.rss_bytes);
    cJSON *c = cJSON_AddObjectToObject(o, "models");
    if (c) {
        cJSON_AddNumberToObject(c, "loaded", cs.n_loaded);
        cJSON_AddNumberToObject(c, "bytes", (double)cs.bytes);
        cJSON_AddNumberToObject(c, "budget_bytes", (double)cs.budget_bytes);
        cJSON_AddNumberToObject(c, "hits", (double)cs.hits);
        cJSON_AddNumberToObject(c, "misses", (double)cs.misses);
        cJSON_AddNumberToObject(c, "evictions", (double)cs.evictions);
    }
    eml__drift_list_alerts(a, cJSON_AddArrayToObject(o, "drift")); /* versions in warn/drift */
    cJSON_AddStringToObject(o, "edgeml_version", EML_VERSION_STRING);
    eml__mqtt_add_status(a->mqtt, o); /* "broker": {...} with the MQTT front */
    reply_json(r, o);
}

static void op_metrics(eml_agent *a, eml__reply *r)
{
    r->text = eml__metrics_text(a->metrics);
    if (!r->text) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    r->http_status = 200;
}

void eml__agent_handle(eml_agent *a, const eml__request *req, eml__reply *r)
{
    memset(r, 0, sizeof(*r));
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(req->cmd, "op");
    const char *name = cJSON_IsString(op) ? op->valuestring : "";
    if (strcmp(name, "health.live") == 0 || strcmp(name, "health.ready") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, name[7] == 'l' ? "live" : "ready", 1);
        reply_json(r, o);
    } else if (strcmp(name, "model.metadata") == 0) {
        eml__op_metadata(a, req, r);
    } else if (strcmp(name, "model.ready") == 0) {
        op_ready(a, req, r);
    } else if (strcmp(name, "model.infer") == 0) {
        eml__op_infer(a, req, r);
    } else if (strcmp(name, "repository.index") == 0) {
        op_index(a, req, r);
    } else if (strcmp(name, "model.load") == 0) {
        op_load(a, req, r, 0);
    } else if (strcmp(name, "model.unload") == 0) {
        op_load(a, req, r, 1);
    } else if (strcmp(name, "model.deploy") == 0) {
        eml__op_deploy(a, req, r);
    } else if (strcmp(name, "model.rollback") == 0) {
        eml__op_rollback(a, req, r);
    } else if (strcmp(name, "model.versions") == 0) {
        eml__op_versions(a, req, r);
    } else if (strcmp(name, "model.bench") == 0) {
        eml__op_bench(a, req, r);
    } else if (strcmp(name, "model.eval") == 0) {
        eml__op_eval(a, req, r);
    } else if (strncmp(name, "model.ab.", 9) == 0 || strncmp(name, "model.variants.", 15) == 0 ||
               strcmp(name, "node.power_mode") == 0) {
        eml__op_route(a, name, req, r);
    } else if (strcmp(name, "model.drift") == 0 || strcmp(name, "model.drift.reset") == 0) {
        eml__op_drift(a, name, req, r);
    } else if (strcmp(name, "node.status") == 0) {
        op_node_status(a, r);
    } else if (strcmp(name, "metrics") == 0) {
        op_metrics(a, r);
    } else {
        eml_diag d;
        eml_diag_init(&d);
        eml__diag(&d, EML_EINVAL, "unknown op '%.64s'", name);
        eml__reply_error(r, EML_EINVAL, &d);
    }
}
