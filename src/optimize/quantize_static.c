/* Static INT8 in ONNX QDQ form: int8 per-channel weights and int32 biases behind
 * DequantizeLinear, uint8 activations through QuantizeLinear -> DequantizeLinear. */
#include <math.h>
#include <stdio.h>

#include "graph/passes/passes.h"
#include "optimize/optimize.h"

static bool is_float_const(const eml_graph *g, int32_t v)
{
    return v >= 0 && eml__value_is_const(g, v) && g->values[v].dtype == EML_DTYPE_F32;
}

static bool is_float_activation(const eml_graph *g, int32_t v)
{
    if (v < 0 || (g->values[v].flags & EML_VALUE_INITIALIZER))
        return false;
    const eml_value *val = &g->values[v];
    /* undeclared inner values of a float model are float; declared ones say so */
    return val->dtype == EML_DTYPE_F32 || val->dtype == EML_DTYPE_UNDEFINED;
}

static int64_t attr_int(const eml_node *n, const char *name, int64_t dflt)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a && a->type == EML_ATTR_INT ? a->i : dflt;
}

static float attr_float(const eml_node *n, const char *name, float dflt)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a && a->type == EML_ATTR_FLOAT ? a->f : dflt;
}

/* Fills *out when node i is a layer with a constant float weight. */
static bool find_layer(const eml_graph *g, int32_t i, eml_qlayer *out)
{
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs < 1 || !is_float_activation(g, n->inputs[0]))
        return false;
    int32_t w = n->inputs[1];
    if (!is_float_const(g, w))
        return false;
    int rank = g->values[w].rank;
    out->node = i;
    out->weight = 1;
    if (n->op == EML_OP_Conv && rank >= 3)
        out->axis = 0;
    else if (n->op == EML_OP_Gemm && rank == 2)
        out->axis = attr_int(n, "transB", 0) ? 0 : 1;
    else if (n->op == EML_OP_MatMul && rank == 2)
        out->axis = 1;
    else
        return false;
    return true;
}

int32_t eml__layer_post(const eml_graph *g, int32_t node)
{
    int32_t out = g->nodes[node].outputs[0];
    int32_t reader = -1, readers = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] == out) {
                readers++;
                reader = (int32_t)i;
            }
        }
    }
    if (readers != 1 || (g->values[out].flags & EML_VALUE_OUTPUT))
        return out;
    const eml_node *a = &g->nodes[reader];
    bool act = a->op == EML_OP_Relu ||
               (a->op == EML_OP_Clip &&
                (a->n_inputs < 2 || a->inputs[1] < 0 || eml__value_is_const(g, a->inputs[1])) &&
                (a->n_inputs < 3 || a->inputs[2] < 0 || eml__value_is_const(g, a->inputs[2])));
    return act && a->inputs[0] == out && a->n_outputs >= 1 ? a->outputs[0] : out;
}

static bool is_other_op(const eml_node *n)
{
    switch (n->op) {
    case EML_OP_Add:
    case EML_OP_AveragePool:
    case EML_OP_GlobalAveragePool:
    case EML_OP_Concat:
        return n->n_outputs >= 1;
    case EML_OP_MaxPool:
        return n->n_outputs == 1 || n->outputs[1] < 0;
    default:
        return false;
    }
}

/* The activations a rewrite quantizes (want[v] = 1): around included layers, and with `others`
 * around every Add, pool and Concat and on graph inputs; without, around those whose inputs are
 * all quantized already. */
