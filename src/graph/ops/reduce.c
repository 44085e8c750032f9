/* Prepare and infer of the reductions: Reduce*, ArgMax/ArgMin, CumSum and TopK. */
#include "graph/graph.h"
#include "kernels/ref/reduce.h"

/* True when dt is in the list, which ends with EML_DTYPE_UNDEFINED. */
static bool dtype_in(eml_dtype dt, const eml_dtype *list)
{
    for (; *list != EML_DTYPE_UNDEFINED; list++) {
        if (*list == dt)
            return true;
    }
    return false;
}

static bool input_given(const eml_prepare_ctx *ctx, int32_t i)
{
    return i < ctx->node->n_inputs && ctx->node->inputs[i] >= 0;
}

/* The value of a 0-D or one-element integer tensor. */
static eml_status scalar_input(const eml_infer_ctx *ctx, int32_t i, const char *what,
                               const eml_dtype *dtypes, int64_t *value)
{
    const eml_tensor *t = &ctx->inputs[i];
    if (!dtype_in(t->dtype, dtypes))
        return eml__infer_unsupported(ctx, "%s of type %s", what, eml_dtype_name(t->dtype));
    if (t->rank > 1 || eml_tensor_count(t) != 1)
        return eml__infer_error(ctx, EML_ESHAPE, "%s must hold one value, has rank %d and %lld",
                                what, (int)t->rank, (long long)eml_tensor_count(t));
    if (t->data)
        *value = eml__tensor_get_i64(t, 0);
    return EML_OK;
}

/* ---- Reduce* ---- */

static const eml_dtype reduce_types[] = {
    EML_DTYPE_F32, EML_DTYPE_F64, EML_DTYPE_F16, EML_DTYPE_BF16, EML_DTYPE_I32,
    EML_DTYPE_I64, EML_DTYPE_U32, EML_DTYPE_U64, EML_DTYPE_UNDEFINED};
/* ReduceMax and ReduceMin also take 8-bit integers (opset 12+) */
static const eml_dtype reduce_minmax_types[] = {
    EML_DTYPE_F32, EML_DTYPE_F64, EML_DTYPE_F16, EML_DTYPE_BF16, EML_DTYPE_I32, EML_DTYPE_I64,
    EML_DTYPE_U32, EML_DTYPE_U64, EML_DTYPE_I8,  EML_DTYPE_U8,  EML_DTYPE_UNDEFINED};
static const eml_dtype int64_only[] = {EML_DTYPE_I64, EML_DTYPE_UNDEFINED};

static eml_reduce_kind reduce_kind(eml_op_id op)
{
    switch (op) {
    case EML_OP_ReduceL1: return EML_REDUCE_L1;
    case EML_OP_ReduceL2: return EML_REDUCE_L2;
    case EML_OP_ReduceLogSum: return EML_REDUCE_LOG_SUM;
    case EML_OP_ReduceLogSumExp: return EML_REDUCE_LOG_SUM_EXP;
    case EML_OP_ReduceMax: return EML_REDUCE_MAX;
    case EML_OP_ReduceMean: return EML_REDUCE_MEAN;
    case EML_OP_ReduceMin: return EML_REDUCE_MIN;
    case EML_OP_ReduceProd: return EML_REDUCE_PROD;
    case EML_OP_ReduceSumSquare: return EML_REDUCE_SUM_SQUARE;
    default: return EML_REDUCE_SUM;
    }
}

eml_status eml__reduce_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attr_axes[] = {"axes", "keepdims", NULL};
    static const char *const input_axes[] = {"keepdims", "noop_with_empty_axes", NULL};
    eml_reduce_params *p = EML_PARAMS(ctx, eml_reduce_params);
    eml_status st;
    int64_t keepdims, noop = 0;
    p->kind = reduce_kind(ctx->op);
    /* ReduceSum moved axes to an input at opset 13, the others at 18 */
    p->axes_from_input = (ctx->op == EML_OP_ReduceSum && ctx->opset >= 13) || ctx->opset >= 18;
    p->n_axes = -1;
    EML_TRY(eml__attr_only(ctx, p->axes_from_input ? input_axes : attr_axes));
    EML_TRY(eml__attr_int(ctx, "keepdims", 1, &keepdims));
    if (p->axes_from_input) {
        EML_TRY(eml__attr_int(ctx, "noop_with_empty_axes", 0, &noop));
    } else {
        int n;
        EML_TRY(eml__attr_ints(ctx, "axes", p->axes, EML_MAX_RANK, &n));
        p->n_axes = n;
        if (input_given(ctx, 1))
            return eml__bad_attr(ctx, "axes is an attribute at this opset, not an input");
    }
    p->keepdims = keepdims != 0;
    p->noop_with_empty_axes = noop != 0;
    return EML_OK;
