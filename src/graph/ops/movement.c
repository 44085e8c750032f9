/* Prepare and infer of the ops that rearrange elements: Transpose, Concat, Split, Slice, Gather,
 * GatherElements, Tile, Pad, DepthToSpace and SpaceToDepth. */
#include "graph/ops/movement_ops.h"

static const char *const no_attrs[] = {NULL};

/* ---- Transpose ---- */

eml_status eml__transpose_prepare(eml_prepare_ctx *ctx)
{
    eml_transpose_params *p = EML_PARAMS(ctx, eml_transpose_params);
    static const char *const known[] = {"perm", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    int count;
    if ((st = eml__attr_ints(ctx, "perm", p->perm, EML_MAX_RANK, &count)) != EML_OK)
        return st;
    p->perm_count = count;
    return EML_OK;
}

eml_status eml__transpose_infer(eml_infer_ctx *ctx)
{
    const eml_transpose_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t out[EML_MAX_RANK];
    if (p->perm_count < 0) {
        for (int d = 0; d < x->rank; d++)
            out[d] = x->dims[x->rank - 1 - d];
    } else {
        if (p->perm_count != x->rank)
            return eml__infer_error(ctx, EML_ESHAPE, "perm has %d values for a rank-%d input",
                                    (int)p->perm_count, (int)x->rank);
        bool used[EML_MAX_RANK] = {false};
        for (int d = 0; d < x->rank; d++) {
            int64_t a = p->perm[d];
            if (a < 0 || a >= x->rank || used[a])
                return eml__infer_error(ctx, EML_ESHAPE, "perm is not a permutation of 0..%d",
                                        (int)x->rank - 1);
            used[a] = true;
            out[d] = x->dims[a];
        }
    }
    eml__set_output(ctx, 0, x->dtype, out, x->rank);
    return EML_OK;
}

/* ---- Concat ---- */

eml_status eml__concat_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"axis", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    /* opset 1 defaulted the axis to 1; it is required since opset 4 */
    if (ctx->opset >= 4 && !eml__node_attr(ctx->node, "axis"))
        return eml__bad_attr(ctx, "attribute 'axis' is required");
    return eml__attr_int(ctx, "axis", 1, &EML_PARAMS(ctx, eml_axis_params)->axis);
}

