/* Prepare and shape inference of the channels-last ops: the NCHW ops' own prepare and infer,
 * run on NCHW views of the [N, H, W, C] shapes, so that both layouts accept and refuse the same. */
#include <stdio.h>

#include "graph/graph.h"
#include "kernels/ref/nhwc.h"

/* The pools' current attribute set: Nhwc ops are versioned by their own domain, not ONNX's. */
#define NHWC_BASE_OPSET 17

void eml__nhwc_as_nchw(const eml_tensor *nhwc, eml_tensor *nchw)
{
    *nchw = *nhwc;
    nchw->dims[1] = nhwc->dims[3];
    nchw->dims[2] = nhwc->dims[1];
    nchw->dims[3] = nhwc->dims[2];
}

/* [N, C, H, W] dims back to [N, H, W, C]. */
static void nchw_to_nhwc_dims(eml_tensor *t)
{
    int64_t c = t->dims[1];
    t->dims[1] = t->dims[2];
    t->dims[2] = t->dims[3];
    t->dims[3] = c;
}

static eml_status rank4_as(char *why, size_t why_cap, const char *name, const eml_tensor *t,
                          const char *layout)
{
    if (t->rank == 4)
        return EML_OK;
    snprintf(why, why_cap, "%s has rank %d, expected 4 (%s)", name, (int)t->rank, layout);
    return EML_ESHAPE;
}

static eml_status rank4(char *why, size_t why_cap, const char *name, const eml_tensor *t)
{
    return rank4_as(why, why_cap, name, t, "[N, H, W, C]");
}

eml_status eml__nhwc_conv_geom(const eml_conv_params *p, const eml_tensor *x, const eml_tensor *w,
                               eml_conv_geom *g, char *why, size_t why_cap)
{
    eml_status st = rank4(why, why_cap, "input X", x);
    if (st != EML_OK)
        return st;
    eml_tensor xv;
    eml__nhwc_as_nchw(x, &xv);
    return eml__conv_geom(p, &xv, w, false, g, why, why_cap);
}

eml_status eml__nhwc_pool_geom(const eml_pool_params *p, const eml_tensor *x, eml_conv_geom *g,
                               char *why, size_t why_cap)
{
    eml_status st = rank4(why, why_cap, "input X", x);
    if (st != EML_OK)
        return st;
    eml_tensor xv;
    eml__nhwc_as_nchw(x, &xv);
    return eml__pool_geom(p, &xv, g, why, why_cap);
}

/* ---- NhwcConv ---- */

eml_status eml__nhwc_conv_prepare(eml_prepare_ctx *ctx)
{
    return eml__fused_conv_prepare(ctx);
}

/* Checks what the NCHW infer cannot see: rank 4 and float32 (the only type the layout pass
 * moves to channels-last, and the only one the kernels take). */
static eml_status check_input(eml_infer_ctx *ctx, const eml_tensor *x, const char *layout)
{
    char why[160];
    if (x->dtype != EML_DTYPE_F32)
        return eml__infer_unsupported(ctx, "input X of type %s (channels-last ops take float32)",
                                      eml_dtype_name(x->dtype));
    if (rank4_as(why, sizeof(why), "input X", x, layout) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE, "%s", why);
    return EML_OK;
}

static eml_status check_nhwc_input(eml_infer_ctx *ctx, const eml_tensor *x)
{
    return check_input(ctx, x, "[N, H, W, C]");
}

/* NhwcConv, or NhwcConvFromNchw when x_nchw (X as it is, not a view). */
static eml_status conv_infer(eml_infer_ctx *ctx, bool x_nchw)
{
    eml_status st = check_input(ctx, &ctx->inputs[0], x_nchw ? "[N, C, H, W]" : "[N, H, W, C]");
    if (st != EML_OK)
        return st;
    eml_tensor in[4];
    const int32_t n_in = EML_MIN(ctx->n_inputs, 4);
    for (int32_t i = 0; i < n_in; i++)
        in[i] = ctx->inputs[i];
    if (!x_nchw)
        eml__nhwc_as_nchw(&ctx->inputs[0], &in[0]);
    /* Z is compared with the NCHW output: show it in that layout too */
    if (n_in > 3 && in[3].dtype != EML_DTYPE_UNDEFINED && in[3].rank == 4)
        eml__nhwc_as_nchw(&ctx->inputs[3], &in[3]);
    eml_infer_ctx inner = *ctx;
    inner.inputs = in;
    inner.n_inputs = n_in;
    st = eml__fused_conv_infer(&inner);
    ctx->macs = inner.macs;
    if (st != EML_OK)
        return st;
    /* the reference kernel loops directly: no scratch */
    ctx->scratch_bytes = 0;
    nchw_to_nhwc_dims(&ctx->outputs[0]);
    return EML_OK;
}

eml_status eml__nhwc_conv_infer(eml_infer_ctx *ctx)
{
    return conv_infer(ctx, false);
}

eml_status eml__nhwc_conv_from_nchw_infer(eml_infer_ctx *ctx)
{
    return conv_infer(ctx, true);
}

/* ---- NhwcMaxPool / NhwcAveragePool ---- */

eml_status eml__nhwc_pool_prepare(eml_prepare_ctx *ctx)
{
    eml_prepare_ctx inner = *ctx;
    inner.op = ctx->op == EML_OP_NhwcMaxPool ? EML_OP_MaxPool : EML_OP_AveragePool;
    inner.opset = NHWC_BASE_OPSET;
    return eml__pool_prepare(&inner);
}

eml_status eml__nhwc_pool_infer(eml_infer_ctx *ctx)
{
    eml_status st = check_nhwc_input(ctx, &ctx->inputs[0]);
    if (st != EML_OK)
        return st;
    eml_tensor x;
    eml__nhwc_as_nchw(&ctx->inputs[0], &x);
    eml_infer_ctx inner = *ctx;
    inner.inputs = &x;
    inner.n_inputs = 1;
    inner.opset = NHWC_BASE_OPSET;
    st = eml__pool_infer(&inner);
    if (st != EML_OK)
        return st;
    ctx->scratch_bytes = 0;
    nchw_to_nhwc_dims(&ctx->outputs[0]);
    return EML_OK;
}

/* ---- NhwcGlobalAveragePool ---- */

eml_status eml__nhwc_global_pool_prepare(eml_prepare_ctx *ctx)
{
    eml_prepare_ctx inner = *ctx;
    inner.op = EML_OP_GlobalAveragePool;
    return eml__global_pool_prepare(&inner);
}

eml_status eml__nhwc_global_pool_infer(eml_infer_ctx *ctx)
{
    eml_status st = check_nhwc_input(ctx, &ctx->inputs[0]);
    if (st != EML_OK)
        return st;
    eml_tensor x;
    eml__nhwc_as_nchw(&ctx->inputs[0], &x);
    eml_infer_ctx inner = *ctx;
    inner.inputs = &x;
    inner.n_inputs = 1;
    st = eml__global_pool_infer(&inner);
    if (st != EML_OK)
        return st;
    ctx->scratch_bytes = 0;
    nchw_to_nhwc_dims(&ctx->outputs[0]);
    return EML_OK;
}
