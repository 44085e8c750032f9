/* Reference Gather and GatherElements; indices come from data, so each one is checked here. */
#include "kernels/ref/movement.h"

static int64_t index_at(const eml_tensor *indices, int64_t i)
{
    return indices->dtype == EML_DTYPE_I32 ? ((const int32_t *)indices->data)[i]
                                           : ((const int64_t *)indices->data)[i];
}

/* Index i of `indices` made non-negative, or EML_ERANGE with a message when outside [-d, d). */
static eml_status checked_index(const eml_kernel_ctx *ctx, const char *op,
                                const eml_tensor *indices, int64_t i, int64_t d, int64_t *out)
{
    int64_t v = index_at(indices, i);
    if (v < -d || v >= d)
        return eml__diag(ctx->diag, EML_ERANGE,
                         "%s: index %lld (element %lld of indices) out of range [%lld, %lld]", op,
                         (long long)v, (long long)i, (long long)-d, (long long)(d - 1));
    *out = v < 0 ? v + d : v;
    return EML_OK;
}

eml_status eml__ref_gather(const eml_kernel_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *indices = &ctx->inputs[1];
    int64_t axis = p->axis < 0 ? p->axis + x->rank : p->axis;
    int64_t outer = eml__shape_count(x->dims, (int)axis);
    int64_t d = x->dims[axis];
    size_t es = eml_dtype_size(x->dtype);
    size_t block = (size_t)eml__shape_count(x->dims + axis + 1, x->rank - (int)axis - 1) * es;
    int64_t n = eml_tensor_count(indices);
    /* every index is checked before anything is written, so a bad one leaves no half output */
    for (int64_t j = 0; j < n; j++) {
        int64_t k;
        eml_status st = checked_index(ctx, "Gather", indices, j, d, &k);
        if (st != EML_OK)
            return st;
    }
    if (block == 0)
        return EML_OK;
    uint8_t *dst = ctx->outputs[0].data;
    const uint8_t *src = x->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t k = index_at(indices, j);
            k = k < 0 ? k + d : k;
            memcpy(dst, src + (size_t)(o * d + k) * block, block);
            dst += block;
        }
    }
    return EML_OK;
}

eml_status eml__ref_gather_elements(const eml_kernel_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *indices = &ctx->inputs[1];
    int rank = x->rank;
    int64_t axis = p->axis < 0 ? p->axis + rank : p->axis;
    int64_t n = eml_tensor_count(indices);
    int64_t d = x->dims[axis];
    for (int64_t j = 0; j < n; j++) {
        int64_t k;
        eml_status st = checked_index(ctx, "GatherElements", indices, j, d, &k);
        if (st != EML_OK)
            return st;
    }
    if (n == 0)
        return EML_OK;
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, rank, strides);
    size_t es = eml_dtype_size(x->dtype);
    uint8_t *dst = ctx->outputs[0].data;
    const uint8_t *src = x->data;
    int64_t index[EML_MAX_RANK] = {0};
    /* the output has the indices' shape; element i reads data at the same coordinates except
     * along the axis, where the index says */
    for (int64_t j = 0; j < n; j++) {
        int64_t k = index_at(indices, j);
        k = k < 0 ? k + d : k;
        int64_t off = k * strides[axis];
        for (int a = 0; a < rank; a++) {
            if (a != axis)
                off += index[a] * strides[a];
        }
        memcpy(dst + (size_t)j * es, src + (size_t)off * es, es);
        eml__index_next(index, indices->dims, rank);
    }
    return EML_OK;
}
