/* qdq-fusion: runs QDQ-quantized models on integer kernels. Where a float op sits between
 * DequantizeLinear and QuantizeLinear nodes with constant scalar parameters (weights: int8,
 * per-tensor or per-output-channel), the op and its QuantizeLinear become one integer
 * channels-last op of domain ai.edgeml (kernels/ref/qnhwc.h) that reads and writes the uint8
 * values themselves:
 *
 *   DQ(x) ─ Conv(DQ(w), DQ(b)?) ─ Relu/Clip? ─ Q   →  QConv
 *   DQ(a), DQ(b) ─ Add ─ Relu/Clip? ─ Q            →  QAdd
 *   DQ(x) ─ MaxPool ─ Q                            →  QMaxPool
 *   DQ(x) ─ GlobalAveragePool ─ Q                  →  QGlobalAveragePool
 *   DQ(x) ─ Gemm(DQ(w), DQ(b)?) ─ Relu/Clip? ─ Q   →  QConv, 1x1 on [N, 1, 1, K]
 *   DQ(x) ─ Flatten ─ Q with the same parameters   →  Flatten of the uint8 values
 *   DQ(x) ─ Q with the same parameters             →  x
 *   QLinearConv (int8 weights)                     →  QConv
 *
 * The uint8 values of fused ops live channels-last ("twins"; a [N, K] matrix's twin is its
 * [N, 1, 1, K] view, made by a Reshape); a Transpose brings a value in where
 * an unfused producer wrote it NCHW, and another brings it back where an unfused reader (or a
 * graph output) needs it: the graph stays valid and computes the same wherever a pattern does
 * not match. The float nodes left without readers go with dead-node elimination.
 *
 * Results: the fused ops sum exactly in int32 and requantize in fixed point (qrequant.h), where
 * the unfused graph sums in float and rounds y/scale to even: outputs may differ by one unit in
 * the last place at rounding ties and where float sums lose bits (see docs in the report).
 * Runs after constant folding (which keeps DequantizeLinear of weights) and before the float
 * fusions, which would otherwise take the Conv and its activation. */
#include <math.h>
#include <stdio.h>

#include "graph/passes/passes.h"
#include "kernels/ref/qnhwc.h"

static const int64_t to_nhwc_perm[4] = {0, 2, 3, 1};
static const int64_t to_nchw_perm[4] = {0, 3, 1, 2};

typedef struct qf {
    eml_graph *g;
    eml_static_shapes s;
    eml_uses u;
    size_t n_values; /* values before the pass: the only ones s and u describe */
    size_t n_nodes;  /* nodes before the pass */
    int32_t *twin;   /* per value: its channels-last copy, or -1 */
    uint8_t *dead;   /* per original node */
    uint64_t rewrites;
} qf;

/* A scalar quantization parameter pair: value ids (zp -1 when omitted) and their numbers. */
typedef struct qparam {
    int32_t scale_v, zp_v;
    float scale;
    int32_t zp;
} qparam;

/* ---- reading constants ---- */

/* v's constant data: an initializer or a Constant node's value. */
static bool const_tensor(const eml_graph *g, int32_t v, eml_tensor *t)
{
    if (v < 0)
        return false;
    if (eml__value_const(g, v, t))
        return true;
    const int32_t p = g->values[v].producer;
    if (p < 0 || g->nodes[p].op != EML_OP_Constant)
        return false;
    const eml_attr *a = eml__node_attr(&g->nodes[p], "value");
    if (!a || a->type != EML_ATTR_TENSOR || !a->t.data)
        return false;
    *t = a->t;
    return true;
}

/* A 4-D value whose channels and spatial dims are known; the batch dim may be dynamic (the
 * integer kernels take it from the run's shapes). */
static bool known4(const qf *f, int32_t v)
{
    if (v < 0 || (size_t)v >= f->n_values || !f->s.known[v] || f->s.run[0][v].rank != 4)
        return false;
    for (int d = 1; d < 4; d++) {
        if (eml__static_dim_symbolic(&f->s, v, d))
            return false;
    }
    return true;
}

/* A [N, K] value with K known; N may be dynamic. */
static bool known2(const qf *f, int32_t v)
{
    return v >= 0 && (size_t)v < f->n_values && f->s.known[v] && f->s.run[0][v].rank == 2 &&
           !eml__static_dim_symbolic(&f->s, v, 1);
}

/* The matrices and images the integer ops take. */
static bool known24(const qf *f, int32_t v)
{
    return known4(f, v) || known2(f, v);
}

/* A scale (float32, one element, positive and finite) and an optional zero point of dtype zdt
 * with one element. */
