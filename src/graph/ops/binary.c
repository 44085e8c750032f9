/* Prepare and infer of the elementwise family: binary ops (with opset < 7 legacy broadcasting),
 * PRelu, variadic Max/Min/Mean/Sum, Where and Expand. */
#include "graph/graph.h"
#include "kernels/ref/binary.h"

/* ---- shared checks ---- */

static eml_status check_count(const eml_infer_ctx *ctx, const int64_t *dims, int rank)
{
    if (eml__shape_count(dims, rank) < 0)
        return eml__infer_error(ctx, EML_ELIMIT, "output has more elements than int64 can count");
    return EML_OK;
}

static eml_status shape_error(const eml_infer_ctx *ctx, const eml_tensor *a, const int64_t *b_dims,
                              int b_rank, eml_dtype b_dtype)
{
    char sa[160], sb[160];
    eml__shape_str(sa, sizeof(sa), a->dtype, a->dims, a->rank);
    eml__shape_str(sb, sizeof(sb), b_dtype, b_dims, b_rank);
    return eml__infer_error(ctx, EML_ESHAPE, "shapes %s and %s do not broadcast", sa, sb);
}

/* ---- binary ops ---- */

static const struct {
    eml_op_id op;
    eml_binary_kind kind;
    bool legacy; /* had the broadcast/axis attributes before opset 7 */
} binary_ops[] = {
    {EML_OP_Add, EML_BINARY_ADD, true},
    {EML_OP_Sub, EML_BINARY_SUB, true},
    {EML_OP_Mul, EML_BINARY_MUL, true},
    {EML_OP_Div, EML_BINARY_DIV, true},
    {EML_OP_Pow, EML_BINARY_POW, true},
    {EML_OP_Mod, EML_BINARY_MOD, false},
    {EML_OP_And, EML_BINARY_AND, true},
    {EML_OP_Or, EML_BINARY_OR, true},
    {EML_OP_Xor, EML_BINARY_XOR, true},
    {EML_OP_Equal, EML_BINARY_EQUAL, true},
    {EML_OP_Greater, EML_BINARY_GREATER, true},
    {EML_OP_GreaterOrEqual, EML_BINARY_GREATER_EQUAL, false},
    {EML_OP_Less, EML_BINARY_LESS, true},
    {EML_OP_LessOrEqual, EML_BINARY_LESS_EQUAL, false},
    {EML_OP_PRelu, EML_BINARY_PRELU, false},
};

eml_status eml__binary_prepare(eml_prepare_ctx *ctx)
{
    eml_binary_params *p = EML_PARAMS(ctx, eml_binary_params);
    size_t i = 0;
    while (i < sizeof(binary_ops) / sizeof(binary_ops[0]) && binary_ops[i].op != ctx->op)
        i++;
    if (i == sizeof(binary_ops) / sizeof(binary_ops[0]))
        return eml__unsupported(ctx, "not a binary op");
    p->kind = binary_ops[i].kind;
    p->mode = EML_BCAST_NUMPY;
    eml_status st;
    if (binary_ops[i].legacy && ctx->opset < 7) {
        /* consumed_inputs (opset 1) was an optimization hint with no effect on results */
        static const char *const known[] = {"broadcast", "axis", "consumed_inputs", NULL};
        if ((st = eml__attr_only(ctx, known)) != EML_OK)
            return st;
        int64_t broadcast;
        if ((st = eml__attr_int(ctx, "broadcast", 0, &broadcast)) != EML_OK)
            return st;
        if (broadcast != 0 && broadcast != 1)
            return eml__bad_attr(ctx, "attribute 'broadcast' = %lld, expected 0 or 1",
                                 (long long)broadcast);
        /* broadcast=1: B broadcasts to A, suffix-aligned or from `axis`. broadcast=0 asks for
         * equal shapes, which numpy broadcasting accepts as well. */
        if (broadcast) {
            p->unidirectional = 1;
            if (eml__node_attr(ctx->node, "axis")) {
                if ((st = eml__attr_int(ctx, "axis", 0, &p->axis)) != EML_OK)
                    return st;
                p->mode = EML_BCAST_AXIS;
            }
        }
        return EML_OK;
    }
    if (ctx->op == EML_OP_Mod) {
        static const char *const known[] = {"fmod", NULL};
        if ((st = eml__attr_only(ctx, known)) != EML_OK)
            return st;
        int64_t fmod_attr;
        if ((st = eml__attr_int(ctx, "fmod", 0, &fmod_attr)) != EML_OK)
            return st;
        if (fmod_attr != 0 && fmod_attr != 1)
            return eml__bad_attr(ctx, "attribute 'fmod' = %lld, expected 0 or 1",
                                 (long long)fmod_attr);
        if (fmod_attr)
            p->kind = EML_BINARY_FMOD;
        return EML_OK;
    }
    if (ctx->op == EML_OP_PRelu) {
        /* the slope broadcasts to X; before opset 7 a 1-D slope meant one value per channel */
        p->unidirectional = 1;
        if (ctx->opset < 7)
            p->mode = EML_BCAST_CHANNEL;
        static const char *const known_v1[] = {"consumed_inputs", NULL};
        static const char *const none[] = {NULL};
        return eml__attr_only(ctx, ctx->opset < 6 ? known_v1 : none);
    }
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, none);
}