eml_status eml__concat_infer(eml_infer_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t axis;
    if (x->rank == 0 || !eml__norm_axis(p->axis, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    int64_t out[EML_MAX_RANK];
    memcpy(out, x->dims, sizeof(out));
    for (int32_t i = 1; i < ctx->n_inputs; i++) {
        const eml_tensor *t = &ctx->inputs[i];
        if (t->dtype != x->dtype)
            return eml__infer_error(ctx, EML_ETYPE, "input %d is %s, input 0 %s", (int)i,
                                    eml_dtype_name(t->dtype), eml_dtype_name(x->dtype));
        bool same = t->rank == x->rank;
        for (int d = 0; same && d < x->rank; d++)
            same = d == axis || t->dims[d] == x->dims[d];
        if (!same) {
            char a[160], b[160];
            return eml__infer_error(ctx, EML_ESHAPE, "cannot concatenate %s and %s on axis %lld",
                                    eml__shape_str(a, sizeof(a), x->dtype, x->dims, x->rank),
                                    eml__shape_str(b, sizeof(b), t->dtype, t->dims, t->rank),
                                    (long long)axis);
        }
        if (__builtin_add_overflow(out[axis], t->dims[axis], &out[axis]))
            return eml__infer_error(ctx, EML_ELIMIT, "output too large");
    }
    eml__set_output(ctx, 0, x->dtype, out, x->rank);
    return EML_OK;
}

/* ---- Split ---- */

eml_status eml__split_prepare(eml_prepare_ctx *ctx)
{
    eml_split_params *p = EML_PARAMS(ctx, eml_split_params);
    static const char *const known[] = {"axis", "split", NULL};
    static const char *const v13[] = {"axis", NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset >= 13 ? v13 : known);
    if (st != EML_OK)
        return st;
    if ((st = eml__attr_int(ctx, "axis", 0, &p->axis)) != EML_OK)
        return st;
    int count;
    if ((st = eml__attr_ints(ctx, "split", p->split, EML_MOVEMENT_SPLIT_MAX, &count)) != EML_OK)
        return st;
    p->split_count = count;
    return EML_OK;
}

eml_status eml__split_infer(eml_infer_ctx *ctx)
{
    const eml_split_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t axis;
    if (x->rank == 0 || !eml__norm_axis(p->axis, x->rank, &axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    int32_t n = ctx->n_outputs;
    /* sizes: the attribute (opset < 13), input 1 (opset 1 and 13+), or equal parts */
    const eml_tensor *split = NULL;
    if (p->split_count < 0 && eml__in_present(ctx, 1)) {
        split = &ctx->inputs[1];
        if (!eml__mv_known(ctx, 1)) {
            for (int32_t i = 0; i < n; i++)
                ctx->outputs[i].dtype = x->dtype;
            return EML_EDYNAMIC;
        }
        if (!eml__mv_is_int(split->dtype) && ctx->opset >= 13)
            return eml__infer_error(ctx, EML_ETYPE, "split must be int64");
        if (split->rank > 1 || eml_tensor_count(split) != n)
            return eml__infer_error(ctx, EML_ESHAPE, "split must hold %d values", (int)n);
    } else if (p->split_count >= 0 && p->split_count != n) {
        return eml__infer_error(ctx, EML_ESHAPE, "split has %d values for %d outputs",
                                (int)p->split_count, (int)n);
    }
    int64_t dim = x->dims[axis], total = 0;
    bool sized = split || p->split_count >= 0;
    if (!sized && dim % n != 0)
        return eml__infer_error(ctx, EML_ESHAPE, "axis of size %lld does not split in %d parts",
                                (long long)dim, (int)n);
    for (int32_t i = 0; i < n; i++) {
        int64_t size = dim / n;
        if (split)
            size = eml__tensor_get_i64(split, i);
        else if (sized)
            size = p->split[i];
        if (size < 0 || size > dim - total)
            return eml__infer_error(ctx, EML_ESHAPE, "split sizes do not add up to %lld",
                                    (long long)dim);
        total += size;
        int64_t out[EML_MAX_RANK];
        memcpy(out, x->dims, sizeof(out));
        out[axis] = size;
        eml__set_output(ctx, i, x->dtype, out, x->rank);
    }
    if (total != dim)
        return eml__infer_error(ctx, EML_ESHAPE, "split sizes add up to %lld, not %lld",
                                (long long)total, (long long)dim);
    return EML_OK;
}

/* ---- Slice ---- */

eml_status eml__slice_prepare(eml_prepare_ctx *ctx)
{
    eml_slice_params *p = EML_PARAMS(ctx, eml_slice_params);
    static const char *const known[] = {"starts", "ends", "axes", NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset < 10 ? known : no_attrs);
    if (st != EML_OK || ctx->opset >= 10)
        return st;
    int n_starts, n_ends, n_axes;
    if ((st = eml__attr_ints(ctx, "starts", p->starts, EML_MAX_RANK, &n_starts)) != EML_OK ||
        (st = eml__attr_ints(ctx, "ends", p->ends, EML_MAX_RANK, &n_ends)) != EML_OK ||
        (st = eml__attr_ints(ctx, "axes", p->axes, EML_MAX_RANK, &n_axes)) != EML_OK)
        return st;
    if (n_starts < 0 || n_ends != n_starts)
        return eml__bad_attr(ctx, "attributes 'starts' and 'ends' are required, of equal length");
    p->from_attrs = 1;
    p->count = n_starts;
    p->axes_count = n_axes;
    return EML_OK;
}

eml_status eml__slice_infer(eml_infer_ctx *ctx)
{
    const eml_slice_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (!p->from_attrs) {
        if (!eml__in_present(ctx, 1) || !eml__in_present(ctx, 2))
            return eml__infer_error(ctx, EML_EGRAPH, "inputs starts and ends are required");
        for (int32_t i = 1; i < ctx->n_inputs && i <= 4; i++) {
            if (eml__in_present(ctx, i) && !eml__mv_known(ctx, i))
                return eml__mv_dynamic(ctx, x->dtype);
        }
    }
    eml_slice_plan plan;
    char err[160];
    st = eml__slice_resolve(p, ctx->inputs, ctx->n_inputs, &plan, err, sizeof(err));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", err);
    eml__set_output(ctx, 0, x->dtype, plan.dims, x->rank);
    return EML_OK;
}

/* ---- Gather and GatherElements ---- */

eml_status eml__gather_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"axis", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    return eml__attr_int(ctx, "axis", 0, &EML_PARAMS(ctx, eml_axis_params)->axis);
}

/* Checks data (input 0), indices (input 1) and the axis shared by both gathers. */
static eml_status gather_check(eml_infer_ctx *ctx, int64_t *axis)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *indices = &ctx->inputs[1];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (indices->dtype != EML_DTYPE_I32 && indices->dtype != EML_DTYPE_I64)
        return eml__infer_unsupported(ctx, "indices of type %s", eml_dtype_name(indices->dtype));
    if (x->rank == 0 || !eml__norm_axis(p->axis, x->rank, axis))
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld out of range for rank %d",
                                (long long)p->axis, (int)x->rank);
    return EML_OK;
}

eml_status eml__gather_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0], *indices = &ctx->inputs[1];
    int64_t axis;
    eml_status st = gather_check(ctx, &axis);
    if (st != EML_OK)
        return st;
    int rank = x->rank - 1 + indices->rank;
    if (rank > EML_MAX_RANK)
        return eml__infer_unsupported(ctx, "output rank %d, at most %d supported", rank,
                                      EML_MAX_RANK);
    /* data dims before the axis, the indices' dims, data dims after the axis */
    int64_t out[EML_MAX_RANK];
    int k = 0;
    for (int d = 0; d < axis; d++)
        out[k++] = x->dims[d];
    for (int d = 0; d < indices->rank; d++)
        out[k++] = indices->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++)
        out[k++] = x->dims[d];
    return eml__mv_set_output(ctx, 0, x->dtype, out, rank);
}

