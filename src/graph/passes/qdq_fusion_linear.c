/* qdq-fusion's dense patterns: a matrix product by constant int8 weights becomes a 1x1 QConv on
 * the [R, 1, 1, K] view of its uint8 input (R rows: N of a [N, K] matrix, B·M of a [B, M, K]
 * batch), and a Reshape gives the uint8 result back its matrix shape:
 *
 *   DQ(x) ─ Gemm(DQ(w), DQ(b)?) ─ Relu/Clip? ─ Q   (x [N, K])
 *   DQ(a) ─ MatMul(DQ(w)) ─ Relu/Clip? ─ Q         (a [N, K] or [B, M, K], w [K, M])
 *   QLinearMatMul(a, w)                            (the same shapes, uint8 a and y)
 *
 * Weights: int8, per tensor or per output column. The integer op requantizes in fixed point
 * (qrequant.h) where QLinearMatMul's reference rounds a float product: results may differ by
 * one unit at rounding ties. */
#include <math.h>
#include <stdio.h>

#include "graph/passes/qdq_fusion.h"
#include "kernels/ref/qnhwc.h"

/* Gemm weights: DequantizeLinear of a constant int8 matrix, per tensor or per output column
 * (axis 0 of [M, K] with transB, axis 1 of [K, M] without). */
