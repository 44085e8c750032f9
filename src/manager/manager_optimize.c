/* Optimization of the site's models: quantize or prune the latest version of a model
 * into a new model of the site that records where it came from. Nothing is deployed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "manager/manager.h"

static const char *precision_name(eml_precision p)
{
    switch (p) {
    case EML_PRECISION_INT8:
        return "int8";
    case EML_PRECISION_INT8_DYNAMIC:
        return "int8-dynamic";
    case EML_PRECISION_FP16:
        return "fp16";
    case EML_PRECISION_MIXED:
        return "mixed";
    }
    return NULL;
}

/* Records graph (written to a file first) as a version of new_id, derived from `parent`. */
static eml_status record_derived(eml_manager *m, const eml_graph *g, const eml__db_model *parent,
                                 const char *new_id, const char *derivation, eml_derive_result *res,
                                 eml_diag *diag)
{
    eml__db_model row;
    eml_status st = eml__site_db_model_get(m->db, new_id, &row, NULL);
    if (st == EML_OK && strcmp(row.parent, parent->id) != 0)
        return eml__diag(diag, EML_EINVAL,
                         "model '%s' is already in site '%s' and was not made from '%s': choose "
                         "another id",
                         new_id, m->site, parent->id);
    char tmp[2300];
    snprintf(tmp, sizeof(tmp), "%s/artifacts/.derive-%ld.onnx", m->dir, (long)getpid());
    st = eml_graph_save_onnx(g, tmp, diag);
    eml__db_version v;
    memset(&v, 0, sizeof(v));
    snprintf(v.model, sizeof(v.model), "%s", new_id);
    if (st == EML_OK)
        st = eml__manager_store_file(m, tmp, v.sha256, &v.bytes, v.file, sizeof(v.file), diag);
    remove(tmp);
    if (st != EML_OK)
        return st;
    eml__manager_shapes_json(g, 0, v.inputs, sizeof(v.inputs));
    eml__manager_shapes_json(g, 1, v.outputs, sizeof(v.outputs));
    memset(&row, 0, sizeof(row));
    snprintf(row.id, sizeof(row.id), "%s", new_id);
    snprintf(row.name, sizeof(row.name), "%.100s (%s)", parent->name, derivation);
    snprintf(row.type, sizeof(row.type), "%s", parent->type);
    snprintf(row.parent, sizeof(row.parent), "%s", parent->id);
    snprintf(row.derivation, sizeof(row.derivation), "%s", derivation);
    st = eml__site_db_begin(m->db, diag);
    if (st != EML_OK)
        return st;
    st = eml__site_db_model_put(m->db, &row, diag);
    if (st == EML_OK)
        st = eml__site_db_version_add(m->db, &v, &res->version, diag);
    eml_status st2 = eml__site_db_end(m->db, st == EML_OK, st == EML_OK ? diag : NULL);
    if (st != EML_OK)
        return st;
    snprintf(res->id, sizeof(res->id), "%s", new_id);
    snprintf(res->sha256, sizeof(res->sha256), "%s", v.sha256);
    res->bytes_after = v.bytes;
    return st2;
}

