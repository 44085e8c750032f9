/* Prepare and infer for Gemm, MatMul, MatMulInteger and QLinearMatMul (ONNX opsets 1-17). */
#include "graph/graph.h"
#include "kernels/ref/matmul.h"

static bool gemm_dtype_ok(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16:
    case EML_DTYPE_F32:
    case EML_DTYPE_F64:
    case EML_DTYPE_I32:
    case EML_DTYPE_I64:
    case EML_DTYPE_U32:
    case EML_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

static bool q8_dtype(eml_dtype dt)
{
    return dt == EML_DTYPE_U8 || dt == EML_DTYPE_I8;
}

/* a*b*c*d saturating at UINT64_MAX (macs are a statistic, not a size). */
static uint64_t macs_of(int64_t a, int64_t b, int64_t c, int64_t d)
{
    uint64_t r = 1;
    int64_t f[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        if (eml__mul_overflow(r, (uint64_t)EML_MAX(f[i], 0), &r))
            return UINT64_MAX;
    }
    return r;
}

static char *shape_of(const eml_tensor *t, char *buf, size_t cap)
{
    eml__shape_str(buf, cap, t->dtype, t->dims, t->rank);
    return buf;
}

/* ---- Gemm ---- */

eml_status eml__gemm_prepare(eml_prepare_ctx *ctx)
{
    static const char *const legacy[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    static const char *const current[] = {"alpha", "beta", "transA", "transB", NULL};
    eml_gemm_params *p = EML_PARAMS(ctx, eml_gemm_params);
    eml_status st;
    int64_t ta, tb, broadcast;
    /* before opset 7 `broadcast` switched C's broadcasting on; unidirectional broadcasting of a
     * C that already matches is the same computation, so both values are taken */
    EML_TRY(eml__attr_only(ctx, ctx->opset < 7 ? legacy : current));
    EML_TRY(eml__attr_float(ctx, "alpha", 1.0f, &p->alpha));
    EML_TRY(eml__attr_float(ctx, "beta", 1.0f, &p->beta));
    EML_TRY(eml__attr_int(ctx, "transA", 0, &ta));
    EML_TRY(eml__attr_int(ctx, "transB", 0, &tb));
    EML_TRY(eml__attr_int(ctx, "broadcast", 0, &broadcast));
    if (ta != 0 && ta != 1)
        return eml__bad_attr(ctx, "transA = %lld, expected 0 or 1", (long long)ta);
    if (tb != 0 && tb != 1)
        return eml__bad_attr(ctx, "transB = %lld, expected 0 or 1", (long long)tb);
    if (broadcast != 0 && broadcast != 1)
        return eml__bad_attr(ctx, "broadcast = %lld, expected 0 or 1", (long long)broadcast);
    p->trans_a = (int32_t)ta;
    p->trans_b = (int32_t)tb;
    return EML_OK;
fail:
    return st;
}

eml_status eml__gemm_infer(eml_infer_ctx *ctx)
{
    const eml_gemm_params *p = ctx->params;
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    char s1[96], s2[96];
    if (!gemm_dtype_ok(a->dtype))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "A is %s but B is %s", eml_dtype_name(a->dtype),
                                eml_dtype_name(b->dtype));
    if (a->rank != 2 || b->rank != 2)
        return eml__infer_error(ctx, EML_ESHAPE, "A %s and B %s must be matrices",
                                shape_of(a, s1, sizeof(s1)), shape_of(b, s2, sizeof(s2)));
    int64_t m = p->trans_a ? a->dims[1] : a->dims[0];
    int64_t k = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0];
    int64_t n = p->trans_b ? b->dims[0] : b->dims[1];
    if (k != kb)
        return eml__infer_error(ctx, EML_ESHAPE,
                                "A %s (transA=%d) and B %s (transB=%d) differ in K",
                                shape_of(a, s1, sizeof(s1)), (int)p->trans_a,
                                shape_of(b, s2, sizeof(s2)), (int)p->trans_b);
    if (eml__in_present(ctx, 2)) {
        const eml_tensor *c = &ctx->inputs[2];
        if (c->dtype != a->dtype)
            return eml__infer_error(ctx, EML_ETYPE, "C is %s, A is %s", eml_dtype_name(c->dtype),
                                    eml_dtype_name(a->dtype));
        bool ok = c->rank <= 2;
        if (c->rank == 2)
            ok = (c->dims[0] == 1 || c->dims[0] == m) && (c->dims[1] == 1 || c->dims[1] == n);
        else if (c->rank == 1)
            ok = c->dims[0] == 1 || c->dims[0] == n;
        if (!ok)
            return eml__infer_error(ctx, EML_ESHAPE, "C %s does not broadcast to [%lld,%lld]",
                                    shape_of(c, s1, sizeof(s1)), (long long)m, (long long)n);
    }
    int64_t dims[2] = {m, n};
    if (eml__shape_count(dims, 2) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output [%lld,%lld] is too large", (long long)m,
                                (long long)n);
    eml__set_output(ctx, 0, a->dtype, dims, 2);
    ctx->scratch_bytes = eml__ref_matmul_scratch_bytes(a->dtype, m, n, k);
    ctx->macs = macs_of(m, n, k, 1);
    return EML_OK;
}

/* ---- MatMul family ---- */