static bool read_qparam(const eml_graph *g, int32_t scale_v, int32_t zp_v, eml_dtype zdt,
                        qparam *p)
{
    eml_tensor t;
    p->scale_v = scale_v;
    p->zp_v = zp_v;
    p->zp = 0;
    if (!const_tensor(g, scale_v, &t) || t.dtype != EML_DTYPE_F32 || eml_tensor_count(&t) != 1)
        return false;
    p->scale = ((const float *)t.data)[0];
    if (!(p->scale > 0.0f) || !isfinite(p->scale))
        return false;
    if (zp_v < 0)
        return zdt == EML_DTYPE_U8;
    if (!const_tensor(g, zp_v, &t) || t.dtype != zdt || eml_tensor_count(&t) != 1)
        return false;
    p->zp = zdt == EML_DTYPE_U8 ? ((const uint8_t *)t.data)[0] : ((const int8_t *)t.data)[0];
    return true;
}

static int32_t in(const eml_node *n, int32_t k)
{
    return k < n->n_inputs ? n->inputs[k] : -1;
}

/* v = DequantizeLinear(q, scale, zp?) of a uint8 [N, C, H, W] value with scalar parameters:
 * fills *q and p. */
static bool dq_act(const qf *f, int32_t v, int32_t *q, qparam *p)
{
    const eml_graph *g = f->g;
    if (v < 0 || (size_t)v >= f->n_values || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2)
        return false;
    *q = d->inputs[0];
    return known4(f, *q) && f->s.run[0][*q].dtype == EML_DTYPE_U8 &&
           read_qparam(g, in(d, 1), in(d, 2), EML_DTYPE_U8, p);
}

/* dq_act for a uint8 [N, K] matrix. */
static bool dq_act2(const qf *f, int32_t v, int32_t *q, qparam *p)
{
    const eml_graph *g = f->g;
    if (v < 0 || (size_t)v >= f->n_values || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2)
        return false;
    *q = d->inputs[0];
    return known2(f, *q) && f->s.run[0][*q].dtype == EML_DTYPE_U8 &&
           read_qparam(g, in(d, 1), in(d, 2), EML_DTYPE_U8, p);
}

/* The only reader of v when it is a QuantizeLinear to uint8 with scalar parameters and a 4-D
 * (or [N, K]) output: its node index, else -1. */
static int32_t q_reader(const qf *f, int32_t v, qparam *p)
{
    const eml_graph *g = f->g;
    if (!eml__uses_private(g, &f->u, v, 1) || f->u.consumer[v] < 0)
        return -1;
    const int32_t i = f->u.consumer[v];
    const eml_node *n = &g->nodes[i];
    if (n->op != EML_OP_QuantizeLinear || n->n_inputs < 2 || n->inputs[0] != v ||
        n->n_outputs != 1 || !known24(f, n->outputs[0]) ||
        f->s.run[0][n->outputs[0]].dtype != EML_DTYPE_U8)
        return -1;
    return read_qparam(g, in(n, 1), in(n, 2), EML_DTYPE_U8, p) ? i : -1;
}

/* An activation (Relu, or Clip with constant bounds) as the only reader of v: its node index and
 * bounds, else -1. */
static int32_t act_reader(const qf *f, int32_t v, float *lo, float *hi)
{
    const eml_graph *g = f->g;
    if (!eml__uses_private(g, &f->u, v, 1) || f->u.consumer[v] < 0)
        return -1;
    const int32_t i = f->u.consumer[v];
    const eml_node *n = &g->nodes[i];
    if (n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 1 || n->inputs[0] != v)
        return -1;
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->op == EML_OP_Relu) {
        *lo = 0.0f;
        return i;
    }
    if (n->op != EML_OP_Clip)
        return -1;
    if (n->opset < 11) {
        const eml_attr *a = eml__node_attr(n, "min"), *b = eml__node_attr(n, "max");
        if (a)
            *lo = a->f;
        if (b)
            *hi = b->f;
        return i;
    }
    for (int32_t k = 1; k < 3; k++) {
        const int32_t bv = in(n, k);
        if (bv < 0)
            continue;
        eml_tensor t;
        if (!const_tensor(g, bv, &t) || t.dtype != EML_DTYPE_F32 || eml_tensor_count(&t) != 1)
            return -1;
        *(k == 1 ? lo : hi) = ((const float *)t.data)[0];
    }
    return i;
}

/* The uint8 code of the clamp bound b, as QuantizeLinear rounds it. */
static int32_t code_of(float b, const qparam *y)
{
    const float v = rintf(b / y->scale) + (float)y->zp;
    return !(v > 0.0f) ? 0 : v > 255.0f ? 255 : (int32_t)v;
}

