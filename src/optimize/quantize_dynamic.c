/* Dynamic INT8 for Gemm/MatMul, in the form ONNX Runtime's dynamic quantizer writes:
 * DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q int8 per column) -> Cast -> Mul by
 * x_scale * w_scale (-> Add bias). Activations are quantized at each run, so no calibration. */
#include <math.h>
#include <stdio.h>

#include "graph/passes/passes.h"
#include "optimize/optimize.h"

static float attr_f(const eml_node *n, const char *name, float dflt)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a && a->type == EML_ATTR_FLOAT ? a->f : dflt;
}

static int64_t attr_i(const eml_node *n, const char *name, int64_t dflt)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a && a->type == EML_ATTR_INT ? a->i : dflt;
}

/* Gemm (transA 0) or MatMul with a constant float [K, N] (or Gemm transB [N, K]) weight. */
static bool fits(const eml_graph *g, const eml_node *n)
{
    if ((n->op != EML_OP_Gemm && n->op != EML_OP_MatMul) || n->n_inputs < 2 || n->n_outputs < 1)
        return false;
    int32_t w = n->inputs[1];
    if (!eml__value_is_const(g, w) || g->values[w].dtype != EML_DTYPE_F32 ||
        g->values[w].rank != 2 || eml__value_is_const(g, n->inputs[0]))
        return false;
    if (n->op == EML_OP_Gemm) {
        if (attr_i(n, "transA", 0))
            return false;
        int32_t c = n->n_inputs > 2 ? n->inputs[2] : -1;
        if (c >= 0 && (!eml__value_is_const(g, c) || g->values[c].dtype != EML_DTYPE_F32))
            return false;
    }
    return true;
}

/* The quantized x of DynamicQuantizeLinear, made once per activation. */
typedef struct dq_cache {
    int32_t *q, *s, *zp;
} dq_cache;

static eml_status dynamic_input(eml_graph *g, int32_t x, dq_cache *c)
{
    if (c->q[x] >= 0)
        return EML_OK;
    char base[400];
    snprintf(base, sizeof(base), "%s", g->values[x].name);
    int32_t node, q, s, zp;
    eml_status st = eml__graph_new_value(g, base, "_quantized", &q);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, "_scale", &s);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, "_zero_point", &zp);
    if (st == EML_OK)
        st = eml__opt_add_node(g, base, "DynamicQuantizeLinear", 1, 3, 0, &node);
    if (st != EML_OK)
        return st;
    eml_node *n = &g->nodes[node];
    n->inputs[0] = x;
    n->outputs[0] = q;
    n->outputs[1] = s;
    n->outputs[2] = zp;
    c->q[x] = q;
    c->s[x] = s;
    c->zp[x] = zp;
    return EML_OK;
}

