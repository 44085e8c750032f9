/* Reference kernels that make new values rather than move them: Shape, Size, ConstantOfShape,
 * Constant, Range, EyeLike, OneHot, NonZero and Trilu. */
#include <math.h>

#include "kernels/ref/movement.h"

eml_status eml__ref_shape(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    int64_t first, last;
    eml__shape_bounds(ctx->params, x->rank, &first, &last);
    int64_t *y = ctx->outputs[0].data;
    for (int64_t d = first; d < last; d++)
        y[d - first] = x->dims[d];
    return EML_OK;
}

eml_status eml__ref_size(const eml_kernel_ctx *ctx)
{
    *(int64_t *)ctx->outputs[0].data = eml_tensor_count(&ctx->inputs[0]);
    return EML_OK;
}

eml_status eml__ref_constant_of_shape(const eml_kernel_ctx *ctx)
{
    const eml_constant_of_shape_params *p = ctx->params;
    eml_tensor *y = &ctx->outputs[0];
    int64_t n = eml_tensor_count(y);
    size_t es = eml_dtype_size(y->dtype);
    uint8_t *dst = y->data;
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * es, p->value, es);
    return EML_OK;
}

eml_status eml__ref_constant(const eml_kernel_ctx *ctx)
{
    const eml_constant_params *p = ctx->params;
    size_t bytes = eml_tensor_bytes(&ctx->outputs[0]);
    if (bytes)
        memcpy(ctx->outputs[0].data, p->data, bytes);
    return EML_OK;
}

/* The element count comes from infer (the output shape); values are start + i * delta. */
eml_status eml__ref_range(const eml_kernel_ctx *ctx)
{
    const eml_tensor *start = &ctx->inputs[0], *delta = &ctx->inputs[2];
    eml_tensor *y = &ctx->outputs[0];
    int64_t n = eml_tensor_count(y);
    if (y->dtype == EML_DTYPE_F32 || y->dtype == EML_DTYPE_F64) {
        double s = eml__tensor_get_f64(start, 0), d = eml__tensor_get_f64(delta, 0);
        for (int64_t i = 0; i < n; i++)
            eml__tensor_set_f64(y, i, s + (double)i * d);
        return EML_OK;
    }
    /* unsigned arithmetic wraps where int64 would overflow; every result fits the type */
    uint64_t s = (uint64_t)eml__tensor_get_i64(start, 0),
             d = (uint64_t)eml__tensor_get_i64(delta, 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = (int64_t)(s + (uint64_t)i * d);
        switch (y->dtype) {
        case EML_DTYPE_I16:
            ((int16_t *)y->data)[i] = (int16_t)v;
            break;
        case EML_DTYPE_I32:
            ((int32_t *)y->data)[i] = (int32_t)v;
            break;
        default:
            ((int64_t *)y->data)[i] = v;
            break;
        }
    }
    return EML_OK;
}

eml_status eml__ref_eye_like(const eml_kernel_ctx *ctx)
{
    const eml_eye_like_params *p = ctx->params;
    eml_tensor *y = &ctx->outputs[0];
    int64_t rows = y->dims[0], cols = y->dims[1];
    size_t bytes = eml_tensor_bytes(y);
    if (bytes == 0)
        return EML_OK;
    memset(y->data, 0, bytes); /* all-zero bytes are 0 in every type */
    for (int64_t i = 0; i < rows; i++) {
        if (p->k >= cols - i || p->k < -i) /* j = i + k outside [0, cols), without overflow */
            continue;
        eml__tensor_set_f64(y, i * cols + i + p->k, 1.0);
    }
    return EML_OK;
}

/* Index i of OneHot's indices in [0, depth), or -1 when outside [-depth, depth) (that entry gets
 * only off values). Float indices are truncated, as ONNX Runtime casts them. */
static int64_t one_hot_index(const eml_tensor *indices, int64_t i, int64_t depth)
{
    int64_t v;
    switch (indices->dtype) {
    case EML_DTYPE_F32:
    case EML_DTYPE_F64:
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16: {
        double f = trunc(eml__tensor_get_f64(indices, i));
        if (!(f >= (double)-depth && f < (double)depth))
            return -1;
        v = (int64_t)f;
        break;
    }
    case EML_DTYPE_U64:
        if (((const uint64_t *)indices->data)[i] > (uint64_t)INT64_MAX)
            return -1;
        v = eml__tensor_get_i64(indices, i);
        break;
    default:
        v = eml__tensor_get_i64(indices, i);
        break;
    }
    if (v < -depth || v >= depth)
        return -1;
    return v < 0 ? v + depth : v;
}

