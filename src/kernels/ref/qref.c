/* Reference kernels of edgeml's integer channels-last ops (QConv, QAdd, QMaxPool,
 * QGlobalAveragePool; see qnhwc.h): plain loops, the oracle of the SIMD kernels. Sums are taken
 * modulo 2^32 (as the hardware's int32 adds wrap), so any summation order gives the same bits. */
#include "kernels/ref/nhwc.h"
#include "kernels/ref/qnhwc.h"

/* Per-channel requantization of a QConv node, into out[channels]. */
static eml_status conv_requant(const eml_kernel_ctx *ctx, int64_t channels, eml_qrequant *out)
{
    const eml_tensor *ws = &ctx->inputs[EML_QCONV_W_SCALE];
    const int64_t n = eml__shape_count(ws->dims, ws->rank);
    if (!eml__qconv_requant(eml__qparam_f32(&ctx->inputs[EML_QCONV_X_SCALE], 0), ws->data, n,
                            eml__qparam_f32(&ctx->inputs[EML_QCONV_Y_SCALE], 0), channels, out))
        return eml__diag(ctx->diag, EML_EUNSUPPORTED,
                         "QConv: X_scale·W_scale/Y_scale outside (0, 1] (not representable)");
    return EML_OK;
}

eml_status eml__ref_qconv(const eml_kernel_ctx *ctx)
{
    const eml_qconv_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[EML_QCONV_X], *w = &ctx->inputs[EML_QCONV_W];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_conv_geom(&p->conv, x, w, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "QConv: %s", why);
    const int64_t oc_count = g.out_channels, ic = g.in_channels;
    const int64_t cg = ic / g.group, og = oc_count / g.group;
    const int64_t kh = g.kernel[0], kw = g.kernel[1];
    enum { CHUNK = 256 };
    eml_qrequant rq[CHUNK];
    const int32_t xzp = eml__qparam_int(&ctx->inputs[EML_QCONV_X_ZP], 0);
    const int32_t yzp = eml__qparam_int(&ctx->inputs[EML_QCONV_Y_ZP], 0);
    const eml_tensor *wzp = &ctx->inputs[EML_QCONV_W_ZP];
    const int32_t *bias = eml__kin_present(ctx, EML_QCONV_B) ? ctx->inputs[EML_QCONV_B].data : NULL;
    const uint8_t *xd = x->data;
    const int8_t *wd = w->data;
    uint8_t *yd = ctx->outputs[0].data;
    const eml_tensor *ws = &ctx->inputs[EML_QCONV_W_SCALE];
    const int64_t ws_count = eml__shape_count(ws->dims, ws->rank);
    for (int64_t o0 = 0; o0 < oc_count; o0 += CHUNK) {
        const int64_t o1 = EML_MIN(oc_count, o0 + CHUNK);
        if (!eml__qconv_requant(eml__qparam_f32(&ctx->inputs[EML_QCONV_X_SCALE], 0),
                                (const float *)ws->data + (ws_count == 1 ? 0 : o0),
                                ws_count == 1 ? 1 : o1 - o0,
                                eml__qparam_f32(&ctx->inputs[EML_QCONV_Y_SCALE], 0), o1 - o0, rq))
            return conv_requant(ctx, 1, rq); /* reports the error */
        for (int64_t n = 0; n < g.batch; n++)
            for (int64_t oy = 0; oy < g.out[0]; oy++)
                for (int64_t ox = 0; ox < g.out[1]; ox++) {
                    uint8_t *y = yd + ((n * g.out[0] + oy) * g.out[1] + ox) * oc_count;
                    for (int64_t o = o0; o < o1; o++) {
                        const int64_t grp = o / og;
                        const int32_t wz = eml__qparam_int(wzp, o);
                        uint32_t acc = bias ? (uint32_t)bias[o] : 0u;
                        for (int64_t ky = 0; ky < kh; ky++) {
                            const int64_t iy = oy * g.stride[0] - g.pad_begin[0] +
                                               ky * g.dilation[0];
                            if (iy < 0 || iy >= g.in[0])
                                continue;
                            for (int64_t kx = 0; kx < kw; kx++) {
                                const int64_t ix = ox * g.stride[1] - g.pad_begin[1] +
                                                   kx * g.dilation[1];
                                if (ix < 0 || ix >= g.in[1])
                                    continue;
                                const uint8_t *xp =
                                    xd + ((n * g.in[0] + iy) * g.in[1] + ix) * ic + grp * cg;
                                for (int64_t c = 0; c < cg; c++) {
                                    const int32_t wv = wd[((o * cg + c) * kh + ky) * kw + kx];
                                    acc += (uint32_t)((xp[c] - xzp) * (wv - wz));
                                }
                            }
                        }
                        y[o] = eml__qrequant_u8((int32_t)acc, rq[o - o0], yzp, p->qmin, p->qmax);
                    }
                }
    }
    return EML_OK;
}

