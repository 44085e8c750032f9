/* Reference Conv for float types as im2col + GEMM, and the geometry, im2col and GEMM helpers that
 * the other conv kernels (ConvTranspose, ConvInteger, QLinearConv) share. */
#include <stdarg.h>
#include <stdio.h>

#include "kernels/ref/conv.h"

/* ---- geometry ---- */

bool eml__conv_out_dim(int32_t auto_pad, int64_t in, int64_t effective_kernel, int64_t stride,
                       int64_t pad_begin_attr, int64_t pad_end_attr, bool ceil_mode,
                       int64_t *out, int64_t *pad_begin, int64_t *pad_end)
{
    int64_t o = 0, pb = 0, pe = 0;
    /* attributes are at most INT32_MAX (prepare); a dim this large has no data behind it */
    if (in > INT64_MAX / 4 || effective_kernel > INT64_MAX / 4)
        return false;
    if (auto_pad == EML_AUTO_PAD_SAME_UPPER || auto_pad == EML_AUTO_PAD_SAME_LOWER) {
        o = (in + stride - 1) / stride;
        int64_t total = EML_MAX((o - 1) * stride + effective_kernel - in, 0);
        /* the odd pixel goes to the end for SAME_UPPER, to the beginning for SAME_LOWER */
        pb = auto_pad == EML_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        pe = total - pb;
    } else {
        if (auto_pad == EML_AUTO_PAD_NOTSET) {
            pb = pad_begin_attr;
            pe = pad_end_attr;
        }
        int64_t span = in + pb + pe - effective_kernel;
        if (span < 0)
            return false;
        o = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
        /* ceil_mode must not add a window that starts in the end padding: it would cover no
         * input (PyTorch and later ONNX drop it; averaging it would divide by zero) */
        if (ceil_mode && (o - 1) * stride >= in + pb)
            o--;
    }
    *out = o;
    *pad_begin = pb;
    *pad_end = pe;
    return o > 0;
}

static eml_status geom_fail(char *why, size_t cap, const char *fmt, ...) EML_PRINTF(3, 4);

static eml_status geom_fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return EML_ESHAPE;
}

/* ConvTranspose output size and pads along one axis (the equations of the ONNX spec, with
 * Python's floor division where total padding is negative, as ONNX's reference does). */
static bool transpose_out_dim(const eml_conv_params *p, int i, int ns, int64_t in, int64_t ek,
                              int64_t stride, int64_t *out, int64_t *pb, int64_t *pe)
{
    int64_t adj = p->output_padding_count > 0 ? p->output_padding[i] : 0;
    if (in > INT64_MAX / 4 || ek > INT64_MAX / 4 ||
        (in > 1 && stride > (INT64_MAX / 4) / (in - 1)))
        return false;
    int64_t full = stride * (in - 1) + adj + ek;
    int64_t o = -1;
    if (p->output_shape_count == ns)
        o = p->output_shape[i];
    else if (p->output_shape_count == ns + 2)
        o = p->output_shape[i + 2];
    else if (p->auto_pad == EML_AUTO_PAD_SAME_UPPER || p->auto_pad == EML_AUTO_PAD_SAME_LOWER)
        o = in * stride;
    if (o >= 0) {
        int64_t total = full - o;
        int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);   /* floor(total / 2) */
        if (p->auto_pad == EML_AUTO_PAD_SAME_UPPER) {
            *pb = half;
            *pe = total - half;
        } else {
            *pb = total - half;
            *pe = half;
        }
    } else if (p->auto_pad == EML_AUTO_PAD_VALID) {
        *pb = *pe = 0;
        o = full;
    } else {
        *pb = p->pads_count > 0 ? p->pads[i] : 0;
        *pe = p->pads_count > 0 ? p->pads[i + ns] : 0;
        o = full - *pb - *pe;
    }
    *out = o;
    return o > 0;
}

