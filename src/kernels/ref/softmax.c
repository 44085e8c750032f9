/* Reference kernels of Softmax, LogSoftmax and Hardmax over one axis or a flattened block. */
#include "kernels/ref/reduce.h"

EML_REDUCE_INLINE void softmax_run(int kind, const void *x, void *y, eml_dtype dt, int64_t outer,
                                   int64_t n, int64_t inner)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            /* the first largest element: Hardmax's pick, and the shift that keeps exp() finite;
             * a NaN wins so that it spreads to the whole row, as in numpy */
            int64_t best = 0;
            double max = n > 0 ? eml__elem_load_f(x, dt, base) : 0.0;
            for (int64_t j = 1; j < n && max == max; j++) {
                double v = eml__elem_load_f(x, dt, base + j * inner);
                if (v > max || v != v) {
                    max = v;
                    best = j;
                }
            }
            if (kind == EML_HARDMAX) {
                for (int64_t j = 0; j < n; j++)
                    eml__elem_store_f(y, dt, base + j * inner, j == best ? 1.0 : 0.0);
                continue;
            }
            double sum = 0.0;
            for (int64_t j = 0; j < n; j++)
                sum += exp(eml__elem_load_f(x, dt, base + j * inner) - max);
            if (kind == EML_LOG_SOFTMAX) {
                double log_sum = log(sum);
                for (int64_t j = 0; j < n; j++) {
                    int64_t off = base + j * inner;
                    eml__elem_store_f(y, dt, off, eml__elem_load_f(x, dt, off) - max - log_sum);
                }
            } else {
                double scale = 1.0 / sum;
                for (int64_t j = 0; j < n; j++) {
                    int64_t off = base + j * inner;
                    eml__elem_store_f(y, dt, off, exp(eml__elem_load_f(x, dt, off) - max) * scale);
                }
            }
        }
    }
}

eml_status eml__ref_softmax(const eml_kernel_ctx *ctx)
{
    const eml_softmax_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis, outer, n, inner;
    if (!eml__softmax_axis(p, x->rank, &axis))
        return eml__diag(ctx->diag, EML_EINTERNAL, "axis not checked by infer");
    if (p->flatten) {
        /* coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])]: one contiguous row each */
        outer = eml__shape_count(x->dims, (int)axis);
        n = eml__shape_count(x->dims + axis, x->rank - (int)axis);
        inner = 1;
    } else {
        eml__reduce_axis_split(x->dims, x->rank, (int)axis, &outer, &n, &inner);
    }
    void *y = ctx->outputs[0].data;
    switch (x->dtype) {
    case EML_DTYPE_F32: softmax_run(p->kind, x->data, y, EML_DTYPE_F32, outer, n, inner); break;
    case EML_DTYPE_F64: softmax_run(p->kind, x->data, y, EML_DTYPE_F64, outer, n, inner); break;
    case EML_DTYPE_F16: softmax_run(p->kind, x->data, y, EML_DTYPE_F16, outer, n, inner); break;
    case EML_DTYPE_BF16: softmax_run(p->kind, x->data, y, EML_DTYPE_BF16, outer, n, inner); break;
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "softmax of %s", eml_dtype_name(x->dtype));
    }
    return EML_OK;
}