/* ---- building ---- */

static eml_status add_node(qf *f, const char *op, int32_t n_attrs, int32_t input, int32_t output)
{
    eml_graph *g = f->g;
    char name[256];
    snprintf(name, sizeof(name), "%.200s_%s", g->values[output].name, op);
    eml_node *n;
    eml_status st = eml__graph_add_node(g, name, op, "", 1, 1, n_attrs, &n);
    if (st == EML_OK)
        st = eml__node_set_op(g, n, op, "");
    if (st != EML_OK)
        return st;
    if (n->opset <= 0)
        n->opset = 17;
    n->inputs[0] = input;
    n->outputs[0] = output;
    g->values[output].producer = (int32_t)(g->n_nodes - 1);
    return EML_OK;
}

static eml_status add_transpose(qf *f, int32_t input, int32_t output, const int64_t *perm)
{
    eml_status st = add_node(f, "Transpose", 1, input, output);
    if (st != EML_OK)
        return st;
    eml_graph *g = f->g;
    eml_attr *a = &g->nodes[g->n_nodes - 1].attrs[0];
    a->name = eml__strdup(g->env, "perm");
    a->ints = eml__alloc(g->env, 4 * sizeof(int64_t));
    if (!a->name || !a->ints)
        return EML_ENOMEM;
    a->type = EML_ATTR_INTS;
    a->count = 4;
    memcpy(a->ints, perm, 4 * sizeof(int64_t));
    return EML_OK;
}

/* output = Reshape(input, shape) with a new constant shape of `rank` entries (0 copies the
 * input's dim, as ONNX's Reshape does). */
static eml_status add_reshape(qf *f, int32_t input, int32_t output, const int64_t *shape, int rank)
{
    eml_graph *g = f->g;
    eml_tensor t = {EML_DTYPE_I64, 1, {rank}, eml__alloc(g->env, (size_t)rank * sizeof(int64_t))};
    if (!t.data)
        return EML_ENOMEM;
    memcpy(t.data, shape, (size_t)rank * sizeof(int64_t));
    int32_t sv;
    eml_status st = eml__graph_new_const(g, g->values[output].name, "_shape", &t, &sv);
    if (st != EML_OK) {
        eml__free(g->env, t.data);
        return st;
    }
    char name[256];
    snprintf(name, sizeof(name), "%.200s_Reshape", g->values[output].name);
    eml_node *n;
    st = eml__graph_add_node(g, name, "Reshape", "", 2, 1, 0, &n);
    if (st == EML_OK)
        st = eml__node_set_op(g, n, "Reshape", "");
    if (st != EML_OK)
        return st;
    if (n->opset <= 0)
        n->opset = 17;
    n->inputs[0] = input;
    n->inputs[1] = sv;
    n->outputs[0] = output;
    g->values[output].producer = (int32_t)(g->n_nodes - 1);
    return EML_OK;
}

static const int64_t matrix_to_nhwc[4] = {0, 1, 1, -1}, nhwc_to_matrix[2] = {0, -1};

/* The channels-last copy of uint8 value q, made now when it has none. */
static eml_status twin_of(qf *f, int32_t q, int32_t *out)
{
    if (f->twin[q] >= 0) {
        *out = f->twin[q];
        return EML_OK;
    }
    eml_status st = eml__graph_new_value(f->g, f->g->values[q].name, "_nhwc", out);
    if (st == EML_OK && known2(f, q))
        st = add_reshape(f, q, *out, matrix_to_nhwc, 4);
    else if (st == EML_OK)
        st = add_transpose(f, q, *out, to_nhwc_perm);
    if (st == EML_OK)
        f->twin[q] = *out;
    return st;
}

/* Appends an INT attribute to node i. */
static eml_status add_int_attr(eml_graph *g, size_t i, const char *name, int64_t v)
{
    eml_node *n = &g->nodes[i];
    eml_attr *attrs = eml__calloc(g->env, (size_t)n->n_attrs + 1, sizeof(eml_attr));
    char *s = eml__strdup(g->env, name);
    if (!attrs || !s) {
        eml__free(g->env, attrs);
        eml__free(g->env, s);
        return EML_ENOMEM;
    }
    if (n->n_attrs)
        memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof(eml_attr));
    attrs[n->n_attrs].name = s;
    attrs[n->n_attrs].type = EML_ATTR_INT;
    attrs[n->n_attrs].i = v;
    eml__free(g->env, n->attrs);
    n->attrs = attrs;
    n->n_attrs++;
    return EML_OK;
}

