/* Reference linear quantization: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear. */
#include <math.h>

#include "kernels/ref/quantize.h"

eml_status eml__quant_layout(const eml_tensor *x, const eml_tensor *scale, int64_t axis,
                             eml_quant_layout *out)
{
    out->channels = 1;
    out->inner = 1;
    if (eml_tensor_count(scale) == 1)
        return EML_OK;
    if (scale->rank != 1 || axis < -x->rank || axis >= x->rank)
        return EML_ESHAPE;
    int ax = (int)(axis < 0 ? axis + x->rank : axis);
    if (x->dims[ax] != scale->dims[0])
        return EML_ESHAPE;
    out->channels = x->dims[ax];
    for (int d = ax + 1; d < x->rank; d++)
        out->inner *= x->dims[d];
    return EML_OK;
}

static int64_t channel_of(const eml_quant_layout *q, int64_t i)
{
    return q->channels == 1 ? 0 : (i / q->inner) % q->channels;
}

/* Clamps to the range of a uint8 or int8 output and stores; NaN becomes the low end rather than
 * an undefined conversion. */
static void q8_store(eml_tensor *y, int64_t i, double v)
{
    bool is_signed = y->dtype == EML_DTYPE_I8;
    double lo = is_signed ? -128.0 : 0.0, hi = is_signed ? 127.0 : 255.0;
    if (!(v >= lo))
        v = lo;
    if (v > hi)
        v = hi;
    if (is_signed)
        ((int8_t *)y->data)[i] = (int8_t)v;
    else
        ((uint8_t *)y->data)[i] = (uint8_t)v;
}

eml_status eml__ref_quantize(const eml_kernel_ctx *ctx)
{
    const eml_quantize_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *scale = &ctx->inputs[1];
    const eml_tensor *zp = eml__kin_present(ctx, 2) ? &ctx->inputs[2] : NULL;
    eml_tensor *y = &ctx->outputs[0];
    eml_quant_layout q;
    if (eml__quant_layout(x, scale, p->axis, &q) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "QuantizeLinear: shapes changed after infer");
    const float *s = scale->data;
    int64_t n = eml_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = channel_of(&q, i);
        double z = zp ? (double)eml__tensor_get_i64(zp, c) : 0.0;
        double r;
        /* float32 input divides in float32 (as numpy and ONNX Runtime do); int32 in double */
        if (x->dtype == EML_DTYPE_F32)
            r = (double)rintf(((const float *)x->data)[i] / s[c]);
        else
            r = rint((double)((const int32_t *)x->data)[i] / (double)s[c]);
        q8_store(y, i, r + z);
    }
    return EML_OK;
}

eml_status eml__ref_dequantize(const eml_kernel_ctx *ctx)
{
    const eml_quantize_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *scale = &ctx->inputs[1];
    const eml_tensor *zp = eml__kin_present(ctx, 2) ? &ctx->inputs[2] : NULL;
    float *y = ctx->outputs[0].data;
    eml_quant_layout q;
    if (eml__quant_layout(x, scale, p->axis, &q) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "DequantizeLinear: shapes changed after infer");
    const float *s = scale->data;
    int64_t n = eml_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = channel_of(&q, i);
        int64_t z = zp ? eml__tensor_get_i64(zp, c) : 0;
        y[i] = (float)(eml__tensor_get_i64(x, i) - z) * s[c];
    }
    return EML_OK;
}

/* In float32 as ONNX Runtime (and the ONNX reference since 1.13) computes it; a range of 0 (all
 * x zero) takes a scale of 1/255 rather than the spec formula's 0/0. Ties round to even. */
eml_status eml__ref_dynamic_quantize(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    const float *xv = x->data;
    uint8_t *y = ctx->outputs[0].data;
    int64_t n = eml_tensor_count(x);
    float lo = 0.0f, hi = 0.0f;   /* the range always includes 0 */
    for (int64_t i = 0; i < n; i++) {
        if (xv[i] < lo)
            lo = xv[i];
        if (xv[i] > hi)
            hi = xv[i];
    }
    float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
    float zp = 0.0f - lo / scale;
    zp = rintf(!(zp >= 0.0f) ? 0.0f : zp > 255.0f ? 255.0f : zp);
    for (int64_t i = 0; i < n; i++) {
        float v = rintf(xv[i] / scale) + zp;
        v = !(v >= 0.0f) ? 0.0f : v > 255.0f ? 255.0f : v;
        y[i] = (uint8_t)v;
    }
    *(float *)ctx->outputs[1].data = scale;
    *(uint8_t *)ctx->outputs[2].data = (uint8_t)zp;
    return EML_OK;
}
