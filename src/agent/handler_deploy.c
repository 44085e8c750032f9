/* The handler's edgeml operations on the repository: deploy (uploaded bytes or a URL),
 * rollback, and the versions list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"

static const char *opt_string(const cJSON *cmd, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void eml__op_deploy(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    uint8_t *fetched = NULL;
    size_t fetched_bytes = 0;
    char *config_text = NULL;
    eml_repo_deploy_result res;
    memset(&res, 0, sizeof(res));
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    const char *url = opt_string(req->cmd, "url");
    if (st == EML_OK && version)
        st = eml__diag(&d, EML_EINVAL, "deploy assigns the version: do not give one");
    if (st == EML_OK && !url && !req->binary_bytes)
        st = eml__diag(&d, EML_EINVAL, "deploy needs the model: uploaded bytes or a \"url\"");
    if (st == EML_OK && url && req->binary_bytes)
        st = eml__diag(&d, EML_EINVAL, "deploy takes uploaded bytes or a \"url\", not both");
    if (st == EML_OK && req->binary_bytes > a->o.max_model_bytes)
        st = eml__diag(&d, EML__ETOOLARGE, "the model is %zu bytes, the limit %llu",
                       req->binary_bytes, (unsigned long long)a->o.max_model_bytes);
    if (st == EML_OK && url)
        st = eml__fetch_url(url, a->o.max_model_bytes, &fetched, &fetched_bytes, &d);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(req->cmd, "config");
    if (st == EML_OK && cfg) {
        if (cJSON_IsString(cfg))
            config_text = strdup(cfg->valuestring);
        else if (cJSON_IsObject(cfg))
            config_text = cJSON_PrintUnformatted(cfg);
        else
            st = eml__diag(&d, EML_EINVAL, "\"config\" must be an object");
        if (st == EML_OK && !config_text)
            st = eml__diag(&d, EML_ENOMEM, "out of memory");
    }
    if (st == EML_OK) {
        eml_repo_deploy_options o;
        eml_repo_deploy_options_init(&o);
        o.model_bytes = url ? fetched : req->binary;
        o.model_bytes_count = url ? fetched_bytes : req->binary_bytes;
        o.sha256_hex = opt_string(req->cmd, "sha256");
        o.signature_hex = opt_string(req->cmd, "signature");
        o.config_json = config_text;
        st = eml_repo_deploy(a->repo, model, &o, &res, &d);
    }
    free(fetched);
    free(config_text);
    if (st != EML_OK) {
        eml__reply_error(r, st, &d);
        if (r->json && res.failed_step[0])
            cJSON_AddStringToObject(r->json, "failed_step", res.failed_step);
        if (r->json && res.version)
            cJSON_AddNumberToObject(r->json, "version", res.version);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddNumberToObject(o, "version", res.version);
    cJSON_AddStringToObject(o, "sha256", res.sha256);
    cJSON_AddNumberToObject(o, "model_bytes", (double)res.model_bytes);
    cJSON_AddNumberToObject(o, "latency_ms", res.latency_ms);
    cJSON_AddNumberToObject(o, "retired_count", res.retired_count);
    r->http_status = 200;
    r->json = o;
}

void eml__op_rollback(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    uint32_t serving = 0;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK)
        st = eml_repo_rollback(a->repo, model, (uint32_t)version, &serving, &d);
    if (st != EML_OK) {
        eml__reply_error(r, st, &d);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddNumberToObject(o, "serving", serving);
    r->http_status = 200;
    r->json = o;
}

void eml__op_versions(eml_agent *a, const eml__request *req, eml__reply *r)
{
    const char *model = opt_string(req->cmd, "model");
    eml_repo_version_info *infos = NULL;
    size_t n = 0;
    eml_status st = eml_repo_list(a->repo, model, &infos, &n);
    if (st == EML_OK && model && n == 0)
        st = EML_ENOTFOUND;
    if (st != EML_OK) {
        eml_diag d;
        eml_diag_init(&d);
        eml__diag(&d, st, "model '%.64s' is not in the repository", model ? model : "");
        eml__reply_error(r, st, &d);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "versions");
    for (size_t i = 0; arr && i < n; i++) {
        const eml_repo_version_info *v = &infos[i];
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddItemToArray(arr, x))
            break;
        cJSON_AddStringToObject(x, "model", v->model);
        cJSON_AddNumberToObject(x, "version", v->version);
        cJSON_AddStringToObject(x, "state", eml_model_state_name(v->state));
        cJSON_AddBoolToObject(x, "serving", v->serving);
        cJSON_AddBoolToObject(x, "loaded", eml__cache_is_loaded(a->cache, v->model, v->version));
        cJSON_AddNumberToObject(x, "model_bytes", (double)v->model_bytes);
        cJSON_AddStringToObject(x, "sha256", v->sha256);
        cJSON_AddNumberToObject(x, "deployed_unix", (double)v->deployed_unix);
        if (v->state == EML_MODEL_FAILED) {
            cJSON_AddStringToObject(x, "failed_step", v->failed_step);
            cJSON_AddStringToObject(x, "message", v->message);
        }
    }
    eml_repo_list_free(a->repo, infos);
    if (!o || !arr) {
        cJSON_Delete(o);
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    r->http_status = 200;
    r->json = o;
}