static bool kind_gives_bool(eml_binary_kind kind)
{
    switch (kind) {
    case EML_BINARY_AND:
    case EML_BINARY_OR:
    case EML_BINARY_XOR:
    case EML_BINARY_EQUAL:
    case EML_BINARY_GREATER:
    case EML_BINARY_GREATER_EQUAL:
    case EML_BINARY_LESS:
    case EML_BINARY_LESS_EQUAL:
        return true;
    default:
        return false;
    }
}

eml_status eml__binary_infer(eml_infer_ctx *ctx)
{
    const eml_binary_params *p = ctx->params;
    eml_binary_kind kind = (eml_binary_kind)p->kind;
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (kind != EML_BINARY_POW && a->dtype != b->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "inputs have different types %s and %s",
                                eml_dtype_name(a->dtype), eml_dtype_name(b->dtype));
    if (!eml__binary_supported(kind, a->dtype, b->dtype)) {
        if (kind == EML_BINARY_POW)
            return eml__infer_unsupported(ctx, "input types %s and %s", eml_dtype_name(a->dtype),
                                          eml_dtype_name(b->dtype));
        return eml__infer_unsupported(ctx, "input type %s", eml_dtype_name(a->dtype));
    }
    int64_t b_dims[EML_MAX_RANK], out[EML_MAX_RANK];
    int b_rank, rank;
    if (eml__binary_align(p, a, b, b_dims, &b_rank) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE, "axis %lld does not fit B of rank %d in A of "
                                "rank %d", (long long)p->axis, (int)b->rank, (int)a->rank);
    if (eml__broadcast_shape(a->dims, a->rank, b_dims, b_rank, out, &rank) != EML_OK)
        return shape_error(ctx, a, b->dims, b->rank, b->dtype);
    if (p->unidirectional) {
        bool same = rank == a->rank;
        for (int d = 0; same && d < rank; d++)
            same = out[d] == a->dims[d];
        if (!same)
            return shape_error(ctx, a, b->dims, b->rank, b->dtype);
    }
    eml_status st = check_count(ctx, out, rank);
    if (st != EML_OK)
        return st;
    eml__set_output(ctx, 0, kind_gives_bool(kind) ? EML_DTYPE_BOOL : a->dtype, out, rank);
    return EML_OK;
}

/* ---- Max, Min, Sum, Mean ---- */

eml_status eml__variadic_prepare(eml_prepare_ctx *ctx)
{
    eml_variadic_params *p = EML_PARAMS(ctx, eml_variadic_params);
    switch (ctx->op) {
    case EML_OP_Max: p->kind = EML_BINARY_MAX; break;
    case EML_OP_Min: p->kind = EML_BINARY_MIN; break;
    case EML_OP_Sum: p->kind = EML_BINARY_ADD; break;
    case EML_OP_Mean:
        p->kind = EML_BINARY_ADD;
        p->mean = 1;
        break;
    default: return eml__unsupported(ctx, "not a variadic op");
    }
    static const char *const known_v1[] = {"consumed_inputs", NULL};
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, ctx->opset < 6 ? known_v1 : none);
}

