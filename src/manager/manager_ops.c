/* The manager's operations on a node: deploy and rollback (recorded as deployments), inference
 * through the Open Inference Protocol's JSON form, benchmarks and accuracy evaluations
 * (recorded as measurements). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/core.h"
#include "manager/manager.h"

void eml_model_descriptor_init(eml_model_descriptor *desc)
{
    memset(desc, 0, sizeof(*desc));
    desc->struct_size = sizeof(*desc);
}

void eml_bench_options_init(eml_bench_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
}

void eml__manager_shapes_json(const eml_graph *g, int outputs, char *buf, size_t cap)
{
    size_t n = outputs ? eml_graph_output_count(g) : eml_graph_input_count(g), len = 0;
    len += (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < n && len < cap; i++) {
        eml_value_info vi;
        if ((outputs ? eml_graph_output(g, i, &vi) : eml_graph_input(g, i, &vi)) != EML_OK)
            continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s[", i ? "," : "");
        for (int d = 0; d < vi.rank && len < cap; d++)
            len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? "," : "",
                                    (long long)(vi.dims[d] < 0 ? -1 : vi.dims[d]));
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "]");
    }
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
}

/* The descriptor's expected shape against the model's declared one. */
static eml_status check_shape(const char *file, const char *what, const eml_value_info *vi,
                              int32_t rank, const int64_t *dims, eml_diag *diag)
{
    if (rank <= 0 || vi->rank < 0)
        return EML_OK;
    int ok = rank == vi->rank;
    for (int d = 0; ok && d < rank; d++)
        ok = dims[d] < 0 || vi->dims[d] < 0 || dims[d] == vi->dims[d];
    if (ok)
        return EML_OK;
    char want[160], have[160];
    size_t a = 0, b = 0;
    for (int d = 0; d < rank && a < sizeof(want); d++)
        a += (size_t)snprintf(want + a, sizeof(want) - a, "%s%lld", d ? "," : "",
                              (long long)dims[d]);
    for (int d = 0; d < vi->rank && b < sizeof(have); d++)
        b += (size_t)snprintf(have + b, sizeof(have) - b, "%s%lld", d ? "," : "",
                              (long long)vi->dims[d]);
    if (!rank)
        want[0] = 0;
    if (!vi->rank)
        have[0] = 0;
    return eml__diag(diag, EML_ESHAPE, "%s: %s '%s' is [%s] in the model, the descriptor says [%s]",
                     file, what, vi->name, have, want);
}

/* Loads the file to check it and the descriptor's shapes; fills the version's shape columns. */
static eml_status inspect_model(const eml_model_descriptor *desc, eml__db_version *v,
                                eml_diag *diag)
{
    eml_env *env = NULL;
    eml_graph *g = NULL;
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    eml_status st = eml_env_create(&eo, &env);
    if (st != EML_OK)
        return eml__diag(diag, st, "cannot create an environment");
    EML_TRY(eml_graph_load_onnx(env, desc->file, &g, diag));
    eml_value_info vi;
    if (desc->input_rank > 0) {
        if (eml_graph_input_count(g) == 0 || eml_graph_input(g, 0, &vi) != EML_OK) {
            st = eml__diag(diag, EML_ESHAPE, "%s: the model has no input", desc->file);
            goto fail;
        }
        EML_TRY(check_shape(desc->file, "input", &vi, desc->input_rank, desc->input_shape, diag));
    }
    if (desc->output_rank > 0) {
        if (eml_graph_output_count(g) == 0 || eml_graph_output(g, 0, &vi) != EML_OK) {
            st = eml__diag(diag, EML_ESHAPE, "%s: the model has no output", desc->file);
            goto fail;
        }
        EML_TRY(
            check_shape(desc->file, "output", &vi, desc->output_rank, desc->output_shape, diag));
    }
    eml__manager_shapes_json(g, 0, v->inputs, sizeof(v->inputs));
    eml__manager_shapes_json(g, 1, v->outputs, sizeof(v->outputs));
fail:
    eml_graph_destroy(g);
    eml_env_destroy(env);
    return st;
}