eml_status eml__ref_qadd(const eml_kernel_ctx *ctx)
{
    const eml_qadd_params *p = ctx->params;
    const float ys = eml__qparam_f32(&ctx->inputs[6], 0);
    eml_qadd q;
    if (!eml__qadd_init((double)eml__qparam_f32(&ctx->inputs[1], 0) / ys,
                        (double)eml__qparam_f32(&ctx->inputs[4], 0) / ys, &q))
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "QAdd: scale ratio not representable");
    const int32_t az = eml__qparam_int(&ctx->inputs[2], 0);
    const int32_t bz = eml__qparam_int(&ctx->inputs[5], 0);
    const int32_t yz = eml__qparam_int(&ctx->inputs[7], 0);
    const uint8_t *a = ctx->inputs[0].data, *b = ctx->inputs[3].data;
    uint8_t *y = ctx->outputs[0].data;
    const int64_t n = eml__shape_count(ctx->outputs[0].dims, ctx->outputs[0].rank);
    for (int64_t i = 0; i < n; i++)
        y[i] = eml__qadd_u8(a[i] - az, b[i] - bz, &q, yz, p->qmin, p->qmax);
    return EML_OK;
}

/* The rescale from X's to Y's parameters of the pools (the identity when they are equal). */
static eml_status pool_rescale(const eml_kernel_ctx *ctx, eml_qadd *q)
{
    if (!eml__qadd_init((double)eml__qparam_f32(&ctx->inputs[1], 0) /
                            eml__qparam_f32(&ctx->inputs[3], 0),
                        0.0, q))
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "scale ratio not representable");
    return EML_OK;
}

eml_status eml__ref_qmaxpool(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_pool_geom(ctx->params, x, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "QMaxPool: %s", why);
    eml_qadd q;
    EML_TRY(pool_rescale(ctx, &q));
    const int32_t xz = eml__qparam_int(&ctx->inputs[2], 0);
    const int32_t yz = eml__qparam_int(&ctx->inputs[4], 0);
    const int64_t c_count = g.in_channels;
    const uint8_t *xd = x->data;
    uint8_t *yd = ctx->outputs[0].data;
    for (int64_t n = 0; n < g.batch; n++)
        for (int64_t oy = 0; oy < g.out[0]; oy++)
            for (int64_t ox = 0; ox < g.out[1]; ox++) {
                uint8_t *y = yd + ((n * g.out[0] + oy) * g.out[1] + ox) * c_count;
                for (int64_t c = 0; c < c_count; c++) {
                    int32_t m = -1;
                    for (int64_t ky = 0; ky < g.kernel[0]; ky++) {
                        const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
                        for (int64_t kx = 0; iy >= 0 && iy < g.in[0] && kx < g.kernel[1]; kx++) {
                            const int64_t ix =
                                ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
                            if (ix >= 0 && ix < g.in[1])
                                m = EML_MAX(m, xd[((n * g.in[0] + iy) * g.in[1] + ix) * c_count + c]);
                        }
                    }
                    /* a window entirely in the padding holds no value: MaxPool gives -inf,
                     * which quantizes to the lowest code */
                    y[c] = m < 0 ? 0 : eml__qadd_u8(m - xz, 0, &q, yz, 0, 255);
                }
            }
    return EML_OK;
fail:
    return st;
}

eml_status eml__ref_qglobal_avgpool(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    const int64_t hw = x->dims[1] * x->dims[2], c_count = x->dims[3];
    eml_qrequant rq;
    if (hw == 0 || !eml__qrequant_init((double)eml__qparam_f32(&ctx->inputs[1], 0) /
                                           ((double)eml__qparam_f32(&ctx->inputs[3], 0) * (double)hw),
                                       &rq))
        return eml__diag(ctx->diag, EML_EUNSUPPORTED,
                         "QGlobalAveragePool: scale ratio not representable");
    const int32_t xz = eml__qparam_int(&ctx->inputs[2], 0);
    const int32_t yz = eml__qparam_int(&ctx->inputs[4], 0);
    const uint8_t *xd = x->data;
    uint8_t *yd = ctx->outputs[0].data;
    for (int64_t n = 0; n < x->dims[0]; n++)
        for (int64_t c = 0; c < c_count; c++) {
            int32_t s = 0;
            for (int64_t i = 0; i < hw; i++)
                s += xd[(n * hw + i) * c_count + c] - xz;
            yd[n * c_count + c] = eml__qrequant_u8(s, rq, yz, 0, 255);
        }
    return EML_OK;
}