static void mark_tensors(const eml_graph *g, const eml_qplan *plan, int others, uint8_t *want)
{
    memset(want, 0, g->n_values);
    for (size_t l = 0; l < plan->n_layers; l++) {
        if (!plan->include[l])
            continue;
        const eml_node *n = &g->nodes[plan->layers[l].node];
        want[n->inputs[0]] = 1;
        want[eml__layer_post(g, plan->layers[l].node)] = 1;
    }
    if (others) {
        for (size_t i = 0; i < g->n_inputs; i++)
            if (is_float_activation(g, g->inputs[i]))
                want[g->inputs[i]] = 1;
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < g->n_nodes; i++) {
            const eml_node *n = &g->nodes[i];
            if (!is_other_op(n))
                continue;
            bool all = true, any = false;
            for (int32_t k = 0; k < n->n_inputs; k++) {
                int32_t v = n->inputs[k];
                if (k > 0 && n->op != EML_OP_Add && n->op != EML_OP_Concat)
                    break;
                if (!is_float_activation(g, v)) {
                    if (v >= 0 && !eml__value_is_const(g, v))
                        all = false;
                    continue;
                }
                any = true;
                all = all && want[v];
            }
            if (!any || (!others && !all))
                continue;
            for (int32_t k = 0; k < n->n_inputs; k++) {
                int32_t v = n->inputs[k];
                if (k > 0 && n->op != EML_OP_Add && n->op != EML_OP_Concat)
                    break;
                if (is_float_activation(g, v))
                    want[v] = 1;
            }
            want[n->op == EML_OP_Add ? eml__layer_post(g, (int32_t)i) : n->outputs[0]] = 1;
        }
    }
}

eml_status eml__qplan_build(const eml_graph *g, eml_qplan *plan, eml_diag *diag)
{
    eml_env *env = g->env;
    memset(plan, 0, sizeof(*plan));
    plan->others = 1;
    uint8_t *want = NULL;
    eml_status st = EML_OK;
    plan->layers = eml__alloc(env, EML_MAX(g->n_nodes, 1) * sizeof(eml_qlayer));
    plan->include = eml__alloc(env, EML_MAX(g->n_nodes, 1));
    want = eml__alloc(env, EML_MAX(g->n_values, 1));
    if (!plan->layers || !plan->include || !want) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (find_layer(g, (int32_t)i, &plan->layers[plan->n_layers])) {
            plan->include[plan->n_layers] = 1;
            plan->n_layers++;
        }
    }
    if (plan->n_layers == 0) {
        st = eml__diag(diag, EML_EINVAL,
                       "nothing to quantize: the model has no Conv, Gemm or MatMul with a "
                       "constant float weight");
        goto fail;
    }
    mark_tensors(g, plan, 1, want);
    for (size_t v = 0; v < g->n_values; v++)
        plan->n_tensors += want[v];
    plan->tensors = eml__alloc(env, EML_MAX(plan->n_tensors, 1) * sizeof(int32_t));
    plan->ranges = eml__calloc(env, EML_MAX(plan->n_tensors, 1), sizeof(eml_qrange));
    if (!plan->tensors || !plan->ranges) {
        st = EML_ENOMEM;
        goto fail;
    }
    plan->n_tensors = 0;
    for (size_t v = 0; v < g->n_values; v++)
        if (want[v])
            plan->tensors[plan->n_tensors++] = (int32_t)v;
fail:
    eml__free(env, want);
    return st;
}

void eml__qplan_deinit(eml_env *env, eml_qplan *plan)
{
    eml__free(env, plan->layers);
    eml__free(env, plan->include);
    eml__free(env, plan->tensors);
    eml__free(env, plan->ranges);
    memset(plan, 0, sizeof(*plan));
}

static const eml_qrange *range_of(const eml_qplan *plan, int32_t v)
{
    for (size_t i = 0; i < plan->n_tensors; i++)
        if (plan->tensors[i] == v)
            return &plan->ranges[i];
    return NULL;
}

/* A new initializer of the given type and shape, zeroed; *data points to it. */
eml_status eml__opt_new_const(eml_graph *g, const char *base, const char *suffix, eml_dtype dtype,
                              int rank, const int64_t *dims, int32_t *id, void **data)
{
    eml_tensor t = {dtype, rank, {0}, NULL};
    for (int d = 0; d < rank; d++)
        t.dims[d] = dims[d];
    size_t bytes = eml_tensor_bytes(&t);
    t.data = eml__calloc(g->env, 1, bytes ? bytes : 1);
    if (!t.data)
        return EML_ENOMEM;
    eml_status st = eml__graph_new_const(g, base, suffix, &t, id);
    if (st != EML_OK) {
        eml__free(g->env, t.data);
        return st;
    }
    *data = t.data;
    return EML_OK;
}