static void record_deployment(eml_manager *m, const char *node, const char *model, uint32_t version,
                              uint32_t node_version, const char *action, eml_status st,
                              const eml_diag *d)
{
    eml__db_deployment r;
    memset(&r, 0, sizeof(r));
    snprintf(r.node, sizeof(r.node), "%s", node);
    snprintf(r.model, sizeof(r.model), "%s", model);
    r.version = version;
    r.node_version = node_version;
    snprintf(r.action, sizeof(r.action), "%s", action);
    r.ok = st == EML_OK;
    snprintf(r.message, sizeof(r.message), "%s", st == EML_OK ? "" : d->message);
    r.created_unix = (int64_t)time(NULL);
    eml__site_db_deployment_add(m->db, &r, NULL);
}

eml_status eml__manager_register_version(eml_manager *m, const eml_model_descriptor *desc,
                                        eml__db_version *v, eml_diag *diag)
{
    if (!desc || desc->struct_size == 0 || desc->struct_size > sizeof(*desc))
        return eml__diag(diag, EML_EINVAL, "model descriptor: struct_size not set");
    if (!eml__manager_name_ok(desc->id))
        return eml__diag(diag, EML_EINVAL,
                         "bad model id '%.80s': 1-64 characters of A-Z a-z 0-9 . _ -, starting "
                         "with a letter or digit",
                         desc->id ? desc->id : "");
    if (desc->input_rank > EML_MAX_RANK || desc->output_rank > EML_MAX_RANK ||
        desc->input_rank < 0 || desc->output_rank < 0)
        return eml__diag(diag, EML_EINVAL, "model descriptor: shape rank above %d", EML_MAX_RANK);
    if (!desc->file || !*desc->file) {
        /* No file: the model's latest version, from the site's artifacts (a model quantize or
         * prune made, or one deployed before) */
        eml__db_version latest;
        eml_status st = eml__site_db_version_get(m->db, desc->id, 0, &latest, diag);
        if (st == EML_ENOTFOUND)
            return eml__diag(diag, st, "model '%s' is not in site '%s': give its file", desc->id,
                             m->site);
        if (st != EML_OK)
            return st;
        char path[3100];
        snprintf(path, sizeof(path), "%s/%s", m->dir, latest.file);
        eml_model_descriptor d = *desc;
        d.file = path;
        return eml__manager_register_version(m, &d, v, diag);
    }
    memset(v, 0, sizeof(*v));
    snprintf(v->model, sizeof(v->model), "%s", desc->id);
    eml_status st = inspect_model(desc, v, diag);
    if (st == EML_EIO && access(desc->file, F_OK) != 0)
        st = eml__diag(diag, EML_ENOTFOUND, "model file %s does not exist", desc->file);
    if (st != EML_OK)
        return st;
    EML_TRY(eml__manager_store_file(m, desc->file, v->sha256, &v->bytes, v->file, sizeof(v->file),
                                    diag));
    /* The model and its version are one transaction: never a version without its model. */
    eml__db_model row;
    memset(&row, 0, sizeof(row));
    snprintf(row.id, sizeof(row.id), "%s", desc->id);
    snprintf(row.name, sizeof(row.name), "%s", desc->name && *desc->name ? desc->name : desc->id);
    snprintf(row.type, sizeof(row.type), "%s", desc->type ? desc->type : "");
    EML_TRY(eml__site_db_begin(m->db, diag));
    st = eml__site_db_model_put(m->db, &row, diag);
    if (st == EML_OK)
        st = eml__site_db_version_add(m->db, v, &v->version, diag);
    eml_status st2 = eml__site_db_end(m->db, st == EML_OK, st == EML_OK ? diag : NULL);
    if (st == EML_OK)
        st = st2;
fail:
    return st;
}

