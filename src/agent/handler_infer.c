/* The handler's model metadata and inference: the model is held from the cache for the call,
 * the request queues to the model's batcher (never run on the caller's thread) with a deadline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"

static void error_reply(eml__reply *r, eml_status st, eml_diag *d)
{
    eml__reply_error(r, st, d);
}

static cJSON *tensor_meta(const eml_value_info *vi)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const char *dt = eml__oip_dtype_name(vi->dtype);
    cJSON_AddStringToObject(o, "name", vi->name);
    cJSON_AddStringToObject(o, "datatype", dt ? dt : eml_dtype_name(vi->dtype));
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; shape && d < vi->rank; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(vi->dims[d] < 0 ? -1
                                                                         : (double)vi->dims[d]));
    return o;
}

void eml__op_metadata(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml__served *s = NULL;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK)
        st = eml__cache_acquire(a->cache, model, version, &s, &d);
    if (st != EML_OK) {
        error_reply(r, st, &d);
        return;
    }
    const eml_graph *g = eml__served_graph(s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", model);
    cJSON *versions = cJSON_AddArrayToObject(o, "versions");
    eml_repo_version_info *infos = NULL;
    size_t n = 0;
    if (eml_repo_list(a->repo, model, &infos, &n) == EML_OK) {
        for (size_t i = 0; versions && i < n; i++) {
            if (infos[i].state != EML_MODEL_READY && infos[i].state != EML_MODEL_RETIRED)
                continue;
            char vs[24];
            snprintf(vs, sizeof(vs), "%u", infos[i].version);
            cJSON_AddItemToArray(versions, cJSON_CreateString(vs));
        }
        eml_repo_list_free(a->repo, infos);
    }
    cJSON_AddStringToObject(o, "platform", "onnx");
    char vs[24];
    snprintf(vs, sizeof(vs), "%lld", (long long)eml__served_version(s));
    cJSON_AddStringToObject(o, "version", vs);
    cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    eml_value_info vi;
    for (size_t i = 0; ins && i < eml_graph_input_count(g); i++)
        if (eml_graph_input(g, i, &vi) == EML_OK)
            cJSON_AddItemToArray(ins, tensor_meta(&vi));
    for (size_t i = 0; outs && i < eml_graph_output_count(g); i++)
        if (eml_graph_output(g, i, &vi) == EML_OK)
            cJSON_AddItemToArray(outs, tensor_meta(&vi));
    eml__batch_options bo;
    eml__batcher_options(eml__served_batcher(s), &bo);
    cJSON *b = cJSON_AddObjectToObject(o, "batching");
    if (b) {
        cJSON_AddNumberToObject(b, "max_batch_size", bo.max_batch_size);
        cJSON_AddNumberToObject(b, "max_queue_delay_us", (double)bo.max_queue_delay_us);
        cJSON_AddNumberToObject(b, "max_queue", bo.max_queue);
    }
    eml__cache_release(a->cache, s);
    if (!o || !ins || !outs) {
        cJSON_Delete(o);
        error_reply(r, EML_ENOMEM, NULL);
        return;
    }
    r->http_status = 200;
    r->json = o;
}

/* The request's deadline: its "timeout" parameter (microseconds, as Triton's) or the agent's
 * default. */
static uint64_t deadline_of(eml_agent *a, const cJSON *request)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(request, "parameters");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "timeout");
    uint64_t us = a->o.request_timeout_ms * 1000;
    if (cJSON_IsNumber(t) && t->valuedouble > 0 && t->valuedouble < 3.6e9)
        us = (uint64_t)t->valuedouble;
    return eml__now_ns() + us * 1000;
}

void eml__op_infer(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml__served *s = NULL;
    eml_tensor inputs[16], *in = NULL;
    size_t n_in = 0, n_out = 0;
    eml_tensor *outputs = NULL;
    cJSON *resp = NULL;
    eml__route rt = {0};
    const cJSON *request = cJSON_GetObjectItemCaseSensitive(req->cmd, "request");
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK && !cJSON_IsObject(request))
        st = eml__diag(&d, EML_EINVAL, "the infer command needs a \"request\" object");
    if (st == EML_OK) {
        eml__route_choose(a, request, &model, &version, &rt); /* an A/B arm or a variant */
        st = eml__cache_acquire(a->cache, model, version, &s, &d);
        if (st != EML_OK)
            eml__route_record(a, &rt, st, NULL, 0, NULL, 0);
    }
    if (st != EML_OK)
        goto fail;
    const eml_graph *g = eml__served_graph(s);
    n_in = eml_graph_input_count(g);
    in = n_in <= 16 ? inputs : calloc(n_in, sizeof(eml_tensor));
    if (!in) {
        st = eml__diag(&d, EML_ENOMEM, "out of memory");
        goto fail;
    }
    EML_TRY(eml__oip_read_inputs(request, g, req->binary, req->binary_bytes, in, &d));
    eml__drift_on_infer(a, model, eml__served_version(s), g, in, n_in); /* input drift */
    eml__infer_times times = {0, 0};
    st = eml__batcher_infer_timed(eml__served_batcher(s), in, n_in, deadline_of(a, request),
                                  &outputs, &n_out, &times, &d);
    eml__route_record(a, &rt, st, in, n_in, outputs, n_out);
    if (st != EML_OK)
        goto fail;
    resp = cJSON_CreateObject();
    if (!resp) {
        st = EML_ENOMEM;
        goto fail;
    }
    char vs[24];
    snprintf(vs, sizeof(vs), "%lld", (long long)eml__served_version(s));
    cJSON_AddStringToObject(resp, "model_name", model);
    cJSON_AddStringToObject(resp, "model_version", vs);
    eml__route_reply(&rt, resp);
    /* The node's own timing (docs/agent.md): the model run (the whole merged batch's run when
     * batched) and the wait before it (queue and batch delay), both on the monotonic clock. */
    cJSON_AddNumberToObject(resp, "inference_ms", (double)times.run_ns / 1e6);
    cJSON_AddNumberToObject(resp, "queue_ms", (double)times.queue_ns / 1e6);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(request, "id");
    if (cJSON_IsString(id))
        cJSON_AddStringToObject(resp, "id", id->valuestring);
    EML_TRY(eml__oip_write_outputs(request, g, outputs, n_out, resp, &r->binary,
                                   &r->binary_bytes, &d));
    eml__outputs_free(outputs, n_out);
    eml__tensors_free(in, n_in);
    if (in != inputs)
        free(in);
    eml__cache_release(a->cache, s);
    r->http_status = 200;
    r->json = resp;
    return;
fail:
    cJSON_Delete(resp);
    eml__outputs_free(outputs, n_out);
    if (in)
        eml__tensors_free(in, n_in);
    if (in != inputs)
        free(in);
    if (s)
        eml__cache_release(a->cache, s);
    error_reply(r, st, &d);
}