/* Appends a default-domain node with its op resolved; returns its index in *index. */
eml_status eml__opt_add_node(eml_graph *g, const char *base, const char *op_type, int32_t n_in,
                             int32_t n_out, int32_t n_attrs, int32_t *index)
{
    char name[512];
    snprintf(name, sizeof(name), "%s_%s", base, op_type);
    /* ONNX Runtime refuses two nodes of one name */
    for (unsigned k = 2;; k++) {
        bool taken = false;
        for (size_t i = 0; i < g->n_nodes && !taken; i++)
            taken = g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0;
        if (!taken)
            break;
        snprintf(name, sizeof(name), "%s_%s_%u", base, op_type, k);
    }
    eml_node *n;
    eml_status st = eml__graph_add_node(g, name, op_type, "", n_in, n_out, n_attrs, &n);
    if (st != EML_OK)
        return st;
    n->op = eml__op_find("", op_type);
    n->opset = (int32_t)eml__graph_opset(g, "");
    *index = (int32_t)(g->n_nodes - 1);
    return EML_OK;
}

/* Weight of layer l as int8 symmetric (per channel of the layer's axis, or per tensor) behind a
 * DequantizeLinear; w_scale receives the scales (per channel, or all equal). */
static eml_status quantize_weight(eml_graph *g, const eml_qlayer *l, int per_tensor, float *w_scale,
                                  int64_t *channels)
{
    int32_t w = g->nodes[l->node].inputs[l->weight];
    const eml_value *wv = &g->values[w];
    int rank = wv->rank;
    int64_t dims[EML_MAX_RANK];
    memcpy(dims, wv->dims, sizeof(dims));
    int64_t c_count = dims[l->axis], inner = 1, outer = 1;
    for (int d = l->axis + 1; d < rank; d++)
        inner *= dims[d];
    for (int d = 0; d < l->axis; d++)
        outer *= dims[d];
    const float *x = wv->data;
    for (int64_t c = 0; c < c_count; c++)
        w_scale[c] = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < c_count; c++)
            for (int64_t k = 0; k < inner; k++)
                w_scale[c] = fmaxf(w_scale[c], fabsf(x[(o * c_count + c) * inner + k]));
    float all = 0;
    for (int64_t c = 0; c < c_count; c++)
        all = fmaxf(all, w_scale[c]);
    for (int64_t c = 0; c < c_count; c++) {
        float m = per_tensor ? all : w_scale[c];
        w_scale[c] = m > 0 && isfinite(m) ? m / 127.0f : 1.0f;
    }
    *channels = c_count;
    const char *base = wv->name;
    int32_t q_id, s_id, z_id, dq_out, dq;
    void *q_data, *s_data, *z_data;
    int64_t cdims[1] = {c_count};
    eml_status st = eml__opt_new_const(g, base, "_q", EML_DTYPE_I8, rank, dims, &q_id, &q_data);
    if (st == EML_OK)
        st = eml__opt_new_const(g, base, "_s", EML_DTYPE_F32, per_tensor ? 0 : 1, cdims, &s_id,
                                &s_data);
    if (st == EML_OK)
        st = eml__opt_new_const(g, base, "_zp", EML_DTYPE_I8, per_tensor ? 0 : 1, cdims, &z_id,
                                &z_data);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, "_dq", &dq_out);
    if (st == EML_OK)
        st = eml__opt_add_node(g, base, "DequantizeLinear", 3, 1, per_tensor ? 0 : 1, &dq);
    if (st != EML_OK)
        return st;
    x = g->values[w].data; /* values may have moved */
    int8_t *q = q_data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < c_count; c++)
            for (int64_t k = 0; k < inner; k++) {
                int64_t at = (o * c_count + c) * inner + k;
                float v = roundf(x[at] / w_scale[c]);
                q[at] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
    if (per_tensor)
        *(float *)s_data = w_scale[0];
    else
        memcpy(s_data, w_scale, (size_t)c_count * sizeof(float));
    eml_node *n = &g->nodes[dq];
    n->inputs[0] = q_id;
    n->inputs[1] = s_id;
    n->inputs[2] = z_id;
    n->outputs[0] = dq_out;
    if (!per_tensor)
        EML_TRY(eml__node_attr_int(g, n, 0, "axis", l->axis));
    g->nodes[l->node].inputs[l->weight] = dq_out;
fail:
    return st;
}

