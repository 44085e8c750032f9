/* Prepare and shape inference of edgeml's integer channels-last ops (QConv, QAdd, QMaxPool,
 * QGlobalAveragePool; see qnhwc.h), and the requantization parameters they share. */
#include <stdio.h>

#include "graph/graph.h"
#include "kernels/ref/nhwc.h"
#include "kernels/ref/qnhwc.h"

/* Pool attributes are read as ONNX's current MaxPool reads them. */
#define QPOOL_BASE_OPSET 17

bool eml__qconv_requant(float x_scale, const float *w_scale, int64_t w_scale_count,
                        float y_scale, int64_t channels, eml_qrequant *out)
{
    for (int64_t c = 0; c < channels; c++) {
        const double ws = w_scale[w_scale_count == 1 ? 0 : c];
        if (!eml__qrequant_init((double)x_scale * ws / (double)y_scale, &out[c]))
            return false;
    }
    return true;
}

float eml__qparam_f32(const eml_tensor *t, int64_t i)
{
    if (!t || t->dtype == EML_DTYPE_UNDEFINED || !t->data)
        return 0.0f;
    const int64_t n = eml__shape_count(t->dims, t->rank);
    return ((const float *)t->data)[n == 1 ? 0 : i];
}

int32_t eml__qparam_int(const eml_tensor *t, int64_t i)
{
    if (!t || t->dtype == EML_DTYPE_UNDEFINED || !t->data)
        return 0;
    const int64_t n = eml__shape_count(t->dims, t->rank);
    const int64_t k = n == 1 ? 0 : i;
    return t->dtype == EML_DTYPE_U8 ? ((const uint8_t *)t->data)[k]
                                    : ((const int8_t *)t->data)[k];
}

/* Reads qmin/qmax, then runs `base` on a view of the node without them. */
static eml_status read_clamp(eml_prepare_ctx *ctx, int32_t *qmin, int32_t *qmax,
                             eml_prepare_fn base)
{
    int64_t lo, hi;
    eml_status st;
    EML_TRY(eml__attr_int(ctx, "qmin", 0, &lo));
    EML_TRY(eml__attr_int(ctx, "qmax", 255, &hi));
    if (lo < 0 || hi > 255 || lo > hi)
        return eml__bad_attr(ctx, "qmin %lld, qmax %lld (expected 0 <= qmin <= qmax <= 255)",
                             (long long)lo, (long long)hi);
    *qmin = (int32_t)lo;
    *qmax = (int32_t)hi;
    if (!base)
        return EML_OK;
    eml_attr attrs[16];
    eml_node view = *ctx->node;
    view.n_attrs = 0;
    view.attrs = attrs;
    for (int32_t i = 0; i < ctx->node->n_attrs; i++) {
        const char *name = ctx->node->attrs[i].name;
        if (strcmp(name, "qmin") == 0 || strcmp(name, "qmax") == 0)
            continue;
        if (view.n_attrs == 16)
            return eml__unsupported(ctx, "more than 16 attributes");
        attrs[view.n_attrs++] = ctx->node->attrs[i];
    }
    eml_prepare_ctx inner = *ctx;
    inner.node = &view;
    return base(&inner);
fail:
    return st;
}

eml_status eml__qconv_prepare(eml_prepare_ctx *ctx)
{
    eml_qconv_params *p = EML_PARAMS(ctx, eml_qconv_params);
    return read_clamp(ctx, &p->qmin, &p->qmax, eml__conv_prepare);
}

eml_status eml__qadd_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"qmin", "qmax", NULL};
    eml_qadd_params *p = EML_PARAMS(ctx, eml_qadd_params);
    eml_status st = eml__attr_only(ctx, known);
    return st != EML_OK ? st : read_clamp(ctx, &p->qmin, &p->qmax, NULL);
}

eml_status eml__qmaxpool_prepare(eml_prepare_ctx *ctx)
{
    eml_prepare_ctx inner = *ctx;
    inner.op = EML_OP_MaxPool;
    inner.opset = QPOOL_BASE_OPSET;
    return eml__pool_prepare(&inner);
}

eml_status eml__qglobal_avgpool_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {NULL};
    return eml__attr_only(ctx, known);
}

/* ---- infer ---- */

/* Input i: dtype and one element, or (per_channel > 0) per_channel elements in rank <= 1;
 * optional ones may be absent. */
static eml_status check_param(eml_infer_ctx *ctx, int32_t i, const char *name, eml_dtype dtype,
                              int64_t per_channel, bool optional)
{
    if (!eml__in_present(ctx, i)) {
        if (optional)
            return EML_OK;
        return eml__infer_error(ctx, EML_EGRAPH, "input %s is missing", name);
    }
    const eml_tensor *t = &ctx->inputs[i];
    if (t->dtype != dtype)
        return eml__infer_unsupported(ctx, "input %s of type %s (expected %s)", name,
                                      eml_dtype_name(t->dtype), eml_dtype_name(dtype));
    const int64_t n = eml__shape_count(t->dims, t->rank);
    if (t->rank > 1 || (n != 1 && (per_channel <= 0 || n != per_channel)))
        return eml__infer_error(ctx, EML_ESHAPE, "input %s must be a scalar%s", name,
                                per_channel > 0 ? " or one value per output channel" : "");
    return EML_OK;
}

static eml_status check_u8_4d(eml_infer_ctx *ctx, int32_t i, const char *name)
{
    const eml_tensor *t = &ctx->inputs[i];
    if (t->dtype != EML_DTYPE_U8)
        return eml__infer_unsupported(ctx, "input %s of type %s (expected uint8)", name,
                                      eml_dtype_name(t->dtype));
    if (t->rank != 4)
        return eml__infer_error(ctx, EML_ESHAPE, "input %s has rank %d, expected 4 ([N, H, W, C])",
                                name, (int)t->rank);
    return EML_OK;
}

