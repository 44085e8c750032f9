/* Prepare and infer of Softmax, LogSoftmax and Hardmax (2-D coercion before opset 13). */
#include "graph/graph.h"
#include "kernels/ref/reduce.h"

eml_status eml__softmax_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs[] = {"axis", NULL};
    eml_softmax_params *p = EML_PARAMS(ctx, eml_softmax_params);
    eml_status st;
    p->kind = ctx->op == EML_OP_LogSoftmax ? EML_LOG_SOFTMAX
              : ctx->op == EML_OP_Hardmax  ? EML_HARDMAX
                                           : EML_SOFTMAX;
    /* before opset 13 the input is coerced to 2-D at axis (default 1) and each row of the
     * flattened trailing block is normalized; from 13 only the one axis (default -1) is */
    p->flatten = ctx->opset < 13;
    EML_TRY(eml__attr_only(ctx, attrs));
    EML_TRY(eml__attr_int(ctx, "axis", p->flatten ? 1 : -1, &p->axis));
    return EML_OK;
fail:
    return st;
}

eml_status eml__softmax_infer(eml_infer_ctx *ctx)
{
    const eml_softmax_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml__elem_is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    int64_t axis;
    if (!eml__softmax_axis(p, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}
