/* Prepare and infer of the ops that make new values: Shape, Size, ConstantOfShape, Constant,
 * Range, EyeLike, OneHot, NonZero and Trilu. */
#include <math.h>

#include "graph/ops/movement_ops.h"

static const char *const no_attrs[] = {NULL};

/* ---- Shape and Size ---- */

eml_status eml__shape_prepare(eml_prepare_ctx *ctx)
{
    eml_shape_params *p = EML_PARAMS(ctx, eml_shape_params);
    static const char *const v15[] = {"start", "end", NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset >= 15 ? v15 : no_attrs);
    if (st != EML_OK)
        return st;
    p->has_end = eml__node_attr(ctx->node, "end") != NULL;
    if ((st = eml__attr_int(ctx, "start", 0, &p->start)) != EML_OK)
        return st;
    return eml__attr_int(ctx, "end", 0, &p->end);
}

/* The values depend only on the input's shape, which infer knows: the runtime folds these. */
eml_status eml__shape_infer(eml_infer_ctx *ctx)
{
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t first, last;
    eml__shape_bounds(ctx->params, ctx->inputs[0].rank, &first, &last);
    int64_t n = last - first;
    eml__set_output(ctx, 0, EML_DTYPE_I64, &n, 1);
    return EML_OK;
}

eml_status eml__size_prepare(eml_prepare_ctx *ctx)
{
    return eml__attr_only(ctx, no_attrs);
}

eml_status eml__size_infer(eml_infer_ctx *ctx)
{
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    eml__set_output(ctx, 0, EML_DTYPE_I64, NULL, 0);
    return EML_OK;
}

/* ---- ConstantOfShape ---- */

