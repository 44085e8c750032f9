/* Prepare and infer of the ops that keep the bytes and change only the shape: Reshape, Flatten,
 * Squeeze, Unsqueeze, Identity, and Dropout (inference only). */
#include "graph/ops/movement_ops.h"

/* ---- Reshape ---- */

eml_status eml__reshape_prepare(eml_prepare_ctx *ctx)
{
    eml_reshape_params *p = EML_PARAMS(ctx, eml_reshape_params);
    eml_status st;
    if (ctx->opset < 5) {
        /* consumed_inputs was a legacy optimization hint with no effect on the result */
        static const char *const known[] = {"shape", "consumed_inputs", NULL};
        if ((st = eml__attr_only(ctx, known)) != EML_OK)
            return st;
        int count;
        if ((st = eml__attr_ints(ctx, "shape", p->shape, EML_MAX_RANK, &count)) != EML_OK)
            return st;
        if (count < 0)
            return eml__bad_attr(ctx, "attribute 'shape' is required");
        p->from_attr = 1;
        p->shape_count = count;
        return EML_OK;
    }
    static const char *const known[] = {"allowzero", NULL};
    static const char *const none[] = {NULL};
    if ((st = eml__attr_only(ctx, ctx->opset >= 14 ? known : none)) != EML_OK)
        return st;
    int64_t allowzero;
    if ((st = eml__attr_int(ctx, "allowzero", 0, &allowzero)) != EML_OK)
        return st;
    if (allowzero != 0 && allowzero != 1)
        return eml__bad_attr(ctx, "allowzero = %lld", (long long)allowzero);
    p->allowzero = (int32_t)allowzero;
    return EML_OK;
}

eml_status eml__reshape_infer(eml_infer_ctx *ctx)
{
    const eml_reshape_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t shape[EML_MAX_RANK];
    int n = p->shape_count;
    if (p->from_attr) {
        memcpy(shape, p->shape, sizeof(shape));
    } else {
        if (!eml__in_present(ctx, 1))
            return eml__infer_error(ctx, EML_EGRAPH, "the shape input is required");
        if (!eml__mv_known(ctx, 1))
            return eml__mv_dynamic(ctx, x->dtype);
        if ((st = eml__mv_read_ints(ctx, 1, "shape", shape, EML_MAX_RANK, &n)) != EML_OK)
            return st;
    }
    int64_t out[EML_MAX_RANK];
    int infer_at = -1;
    bool has_zero = false;
    for (int i = 0; i < n; i++) {
        out[i] = shape[i];
        if (shape[i] == -1) {
            if (infer_at >= 0)
                return eml__infer_error(ctx, EML_ESHAPE, "more than one -1 in the shape");
            infer_at = i;
            out[i] = 1;
        } else if (shape[i] == 0 && !p->allowzero) {
            if (i >= x->rank)
                return eml__infer_error(ctx, EML_ESHAPE,
                                        "shape[%d] = 0 copies a dim the rank-%d input lacks", i,
                                        (int)x->rank);
            out[i] = x->dims[i];
        } else if (shape[i] < 0) {
            return eml__infer_error(ctx, EML_ESHAPE, "shape[%d] = %lld", i, (long long)shape[i]);
        }
        has_zero |= shape[i] == 0;
    }
    if (infer_at >= 0 && has_zero && p->allowzero)
        return eml__infer_error(ctx, EML_ESHAPE, "-1 and a literal 0 together with allowzero");
    int64_t count = eml_tensor_count(x);
    int64_t known = eml__shape_count(out, n);
    if (known < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "shape too large");
    if (infer_at >= 0) {
        if (known == 0 || count % known != 0)
            return eml__infer_error(
                ctx, EML_ESHAPE, "cannot infer the -1 of a shape holding %lld elements from %lld",
                (long long)known, (long long)count);
        out[infer_at] = count / known;
    } else if (known != count) {
        char a[160], b[160];
        return eml__infer_error(ctx, EML_ESHAPE, "cannot reshape %s to %s (%lld elements)",
                                eml__shape_str(a, sizeof(a), x->dtype, x->dims, x->rank),
                                eml__shape_str(b, sizeof(b), x->dtype, out, n), (long long)known);
    }
    eml__set_output(ctx, 0, x->dtype, out, n);
    return EML_OK;
}