eml_status eml_manager_quantize(eml_manager *m, const char *model, const char *new_id,
                                const eml_quantize_options *opts, eml_derive_result *result,
                                eml_diag *diag)
{
    eml_derive_result res;
    memset(&res, 0, sizeof(res));
    if (result)
        *result = res;
    eml_quantize_options qo;
    eml_quantize_options_init(&qo);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(qo))
            return eml__diag(diag, EML_EINVAL, "quantize options: struct_size not set");
        memcpy(&qo, opts, opts->struct_size);
    }
    const char *prec = precision_name(qo.precision);
    if (!prec)
        return eml__diag(diag, EML_EINVAL, "quantize options: unknown precision %d",
                         (int)qo.precision);
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st != EML_OK)
        return st;
    char id[EML_MANAGER_MAX_ID + 1];
    if (new_id)
        snprintf(id, sizeof(id), "%s", new_id);
    else if ((size_t)snprintf(id, sizeof(id), "%s-%s", model,
                              qo.precision == EML_PRECISION_INT8_DYNAMIC ? "int8dyn" : prec) >=
             sizeof(id))
        return eml__diag(diag, EML_EINVAL, "model id '%s' too long to name its quantized form",
                         model);
    if (!eml__manager_name_ok(id))
        return eml__diag(diag, EML_EINVAL, "bad model id '%.80s'", id);
    eml__db_model parent;
    eml__db_version v;
    EML_TRY(eml__site_db_model_get(m->db, model, &parent, diag));
    st = eml__site_db_version_get(m->db, model, 0, &v, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "model '%s' has no version in site '%s'", model, m->site);
    if (st != EML_OK)
        return st;
    char path[3100];
    snprintf(path, sizeof(path), "%s/%s", m->dir, v.file);
    eml_env *env = NULL;
    eml_graph *g = NULL;
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = m->n_threads;
    EML_TRY(eml_env_create(&eo, &env));
    EML_TRY(eml_graph_load_onnx(env, path, &g, diag));
    EML_TRY(eml_quantize(g, &qo, NULL, diag));
    res.bytes_before = v.bytes;
    EML_TRY(record_derived(m, g, &parent, id, prec, &res, diag));
    if (result)
        *result = res;
fail:
    eml_graph_destroy(g);
    eml_env_destroy(env);
    return st;
}

eml_status eml_manager_prune(eml_manager *m, const char *model, const char *new_id,
                             const eml_prune_options *opts, eml_derive_result *result,
                             eml_diag *diag)
{
    eml_derive_result res;
    memset(&res, 0, sizeof(res));
    if (result)
        *result = res;
    eml_prune_options po;
    eml_prune_options_init(&po);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(po))
            return eml__diag(diag, EML_EINVAL, "prune options: struct_size not set");
        memcpy(&po, opts, opts->struct_size);
    }
    if (!(po.sparsity >= 0 && po.sparsity < 1))
        return eml__diag(diag, EML_EINVAL, "prune options: sparsity %g is not in [0, 1)",
                         (double)po.sparsity);
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st != EML_OK)
        return st;
    int pct = (int)(po.sparsity * 100 + 0.5f);
    int channels = po.method == EML_PRUNE_CHANNELS;
    char id[EML_MANAGER_MAX_ID + 1], derivation[64];
    snprintf(derivation, sizeof(derivation), "pruned %d%%%s", pct, channels ? " channels" : "");
    if (new_id)
        snprintf(id, sizeof(id), "%s", new_id);
    else if ((size_t)snprintf(id, sizeof(id), "%s-%spruned%d", model, channels ? "ch" : "", pct) >=
             sizeof(id))
        return eml__diag(diag, EML_EINVAL, "model id '%s' too long to name its pruned form", model);
    if (!eml__manager_name_ok(id))
        return eml__diag(diag, EML_EINVAL, "bad model id '%.80s'", id);
    eml__db_model parent;
    eml__db_version v;
    EML_TRY(eml__site_db_model_get(m->db, model, &parent, diag));
    st = eml__site_db_version_get(m->db, model, 0, &v, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "model '%s' has no version in site '%s'", model, m->site);
    if (st != EML_OK)
        return st;
    char path[3100];
    snprintf(path, sizeof(path), "%s/%s", m->dir, v.file);
    eml_env *env = NULL;
    eml_graph *g = NULL;
    eml_prune_report report;
    memset(&report, 0, sizeof(report));
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = m->n_threads;
    EML_TRY(eml_env_create(&eo, &env));
    EML_TRY(eml_graph_load_onnx(env, path, &g, diag));
    EML_TRY(eml_prune(g, &po, &report, diag));
    res.bytes_before = v.bytes;
    res.sparsity = report.sparsity;
    EML_TRY(record_derived(m, g, &parent, id, derivation, &res, diag));
    if (result)
        *result = res;
fail:
    eml_prune_report_deinit(&report);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    return st;
}