eml_status eml__gather_elements_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0], *indices = &ctx->inputs[1];
    int64_t axis;
    eml_status st = gather_check(ctx, &axis);
    if (st != EML_OK)
        return st;
    if (indices->rank != x->rank)
        return eml__infer_error(ctx, EML_ESHAPE, "indices of rank %d for data of rank %d",
                                (int)indices->rank, (int)x->rank);
    /* off the axis, an output element reads data at its own coordinates: they must exist */
    for (int d = 0; d < x->rank; d++) {
        if (d != axis && indices->dims[d] > x->dims[d])
            return eml__infer_error(ctx, EML_ESHAPE,
                                    "indices dim %d is %lld, larger than data's %lld", d,
                                    (long long)indices->dims[d], (long long)x->dims[d]);
    }
    eml__set_output(ctx, 0, x->dtype, indices->dims, indices->rank);
    return EML_OK;
}

/* ---- Tile ---- */

eml_status eml__tile_prepare(eml_prepare_ctx *ctx)
{
    return eml__attr_only(ctx, no_attrs);
}

eml_status eml__tile_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    int64_t repeats[EML_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        repeats[d] = 1;
    if (ctx->opset < 6) {
        /* opset 1: a scalar count of tiles along one scalar axis */
        if (!eml__in_present(ctx, 1) || !eml__in_present(ctx, 2))
            return eml__infer_error(ctx, EML_EGRAPH, "inputs tiles and axis are required");
        if (!eml__mv_known(ctx, 1) || !eml__mv_known(ctx, 2))
            return eml__mv_dynamic(ctx, x->dtype);
        int64_t tiles[1] = {0}, axis[1] = {0}, axis_norm;
        int n_tiles, n_axis;
        if ((st = eml__mv_read_ints(ctx, 1, "tiles", tiles, 1, &n_tiles)) != EML_OK ||
            (st = eml__mv_read_ints(ctx, 2, "axis", axis, 1, &n_axis)) != EML_OK)
            return st;
        if (n_tiles != 1 || n_axis != 1 || !eml__norm_axis(axis[0], x->rank, &axis_norm))
            return eml__infer_error(ctx, EML_ESHAPE, "tiles and axis must be one valid value");
        repeats[axis_norm] = tiles[0];
    } else {
        if (!eml__in_present(ctx, 1))
            return eml__infer_error(ctx, EML_EGRAPH, "the repeats input is required");
        if (!eml__mv_known(ctx, 1))
            return eml__mv_dynamic(ctx, x->dtype);
        int n;
        if ((st = eml__mv_read_ints(ctx, 1, "repeats", repeats, EML_MAX_RANK, &n)) != EML_OK)
            return st;
        if (n != x->rank)
            return eml__infer_error(ctx, EML_ESHAPE, "%d repeats for a rank-%d input", n,
                                    (int)x->rank);
    }
    int64_t out[EML_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (repeats[d] < 0)
            return eml__infer_error(ctx, EML_ESHAPE, "negative repeat %lld", (long long)repeats[d]);
        if (__builtin_mul_overflow(x->dims[d], repeats[d], &out[d]))
            return eml__infer_error(ctx, EML_ELIMIT, "output too large");
    }
    return eml__mv_set_output(ctx, 0, x->dtype, out, x->rank);
}