eml_status eml_manager_deploy(eml_manager *m, const eml_model_descriptor *desc, const char *node_id,
                              eml_deploy_result *result, eml_diag *diag)
{
    eml_deploy_result res;
    memset(&res, 0, sizeof(res));
    if (result)
        *result = res;
    if (!desc || desc->struct_size == 0 || desc->struct_size > sizeof(*desc))
        return eml__diag(diag, EML_EINVAL, "model descriptor: struct_size not set");
    eml__node *node = NULL;
    eml_status st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    eml__db_version v;
    EML_TRY(eml__manager_register_version(m, desc, &v, diag));
    res.version = v.version;
    snprintf(res.sha256, sizeof(res.sha256), "%s", v.sha256);
    res.model_bytes = v.bytes;

    char path[3100];
    snprintf(path, sizeof(path), "%s/%s", m->dir, v.file);
    /* Signed with the site's key; a URL, or the bytes inline for small MQTT deploys. */
    cJSON *cmd = NULL, *reply = NULL;
    EML_TRY(eml__site_deploy_command(m, node, desc->id, path, v.sha256, res.version, &cmd, diag));
    st = eml__manager_command(m, node, cmd, &reply, NULL, diag);
    if (st == EML_OK) {
        const cJSON *nv = cJSON_GetObjectItemCaseSensitive(reply, "version");
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(reply, "latency_ms");
        res.node_version = cJSON_IsNumber(nv) ? (uint32_t)nv->valuedouble : 0;
        res.health_latency_ms = cJSON_IsNumber(lat) ? lat->valuedouble : 0;
        if (!res.node_version)
            st = eml__diag(diag, EML_EIO, "node '%s': the deploy reply has no version", node_id);
    }
    cJSON_Delete(reply);
    record_deployment(m, node_id, desc->id, res.version, res.node_version, "deploy", st, diag);
    if (st == EML_OK && result)
        *result = res;
fail:
    return st;
}

eml_status eml_manager_rollback(eml_manager *m, const char *node_id, const char *model,
                                uint32_t version, uint32_t *serving, eml_diag *diag)
{
    if (serving)
        *serving = 0;
    eml__node *node = NULL;
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st == EML_OK)
        st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    cJSON *cmd = cJSON_CreateObject(), *reply = NULL;
    cJSON_AddStringToObject(cmd, "op", "model.rollback");
    cJSON_AddStringToObject(cmd, "model", model);
    if (version)
        cJSON_AddNumberToObject(cmd, "version", version);
    st = eml__manager_command(m, node, cmd, &reply, NULL, diag);
    uint32_t now = 0;
    if (st == EML_OK) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(reply, "serving");
        now = cJSON_IsNumber(s) ? (uint32_t)s->valuedouble : 0;
    }
    cJSON_Delete(reply);
    record_deployment(m, node_id, model, eml__site_db_site_version(m->db, node_id, model, now), now,
                      "rollback", st, diag);
    if (st == EML_OK && serving)
        *serving = now;
    return st;
}

/* ---- inference ---- */

void eml_infer_result_deinit(eml_infer_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->output_count; i++)
        free(r->outputs[i].tensor.data);
    free(r->outputs);
    r->outputs = NULL;
    r->output_count = 0;
}

/* One element of a tensor as a JSON value. */
static cJSON *element_json(const eml_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32:
        return cJSON_CreateNumber(((const float *)p)[i]);
    case EML_DTYPE_F64:
        return cJSON_CreateNumber(((const double *)p)[i]);
    case EML_DTYPE_F16:
        return cJSON_CreateNumber(eml_f16_to_f32(((const uint16_t *)p)[i]));
    case EML_DTYPE_BF16:
        return cJSON_CreateNumber(eml_bf16_to_f32(((const uint16_t *)p)[i]));
    case EML_DTYPE_U8:
        return cJSON_CreateNumber(((const uint8_t *)p)[i]);
    case EML_DTYPE_I8:
        return cJSON_CreateNumber(((const int8_t *)p)[i]);
    case EML_DTYPE_U16:
        return cJSON_CreateNumber(((const uint16_t *)p)[i]);
    case EML_DTYPE_I16:
        return cJSON_CreateNumber(((const int16_t *)p)[i]);
    case EML_DTYPE_U32:
        return cJSON_CreateNumber(((const uint32_t *)p)[i]);
    case EML_DTYPE_I32:
        return cJSON_CreateNumber(((const int32_t *)p)[i]);
    case EML_DTYPE_U64:
        return cJSON_CreateNumber((double)((const uint64_t *)p)[i]);
    case EML_DTYPE_I64:
        return cJSON_CreateNumber((double)((const int64_t *)p)[i]);
    case EML_DTYPE_BOOL:
        return cJSON_CreateBool(((const bool *)p)[i]);
    default:
        return NULL;
    }
}

