/* qdq-fusion's convolution patterns: DQ ─ Conv ─ Relu/Clip? ─ Q and ONNX's QLinearConv become
 * QConv (kernels/ref/qnhwc.h). */
#include <math.h>

#include "graph/passes/qdq_fusion.h"
#include "kernels/ref/qnhwc.h"

/* Weights: DequantizeLinear of a constant int8 [O, C/g, kH, kW] with a scalar or per-channel
 * (axis 0) scale and zero point. */
static bool dq_weights(const eml_qf *f, int32_t v, int32_t *wv, int32_t *scale_v, int32_t *zp_v,
                       eml_tensor *scale)
{
    const eml_graph *g = f->g;
    if (v < 0 || g->values[v].producer < 0)
        return false;
    const eml_node *d = &g->nodes[g->values[v].producer];
    eml_tensor w, z;
    if (d->op != EML_OP_DequantizeLinear || d->n_inputs < 2 ||
        !eml__qf_const(g, d->inputs[0], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 4 ||
        !eml__qf_const(g, d->inputs[1], scale) || scale->dtype != EML_DTYPE_F32 || scale->rank > 1)
        return false;
    const int64_t sc = eml_tensor_count(scale);
    if (sc != 1) {
        const eml_attr *axis = eml__node_attr(d, "axis");
        if (sc != w.dims[0] || !axis || (axis->i != 0 && axis->i != -4))
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

eml_status eml__qf_try_conv(eml_qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->outputs[0] < 0)
        return EML_OK;
    int32_t xq, wv, ws_v, wz_v, bv = -1, ai, qmin, qmax;
    eml_qf_param x, y;
    eml_tensor ws;
    if (!eml__qf_dq_act(f, n->inputs[0], &xq, &x) ||
        !dq_weights(f, n->inputs[1], &wv, &ws_v, &wz_v, &ws))
        return EML_OK;
    const int64_t o = f->g->values[wv].dims[0];
    if (eml__qf_in(n, 2) >= 0 && !eml__qf_dq_bias(f, eml__qf_in(n, 2), o, x.scale, &ws, &bv))
        return EML_OK;
    const int32_t qi = eml__qf_tail(f, n->outputs[0], &ai, &y, &qmin, &qmax);
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
    eml_status st = eml__qf_rewrite(f, i, "QConv", inputs, nhwc, 9, qi, ai);
    if (st == EML_OK && qmin != 0)
        st = eml__qf_add_int_attr(f->g, i, "qmin", qmin);
    if (st == EML_OK && qmax != 255)
        st = eml__qf_add_int_attr(f->g, i, "qmax", qmax);
    return st;
}

/* ONNX's QLinearConv on a uint8 [N, C, H, W] input with constant int8 weights and parameters
 * takes the same inputs as QConv: only the layout changes. */
eml_status eml__qf_try_qlinear_conv(eml_qf *f, size_t i)
{
    const eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    eml_tensor w, ws, wz, b;
    eml_qf_param x, y;
    if (n->n_inputs < 8 || n->n_outputs != 1 || !eml__qf_known4(f, n->inputs[0]) ||
        f->s.run[0][n->inputs[0]].dtype != EML_DTYPE_U8 || !eml__qf_known4(f, n->outputs[0]) ||
        !eml__qf_const(g, n->inputs[3], &w) || w.dtype != EML_DTYPE_I8 || w.rank != 4 ||
        !eml__qf_read_qparam(g, n->inputs[1], n->inputs[2], EML_DTYPE_U8, &x) ||
        !eml__qf_read_qparam(g, n->inputs[6], n->inputs[7], EML_DTYPE_U8, &y) ||
        !eml__qf_const(g, n->inputs[4], &ws) || ws.dtype != EML_DTYPE_F32 || ws.rank > 1 ||
        !eml__qf_const(g, n->inputs[5], &wz) || wz.dtype != EML_DTYPE_I8 || wz.rank > 1)
        return EML_OK;
    const int64_t o = w.dims[0], wc = eml_tensor_count(&ws), zc = eml_tensor_count(&wz);
    if ((wc != 1 && wc != o) || (zc != 1 && zc != o))
        return EML_OK;
    if (eml__qf_in(n, 8) >= 0 && (!eml__qf_const(g, eml__qf_in(n, 8), &b) ||
                                  b.dtype != EML_DTYPE_I32 || b.rank != 1 || b.dims[0] != o))
        return EML_OK;
    for (int64_t c = 0; c < o; c++) {
        const float sc = ((const float *)ws.data)[wc == 1 ? 0 : c];
        eml_qrequant rq;
        if (!(sc > 0.0f) || !eml__qconv_requant(x.scale, &sc, 1, y.scale, 1, &rq))
            return EML_OK;
    }
    const int32_t inputs[9] = {n->inputs[0], x.scale_v, x.zp_v, n->inputs[3],    n->inputs[4],
                               n->inputs[5], y.scale_v, y.zp_v, eml__qf_in(n, 8)};
    const bool nhwc[9] = {true};
    return eml__qf_rewrite(f, i, "QConv", inputs, nhwc, 9, (int32_t)i, -1);
}