eml_status eml__ref_one_hot(const eml_kernel_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *indices = &ctx->inputs[0], *values = &ctx->inputs[2];
    eml_tensor *y = &ctx->outputs[0];
    int64_t axis = p->axis < 0 ? p->axis + y->rank : p->axis;
    int64_t depth = y->dims[axis];
    int64_t outer = eml__shape_count(indices->dims, (int)axis);
    int64_t inner = eml__shape_count(indices->dims + axis, indices->rank - (int)axis);
    size_t es = eml_dtype_size(y->dtype);
    const uint8_t *off = values->data, *on = off + es;
    uint8_t *dst = y->data;
    /* output [outer, depth, inner]: entry (o, c, i) is on when indices[o, i] == c */
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t c = 0; c < depth; c++) {
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = one_hot_index(indices, o * inner + i, depth);
                memcpy(dst, k == c ? on : off, es);
                dst += es;
            }
        }
    }
    return EML_OK;
}

static bool element_nonzero(const eml_tensor *t, int64_t i, size_t es)
{
    switch (t->dtype) {
    case EML_DTYPE_F32:
    case EML_DTYPE_F64:
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16:
        return eml__tensor_get_f64(t, i) != 0.0; /* -0.0 is zero, NaN is not */
    default: {
        const uint8_t *b = (const uint8_t *)t->data + (size_t)i * es;
        for (size_t k = 0; k < es; k++) {
            if (b[k])
                return true;
        }
        return false;
    }
    }
}

int64_t eml__nonzero_count(const eml_tensor *t)
{
    int64_t n = eml_tensor_count(t), count = 0;
    size_t es = eml_dtype_size(t->dtype);
    for (int64_t i = 0; i < n; i++)
        count += element_nonzero(t, i, es);
    return count;
}

/* Output [rank, count]: row d holds coordinate d of each nonzero element, in row-major order. */
eml_status eml__ref_nonzero(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    int rank = x->rank;
    int64_t n = eml_tensor_count(x), count = y->dims[1], found = 0;
    size_t es = eml_dtype_size(x->dtype);
    int64_t *out = y->data;
    int64_t index[EML_MAX_RANK] = {0};
    for (int64_t i = 0; i < n && found < count; i++) {
        if (element_nonzero(x, i, es)) {
            for (int d = 0; d < rank; d++)
                out[d * count + found] = index[d];
            found++;
        }
        eml__index_next(index, x->dims, rank);
    }
    return EML_OK;
}

eml_status eml__ref_trilu(const eml_kernel_ctx *ctx)
{
    const eml_trilu_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    size_t bytes = eml_tensor_bytes(y);
    if (bytes == 0)
        return EML_OK;
    memcpy(y->data, x->data, bytes);
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t k = 0;
    if (eml__kin_present(ctx, 1))
        k = eml__tensor_get_i64(&ctx->inputs[1], 0);
    /* beyond +-(rows + cols) every k keeps or zeroes the same elements; the cap avoids overflow */
    k = EML_MAX(EML_MIN(k, rows + cols), -(rows + cols));
    size_t es = eml_dtype_size(x->dtype);
    int64_t matrices = eml_tensor_count(x) / (rows * cols);
    uint8_t *dst = y->data;
    for (int64_t m = 0; m < matrices; m++) {
        for (int64_t i = 0; i < rows; i++, dst += (size_t)cols * es) {
            /* upper keeps j >= i + k; lower keeps j <= i + k: zero the other side */
            int64_t edge = p->upper ? i + k : i + k + 1;
            edge = EML_MIN(EML_MAX(edge, 0), cols);
            if (p->upper)
                memset(dst, 0, (size_t)edge * es);
            else
                memset(dst + (size_t)edge * es, 0, (size_t)(cols - edge) * es);
        }
    }
    return EML_OK;
}
