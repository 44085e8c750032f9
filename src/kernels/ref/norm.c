/* Reference kernels of BatchNormalization (inference and training mode), InstanceNormalization
 * and LayerNormalization. Statistics are computed in double, in two passes. */
#include "kernels/ref/norm.h"

/* Mean and population variance of x[base + j], j < n. */
EML_REDUCE_INLINE void row_stats(const void *x, eml_dtype dt, int64_t base, int64_t n, double *mean,
                                 double *var)
{
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++)
        sum += eml__elem_load_f(x, dt, base + j);
    double m = sum / (double)n;
    double sq = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double d = eml__elem_load_f(x, dt, base + j) - m;
        sq += d * d;
    }
    *mean = m;
    *var = sq / (double)n;
}

/* y = x * a + b over a contiguous run. */
EML_REDUCE_INLINE void scale_shift(const void *x, void *y, eml_dtype dt, int64_t base, int64_t n,
                                   double a, double b)
{
    for (int64_t j = 0; j < n; j++)
        eml__elem_store_f(y, dt, base + j, eml__elem_load_f(x, dt, base + j) * a + b);
}

/* ---- BatchNormalization ---- */

EML_REDUCE_INLINE void batchnorm_run(const eml_kernel_ctx *ctx, eml_dtype dt, int64_t batch,
                                     int64_t channels, int64_t inner)
{
    const eml_batchnorm_params *p = ctx->params;
    const void *x = ctx->inputs[0].data;
    void *y = ctx->outputs[0].data;
    double eps = p->epsilon, momentum = p->momentum;
    for (int64_t c = 0; c < channels; c++) {
        double scale = eml__tensor_get_f64(&ctx->inputs[1], c);
        double bias = eml__tensor_get_f64(&ctx->inputs[2], c);
        double mean = eml__tensor_get_f64(&ctx->inputs[3], c);
        double var = eml__tensor_get_f64(&ctx->inputs[4], c);
        if (p->training) {
            /* statistics of this batch over every axis but the channel's */
            double count = (double)(batch * inner), sum = 0.0, sq = 0.0;
            for (int64_t b = 0; b < batch; b++) {
                int64_t base = (b * channels + c) * inner;
                for (int64_t i = 0; i < inner; i++)
                    sum += eml__elem_load_f(x, dt, base + i);
            }
            double m = sum / count;
            for (int64_t b = 0; b < batch; b++) {
                int64_t base = (b * channels + c) * inner;
                for (int64_t i = 0; i < inner; i++) {
                    double d = eml__elem_load_f(x, dt, base + i) - m;
                    sq += d * d;
                }
            }
            double v = sq / count;
            if (ctx->n_outputs > 1 && ctx->outputs[1].data)
                eml__tensor_set_f64(&ctx->outputs[1], c, mean * momentum + m * (1.0 - momentum));
            if (ctx->n_outputs > 2 && ctx->outputs[2].data)
                eml__tensor_set_f64(&ctx->outputs[2], c, var * momentum + v * (1.0 - momentum));
            mean = m;
            var = v;
        }
        double a = scale / sqrt(var + eps);
        double b0 = bias - mean * a;
        for (int64_t b = 0; b < batch; b++)
            scale_shift(x, y, dt, (b * channels + c) * inner, inner, a, b0);
    }
}

eml_status eml__ref_batchnorm(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    int64_t batch, channels, inner;
    eml__batchnorm_view(ctx->params, x, &batch, &channels, &inner);
    switch (x->dtype) {
    case EML_DTYPE_F32: batchnorm_run(ctx, EML_DTYPE_F32, batch, channels, inner); break;
    case EML_DTYPE_F64: batchnorm_run(ctx, EML_DTYPE_F64, batch, channels, inner); break;
    case EML_DTYPE_F16: batchnorm_run(ctx, EML_DTYPE_F16, batch, channels, inner); break;
    case EML_DTYPE_BF16: batchnorm_run(ctx, EML_DTYPE_BF16, batch, channels, inner); break;
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "BatchNormalization of %s",
                         eml_dtype_name(x->dtype));
    }
    return EML_OK;
}

/* ---- InstanceNormalization ---- */

