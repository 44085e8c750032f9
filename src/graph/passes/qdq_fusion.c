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
 * Files: this one (the driver and the pattern readers), qdq_fusion_build.c (graph builders),
 * qdq_fusion_conv.c, qdq_fusion_eltwise.c, qdq_fusion_linear.c (the patterns); qdq_fusion.h.
 * Runs after constant folding (which keeps DequantizeLinear of weights) and before the float
 * fusions, which would otherwise take the Conv and its activation. */
#include <math.h>

#include "graph/passes/qdq_fusion.h"

/* ---- reading constants ---- */

/* v's constant data: an initializer or a Constant node's value. */
bool eml__qf_const(const eml_graph *g, int32_t v, eml_tensor *t)
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
bool eml__qf_known4(const eml_qf *f, int32_t v)
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
bool eml__qf_known2(const eml_qf *f, int32_t v)
{
    return v >= 0 && (size_t)v < f->n_values && f->s.known[v] && f->s.run[0][v].rank == 2 &&
           !eml__static_dim_symbolic(&f->s, v, 1);
}

/* A [B, M, K] value with M and K known; B may be dynamic. */
bool eml__qf_known3(const eml_qf *f, int32_t v)
{
    return v >= 0 && (size_t)v < f->n_values && f->s.known[v] && f->s.run[0][v].rank == 3 &&
           !eml__static_dim_symbolic(&f->s, v, 1) && !eml__static_dim_symbolic(&f->s, v, 2);
}

/* The matrices, batches of matrices and images the integer ops take. */
static bool known234(const eml_qf *f, int32_t v)
{
    return eml__qf_known4(f, v) || eml__qf_known2(f, v) || eml__qf_known3(f, v);
}

/* A scale (float32, one element, positive and finite) and an optional zero point of dtype zdt
 * with one element. */
bool eml__qf_read_qparam(const eml_graph *g, int32_t scale_v, int32_t zp_v, eml_dtype zdt,
                         eml_qf_param *p)
{
    eml_tensor t;
    p->scale_v = scale_v;
    p->zp_v = zp_v;
    p->zp = 0;
    if (!eml__qf_const(g, scale_v, &t) || t.dtype != EML_DTYPE_F32 || eml_tensor_count(&t) != 1)
        return false;
    p->scale = ((const float *)t.data)[0];
    if (!(p->scale > 0.0f) || !isfinite(p->scale))
        return false;
    if (zp_v < 0)
        return zdt == EML_DTYPE_U8;
    if (!eml__qf_const(g, zp_v, &t) || t.dtype != zdt || eml_tensor_count(&t) != 1)
        return false;
    p->zp = zdt == EML_DTYPE_U8 ? ((const uint8_t *)t.data)[0] : ((const int8_t *)t.data)[0];
    return true;
}

/* v = DequantizeLinear(q, scale, zp?) of a uint8 [N, C, H, W] value with scalar parameters:
 * fills *q and p. */
bool eml__qf_dq_act(const eml_qf *f, int32_t v, int32_t *q, eml_qf_param *p)
{
    const eml_graph *g = f->g;
    if (v < 0 || (size_t)v >= f->n_values || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2)
        return false;
    *q = d->inputs[0];
    return eml__qf_known4(f, *q) && f->s.run[0][*q].dtype == EML_DTYPE_U8 &&
           eml__qf_read_qparam(g, eml__qf_in(d, 1), eml__qf_in(d, 2), EML_DTYPE_U8, p);
}

/* dq_act for a uint8 [N, K] matrix. */
bool eml__qf_dq_act2(const eml_qf *f, int32_t v, int32_t *q, eml_qf_param *p)
{
    const eml_graph *g = f->g;
    if (v < 0 || (size_t)v >= f->n_values || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2)
        return false;
    *q = d->inputs[0];
    return eml__qf_known2(f, *q) && f->s.run[0][*q].dtype == EML_DTYPE_U8 &&
           eml__qf_read_qparam(g, eml__qf_in(d, 1), eml__qf_in(d, 2), EML_DTYPE_U8, p);
}

/* The only reader of v when it is a QuantizeLinear to uint8 with scalar parameters and a 4-D
 * (or [N, K], or [B, M, K]) output: its node index, else -1. */