/* Turns node i into edgeml op `op` reading `inputs` (values; channels-last where asked in
 * `nhwc`), writing the twin of Q node qi's output, whose NCHW form then comes from a Transpose
 * (dropped later when nothing reads it). Marks qi (unless it is i) and the activation ai (or -1)
 * dead. */
static eml_status rewrite(qf *f, size_t i, const char *op, const int32_t *inputs,
                          const bool *nhwc, int32_t n_in, int32_t qi, int32_t ai)
{
    eml_graph *g = f->g;
    int32_t vals[16];
    eml_status st = eml__graph_import_edgeml(g);
    for (int32_t k = 0; k < n_in && st == EML_OK; k++) {
        vals[k] = inputs[k];
        if (nhwc[k])
            st = twin_of(f, inputs[k], &vals[k]);
    }
    const int32_t q = g->nodes[qi].outputs[0];
    int32_t y;
    if (st == EML_OK)
        st = eml__graph_new_value(g, g->values[q].name, "_nhwc", &y);
    if (st == EML_OK)
        st = eml__node_set_op(g, &g->nodes[i], op, EML_EDGEML_DOMAIN);
    for (int32_t k = 0; k < n_in && st == EML_OK; k++)
        st = eml__node_set_input(g, &g->nodes[i], k, vals[k]);
    if (st != EML_OK)
        return st;
    g->nodes[i].n_inputs = n_in;
    g->nodes[i].outputs[0] = y;
    g->values[y].producer = (int32_t)i;
    f->twin[q] = y;
    if (qi != (int32_t)i) /* QLinearConv writes its uint8 output itself */
        f->dead[qi] = 1;
    if (ai >= 0)
        f->dead[ai] = 1;
    f->rewrites += 1 + (qi != (int32_t)i) + (ai >= 0);
    return add_transpose(f, y, q, to_nchw_perm);
}

/* ---- the patterns ---- */

/* Weights: DequantizeLinear of a constant int8 [O, C/g, kH, kW] with a scalar or per-channel
 * (axis 0) scale and zero point. */
static bool dq_weights(const qf *f, int32_t v, int32_t *wv, int32_t *scale_v, int32_t *zp_v,
                       eml_tensor *scale)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor w, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !const_tensor(g, d->inputs[0], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 4 ||
        !const_tensor(g, d->inputs[1], scale) || scale->dtype != EML_DTYPE_F32 ||
        scale->rank > 1)
        return false;
    const int64_t sc = eml_tensor_count(scale);
    if (sc != 1) {
        const eml_attr *axis = eml__node_attr(d, "axis");
        if (sc != w.dims[0] || !axis || (axis->i != 0 && axis->i != -4))
            return false;
    }
    *zp_v = in(d, 2);
    if (*zp_v >= 0 && (!const_tensor(g, *zp_v, &z) || z.dtype != EML_DTYPE_I8 ||
                       (eml_tensor_count(&z) != 1 && eml_tensor_count(&z) != sc)))
        return false;
    for (int64_t c = 0; c < sc; c++) {
        const float s = ((const float *)scale->data)[c];
        if (!(s > 0.0f) || !isfinite(s))
            return false;
    }
    *wv = d->inputs[0];
    *scale_v = d->inputs[1];
    return true;
}

/* Bias: DequantizeLinear of a constant int32 [O] with zero point 0 and scale x_scale·w_scale. */
static bool dq_bias(const qf *f, int32_t v, int64_t o, float xs, const eml_tensor *ws,
                    int32_t *bv)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor b, s, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !const_tensor(g, d->inputs[0], &b) || b.dtype != EML_DTYPE_I32 || b.rank != 1 ||
        b.dims[0] != o || !const_tensor(g, d->inputs[1], &s) || s.dtype != EML_DTYPE_F32)
        return false;
    const int64_t sc = eml_tensor_count(&s), wc = eml_tensor_count(ws);
    if (sc != 1 && sc != o)
        return false;
    if (in(d, 2) >= 0) {
        if (!const_tensor(g, in(d, 2), &z) || z.dtype != EML_DTYPE_I32)
            return false;
        for (int64_t c = 0; c < eml_tensor_count(&z); c++)
            if (((const int32_t *)z.data)[c] != 0)
                return false;
    }
    for (int64_t c = 0; c < o; c++) {
        const double want = (double)xs * ((const float *)ws->data)[wc == 1 ? 0 : c];
        const double have = ((const float *)s.data)[sc == 1 ? 0 : c];
        if (!(fabs(have - want) <= 1e-5 * want))
            return false;
    }
    *bv = d->inputs[0];
    return true;
}

