/* The handler's model.eval: top-1 (and top-5) accuracy of a model version this node keeps, on
 * labelled data sent with the command (.npy bytes in base64) or by URL with its SHA-256, measured
 * with eml_eval_classifier on the version as the node serves it (docs/agent.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/agent.h"
#include "core/core.h"
#include "edgeml/edgeml.h"
#include "serve/repository.h"

static double ms_since(uint64_t t0)
{
    return (double)(eml__now_ns() - t0) / 1e6;
}

/* Standard base64, padded (libsodium's decoder; whitespace between characters allowed), at most
 * max_bytes once decoded: the length is checked before anything is allocated. *out malloc'd. */
static eml_status b64_decode(const char *s, const char *key, uint64_t max_bytes, uint8_t **out,
                             size_t *n_out, eml_diag *diag)
{
    size_t len = strlen(s);
    if ((uint64_t)len / 4 * 3 > max_bytes + 2)
        return eml__diag(diag, EML__ETOOLARGE, "\"%s\" holds about %llu bytes, the limit %llu",
                         key, (unsigned long long)len / 4 * 3, (unsigned long long)max_bytes);
    if (sodium_init() < 0)
        return eml__diag(diag, EML_EINTERNAL, "libsodium could not be initialized");
    size_t cap = len / 4 * 3 + 3, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return eml__diag(diag, EML_ENOMEM, "out of memory decoding \"%s\"", key);
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, s, len, " \t\r\n", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && *end)) {
        free(buf);
        return eml__diag(diag, EML_EINVAL,
                         "\"%s\" is not base64 (standard alphabet, padded) at offset %zu", key,
                         end ? (size_t)(end - s) : (size_t)0);
    }
    *out = buf;
    *n_out = n;
    return EML_OK;
}

static const char *opt_string(const cJSON *cmd, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The command's "<what>_base64" or "<what>_url" (with "<what>_sha256", required for a URL and
 * checked when given inline) read as a .npy tensor taken from env. */
static eml_status read_input(eml_agent *a, const cJSON *cmd, const char *what, eml_tensor *out,
                             eml_diag *diag)
{
    char k_b64[32], k_url[32], k_sha[32];
    snprintf(k_b64, sizeof(k_b64), "%s_base64", what);
    snprintf(k_url, sizeof(k_url), "%s_url", what);
    snprintf(k_sha, sizeof(k_sha), "%s_sha256", what);
    const char *b64 = opt_string(cmd, k_b64), *url = opt_string(cmd, k_url);
    const char *sha = opt_string(cmd, k_sha);
    if (!b64 == !url)
        return eml__diag(diag, EML_EINVAL, "model.eval needs \"%s\" or \"%s\" (one of them)",
                         k_b64, k_url);
    char want[65];
    if (sha && !eml__sha256_hex_normalize(sha, want))
        return eml__diag(diag, EML_EINVAL, "\"%s\" must be 64 hex digits", k_sha);
    if (url && !sha)
        return eml__diag(diag, EML_EINVAL, "\"%s\" needs \"%s\": a download is checked", k_url,
                         k_sha);
    uint8_t *bytes = NULL;
    size_t n = 0;
    eml_status st = url ? eml__fetch_url(url, a->o.max_model_bytes, &bytes, &n, diag)
                        : b64_decode(b64, k_b64, a->o.max_model_bytes, &bytes, &n, diag);
    if (st != EML_OK) {
        free(bytes);
        if (url && st == EML_ELIMIT)
            eml__diag(diag, st, "%s: the file at %.200s is larger than %llu bytes", what, url,
                      (unsigned long long)a->o.max_model_bytes);
        return st;
    }
    if (sha) {
        char have[65];
        eml__sha256_hex(bytes, n, have);
        if (strcmp(have, want) != 0) {
            free(bytes);
            return eml__diag(diag, EML_ECORRUPT,
                             "%s: SHA-256 mismatch: the %s has %s, the command says %s", what,
                             url ? "download" : "inline data", have, want);
        }
    }
    st = eml_tensor_read_npy(a->env, bytes, n, out, diag);
    free(bytes);
    if (st != EML_OK) {
        char why[sizeof(diag->message)];
        snprintf(why, sizeof(why), "%s", diag ? diag->message : "");
        eml__diag(diag, st, "%s: %s", what, why);
    }
    return st;
}