/* Stores JSON value v as element i. */
static void element_set(eml_tensor *t, int64_t i, const cJSON *v)
{
    double x = cJSON_IsBool(v) ? cJSON_IsTrue(v) : v->valuedouble;
    void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32:
        ((float *)p)[i] = (float)x;
        break;
    case EML_DTYPE_F64:
        ((double *)p)[i] = x;
        break;
    case EML_DTYPE_F16:
        ((uint16_t *)p)[i] = eml_f32_to_f16((float)x);
        break;
    case EML_DTYPE_BF16:
        ((uint16_t *)p)[i] = eml_f32_to_bf16((float)x);
        break;
    case EML_DTYPE_U8:
        ((uint8_t *)p)[i] = (uint8_t)x;
        break;
    case EML_DTYPE_I8:
        ((int8_t *)p)[i] = (int8_t)x;
        break;
    case EML_DTYPE_U16:
        ((uint16_t *)p)[i] = (uint16_t)x;
        break;
    case EML_DTYPE_I16:
        ((int16_t *)p)[i] = (int16_t)x;
        break;
    case EML_DTYPE_U32:
        ((uint32_t *)p)[i] = (uint32_t)x;
        break;
    case EML_DTYPE_I32:
        ((int32_t *)p)[i] = (int32_t)x;
        break;
    case EML_DTYPE_U64:
        ((uint64_t *)p)[i] = (uint64_t)x;
        break;
    case EML_DTYPE_I64:
        ((int64_t *)p)[i] = (int64_t)x;
        break;
    case EML_DTYPE_BOOL:
        ((bool *)p)[i] = x != 0;
        break;
    default:
        break;
    }
}

/* The OIP request body for the inputs, named as the node's metadata lists them. */
static eml_status build_request(const cJSON *meta, const eml_tensor *inputs, size_t n, cJSON **out,
                                eml_diag *diag)
{
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(meta, "inputs");
    size_t want = (size_t)cJSON_GetArraySize(ins);
    if (n != want)
        return eml__diag(diag, EML_EINVAL, "the model takes %zu input(s), %zu given", want, n);
    cJSON *req = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(req, "inputs");
    if (!arr) {
        cJSON_Delete(req);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *mi = cJSON_GetArrayItem(ins, (int)i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(mi, "name");
        const eml_tensor *t = &inputs[i];
        const char *dt = eml__oip_dtype_name(t->dtype);
        if (!dt || !t->data || t->rank < 0 || t->rank > EML_MAX_RANK) {
            cJSON_Delete(req);
            return eml__diag(diag, dt ? EML_EINVAL : EML_ETYPE, "input %zu: %s", i,
                             dt ? "no data or bad rank" : "dtype not supported");
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", cJSON_IsString(name) ? name->valuestring : "");
        cJSON_AddStringToObject(o, "datatype", dt);
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->rank; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d]));
        cJSON *data = cJSON_AddArrayToObject(o, "data");
        int64_t count = eml_tensor_count(t);
        for (int64_t k = 0; data && k < count; k++)
            if (!cJSON_AddItemToArray(data, element_json(t, k)))
                data = NULL;
        if (!data || !shape) {
            cJSON_Delete(req);
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        }
    }
    *out = req;
    return EML_OK;
}

/* The reply's outputs into tensors (malloc'd data). */
static eml_status read_outputs(const cJSON *reply, eml_infer_result *r, eml_diag *diag)
{
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(reply, "outputs"), *o;
    size_t n = (size_t)cJSON_GetArraySize(outs);
    r->outputs = calloc(n ? n : 1, sizeof(*r->outputs));
    if (!r->outputs)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    cJSON_ArrayForEach(o, outs)
    {
        eml_named_tensor *nt = &r->outputs[r->output_count];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data"), *v;
        snprintf(nt->name, sizeof(nt->name), "%s", cJSON_IsString(name) ? name->valuestring : "");
        nt->tensor.dtype = eml__oip_dtype(cJSON_IsString(dt) ? dt->valuestring : NULL);
        int rank = cJSON_GetArraySize(shape);
        if (nt->tensor.dtype == EML_DTYPE_UNDEFINED || rank > EML_MAX_RANK || !cJSON_IsArray(data))
            return eml__diag(diag, EML_ECORRUPT, "output '%s': a reply the manager cannot read",
                             nt->name);
        nt->tensor.rank = rank;
        int d = 0;
        cJSON_ArrayForEach(v, shape) nt->tensor.dims[d++] = (int64_t)v->valuedouble;
        int64_t count = eml__shape_count(nt->tensor.dims, rank);
        if (count < 0 || count != cJSON_GetArraySize(data))
            return eml__diag(diag, EML_ECORRUPT, "output '%s': %d values for its shape", nt->name,
                             cJSON_GetArraySize(data));
        nt->tensor.data = malloc((size_t)(count ? count : 1) * eml_dtype_size(nt->tensor.dtype));
        if (!nt->tensor.data)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        r->output_count++;
        int64_t k = 0;
        cJSON_ArrayForEach(v, data) element_set(&nt->tensor, k++, v);
    }
    return EML_OK;
}

