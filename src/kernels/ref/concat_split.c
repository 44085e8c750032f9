/* Reference Concat and Split: blocks of contiguous bytes joined or cut along one axis. */
#include "kernels/ref/movement.h"

/* Elements before and after `axis` of a shape. */
static void outer_inner(const int64_t *dims, int rank, int64_t axis, int64_t *outer, int64_t *inner)
{
    *outer = eml__shape_count(dims, (int)axis);
    *inner = eml__shape_count(dims + axis + 1, rank - (int)axis - 1);
}

eml_status eml__ref_concat(const eml_kernel_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    eml_tensor *y = &ctx->outputs[0];
    int64_t axis = p->axis < 0 ? p->axis + y->rank : p->axis;
    int64_t outer, inner;
    outer_inner(y->dims, y->rank, axis, &outer, &inner);
    size_t es = eml_dtype_size(y->dtype);
    uint8_t *dst = y->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int32_t i = 0; i < ctx->n_inputs; i++) {
            const eml_tensor *x = &ctx->inputs[i];
            size_t block = (size_t)(x->dims[axis] * inner) * es;
            if (block == 0)
                continue;
            memcpy(dst, (const uint8_t *)x->data + (size_t)o * block, block);
            dst += block;
        }
    }
    return EML_OK;
}

/* The output shapes (from infer) say how many elements each output takes along the axis. */
eml_status eml__ref_split(const eml_kernel_ctx *ctx)
{
    const eml_split_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis = p->axis < 0 ? p->axis + x->rank : p->axis;
    int64_t outer, inner;
    outer_inner(x->dims, x->rank, axis, &outer, &inner);
    size_t es = eml_dtype_size(x->dtype);
    const uint8_t *src = x->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int32_t i = 0; i < ctx->n_outputs; i++) {
            eml_tensor *y = &ctx->outputs[i];
            size_t block = (size_t)(y->dims[axis] * inner) * es;
            if (block == 0)
                continue;
            if (y->data)
                memcpy((uint8_t *)y->data + (size_t)o * block, src, block);
            src += block;
        }
    }
    return EML_OK;
}
