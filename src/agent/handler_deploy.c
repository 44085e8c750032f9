/* The handler's edgeml operations on the repository: deploy (uploaded bytes, a URL, or the
 * bytes inline in the command as base64), rollback, and the versions list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/agent.h"
#include "core/core.h"

static const char *opt_string(const cJSON *cmd, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "model_base64" (standard alphabet, padded: what the manager pushes over MQTT for small
 * models) decoded into *out. The length is checked against max_bytes before decoding, so a
 * huge string costs no allocation. */
static eml_status decode_base64(const char *b64, uint64_t max_bytes, uint8_t **out, size_t *n_bytes,
                                eml_diag *diag)
{
    *out = NULL;
    *n_bytes = 0;
    size_t len = strlen(b64);
    /* padded base64: 3 bytes per 4 characters, less up to 2 of padding */
    uint64_t decoded_max = (uint64_t)len / 4 * 3 + 3;
    if ((uint64_t)len / 4 * 3 > max_bytes + 2)
        return eml__diag(diag, EML__ETOOLARGE, "the model is about %llu bytes, the limit %llu",
                         (unsigned long long)len / 4 * 3, (unsigned long long)max_bytes);
    if (sodium_init() < 0)
        return eml__diag(diag, EML_EINTERNAL, "libsodium could not be initialized");
    uint8_t *buf = malloc(decoded_max ? (size_t)decoded_max : 1);
    if (!buf)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(buf, (size_t)decoded_max, b64, len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && *end)) {
        free(buf);
        return eml__diag(diag, EML_EINVAL,
                         "\"model_base64\" is not base64 (standard alphabet, padded) at offset "
                         "%zu",
                         end ? (size_t)(end - b64) : (size_t)0);
    }
    if (n == 0 || n > max_bytes) {
        free(buf);
        return n ? eml__diag(diag, EML__ETOOLARGE, "the model is %zu bytes, the limit %llu", n,
                             (unsigned long long)max_bytes)
                 : eml__diag(diag, EML_EINVAL, "\"model_base64\" is empty");
    }
    *out = buf;
    *n_bytes = n;
    return EML_OK;
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
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(req->cmd, "model_base64");
    if (st == EML_OK && version)
        st = eml__diag(&d, EML_EINVAL, "deploy assigns the version: do not give one");
    if (st == EML_OK && b64 && !cJSON_IsString(b64))
        st = eml__diag(&d, EML_EINVAL, "\"model_base64\" must be a string");
    if (st == EML_OK && !url && !req->binary_bytes && !b64)
        st = eml__diag(&d, EML_EINVAL,
                       "deploy needs the model: uploaded bytes, a \"url\" or \"model_base64\"");
    if (st == EML_OK && (!!url + !!req->binary_bytes + !!b64) > 1)
        st = eml__diag(&d, EML_EINVAL,
                       "deploy takes one of uploaded bytes, a \"url\" or \"model_base64\", not "
                       "several");
    if (st == EML_OK && req->binary_bytes > a->o.max_model_bytes)
        st = eml__diag(&d, EML__ETOOLARGE, "the model is %zu bytes, the limit %llu",
                       req->binary_bytes, (unsigned long long)a->o.max_model_bytes);
    if (st == EML_OK && url)
        st = eml__fetch_url(url, a->o.max_model_bytes, &fetched, &fetched_bytes, &d);
    if (st == EML_OK && b64)
        st = decode_base64(b64->valuestring, a->o.max_model_bytes, &fetched, &fetched_bytes, &d);
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
        o.model_bytes = fetched ? fetched : req->binary;
        o.model_bytes_count = fetched ? fetched_bytes : req->binary_bytes;
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
    /* how the bytes came: "url" (fetched), "inline" (model_base64) or "upload" */
    cJSON_AddStringToObject(o, "source", url ? "url" : b64 ? "inline" : "upload");
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