/* Bias (input 2, float [channels]) as int32 with scale x_scale * w_scale[c] behind a
 * DequantizeLinear; left float when it has another shape or the layer scales it (Gemm alpha,
 * beta). */
static eml_status quantize_bias(eml_graph *g, const eml_qlayer *l, int per_tensor, float x_scale,
                                const float *w_scale, int64_t channels)
{
    const eml_node *layer = &g->nodes[l->node];
    if (layer->n_inputs < 3 || !is_float_const(g, layer->inputs[2]))
        return EML_OK;
    if (layer->op == EML_OP_Gemm &&
        (attr_float(layer, "alpha", 1.0f) != 1.0f || attr_float(layer, "beta", 1.0f) != 1.0f))
        return EML_OK;
    int32_t b = layer->inputs[2];
    if (g->values[b].rank != 1 || g->values[b].dims[0] != channels)
        return EML_OK;
    const char *base = g->values[b].name;
    int32_t q_id, s_id, dq_out, dq;
    void *q_data, *s_data;
    int64_t cdims[1] = {channels};
    eml_status st = eml__opt_new_const(g, base, "_q", EML_DTYPE_I32, 1, cdims, &q_id, &q_data);
    if (st == EML_OK)
        st = eml__opt_new_const(g, base, "_s", EML_DTYPE_F32, per_tensor ? 0 : 1, cdims, &s_id,
                                &s_data);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, "_dq", &dq_out);
    if (st == EML_OK)
        st = eml__opt_add_node(g, base, "DequantizeLinear", 2, 1, per_tensor ? 0 : 1, &dq);
    if (st != EML_OK)
        return st;
    const float *x = g->values[b].data;
    int32_t *q = q_data;
    float *s = s_data;
    for (int64_t c = 0; c < channels; c++) {
        float scale = x_scale * w_scale[per_tensor ? 0 : c];
        if (!(scale > 0))
            scale = 1.0f;
        if (!per_tensor || c == 0)
            s[c] = scale;
        double v = nearbyint((double)x[c] / scale);
        q[c] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < -(double)INT32_MAX ? -INT32_MAX : v);
    }
    /* no zero point input: 0, as the int32 bias of the QDQ form always has */
    eml_node *n = &g->nodes[dq];
    n->inputs[0] = q_id;
    n->inputs[1] = s_id;
    n->outputs[0] = dq_out;
    if (!per_tensor)
        EML_TRY(eml__node_attr_int(g, n, 0, "axis", 0));
    g->nodes[l->node].inputs[2] = dq_out;
fail:
    return st;
}