/* The activation after node output v (optional) and the QuantizeLinear after it. */
static int32_t tail(const qf *f, int32_t v, int32_t *ai, qparam *y, int32_t *qmin, int32_t *qmax)
{
    float lo = -INFINITY, hi = INFINITY;
    *ai = act_reader(f, v, &lo, &hi);
    const int32_t qi = q_reader(f, *ai >= 0 ? f->g->nodes[*ai].outputs[0] : v, y);
    if (qi < 0)
        return -1;
    *qmin = code_of(lo, y);
    *qmax = code_of(hi, y);
    return *qmin <= *qmax ? qi : -1;
}

static eml_status try_conv(qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->outputs[0] < 0)
        return EML_OK;
    int32_t xq, wv, ws_v, wz_v, bv = -1, ai, qmin, qmax;
    qparam x, y;
    eml_tensor ws;
    if (!dq_act(f, n->inputs[0], &xq, &x) || !dq_weights(f, n->inputs[1], &wv, &ws_v, &wz_v, &ws))
        return EML_OK;
    const int64_t o = f->g->values[wv].dims[0];
    if (in(n, 2) >= 0 && !dq_bias(f, in(n, 2), o, x.scale, &ws, &bv))
        return EML_OK;
    const int32_t qi = tail(f, n->outputs[0], &ai, &y, &qmin, &qmax);
    if (qi < 0)
        return EML_OK;
    eml_qrequant rq[64];
    for (int64_t c0 = 0; c0 < o; c0 += 64) {
        const int64_t wc = eml_tensor_count(&ws);
        if (!eml__qconv_requant(x.scale, (const float *)ws.data + (wc == 1 ? 0 : c0),
                                wc == 1 ? 1 : EML_MIN(64, o - c0), y.scale, EML_MIN(64, o - c0),
                                rq))
            return EML_OK;
    }
    const int32_t inputs[9] = {xq, x.scale_v, x.zp_v, wv, ws_v, wz_v, y.scale_v, y.zp_v, bv};
    const bool nhwc[9] = {true};
    eml_status st = rewrite(f, i, "QConv", inputs, nhwc, 9, qi, ai);
    if (st == EML_OK && qmin != 0)
        st = add_int_attr(f->g, i, "qmin", qmin);
    if (st == EML_OK && qmax != 255)
        st = add_int_attr(f->g, i, "qmax", qmax);
    return st;
}

static eml_status try_add(qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t aq, bq, ai, qmin, qmax;
    qparam a, b, y;
    if (n->n_inputs != 2 || n->n_outputs != 1 || !dq_act(f, n->inputs[0], &aq, &a) ||
        !dq_act(f, n->inputs[1], &bq, &b) || !eml__static_same_shape(&f->s, aq, bq) ||
        !eml__static_same_shape(&f->s, n->inputs[0], n->outputs[0]))
        return EML_OK;
    const int32_t qi = tail(f, n->outputs[0], &ai, &y, &qmin, &qmax);
    eml_qadd q;
    if (qi < 0 || !eml__qadd_init((double)a.scale / y.scale, (double)b.scale / y.scale, &q))
        return EML_OK;
    const int32_t inputs[8] = {aq, a.scale_v, a.zp_v, bq, b.scale_v, b.zp_v, y.scale_v, y.zp_v};
    const bool nhwc[8] = {true, false, false, true};
    eml_status st = rewrite(f, i, "QAdd", inputs, nhwc, 8, qi, ai);
    if (st == EML_OK && qmin != 0)
        st = add_int_attr(f->g, i, "qmin", qmin);
    if (st == EML_OK && qmax != 255)
        st = add_int_attr(f->g, i, "qmax", qmax);
    return st;
}

