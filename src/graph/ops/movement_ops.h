/* Infer helpers shared by the data-movement ops' files reshape.c, movement.c and generate.c. */
#ifndef EML_GRAPH_OPS_MOVEMENT_OPS_H
#define EML_GRAPH_OPS_MOVEMENT_OPS_H

#include "graph/graph.h"
#include "kernels/ref/movement.h"

EML_PARAMS_FIT(eml_reshape_params);
EML_PARAMS_FIT(eml_flatten_params);
EML_PARAMS_FIT(eml_axes_params);
EML_PARAMS_FIT(eml_dropout_params);
EML_PARAMS_FIT(eml_transpose_params);
EML_PARAMS_FIT(eml_axis_params);
EML_PARAMS_FIT(eml_split_params);
EML_PARAMS_FIT(eml_slice_params);
EML_PARAMS_FIT(eml_pad_params);
EML_PARAMS_FIT(eml_depth_space_params);
EML_PARAMS_FIT(eml_shape_params);
EML_PARAMS_FIT(eml_constant_of_shape_params);
EML_PARAMS_FIT(eml_constant_params);
EML_PARAMS_FIT(eml_eye_like_params);
EML_PARAMS_FIT(eml_trilu_params);

/* True when the values of input i are available: its data is known, or it has no elements. */
static inline bool eml__mv_known(const eml_infer_ctx *ctx, int32_t i)
{
    return ctx->inputs[i].data != NULL || eml_tensor_count(&ctx->inputs[i]) == 0;
}

static inline bool eml__mv_is_int(eml_dtype t)
{
    switch (t) {
    case EML_DTYPE_I8:
    case EML_DTYPE_I16:
    case EML_DTYPE_I32:
    case EML_DTYPE_I64:
    case EML_DTYPE_U8:
    case EML_DTYPE_U16:
    case EML_DTYPE_U32:
    case EML_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

static inline bool eml__mv_is_float(eml_dtype t)
{
    return t == EML_DTYPE_F32 || t == EML_DTYPE_F64 || t == EML_DTYPE_F16 || t == EML_DTYPE_BF16;
}

/* EML_EUNSUPPORTED unless input i has a type this library computes with (not string). */
static inline eml_status eml__mv_check_dtype(const eml_infer_ctx *ctx, int32_t i)
{
    eml_dtype t = ctx->inputs[i].dtype;
    if (!eml_dtype_is_supported(t))
        return eml__infer_unsupported(ctx, "input %d of type %s", (int)i, eml_dtype_name(t));
    return EML_OK;
}

/* Reads input i, a 0-D or 1-D integer tensor whose values are known, into out[cap]; *n gets the
 * count. EML_ETYPE for another type, EML_ESHAPE for another rank, EML_EUNSUPPORTED past cap. */
static inline eml_status eml__mv_read_ints(const eml_infer_ctx *ctx, int32_t i, const char *what,
                                           int64_t *out, int cap, int *n)
{
    const eml_tensor *t = &ctx->inputs[i];
    *n = 0;
    if (!eml__mv_is_int(t->dtype))
        return eml__infer_error(ctx, EML_ETYPE, "%s must be an integer tensor, not %s", what,
                                eml_dtype_name(t->dtype));
    if (t->rank > 1)
        return eml__infer_error(ctx, EML_ESHAPE, "%s must be 1-D, not rank %d", what, (int)t->rank);
    int64_t count = eml_tensor_count(t);
    if (count > cap)
        return eml__infer_unsupported(ctx, "%s has %lld values, at most %d supported", what,
                                      (long long)count, cap);
    for (int64_t k = 0; k < count; k++)
        out[k] = eml__tensor_get_i64(t, k);
    *n = (int)count;
    return EML_OK;
}

/* Sets output i after checking that its element count is representable (shapes computed from
 * data can be anything). */
static inline eml_status eml__mv_set_output(eml_infer_ctx *ctx, int32_t i, eml_dtype dtype,
                                            const int64_t *dims, int rank)
{
    if (eml__shape_count(dims, rank) < 0) {
        char buf[160];
        return eml__infer_error(ctx, EML_ELIMIT, "output %s is too large",
                                eml__shape_str(buf, sizeof(buf), dtype, dims, rank));
    }
    eml__set_output(ctx, i, dtype, dims, rank);
    return EML_OK;
}

/* Output dtype set, and EML_EDYNAMIC: the output shape needs input data not known yet. */
static inline eml_status eml__mv_dynamic(eml_infer_ctx *ctx, eml_dtype dtype)
{
    ctx->outputs[0].dtype = dtype;
    return EML_EDYNAMIC;
}

#endif
