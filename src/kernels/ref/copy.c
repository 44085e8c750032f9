/* Reference kernels that copy their input: the shape-only ops, and Dropout (inference and seeded
 * training mode). */
#include "kernels/ref/movement.h"

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity: the bytes are the same, only the shape differs
 * (set by infer). A later pass turns these into views; until then a plain copy is correct. */
eml_status eml__ref_copy(const eml_kernel_ctx *ctx)
{
    size_t bytes = eml_tensor_bytes(&ctx->outputs[0]);
    if (bytes && ctx->outputs[0].data != ctx->inputs[0].data)
        memcpy(ctx->outputs[0].data, ctx->inputs[0].data, bytes);
    return EML_OK;
}

/* Training mode (opset 12+ with training_mode true and a ratio above 0): keep x / (1 - ratio)
 * where a uniform draw is >= ratio, as the ONNX reference does with numpy.random.seed(seed). */
static void dropout_train(const eml_kernel_ctx *ctx, double ratio, uint32_t seed)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    eml_tensor *mask = ctx->n_outputs > 1 && ctx->outputs[1].data ? &ctx->outputs[1] : NULL;
    eml_mt19937 mt;
    eml__mt_seed(&mt, seed);
    double scale = 1.0 / (1.0 - ratio);
    int64_t n = eml_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        bool keep = eml__mt_next_double(&mt) >= ratio;
        eml__tensor_set_f64(y, i, keep ? eml__tensor_get_f64(x, i) * scale : 0.0);
        if (mask)
            eml__tensor_set_f64(mask, i, keep ? 1.0 : 0.0);
    }
}

eml_status eml__ref_dropout(const eml_kernel_ctx *ctx)
{
    const eml_dropout_params *p = ctx->params;
    /* The training flag is read as a byte: a bool from a file may hold any value. */
    if (eml__kin_present(ctx, 2) && eml_tensor_count(&ctx->inputs[2]) > 0 &&
        *(const uint8_t *)ctx->inputs[2].data != 0) {
        double ratio = p->ratio;
        if (eml__kin_present(ctx, 1) && eml_tensor_count(&ctx->inputs[1]) > 0)
            ratio = eml__tensor_get_f64(&ctx->inputs[1], 0);
        if (!(ratio >= 0.0 && ratio < 1.0))
            return eml__diag(ctx->diag, EML_ERANGE, "Dropout: ratio %g is outside [0, 1)", ratio);
        if (ratio > 0.0) {
            dropout_train(ctx, ratio, p->seed);
            return EML_OK;
        }
    }
    eml_status st = eml__ref_copy(ctx);
    if (st != EML_OK)
        return st;
    /* Nothing is dropped, so the mask (bool at opset 10+, the data's type before) is all ones. */
    if (ctx->n_outputs > 1 && ctx->outputs[1].data) {
        eml_tensor *mask = &ctx->outputs[1];
        int64_t n = eml_tensor_count(mask);
        for (int64_t i = 0; i < n; i++)
            eml__tensor_set_f64(mask, i, 1.0);
    }
    return EML_OK;
}
