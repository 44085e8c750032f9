/* Prepare and infer of BatchNormalization (every opset, training mode at 14+),
 * InstanceNormalization and LayerNormalization. */
#include "graph/graph.h"
#include "kernels/ref/norm.h"

/* Checks that input i is a float tensor of `count` elements (a per-channel parameter). */
static eml_status param_input(const eml_infer_ctx *ctx, int32_t i, const char *what,
                              int64_t count, bool same_type)
{
    const eml_tensor *t = &ctx->inputs[i];
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml__elem_is_float(t->dtype) || (same_type && t->dtype != x->dtype))
        return eml__infer_unsupported(ctx, "%s of type %s with input of type %s", what,
                                      eml_dtype_name(t->dtype), eml_dtype_name(x->dtype));
    if (eml_tensor_count(t) != count) {
        char buf[160];
        return eml__infer_error(ctx, EML_ESHAPE, "%s is %s, expected %lld elements", what,
                                eml__shape_str(buf, sizeof(buf), t->dtype, t->dims, t->rank),
                                (long long)count);
    }
    return EML_OK;
}

static bool output_given(const eml_prepare_ctx *ctx, int32_t i)
{
    return i < ctx->node->n_outputs && ctx->node->outputs[i] >= 0;
}

/* ---- BatchNormalization ---- */

eml_status eml__batchnorm_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs_1[] = {"consumed_inputs", "epsilon", "is_test", "momentum",
                                          "spatial", NULL};
    static const char *const attrs_6[] = {"epsilon", "is_test", "momentum", "spatial", NULL};
    static const char *const attrs_7[] = {"epsilon", "momentum", "spatial", NULL};
    static const char *const attrs_9[] = {"epsilon", "momentum", NULL};
    static const char *const attrs_14[] = {"epsilon", "momentum", "training_mode", NULL};
    eml_batchnorm_params *p = EML_PARAMS(ctx, eml_batchnorm_params);
    eml_status st;
    int64_t spatial, training;
    EML_TRY(eml__attr_only(ctx, ctx->opset >= 14  ? attrs_14
                                : ctx->opset >= 9 ? attrs_9
                                : ctx->opset >= 7 ? attrs_7
                                : ctx->opset >= 6 ? attrs_6
                                                  : attrs_1));
    EML_TRY(eml__attr_float(ctx, "epsilon", 1e-5f, &p->epsilon));
    EML_TRY(eml__attr_float(ctx, "momentum", 0.9f, &p->momentum));
    /* is_test (opset < 7) is ignored: without the training outputs the op means inference */
    EML_TRY(eml__attr_int(ctx, "spatial", 1, &spatial));
    EML_TRY(eml__attr_int(ctx, "training_mode", 0, &training));
    p->spatial = spatial != 0;
    p->training = training != 0;
    bool extra = false;
    for (int32_t i = 1; i < ctx->node->n_outputs; i++)
        extra = extra || output_given(ctx, i);
    if (ctx->opset < 14 && extra)
        return eml__unsupported(ctx, "training outputs (mean, var, saved_mean, saved_var); "
                                     "only inference is supported before opset 14");
    if (ctx->opset >= 14 && !p->training && extra)
        return eml__bad_attr(ctx, "running_mean and running_var outputs need training_mode=1");
    if (ctx->node->n_outputs > 3 && ctx->opset >= 14)
        return eml__bad_attr(ctx, "%d outputs, at most 3", (int)ctx->node->n_outputs);
    return EML_OK;
fail:
    return st;
}

eml_status eml__batchnorm_infer(eml_infer_ctx *ctx)
{
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    const eml_batchnorm_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml__elem_is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    if (x->rank < 1)
        return eml__infer_error(ctx, EML_ESHAPE, "X must have rank >= 1");
    int64_t batch, channels, inner;
    eml__batchnorm_view(p, x, &batch, &channels, &inner);
    for (int32_t i = 1; i < 5; i++) {
        /* opset 14 and 15 let scale/B and mean/var have their own float types */
        eml_status st = param_input(ctx, i, names[i], channels, ctx->opset < 14);
        if (st != EML_OK)
            return st;
    }
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    for (int32_t i = 1; i < ctx->n_outputs && i < 3; i++) {
        const eml_tensor *stat = &ctx->inputs[2 + i];
        eml__set_output(ctx, i, stat->dtype, stat->dims, stat->rank);
    }
    return EML_OK;
}

/* ---- InstanceNormalization ---- */

eml_status eml__instancenorm_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs_1[] = {"consumed_inputs", "epsilon", NULL};
    static const char *const attrs_6[] = {"epsilon", NULL};
    eml_instancenorm_params *p = EML_PARAMS(ctx, eml_instancenorm_params);
    eml_status st;
    EML_TRY(eml__attr_only(ctx, ctx->opset >= 6 ? attrs_6 : attrs_1));
    EML_TRY(eml__attr_float(ctx, "epsilon", 1e-5f, &p->epsilon));
    return EML_OK;
fail:
    return st;
}

eml_status eml__instancenorm_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if (!eml__elem_is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    if (x->rank < 2)
        return eml__infer_error(ctx, EML_ESHAPE, "input must be [N, C, ...], has rank %d",
                                (int)x->rank);
    EML_TRY(param_input(ctx, 1, "scale", x->dims[1], true));
    EML_TRY(param_input(ctx, 2, "B", x->dims[1], true));
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
fail:
    return st;
}

/* ---- LayerNormalization ---- */

eml_status eml__layernorm_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs[] = {"axis", "epsilon", "stash_type", NULL};
    eml_layernorm_params *p = EML_PARAMS(ctx, eml_layernorm_params);
    eml_status st;
    int64_t stash;
    EML_TRY(eml__attr_only(ctx, attrs));
    EML_TRY(eml__attr_int(ctx, "axis", -1, &p->axis));
    EML_TRY(eml__attr_float(ctx, "epsilon", 1e-5f, &p->epsilon));
    EML_TRY(eml__attr_int(ctx, "stash_type", EML_DTYPE_F32, &stash));
    /* statistics are computed in double and stashed as float32, which is stash_type 1 */
    if (stash != EML_DTYPE_F32)
        return eml__unsupported(ctx, "attribute 'stash_type' = %lld (only 1, float32)",
                                (long long)stash);
    return EML_OK;
fail:
    return st;
}

eml_status eml__layernorm_infer(eml_infer_ctx *ctx)
{
    const eml_layernorm_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml__elem_is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    int64_t axis;
    if (!eml__layernorm_axis(p, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    int64_t inner = eml__shape_count(x->dims + axis, x->rank - (int)axis);
    for (int32_t i = 1; i < 3; i++) {
        if (i == 2 && !eml__in_present(ctx, 2))
            break;
        /* Scale and B are flattened and broadcast against each normalized row */
        const eml_tensor *t = &ctx->inputs[i];
        const char *what = i == 1 ? "Scale" : "B";
        int64_t n = eml_tensor_count(t);
        eml_status st = param_input(ctx, i, what, n == 1 ? 1 : inner, true);
        if (st != EML_OK)
            return st;
    }
    int64_t dims[EML_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        dims[d] = d < axis ? x->dims[d] : 1;
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    for (int32_t i = 1; i < ctx->n_outputs && i < 3; i++)
        eml__set_output(ctx, i, EML_DTYPE_F32, dims, x->rank);
    return EML_OK;
}
