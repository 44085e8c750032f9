/* Prepare and shape inference of the pooling ops (AveragePool, MaxPool, GlobalAveragePool,
 * GlobalMaxPool) and LRN. */
#include "graph/graph.h"
#include "kernels/ref/pool.h"

/* Larger attribute values are refused so that window arithmetic stays far from overflow. */
#define POOL_ATTR_MAX ((int64_t)INT32_MAX)

static eml_status read_ints(eml_prepare_ctx *ctx, const char *name, int64_t *out, int cap,
                            int32_t *count, int64_t min)
{
    int n;
    eml_status st = eml__attr_ints(ctx, name, out, cap, &n);
    if (st != EML_OK)
        return st;
    *count = n;
    for (int i = 0; i < n; i++) {
        if (out[i] < min || out[i] > POOL_ATTR_MAX)
            return eml__bad_attr(ctx, "attribute '%s' has value %lld (expected %lld..%lld)", name,
                                 (long long)out[i], (long long)min, (long long)POOL_ATTR_MAX);
    }
    return EML_OK;
}

static eml_status read_flag(eml_prepare_ctx *ctx, const char *name, int32_t *out)
{
    int64_t v;
    eml_status st = eml__attr_int(ctx, name, 0, &v);
    if (st != EML_OK)
        return st;
    if (v != 0 && v != 1)
        return eml__bad_attr(ctx, "attribute '%s' = %lld (expected 0 or 1)", name, (long long)v);
    *out = (int32_t)v;
    return EML_OK;
}

eml_status eml__pool_prepare(eml_prepare_ctx *ctx)
{
    /* each opset's attribute list: a later attribute in an older opset is not that op */
    static const char *const avg1[] = {"auto_pad", "kernel_shape", "pads", "strides", NULL};
    static const char *const avg7[] = {"auto_pad", "kernel_shape", "pads", "strides",
                                       "count_include_pad", NULL};
    static const char *const avg10[] = {"auto_pad", "kernel_shape", "pads", "strides",
                                        "count_include_pad", "ceil_mode", NULL};
    static const char *const max1[] = {"auto_pad", "kernel_shape", "pads", "strides", NULL};
    static const char *const max8[] = {"auto_pad", "kernel_shape", "pads", "strides",
                                       "storage_order", NULL};
    static const char *const max10[] = {"auto_pad", "kernel_shape", "pads", "strides",
                                        "storage_order", "dilations", "ceil_mode", NULL};
    eml_pool_params *p = EML_PARAMS(ctx, eml_pool_params);
    eml_status st;
    const bool is_max = ctx->op == EML_OP_MaxPool;
    p->is_max = is_max;
    const char *const *known = is_max ? (ctx->opset >= 10 ? max10 : ctx->opset >= 8 ? max8 : max1)
                                      : (ctx->opset >= 10 ? avg10 : ctx->opset >= 7 ? avg7 : avg1);
    EML_TRY(eml__attr_only(ctx, known));
    const char *auto_pad;
    EML_TRY(eml__attr_string(ctx, "auto_pad", "NOTSET", &auto_pad));
    static const char *const pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    p->auto_pad = -1;
    for (int32_t i = 0; i < 4; i++) {
        if (strcmp(auto_pad, pad_names[i]) == 0)
            p->auto_pad = i;
    }
    if (p->auto_pad < 0)
        return eml__unsupported(ctx, "attribute 'auto_pad' = '%s'", auto_pad);
    EML_TRY(read_ints(ctx, "kernel_shape", p->kernel, EML_CONV_MAX_SPATIAL, &p->kernel_count, 1));
    if (p->kernel_count < 0)
        return eml__bad_attr(ctx, "attribute 'kernel_shape' is required");
    EML_TRY(read_ints(ctx, "strides", p->strides, EML_CONV_MAX_SPATIAL, &p->strides_count, 1));
    EML_TRY(read_ints(ctx, "dilations", p->dilations, EML_CONV_MAX_SPATIAL, &p->dilations_count,
                      1));
    EML_TRY(read_ints(ctx, "pads", p->pads, 2 * EML_CONV_MAX_SPATIAL, &p->pads_count, 0));
    EML_TRY(read_flag(ctx, "ceil_mode", &p->ceil_mode));
    EML_TRY(read_flag(ctx, "count_include_pad", &p->count_include_pad));
    EML_TRY(read_flag(ctx, "storage_order", &p->storage_order));
    /* Indices arrived with MaxPool-8 */
    if (is_max && ctx->opset < 8 && ctx->node->n_outputs > 1 && ctx->node->outputs[1] >= 0)
        return eml__bad_attr(ctx, "output Indices needs opset 8 or later");
    return EML_OK;
fail:
    return st;
}

