/* Mixed precision and the per-layer measurements behind it: output SQNR of each layer against
 * float32, accuracy lost with one layer quantized at a time, and the greedy choice of layers
 * kept in float16 until the accuracy budget holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "optimize/optimize.h"

/* SQNR uses the first samples of the calibration set: few for big inputs, whose inner values
 * would otherwise take hundreds of MB. */
#define SQNR_SAMPLES 32
#define SQNR_SAMPLES_BIG 2
#define BIG_INPUT_VALUES 4096

typedef struct sqnr_state {
    eml_env *env;
    size_t n;
    float **ref; /* per value: the float32 run's data */
    int64_t *count;
    double *signal, *noise;
    int pass; /* 0: store the reference, 1: compare */
} sqnr_state;

static eml_status sqnr_fn(void *user, const eml_tensor *values, size_t n_ids, uint64_t first)
{
    sqnr_state *s = user;
    (void)first;
    for (size_t i = 0; i < n_ids; i++) {
        const eml_tensor *t = &values[i];
        if (t->dtype != EML_DTYPE_F32)
            continue;
        int64_t count = eml_tensor_count(t);
        if (s->pass == 0) {
            /* one batch only: SQNR runs on a data view of a single batch */
            eml__free(s->env, s->ref[i]);
            s->ref[i] = eml__alloc(s->env, (size_t)EML_MAX(count, 1) * sizeof(float));
            if (!s->ref[i])
                return EML_ENOMEM;
            memcpy(s->ref[i], t->data, (size_t)count * sizeof(float));
            s->count[i] = count;
            continue;
        }
        if (count != s->count[i] || !s->ref[i])
            continue;
        const float *q = t->data, *r = s->ref[i];
        for (int64_t k = 0; k < count; k++) {
            double d = (double)r[k] - q[k];
            s->signal[i] += (double)r[k] * r[k];
            s->noise[i] += d * d;
        }
    }
    return EML_OK;
}

eml_status eml__layer_sqnr(eml_graph *ref, eml_graph *quant, const eml_qplan *plan,
                           const eml_quantize_options *opts, eml_quantize_report *report,
                           eml_diag *diag)
{
    eml_env *env = ref->env;
    size_t n = plan->n_layers;
    sqnr_state s = {env, n, NULL, NULL, NULL, NULL, 0};
    int32_t *ref_ids = eml__alloc(env, EML_MAX(n, 1) * sizeof(int32_t));
    int32_t *q_ids = eml__alloc(env, EML_MAX(n, 1) * sizeof(int32_t));
    s.ref = eml__calloc(env, EML_MAX(n, 1), sizeof(float *));
    s.count = eml__calloc(env, EML_MAX(n, 1), sizeof(int64_t));
    s.signal = eml__calloc(env, EML_MAX(n, 1), sizeof(double));
    s.noise = eml__calloc(env, EML_MAX(n, 1), sizeof(double));
    eml_status st = EML_OK;
    if (!ref_ids || !q_ids || !s.ref || !s.count || !s.signal || !s.noise) {
        st = EML_ENOMEM;
        goto fail;
    }
    size_t m = 0;
    for (size_t l = 0; l < n; l++) {
        int32_t v = eml__layer_post(ref, plan->layers[l].node);
        int32_t qv = eml__graph_find(quant, ref->values[v].name);
        ref_ids[m] = v;
        q_ids[m] = qv;
        m += qv >= 0;
    }
    const eml_tensor *calib = opts->calib;
    int64_t per = eml_tensor_count(calib) / calib->dims[0];
    const eml_value *in = &ref->values[ref->inputs[0]];
    int64_t samples = per > BIG_INPUT_VALUES ? SQNR_SAMPLES_BIG : SQNR_SAMPLES;
    /* one run: the reference values of one batch are kept */
    if (in->dims[0] > 0)
        samples = in->dims[0];
    samples = EML_MIN(samples, calib->dims[0]);
    eml_tensor view = *calib;
    view.dims[0] = samples;
    EML_TRY(eml__observe(ref, &view, (uint32_t)samples, 0, ref_ids, m, sqnr_fn, &s, diag));
    s.pass = 1;
    EML_TRY(eml__observe(quant, &view, (uint32_t)samples, 0, q_ids, m, sqnr_fn, &s, diag));
    size_t k = 0;
    for (size_t l = 0; l < n && l < report->layer_count; l++) {
        int32_t v = eml__layer_post(ref, plan->layers[l].node);
        if (k < m && ref_ids[k] == v) {
            report->layers[l].sqnr_db =
                s.noise[k] > 0 ? 10.0 * log10(s.signal[k] / s.noise[k]) : INFINITY;
            k++;
        }
    }
fail:
    for (size_t i = 0; s.ref && i < n; i++)
        eml__free(env, s.ref[i]);
    eml__free(env, s.ref);
    eml__free(env, s.count);
    eml__free(env, s.signal);
    eml__free(env, s.noise);
    eml__free(env, ref_ids);
    eml__free(env, q_ids);
    return st;
}

