/* Prepare and infer for QuantizeLinear, DequantizeLinear (opsets 10, 13) and
 * DynamicQuantizeLinear (opset 11). */
#include "graph/graph.h"
#include "kernels/ref/quantize.h"

eml_status eml__quantize_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    static const char *const with_axis[] = {"axis", NULL};
    eml_quantize_params *p = EML_PARAMS(ctx, eml_quantize_params);
    bool has_axis = ctx->op != EML_OP_DynamicQuantizeLinear && ctx->opset >= 13;
    eml_status st = eml__attr_only(ctx, has_axis ? with_axis : none);
    if (st == EML_OK)
        st = eml__attr_int(ctx, "axis", 1, &p->axis);
    return st;
}

static char *shape_of(const eml_tensor *t, char *buf, size_t cap)
{
    eml__shape_str(buf, cap, t->dtype, t->dims, t->rank);
    return buf;
}

/* Checks scale (input 1) and the optional zero point (input 2) against x (input 0). */
static eml_status check_scale_zp(eml_infer_ctx *ctx)
{
    const eml_quantize_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *scale = &ctx->inputs[1];
    char s1[96], s2[96];
    if (scale->dtype != EML_DTYPE_F32)
        return eml__infer_error(ctx, EML_ETYPE, "scale is %s, expected float32",
                                eml_dtype_name(scale->dtype));
    eml_quant_layout q;
    if (ctx->opset < 13 && eml_tensor_count(scale) != 1)
        return eml__infer_error(ctx, EML_ESHAPE, "scale %s must be a scalar before opset 13",
                                shape_of(scale, s1, sizeof(s1)));
    if (eml__quant_layout(x, scale, p->axis, &q) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE,
                                "scale %s fits neither per tensor nor axis %lld of %s",
                                shape_of(scale, s1, sizeof(s1)), (long long)p->axis,
                                shape_of(x, s2, sizeof(s2)));
    if (eml__in_present(ctx, 2)) {
        const eml_tensor *zp = &ctx->inputs[2];
        if (eml_tensor_count(zp) != eml_tensor_count(scale))
            return eml__infer_error(ctx, EML_ESHAPE, "zero point %s and scale %s differ",
                                    shape_of(zp, s1, sizeof(s1)), shape_of(scale, s2, sizeof(s2)));
    }
    return EML_OK;
}

eml_status eml__quantize_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_dtype out = EML_DTYPE_U8;
    if (x->dtype != EML_DTYPE_F32 && x->dtype != EML_DTYPE_I32)
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    if (eml__in_present(ctx, 2)) {
        out = ctx->inputs[2].dtype;
        if (out != EML_DTYPE_U8 && out != EML_DTYPE_I8)
            return eml__infer_unsupported(ctx, "zero point dtype %s", eml_dtype_name(out));
    }
    eml_status st = check_scale_zp(ctx);
    if (st == EML_OK)
        eml__set_output(ctx, 0, out, x->dims, x->rank);
    return st;
}

eml_status eml__dequantize_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (x->dtype != EML_DTYPE_U8 && x->dtype != EML_DTYPE_I8 && x->dtype != EML_DTYPE_I32)
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    if (eml__in_present(ctx, 2) && ctx->inputs[2].dtype != x->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "zero point is %s, x is %s",
                                eml_dtype_name(ctx->inputs[2].dtype), eml_dtype_name(x->dtype));
    eml_status st = check_scale_zp(ctx);
    if (st == EML_OK)
        eml__set_output(ctx, 0, EML_DTYPE_F32, x->dims, x->rank);
    return st;
}

eml_status eml__dynamic_quantize_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (x->dtype != EML_DTYPE_F32)
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    eml__set_output(ctx, 0, EML_DTYPE_U8, x->dims, x->rank);
    eml__set_output(ctx, 1, EML_DTYPE_F32, NULL, 0);
    eml__set_output(ctx, 2, EML_DTYPE_U8, NULL, 0);
    return EML_OK;
}