eml_status eml_manager_infer(eml_manager *m, const char *node_id, const char *model,
                             const eml_tensor *inputs, size_t input_count, eml_infer_result *r,
                             eml_diag *diag)
{
    memset(r, 0, sizeof(*r));
    eml__node *node = NULL;
    cJSON *meta = NULL, *reply = NULL, *request = NULL;
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st == EML_OK)
        st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "op", "model.metadata");
    cJSON_AddStringToObject(cmd, "model", model);
    st = eml__manager_command(m, node, cmd, &meta, NULL, diag);
    if (st == EML_ENOTFOUND)
        st = eml__diag(diag, st, "node '%s' does not serve model '%s' (deploy it there first)",
                       node_id, model);
    if (st != EML_OK)
        goto fail;
    EML_TRY(build_request(meta, inputs, input_count, &request, diag));
    cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "op", "model.infer");
    cJSON_AddStringToObject(cmd, "model", model);
    cJSON_AddItemToObject(cmd, "request", request);
    /* Both times: the manager's round trip (around the command: encoding, transport, the node's
     * handler, decoding) and the node's own measure of the model run ("inference_ms" in the
     * reply; a node without it: the handler's time the transport reports). */
    struct timespec t0, t1;
    double handler_ms = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EML_TRY(eml__manager_command(m, node, cmd, &reply, &handler_ms, diag));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->round_trip_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    const cJSON *on_node = cJSON_GetObjectItemCaseSensitive(reply, "inference_ms");
    r->inference_ms = cJSON_IsNumber(on_node) && on_node->valuedouble >= 0 ? on_node->valuedouble
                                                                            : handler_ms;
    snprintf(r->model, sizeof(r->model), "%s", model);
    snprintf(r->node, sizeof(r->node), "%s", node_id);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(reply, "model_version");
    r->version = cJSON_IsString(v) ? (uint32_t)strtoul(v->valuestring, NULL, 10) : 0;
    EML_TRY(read_outputs(reply, r, diag));
fail:
    cJSON_Delete(meta);
    cJSON_Delete(reply);
    if (st != EML_OK)
        eml_infer_result_deinit(r);
    return st;
}

/* ---- measurements ---- */

static double sub_num(const cJSON *o, const char *obj, const char *key, int *has)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(obj ? cJSON_GetObjectItemCaseSensitive(o, obj) : o, key);
    if (has)
        *has = cJSON_IsNumber(v);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