fail:
    return st;
}

eml_status eml__reduce_infer(eml_infer_ctx *ctx)
{
    const eml_reduce_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    bool minmax = p->kind == EML_REDUCE_MAX || p->kind == EML_REDUCE_MIN;
    if (!dtype_in(x->dtype, minmax ? reduce_minmax_types : reduce_types))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    ctx->outputs[0].dtype = x->dtype;
    const eml_tensor *axes = NULL;
    if (p->axes_from_input && eml__in_present(ctx, 1)) {
        axes = &ctx->inputs[1];
        if (!dtype_in(axes->dtype, int64_only))
            return eml__infer_unsupported(ctx, "axes of type %s", eml_dtype_name(axes->dtype));
        if (axes->rank != 1)
            return eml__infer_error(ctx, EML_ESHAPE, "axes must be 1-D, has rank %d",
                                    (int)axes->rank);
        /* the axes decide the output shape: wait for their value unless there are none */
        if (axes->dims[0] > 0 && !axes->data)
            return eml__infer_need_data(ctx, 1);
    }
    uint32_t mask;
    eml_diag why;
    eml_diag_init(&why);
    if (eml__reduce_axes_mask(p, axes, x->rank, &mask, &why) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE, "%s", why.message);
    int64_t dims[EML_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!((mask >> d) & 1u))
            dims[rank++] = x->dims[d];
        else if (p->keepdims)
            dims[rank++] = 1;
    }
    eml__set_output(ctx, 0, x->dtype, dims, rank);
    return EML_OK;
}

/* ---- ArgMax / ArgMin ---- */

static const eml_dtype numeric_types[] = {
    EML_DTYPE_F32, EML_DTYPE_F64, EML_DTYPE_F16, EML_DTYPE_BF16, EML_DTYPE_I8,  EML_DTYPE_I16,
    EML_DTYPE_I32, EML_DTYPE_I64, EML_DTYPE_U8,  EML_DTYPE_U16,  EML_DTYPE_U32, EML_DTYPE_U64,
    EML_DTYPE_UNDEFINED};

eml_status eml__argminmax_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs_11[] = {"axis", "keepdims", NULL};
    static const char *const attrs_12[] = {"axis", "keepdims", "select_last_index", NULL};
    eml_argminmax_params *p = EML_PARAMS(ctx, eml_argminmax_params);
    eml_status st;
    int64_t keepdims, last;
    EML_TRY(eml__attr_only(ctx, ctx->opset >= 12 ? attrs_12 : attrs_11));
    EML_TRY(eml__attr_int(ctx, "axis", 0, &p->axis));
    EML_TRY(eml__attr_int(ctx, "keepdims", 1, &keepdims));
    EML_TRY(eml__attr_int(ctx, "select_last_index", 0, &last));
    p->keepdims = keepdims != 0;
    p->select_last_index = last != 0;
    p->is_min = ctx->op == EML_OP_ArgMin;
    return EML_OK;
fail:
    return st;
}

eml_status eml__argminmax_infer(eml_infer_ctx *ctx)
{
    const eml_argminmax_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!dtype_in(x->dtype, numeric_types))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    int64_t axis;
    if (!eml__norm_axis(p->axis, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    if (x->dims[axis] == 0)
        return eml__infer_error(ctx, EML_ESHAPE, "no element to pick along empty axis %lld",
                                (long long)p->axis);
    int64_t dims[EML_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis)
            dims[rank++] = x->dims[d];
        else if (p->keepdims)
            dims[rank++] = 1;
    }
    eml__set_output(ctx, 0, EML_DTYPE_I64, dims, rank);
    return EML_OK;
}

/* ---- CumSum ---- */

static const eml_dtype cumsum_types[] = {
    EML_DTYPE_F32, EML_DTYPE_F64, EML_DTYPE_F16, EML_DTYPE_BF16, EML_DTYPE_I32,
    EML_DTYPE_I64, EML_DTYPE_U32, EML_DTYPE_U64, EML_DTYPE_UNDEFINED};
static const eml_dtype index_types[] = {EML_DTYPE_I32, EML_DTYPE_I64, EML_DTYPE_UNDEFINED};

