/* Prepare and infer of the elementwise unary ops and Clip: attributes to params, dtype checks,
 * same-shape outputs. */
#include <float.h>

#include "graph/graph.h"
#include "kernels/ref/unary.h"

#define BIT(dt) (1u << (unsigned)EML_DTYPE_##dt)
#define FLOATS (BIT(F32) | BIT(F64) | BIT(F16) | BIT(BF16))
#define SIGNED (BIT(I8) | BIT(I16) | BIT(I32) | BIT(I64))
#define UNSIGNED (BIT(U8) | BIT(U16) | BIT(U32) | BIT(U64))

/* Each op, its function and the input dtypes it takes. The dtypes are the union over the op's
 * versions (the newest is widest): models in the wild use a later version's types under an older
 * opset (Relu on int32 at opset 11 in ONNX's own range test), and accepting them is harmless.
 * bfloat16 is taken wherever float16 is, since both are computed in float. */
typedef struct unary_op {
    eml_op_id op;
    eml_unary_fn fn;
    uint32_t types;
} unary_op;

static const unary_op unary_ops[] = {
    {EML_OP_Abs, EML_UNARY_ABS, FLOATS | SIGNED | UNSIGNED},
    {EML_OP_Acos, EML_UNARY_ACOS, FLOATS},
    {EML_OP_Acosh, EML_UNARY_ACOSH, FLOATS},
    {EML_OP_Asin, EML_UNARY_ASIN, FLOATS},
    {EML_OP_Asinh, EML_UNARY_ASINH, FLOATS},
    {EML_OP_Atan, EML_UNARY_ATAN, FLOATS},
    {EML_OP_Atanh, EML_UNARY_ATANH, FLOATS},
    {EML_OP_Ceil, EML_UNARY_CEIL, FLOATS},
    {EML_OP_Cos, EML_UNARY_COS, FLOATS},
    {EML_OP_Cosh, EML_UNARY_COSH, FLOATS},
    {EML_OP_Erf, EML_UNARY_ERF, FLOATS | SIGNED | UNSIGNED},
    {EML_OP_Exp, EML_UNARY_EXP, FLOATS},
    {EML_OP_Floor, EML_UNARY_FLOOR, FLOATS},
    {EML_OP_Log, EML_UNARY_LOG, FLOATS},
    {EML_OP_Neg, EML_UNARY_NEG, FLOATS | SIGNED},
    {EML_OP_Reciprocal, EML_UNARY_RECIPROCAL, FLOATS},
    {EML_OP_Round, EML_UNARY_ROUND, FLOATS},
    {EML_OP_Sigmoid, EML_UNARY_SIGMOID, FLOATS},
    {EML_OP_Sign, EML_UNARY_SIGN, FLOATS | SIGNED | UNSIGNED},
    {EML_OP_Sin, EML_UNARY_SIN, FLOATS},
    {EML_OP_Sinh, EML_UNARY_SINH, FLOATS},
    {EML_OP_Sqrt, EML_UNARY_SQRT, FLOATS},
    {EML_OP_Tan, EML_UNARY_TAN, FLOATS},
    {EML_OP_Tanh, EML_UNARY_TANH, FLOATS},
    {EML_OP_Softplus, EML_UNARY_SOFTPLUS, FLOATS},
    {EML_OP_Softsign, EML_UNARY_SOFTSIGN, FLOATS},
    {EML_OP_Not, EML_UNARY_NOT, BIT(BOOL)},
    {EML_OP_IsNaN, EML_UNARY_ISNAN, FLOATS},
    {EML_OP_IsInf, EML_UNARY_ISINF, FLOATS},
    {EML_OP_Relu, EML_UNARY_RELU, FLOATS | SIGNED},
    {EML_OP_Elu, EML_UNARY_ELU, FLOATS},
    {EML_OP_Celu, EML_UNARY_CELU, FLOATS},
    {EML_OP_Selu, EML_UNARY_SELU, FLOATS},
    {EML_OP_LeakyRelu, EML_UNARY_LEAKY_RELU, FLOATS},
    {EML_OP_HardSigmoid, EML_UNARY_HARD_SIGMOID, FLOATS},
    {EML_OP_HardSwish, EML_UNARY_HARD_SWISH, FLOATS},
    {EML_OP_ThresholdedRelu, EML_UNARY_THRESHOLDED_RELU, FLOATS},
    {EML_OP_Shrink, EML_UNARY_SHRINK, FLOATS | SIGNED | UNSIGNED},
};

static const unary_op *find_op(eml_op_id op)
{
    for (size_t i = 0; i < sizeof(unary_ops) / sizeof(unary_ops[0]); i++) {
        if (unary_ops[i].op == op)
            return &unary_ops[i];
    }
    return NULL;
}

static bool type_ok(uint32_t types, eml_dtype dt)
{
    return (unsigned)dt < 32 && (types & (1u << (unsigned)dt)) != 0;
}

/* The opset-1 forms of many ops carry `consumed_inputs`, a legacy memory hint with no effect. */
static int legacy_attrs(const eml_prepare_ctx *ctx, const char **known)
{
    if (ctx->opset < 6) {
        known[0] = "consumed_inputs";
        return 1;
    }
    return 0;
}