eml_status eml__conv_geom(const eml_conv_params *p, const eml_tensor *x, const eml_tensor *w,
                          bool transpose, eml_conv_geom *g, char *why, size_t why_cap)
{
    memset(g, 0, sizeof(*g));
    if (x->rank < 3)
        return geom_fail(why, why_cap, "input X has rank %d, expected at least 3", (int)x->rank);
    if (w->rank != x->rank)
        return geom_fail(why, why_cap, "weight W has rank %d, expected %d (X's rank)",
                         (int)w->rank, (int)x->rank);
    int ns = x->rank - 2;
    g->n_spatial = ns;
    g->batch = x->dims[0];
    g->in_channels = x->dims[1];
    g->group = p->group;
    if (transpose) {
        if (w->dims[0] != g->in_channels)
            return geom_fail(why, why_cap, "W has %lld input channels, X has %lld",
                             (long long)w->dims[0], (long long)g->in_channels);
        if (g->in_channels % g->group != 0)
            return geom_fail(why, why_cap, "%lld input channels do not split into %lld groups",
                             (long long)g->in_channels, (long long)g->group);
        if (w->dims[1] > INT64_MAX / g->group)
            return geom_fail(why, why_cap, "W dim 1 (%lld) × group (%lld) overflows",
                             (long long)w->dims[1], (long long)g->group);
        g->out_channels = w->dims[1] * g->group;
    } else {
        g->out_channels = w->dims[0];
        if (w->dims[1] > INT64_MAX / g->group || w->dims[1] * g->group != g->in_channels)
            return geom_fail(why, why_cap, "X has %lld channels, W expects %lld per group",
                             (long long)g->in_channels, (long long)w->dims[1]);
        if (g->out_channels % g->group != 0)
            return geom_fail(why, why_cap, "%lld output channels do not split into %lld groups",
                             (long long)g->out_channels, (long long)g->group);
    }
    if (p->kernel_count >= 0 && p->kernel_count != ns)
        return geom_fail(why, why_cap, "kernel_shape has %d values, expected %d",
                         (int)p->kernel_count, ns);
    if (p->strides_count >= 0 && p->strides_count != ns)
        return geom_fail(why, why_cap, "strides has %d values, expected %d",
                         (int)p->strides_count, ns);
    if (p->dilations_count >= 0 && p->dilations_count != ns)
        return geom_fail(why, why_cap, "dilations has %d values, expected %d",
                         (int)p->dilations_count, ns);
    if (p->pads_count >= 0 && p->pads_count != 2 * ns)
        return geom_fail(why, why_cap, "pads has %d values, expected %d",
                         (int)p->pads_count, 2 * ns);
    if (p->output_padding_count >= 0 && p->output_padding_count != ns)
        return geom_fail(why, why_cap, "output_padding has %d values, expected %d",
                         (int)p->output_padding_count, ns);
    if (p->output_shape_count >= 0 && p->output_shape_count != ns &&
        p->output_shape_count != ns + 2)
        return geom_fail(why, why_cap, "output_shape has %d values, expected %d or %d",
                         (int)p->output_shape_count, ns, ns + 2);
    for (int i = 0; i < ns; i++) {
        int64_t k = w->dims[i + 2];
        if (p->kernel_count >= 0 && p->kernel[i] != k)
            return geom_fail(why, why_cap, "kernel_shape %lld differs from W's dim %lld",
                             (long long)p->kernel[i], (long long)k);
        if (k <= 0 || k > INT32_MAX)
            return geom_fail(why, why_cap, "W has a kernel dim of %lld at %d", (long long)k,
                             i + 2);
        g->kernel[i] = k;
        g->stride[i] = p->strides_count > 0 ? p->strides[i] : 1;
        g->dilation[i] = p->dilations_count > 0 ? p->dilations[i] : 1;
        g->in[i] = x->dims[i + 2];
        int64_t ek = (k - 1) * g->dilation[i] + 1;
        bool ok;
        if (transpose)
            ok = transpose_out_dim(p, i, ns, g->in[i], ek, g->stride[i], &g->out[i],
                                   &g->pad_begin[i], &g->pad_end[i]);
        else
            ok = eml__conv_out_dim(p->auto_pad, g->in[i], ek, g->stride[i],
                                   p->pads_count > 0 ? p->pads[i] : 0,
                                   p->pads_count > 0 ? p->pads[i + ns] : 0, false, &g->out[i],
                                   &g->pad_begin[i], &g->pad_end[i]);
        if (!ok)
            return geom_fail(why, why_cap, "spatial dim %d of size %lld leaves no output", i + 2,
                             (long long)g->in[i]);
    }
    g->in_size = eml__shape_count(g->in, ns);
    g->out_size = eml__shape_count(g->out, ns);
    g->kernel_size = eml__shape_count(g->kernel, ns);
    if (g->in_size < 0 || g->out_size < 0 || g->kernel_size < 0)
        return geom_fail(why, why_cap, "spatial sizes overflow");
    return EML_OK;
}