eml_status eml__qconv_infer(eml_infer_ctx *ctx)
{
    const eml_qconv_params *p = ctx->params;
    eml_status st;
    EML_TRY(check_u8_4d(ctx, EML_QCONV_X, "X"));
    const eml_tensor *w = &ctx->inputs[EML_QCONV_W];
    if (w->dtype != EML_DTYPE_I8)
        return eml__infer_unsupported(ctx, "input W of type %s (expected int8)",
                                      eml_dtype_name(w->dtype));
    if (w->rank != 4)
        return eml__infer_error(ctx, EML_ESHAPE, "input W has rank %d, expected 4", (int)w->rank);
    eml_conv_geom g;
    char why[160];
    st = eml__nhwc_conv_geom(&p->conv, &ctx->inputs[EML_QCONV_X], w, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", why);
    const int64_t o = g.out_channels;
    EML_TRY(check_param(ctx, EML_QCONV_X_SCALE, "X_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, EML_QCONV_X_ZP, "X_zero_point", EML_DTYPE_U8, 0, true));
    EML_TRY(check_param(ctx, EML_QCONV_W_SCALE, "W_scale", EML_DTYPE_F32, o, false));
    EML_TRY(check_param(ctx, EML_QCONV_W_ZP, "W_zero_point", EML_DTYPE_I8, o, true));
    EML_TRY(check_param(ctx, EML_QCONV_Y_SCALE, "Y_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, EML_QCONV_Y_ZP, "Y_zero_point", EML_DTYPE_U8, 0, true));
    if (eml__in_present(ctx, EML_QCONV_B)) {
        const eml_tensor *b = &ctx->inputs[EML_QCONV_B];
        if (b->dtype != EML_DTYPE_I32)
            return eml__infer_unsupported(ctx, "input B of type %s (expected int32)",
                                          eml_dtype_name(b->dtype));
        if (b->rank != 1 || b->dims[0] != o)
            return eml__infer_error(ctx, EML_ESHAPE, "input B must be [%lld]", (long long)o);
    }
    const int64_t dims[4] = {g.batch, g.out[0], g.out[1], o};
    if (eml__shape_count(dims, 4) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output shape overflows");
    eml__set_output(ctx, 0, EML_DTYPE_U8, dims, 4);
    ctx->macs = (uint64_t)g.batch * (uint64_t)g.out_size * (uint64_t)o *
                (uint64_t)(g.in_channels / g.group) * (uint64_t)g.kernel_size;
    return EML_OK;
fail:
    return st;
}

eml_status eml__qadd_infer(eml_infer_ctx *ctx)
{
    eml_status st;
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[3];
    if (a->dtype != EML_DTYPE_U8 || b->dtype != EML_DTYPE_U8)
        return eml__infer_unsupported(ctx, "inputs of type %s and %s (expected uint8)",
                                      eml_dtype_name(a->dtype), eml_dtype_name(b->dtype));
    bool same = a->rank == b->rank;
    for (int d = 0; same && d < a->rank; d++)
        same = a->dims[d] == b->dims[d];
    if (!same)
        return eml__infer_error(ctx, EML_ESHAPE, "A and B must have one shape (no broadcasting)");
    EML_TRY(check_param(ctx, 1, "A_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, 2, "A_zero_point", EML_DTYPE_U8, 0, true));
    EML_TRY(check_param(ctx, 4, "B_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, 5, "B_zero_point", EML_DTYPE_U8, 0, true));
    EML_TRY(check_param(ctx, 6, "Y_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, 7, "Y_zero_point", EML_DTYPE_U8, 0, true));
    eml__set_output(ctx, 0, EML_DTYPE_U8, a->dims, a->rank);
    return EML_OK;
fail:
    return st;
}

static eml_status check_pool_params(eml_infer_ctx *ctx)
{
    eml_status st;
    EML_TRY(check_u8_4d(ctx, 0, "X"));
    EML_TRY(check_param(ctx, 1, "X_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, 2, "X_zero_point", EML_DTYPE_U8, 0, true));
    EML_TRY(check_param(ctx, 3, "Y_scale", EML_DTYPE_F32, 0, false));
    EML_TRY(check_param(ctx, 4, "Y_zero_point", EML_DTYPE_U8, 0, true));
fail:
    return st;
}

eml_status eml__qmaxpool_infer(eml_infer_ctx *ctx)
{
    eml_status st = check_pool_params(ctx);
    if (st != EML_OK)
        return st;
    eml_conv_geom g;
    char why[160];
    st = eml__nhwc_pool_geom(ctx->params, &ctx->inputs[0], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", why);
    const int64_t dims[4] = {g.batch, g.out[0], g.out[1], g.in_channels};
    eml__set_output(ctx, 0, EML_DTYPE_U8, dims, 4);
    return EML_OK;
}

eml_status eml__qglobal_avgpool_infer(eml_infer_ctx *ctx)
{
    eml_status st = check_pool_params(ctx);
    if (st != EML_OK)
        return st;
    const eml_tensor *x = &ctx->inputs[0];
    if (x->dims[1] * x->dims[2] > ((int64_t)1 << 23))
        return eml__infer_error(ctx, EML_ESHAPE, "H·W above 2^23 (the int32 sum could overflow)");
    const int64_t dims[4] = {x->dims[0], 1, 1, x->dims[3]};
    eml__set_output(ctx, 0, EML_DTYPE_U8, dims, 4);
    return EML_OK;
}