/* ---- Pad ---- */

eml_status eml__pad_prepare(eml_prepare_ctx *ctx)
{
    eml_pad_params *p = EML_PARAMS(ctx, eml_pad_params);
    static const char *const v1[] = {"mode", "paddings", "value", NULL};
    static const char *const v2[] = {"mode", "pads", "value", NULL};
    static const char *const v11[] = {"mode", NULL};
    eml_status st = eml__attr_only(ctx, ctx->opset >= 11 ? v11 : ctx->opset >= 2 ? v2 : v1);
    if (st != EML_OK)
        return st;
    const char *mode;
    if ((st = eml__attr_string(ctx, "mode", "constant", &mode)) != EML_OK)
        return st;
    if (strcmp(mode, "constant") == 0)
        p->mode = EML_PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = EML_PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = EML_PAD_EDGE;
    else
        return eml__unsupported(ctx, "attribute 'mode' = '%s'", mode);
    if (ctx->opset >= 11)
        return EML_OK;
    const char *name = ctx->opset >= 2 ? "pads" : "paddings";
    int count;
    if ((st = eml__attr_ints(ctx, name, p->pads, 2 * EML_MAX_RANK, &count)) != EML_OK)
        return st;
    if (count < 0)
        return eml__bad_attr(ctx, "attribute '%s' is required", name);
    p->from_attrs = 1;
    p->pads_count = count;
    return eml__attr_float(ctx, "value", 0.0f, &p->value);
}