static bool is_float_dtype(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

eml_status eml__variadic_infer(eml_infer_ctx *ctx)
{
    const eml_variadic_params *p = ctx->params;
    if (ctx->n_inputs < 1)
        return eml__infer_error(ctx, EML_EGRAPH, "needs at least one input");
    eml_dtype dt = ctx->inputs[0].dtype;
    /* Sum is listed for floats only; integers cost nothing more and add exactly. Mean divides,
     * so it stays with floats. */
    bool ok = p->mean ? is_float_dtype(dt)
                      : eml__binary_supported((eml_binary_kind)p->kind, dt, dt);
    if (!ok)
        return eml__infer_unsupported(ctx, "input type %s", eml_dtype_name(dt));
    int64_t out[EML_MAX_RANK];
    int rank = ctx->inputs[0].rank;
    for (int d = 0; d < rank; d++)
        out[d] = ctx->inputs[0].dims[d];
    for (int32_t k = 1; k < ctx->n_inputs; k++) {
        const eml_tensor *t = &ctx->inputs[k];
        if (t->dtype != dt)
            return eml__infer_error(ctx, EML_ETYPE, "input %d has type %s, input 0 %s", (int)k,
                                    eml_dtype_name(t->dtype), eml_dtype_name(dt));
        eml_tensor so_far = {.dtype = dt, .rank = rank};
        for (int d = 0; d < rank; d++)
            so_far.dims[d] = out[d];
        if (eml__broadcast_shape(so_far.dims, rank, t->dims, t->rank, out, &rank) != EML_OK)
            return shape_error(ctx, &so_far, t->dims, t->rank, t->dtype);
    }
    eml_status st = check_count(ctx, out, rank);
    if (st != EML_OK)
        return st;
    eml__set_output(ctx, 0, dt, out, rank);
    return EML_OK;
}

/* ---- Where ---- */

eml_status eml__where_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, none);
}

eml_status eml__where_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *c = &ctx->inputs[0], *x = &ctx->inputs[1], *y = &ctx->inputs[2];
    if (c->dtype != EML_DTYPE_BOOL)
        return eml__infer_unsupported(ctx, "condition of type %s (bool expected)",
                                      eml_dtype_name(c->dtype));
    if (!eml_dtype_is_supported(x->dtype))
        return eml__infer_unsupported(ctx, "input type %s", eml_dtype_name(x->dtype));
    if (x->dtype != y->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "X has type %s, Y %s", eml_dtype_name(x->dtype),
                                eml_dtype_name(y->dtype));
    int64_t cx[EML_MAX_RANK], out[EML_MAX_RANK];
    int rcx, rank;
    if (eml__broadcast_shape(c->dims, c->rank, x->dims, x->rank, cx, &rcx) != EML_OK)
        return shape_error(ctx, c, x->dims, x->rank, x->dtype);
    if (eml__broadcast_shape(cx, rcx, y->dims, y->rank, out, &rank) != EML_OK) {
        eml_tensor so_far = {.dtype = x->dtype, .rank = rcx};
        memcpy(so_far.dims, cx, sizeof(int64_t) * (size_t)rcx);
        return shape_error(ctx, &so_far, y->dims, y->rank, y->dtype);
    }
    eml_status st = check_count(ctx, out, rank);
    if (st != EML_OK)
        return st;
    eml__set_output(ctx, 0, x->dtype, out, rank);
    return EML_OK;
}

/* ---- Expand ---- */

eml_status eml__expand_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, none);
}

eml_status eml__expand_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0], *shape = &ctx->inputs[1];
    if (!eml_dtype_is_supported(x->dtype))
        return eml__infer_unsupported(ctx, "input type %s", eml_dtype_name(x->dtype));
    if (shape->dtype != EML_DTYPE_I64)
        return eml__infer_unsupported(ctx, "shape of type %s (int64 expected)",
                                      eml_dtype_name(shape->dtype));
    if (shape->rank != 1)
        return eml__infer_error(ctx, EML_ESHAPE, "shape has rank %d, expected 1", (int)shape->rank);
    if (shape->dims[0] > EML_MAX_RANK)
        return eml__infer_unsupported(ctx, "output rank %lld (at most %d supported)",
                                      (long long)shape->dims[0], EML_MAX_RANK);
    ctx->outputs[0].dtype = x->dtype;
    eml_status st = eml__infer_need_data(ctx, 1);
    if (st != EML_OK)
        return st;
    int64_t want[EML_MAX_RANK], out[EML_MAX_RANK];
    int n = (int)shape->dims[0], rank;
    for (int d = 0; d < n; d++) {
        want[d] = eml__tensor_get_i64(shape, d);
        if (want[d] < 0)
            return eml__infer_error(ctx, EML_ESHAPE, "shape[%d] = %lld is negative", d,
                                    (long long)want[d]);
    }
    if (eml__broadcast_shape(x->dims, x->rank, want, n, out, &rank) != EML_OK)
        return shape_error(ctx, x, want, n, shape->dtype);
    if ((st = check_count(ctx, out, rank)) != EML_OK)
        return st;
    eml__set_output(ctx, 0, x->dtype, out, rank);
    return EML_OK;
}