static eml_status rewrite(eml_graph *g, int32_t index, int per_tensor, dq_cache *c)
{
    const eml_node *n = &g->nodes[index];
    bool gemm = n->op == EML_OP_Gemm, trans_b = gemm && attr_i(n, "transB", 0);
    float alpha = gemm ? attr_f(n, "alpha", 1.0f) : 1.0f,
          beta = gemm ? attr_f(n, "beta", 1.0f) : 1.0f;
    int32_t x = n->inputs[0], w = n->inputs[1], bias = gemm && n->n_inputs > 2 ? n->inputs[2] : -1;
    int32_t y = n->outputs[0];
    int64_t k_count = g->values[w].dims[trans_b ? 1 : 0],
            n_count = g->values[w].dims[trans_b ? 0 : 1];
    char base[400];
    snprintf(base, sizeof(base), "%s", n->name && n->name[0] ? n->name : g->values[y].name);
    eml_status st = dynamic_input(g, x, c);
    if (st != EML_OK)
        return st;
    int32_t wq, ws, wz, y_int, y_f, s, y_scaled, mmi, cast, mul_s, mul_y, add = -1;
    void *wq_data, *ws_data, *wz_data;
    int64_t wdims[2] = {k_count, n_count}, cdims[1] = {n_count};
    EML_TRY(
        eml__opt_new_const(g, base, "_weight_quantized", EML_DTYPE_I8, 2, wdims, &wq, &wq_data));
    EML_TRY(eml__opt_new_const(g, base, "_weight_scale", EML_DTYPE_F32, 1, cdims, &ws, &ws_data));
    EML_TRY(eml__opt_new_const(g, base, "_weight_zero_point", EML_DTYPE_I8, per_tensor ? 0 : 1,
                               cdims, &wz, &wz_data));
    EML_TRY(eml__graph_new_value(g, base, "_int32", &y_int));
    EML_TRY(eml__graph_new_value(g, base, "_float", &y_f));
    EML_TRY(eml__graph_new_value(g, base, "_output_scale", &s));
    if (bias >= 0)
        EML_TRY(eml__graph_new_value(g, base, "_scaled", &y_scaled));
    else
        y_scaled = y;
    const float *wd = g->values[w].data;
    float *scale = ws_data;
    int8_t *q = wq_data;
    float all = 0;
    for (int64_t j = 0; j < n_count; j++) {
        float m = 0;
        for (int64_t k = 0; k < k_count; k++)
            m = fmaxf(m, fabsf(wd[trans_b ? j * k_count + k : k * n_count + j]));
        scale[j] = m;
        all = fmaxf(all, m);
    }
    for (int64_t j = 0; j < n_count; j++) {
        float m = per_tensor ? all : scale[j];
        scale[j] = m > 0 && isfinite(m) ? m / 127.0f : 1.0f;
    }
    for (int64_t k = 0; k < k_count; k++)
        for (int64_t j = 0; j < n_count; j++) {
            float v = roundf(wd[trans_b ? j * k_count + k : k * n_count + j] / scale[j]);
            q[k * n_count + j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    for (int64_t j = 0; j < n_count; j++)
        scale[j] *= alpha;
    if (bias >= 0 && beta != 1.0f) {
        eml_tensor bt;
        eml__value_const(g, bias, &bt);
        int32_t nb;
        void *nb_data;
        EML_TRY(
            eml__opt_new_const(g, base, "_bias", EML_DTYPE_F32, bt.rank, bt.dims, &nb, &nb_data));
        const float *bd = g->values[bias].data;
        for (int64_t i = 0; i < eml_tensor_count(&bt); i++)
            ((float *)nb_data)[i] = beta * bd[i];
        bias = nb;
    }
    EML_TRY(eml__opt_add_node(g, base, "MatMulInteger", 4, 1, 0, &mmi));
    EML_TRY(eml__opt_add_node(g, base, "Cast", 1, 1, 1, &cast));
    EML_TRY(eml__opt_add_node(g, base, "Mul", 2, 1, 0, &mul_s));
    EML_TRY(eml__opt_add_node(g, base, "Mul", 2, 1, 0, &mul_y));
    if (bias >= 0)
        EML_TRY(eml__opt_add_node(g, base, "Add", 2, 1, 0, &add));
    eml_node *m = &g->nodes[mmi];
    m->inputs[0] = c->q[x];
    m->inputs[1] = wq;
    m->inputs[2] = c->zp[x];
    m->inputs[3] = wz;
    m->outputs[0] = y_int;
    m = &g->nodes[cast];
    EML_TRY(eml__node_attr_int(g, m, 0, "to", EML_DTYPE_F32));
    m->inputs[0] = y_int;
    m->outputs[0] = y_f;
    m = &g->nodes[mul_s];
    m->inputs[0] = c->s[x];
    m->inputs[1] = ws;
    m->outputs[0] = s;
    m = &g->nodes[mul_y];
    m->inputs[0] = y_f;
    m->inputs[1] = s;
    m->outputs[0] = y_scaled;
    if (add >= 0) {
        m = &g->nodes[add];
        m->inputs[0] = y_scaled;
        m->inputs[1] = bias;
        m->outputs[0] = y;
    }
fail:
    return st;
}

eml_status eml__quantize_dynamic(eml_graph *g, int per_tensor, size_t *n_layers, eml_diag *diag)
{
    eml_env *env = g->env;
    size_t n_nodes0 = g->n_nodes, n_values0 = g->n_values;
    *n_layers = 0;
    dq_cache c = {NULL, NULL, NULL};
    uint8_t *dead = eml__calloc(env, EML_MAX(n_nodes0, 1), 1);
    c.q = eml__alloc(env, EML_MAX(n_values0, 1) * sizeof(int32_t));
    c.s = eml__alloc(env, EML_MAX(n_values0, 1) * sizeof(int32_t));
    c.zp = eml__alloc(env, EML_MAX(n_values0, 1) * sizeof(int32_t));
    eml_status st = EML_OK;
    if (!dead || !c.q || !c.s || !c.zp) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t v = 0; v < n_values0; v++)
        c.q[v] = c.s[v] = c.zp[v] = -1;
    for (size_t i = 0; i < n_nodes0; i++) {
        if (!fits(g, &g->nodes[i]))
            continue;
        EML_TRY(rewrite(g, (int32_t)i, per_tensor, &c));
        dead[i] = 1;
        (*n_layers)++;
    }
    if (*n_layers == 0) {
        st = eml__diag(diag, EML_EINVAL,
                       "nothing to quantize dynamically: the model has no Gemm or MatMul with "
                       "a constant 2-D float weight");
        goto fail;
    }
    uint8_t *grown = eml__calloc(env, g->n_nodes, 1);
    if (!grown) {
        st = EML_ENOMEM;
        goto fail;
    }
    memcpy(grown, dead, n_nodes0);
    eml__graph_remove_nodes(g, grown);
    eml__free(env, grown);
    /* weights no node reads any more */
    EML_TRY(eml__drop_unused_consts(g));
    st = eml__graph_sort(g, diag);
fail:
    eml__free(env, dead);
    eml__free(env, c.q);
    eml__free(env, c.s);
    eml__free(env, c.zp);
    return st;
}