eml_status eml__pad_infer(eml_infer_ctx *ctx)
{
    const eml_pad_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (!p->from_attrs) {
        if (!eml__in_present(ctx, 1))
            return eml__infer_error(ctx, EML_EGRAPH, "the pads input is required");
        if (eml__in_present(ctx, 2)) {
            const eml_tensor *v = &ctx->inputs[2];
            if (v->dtype != x->dtype || eml_tensor_count(v) > 1)
                return eml__infer_error(ctx, EML_ETYPE, "constant_value must be one %s value",
                                        eml_dtype_name(x->dtype));
        }
        if (!eml__mv_known(ctx, 1))
            return eml__mv_dynamic(ctx, x->dtype);
    }
    int64_t begin[EML_MAX_RANK], end[EML_MAX_RANK], out[EML_MAX_RANK];
    char err[160];
    st = eml__pad_resolve(p, ctx->inputs, ctx->n_inputs, begin, end, err, sizeof(err));
    if (st != EML_OK)
        return eml__infer_error(ctx, st, "%s", err);
    for (int d = 0; d < x->rank; d++)
        out[d] = x->dims[d] + begin[d] + end[d]; /* checked by eml__pad_resolve */
    return eml__mv_set_output(ctx, 0, x->dtype, out, x->rank);
}

/* ---- DepthToSpace and SpaceToDepth ---- */

eml_status eml__depth_space_prepare(eml_prepare_ctx *ctx)
{
    eml_depth_space_params *p = EML_PARAMS(ctx, eml_depth_space_params);
    p->to_space = ctx->op == EML_OP_DepthToSpace;
    static const char *const with_mode[] = {"blocksize", "mode", NULL};
    static const char *const without[] = {"blocksize", NULL};
    eml_status st = eml__attr_only(ctx, p->to_space && ctx->opset >= 11 ? with_mode : without);
    if (st != EML_OK)
        return st;
    if (!eml__node_attr(ctx->node, "blocksize"))
        return eml__bad_attr(ctx, "attribute 'blocksize' is required");
    if ((st = eml__attr_int(ctx, "blocksize", 0, &p->blocksize)) != EML_OK)
        return st;
    /* the cap keeps blocksize^2 and the output dims far from overflow */
    if (p->blocksize < 1 || p->blocksize > (1 << 20))
        return eml__bad_attr(ctx, "blocksize = %lld", (long long)p->blocksize);
    const char *mode;
    if ((st = eml__attr_string(ctx, "mode", "DCR", &mode)) != EML_OK)
        return st;
    if (strcmp(mode, "CRD") == 0)
        p->crd = 1;
    else if (strcmp(mode, "DCR") != 0)
        return eml__unsupported(ctx, "attribute 'mode' = '%s'", mode);
    return EML_OK;
}

eml_status eml__depth_space_infer(eml_infer_ctx *ctx)
{
    const eml_depth_space_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_status st;
    if ((st = eml__mv_check_dtype(ctx, 0)) != EML_OK)
        return st;
    if (x->rank != 4)
        return eml__infer_error(ctx, EML_ESHAPE, "input must be 4-D (NCHW), not rank %d",
                                (int)x->rank);
    int64_t b = p->blocksize, out[4];
    const int64_t *d = x->dims;
    if (p->to_space) {
        if (d[1] % (b * b) != 0)
            return eml__infer_error(ctx, EML_ESHAPE, "channels %lld not divisible by %lld",
                                    (long long)d[1], (long long)(b * b));
        out[0] = d[0];
        out[1] = d[1] / (b * b);
        if (__builtin_mul_overflow(d[2], b, &out[2]) || __builtin_mul_overflow(d[3], b, &out[3]))
            return eml__infer_error(ctx, EML_ELIMIT, "output too large");
    } else {
        if (d[2] % b != 0 || d[3] % b != 0)
            return eml__infer_error(ctx, EML_ESHAPE,
                                    "height %lld and width %lld not divisible "
                                    "by %lld",
                                    (long long)d[2], (long long)d[3], (long long)b);
        out[0] = d[0];
        if (__builtin_mul_overflow(d[1], b * b, &out[1]))
            return eml__infer_error(ctx, EML_ELIMIT, "output too large");
        out[2] = d[2] / b;
        out[3] = d[3] / b;
    }
    return eml__mv_set_output(ctx, 0, x->dtype, out, 4);
}