eml_status eml__cumsum_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs[] = {"exclusive", "reverse", NULL};
    eml_cumsum_params *p = EML_PARAMS(ctx, eml_cumsum_params);
    eml_status st;
    int64_t exclusive, reverse;
    EML_TRY(eml__attr_only(ctx, attrs));
    EML_TRY(eml__attr_int(ctx, "exclusive", 0, &exclusive));
    EML_TRY(eml__attr_int(ctx, "reverse", 0, &reverse));
    p->exclusive = exclusive != 0;
    p->reverse = reverse != 0;
    return EML_OK;
fail:
    return st;
}

eml_status eml__cumsum_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (!dtype_in(x->dtype, cumsum_types))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    if (x->rank == 0)
        return eml__infer_error(ctx, EML_ESHAPE, "input must have rank >= 1");
    int64_t a = 0, axis;
    eml_status st = scalar_input(ctx, 1, "axis", index_types, &a);
    if (st != EML_OK)
        return st;
    /* the axis does not change the shape; when known now, check it now */
    if (ctx->inputs[1].data && !eml__norm_axis(a, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)a, (int)x->rank);
    eml__set_output(ctx, 0, x->dtype, x->dims, x->rank);
    return EML_OK;
}

/* ---- TopK ---- */

eml_status eml__topk_prepare(eml_prepare_ctx *ctx)
{
    static const char *const attrs_1[] = {"axis", "k", NULL};
    static const char *const attrs_10[] = {"axis", NULL};
    static const char *const attrs_11[] = {"axis", "largest", "sorted", NULL};
    eml_topk_params *p = EML_PARAMS(ctx, eml_topk_params);
    eml_status st;
    int64_t largest, sorted;
    EML_TRY(eml__attr_only(ctx, ctx->opset >= 11   ? attrs_11
                                : ctx->opset >= 10 ? attrs_10
                                                   : attrs_1));
    EML_TRY(eml__attr_int(ctx, "axis", -1, &p->axis));
    EML_TRY(eml__attr_int(ctx, "largest", 1, &largest));
    EML_TRY(eml__attr_int(ctx, "sorted", 1, &sorted));
    p->largest = largest != 0;
    p->sorted = sorted != 0;
    p->k_from_input = ctx->opset >= 10;
    if (p->k_from_input) {
        if (!input_given(ctx, 1))
            return eml__bad_attr(ctx, "input K is required");
    } else {
        if (!eml__node_attr(ctx->node, "k"))
            return eml__bad_attr(ctx, "attribute 'k' is required");
        EML_TRY(eml__attr_int(ctx, "k", 0, &p->k));
        if (p->k < 0)
            return eml__bad_attr(ctx, "k = %lld is negative", (long long)p->k);
        if (input_given(ctx, 1))
            return eml__bad_attr(ctx, "k is an attribute before opset 10, not an input");
    }
    return EML_OK;
fail:
    return st;
}

eml_status eml__topk_infer(eml_infer_ctx *ctx)
{
    const eml_topk_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!dtype_in(x->dtype, numeric_types))
        return eml__infer_unsupported(ctx, "input of type %s", eml_dtype_name(x->dtype));
    ctx->outputs[0].dtype = x->dtype;
    if (ctx->n_outputs > 1)
        ctx->outputs[1].dtype = EML_DTYPE_I64;
    int64_t axis;
    if (!eml__norm_axis(p->axis, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    int64_t k = p->k;
    if (p->k_from_input) {
        eml_status st = scalar_input(ctx, 1, "K", int64_only, &k);
        if (st != EML_OK)
            return st;
        /* k decides the output shape */
        if (!ctx->inputs[1].data)
            return eml__infer_need_data(ctx, 1);
    }
    if (k < 0 || k > x->dims[axis])
        return eml__infer_error(ctx, EML_ERANGE, "k = %lld outside [0, %lld] (axis %lld)",
                                (long long)k, (long long)x->dims[axis], (long long)axis);
    int64_t dims[EML_MAX_RANK];
    memcpy(dims, x->dims, sizeof(dims));
    dims[axis] = k;
    eml__set_output(ctx, 0, x->dtype, dims, x->rank);
    if (ctx->n_outputs > 1)
        eml__set_output(ctx, 1, EML_DTYPE_I64, dims, x->rank);
    ctx->scratch_bytes = eml__topk_scratch_bytes(x->dims[axis]);
    return EML_OK;
}