/* Top-1 % of a copy of g quantized as plan says (layers not included kept in float16). */
static eml_status try_plan(const eml_graph *g, const eml_qplan *plan, int per_tensor,
                           const eml_tensor *data, const eml_tensor *labels, double *acc,
                           eml_graph **keep, eml_diag *diag)
{
    eml_graph *c = NULL;
    eml_status st = eml__graph_clone(g, &c);
    uint8_t *fp16 = NULL;
    if (st != EML_OK)
        return st;
    fp16 = eml__calloc(g->env, EML_MAX(c->n_nodes, 1), 1);
    if (!fp16) {
        st = EML_ENOMEM;
        goto fail;
    }
    bool any = false;
    for (size_t l = 0; l < plan->n_layers; l++) {
        if (!plan->include[l]) {
            fp16[plan->layers[l].node] = 1;
            any = true;
        }
    }
    /* float16 Casts are appended, so layer node indices stay valid for the static rewrite */
    if (any)
        EML_TRY(eml__convert_fp16(c, fp16, diag));
    EML_TRY(eml__quantize_static(c, plan, per_tensor, diag));
    eml_eval_result r;
    EML_TRY(eml_eval_classifier(c, data, labels, NULL, &r, NULL, diag));
    *acc = r.top1_pct;
fail:
    eml__free(g->env, fp16);
    if (st == EML_OK && keep)
        *keep = c;
    else
        eml_graph_destroy(c);
    return st;
}

eml_status eml__quantize_mixed(eml_graph *g, eml_qplan *plan, const eml_quantize_options *opts,
                               eml_quantize_report *report, eml_diag *diag)
{
    eml_env *env = g->env;
    size_t n = plan->n_layers;
    const eml_tensor *data = opts->eval_data, *labels = opts->eval_labels;
    eml_tensor own_labels = {EML_DTYPE_I32, 1, {0}, NULL};
    double *sens = eml__alloc(env, EML_MAX(n, 1) * sizeof(double));
    size_t *order = eml__alloc(env, EML_MAX(n, 1) * sizeof(size_t));
    uint8_t *all = eml__alloc(env, EML_MAX(n, 1));
    eml_graph *best = NULL;
    eml_status st = EML_OK;
    if (!sens || !order || !all) {
        st = EML_ENOMEM;
        goto fail;
    }
    memcpy(all, plan->include, n);
    if (!data || !labels) {
        /* no labelled set: accuracy is agreement with float32 on the calibration set */
        data = opts->calib;
        own_labels.dims[0] = data->dims[0];
        own_labels.data = eml__alloc(env, (size_t)data->dims[0] * sizeof(int32_t));
        if (!own_labels.data) {
            st = EML_ENOMEM;
            goto fail;
        }
        eml_eval_result r0;
        memset(own_labels.data, 0, (size_t)data->dims[0] * sizeof(int32_t));
        EML_TRY(eml_eval_classifier(g, data, &own_labels, NULL, &r0, own_labels.data, diag));
        labels = &own_labels;
    }
    eml_eval_result fp32;
    EML_TRY(eml_eval_classifier(g, data, labels, NULL, &fp32, NULL, diag));
    report->accuracy_fp32 = fp32.top1_pct;
    /* sensitivity: accuracy lost when only layer l is quantized */
    plan->others = 0;
    for (size_t l = 0; l < n; l++) {
        memset(plan->include, 0, n);
        plan->include[l] = 1;
        double acc;
        EML_TRY(try_plan(g, plan, opts->per_tensor, data, labels, &acc, NULL, diag));
        sens[l] = fp32.top1_pct - acc;
        if (l < report->layer_count)
            report->layers[l].sensitivity = sens[l];
        order[l] = l;
    }
    for (size_t i = 1; i < n; i++) { /* most sensitive first; stable */
        size_t v = order[i], j = i;
        while (j > 0 && sens[order[j - 1]] < sens[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    /* all layers in int8, then keep the most sensitive in float16 one by one */
    memcpy(plan->include, all, n);
    double target = fp32.top1_pct - opts->accuracy_budget, acc = 0;
    for (size_t k = 0; k <= n; k++) {
        if (k > 0)
            plan->include[order[k - 1]] = 0;
        plan->others = k == 0;
        eml_graph_destroy(best);
        best = NULL;
        EML_TRY(try_plan(g, plan, opts->per_tensor, data, labels, &acc, &best, diag));
        if (acc >= target - 1e-9)
            break;
    }
    report->accuracy_mixed = acc;
    for (size_t l = 0; l < n && l < report->layer_count; l++)
        report->layers[l].precision = plan->include[l] ? "int8" : "fp16";
    /* the chosen graph replaces g's contents: swap the two structures */
    eml_graph tmp = *g;
    *g = *best;
    *best = tmp;
    for (size_t i = 0; i < g->n_nodes; i++) /* subgraphs name their enclosing graph */
        for (int32_t a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g)
                g->nodes[i].attrs[a].g->parent = g;
fail:
    eml_graph_destroy(best);
    eml__free(env, own_labels.data);
    eml__free(env, sens);
    eml__free(env, order);
    eml__free(env, all);
    return st;
}
