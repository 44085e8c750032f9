/* Prepare and shape inference of edgeml's fused ops (FusedConv, FusedGemm, FusedMatMul; see
 * kernels/ref/fused.h): the base op's own prepare and infer, plus the activation and Z. */
#include <math.h>

#include "graph/graph.h"
#include "kernels/ref/fused.h"

/* More attributes than any base op has: a node with more is refused. */
#define FUSED_MAX_ATTRS 16

/* The base ops' current form: fused ops are versioned by their own domain, not ONNX's. */
#define FUSED_BASE_OPSET 17

typedef struct activation_name {
    const char *name;
    eml_activation_kind kind;
    int n_params; /* how many activation_params it takes (0 or exactly this many) */
    float defaults[2];
} activation_name;

static const activation_name activations[] = {
    {"Relu", EML_ACTIVATION_RELU, 0, {0, 0}},
    {"Clip", EML_ACTIVATION_CLIP, 2, {-INFINITY, INFINITY}},
    {"LeakyRelu", EML_ACTIVATION_LEAKY_RELU, 1, {0.01f, 0}},
    {"HardSigmoid", EML_ACTIVATION_HARD_SIGMOID, 2, {0.2f, 0.5f}},
    {"HardSwish", EML_ACTIVATION_HARD_SWISH, 0, {0, 0}},
    {"Sigmoid", EML_ACTIVATION_SIGMOID, 0, {0, 0}},
    {"Tanh", EML_ACTIVATION_TANH, 0, {0, 0}},
    {"SiLU", EML_ACTIVATION_SILU, 0, {0, 0}},
};

static eml_status read_activation(eml_prepare_ctx *ctx, eml_activation *act)
{
    const char *name;
    float params[4];
    int n;
    eml_status st = eml__attr_string(ctx, "activation", "", &name);
    if (st == EML_OK)
        st = eml__attr_floats(ctx, "activation_params", params, 4, &n);
    if (st != EML_OK)
        return st;
    act->kind = EML_ACTIVATION_NONE;
    if (!name[0]) {
        if (n > 0)
            return eml__bad_attr(ctx, "activation_params given without an activation");
        return EML_OK;
    }
    for (size_t i = 0; i < sizeof(activations) / sizeof(activations[0]); i++) {
        const activation_name *a = &activations[i];
        if (strcmp(a->name, name) != 0)
            continue;
        if (n > 0 && n != a->n_params)
            return eml__bad_attr(ctx, "activation '%s' takes %d activation_params, not %d", name,
                                 a->n_params, n);
        act->kind = a->kind;
        act->alpha = n > 0 ? params[0] : a->defaults[0];
        act->beta = n > 1 ? params[1] : a->defaults[1];
        return EML_OK;
    }
    return eml__unsupported(ctx, "attribute 'activation' = '%s'", name);
}

/* Runs the base op's prepare on a view of the node without the activation attributes, so that
 * the base op still refuses any attribute it does not know. */
static eml_status prepare_base(eml_prepare_ctx *ctx, eml_prepare_fn base)
{
    const eml_node *node = ctx->node;
    eml_attr attrs[FUSED_MAX_ATTRS];
    int32_t n = 0;
    for (int32_t i = 0; i < node->n_attrs; i++) {
        const char *name = node->attrs[i].name;
        if (strcmp(name, "activation") == 0 || strcmp(name, "activation_params") == 0)
            continue;
        if (n == FUSED_MAX_ATTRS)
            return eml__unsupported(ctx, "more than %d attributes", FUSED_MAX_ATTRS);
        attrs[n++] = node->attrs[i];
    }
    eml_node view = *node;
    view.attrs = attrs;
    view.n_attrs = n;
    eml_prepare_ctx inner = *ctx;
    inner.node = &view;
    inner.opset = FUSED_BASE_OPSET;
    return base(&inner);
}

eml_status eml__fused_conv_prepare(eml_prepare_ctx *ctx)
{
    eml_fused_conv_params *p = EML_PARAMS(ctx, eml_fused_conv_params);
    eml_status st = prepare_base(ctx, eml__conv_prepare);
    return st == EML_OK ? read_activation(ctx, &p->act) : st;
}

eml_status eml__fused_gemm_prepare(eml_prepare_ctx *ctx)
{
    eml_fused_gemm_params *p = EML_PARAMS(ctx, eml_fused_gemm_params);
    eml_status st = prepare_base(ctx, eml__gemm_prepare);
    return st == EML_OK ? read_activation(ctx, &p->act) : st;
}

eml_status eml__fused_matmul_prepare(eml_prepare_ctx *ctx)
{
    eml_fused_matmul_params *p = EML_PARAMS(ctx, eml_fused_matmul_params);
    eml_status st = prepare_base(ctx, eml__matmul_prepare);
    return st == EML_OK ? read_activation(ctx, &p->act) : st;
}

/* ---- infer ---- */

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

/* The base op's infer on the first n_base inputs; then the output must be a float type (the
 * activations are float functions) and Z (input z_index, when present) must match it. */
static eml_status infer_fused(eml_infer_ctx *ctx, eml_infer_fn base, int32_t n_base,
                              int32_t z_index)
{
    eml_infer_ctx inner = *ctx;
    inner.n_inputs = EML_MIN(ctx->n_inputs, n_base);
    inner.opset = FUSED_BASE_OPSET;
    eml_status st = base(&inner);
    ctx->scratch_bytes = inner.scratch_bytes;
    ctx->macs = inner.macs;
    if (st != EML_OK)
        return st;
    const eml_tensor *y = &ctx->outputs[0];
    if (!is_float(y->dtype))
        return eml__infer_unsupported(ctx, "output dtype %s (fused ops compute float types)",
                                      eml_dtype_name(y->dtype));
    if (z_index < 0 || !eml__in_present(ctx, z_index))
        return EML_OK;
    const eml_tensor *z = &ctx->inputs[z_index];
    char a[160], b[160];
    if (z->dtype != y->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "Z is %s, the output %s", eml_dtype_name(z->dtype),
                                eml_dtype_name(y->dtype));
    bool same = z->rank == y->rank;
    for (int d = 0; same && d < y->rank; d++)
        same = z->dims[d] == y->dims[d];
    if (!same)
        return eml__infer_error(ctx, EML_ESHAPE, "Z %s must have the output's shape %s",
                                eml__shape_str(a, sizeof(a), z->dtype, z->dims, z->rank),
                                eml__shape_str(b, sizeof(b), y->dtype, y->dims, y->rank));
    return EML_OK;
}

eml_status eml__fused_conv_infer(eml_infer_ctx *ctx)
{
    return infer_fused(ctx, eml__conv_infer, 3, 3);
}

eml_status eml__fused_gemm_infer(eml_infer_ctx *ctx)
{
    return infer_fused(ctx, eml__gemm_infer, 3, -1);
}

eml_status eml__fused_matmul_infer(eml_infer_ctx *ctx)
{
    return infer_fused(ctx, eml__matmul_infer, 2, -1);
}