/* ---- Flatten ---- */

eml_status eml__flatten_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"axis", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    return eml__attr_int(ctx, "axis", 1, &EML_PARAMS(ctx, eml_flatten_params)->axis);
}

eml_status eml__flatten_infer(eml_infer_ctx *ctx)
{
    const eml_flatten_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t axis = p->axis;
    if (axis < -x->rank || axis > x->rank)
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)axis, (int)x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t out[2] = {eml__shape_count(x->dims, (int)axis),
                      eml__shape_count(x->dims + axis, x->rank - (int)axis)};
    eml__set_output(ctx, 0, x->dtype, out, 2);
    return EML_OK;
}

/* ---- Squeeze and Unsqueeze ---- */

/* Reads the axes attribute (opset < 13), which Unsqueeze requires. */
static eml_status axes_prepare(eml_prepare_ctx *ctx, bool required)
{
    eml_axes_params *p = EML_PARAMS(ctx, eml_axes_params);
    static const char *const known[] = {"axes", NULL};
    static const char *const none[] = {NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset < 13 ? known : none);
    if (st != EML_OK)
        return st;
    int count = -1;
    if (ctx->opset < 13) {
        if ((st = eml__attr_ints(ctx, "axes", p->axes, EML_MAX_RANK, &count)) != EML_OK)
            return st;
        if (required && count < 0)
            return eml__bad_attr(ctx, "attribute 'axes' is required");
    }
    p->count = count;
    return EML_OK;
}

eml_status eml__squeeze_prepare(eml_prepare_ctx *ctx)
{
    return axes_prepare(ctx, false);
}

eml_status eml__unsqueeze_prepare(eml_prepare_ctx *ctx)
{
    return axes_prepare(ctx, true);
}

/* Axes from the params or input 1: *n = -1 when there are none. EML_EDYNAMIC when the input's
 * values are not known yet. */
static eml_status axes_get(eml_infer_ctx *ctx, int64_t *axes, int *n)
{
    const eml_axes_params *p = ctx->params;
    if (p->count >= 0 || !eml__in_present(ctx, 1)) {
        memcpy(axes, p->axes, sizeof(p->axes));
        *n = p->count;
        return EML_OK;
    }
    if (!eml__mv_known(ctx, 1))
        return eml__mv_dynamic(ctx, ctx->inputs[0].dtype);
    return eml__mv_read_ints(ctx, 1, "axes", axes, EML_MAX_RANK, n);
}

/* Marks each axis (normalized against rank) in `marked`; refuses repeats and out-of-range ones. */
static eml_status mark_axes(const eml_infer_ctx *ctx, const int64_t *axes, int n, int rank,
                            bool *marked)
{
    for (int i = 0; i < rank; i++)
        marked[i] = false;
    for (int i = 0; i < n; i++) {
        int64_t a;
        if (!eml__norm_axis(axes[i], rank, &a))
            return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                    (long long)axes[i], rank);
        if (marked[a])
            return eml__infer_error(ctx, EML_ESHAPE, "axis %lld repeated", (long long)axes[i]);
        marked[a] = true;
    }
    return EML_OK;
}

eml_status eml__squeeze_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t axes[EML_MAX_RANK];
    int n;
    if ((st = axes_get(ctx, axes, &n)) != EML_OK)
        return st;
    bool marked[EML_MAX_RANK];
    if (n < 0) {
        /* no axes: every dim of size 1 goes */
        for (int i = 0; i < x->rank; i++)
            marked[i] = x->dims[i] == 1;
    } else if ((st = mark_axes(ctx, axes, n, x->rank, marked)) != EML_OK) {
        return st;
    }
    int64_t out[EML_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!marked[i]) {
            out[rank++] = x->dims[i];
        } else if (x->dims[i] != 1) {
            return eml__infer_error(ctx, EML_ESHAPE, "cannot squeeze axis %d of size %lld", i,
                                    (long long)x->dims[i]);
        }
    }
    eml__set_output(ctx, 0, x->dtype, out, rank);
    return EML_OK;
}