static eml_status try_pool(qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t xq;
    qparam x, y;
    if (n->n_inputs != 1 || n->outputs[0] < 0 || (n->n_outputs > 1 && n->outputs[1] >= 0) ||
        !dq_act(f, n->inputs[0], &xq, &x))
        return EML_OK;
    const int32_t qi = q_reader(f, n->outputs[0], &y);
    if (qi < 0)
        return EML_OK;
    const bool global = n->op == EML_OP_GlobalAveragePool;
    if (global) {
        const int64_t *d = f->s.run[0][xq].dims;
        eml_qrequant rq;
        if (!eml__qrequant_init((double)x.scale / ((double)y.scale * (double)(d[2] * d[3])), &rq))
            return EML_OK;
    } else {
        eml_qadd q;
        if (!eml__qadd_init((double)x.scale / y.scale, 0.0, &q))
            return EML_OK;
    }
    n = &f->g->nodes[i];
    if (!global) {
        /* the pool's attributes are QMaxPool's: refuse what MaxPool's prepare refuses */
        char params[EML_PARAMS_MAX];
        memset(params, 0, sizeof(params));
        eml_prepare_ctx pc = {n, EML_OP_MaxPool, 17, params, NULL};
        if (eml__pool_prepare(&pc) != EML_OK)
            return EML_OK;
    }
    f->g->nodes[i].n_outputs = 1;
    const int32_t inputs[5] = {xq, x.scale_v, x.zp_v, y.scale_v, y.zp_v};
    const bool nhwc[5] = {true};
    return rewrite(f, i, global ? "QGlobalAveragePool" : "QMaxPool", inputs, nhwc, 5, qi, -1);
}

/* Gemm weights: DequantizeLinear of a constant int8 matrix, per tensor or per output column
 * (axis 0 of [M, K] with transB, axis 1 of [K, M] without). */
static bool dq_gemm_weights(const qf *f, int32_t v, int transb, int32_t *wv, int32_t *scale_v,
                            int32_t *zp_v, eml_tensor *scale)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor w, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !const_tensor(g, d->inputs[0], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 2 ||
        !const_tensor(g, d->inputs[1], scale) || scale->dtype != EML_DTYPE_F32 ||
        scale->rank > 1)
        return false;
    const int64_t m = w.dims[transb ? 0 : 1], sc = eml_tensor_count(scale);
    if (sc != 1) {
        const eml_attr *axis = eml__node_attr(d, "axis");
        const int64_t want = transb ? 0 : 1;
        if (sc != m || !axis || (axis->i != want && axis->i != want - 2))
            return false;
    }
    *zp_v = in(d, 2);
    if (*zp_v >= 0 && (!const_tensor(g, *zp_v, &z) || z.dtype != EML_DTYPE_I8 ||
                       (eml_tensor_count(&z) != 1 && eml_tensor_count(&z) != sc)))
        return false;
    for (int64_t c = 0; c < sc; c++) {
        const float s = ((const float *)scale->data)[c];
        if (!(s > 0.0f) || !isfinite(s))
            return false;
    }
    *wv = d->inputs[0];
    *scale_v = d->inputs[1];
    return true;
}

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

/* A dense layer is a 1x1 convolution of the [N, 1, 1, K] view of its input: the Gemm becomes a
 * QConv reading the matrix's twin, with its weights laid out [M, K, 1, 1], and a Reshape gives
 * the [N, M] uint8 result to readers that want the matrix. */
