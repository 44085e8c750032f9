/* Reference matrix products in plain C: MatMul, Gemm, MatMulInteger and QLinearMatMul. */
#include <math.h>

#include "kernels/ref/matmul.h"

/* ---- shapes ---- */

eml_status eml__matmul_shape(const eml_tensor *a, const eml_tensor *b, eml_matmul_shape *out)
{
    memset(out, 0, sizeof(*out));
    int ra = a->rank, rb = b->rank;
    if (ra < 1 || rb < 1)
        return EML_ESHAPE;
    /* numpy promotes a 1-D A to [1, K] and a 1-D B to [K, 1], then drops the added dim */
    int64_t m = ra >= 2 ? a->dims[ra - 2] : 1;
    int64_t ka = a->dims[ra - 1];
    int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
    int64_t n = rb >= 2 ? b->dims[rb - 1] : 1;
    if (ka != kb || m < 0 || n < 0 || ka < 0)
        return EML_ESHAPE;
    int ba = ra >= 2 ? ra - 2 : 0, bb = rb >= 2 ? rb - 2 : 0;
    int nb = EML_MAX(ba, bb);
    int64_t sa = m * ka, sb = kb * n;
    uint64_t count = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ba), ib = i - (nb - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if ((da != db && da != 1 && db != 1) || da < 0 || db < 0)
            return EML_ESHAPE;
        int64_t d = da == 1 ? db : da;
        out->batch_dims[i] = d;
        out->a_batch_strides[i] = da == 1 ? 0 : sa;
        out->b_batch_strides[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        if (eml__mul_overflow(count, (uint64_t)d, &count) || count > (uint64_t)INT64_MAX)
            return EML_ESHAPE;
    }
    out->m = m;
    out->n = n;
    out->k = ka;
    out->n_batch = nb;
    out->batch_count = (int64_t)count;
    int r = 0;
    for (int i = 0; i < nb; i++)
        out->out_dims[r++] = out->batch_dims[i];
    if (ra >= 2)
        out->out_dims[r++] = m;
    if (rb >= 2)
        out->out_dims[r++] = n;
    out->out_rank = r;
    return EML_OK;
}

eml_status eml__matmul_qparam(const eml_matmul_shape *s, const eml_tensor *p, bool a_side,
                              eml_matmul_qparam *out)
{
    memset(out, 0, sizeof(*out));
    if (eml_tensor_count(p) == 1)
        return EML_OK;
    int64_t vec = a_side ? s->m : s->n;
    if (p->rank == 1) {
        if (p->dims[0] != vec)
            return EML_ESHAPE;
        out->vec_stride = 1;
        return EML_OK;
    }
    if (p->rank < 2 || p->rank - 2 > s->n_batch)
        return EML_ESHAPE;
    int64_t rows = p->dims[p->rank - 2], cols = p->dims[p->rank - 1];
    int64_t along = a_side ? rows : cols, across = a_side ? cols : rows;
    if (across != 1 || (along != 1 && along != vec))
        return EML_ESHAPE;
    out->vec_stride = along == 1 ? 0 : 1;
    int64_t stride = along;
    int pb = p->rank - 2;
    for (int i = pb - 1; i >= 0; i--) {
        int ob = i + (s->n_batch - pb);
        int64_t d = p->dims[i];
        if (d != 1 && d != s->batch_dims[ob])
            return EML_ESHAPE;
        out->batch_strides[ob] = d == 1 ? 0 : stride;
        stride *= d;
    }
    return EML_OK;
}

size_t eml__ref_matmul_scratch_bytes(eml_dtype dtype, int64_t m, int64_t n, int64_t k)
{
    /* half types are widened to float32 one matrix at a time */
    if (dtype == EML_DTYPE_F16 || dtype == EML_DTYPE_BF16)
        return (size_t)(m * k + k * n + m * n) * sizeof(float);
    return 0;
}