eml_status eml__unsqueeze_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t axes[EML_MAX_RANK];
    int n;
    if ((st = axes_get(ctx, axes, &n)) != EML_OK)
        return st;
    if (n < 0)
        return eml__infer_error(ctx, EML_EGRAPH, "the axes input is required");
    int rank = x->rank + n;
    if (rank > EML_MAX_RANK)
        return eml__infer_unsupported(ctx, "output rank %d, at most %d supported", rank,
                                      EML_MAX_RANK);
    bool marked[EML_MAX_RANK];
    if ((st = mark_axes(ctx, axes, n, rank, marked)) != EML_OK)
        return st;
    int64_t out[EML_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        out[i] = marked[i] ? 1 : x->dims[k++];
    eml__set_output(ctx, 0, x->dtype, out, rank);
    return EML_OK;
}

/* ---- Identity ---- */

eml_status eml__identity_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, none);
}

eml_status eml__identity_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}

/* ---- Dropout ---- */

/* Opsets 1 and 6 had is_test; with is_test = 0 the op meant training. An inference runtime runs
 * the test behaviour (as the converters that wrote those models assumed), so Dropout before opset
 * 12 is the identity. From opset 12 training_mode is an input: in training mode the mask is drawn
 * from MT19937 seeded with `seed` (0 when absent, so runs are reproducible), exactly as the ONNX
 * reference draws it with NumPy. */
eml_status eml__dropout_prepare(eml_prepare_ctx *ctx)
{
    eml_dropout_params *p = EML_PARAMS(ctx, eml_dropout_params);
    static const char *const v1[] = {"consumed_inputs", "is_test", "ratio", NULL};
    static const char *const v6[] = {"is_test", "ratio", NULL};
    static const char *const v7[] = {"ratio", NULL};
    static const char *const v12[] = {"seed", NULL};
    const char *const *known = ctx->opset >= 12  ? v12
                               : ctx->opset >= 7 ? v7
                               : ctx->opset >= 6 ? v6
                                                 : v1;
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    if ((st = eml__attr_float(ctx, "ratio", 0.5f, &p->ratio)) != EML_OK)
        return st;
    if (!(p->ratio >= 0.0f && p->ratio < 1.0f))
        return eml__bad_attr(ctx, "ratio = %g", (double)p->ratio);
    int64_t v;
    if ((st = eml__attr_int(ctx, "is_test", 0, &v)) != EML_OK)
        return st;
    if ((st = eml__attr_int(ctx, "seed", 0, &v)) != EML_OK)
        return st;
    p->seed = (uint32_t)v;
    return EML_OK;
}

eml_status eml__dropout_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml__mv_is_float(x->dtype))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    bool has_ratio = eml__in_present(ctx, 1), has_mode = eml__in_present(ctx, 2);
    if (has_ratio &&
        (!eml__mv_is_float(ctx->inputs[1].dtype) || eml_tensor_count(&ctx->inputs[1]) != 1))
        return eml__infer_error(ctx, EML_ETYPE, "ratio must be one float value");
    if (has_mode &&
        (ctx->inputs[2].dtype != EML_DTYPE_BOOL || eml_tensor_count(&ctx->inputs[2]) != 1))
        return eml__infer_error(ctx, EML_ETYPE, "training_mode must be one bool value");
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    if (ctx->n_outputs > 1)
        eml__set_output(ctx, 1, ctx->opset >= 10 ? EML_DTYPE_BOOL : x->dtype, x->dims, x->rank);
    return EML_OK;
}