static eml_status try_gemm(qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->outputs[0] < 0 ||
        attr_f(n, "alpha", 1.0f) != 1.0f || (in(n, 2) >= 0 && attr_f(n, "beta", 1.0f) != 1.0f) ||
        attr_i(n, "transA", 0) != 0)
        return EML_OK;
    const int transb = attr_i(n, "transB", 0) != 0;
    int32_t xq, wv, ws_v, wz_v, bv = -1, ai, qmin, qmax;
    qparam x, y;
    eml_tensor ws, w;
    if (!dq_act2(f, n->inputs[0], &xq, &x) ||
        !dq_gemm_weights(f, n->inputs[1], transb, &wv, &ws_v, &wz_v, &ws) ||
        !const_tensor(g, wv, &w))
        return EML_OK;
    const int64_t m = w.dims[transb ? 0 : 1], k = w.dims[transb ? 1 : 0];
    if (f->s.run[0][xq].dims[1] != k)
        return EML_OK;
    if (in(n, 2) >= 0 && !dq_bias(f, in(n, 2), m, x.scale, &ws, &bv))
        return EML_OK;
    const int32_t qi = tail(f, n->outputs[0], &ai, &y, &qmin, &qmax);
    if (qi < 0 || !known2(f, g->nodes[qi].outputs[0]))
        return EML_OK;
    eml_qrequant rq[64];
    const int64_t wc = eml_tensor_count(&ws);
    for (int64_t c0 = 0; c0 < m; c0 += 64)
        if (!eml__qconv_requant(x.scale, (const float *)ws.data + (wc == 1 ? 0 : c0),
                                wc == 1 ? 1 : EML_MIN(64, m - c0), y.scale, EML_MIN(64, m - c0),
                                rq))
            return EML_OK;

    /* the weights as QConv's [M, K, 1, 1] */
    eml_tensor w4 = {EML_DTYPE_I8, 4, {m, k, 1, 1}, eml__alloc(g->env, (size_t)(m * k))};
    if (!w4.data)
        return EML_ENOMEM;
    const int8_t *src = w.data;
    int8_t *dst = w4.data;
    for (int64_t o = 0; o < m; o++)
        for (int64_t c = 0; c < k; c++)
            dst[o * k + c] = transb ? src[o * k + c] : src[c * m + o];
    int32_t w4v, x4, y4;
    const int32_t q = g->nodes[qi].outputs[0];
    eml_status st = eml__graph_new_const(g, g->values[wv].name, "_1x1", &w4, &w4v);
    if (st != EML_OK) {
        eml__free(g->env, w4.data);
        return st;
    }
    if (st == EML_OK)
        st = eml__graph_import_edgeml(g);
    if (st == EML_OK)
        st = twin_of(f, xq, &x4);
    if (st == EML_OK)
        st = eml__graph_new_value(g, g->values[q].name, "_nhwc", &y4);
    eml_node *qc = NULL;
    char name[256];
    snprintf(name, sizeof(name), "%.200s_QConv", g->nodes[i].name ? g->nodes[i].name : "gemm");
    if (st == EML_OK)
        st = eml__graph_add_node(g, name, "QConv", EML_EDGEML_DOMAIN, 9, 1, 0, &qc);
    if (st == EML_OK)
        st = eml__node_set_op(g, qc, "QConv", EML_EDGEML_DOMAIN);
    if (st != EML_OK)
        return st;
    const int32_t inputs[9] = {x4, x.scale_v, x.zp_v, w4v, ws_v, wz_v, y.scale_v, y.zp_v, bv};
    memcpy(qc->inputs, inputs, sizeof(inputs));
    qc->outputs[0] = y4;
    const size_t qc_i = g->n_nodes - 1;
    g->values[y4].producer = (int32_t)qc_i;
    if (qmin != 0)
        st = add_int_attr(g, qc_i, "qmin", qmin);
    if (st == EML_OK && qmax != 255)
        st = add_int_attr(g, qc_i, "qmax", qmax);
    if (st != EML_OK)
        return st;
    f->twin[q] = y4;
    f->dead[i] = 1;
    f->dead[qi] = 1;
    if (ai >= 0)
        f->dead[ai] = 1;
    f->rewrites += 2 + (ai >= 0);
    return add_reshape(f, y4, q, nhwc_to_matrix, 2);
}

/* DQ ─ Flatten ─ Q with the same parameters only moves uint8 values: the Flatten reads the
 * uint8 input and writes the Q's output. */
static eml_status try_flatten(qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    int32_t xq;
    qparam x, y;
    if (n->n_inputs != 1 || n->n_outputs != 1 || n->outputs[0] < 0 ||
        !dq_act(f, n->inputs[0], &xq, &x))
        return EML_OK;
    const int32_t qi = q_reader(f, n->outputs[0], &y);
    if (qi < 0 || x.scale != y.scale || x.zp != y.zp)
        return EML_OK;
    const int32_t old_out = n->outputs[0], q = g->nodes[qi].outputs[0];
    eml_status st = eml__node_set_input(g, &g->nodes[i], 0, xq);
    if (st != EML_OK)
        return st;
    g->nodes[i].outputs[0] = q;
    g->values[q].producer = (int32_t)i;
    g->values[old_out].producer = -1;
    f->dead[qi] = 1;
    f->rewrites++;
    return EML_OK;
}

/* ONNX's QLinearConv on a uint8 [N, C, H, W] input with constant int8 weights and parameters
 * takes the same inputs as QConv: only the layout changes. */