eml_status eml__matmul_prepare(eml_prepare_ctx *ctx)
{
    static const char *const none[] = {NULL};
    return eml__attr_only(ctx, none);
}

/* Binds A and B, sets output 0 to dtype with the matmul shape. */
static eml_status bind_matmul(eml_infer_ctx *ctx, int ia, int ib, eml_dtype out_dtype,
                              eml_matmul_shape *s)
{
    const eml_tensor *a = &ctx->inputs[ia], *b = &ctx->inputs[ib];
    char s1[96], s2[96];
    if (eml__matmul_shape(a, b, s) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE, "shapes %s and %s do not multiply",
                                shape_of(a, s1, sizeof(s1)), shape_of(b, s2, sizeof(s2)));
    if (eml__shape_count(s->out_dims, s->out_rank) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output of %s by %s is too large",
                                shape_of(a, s1, sizeof(s1)), shape_of(b, s2, sizeof(s2)));
    eml__set_output(ctx, 0, out_dtype, s->out_dims, s->out_rank);
    ctx->macs = macs_of(s->batch_count, s->m, s->n, s->k);
    return EML_OK;
}

eml_status eml__matmul_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!gemm_dtype_ok(a->dtype))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return eml__infer_error(ctx, EML_ETYPE, "A is %s but B is %s", eml_dtype_name(a->dtype),
                                eml_dtype_name(b->dtype));
    eml_matmul_shape s;
    eml_status st = bind_matmul(ctx, 0, 1, a->dtype, &s);
    if (st == EML_OK)
        ctx->scratch_bytes = eml__ref_matmul_scratch_bytes(a->dtype, s.m, s.n, s.k);
    return st;
}

/* Checks the dtype and shape of a zero point or scale (input i) of A (a_side) or of B. */
static eml_status check_qparam(eml_infer_ctx *ctx, const eml_matmul_shape *s, int i, bool a_side,
                               eml_dtype dtype, const char *what)
{
    const eml_tensor *p = &ctx->inputs[i];
    char s1[96];
    if (p->dtype != dtype)
        return eml__infer_error(ctx, EML_ETYPE, "%s is %s, expected %s", what,
                                eml_dtype_name(p->dtype), eml_dtype_name(dtype));
    eml_matmul_qparam q;
    if (eml__matmul_qparam(s, p, a_side, &q) != EML_OK)
        return eml__infer_error(ctx, EML_ESHAPE, "%s %s is neither per tensor nor per %s", what,
                                shape_of(p, s1, sizeof(s1)), a_side ? "row" : "column");
    return EML_OK;
}

eml_status eml__matmul_integer_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!q8_dtype(a->dtype) || !q8_dtype(b->dtype))
        return eml__infer_unsupported(ctx, "input dtypes %s and %s", eml_dtype_name(a->dtype),
                                      eml_dtype_name(b->dtype));
    eml_matmul_shape s;
    eml_status st = bind_matmul(ctx, 0, 1, EML_DTYPE_I32, &s);
    if (st == EML_OK && eml__in_present(ctx, 2))
        st = check_qparam(ctx, &s, 2, true, a->dtype, "a_zero_point");
    if (st == EML_OK && eml__in_present(ctx, 3))
        st = check_qparam(ctx, &s, 3, false, b->dtype, "b_zero_point");
    if (st == EML_OK)
        ctx->scratch_bytes = eml__ref_matmul_integer_scratch_bytes(s.m, s.n, s.k, false);
    return st;
}

eml_status eml__qlinear_matmul_infer(eml_infer_ctx *ctx)
{
    const eml_tensor *in = ctx->inputs;
    for (int i = 0; i < 8; i++) {
        if (!eml__in_present(ctx, i))
            return eml__infer_error(ctx, EML_EGRAPH, "input %d is missing", i);
    }
    if (!q8_dtype(in[0].dtype) || !q8_dtype(in[3].dtype) || !q8_dtype(in[7].dtype))
        return eml__infer_unsupported(ctx, "dtypes a %s, b %s, y %s", eml_dtype_name(in[0].dtype),
                                      eml_dtype_name(in[3].dtype), eml_dtype_name(in[7].dtype));
    eml_matmul_shape s;
    eml_status st = bind_matmul(ctx, 0, 3, in[7].dtype, &s);
    if (st == EML_OK)
        st = check_qparam(ctx, &s, 1, true, EML_DTYPE_F32, "a_scale");
    if (st == EML_OK)
        st = check_qparam(ctx, &s, 2, true, in[0].dtype, "a_zero_point");
    if (st == EML_OK)
        st = check_qparam(ctx, &s, 4, false, EML_DTYPE_F32, "b_scale");
    if (st == EML_OK)
        st = check_qparam(ctx, &s, 5, false, in[3].dtype, "b_zero_point");
    if (st != EML_OK)
        return st;
    if (in[6].dtype != EML_DTYPE_F32)
        return eml__infer_error(ctx, EML_ETYPE, "y_scale is %s, expected float32",
                                eml_dtype_name(in[6].dtype));
    if (eml_tensor_count(&in[6]) != 1 || eml_tensor_count(&in[7]) != 1)
        return eml__infer_unsupported(ctx, "y_scale and y_zero_point other than per tensor");
    ctx->scratch_bytes = eml__ref_matmul_integer_scratch_bytes(s.m, s.n, s.k, true);
    return EML_OK;
}