/* ---- scratch layout ---- */

static size_t align_up(size_t n)
{
    return (n + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
}

bool eml__scratch_add(size_t *total, uint64_t count, size_t elem_bytes)
{
    uint64_t bytes;
    if (eml__mul_overflow(count, elem_bytes, &bytes) || bytes > SIZE_MAX / 2 ||
        *total > SIZE_MAX / 2)
        return false;
    *total += align_up((size_t)bytes);
    return true;
}

void *eml__scratch_take(void *scratch, size_t *offset, uint64_t count, size_t elem_bytes)
{
    void *p = (char *)scratch + *offset;
    *offset += align_up((size_t)count * elem_bytes);
    return p;
}

/* Columns per GEMM tile and rows per K block: a 256 × 256 float block of B is 256 KiB, which
 * stays in L2 while every row of A passes over it. */
#define GEMM_TILE_P 256
#define GEMM_BLOCK_K 256
#define GEMM_BLOCK_M 64
/* im2col scratch per chunk of output positions, so big images do not need a giant buffer. */
#define IM2COL_BUDGET_BYTES ((size_t)8 << 20)

int64_t eml__conv_chunk(int64_t positions, int64_t rows, size_t elem_bytes)
{
    int64_t per_col = EML_MAX(rows, 1) * (int64_t)elem_bytes;
    int64_t chunk = (int64_t)IM2COL_BUDGET_BYTES / per_col / GEMM_TILE_P * GEMM_TILE_P;
    chunk = EML_MAX(chunk, GEMM_TILE_P);
    return EML_MAX(EML_MIN(chunk, positions), 1);
}

/* ---- im2col ---- */

#define IM2COL_LINE(TS, TD, LOAD)                                                                  \
    do {                                                                                           \
        const TS *s_ = (const TS *)src;                                                            \
        TD *d_ = (TD *)dst;                                                                        \
        for (int64_t j = 0; j < run; j++) {                                                        \
            int64_t iw = base + j * stride;                                                        \
            d_[j] = iw >= 0 && iw < in_w ? (TD)(LOAD(s_[iw])) : (TD)0;                             \
        }                                                                                          \
    } while (0)

#define LOAD_PLAIN(v) (v)
#define LOAD_F16(v) eml_f16_to_f32(v)
#define LOAD_BF16(v) eml_bf16_to_f32(v)
#define LOAD_ZP(v) ((int32_t)(v) - zp)

static size_t col_elem_bytes(eml_dtype dtype)
{
    switch (dtype) {
    case EML_DTYPE_F64: return 8;
    case EML_DTYPE_U8:
    case EML_DTYPE_I8: return 2;
    default: return 4;
    }
}

static void im2col_row(const eml_im2col_job *job, int64_t row)
{
    const eml_conv_geom *g = job->g;
    const int ns = g->n_spatial, last = ns - 1;
    const size_t xelem = eml_dtype_size(job->dtype);
    const size_t celem = col_elem_bytes(job->dtype);
    const int32_t zp = job->zero_point;
    int64_t koff[EML_CONV_MAX_SPATIAL], o[EML_CONV_MAX_SPATIAL];
    int64_t rem = row % g->kernel_size;
    for (int d = last; d >= 0; d--) {
        koff[d] = rem % g->kernel[d];
        rem /= g->kernel[d];
    }
    rem = job->p0;
    for (int d = last; d >= 0; d--) {
        o[d] = rem % g->out[d];
        rem /= g->out[d];
    }
    const int64_t c = job->c0 + row / g->kernel_size;
    const char *xc = (const char *)job->x + (size_t)(c * g->in_size) * xelem;
    char *dst = (char *)job->col + (size_t)(row * (job->p1 - job->p0)) * celem;
    const int64_t in_w = g->in[last], stride = g->stride[last];
    for (int64_t p = job->p0; p < job->p1;) {
        /* one line along the innermost output axis */
        int64_t run = EML_MIN(g->out[last] - o[last], job->p1 - p);
        bool inside = true;
        int64_t off = 0;
        for (int d = 0; d < last; d++) {
            int64_t i = o[d] * g->stride[d] - g->pad_begin[d] + koff[d] * g->dilation[d];
            inside = inside && i >= 0 && i < g->in[d];
            off = off * g->in[d] + i;
        }
        if (!inside) {
            memset(dst, 0, (size_t)run * celem);
        } else {
            const char *src = xc + (size_t)(off * in_w) * xelem;
            int64_t base = o[last] * stride - g->pad_begin[last] + koff[last] * g->dilation[last];
            switch (job->dtype) {
            case EML_DTYPE_F32: IM2COL_LINE(float, float, LOAD_PLAIN); break;
            case EML_DTYPE_F64: IM2COL_LINE(double, double, LOAD_PLAIN); break;
            case EML_DTYPE_F16: IM2COL_LINE(uint16_t, float, LOAD_F16); break;
            case EML_DTYPE_BF16: IM2COL_LINE(uint16_t, float, LOAD_BF16); break;
            case EML_DTYPE_U8: IM2COL_LINE(uint8_t, int16_t, LOAD_ZP); break;
            case EML_DTYPE_I8: IM2COL_LINE(int8_t, int16_t, LOAD_ZP); break;
            default: break;
            }
        }
        dst += (size_t)run * celem;
        p += run;
        o[last] += run;
        if (o[last] == g->out[last]) {
            o[last] = 0;
            for (int d = last - 1; d >= 0; d--) {
                if (++o[d] < g->out[d])
                    break;
                o[d] = 0;
            }
        }
    }
}

static void im2col_task(void *ctx, size_t row)
{
    im2col_row((const eml_im2col_job *)ctx, (int64_t)row);
}

void eml__im2col(const eml_im2col_job *job, eml_pool *pool, int64_t rows)
{
    bool small = (double)rows * (double)(job->p1 - job->p0) < EML_CONV_INLINE_WORK;
    eml__pool_run(small ? NULL : pool, (size_t)rows, im2col_task, (void *)job);
}

/* ---- GEMM ---- */

typedef struct gemm_job {
    int64_t M, P, K, a_row, a_col, ldb, ldc, p_tiles;
    const void *A, *B;
    void *C;
} gemm_job;

/* c[0..n) += a · b[0..n). The body is unrolled by eight so that -O2's vectorizer, which skips
 * loops whose length it does not know, vectorizes it; restrict (on parameters, where the compiler
 * honours it) says that c and b do not overlap. */
#define AXPY(NAME, TA, TC, ACC)                                                                    \
    static inline void NAME(int64_t n, TC a, const TA *restrict b, TC *restrict c)                 \
    {                                                                                              \
        int64_t q = 0;                                                                             \
        for (; q + 8 <= n; q += 8) {                                                               \
            ACC(q);                                                                                \
            ACC(q + 1);                                                                            \
            ACC(q + 2);                                                                            \
            ACC(q + 3);                                                                            \
            ACC(q + 4);                                                                            \
            ACC(q + 5);                                                                            \
            ACC(q + 6);                                                                            \
            ACC(q + 7);                                                                            \
        }                                                                                          \
        for (; q < n; q++)                                                                         \
            ACC(q);                                                                                \
    }

#define ACC_FLOAT(i) c[i] += a * b[i]
/* products of int16 operands fit int32; the sum wraps (unsigned arithmetic) instead of being
 * undefined behaviour when a hostile model makes it overflow */
#define ACC_S16(i) c[i] = (int32_t)((uint32_t)c[i] + (uint32_t)(a * (int32_t)b[i]))

AXPY(axpy_f32, float, float, ACC_FLOAT)
AXPY(axpy_f64, double, double, ACC_FLOAT)
AXPY(axpy_s16, int16_t, int32_t, ACC_S16)

/* One task: rows [m0, m1) × columns [p0, p1), K in blocks so that the block of B stays in cache
 * while every row of A passes over it. */
#define GEMM_TASK(NAME, TA, TC, AXPY_FN)                                                           \
    static void NAME(void *ctx, size_t task)                                                       \
    {                                                                                              \
        const gemm_job *j = (const gemm_job *)ctx;                                                 \
        int64_t m0 = (int64_t)task / j->p_tiles * GEMM_BLOCK_M;                                    \
        int64_t p0 = (int64_t)task % j->p_tiles * GEMM_TILE_P;                                     \
        int64_t m1 = EML_MIN(m0 + GEMM_BLOCK_M, j->M), n = EML_MIN(p0 + GEMM_TILE_P, j->P) - p0;  \
        const TA *A = (const TA *)j->A;                                                            \
        const TA *B = (const TA *)j->B;                                                            \
        for (int64_t k0 = 0; k0 < j->K; k0 += GEMM_BLOCK_K) {                                      \
            int64_t k1 = EML_MIN(k0 + GEMM_BLOCK_K, j->K);                                         \
            for (int64_t m = m0; m < m1; m++) {                                                    \
                TC *c = (TC *)j->C + m * j->ldc + p0;                                              \
                for (int64_t k = k0; k < k1; k++)                                                  \
                    AXPY_FN(n, (TC)A[m * j->a_row + k * j->a_col], B + k * j->ldb + p0, c);        \
            }                                                                                      \
        }                                                                                          \
    }

GEMM_TASK(gemm_f32_task, float, float, axpy_f32)
GEMM_TASK(gemm_f64_task, double, double, axpy_f64)
GEMM_TASK(gemm_s16_task, int16_t, int32_t, axpy_s16)

static void gemm_run(eml_pool *pool, eml_task_fn fn, int64_t M, int64_t P, int64_t K,
                     const void *A, int64_t a_row, int64_t a_col, const void *B, int64_t ldb,
                     void *C, int64_t ldc)
{
    if (M <= 0 || P <= 0 || K <= 0)
        return;
    gemm_job j = {M, P, K, a_row, a_col, ldb, ldc, (P + GEMM_TILE_P - 1) / GEMM_TILE_P, A, B, C};
    int64_t m_blocks = (M + GEMM_BLOCK_M - 1) / GEMM_BLOCK_M;
    bool small = (double)M * (double)P * (double)K < 8 * EML_CONV_INLINE_WORK;
    eml__pool_run(small ? NULL : pool, (size_t)(m_blocks * j.p_tiles), fn, &j);
}

void eml__gemm_f32(eml_pool *pool, int64_t M, int64_t P, int64_t K, const float *A, int64_t a_row,
                   int64_t a_col, const float *B, int64_t ldb, float *C, int64_t ldc)
{
    gemm_run(pool, gemm_f32_task, M, P, K, A, a_row, a_col, B, ldb, C, ldc);
}

void eml__gemm_f64(eml_pool *pool, int64_t M, int64_t P, int64_t K, const double *A,
                   int64_t a_row, int64_t a_col, const double *B, int64_t ldb, double *C,
                   int64_t ldc)
{
    gemm_run(pool, gemm_f64_task, M, P, K, A, a_row, a_col, B, ldb, C, ldc);
}

void eml__gemm_s16(eml_pool *pool, int64_t M, int64_t P, int64_t K, const int16_t *A,
                   int64_t a_row, int64_t a_col, const int16_t *B, int64_t ldb, int32_t *C,
                   int64_t ldc)
{
    gemm_run(pool, gemm_s16_task, M, P, K, A, a_row, a_col, B, ldb, C, ldc);
}

/* ---- Conv (float16, bfloat16, float32, float64) ---- */

/* A 1×1 kernel with unit strides and no padding reads the input as it is: no im2col needed. */
static bool conv_is_pointwise(const eml_conv_geom *g)
{
    for (int i = 0; i < g->n_spatial; i++) {
        if (g->kernel[i] != 1 || g->stride[i] != 1 || g->pad_begin[i] != 0 || g->pad_end[i] != 0)
            return false;
    }
    return true;
}

static bool is_half(eml_dtype dtype)
{
    return dtype == EML_DTYPE_F16 || dtype == EML_DTYPE_BF16;
}

bool eml__conv_scratch(const eml_conv_geom *g, eml_dtype dtype, size_t *bytes)
{
    int64_t K = g->in_channels / g->group * g->kernel_size;
    int64_t Mg = g->out_channels / g->group;
    size_t elem = col_elem_bytes(dtype);
    int64_t chunk = eml__conv_chunk(g->out_size, K, elem);
    uint64_t wcount;
    *bytes = 0;
    bool ok = true;
    if (!conv_is_pointwise(g) || is_half(dtype))
        ok = ok && !eml__mul_overflow((uint64_t)K, (uint64_t)chunk, &wcount) &&
             eml__scratch_add(bytes, wcount, elem);
    if (is_half(dtype)) {
        ok = ok && !eml__mul_overflow((uint64_t)g->out_channels, (uint64_t)K, &wcount) &&
             eml__scratch_add(bytes, wcount, 4);
        ok = ok && eml__scratch_add(bytes, (uint64_t)Mg * (uint64_t)chunk, 4);
    }
    return ok;
}

static float half_to_f32(eml_dtype dtype, uint16_t v)
{
    return dtype == EML_DTYPE_F16 ? eml_f16_to_f32(v) : eml_bf16_to_f32(v);
}

static uint16_t f32_to_half(eml_dtype dtype, float v)
{
    return dtype == EML_DTYPE_F16 ? eml_f32_to_f16(v) : eml_f32_to_bf16(v);
}

eml_status eml__ref_conv(const eml_kernel_ctx *ctx)
{
    const eml_conv_params *prm = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    const eml_tensor *bias = eml__kin_present(ctx, 2) ? &ctx->inputs[2] : NULL;
    eml_tensor *y = &ctx->outputs[0];
    eml_conv_geom g;
    char why[128];
    eml_status st = eml__conv_geom(prm, x, w, false, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "Conv: %s", why);
    const eml_dtype dt = x->dtype;
    const int64_t Cg = g.in_channels / g.group, Mg = g.out_channels / g.group;
    const int64_t K = Cg * g.kernel_size, P = g.out_size;
    const size_t elem = col_elem_bytes(dt), xelem = eml_dtype_size(dt);
    const int64_t chunk = eml__conv_chunk(P, K, elem);
    const bool pointwise = conv_is_pointwise(&g) && !is_half(dt);
    size_t off = 0;
    void *col =
        pointwise ? NULL : eml__scratch_take(ctx->scratch, &off, (uint64_t)(K * chunk), elem);
    float *wf = NULL, *yf = NULL;
    if (is_half(dt)) {
        wf = eml__scratch_take(ctx->scratch, &off, (uint64_t)(g.out_channels * K), 4);
        yf = eml__scratch_take(ctx->scratch, &off, (uint64_t)(Mg * chunk), 4);
        const uint16_t *wh = w->data;
        for (int64_t i = 0; i < g.out_channels * K; i++)
            wf[i] = half_to_f32(dt, wh[i]);
    }
    for (int64_t n = 0; n < g.batch; n++) {
        for (int64_t gi = 0; gi < g.group; gi++) {
            const int64_t m0 = gi * Mg;
            const char *xg = (const char *)x->data + (size_t)((n * g.in_channels + gi * Cg) *
                                                              g.in_size) * xelem;
            for (int64_t p0 = 0; p0 < P; p0 += chunk) {
                const int64_t np = EML_MIN(chunk, P - p0);
                const void *B = col;
                int64_t ldb = np;
                if (pointwise) {
                    B = xg + (size_t)p0 * xelem;
                    ldb = g.in_size;
                } else {
                    eml_im2col_job job = {&g, (const char *)x->data + (size_t)(n * g.in_channels *
                                                                               g.in_size) * xelem,
                                          dt, 0, gi * Cg, p0, p0 + np, col};
                    eml__im2col(&job, ctx->pool, K);
                }
                if (dt == EML_DTYPE_F64) {
                    double *c = (double *)y->data + (n * g.out_channels + m0) * P + p0;
                    for (int64_t m = 0; m < Mg; m++) {
                        double b = bias ? ((const double *)bias->data)[m0 + m] : 0.0;
                        for (int64_t q = 0; q < np; q++)
                            c[m * P + q] = b;
                    }
                    eml__gemm_f64(ctx->pool, Mg, np, K, (const double *)w->data + m0 * K, K, 1,
                                  B, ldb, c, P);
                } else {
                    const bool half = is_half(dt);
                    float *c = half ? yf : (float *)y->data + (n * g.out_channels + m0) * P + p0;
                    const int64_t ldc = half ? np : P;
                    for (int64_t m = 0; m < Mg; m++) {
                        float b = 0.0f;
                        if (bias)
                            b = half ? half_to_f32(dt, ((const uint16_t *)bias->data)[m0 + m])
                                     : ((const float *)bias->data)[m0 + m];
                        for (int64_t q = 0; q < np; q++)
                            c[m * ldc + q] = b;
                    }
                    const float *A = half ? wf + m0 * K : (const float *)w->data + m0 * K;
                    eml__gemm_f32(ctx->pool, Mg, np, K, A, K, 1, B, ldb, c, ldc);
                    if (half) {
                        uint16_t *yh = (uint16_t *)y->data + (n * g.out_channels + m0) * P + p0;
                        for (int64_t m = 0; m < Mg; m++)
                            for (int64_t q = 0; q < np; q++)
                                yh[m * P + q] = f32_to_half(dt, c[m * ldc + q]);
                    }
                }
            }
        }
    }
    return EML_OK;
}