eml_status eml__unary_prepare(eml_prepare_ctx *ctx)
{
    eml_status st = EML_OK;
    const unary_op *u = find_op(ctx->op);
    if (!u)
        return eml__unsupported(ctx, "not an op of the unary family");
    eml_unary_params *p = EML_PARAMS(ctx, eml_unary_params);
    p->fn = (int32_t)u->fn;

    const char *known[6] = {NULL};
    int k = legacy_attrs(ctx, known);
    switch (u->fn) {
    case EML_UNARY_ELU:
    case EML_UNARY_CELU:
    case EML_UNARY_THRESHOLDED_RELU:
        known[k++] = "alpha";
        EML_TRY(eml__attr_float(ctx, "alpha", 1.0f, &p->alpha));
        if (u->fn == EML_UNARY_CELU && !(p->alpha != 0.0f))
            return eml__bad_attr(ctx, "attribute 'alpha' must not be 0");
        break;
    case EML_UNARY_LEAKY_RELU:
        known[k++] = "alpha";
        EML_TRY(eml__attr_float(ctx, "alpha", 0.01f, &p->alpha));
        break;
    case EML_UNARY_SELU: {
        /* the defaults were made more precise at opset 6 */
        bool old = ctx->opset < 6;
        known[k++] = "alpha";
        known[k++] = "gamma";
        EML_TRY(eml__attr_float(ctx, "alpha", old ? 1.6732f : 1.67326319217681884765625f,
                                &p->alpha));
        EML_TRY(eml__attr_float(ctx, "gamma", old ? 1.0507f : 1.05070102214813232421875f,
                                &p->gamma));
        break;
    }
    case EML_UNARY_HARD_SIGMOID:
        known[k++] = "alpha";
        known[k++] = "beta";
        EML_TRY(eml__attr_float(ctx, "alpha", 0.2f, &p->alpha));
        EML_TRY(eml__attr_float(ctx, "beta", 0.5f, &p->beta));
        break;
    case EML_UNARY_HARD_SWISH:
        /* HardSigmoid with fixed alpha and beta, times x */
        p->alpha = 1.0f / 6.0f;
        p->beta = 0.5f;
        break;
    case EML_UNARY_SHRINK:
        known[k++] = "lambd";
        known[k++] = "bias";
        EML_TRY(eml__attr_float(ctx, "lambd", 0.5f, &p->alpha));
        EML_TRY(eml__attr_float(ctx, "bias", 0.0f, &p->beta));
        break;
    case EML_UNARY_ISINF: {
        int64_t pos, neg;
        known[k++] = "detect_positive";
        known[k++] = "detect_negative";
        EML_TRY(eml__attr_int(ctx, "detect_positive", 1, &pos));
        EML_TRY(eml__attr_int(ctx, "detect_negative", 1, &neg));
        p->detect_positive = pos != 0;
        p->detect_negative = neg != 0;
        break;
    }
    default:
        break;
    }
    EML_TRY(eml__attr_only(ctx, known));
fail:
    return st;
}

eml_status eml__unary_infer(eml_infer_ctx *ctx)
{
    const unary_op *u = find_op(ctx->op);
    const eml_tensor *x = &ctx->inputs[0];
    if (!u)
        return eml__infer_unsupported(ctx, "not an op of the unary family");
    if (!type_ok(u->types, x->dtype))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    bool to_bool = u->fn == EML_UNARY_ISNAN || u->fn == EML_UNARY_ISINF;
    eml__set_output(ctx, 0, to_bool ? EML_DTYPE_BOOL : x->dtype, x->dims, x->rank);
    return EML_OK;
}

/* ---- Clip ---- */

eml_status eml__clip_prepare(eml_prepare_ctx *ctx)
{
    eml_status st = EML_OK;
    eml_clip_params *p = EML_PARAMS(ctx, eml_clip_params);
    const char *known[4] = {NULL};
    int k = legacy_attrs(ctx, known);
    if (ctx->opset >= 11) {
        /* min and max became optional inputs */
        p->from_inputs = 1;
        return eml__attr_only(ctx, known);
    }
    known[k++] = "min";
    known[k++] = "max";
    EML_TRY(eml__attr_only(ctx, known));
    /* opset 1 has no defaults (an absent bound does not clip); opset 6 defaults to float's range */
    bool defaults = ctx->opset >= 6;
    p->has_min = defaults || eml__node_attr(ctx->node, "min") != NULL;
    p->has_max = defaults || eml__node_attr(ctx->node, "max") != NULL;
    EML_TRY(eml__attr_float(ctx, "min", -FLT_MAX, &p->min));
    EML_TRY(eml__attr_float(ctx, "max", FLT_MAX, &p->max));
fail:
    return st;
}

eml_status eml__clip_infer(eml_infer_ctx *ctx)
{
    const eml_clip_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    /* integer types came with opset 12's min/max inputs; the float attributes of opset < 11
     * (defaulting to float's range) have no meaning for them */
    uint32_t types = p->from_inputs ? FLOATS | SIGNED | UNSIGNED : FLOATS;
    if (!type_ok(types, x->dtype))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    for (int32_t i = 1; i < ctx->n_inputs; i++) {
        if (!eml__in_present(ctx, i))
            continue;
        const eml_tensor *b = &ctx->inputs[i];
        if (!p->from_inputs)
            return eml__infer_error(ctx, EML_EGRAPH, "min and max are inputs only from opset 11");
        if (b->dtype != x->dtype)
            return eml__infer_error(ctx, EML_ETYPE, "input %d is %s, input 0 is %s", (int)i,
                                    eml_dtype_name(b->dtype), eml_dtype_name(x->dtype));
        /* a scalar; a one-element tensor is taken too, and an empty one means "no bound" */
        if (eml_tensor_count(b) > 1)
            return eml__infer_error(ctx, EML_ESHAPE, "input %d (%s) must be a scalar", (int)i,
                                    i == 1 ? "min" : "max");
    }
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}