size_t eml__ref_matmul_integer_scratch_bytes(int64_t m, int64_t n, int64_t k, bool qlinear)
{
    /* operands minus their zero points as int32, and for QLinearMatMul the int32 accumulators */
    return (size_t)(m * k + k * n + (qlinear ? m * n : 0)) * sizeof(int32_t);
}

/* Offsets of batch `index` in A, B and a list of quantization parameters. */
static void batch_offsets(const eml_matmul_shape *s, int64_t index, int64_t *a_off,
                          int64_t *b_off, const eml_matmul_qparam *q, int64_t *q_off, int n_q)
{
    *a_off = 0;
    *b_off = 0;
    for (int j = 0; j < n_q; j++)
        q_off[j] = 0;
    for (int i = s->n_batch - 1; i >= 0; i--) {
        int64_t d = s->batch_dims[i];
        int64_t idx = d > 0 ? index % d : 0;
        index = d > 0 ? index / d : 0;
        *a_off += idx * s->a_batch_strides[i];
        *b_off += idx * s->b_batch_strides[i];
        for (int j = 0; j < n_q; j++)
            q_off[j] += idx * q[j].batch_strides[i];
    }
}

/* ---- the row loops, one per computing type ---- */

/* Geometry of one matrix product: Y[M,N] (dense rows) = A'[M,K] B'[K,N], with A' and B' read
 * through strides so that Gemm's transposes need no copy. */
typedef struct mm_geom {
    int64_t n, k;
    int64_t a_rs, a_cs;   /* A'(i, kk) = a[i * a_rs + kk * a_cs] */
    int64_t b_rs, b_cs;   /* B'(kk, j) = b[kk * b_rs + j * b_cs] */
} mm_geom;

typedef void (*mm_rows_fn)(const void *a, const void *b, void *y, int64_t r0, int64_t r1,
                           const mm_geom *g);

/* T: element type; U: the type the arithmetic runs in (unsigned for integers, so that overflow
 * wraps as ONNX Runtime's does instead of being undefined). When B's rows are contiguous the
 * i-k-j order streams B and Y rows (cache friendly). Otherwise (Gemm with transB, as pytorch's
 * Linear exports) each output is a dot product of two rows contiguous in k. Both inner loops are
 * unrolled by 8 with `restrict` operands, so that the compiler's straight-line vectorizer makes
 * SIMD of them even at -O2 (GCC's loop vectorizer stays off there); the dot product keeps 8
 * partial sums, a fixed order whatever the thread count. */