/* tensor -> QuantizeLinear -> DequantizeLinear -> every reader, the name kept by the last. */
static eml_status quantize_activation(eml_graph *g, int32_t t, const eml_qrange *r)
{
    /* helper names are short: activation names are long and each helper is named several
     * times in the file, which would otherwise grow the model by a few percent */
    char base[32];
    snprintf(base, sizeof(base), "qdq%d", (int)t);
    int32_t s_id, z_id, q_out, other, qn, dqn;
    void *s_data, *z_data;
    eml_status st = eml__opt_new_const(g, base, "_s", EML_DTYPE_F32, 0, NULL, &s_id, &s_data);
    if (st == EML_OK)
        st = eml__opt_new_const(g, base, "_zp", EML_DTYPE_U8, 0, NULL, &z_id, &z_data);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, "_q", &q_out);
    if (st == EML_OK)
        st = eml__graph_new_value(g, base, g->values[t].producer >= 0 ? "_f" : "_dq", &other);
    if (st != EML_OK)
        return st;
    *(float *)s_data = r->scale;
    *(uint8_t *)z_data = r->zero_point;
    int32_t producer = g->values[t].producer;
    if (producer < 0) {
        /* a graph input keeps its name: its readers move to the dequantized copy */
        for (size_t i = 0; i < g->n_nodes; i++) {
            eml_node *n = &g->nodes[i];
            for (int32_t k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] == t)
                    n->inputs[k] = other;
        }
    } else {
        eml_node *p = &g->nodes[producer];
        for (int32_t k = 0; k < p->n_outputs; k++)
            if (p->outputs[k] == t)
                p->outputs[k] = other;
        g->values[other].producer = producer;
    }
    EML_TRY(eml__opt_add_node(g, base, "QuantizeLinear", 3, 1, 0, &qn));
    EML_TRY(eml__opt_add_node(g, base, "DequantizeLinear", 3, 1, 0, &dqn));
    eml_node *q = &g->nodes[qn], *dq = &g->nodes[dqn];
    q->inputs[0] = producer < 0 ? t : other;
    q->inputs[1] = s_id;
    q->inputs[2] = z_id;
    q->outputs[0] = q_out;
    dq->inputs[0] = q_out;
    dq->inputs[1] = s_id;
    dq->inputs[2] = z_id;
    dq->outputs[0] = producer < 0 ? other : t;
    g->values[q_out].producer = qn;
    g->values[dq->outputs[0]].producer = dqn;
fail:
    return st;
}

eml_status eml__quantize_static(eml_graph *g, const eml_qplan *plan, int per_tensor, eml_diag *diag)
{
    eml_env *env = g->env;
    size_t n_values0 = g->n_values;
    uint8_t *want = eml__alloc(env, EML_MAX(n_values0, 1));
    int32_t *readers = eml__calloc(env, EML_MAX(n_values0, 1), sizeof(int32_t));
    float *w_scale = NULL;
    eml_status st = EML_OK;
    if (!want || !readers) {
        st = EML_ENOMEM;
        goto fail;
    }
    eml__graph_reindex(g);
    mark_tensors(g, plan, plan->others, want);
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int32_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                readers[g->nodes[i].inputs[k]]++;
    for (size_t l = 0; l < plan->n_layers; l++) {
        if (!plan->include[l])
            continue;
        const eml_qlayer *ql = &plan->layers[l];
        const eml_node *n = &g->nodes[ql->node];
        int32_t w = n->inputs[ql->weight], b = n->n_inputs > 2 ? n->inputs[2] : -1;
        const eml_qrange *xr = range_of(plan, n->inputs[0]);
        if (!xr) {
            st = eml__diag(diag, EML_EINTERNAL, "quantize: input of node '%s' not calibrated",
                           n->name);
            goto fail;
        }
        int64_t c_count = g->values[w].dims[ql->axis];
        eml__free(env, w_scale);
        w_scale = eml__alloc(env, (size_t)EML_MAX(c_count, 1) * sizeof(float));
        if (!w_scale) {
            st = EML_ENOMEM;
            goto fail;
        }
        int64_t channels;
        EML_TRY(quantize_weight(g, ql, per_tensor, w_scale, &channels));
        if (readers[w] == 1)
            eml__value_drop_const(g, w);
        bool had_float_bias = b >= 0 && is_float_const(g, b);
        EML_TRY(quantize_bias(g, ql, per_tensor, xr->scale, w_scale, channels));
        if (had_float_bias && g->nodes[ql->node].inputs[2] != b && readers[b] == 1)
            eml__value_drop_const(g, b);
    }
    for (size_t v = 0; v < n_values0; v++) {
        if (!want[v])
            continue;
        const eml_qrange *r = range_of(plan, (int32_t)v);
        if (!r) {
            st = eml__diag(diag, EML_EINTERNAL, "quantize: value '%s' not calibrated",
                           g->values[v].name);
            goto fail;
        }
        EML_TRY(quantize_activation(g, (int32_t)v, r));
    }
    EML_TRY(eml__drop_unused_consts(g));
    EML_TRY(eml__graph_sort(g, diag));
fail:
    eml__free(env, want);
    eml__free(env, readers);
    eml__free(env, w_scale);
    return st;
}