static bool pool_dtype_ok(const eml_infer_ctx *ctx, eml_dtype dt, bool allow_q8)
{
    switch (dt) {
    case EML_DTYPE_F16:
    case EML_DTYPE_F32:
    case EML_DTYPE_F64: return true;
    case EML_DTYPE_U8:
    case EML_DTYPE_I8: return allow_q8;
    case EML_DTYPE_BF16: return ctx->op == EML_OP_LRN && ctx->opset >= 13;
    default: return false;
    }
}

eml_status eml__pool_infer(eml_infer_ctx *ctx)
{
    const eml_pool_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!pool_dtype_ok(ctx, x->dtype, p->is_max && ctx->opset >= 12))
        return eml__infer_unsupported(ctx, "input X of type %s", eml_dtype_name(x->dtype));
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__pool_geom(p, x, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", why);
    int64_t dims[EML_MAX_RANK];
    dims[0] = g.batch;
    dims[1] = g.out_channels;
    for (int i = 0; i < g.n_spatial; i++)
        dims[i + 2] = g.out[i];
    if (eml__shape_count(dims, x->rank) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output shape overflows");
    eml__set_output(ctx, 0, x->dtype, dims, x->rank);
    if (p->is_max && ctx->n_outputs > 1)
        eml__set_output(ctx, 1, EML_DTYPE_I64, dims, x->rank);
    ctx->scratch_bytes = eml__pool_scratch_bytes(&g);
    return EML_OK;
}

eml_status eml__global_pool_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    EML_PARAMS(ctx, eml_global_pool_params)->is_max = ctx->op == EML_OP_GlobalMaxPool;
    return eml__attr_only(ctx, none);
}

eml_status eml__global_pool_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (!pool_dtype_ok(ctx, x->dtype, false))
        return eml__infer_unsupported(ctx, "input X of type %s", eml_dtype_name(x->dtype));
    if (x->rank < 3)
        return eml__infer_error(ctx, EML_ESHAPE, "input X has rank %d, expected at least 3",
                                (int)x->rank);
    int64_t dims[EML_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    eml__set_output(ctx, 0, x->dtype, dims, x->rank);
    return EML_OK;
}

eml_status eml__lrn_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"alpha", "beta", "bias", "size", NULL};
    eml_lrn_params *p = EML_PARAMS(ctx, eml_lrn_params);
    eml_status st;
    EML_TRY(eml__attr_only(ctx, known));
    EML_TRY(eml__attr_float(ctx, "alpha", 0.0001f, &p->alpha));
    EML_TRY(eml__attr_float(ctx, "beta", 0.75f, &p->beta));
    EML_TRY(eml__attr_float(ctx, "bias", 1.0f, &p->bias));
    EML_TRY(eml__attr_int(ctx, "size", -1, &p->size));
    if (p->size < 1)
        return eml__bad_attr(ctx, p->size == -1 ? "attribute 'size' is required"
                                                : "attribute 'size' must be positive");
    return EML_OK;
fail:
    return st;
}

eml_status eml__lrn_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (!pool_dtype_ok(ctx, x->dtype, false))
        return eml__infer_unsupported(ctx, "input X of type %s", eml_dtype_name(x->dtype));
    if (x->rank < 2)
        return eml__infer_error(ctx, EML_ESHAPE, "input X has rank %d, expected at least 2",
                                (int)x->rank);
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}