EML_REDUCE_INLINE void instancenorm_run(const eml_kernel_ctx *ctx, eml_dtype dt, int64_t batch,
                                        int64_t channels, int64_t inner)
{
    const eml_instancenorm_params *p = ctx->params;
    const void *x = ctx->inputs[0].data;
    const void *scale = ctx->inputs[1].data;
    const void *bias = ctx->inputs[2].data;
    void *y = ctx->outputs[0].data;
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t c = 0; c < channels; c++) {
            int64_t base = (b * channels + c) * inner;
            double mean, var;
            row_stats(x, dt, base, inner, &mean, &var);
            double a = eml__elem_load_f(scale, dt, c) / sqrt(var + (double)p->epsilon);
            scale_shift(x, y, dt, base, inner, a, eml__elem_load_f(bias, dt, c) - mean * a);
        }
    }
}

eml_status eml__ref_instancenorm(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    int64_t batch = x->dims[0], channels = x->dims[1];
    int64_t inner = eml__shape_count(x->dims + 2, x->rank - 2);
    switch (x->dtype) {
    case EML_DTYPE_F32: instancenorm_run(ctx, EML_DTYPE_F32, batch, channels, inner); break;
    case EML_DTYPE_F64: instancenorm_run(ctx, EML_DTYPE_F64, batch, channels, inner); break;
    case EML_DTYPE_F16: instancenorm_run(ctx, EML_DTYPE_F16, batch, channels, inner); break;
    case EML_DTYPE_BF16: instancenorm_run(ctx, EML_DTYPE_BF16, batch, channels, inner); break;
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "InstanceNormalization of %s",
                         eml_dtype_name(x->dtype));
    }
    return EML_OK;
}

/* ---- LayerNormalization ---- */

EML_REDUCE_INLINE void layernorm_run(const eml_kernel_ctx *ctx, eml_dtype dt, int64_t outer,
                                     int64_t inner)
{
    const eml_layernorm_params *p = ctx->params;
    const void *x = ctx->inputs[0].data;
    const void *scale = ctx->inputs[1].data;
    const void *bias = eml__kin_present(ctx, 2) ? ctx->inputs[2].data : NULL;
    /* Scale and B are flattened and broadcast against each row: one value each, or one per
     * element of the row (infer checked) */
    bool scale_all = eml_tensor_count(&ctx->inputs[1]) == inner;
    bool bias_all = bias && eml_tensor_count(&ctx->inputs[2]) == inner;
    void *y = ctx->outputs[0].data;
    float *mean_out = ctx->n_outputs > 1 ? ctx->outputs[1].data : NULL;
    float *inv_out = ctx->n_outputs > 2 ? ctx->outputs[2].data : NULL;
    for (int64_t r = 0; r < outer; r++) {
        int64_t base = r * inner;
        double mean, var;
        row_stats(x, dt, base, inner, &mean, &var);
        double inv = 1.0 / sqrt(var + (double)p->epsilon);
        for (int64_t j = 0; j < inner; j++) {
            double v = (eml__elem_load_f(x, dt, base + j) - mean) * inv;
            v *= eml__elem_load_f(scale, dt, scale_all ? j : 0);
            if (bias)
                v += eml__elem_load_f(bias, dt, bias_all ? j : 0);
            eml__elem_store_f(y, dt, base + j, v);
        }
        if (mean_out)
            mean_out[r] = (float)mean;
        if (inv_out)
            inv_out[r] = (float)inv;
    }
}

eml_status eml__ref_layernorm(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis;
    if (!eml__layernorm_axis(ctx->params, x->rank, &axis))
        return eml__diag(ctx->diag, EML_EINTERNAL, "axis not checked by infer");
    int64_t outer = eml__shape_count(x->dims, (int)axis);
    int64_t inner = eml__shape_count(x->dims + axis, x->rank - (int)axis);
    switch (x->dtype) {
    case EML_DTYPE_F32: layernorm_run(ctx, EML_DTYPE_F32, outer, inner); break;
    case EML_DTYPE_F64: layernorm_run(ctx, EML_DTYPE_F64, outer, inner); break;
    case EML_DTYPE_F16: layernorm_run(ctx, EML_DTYPE_F16, outer, inner); break;
    case EML_DTYPE_BF16: layernorm_run(ctx, EML_DTYPE_BF16, outer, inner); break;
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "LayerNormalization of %s",
                         eml_dtype_name(x->dtype));
    }
    return EML_OK;
}