#define EML_MM_ROWS(name, T, U)                                                                    \
    static void name##_axpy(T *restrict y, const T *restrict x, U a, int64_t n)                  \
    {                                                                                              \
        int64_t j = 0;                                                                             \
        for (; j + 8 <= n; j += 8) {                                                               \
            for (int u = 0; u < 8; u++)                                                            \
                y[j + u] = (T)((U)y[j + u] + a * (U)x[j + u]);                                     \
        }                                                                                          \
        for (; j < n; j++)                                                                         \
            y[j] = (T)((U)y[j] + a * (U)x[j]);                                                     \
    }                                                                                              \
    static U name##_dot(const T *restrict x, const T *restrict w, int64_t n)                      \
    {                                                                                              \
        U part[8] = {0};                                                                           \
        int64_t j = 0;                                                                             \
        for (; j + 8 <= n; j += 8) {                                                               \
            for (int u = 0; u < 8; u++)                                                            \
                part[u] += (U)x[j + u] * (U)w[j + u];                                              \
        }                                                                                          \
        U acc = ((part[0] + part[4]) + (part[1] + part[5])) +                                     \
                ((part[2] + part[6]) + (part[3] + part[7]));                                       \
        for (; j < n; j++)                                                                         \
            acc += (U)x[j] * (U)w[j];                                                              \
        return acc;                                                                                \
    }                                                                                              \
    static void name(const void *a_, const void *b_, void *y_, int64_t r0, int64_t r1,            \
                     const mm_geom *g)                                                             \
    {                                                                                              \
        const T *a = a_;                                                                           \
        const T *b = b_;                                                                           \
        T *y = y_;                                                                                 \
        const int64_t n = g->n, k = g->k;                                                          \
        for (int64_t i = r0; i < r1; i++) {                                                        \
            T *yr = y + i * n;                                                                     \
            const T *ar = a + i * g->a_rs;                                                         \
            if (g->b_cs == 1) {                                                                    \
                for (int64_t j = 0; j < n; j++)                                                    \
                    yr[j] = (T)0;                                                                  \
                for (int64_t kk = 0; kk < k; kk++)                                                 \
                    name##_axpy(yr, b + kk * g->b_rs, (U)ar[kk * g->a_cs], n);                     \
            } else if (g->a_cs == 1 && g->b_rs == 1) {                                             \
                for (int64_t j = 0; j < n; j++)                                                    \
                    yr[j] = (T)name##_dot(ar, b + j * g->b_cs, k);                                 \
            } else {                                                                               \
                for (int64_t j = 0; j < n; j++) {                                                  \
                    const T *bc = b + j * g->b_cs;                                                 \
                    U acc = (U)0;                                                                  \
                    for (int64_t kk = 0; kk < k; kk++)                                             \
                        acc += (U)ar[kk * g->a_cs] * (U)bc[kk * g->b_rs];                          \
                    yr[j] = (T)acc;                                                                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

EML_MM_ROWS(mm_rows_f32, float, float)
EML_MM_ROWS(mm_rows_f64, double, double)
EML_MM_ROWS(mm_rows_i32, int32_t, uint32_t)
EML_MM_ROWS(mm_rows_i64, int64_t, uint64_t)
EML_MM_ROWS(mm_rows_u32, uint32_t, uint32_t)
EML_MM_ROWS(mm_rows_u64, uint64_t, uint64_t)

static mm_rows_fn mm_rows_for(eml_dtype dtype)
{
    switch (dtype) {
    case EML_DTYPE_F32: return mm_rows_f32;
    case EML_DTYPE_F64: return mm_rows_f64;
    case EML_DTYPE_I32: return mm_rows_i32;
    case EML_DTYPE_I64: return mm_rows_i64;
    case EML_DTYPE_U32: return mm_rows_u32;
    case EML_DTYPE_U64: return mm_rows_u64;
    default: return NULL;
    }
}

/* ---- splitting rows over the pool (independent outputs only, so results never depend on the
 * thread count) ---- */

typedef struct mm_job {
    mm_rows_fn rows;
    size_t elem_bytes;
    const char *a, *b;
    char *y;
    mm_geom g;
    int64_t m;
    const eml_matmul_shape *shape;  /* NULL: a single matrix product */
    int64_t rows_per_task, blocks_per_batch;
} mm_job;

static void mm_task(void *ctx, size_t index)
{
    const mm_job *j = ctx;
    int64_t batch = (int64_t)index / j->blocks_per_batch;
    int64_t r0 = ((int64_t)index % j->blocks_per_batch) * j->rows_per_task;
    int64_t r1 = EML_MIN(r0 + j->rows_per_task, j->m);
    int64_t a_off = 0, b_off = 0;
    if (j->shape)
        batch_offsets(j->shape, batch, &a_off, &b_off, NULL, NULL, 0);
    int64_t y_off = batch * j->m * j->g.n;
    j->rows(j->a + (size_t)a_off * j->elem_bytes, j->b + (size_t)b_off * j->elem_bytes,
            j->y + (size_t)y_off * j->elem_bytes, r0, r1, &j->g);
}

static void mm_run(mm_job *j, int64_t n_batch, eml_pool *pool)
{
    if (j->m <= 0 || n_batch <= 0)
        return;
    /* at least ~64k multiply-adds per task, so that small products stay on one thread */
    int64_t per_row = EML_MAX(j->g.n * j->g.k, 1);
    j->rows_per_task = EML_MIN(EML_MAX(65536 / per_row, 1), j->m);
    j->blocks_per_batch = (j->m + j->rows_per_task - 1) / j->rows_per_task;
    eml__pool_run(pool, (size_t)(n_batch * j->blocks_per_batch), mm_task, j);
}

static float half_get(eml_dtype dtype, const uint16_t *p, int64_t i)
{
    return dtype == EML_DTYPE_F16 ? eml_f16_to_f32(p[i]) : eml_bf16_to_f32(p[i]);
}

static uint16_t half_put(eml_dtype dtype, float v)
{
    return dtype == EML_DTYPE_F16 ? eml_f32_to_f16(v) : eml_f32_to_bf16(v);
}

static void widen_half(eml_dtype dtype, const uint16_t *src, float *dst, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        dst[i] = half_get(dtype, src, i);
}

/* ---- MatMul ---- */

eml_status eml__ref_matmul(const eml_kernel_ctx *ctx)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    eml_tensor *y = &ctx->outputs[0];
    eml_matmul_shape s;
    if (eml__matmul_shape(a, b, &s) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "MatMul: shapes changed after infer");
    mm_job j = {0};
    j.g = (mm_geom){.n = s.n, .k = s.k, .a_rs = s.k, .a_cs = 1, .b_rs = s.n, .b_cs = 1};
    j.m = s.m;
    j.rows = mm_rows_for(a->dtype);
    if (j.rows) {
        j.elem_bytes = eml_dtype_size(a->dtype);
        j.a = a->data;
        j.b = b->data;
        j.y = y->data;
        j.shape = &s;
        mm_run(&j, s.batch_count, ctx->pool);
        return EML_OK;
    }
    if (a->dtype != EML_DTYPE_F16 && a->dtype != EML_DTYPE_BF16)
        return eml__diag(ctx->diag, EML_EINTERNAL, "MatMul: dtype %s", eml_dtype_name(a->dtype));
    float *sa = ctx->scratch, *sb = sa + s.m * s.k, *sy = sb + s.k * s.n;
    j.rows = mm_rows_f32;
    j.elem_bytes = sizeof(float);
    j.a = (const char *)sa;
    j.b = (const char *)sb;
    j.y = (char *)sy;
    for (int64_t bi = 0; bi < s.batch_count; bi++) {
        int64_t a_off, b_off;
        batch_offsets(&s, bi, &a_off, &b_off, NULL, NULL, 0);
        widen_half(a->dtype, (const uint16_t *)a->data + a_off, sa, s.m * s.k);
        widen_half(a->dtype, (const uint16_t *)b->data + b_off, sb, s.k * s.n);
        mm_run(&j, 1, ctx->pool);
        uint16_t *yo = (uint16_t *)y->data + bi * s.m * s.n;
        for (int64_t i = 0; i < s.m * s.n; i++)
            yo[i] = half_put(a->dtype, sy[i]);
    }
    return EML_OK;
}

/* ---- Gemm ---- */

/* Stores a double into an integer element, saturating (a plain cast out of range is undefined). */
static void int_put_sat(eml_tensor *t, int64_t i, double v)
{
    double lo, hi;
    switch (t->dtype) {
    case EML_DTYPE_I32: lo = -2147483648.0, hi = 2147483647.0; break;
    case EML_DTYPE_U32: lo = 0.0, hi = 4294967295.0; break;
    case EML_DTYPE_I64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
    default: lo = 0.0, hi = 18446744073709549568.0; break;
    }
    if (!(v >= lo))
        v = lo;   /* NaN too */
    if (v > hi)
        v = hi;
    switch (t->dtype) {
    case EML_DTYPE_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case EML_DTYPE_U32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    case EML_DTYPE_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    default: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
    }
}

/* Stores the low bits of v (wrapping like the products themselves). */
static void int_put_wrap(eml_tensor *t, int64_t i, uint64_t v)
{
    switch (t->dtype) {
    case EML_DTYPE_I32: ((int32_t *)t->data)[i] = (int32_t)(uint32_t)v; break;
    case EML_DTYPE_U32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    case EML_DTYPE_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    default: ((uint64_t *)t->data)[i] = v; break;
    }
}

/* Y = alpha * acc + beta * C with C broadcast through (c_rs, c_cs); acc is already in Y for
 * float32/float64/integers and in float32 scratch for half types. */
static void gemm_epilogue(const eml_gemm_params *p, eml_tensor *y, const float *acc_f32,
                          const eml_tensor *c, int64_t m, int64_t n)
{
    int64_t c_rs = 0, c_cs = 0;
    bool has_c = c != NULL && p->beta != 0.0f;
    if (has_c && c->rank == 2) {
        c_rs = c->dims[0] == 1 ? 0 : c->dims[1];
        c_cs = c->dims[1] == 1 ? 0 : 1;
    } else if (has_c && c->rank == 1) {
        c_cs = c->dims[0] == 1 ? 0 : 1;
    }
    const float alpha = p->alpha, beta = p->beta;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t yi = i * n + j, ci = i * c_rs + j * c_cs;
            switch (y->dtype) {
            case EML_DTYPE_F32: {
                float *yp = (float *)y->data + yi;
                float v = alpha * *yp;
                if (has_c)
                    v += beta * (float)eml__tensor_get_f64(c, ci);
                *yp = v;
                break;
            }
            case EML_DTYPE_F64: {
                double *yp = (double *)y->data + yi;
                double v = (double)alpha * *yp;
                if (has_c)
                    v += (double)beta * eml__tensor_get_f64(c, ci);
                *yp = v;
                break;
            }
            case EML_DTYPE_F16:
            case EML_DTYPE_BF16: {
                float v = alpha * acc_f32[yi];
                if (has_c)
                    v += beta * (float)eml__tensor_get_f64(c, ci);
                ((uint16_t *)y->data)[yi] = half_put(y->dtype, v);
                break;
            }
            default: {
                int64_t acc = eml__tensor_get_i64(y, yi);
                int64_t cv = has_c ? eml__tensor_get_i64(c, ci) : 0;
                if (alpha == 1.0f && (!has_c || beta == 1.0f))
                    int_put_wrap(y, yi, (uint64_t)acc + (uint64_t)cv);
                else if (y->dtype == EML_DTYPE_U64)
                    int_put_sat(y, yi, (double)alpha * (double)(uint64_t)acc +
                                           (double)beta * (double)(uint64_t)cv);
                else
                    int_put_sat(y, yi, (double)alpha * (double)acc + (double)beta * (double)cv);
                break;
            }
            }
        }
    }
}

eml_status eml__ref_gemm(const eml_kernel_ctx *ctx)
{
    const eml_gemm_params *p = ctx->params;
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    const eml_tensor *c = eml__kin_present(ctx, 2) ? &ctx->inputs[2] : NULL;
    eml_tensor *y = &ctx->outputs[0];
    int64_t m = p->trans_a ? a->dims[1] : a->dims[0];
    int64_t k = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t n = p->trans_b ? b->dims[0] : b->dims[1];
    mm_job j = {0};
    j.g.n = n;
    j.g.k = k;
    j.g.a_rs = p->trans_a ? 1 : k;
    j.g.a_cs = p->trans_a ? m : 1;
    j.g.b_rs = p->trans_b ? 1 : n;
    j.g.b_cs = p->trans_b ? k : 1;
    j.m = m;
    j.rows = mm_rows_for(a->dtype);
    const float *acc_f32 = NULL;
    if (j.rows) {
        j.elem_bytes = eml_dtype_size(a->dtype);
        j.a = a->data;
        j.b = b->data;
        j.y = y->data;
    } else if (a->dtype == EML_DTYPE_F16 || a->dtype == EML_DTYPE_BF16) {
        float *sa = ctx->scratch, *sb = sa + m * k, *sy = sb + k * n;
        widen_half(a->dtype, a->data, sa, m * k);
        widen_half(a->dtype, b->data, sb, k * n);
        j.rows = mm_rows_f32;
        j.elem_bytes = sizeof(float);
        j.a = (const char *)sa;
        j.b = (const char *)sb;
        j.y = (char *)sy;
        acc_f32 = sy;
    } else {
        return eml__diag(ctx->diag, EML_EINTERNAL, "Gemm: dtype %s", eml_dtype_name(a->dtype));
    }
    mm_run(&j, 1, ctx->pool);
    gemm_epilogue(p, y, acc_f32, c, m, n);
    return EML_OK;
}

/* ---- MatMulInteger and QLinearMatMul ---- */

static int32_t q8_get(const eml_tensor *t, int64_t i)
{
    return t->dtype == EML_DTYPE_I8 ? (int32_t)((const int8_t *)t->data)[i]
                                    : (int32_t)((const uint8_t *)t->data)[i];
}

/* The int32 product of (A - a_zp) and (B - b_zp) for every batch; acc is the output (MatMul-
 * Integer) or scratch (QLinearMatMul). q[0], q[1]: where the zero points of A and B are read. */
typedef struct qmm_args {
    const eml_tensor *a, *b, *a_zp, *b_zp;   /* zero points may be NULL */
    eml_matmul_qparam q[4];   /* a_zp, b_zp, and for QLinearMatMul a_scale, b_scale */
    int n_q;
} qmm_args;

typedef void (*qmm_batch_fn)(void *user, int64_t batch, const int32_t *acc, const int64_t *q_off);

static void qmm_run(const eml_kernel_ctx *ctx, const eml_matmul_shape *s, const qmm_args *args,
                    int32_t *acc_out, qmm_batch_fn done, void *user)
{
    int32_t *sa = ctx->scratch, *sb = sa + s->m * s->k;
    int32_t *sacc = acc_out ? NULL : sb + s->k * s->n;
    mm_job j = {0};
    j.g = (mm_geom){.n = s->n, .k = s->k, .a_rs = s->k, .a_cs = 1, .b_rs = s->n, .b_cs = 1};
    j.m = s->m;
    j.rows = mm_rows_i32;
    j.elem_bytes = sizeof(int32_t);
    j.a = (const char *)sa;
    j.b = (const char *)sb;
    for (int64_t bi = 0; bi < s->batch_count; bi++) {
        int64_t a_off, b_off, q_off[4];
        batch_offsets(s, bi, &a_off, &b_off, args->q, q_off, args->n_q);
        for (int64_t i = 0; i < s->m; i++) {
            int32_t zp = args->a_zp ? q8_get(args->a_zp, q_off[0] + i * args->q[0].vec_stride) : 0;
            for (int64_t kk = 0; kk < s->k; kk++)
                sa[i * s->k + kk] = q8_get(args->a, a_off + i * s->k + kk) - zp;
        }
        for (int64_t kk = 0; kk < s->k; kk++) {
            for (int64_t jj = 0; jj < s->n; jj++) {
                int32_t zp =
                    args->b_zp ? q8_get(args->b_zp, q_off[1] + jj * args->q[1].vec_stride) : 0;
                sb[kk * s->n + jj] = q8_get(args->b, b_off + kk * s->n + jj) - zp;
            }
        }
        int32_t *acc = acc_out ? acc_out + bi * s->m * s->n : sacc;
        j.y = (char *)acc;
        mm_run(&j, 1, ctx->pool);
        if (done)
            done(user, bi, acc, q_off);
    }
}

eml_status eml__ref_matmul_integer(const eml_kernel_ctx *ctx)
{
    eml_matmul_shape s;
    qmm_args args = {.a = &ctx->inputs[0], .b = &ctx->inputs[1], .n_q = 2};
    if (eml__matmul_shape(args.a, args.b, &s) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "MatMulInteger: shapes changed after infer");
    if (eml__kin_present(ctx, 2)) {
        args.a_zp = &ctx->inputs[2];
        if (eml__matmul_qparam(&s, args.a_zp, true, &args.q[0]) != EML_OK)
            return EML_EINTERNAL;
    }
    if (eml__kin_present(ctx, 3)) {
        args.b_zp = &ctx->inputs[3];
        if (eml__matmul_qparam(&s, args.b_zp, false, &args.q[1]) != EML_OK)
            return EML_EINTERNAL;
    }
    qmm_run(ctx, &s, &args, ctx->outputs[0].data, NULL, NULL);
    return EML_OK;
}

typedef struct qlinear_out {
    const eml_matmul_shape *s;
    const qmm_args *args;
    const float *a_scale, *b_scale;
    float y_scale;
    int32_t y_zp;
    eml_tensor *y;
} qlinear_out;

/* y = saturate(round_half_even(acc * (a_scale * b_scale / y_scale)) + y_zp), all in float32 and
 * the multiplier formed in this order, as ONNX Runtime (and QLinearConv here) does, so that SIMD
 * variants can match it bit for bit. */
static void qlinear_requantize(void *user, int64_t batch, const int32_t *acc, const int64_t *q_off)
{
    const qlinear_out *o = user;
    const eml_matmul_shape *s = o->s;
    const float lo = o->y->dtype == EML_DTYPE_I8 ? -128.0f : 0.0f;
    const float hi = o->y->dtype == EML_DTYPE_I8 ? 127.0f : 255.0f;
    int64_t base = batch * s->m * s->n;
    for (int64_t i = 0; i < s->m; i++) {
        float as = o->a_scale[q_off[2] + i * o->args->q[2].vec_stride];
        for (int64_t j = 0; j < s->n; j++) {
            float bs = o->b_scale[q_off[3] + j * o->args->q[3].vec_stride];
            float mult = as * bs / o->y_scale;
            float v = rintf((float)acc[i * s->n + j] * mult) + (float)o->y_zp;
            if (!(v >= lo))   /* NaN from a hostile scale too */
                v = lo;
            if (v > hi)
                v = hi;
            if (o->y->dtype == EML_DTYPE_I8)
                ((int8_t *)o->y->data)[base + i * s->n + j] = (int8_t)v;
            else
                ((uint8_t *)o->y->data)[base + i * s->n + j] = (uint8_t)v;
        }
    }
}

eml_status eml__ref_qlinear_matmul(const eml_kernel_ctx *ctx)
{
    const eml_tensor *in = ctx->inputs;
    eml_matmul_shape s;
    qmm_args args = {.a = &in[0], .b = &in[3], .a_zp = &in[2], .b_zp = &in[5], .n_q = 4};
    if (eml__matmul_shape(args.a, args.b, &s) != EML_OK ||
        eml__matmul_qparam(&s, &in[2], true, &args.q[0]) != EML_OK ||
        eml__matmul_qparam(&s, &in[5], false, &args.q[1]) != EML_OK ||
        eml__matmul_qparam(&s, &in[1], true, &args.q[2]) != EML_OK ||
        eml__matmul_qparam(&s, &in[4], false, &args.q[3]) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "QLinearMatMul: shapes changed after infer");
    qlinear_out o = {.s = &s,
                     .args = &args,
                     .a_scale = in[1].data,
                     .b_scale = in[4].data,
                     .y_scale = *(const float *)in[6].data,
                     .y_zp = q8_get(&in[7], 0),
                     .y = &ctx->outputs[0]};
    qmm_run(ctx, &s, &args, NULL, qlinear_requantize, &o);
    return EML_OK;
}