/* An optional whole number in [0, max] ("limit", "batch"). */
static eml_status opt_count(const cJSON *cmd, const char *key, uint32_t max, uint32_t *out,
                            eml_diag *diag)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, key);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return EML_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
        v->valuedouble != (double)(uint32_t)v->valuedouble)
        return eml__diag(diag, EML_EINVAL, "\"%s\" must be a whole number from 0 to %u", key, max);
    *out = (uint32_t)v->valuedouble;
    return EML_OK;
}

void eml__op_eval(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml_tensor data, labels;
    memset(&data, 0, sizeof(data));
    memset(&labels, 0, sizeof(labels));
    eml_graph *graph = NULL;
    eml_plan *plan = NULL;
    uint32_t resolved = 0, limit = 0, batch = 0;
    eml_eval_result res;
    memset(&res, 0, sizeof(res));
    double fetch_ms = 0, load_ms = 0, eval_ms = 0;
    uint64_t t0 = eml__now_ns();
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK)
        st = opt_count(req->cmd, "limit", UINT32_MAX, &limit, &d);
    if (st == EML_OK)
        st = opt_count(req->cmd, "batch", 65536, &batch, &d);
    /* The version first: a model this node does not keep is refused before any download. */
    char path[4096];
    if (st == EML_OK) {
        st = eml_repo_path(a->repo, model, (uint32_t)version, EML_REPO_FILE_MODEL, path,
                           sizeof(path), &resolved);
        if (st == EML_ENOTFOUND || st == EML_EINVAL)
            st = eml__diag(&d, EML_ENOTFOUND, "model '%s'%s is not in the repository", model,
                           version ? " at that version" : "");
    }
    if (st == EML_OK)
        st = read_input(a, req->cmd, "data", &data, &d);
    if (st == EML_OK)
        st = read_input(a, req->cmd, "labels", &labels, &d);
    fetch_ms = ms_since(t0);
    /* Loaded as the node serves it: hash checked, optimized at the repository's level. */
    t0 = eml__now_ns();
    if (st == EML_OK)
        st = eml_repo_load(a->repo, model, resolved, &graph, &plan, NULL, &d);
    eml_plan_destroy(plan);
    load_ms = ms_since(t0);
    t0 = eml__now_ns();
    if (st == EML_OK) {
        eml_eval_options eo;
        eml_eval_options_init(&eo);
        eo.limit = limit;
        eo.batch = batch;
        st = eml_eval_classifier(graph, &data, &labels, &eo, &res, NULL, &d);
    }
    eval_ms = ms_since(t0);
    eml_graph_destroy(graph);
    eml_tensor_free(a->env, &data);
    eml_tensor_free(a->env, &labels);
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
    cJSON_AddNumberToObject(o, "version", resolved);
    cJSON_AddNumberToObject(o, "count", (double)res.count);
    cJSON_AddNumberToObject(o, "n_classes", res.n_classes);
    cJSON_AddNumberToObject(o, "top1", (double)res.top1);
    cJSON_AddNumberToObject(o, "top1_pct", res.top1_pct);
    if (res.n_classes > 5) {
        cJSON_AddNumberToObject(o, "top5", (double)res.top5);
        cJSON_AddNumberToObject(o, "top5_pct", res.top5_pct);
    }
    cJSON_AddNumberToObject(o, "fetch_ms", fetch_ms);
    cJSON_AddNumberToObject(o, "load_ms", load_ms);
    cJSON_AddNumberToObject(o, "eval_ms", eval_ms);
    r->http_status = 200;
    r->json = o;
}