eml_status eml__constant_of_shape_prepare(eml_prepare_ctx *ctx)
{
    eml_constant_of_shape_params *p = EML_PARAMS(ctx, eml_constant_of_shape_params);
    static const char *const known[] = {"value", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    const eml_tensor *value;
    if ((st = eml__attr_tensor(ctx, "value", &value)) != EML_OK)
        return st;
    p->dtype = EML_DTYPE_F32; /* default: float 0, already zeroed */
    if (!value)
        return EML_OK;
    if (!eml_dtype_is_supported(value->dtype))
        return eml__unsupported(ctx, "value of type %s", eml_dtype_name(value->dtype));
    if (eml_tensor_count(value) != 1 || !value->data)
        return eml__bad_attr(ctx, "value must hold one element");
    p->dtype = value->dtype;
    memcpy(p->value, value->data, eml_dtype_size(value->dtype));
    return EML_OK;
}

eml_status eml__constant_of_shape_infer(eml_infer_ctx *ctx)
{
    const eml_constant_of_shape_params *p = ctx->params;
    if (!eml__mv_known(ctx, 0))
        return eml__mv_dynamic(ctx, p->dtype);
    int64_t dims[EML_MAX_RANK];
    int n;
    eml_status st = eml__mv_read_ints(ctx, 0, "shape", dims, EML_MAX_RANK, &n);
    if (st != EML_OK)
        return st;
    for (int d = 0; d < n; d++) {
        if (dims[d] < 0)
            return eml__infer_error(ctx, EML_ESHAPE, "negative dim %lld", (long long)dims[d]);
    }
    return eml__mv_set_output(ctx, 0, p->dtype, dims, n);
}

/* ---- Constant ---- */

eml_status eml__constant_prepare(eml_prepare_ctx *ctx)
{
    eml_constant_params *p = EML_PARAMS(ctx, eml_constant_params);
    static const char *const v1[] = {"value", NULL};
    static const char *const v11[] = {"value", "sparse_value", NULL};
    static const char *const v12[] = {"value",        "sparse_value",  "value_float",
                                      "value_floats", "value_int",     "value_ints",
                                      "value_string", "value_strings", NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset >= 12 ? v12 : ctx->opset >= 11 ? v11 : v1);
    if (st != EML_OK)
        return st;
    if (ctx->node->n_attrs != 1)
        return eml__bad_attr(ctx, "exactly one value attribute is required, not %d",
                             (int)ctx->node->n_attrs);
    const eml_attr *a = &ctx->node->attrs[0];
    /* every value below is borrowed from the attribute, which lives as long as the graph */
    if (strcmp(a->name, "value") == 0 && a->type == EML_ATTR_TENSOR) {
        if (!eml_dtype_is_supported(a->t.dtype))
            return eml__unsupported(ctx, "value of type %s", eml_dtype_name(a->t.dtype));
        p->dtype = a->t.dtype;
        p->rank = a->t.rank;
        memcpy(p->dims, a->t.dims, sizeof(p->dims));
        p->data = a->t.data;
    } else if (strcmp(a->name, "value_float") == 0 && a->type == EML_ATTR_FLOAT) {
        p->dtype = EML_DTYPE_F32;
        p->data = &a->f;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == EML_ATTR_INT) {
        p->dtype = EML_DTYPE_I64;
        p->data = &a->i;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == EML_ATTR_FLOATS) {
        p->dtype = EML_DTYPE_F32;
        p->rank = 1;
        p->dims[0] = (int64_t)a->count;
        p->data = a->floats;
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == EML_ATTR_INTS) {
        p->dtype = EML_DTYPE_I64;
        p->rank = 1;
        p->dims[0] = (int64_t)a->count;
        p->data = a->ints;
    } else if (strcmp(a->name, "value") == 0 || strcmp(a->name, "value_float") == 0 ||
               strcmp(a->name, "value_int") == 0 || strcmp(a->name, "value_floats") == 0 ||
               strcmp(a->name, "value_ints") == 0) {
        return eml__bad_attr(ctx, "attribute '%s' has type %d", a->name, (int)a->type);
    } else {
        /* sparse_value, value_string, value_strings: no sparse or string tensors here */
        return eml__unsupported(ctx, "attribute '%s'", a->name);
    }
    if (eml__shape_count(p->dims, p->rank) < 0 || (!p->data && eml__shape_count(p->dims, p->rank)))
        return eml__bad_attr(ctx, "value has no data for its shape");
    return EML_OK;
}

eml_status eml__constant_infer(eml_infer_ctx *ctx)
{
    const eml_constant_params *p = ctx->params;
    eml__set_output(ctx, 0, p->dtype, p->dims, p->rank);
    return EML_OK;
}

/* ---- Range ---- */

eml_status eml__range_prepare(eml_prepare_ctx *ctx)
{
    return eml__attr_only(ctx, no_attrs);
}

/* Element count of an integer range, exact over all of int64 (the difference is taken unsigned). */
static int64_t range_count_int(int64_t start, int64_t limit, int64_t delta)
{
    if (delta > 0) {
        if (limit <= start)
            return 0;
        uint64_t diff = (uint64_t)limit - (uint64_t)start, step = (uint64_t)delta;
        return (int64_t)(diff / step + (diff % step != 0));
    }
    if (limit >= start)
        return 0;
    uint64_t diff = (uint64_t)start - (uint64_t)limit, step = 0 - (uint64_t)delta;
    return (int64_t)(diff / step + (diff % step != 0));
}

eml_status eml__range_infer(eml_infer_ctx *ctx)
{
    eml_dtype t = ctx->inputs[0].dtype;
    if (t != EML_DTYPE_F32 && t != EML_DTYPE_F64 && t != EML_DTYPE_I16 && t != EML_DTYPE_I32 &&
        t != EML_DTYPE_I64)
        return eml__infer_unsupported(ctx, "inputs of type %s", eml_dtype_name(t));
    for (int32_t i = 0; i < 3; i++) {
        if (ctx->inputs[i].dtype != t || eml_tensor_count(&ctx->inputs[i]) != 1)
            return eml__infer_error(ctx, EML_ETYPE, "start, limit and delta must be one %s each",
                                    eml_dtype_name(t));
    }
    for (int32_t i = 0; i < 3; i++) {
        if (!ctx->inputs[i].data)
            return eml__mv_dynamic(ctx, t);
    }
    int64_t n;
    if (t == EML_DTYPE_F32 || t == EML_DTYPE_F64) {
        double start = eml__tensor_get_f64(&ctx->inputs[0], 0);
        double limit = eml__tensor_get_f64(&ctx->inputs[1], 0);
        double delta = eml__tensor_get_f64(&ctx->inputs[2], 0);
        double count = ceil((limit - start) / delta);
        if (delta == 0.0 || !(count < 9.0e15)) /* also NaN and infinite */
            return eml__infer_error(ctx, EML_ESHAPE, "range(%g, %g, %g) is not finite", start,
                                    limit, delta);
        n = count > 0 ? (int64_t)count : 0;
    } else {
        int64_t delta = eml__tensor_get_i64(&ctx->inputs[2], 0);
        if (delta == 0)
            return eml__infer_error(ctx, EML_ESHAPE, "delta is 0");
        n = range_count_int(eml__tensor_get_i64(&ctx->inputs[0], 0),
                            eml__tensor_get_i64(&ctx->inputs[1], 0), delta);
    }
    return eml__mv_set_output(ctx, 0, t, &n, 1);
}

/* ---- EyeLike ---- */

eml_status eml__eye_like_prepare(eml_prepare_ctx *ctx)
{
    eml_eye_like_params *p = EML_PARAMS(ctx, eml_eye_like_params);
    static const char *const known[] = {"dtype", "k", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    int64_t dtype;
    if ((st = eml__attr_int(ctx, "dtype", 0, &dtype)) != EML_OK ||
        (st = eml__attr_int(ctx, "k", 0, &p->k)) != EML_OK)
        return st;
    if (dtype != 0 && (dtype < 0 || dtype > 64 || !eml_dtype_is_supported((eml_dtype)dtype)))
        return eml__unsupported(ctx, "attribute 'dtype' = %lld", (long long)dtype);
    p->dtype = (eml_dtype)dtype;
    return EML_OK;
}

eml_status eml__eye_like_infer(eml_infer_ctx *ctx)
{
    const eml_eye_like_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (x->rank != 2)
        return eml__infer_error(ctx, EML_ESHAPE, "input must be 2-D, not rank %d", (int)x->rank);
    eml__set_output(ctx, 0, p->dtype ? p->dtype : x->dtype, x->dims, 2);
    return EML_OK;
}

/* ---- OneHot ---- */

eml_status eml__one_hot_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"axis", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    return eml__attr_int(ctx, "axis", -1, &EML_PARAMS(ctx, eml_axis_params)->axis);
}

eml_status eml__one_hot_infer(eml_infer_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *indices = &ctx->inputs[0], *depth = &ctx->inputs[1];
    const eml_tensor *values = &ctx->inputs[2];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 2)) != EML_OK)
        return st;
    for (int32_t i = 0; i < 2; i++) {
        eml_dtype t = ctx->inputs[i].dtype;
        if (!eml__mv_is_int(t) && !eml__mv_is_float(t))
            return eml__infer_unsupported(ctx, "input %d of type %s", (int)i, eml_dtype_name(t));
    }
    if (eml_tensor_count(values) != 2 || values->rank != 1)
        return eml__infer_error(ctx, EML_ESHAPE, "values must be [off_value, on_value]");
    if (eml_tensor_count(depth) != 1 || depth->rank > 1)
        return eml__infer_error(ctx, EML_ESHAPE, "depth must be one value");
    int rank = indices->rank + 1;
    int64_t axis;
    if (rank > EML_MAX_RANK)
        return eml__infer_unsupported(ctx, "output rank %d, at most %d supported", rank,
                                      EML_MAX_RANK);
    if (!eml__norm_axis(p->axis, rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, rank);
    if (!depth->data)
        return eml__mv_dynamic(ctx, values->dtype);
    /* a float depth is truncated, as ONNX Runtime casts it */
    double d = trunc(eml__tensor_get_f64(depth, 0));
    if (eml__mv_is_int(depth->dtype))
        d = (double)eml__tensor_get_i64(depth, 0);
    if (!(d >= 1.0 && d < 9.0e15))
        return eml__infer_error(ctx, EML_ESHAPE, "depth %g", d);
    int64_t out[EML_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        out[i] = i == axis ? (int64_t)d : indices->dims[k++];
    return eml__mv_set_output(ctx, 0, values->dtype, out, rank);
}

/* ---- NonZero ---- */

eml_status eml__nonzero_prepare(eml_prepare_ctx *ctx)
{
    return eml__attr_only(ctx, no_attrs);
}

eml_status eml__nonzero_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (!eml__mv_known(ctx, 0))
        return eml__mv_dynamic(ctx, EML_DTYPE_I64);
    /* [rank, count]; a scalar gives [0, count] (ONNX differs from numpy there) */
    int64_t out[2] = {x->rank, x->data ? eml__nonzero_count(x) : 0};
    eml__set_output(ctx, 0, EML_DTYPE_I64, out, 2);
    return EML_OK;
}

/* ---- Trilu ---- */

eml_status eml__trilu_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"upper", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    int64_t upper;
    if ((st = eml__attr_int(ctx, "upper", 1, &upper)) != EML_OK)
        return st;
    if (upper != 0 && upper != 1)
        return eml__bad_attr(ctx, "upper = %lld", (long long)upper);
    EML_PARAMS(ctx, eml_trilu_params)->upper = (int32_t)upper;
    return EML_OK;
}

/* k only moves the diagonal, so the output shape never waits for its value. */
eml_status eml__trilu_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (x->rank < 2)
        return eml__infer_error(ctx, EML_ESHAPE, "input must have rank 2 or more, not %d",
                                (int)x->rank);
    if (eml__in_present(ctx, 1) &&
        (ctx->inputs[1].dtype != EML_DTYPE_I64 || eml_tensor_count(&ctx->inputs[1]) != 1))
        return eml__infer_error(ctx, EML_ETYPE, "k must be one int64 value");
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}