static bool dq_gemm_weights(const eml_qf *f, int32_t v, int transb, int32_t *wv, int32_t *scale_v,
                            int32_t *zp_v, eml_tensor *scale)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor w, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !eml__qf_const(g, d->inputs[0], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 2 ||
        !eml__qf_const(g, d->inputs[1], scale) || scale->dtype != EML_DTYPE_F32 || scale->rank > 1)
        return false;
    const int64_t m = w.dims[transb ? 0 : 1], sc = eml_tensor_count(scale);
    if (sc != 1) {
        const eml_attr *axis = eml__node_attr(d, "axis");
        const int64_t want = transb ? 0 : 1;
        if (sc != m || !axis || (axis->i != want && axis->i != want - 2))
            return false;
    }
    *zp_v = eml__qf_in(d, 2);
    if (*zp_v >= 0 && (!eml__qf_const(g, *zp_v, &z) || z.dtype != EML_DTYPE_I8 ||
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

/* A matched dense layer: y = act(x · W + b) quantized, the product to be made a QConv. */
typedef struct dense {
    int32_t xq;        /* the uint8 input: [N, K] or [B, M, K] */
    eml_qf_param x, y; /* input and output quantization */
    int32_t wv;        /* int8 weights: [M, K] when transb, else [K, M] */
    bool transb;
    int32_t ws_v, wz_v; /* weight scale and zero point values (zp -1 when omitted) */
    eml_tensor ws;      /* the weight scales: one, or one per output column */
    int32_t bv;         /* int32 bias [M] or -1 */
    int32_t qi, ai;     /* the node writing the uint8 output (a Q, or the node itself), act or -1 */
    int32_t qmin, qmax;
} dense;

/* The uint8 input of a MatMul: DequantizeLinear of a [N, K] or [B, M, K] uint8 value with scalar
 * parameters. */
static bool dq_rows(const eml_qf *f, int32_t v, int32_t *q, eml_qf_param *p)
{
    const eml_graph *g = f->g;
    if (v < 0 || (size_t)v >= f->n_values || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2)
        return false;
    *q = d->inputs[0];
    return (eml__qf_known2(f, *q) || eml__qf_known3(f, *q)) &&
           f->s.run[0][*q].dtype == EML_DTYPE_U8 &&
           eml__qf_read_qparam(g, eml__qf_in(d, 1), eml__qf_in(d, 2), EML_DTYPE_U8, p);
}

/* The output is a uint8 value of the input's rank whose last dim is m, and every column's
 * scale ratio x_scale·w_scale/y_scale has a fixed-point form. */
static bool dense_fits(const eml_qf *f, const dense *d, int64_t m)
{
    const int32_t q = f->g->nodes[d->qi].outputs[0];
    const int rank = f->s.run[0][d->xq].rank;
    if (rank == 2 ? !eml__qf_known2(f, q) : !eml__qf_known3(f, q))
        return false;
    if (f->s.run[0][q].dtype != EML_DTYPE_U8 || f->s.run[0][q].dims[rank - 1] != m)
        return false;
    eml_qrequant rq[64];
    const int64_t wc = eml_tensor_count(&d->ws);
    for (int64_t c0 = 0; c0 < m; c0 += 64)
        if (!eml__qconv_requant(d->x.scale, (const float *)d->ws.data + (wc == 1 ? 0 : c0),
                                wc == 1 ? 1 : EML_MIN(64, m - c0), d->y.scale, EML_MIN(64, m - c0),
                                rq))
            return false;
    return true;
}

/* The dense layer at node i becomes a QConv reading the input's twin, with its weights laid out
 * [M, K, 1, 1], and a Reshape gives the uint8 result its matrix shape for readers that want it.
 * Node i, the Q node (when it is another node) and the activation are dropped. */
static eml_status dense_to_qconv(eml_qf *f, size_t i, const dense *d)
{
    eml_graph *g = f->g;
    eml_tensor w;
    if (!eml__qf_const(g, d->wv, &w))
        return EML_OK;
    const int64_t m = w.dims[d->transb ? 0 : 1], k = w.dims[d->transb ? 1 : 0];
    eml_tensor w4 = {EML_DTYPE_I8, 4, {m, k, 1, 1}, eml__alloc(g->env, (size_t)(m * k))};
    if (!w4.data)
        return EML_ENOMEM;
    const int8_t *src = w.data;
    int8_t *dst = w4.data;
    for (int64_t o = 0; o < m; o++)
        for (int64_t c = 0; c < k; c++)
            dst[o * k + c] = d->transb ? src[o * k + c] : src[c * m + o];
    int32_t w4v, x4, y4;
    const int32_t q = g->nodes[d->qi].outputs[0];
    eml_status st = eml__graph_new_const(g, g->values[d->wv].name, "_1x1", &w4, &w4v);
    if (st != EML_OK) {
        eml__free(g->env, w4.data);
        return st;
    }
    st = eml__graph_import_edgeml(g);
    if (st == EML_OK)
        st = eml__qf_twin_of(f, d->xq, &x4);
    if (st == EML_OK)
        st = eml__graph_new_value(g, g->values[q].name, "_nhwc", &y4);
    eml_node *qc = NULL;
    char name[256];
    snprintf(name, sizeof(name), "%.200s_QConv", g->nodes[i].name ? g->nodes[i].name : "dense");
    if (st == EML_OK)
        st = eml__graph_add_node(g, name, "QConv", EML_EDGEML_DOMAIN, 9, 1, 0, &qc);
    if (st == EML_OK)
        st = eml__node_set_op(g, qc, "QConv", EML_EDGEML_DOMAIN);
    if (st != EML_OK)
        return st;
    const int32_t inputs[9] = {x4,      d->x.scale_v, d->x.zp_v, w4v,  d->ws_v,
                               d->wz_v, d->y.scale_v, d->y.zp_v, d->bv};
    memcpy(qc->inputs, inputs, sizeof(inputs));
    qc->outputs[0] = y4;
    const size_t qc_i = g->n_nodes - 1;
    g->values[y4].producer = (int32_t)qc_i;
    if (d->qmin != 0)
        st = eml__qf_add_int_attr(g, qc_i, "qmin", d->qmin);
    if (st == EML_OK && d->qmax != 255)
        st = eml__qf_add_int_attr(g, qc_i, "qmax", d->qmax);
    if (st != EML_OK)
        return st;
    f->twin[q] = y4;
    f->dead[i] = 1;
    f->dead[d->qi] = 1;
    if (d->ai >= 0)
        f->dead[d->ai] = 1;
    f->rewrites += 1 + (d->qi != (int32_t)i) + (d->ai >= 0);
    if (f->s.run[0][q].rank == 2) {
        const int64_t shape[2] = {0, -1};
        return eml__qf_add_reshape(f, y4, q, shape, 2);
    }
    const int64_t shape[3] = {-1, f->s.run[0][q].dims[1], m};
    return eml__qf_add_reshape(f, y4, q, shape, 3);
}

eml_status eml__qf_try_gemm(eml_qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->outputs[0] < 0 ||
        attr_f(n, "alpha", 1.0f) != 1.0f ||
        (eml__qf_in(n, 2) >= 0 && attr_f(n, "beta", 1.0f) != 1.0f) || attr_i(n, "transA", 0) != 0)
        return EML_OK;
    dense d = {.transb = attr_i(n, "transB", 0) != 0, .bv = -1};
    eml_tensor w;
    if (!eml__qf_dq_act2(f, n->inputs[0], &d.xq, &d.x) ||
        !dq_gemm_weights(f, n->inputs[1], d.transb, &d.wv, &d.ws_v, &d.wz_v, &d.ws) ||
        !eml__qf_const(g, d.wv, &w))
        return EML_OK;
    const int64_t m = w.dims[d.transb ? 0 : 1], k = w.dims[d.transb ? 1 : 0];
    if (f->s.run[0][d.xq].dims[1] != k)
        return EML_OK;
    if (eml__qf_in(n, 2) >= 0 && !eml__qf_dq_bias(f, eml__qf_in(n, 2), m, d.x.scale, &d.ws, &d.bv))
        return EML_OK;
    d.qi = eml__qf_tail(f, n->outputs[0], &d.ai, &d.y, &d.qmin, &d.qmax);
    if (d.qi < 0 || !dense_fits(f, &d, m))
        return EML_OK;
    return dense_to_qconv(f, i, &d);
}

/* DQ(a) ─ MatMul(DQ(w)) ─ Relu/Clip? ─ Q with w a constant int8 [K, M]. */
eml_status eml__qf_try_matmul(eml_qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs != 2 || n->n_outputs != 1 || n->outputs[0] < 0)
        return EML_OK;
    dense d = {.transb = false, .bv = -1};
    eml_tensor w;
    if (!dq_rows(f, n->inputs[0], &d.xq, &d.x) ||
        !dq_gemm_weights(f, n->inputs[1], 0, &d.wv, &d.ws_v, &d.wz_v, &d.ws) ||
        !eml__qf_const(g, d.wv, &w))
        return EML_OK;
    const eml_tensor *a = &f->s.run[0][d.xq];
    if (a->dims[a->rank - 1] != w.dims[0])
        return EML_OK;
    d.qi = eml__qf_tail(f, n->outputs[0], &d.ai, &d.y, &d.qmin, &d.qmax);
    if (d.qi < 0 || !dense_fits(f, &d, w.dims[1]))
        return EML_OK;
    return dense_to_qconv(f, i, &d);
}