eml_status eml_manager_bench(eml_manager *m, const char *node_id, const char *model,
                             const eml_bench_options *opts, eml_bench_result *r, eml_diag *diag)
{
    memset(r, 0, sizeof(*r));
    eml_bench_options o;
    eml_bench_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "bench options: struct_size not set");
        memcpy(&o, opts, opts->struct_size);
    }
    eml__node *node = NULL;
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st == EML_OK)
        st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    cJSON *cmd = cJSON_CreateObject(), *reply = NULL;
    cJSON_AddStringToObject(cmd, "op", "model.bench");
    cJSON_AddStringToObject(cmd, "model", model);
    cJSON_AddNumberToObject(cmd, "runs", o.runs ? o.runs : 100);
    cJSON_AddNumberToObject(cmd, "warmup", o.warmup ? o.warmup : 10);
    cJSON_AddNumberToObject(cmd, "batch", o.batch ? o.batch : 1);
    st = eml__manager_command(m, node, cmd, &reply, NULL, diag);
    if (st == EML_EINVAL && strstr(diag ? diag->message : "", "unknown op"))
        st = eml__diag(diag, EML_EUNSUPPORTED, "node '%s' has no benchmark op (model.bench)",
                       node_id);
    if (st == EML_ENOTFOUND)
        st = eml__diag(diag, st, "node '%s' does not serve model '%s' (deploy it there first)",
                       node_id, model);
    if (st != EML_OK)
        return st;
    snprintf(r->node, sizeof(r->node), "%s", node_id);
    snprintf(r->model, sizeof(r->model), "%s", model);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(reply, "version");
    r->version = cJSON_IsString(v)   ? (uint32_t)strtoul(v->valuestring, NULL, 10)
                 : cJSON_IsNumber(v) ? (uint32_t)v->valuedouble
                                     : 0;
    r->site_version = eml__site_db_site_version(m->db, node_id, model, r->version);
    r->runs = (uint32_t)sub_num(reply, NULL, "runs", NULL);
    r->batch = (uint32_t)sub_num(reply, NULL, "batch", NULL);
    r->throughput_ips = sub_num(reply, "throughput", "inferences_per_s", NULL);
    r->latency_ms_mean = sub_num(reply, "latency_ms", "mean", NULL);
    r->latency_ms_p50 = sub_num(reply, "latency_ms", "p50", NULL);
    r->latency_ms_p90 = sub_num(reply, "latency_ms", "p90", NULL);
    r->latency_ms_p99 = sub_num(reply, "latency_ms", "p99", NULL);
    r->latency_ms_min = sub_num(reply, "latency_ms", "min", NULL);
    r->latency_ms_max = sub_num(reply, "latency_ms", "max", NULL);
    r->peak_memory_bytes =
        (uint64_t)sub_num(reply, "memory", "rss_peak_bytes", &r->has_peak_memory);
    r->power_w = sub_num(reply, "energy", "watts", &r->has_power);
    r->energy_j_per_inference = sub_num(reply, "energy", "joules_per_inference", &r->has_energy);
    r->measured_unix = (int64_t)time(NULL);
    cJSON_Delete(reply);
    if (r->runs == 0 || !(r->latency_ms_p50 > 0) || !(r->throughput_ips > 0))
        return eml__diag(diag, EML_EIO, "node '%s': the benchmark reply has no figures", node_id);
    char detail[96];
    snprintf(detail, sizeof(detail), "batch %u, %u runs", r->batch, r->runs);
    EML_TRY(eml__site_db_begin(m->db, diag));
    st = eml__manager_measure(m, model, r->site_version, node_id, "latency_ms_p50",
                              r->latency_ms_p50, detail, diag);
    if (st == EML_OK)
        st = eml__manager_measure(m, model, r->site_version, node_id, "latency_ms_p99",
                                  r->latency_ms_p99, detail, diag);
    if (st == EML_OK)
        st = eml__manager_measure(m, model, r->site_version, node_id, "throughput_ips",
                                  r->throughput_ips, detail, diag);
    if (st == EML_OK && r->has_energy)
        st = eml__manager_measure(m, model, r->site_version, node_id, "energy_j_per_inference",
                                  r->energy_j_per_inference, detail, diag);
    if (st == EML_OK && r->has_power)
        st = eml__manager_measure(m, model, r->site_version, node_id, "power_w", r->power_w, detail,
                                  diag);
    eml_status st2 = eml__site_db_end(m->db, st == EML_OK, st == EML_OK ? diag : NULL);
    if (st == EML_OK)
        st = st2;
fail:
    return st;
}

eml_status eml_manager_evaluate(eml_manager *m, const char *node_id, const char *model,
                                const eml_tensor *data, const eml_tensor *labels,
                                const char *dataset, eml_eval_result *result, eml_diag *diag)
{
    memset(result, 0, sizeof(*result));
    eml__node *node = NULL;
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st == EML_OK)
        st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    if (!node->transport->evaluate)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "node '%s': its transport '%s' cannot evaluate accuracy", node_id,
                         node->transport->name);
    uint32_t node_version = 0;
    st = node->transport->evaluate(node, model, data, labels, &node_version, result, diag);
    if (st != EML_OK)
        return st;
    char detail[200];
    snprintf(detail, sizeof(detail), "%s (%llu samples)", dataset && *dataset ? dataset : "data",
             (unsigned long long)result->count);
    return eml__manager_measure(m, model,
                                eml__site_db_site_version(m->db, node_id, model, node_version),
                                node_id, "accuracy_top1_pct", result->top1_pct, detail, diag);
}
