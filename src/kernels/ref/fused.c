/* Reference kernels of the fused ops: the base op's reference kernel, then the residual input Z
 * and the activation applied in place on the output. */
#include "kernels/ref/fused.h"

/* Runs the base kernel on the first n_base inputs, then adds input z_index (when present) and
 * applies the activation. */
static eml_status run_fused(const eml_kernel_ctx *ctx, eml_kernel_fn base, int32_t n_base,
                            int32_t z_index, const eml_activation *act)
{
    eml_kernel_ctx inner = *ctx;
    inner.n_inputs = EML_MIN(ctx->n_inputs, n_base);
    eml_status st = base(&inner);
    if (st != EML_OK)
        return st;
    eml_tensor *y = &ctx->outputs[0];
    int64_t n = eml_tensor_count(y);
    if (z_index >= 0 && eml__kin_present(ctx, z_index))
        eml__activation_add(y->dtype, y->data, ctx->inputs[z_index].data, n, ctx->pool);
    eml__activation_apply(act, y->dtype, y->data, n, ctx->pool);
    return EML_OK;
}

eml_status eml__ref_fused_conv(const eml_kernel_ctx *ctx)
{
    const eml_fused_conv_params *p = ctx->params;
    return run_fused(ctx, eml__ref_conv, 3, 3, &p->act);
}

eml_status eml__ref_fused_gemm(const eml_kernel_ctx *ctx)
{
    const eml_fused_gemm_params *p = ctx->params;
    return run_fused(ctx, eml__ref_gemm, 3, -1, &p->act);
}

eml_status eml__ref_fused_matmul(const eml_kernel_ctx *ctx)
{
    const eml_fused_matmul_params *p = ctx->params;
    return run_fused(ctx, eml__ref_matmul, 2, -1, &p->act);
}