/* ONNX's QLinearMatMul of a uint8 [N, K] or [B, M, K] input by constant int8 weights [K, M]
 * (scale and zero point per tensor or per column), with scalar input and output parameters and a
 * uint8 output: the same QConv, which writes the output itself. */
eml_status eml__qf_try_qlinear_matmul(eml_qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs != 8 || n->n_outputs != 1 || n->outputs[0] < 0)
        return EML_OK;
    dense d = {.xq = n->inputs[0],
               .transb = false,
               .bv = -1,
               .qi = (int32_t)i,
               .ai = -1,
               .qmin = 0,
               .qmax = 255};
    eml_tensor w, wz;
    if (!(eml__qf_known2(f, d.xq) || eml__qf_known3(f, d.xq)) ||
        f->s.run[0][d.xq].dtype != EML_DTYPE_U8 ||
        !eml__qf_read_qparam(g, n->inputs[1], n->inputs[2], EML_DTYPE_U8, &d.x) ||
        !eml__qf_read_qparam(g, n->inputs[6], n->inputs[7], EML_DTYPE_U8, &d.y) ||
        !eml__qf_const(g, n->inputs[3], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 2 ||
        !eml__qf_const(g, n->inputs[4], &d.ws) || d.ws.dtype != EML_DTYPE_F32 || d.ws.rank > 1 ||
        !eml__qf_const(g, n->inputs[5], &wz) || wz.dtype != EML_DTYPE_I8 || wz.rank > 1)
        return EML_OK;
    const eml_tensor *a = &f->s.run[0][d.xq];
    const int64_t m = w.dims[1], wc = eml_tensor_count(&d.ws), zc = eml_tensor_count(&wz);
    if (a->dims[a->rank - 1] != w.dims[0] || (wc != 1 && wc != m) || (zc != 1 && zc != m))
        return EML_OK;
    for (int64_t c = 0; c < wc; c++) {
        const float s = ((const float *)d.ws.data)[c];
        if (!(s > 0.0f) || !isfinite(s))
            return EML_OK;
    }
    d.wv = n->inputs[3];
    d.ws_v = n->inputs[4];
    d.wz_v = n->inputs[5];
    if (!dense_fits(f, &d, m))
        return EML_OK;
    return dense_to_qconv(f, i, &d);
}
