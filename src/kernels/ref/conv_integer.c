/* Reference ConvInteger and QLinearConv: im2col of (x - x_zero_point) and GEMM with
 * (w - w_zero_point) in int16, int32 accumulation, then QLinearConv's float requantization. */
#include <math.h>

#include "kernels/ref/conv.h"

bool eml__conv_integer_scratch(const eml_conv_geom *g, bool requantize, size_t *bytes)
{
    const int64_t K = g->in_channels / g->group * g->kernel_size;
    const int64_t Mg = g->out_channels / g->group;
    const int64_t chunk = eml__conv_chunk(g->out_size, K, 2);
    uint64_t n;
    *bytes = 0;
    bool ok = !eml__mul_overflow((uint64_t)K, (uint64_t)chunk, &n) && eml__scratch_add(bytes, n, 2);
    ok = ok && !eml__mul_overflow((uint64_t)g->out_channels, (uint64_t)K, &n) &&
         eml__scratch_add(bytes, n, 2);
    if (requantize)
        ok = ok && eml__scratch_add(bytes, (uint64_t)Mg * (uint64_t)chunk, 4);
    return ok;
}

/* What differs between the two ops: where the int32 sums go and what happens to them. */
typedef struct qconv_out {
    const eml_tensor *bias;      /* int32 [M], QLinearConv only */
    eml_tensor *y;               /* int32 (ConvInteger) or uint8/int8 (QLinearConv) */
    bool requantize;
    float x_scale, y_scale;
    const eml_tensor *w_scale;   /* float [1] or [M] */
    int32_t y_zero_point;
} qconv_out;

/* Round half to even, as the requantization of ONNX Runtime (and numpy's rint) does. */
static float round_half_even(float v)
{
    float r = floorf(v);
    float d = v - r;
    if (d > 0.5f || (d == 0.5f && fmodf(r, 2.0f) != 0.0f))
        r += 1.0f;
    return r;
}

static void requantize_rows(const qconv_out *o, const int32_t *acc, int64_t ldc, int64_t m0,
                            int64_t Mg, int64_t np, void *ydst, int64_t ldy)
{
    const bool u8 = o->y->dtype == EML_DTYPE_U8;
    const float lo = u8 ? 0.0f : -128.0f, hi = u8 ? 255.0f : 127.0f;
    const int64_t n_scales = eml_tensor_count(o->w_scale);
    const float *w_scale = o->w_scale->data;
    for (int64_t m = 0; m < Mg; m++) {
        /* the float multiplier formed in float, in this order, as ONNX Runtime does */
        const float scale = o->x_scale * w_scale[n_scales == 1 ? 0 : m0 + m] / o->y_scale;
        for (int64_t q = 0; q < np; q++) {
            float r = round_half_even((float)acc[m * ldc + q] * scale) + (float)o->y_zero_point;
            if (!(r >= lo))   /* also catches NaN from a hostile scale */
                r = lo;
            if (r > hi)
                r = hi;
            if (u8)
                ((uint8_t *)ydst)[m * ldy + q] = (uint8_t)r;
            else
                ((int8_t *)ydst)[m * ldy + q] = (int8_t)r;
        }
    }
}

static int32_t zero_point(const eml_kernel_ctx *ctx, int32_t i, int64_t index)
{
    if (!eml__kin_present(ctx, i))
        return 0;
    const eml_tensor *t = &ctx->inputs[i];
    return (int32_t)eml__tensor_get_i64(t, eml_tensor_count(t) == 1 ? 0 : index);
}

static eml_status qconv_run(const eml_kernel_ctx *ctx, int32_t xi, int32_t xzi, int32_t wi,
                            int32_t wzi, const qconv_out *o)
{
    const eml_tensor *x = &ctx->inputs[xi], *w = &ctx->inputs[wi];
    eml_conv_geom g;
    char why[128];
    eml_status st = eml__conv_geom(ctx->params, x, w, false, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "integer conv: %s", why);
    const int64_t Cg = g.in_channels / g.group, Mg = g.out_channels / g.group;
    const int64_t K = Cg * g.kernel_size, P = g.out_size;
    const int64_t chunk = eml__conv_chunk(P, K, 2);
    const size_t xelem = eml_dtype_size(x->dtype), yelem = eml_dtype_size(o->y->dtype);
    size_t off = 0;
    int16_t *col = eml__scratch_take(ctx->scratch, &off, (uint64_t)(K * chunk), 2);
    int16_t *wq = eml__scratch_take(ctx->scratch, &off, (uint64_t)(g.out_channels * K), 2);
    int32_t *acc = o->requantize ? eml__scratch_take(ctx->scratch, &off, (uint64_t)(Mg * chunk), 4)
                                 : NULL;
    const bool w_u8 = w->dtype == EML_DTYPE_U8;
    for (int64_t m = 0; m < g.out_channels; m++) {
        const int32_t zp = zero_point(ctx, wzi, m);
        for (int64_t k = 0; k < K; k++) {
            int32_t v = w_u8 ? ((const uint8_t *)w->data)[m * K + k]
                             : ((const int8_t *)w->data)[m * K + k];
            wq[m * K + k] = (int16_t)(v - zp);
        }
    }
    const int32_t x_zp = zero_point(ctx, xzi, 0);
    for (int64_t n = 0; n < g.batch; n++) {
        const char *xn = (const char *)x->data + (size_t)(n * g.in_channels * g.in_size) * xelem;
        for (int64_t gi = 0; gi < g.group; gi++) {
            const int64_t m0 = gi * Mg;
            for (int64_t p0 = 0; p0 < P; p0 += chunk) {
                const int64_t np = EML_MIN(chunk, P - p0);
                eml_im2col_job job = {&g, xn, x->dtype, x_zp, gi * Cg, p0, p0 + np, col};
                eml__im2col(&job, ctx->pool, K);
                const int64_t first = (n * g.out_channels + m0) * P + p0;
                int32_t *c = o->requantize ? acc : (int32_t *)o->y->data + first;
                const int64_t ldc = o->requantize ? np : P;
                for (int64_t m = 0; m < Mg; m++) {
                    int32_t b = o->bias ? ((const int32_t *)o->bias->data)[m0 + m] : 0;
                    for (int64_t q = 0; q < np; q++)
                        c[m * ldc + q] = b;
                }
                eml__gemm_s16(ctx->pool, Mg, np, K, wq + m0 * K, K, 1, col, np, c, ldc);
                if (o->requantize)
                    requantize_rows(o, acc, ldc, m0, Mg, np,
                                    (char *)o->y->data + (size_t)first * yelem, P);
            }
        }
    }
    return EML_OK;
}

eml_status eml__ref_conv_integer(const eml_kernel_ctx *ctx)
{
    qconv_out o = {0};
    o.y = &ctx->outputs[0];
    return qconv_run(ctx, 0, 2, 1, 3, &o);
}

eml_status eml__ref_qlinear_conv(const eml_kernel_ctx *ctx)
{
    qconv_out o = {0};
    o.y = &ctx->outputs[0];
    o.requantize = true;
    o.bias = eml__kin_present(ctx, 8) ? &ctx->inputs[8] : NULL;
    o.x_scale = ((const float *)ctx->inputs[1].data)[0];
    o.w_scale = &ctx->inputs[4];
    o.y_scale = ((const float *)ctx->inputs[6].data)[0];
    o.y_zero_point = zero_point(ctx, 7, 0);
    return qconv_run(ctx, 0, 2, 3, 5, &o);
}
