/* Prepare and shape inference of the convolution ops: Conv, ConvTranspose, ConvInteger and
 * QLinearConv. */
#include <stdio.h>

#include "graph/op.h"
#include "kernels/ref/conv.h"

/* Attribute values past this are refused: they keep every size computation far from int64
 * overflow, and no real model comes close. */
#define CONV_ATTR_MAX ((int64_t)INT32_MAX)

static eml_status read_ints(eml_prepare_ctx *ctx, const char *name, int64_t *out, int cap,
                            int32_t *count, int64_t min)
{
    int n;
    eml_status st = eml__attr_ints(ctx, name, out, cap, &n);
    if (st != EML_OK)
        return st;
    *count = n;
    for (int i = 0; i < n; i++) {
        if (out[i] < min || out[i] > CONV_ATTR_MAX)
            return eml__bad_attr(ctx, "attribute '%s' has value %lld (expected %lld..%lld)", name,
                                 (long long)out[i], (long long)min, (long long)CONV_ATTR_MAX);
    }
    return EML_OK;
}

static eml_status read_auto_pad(eml_prepare_ctx *ctx, int32_t *out)
{
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const char *s;
    eml_status st = eml__attr_string(ctx, "auto_pad", "NOTSET", &s);
    if (st != EML_OK)
        return st;
    for (int32_t i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return EML_OK;
        }
    }
    return eml__unsupported(ctx, "attribute 'auto_pad' = '%s'", s);
}

static eml_status conv_read(eml_prepare_ctx *ctx, eml_conv_params *p, bool transpose)
{
    static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                             "pads", "strides", NULL};
    static const char *const transpose_attrs[] = {
        "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
        "output_padding", "output_shape", NULL};
    eml_status st;
    EML_TRY(eml__attr_only(ctx, transpose ? transpose_attrs : conv_attrs));
    EML_TRY(read_auto_pad(ctx, &p->auto_pad));
    EML_TRY(eml__attr_int(ctx, "group", 1, &p->group));
    if (p->group < 1 || p->group > CONV_ATTR_MAX)
        return eml__bad_attr(ctx, "attribute 'group' = %lld", (long long)p->group);
    EML_TRY(read_ints(ctx, "kernel_shape", p->kernel, EML_CONV_MAX_SPATIAL, &p->kernel_count, 1));
    EML_TRY(read_ints(ctx, "strides", p->strides, EML_CONV_MAX_SPATIAL, &p->strides_count, 1));
    EML_TRY(read_ints(ctx, "dilations", p->dilations, EML_CONV_MAX_SPATIAL, &p->dilations_count,
                      1));
    EML_TRY(read_ints(ctx, "pads", p->pads, 2 * EML_CONV_MAX_SPATIAL, &p->pads_count, 0));
    p->output_padding_count = -1;
    p->output_shape_count = -1;
    if (transpose) {
        EML_TRY(read_ints(ctx, "output_padding", p->output_padding, EML_CONV_MAX_SPATIAL,
                          &p->output_padding_count, 0));
        EML_TRY(read_ints(ctx, "output_shape", p->output_shape, EML_MAX_RANK,
                          &p->output_shape_count, 1));
    }
    if (p->pads_count >= 0 && p->pads_count % 2 != 0)
        return eml__bad_attr(ctx, "attribute 'pads' has an odd count (%d)", (int)p->pads_count);
    return EML_OK;
fail:
    return st;
}

eml_status eml__conv_prepare(eml_prepare_ctx *ctx)
{
    return conv_read(ctx, EML_PARAMS(ctx, eml_conv_params), false);
}

eml_status eml__conv_transpose_prepare(eml_prepare_ctx *ctx)
{
    return conv_read(ctx, EML_PARAMS(ctx, eml_conv_params), true);
}

/* ---- infer ---- */

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return eml__mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16;
}

static bool is_q8(eml_dtype dt)
{
    return dt == EML_DTYPE_U8 || dt == EML_DTYPE_I8;
}