static eml_status try_qlinear_conv(qf *f, size_t i)
{
    const eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    eml_tensor w, ws, wz, b;
    qparam x, y;
    if (n->n_inputs < 8 || n->n_outputs != 1 || !known4(f, n->inputs[0]) ||
        f->s.run[0][n->inputs[0]].dtype != EML_DTYPE_U8 || !known4(f, n->outputs[0]) ||
        !const_tensor(g, n->inputs[3], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 4 ||
        !read_qparam(g, n->inputs[1], n->inputs[2], EML_DTYPE_U8, &x) ||
        !read_qparam(g, n->inputs[6], n->inputs[7], EML_DTYPE_U8, &y) ||
        !const_tensor(g, n->inputs[4], &ws) || ws.dtype != EML_DTYPE_F32 || ws.rank > 1 ||
        !const_tensor(g, n->inputs[5], &wz) || wz.dtype != EML_DTYPE_I8 || wz.rank > 1)
        return EML_OK;
    const int64_t o = w.dims[0], wc = eml_tensor_count(&ws), zc = eml_tensor_count(&wz);
    if ((wc != 1 && wc != o) || (zc != 1 && zc != o))
        return EML_OK;
    if (in(n, 8) >= 0 && (!const_tensor(g, in(n, 8), &b) || b.dtype != EML_DTYPE_I32 ||
                          b.rank != 1 || b.dims[0] != o))
        return EML_OK;
    for (int64_t c = 0; c < o; c++) {
        const float sc = ((const float *)ws.data)[wc == 1 ? 0 : c];
        eml_qrequant rq;
        if (!(sc > 0.0f) || !eml__qconv_requant(x.scale, &sc, 1, y.scale, 1, &rq))
            return EML_OK;
    }
    const int32_t inputs[9] = {n->inputs[0], x.scale_v, x.zp_v, n->inputs[3], n->inputs[4],
                               n->inputs[5], y.scale_v, y.zp_v, in(n, 8)};
    const bool nhwc[9] = {true};
    return rewrite(f, i, "QConv", inputs, nhwc, 9, (int32_t)i, -1);
}

/* Q(DQ(x)) with the same parameters is x: the Q node becomes an Identity of x, and x's twin
 * serves as its twin. */
static eml_status try_cancel(qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t xq;
    qparam x, y;
    if (n->n_inputs < 2 || n->n_outputs != 1 || !dq_act(f, n->inputs[0], &xq, &x) ||
        !read_qparam(f->g, in(n, 1), in(n, 2), EML_DTYPE_U8, &y) || x.scale != y.scale ||
        x.zp != y.zp || !eml__static_same_shape(&f->s, xq, n->outputs[0]))
        return EML_OK;
    const int32_t out = n->outputs[0];
    f->dead[i] = 1;
    f->rewrites++;
    if (f->twin[xq] >= 0)
        f->twin[out] = f->twin[xq];
    return add_node(f, "Identity", 0, xq, out);
}

static bool worth_running(const eml_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == EML_OP_DequantizeLinear || g->nodes[i].op == EML_OP_QLinearConv)
            return true;
    return false;
}

eml_status eml__pass_qdq_fusion(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    if (!worth_running(g))
        return EML_OK;
    eml_env *env = g->env;
    qf f = {.g = g, .n_values = g->n_values, .n_nodes = g->n_nodes};
    int32_t *order = eml__alloc(env, EML_MAX(f.n_nodes, 1) * sizeof(int32_t));
    f.twin = eml__alloc(env, EML_MAX(f.n_values, 1) * sizeof(int32_t));
    f.dead = eml__calloc(env, EML_MAX(f.n_nodes, 1), 1);
    eml_status st = EML_ENOMEM;
    if (!order || !f.twin || !f.dead)
        goto done;
    st = eml__graph_verify(g, order, NULL);
    if (st == EML_OK)
        st = eml__infer_static(g, &f.s, ctx->diag);
    if (st == EML_OK)
        st = eml__uses_build(g, &f.u);
    if (st != EML_OK)
        goto done;
    for (size_t v = 0; v < f.n_values; v++)
        f.twin[v] = -1;
    for (size_t k = 0; k < f.n_nodes && st == EML_OK; k++) {
        const size_t i = (size_t)order[k];
        if (f.dead[i] || eml__node_has_subgraph(&g->nodes[i]))
            continue;
        switch (g->nodes[i].op) {
        case EML_OP_Conv: st = try_conv(&f, i); break;
        case EML_OP_Add: st = try_add(&f, i); break;
        case EML_OP_MaxPool:
        case EML_OP_GlobalAveragePool: st = try_pool(&f, i); break;
        case EML_OP_QuantizeLinear: st = try_cancel(&f, i); break;
        case EML_OP_QLinearConv: st = try_qlinear_conv(&f, i); break;
        case EML_OP_Gemm: st = try_gemm(&f, i); break;
        case EML_OP_Flatten: st = try_flatten(&f, i); break;
        default: break;
        }
    }
    if (f.rewrites) {
        uint8_t *dead = eml__calloc(env, g->n_nodes, 1);
        if (!dead) {
            st = st == EML_OK ? EML_ENOMEM : st;
        } else {
            memcpy(dead, f.dead, f.n_nodes);
            eml__graph_remove_nodes(g, dead);
            eml__free(env, dead);
        }
    }
done:
    ctx->rewrites += f.rewrites;
    eml__static_shapes_deinit(&f.s);
    eml__uses_deinit(&f.u);
    eml__free(env, order);
    eml__free(env, f.twin);
    eml__free(env, f.dead);
    return st;
}