int32_t eml__qf_q_reader(const eml_qf *f, int32_t v, eml_qf_param *p)
{
    const eml_graph *g = f->g;
    if (!eml__uses_private(g, &f->u, v, 1) || f->u.consumer[v] < 0)
        return -1;
    const int32_t i = f->u.consumer[v];
    const eml_node *n = &g->nodes[i];
    if (n->op != EML_OP_QuantizeLinear || n->n_inputs < 2 || n->inputs[0] != v ||
        n->n_outputs != 1 || !known234(f, n->outputs[0]) ||
        f->s.run[0][n->outputs[0]].dtype != EML_DTYPE_U8)
        return -1;
    return eml__qf_read_qparam(g, eml__qf_in(n, 1), eml__qf_in(n, 2), EML_DTYPE_U8, p) ? i : -1;
}

/* An activation (Relu, or Clip with constant bounds) as the only reader of v: its node index and
 * bounds, else -1. */
static int32_t act_reader(const eml_qf *f, int32_t v, float *lo, float *hi)
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
        const int32_t bv = eml__qf_in(n, k);
        if (bv < 0)
            continue;
        eml_tensor t;
        if (!eml__qf_const(g, bv, &t) || t.dtype != EML_DTYPE_F32 || eml_tensor_count(&t) != 1)
            return -1;
        *(k == 1 ? lo : hi) = ((const float *)t.data)[0];
    }
    return i;
}

/* The uint8 code of the clamp bound b, as QuantizeLinear rounds it. */
static int32_t code_of(float b, const eml_qf_param *y)
{
    const float v = rintf(b / y->scale) + (float)y->zp;
    return !(v > 0.0f) ? 0 : v > 255.0f ? 255 : (int32_t)v;
}

/* Bias: DequantizeLinear of a constant int32 [O] with zero point 0 and scale x_scale·w_scale. */
bool eml__qf_dq_bias(const eml_qf *f, int32_t v, int64_t o, float xs, const eml_tensor *ws,
                     int32_t *bv)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor b, s, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !eml__qf_const(g, d->inputs[0], &b) || b.dtype != EML_DTYPE_I32 || b.rank != 1 ||
        b.dims[0] != o || !eml__qf_const(g, d->inputs[1], &s) || s.dtype != EML_DTYPE_F32)
        return false;
    const int64_t sc = eml_tensor_count(&s), wc = eml_tensor_count(ws);
    if (sc != 1 && sc != o)
        return false;
    if (eml__qf_in(d, 2) >= 0) {
        if (!eml__qf_const(g, eml__qf_in(d, 2), &z) || z.dtype != EML_DTYPE_I32)
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
int32_t eml__qf_tail(const eml_qf *f, int32_t v, int32_t *ai, eml_qf_param *y, int32_t *qmin,
                     int32_t *qmax)
{
    float lo = -INFINITY, hi = INFINITY;
    *ai = act_reader(f, v, &lo, &hi);
    const int32_t qi = eml__qf_q_reader(f, *ai >= 0 ? f->g->nodes[*ai].outputs[0] : v, y);
    if (qi < 0)
        return -1;
    *qmin = code_of(lo, y);
    *qmax = code_of(hi, y);
    return *qmin <= *qmax ? qi : -1;
}

/* ---- the driver ---- */

static bool worth_running(const eml_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == EML_OP_DequantizeLinear || g->nodes[i].op == EML_OP_QLinearConv ||
            g->nodes[i].op == EML_OP_QLinearMatMul)
            return true;
    return false;
}

eml_status eml__pass_qdq_fusion(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    if (!worth_running(g))
        return EML_OK;
    eml_env *env = g->env;
    eml_qf f = {.g = g, .n_values = g->n_values, .n_nodes = g->n_nodes};
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
        case EML_OP_Conv: st = eml__qf_try_conv(&f, i); break;
        case EML_OP_Add: st = eml__qf_try_add(&f, i); break;
        case EML_OP_MaxPool:
        case EML_OP_GlobalAveragePool: st = eml__qf_try_pool(&f, i); break;
        case EML_OP_QuantizeLinear: st = eml__qf_try_cancel(&f, i); break;
        case EML_OP_QLinearConv: st = eml__qf_try_qlinear_conv(&f, i); break;
        case EML_OP_Gemm: st = eml__qf_try_gemm(&f, i); break;
        case EML_OP_MatMul: st = eml__qf_try_matmul(&f, i); break;
        case EML_OP_QLinearMatMul: st = eml__qf_try_qlinear_matmul(&f, i); break;
        case EML_OP_Flatten: st = eml__qf_try_flatten(&f, i); break;
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