/* Validates X and W, fills the geometry and sets output 0 to [N, M, spatial...]. */
static eml_status conv_shape(eml_infer_ctx *ctx, const eml_tensor *x, const eml_tensor *w,
                             bool transpose, eml_dtype out_dtype, eml_conv_geom *g)
{
    char why[160];
    eml_status st = eml__conv_geom(ctx->params, x, w, transpose, g, why, sizeof(why));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", why);
    int64_t dims[EML_MAX_RANK];
    dims[0] = g->batch;
    dims[1] = g->out_channels;
    for (int i = 0; i < g->n_spatial; i++)
        dims[i + 2] = g->out[i];
    if (eml__shape_count(dims, g->n_spatial + 2) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output shape overflows");
    eml__set_output(ctx, 0, out_dtype, dims, g->n_spatial + 2);
    /* each output (or, transposed, each input) element takes Cg × kernel products */
    uint64_t per = transpose ? (uint64_t)(g->out_channels / g->group)
                             : (uint64_t)(g->in_channels / g->group);
    uint64_t positions = transpose ? (uint64_t)g->in_channels * (uint64_t)g->in_size
                                   : (uint64_t)g->out_channels * (uint64_t)g->out_size;
    ctx->macs = mul_sat(mul_sat(mul_sat((uint64_t)g->batch, positions), per),
                        (uint64_t)g->kernel_size);
    return EML_OK;
}

/* An optional per-channel vector: rank 0 or 1 with 1 or `channels` elements (`per_channel`),
 * or exactly one element otherwise. */
static eml_status check_qparam(eml_infer_ctx *ctx, int32_t i, const char *name, eml_dtype dtype,
                               bool per_channel, int64_t channels)
{
    const eml_tensor *t = &ctx->inputs[i];
    if (t->dtype != dtype)
        return eml__infer_error(ctx, EML_ETYPE, "%s is %s, expected %s", name,
                                eml_dtype_name(t->dtype), eml_dtype_name(dtype));
    int64_t n = eml_tensor_count(t);
    if (t->rank > 1 || !(n == 1 || (per_channel && n == channels)))
        return eml__infer_error(ctx, EML_ESHAPE, "%s has %lld elements (rank %d), expected %s",
                                name, (long long)n, (int)t->rank,
                                per_channel ? "1 or one per output channel" : "1");
    return EML_OK;
}

static eml_status check_bias(eml_infer_ctx *ctx, int32_t i, eml_dtype dtype, int64_t channels)
{
    if (!eml__in_present(ctx, i))
        return EML_OK;
    const eml_tensor *b = &ctx->inputs[i];
    if (b->dtype != dtype)
        return eml__infer_error(ctx, EML_ETYPE, "bias B is %s, expected %s",
                                eml_dtype_name(b->dtype), eml_dtype_name(dtype));
    if (b->rank != 1 || b->dims[0] != channels)
        return eml__infer_error(ctx, EML_ESHAPE, "bias B must have shape [%lld]",
                                (long long)channels);
    return EML_OK;
}

static eml_status float_conv_infer(eml_infer_ctx *ctx, bool transpose)
{
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    if (!is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input X of type %s", eml_dtype_name(x->dtype));
    if (w->dtype != x->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "W is %s, X is %s", eml_dtype_name(w->dtype),
                                eml_dtype_name(x->dtype));
    eml_conv_geom g;
    eml_status st = conv_shape(ctx, x, w, transpose, x->dtype, &g);
    if (st != EML_OK)
        return st;
    st = check_bias(ctx, 2, x->dtype, g.out_channels);
    if (st != EML_OK)
        return st;
    bool ok = transpose ? eml__conv_transpose_scratch(&g, x->dtype, &ctx->scratch_bytes)
                        : eml__conv_scratch(&g, x->dtype, &ctx->scratch_bytes);
    if (!ok)
        return eml__infer_error(ctx, EML_ELIMIT, "scratch memory size overflows");
    return EML_OK;
}

eml_status eml__conv_infer(eml_infer_ctx *ctx)
{
    return float_conv_infer(ctx, false);
}

eml_status eml__conv_transpose_infer(eml_infer_ctx *ctx)
{
    return float_conv_infer(ctx, true);
}

/* X and W of the integer convs: uint8 or int8 each. */
static eml_status q8_inputs(eml_infer_ctx *ctx, int32_t xi, int32_t wi)
{
    const eml_tensor *x = &ctx->inputs[xi], *w = &ctx->inputs[wi];
    if (!is_q8(x->dtype))
        return eml__infer_unsupported(ctx, "input x of type %s", eml_dtype_name(x->dtype));
    if (!is_q8(w->dtype))
        return eml__infer_unsupported(ctx, "input w of type %s", eml_dtype_name(w->dtype));
    return EML_OK;
}

eml_status eml__conv_integer_infer(eml_infer_ctx *ctx)
{
    eml_status st;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    eml_conv_geom g;
    EML_TRY(q8_inputs(ctx, 0, 1));
    EML_TRY(conv_shape(ctx, x, w, false, EML_DTYPE_I32, &g));
    if (eml__in_present(ctx, 2))
        EML_TRY(check_qparam(ctx, 2, "x_zero_point", x->dtype, false, 1));
    if (eml__in_present(ctx, 3))
        EML_TRY(check_qparam(ctx, 3, "w_zero_point", w->dtype, true, g.out_channels));
    if (!eml__conv_integer_scratch(&g, false, &ctx->scratch_bytes))
        return eml__infer_error(ctx, EML_ELIMIT, "scratch memory size overflows");
    return EML_OK;
fail:
    return st;
}

eml_status eml__qlinear_conv_infer(eml_infer_ctx *ctx)
{
    eml_status st;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[3];
    const eml_tensor *y_zp = &ctx->inputs[7];
    eml_conv_geom g;
    EML_TRY(q8_inputs(ctx, 0, 3));
    if (!is_q8(y_zp->dtype))
        return eml__infer_unsupported(ctx, "y_zero_point of type %s", eml_dtype_name(y_zp->dtype));
    EML_TRY(conv_shape(ctx, x, w, false, y_zp->dtype, &g));
    EML_TRY(check_qparam(ctx, 1, "x_scale", EML_DTYPE_F32, false, 1));
    EML_TRY(check_qparam(ctx, 2, "x_zero_point", x->dtype, false, 1));
    EML_TRY(check_qparam(ctx, 4, "w_scale", EML_DTYPE_F32, true, g.out_channels));
    EML_TRY(check_qparam(ctx, 5, "w_zero_point", w->dtype, true, g.out_channels));
    EML_TRY(check_qparam(ctx, 6, "y_scale", EML_DTYPE_F32, false, 1));
    EML_TRY(check_qparam(ctx, 7, "y_zero_point", y_zp->dtype, false, 1));
    EML_TRY(check_bias(ctx, 8, EML_DTYPE_I32, g.out_channels));
    if (!eml__conv_integer_scratch(&g, true, &ctx->scratch_bytes))
        return eml__infer_error(ctx, EML_ELIMIT, "scratch memory size overflows");
    return EML_OK;
fail:
    return st;
}
