/* Reference kernels of the elementwise unary family: math functions, activations, Not, IsNaN,
 * IsInf and Clip, for every dtype their ONNX type constraints allow. */
#include <float.h>
#include <tgmath.h>

#include "kernels/ref/unary.h"

/* Elements per pool task: large enough to amortize the hand-off, small enough to spread work. */
#define TASK_ELEMS 16384
/* f16/bf16 are computed in float through a stack buffer of this many elements. */
#define HALF_BLOCK 256

typedef struct unary_job {
    const void *params;
    const eml_tensor *x;
    eml_tensor *y;
    const eml_tensor *lo, *hi; /* Clip's bound inputs, NULL when absent or from attributes */
    int64_t n;
} unary_job;

/* ---- float and double: one body, instantiated for both through <tgmath.h> ---- */

/* Applies expr to each element v of x (of type elem_t) into y. */
#define MAP(expr)                                                                                  \
    for (size_t i = 0; i < n; i++) {                                                               \
        const elem_t v = x[i];                                                                     \
        y[i] = (expr);                                                                             \
    }                                                                                              \
    break

#define clamp01(T, t) ((t) < 0 ? (T)0 : (t) > 1 ? (T)1 : (t))

/* Comparisons are written so that NaN falls through to the branch that returns v (or an
 * expression of v), as numpy's reference does. */
#define FLOAT_MAP_BODY(T)                                                                          \
    typedef T elem_t;                                                                              \
    const T a = (T)p->alpha, b = (T)p->beta, g = (T)p->gamma;                                      \
    (void)a;                                                                                       \
    (void)b;                                                                                       \
    (void)g;                                                                                       \
    switch ((eml_unary_fn)p->fn) {                                                                 \
    case EML_UNARY_ABS: MAP(fabs(v));                                                              \
    case EML_UNARY_ACOS: MAP(acos(v));                                                             \
    case EML_UNARY_ACOSH: MAP(acosh(v));                                                           \
    case EML_UNARY_ASIN: MAP(asin(v));                                                             \
    case EML_UNARY_ASINH: MAP(asinh(v));                                                           \
    case EML_UNARY_ATAN: MAP(atan(v));                                                             \
    case EML_UNARY_ATANH: MAP(atanh(v));                                                           \
    case EML_UNARY_CEIL: MAP(ceil(v));                                                             \
    case EML_UNARY_COS: MAP(cos(v));                                                               \
    case EML_UNARY_COSH: MAP(cosh(v));                                                             \
    case EML_UNARY_ERF: MAP(erf(v));                                                               \
    case EML_UNARY_EXP: MAP(exp(v));                                                               \
    case EML_UNARY_FLOOR: MAP(floor(v));                                                           \
    case EML_UNARY_LOG: MAP(log(v));                                                               \
    case EML_UNARY_NEG: MAP(-v);                                                                   \
    case EML_UNARY_RECIPROCAL: MAP((T)1 / v);                                                      \
    /* round half to even: the default rounding mode, without raising inexact */                   \
    case EML_UNARY_ROUND: MAP(nearbyint(v));                                                       \
    /* the two forms keep exp's argument <= 0, so neither overflows */                             \
    case EML_UNARY_SIGMOID: MAP(v < 0 ? exp(v) / (1 + exp(v)) : 1 / (1 + exp(-v)));                \
    case EML_UNARY_SIGN: MAP(v > 0 ? (T)1 : v < 0 ? (T)-1 : v);                                    \
    case EML_UNARY_SIN: MAP(sin(v));                                                               \
    case EML_UNARY_SINH: MAP(sinh(v));                                                             \
    case EML_UNARY_SQRT: MAP(sqrt(v));                                                             \
    case EML_UNARY_TAN: MAP(tan(v));                                                               \
    case EML_UNARY_TANH: MAP(tanh(v));                                                             \
    /* log(1 + e^v) without overflow for large v */                                                \
    case EML_UNARY_SOFTPLUS: MAP(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));                      \
    case EML_UNARY_SOFTSIGN: MAP(v / (1 + fabs(v)));                                               \
    case EML_UNARY_RELU: MAP(v < 0 ? (T)0 : v);                                                    \
    case EML_UNARY_ELU: MAP(v < 0 ? a * expm1(v) : v);                                             \
    case EML_UNARY_CELU: MAP(v > 0 ? v : v <= 0 ? EML_MIN((T)0, a * expm1(v / a)) : v);            \
    case EML_UNARY_SELU: MAP(v > 0 ? g * v : g * (a * expm1(v)));                                  \
    case EML_UNARY_LEAKY_RELU: MAP(v < 0 ? a * v : v);                                             \
    case EML_UNARY_HARD_SIGMOID: MAP(clamp01(T, a * v + b));                                       \
    case EML_UNARY_HARD_SWISH: MAP(v * clamp01(T, a * v + b));                                     \
    case EML_UNARY_THRESHOLDED_RELU: MAP(v <= a ? (T)0 : v);                                       \
    case EML_UNARY_SHRINK: MAP(v < -a ? v + b : v > a ? v - b : v == v ? (T)0 : v);                \
    default: break;                                                                                \
    }

static void f32_map(const eml_unary_params *p, float *y, const float *x, size_t n)
{
    FLOAT_MAP_BODY(float)
}

static void f64_map(const eml_unary_params *p, double *y, const double *x, size_t n)
{
    FLOAT_MAP_BODY(double)
}

static void half_load(eml_dtype dt, float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = dt == EML_DTYPE_F16 ? eml_f16_to_f32(src[i]) : eml_bf16_to_f32(src[i]);
}

static void half_store(eml_dtype dt, uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = dt == EML_DTYPE_F16 ? eml_f32_to_f16(src[i]) : eml_f32_to_bf16(src[i]);
}

static void half_map(const eml_unary_params *p, eml_dtype dt, uint16_t *y, const uint16_t *x,
                     size_t n)
{
    float buf[HALF_BLOCK];
    for (size_t i = 0; i < n; i += HALF_BLOCK) {
        size_t m = EML_MIN(n - i, (size_t)HALF_BLOCK);
        half_load(dt, buf, x + i, m);
        f32_map(p, buf, buf, m);
        half_store(dt, y + i, buf, m);
    }
}

/* ---- integers: Abs, Neg, Sign, Relu, Erf, Shrink ---- */

/* Comparisons avoid `v < 0` so that the unsigned instantiations stay free of always-false
 * warnings; negation goes through the unsigned type so that INT_MIN wraps instead of
 * overflowing. Shrink's float result is truncated toward zero and saturated. */
#define DEFINE_INT_MAP(name, T, UT, TMIN, TMAX)                                                    \
    static T name##_sat(double r)                                                                  \
    {                                                                                              \
        if (r != r)                                                                                \
            return 0;                                                                              \
        if (r <= (double)(TMIN))                                                                   \
            return (TMIN);                                                                         \
        if (r >= (double)(TMAX))                                                                   \
            return (TMAX);                                                                         \
        return (T)r;                                                                               \
    }                                                                                              \
    static void name##_map(const eml_unary_params *p, T *y, const T *x, size_t n)                  \
    {                                                                                              \
        typedef T elem_t;                                                                          \
        const double lambd = p->alpha, bias = p->beta;                                             \
        switch ((eml_unary_fn)p->fn) {                                                             \
        case EML_UNARY_ABS: MAP(v > 0 || v == 0 ? v : (T)(UT)((UT)0 - (UT)v));                     \
        case EML_UNARY_NEG: MAP((T)(UT)((UT)0 - (UT)v));                                           \
        case EML_UNARY_SIGN: MAP(v > 0 ? (T)1 : v == 0 ? (T)0 : (T)-1);                            \
        case EML_UNARY_RELU: MAP(v > 0 ? v : (T)0);                                                \
        case EML_UNARY_ERF: MAP(name##_sat(round(erf((double)v))));                                \
        case EML_UNARY_SHRINK:                                                                     \
            MAP(name##_sat((double)v < -lambd  ? (double)v + bias                                  \
                           : (double)v > lambd ? (double)v - bias                                  \
                                               : 0.0));                                            \
        default: break;                                                                            \
        }                                                                                          \
    }

DEFINE_INT_MAP(i8, int8_t, uint8_t, INT8_MIN, INT8_MAX)
DEFINE_INT_MAP(i16, int16_t, uint16_t, INT16_MIN, INT16_MAX)
DEFINE_INT_MAP(i32, int32_t, uint32_t, INT32_MIN, INT32_MAX)
DEFINE_INT_MAP(i64, int64_t, uint64_t, INT64_MIN, INT64_MAX)
DEFINE_INT_MAP(u8, uint8_t, uint8_t, 0, UINT8_MAX)
DEFINE_INT_MAP(u16, uint16_t, uint16_t, 0, UINT16_MAX)
DEFINE_INT_MAP(u32, uint32_t, uint32_t, 0, UINT32_MAX)
DEFINE_INT_MAP(u64, uint64_t, uint64_t, 0, UINT64_MAX)

/* ---- ops whose output is bool: Not, IsNaN, IsInf ---- */

static bool bool_of(const eml_unary_params *p, double v)
{
    if (p->fn == EML_UNARY_ISNAN)
        return v != v;
    /* IsInf */
    if (!isinf(v))
        return false;
    return v > 0 ? p->detect_positive != 0 : p->detect_negative != 0;
}

static void bool_map(const eml_unary_params *p, const eml_tensor *xt, bool *y, int64_t begin,
                     int64_t end)
{
    if (p->fn == EML_UNARY_NOT) {
        /* read as bytes: a bool from a file may hold any nonzero value */
        const uint8_t *x = xt->data;
        for (int64_t i = begin; i < end; i++)
            y[i] = x[i] == 0;
        return;
    }
    for (int64_t i = begin; i < end; i++)
        y[i] = bool_of(p, eml__tensor_get_f64(xt, i));
}

static bool out_is_bool(const eml_unary_params *p)
{
    return p->fn == EML_UNARY_NOT || p->fn == EML_UNARY_ISNAN || p->fn == EML_UNARY_ISINF;
}

static void unary_range(const unary_job *job, int64_t begin, int64_t end)
{
    const eml_unary_params *p = job->params;
    eml_dtype dt = job->x->dtype;
    size_t n = (size_t)(end - begin);
    size_t es = eml_dtype_size(dt);
    const char *x = (const char *)job->x->data + (size_t)begin * es;
    char *y = (char *)job->y->data + (size_t)begin * eml_dtype_size(job->y->dtype);

    if (out_is_bool(p)) {
        bool_map(p, job->x, job->y->data, begin, end);
        return;
    }
    switch (dt) {
    case EML_DTYPE_F32: f32_map(p, (float *)y, (const float *)x, n); break;
    case EML_DTYPE_F64: f64_map(p, (double *)y, (const double *)x, n); break;
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16: half_map(p, dt, (uint16_t *)y, (const uint16_t *)x, n); break;
    case EML_DTYPE_I8: i8_map(p, (int8_t *)y, (const int8_t *)x, n); break;
    case EML_DTYPE_I16: i16_map(p, (int16_t *)y, (const int16_t *)x, n); break;
    case EML_DTYPE_I32: i32_map(p, (int32_t *)y, (const int32_t *)x, n); break;
    case EML_DTYPE_I64: i64_map(p, (int64_t *)y, (const int64_t *)x, n); break;
    case EML_DTYPE_U8: u8_map(p, (uint8_t *)y, (const uint8_t *)x, n); break;
    case EML_DTYPE_U16: u16_map(p, (uint16_t *)y, (const uint16_t *)x, n); break;
    case EML_DTYPE_U32: u32_map(p, (uint32_t *)y, (const uint32_t *)x, n); break;
    case EML_DTYPE_U64: u64_map(p, (uint64_t *)y, (const uint64_t *)x, n); break;
    default: break;
    }
}

/* ---- Clip ---- */

/* Bounds are applied as "below min → min, then above max → max", so NaN passes through and
 * min > max gives max everywhere, as the spec says. */
#define CLIP_LOOP(T, y, x, n, lo, hi, has_lo, has_hi)                                              \
    for (size_t i = 0; i < (n); i++) {                                                             \
        T v = (x)[i];                                                                              \
        if ((has_lo) && v < (lo))                                                                  \
            v = (lo);                                                                              \
        if ((has_hi) && v > (hi))                                                                  \
            v = (hi);                                                                              \
        (y)[i] = v;                                                                                \
    }

#define DEFINE_CLIP(name, T)                                                                       \
    static void name##_clip(const unary_job *job, T *y, const T *x, size_t n)                      \
    {                                                                                              \
        const eml_clip_params *p = job->params;                                                    \
        bool has_lo = job->lo != NULL, has_hi = job->hi != NULL;                                   \
        T lo = has_lo ? ((const T *)job->lo->data)[0] : (T)0;                                      \
        T hi = has_hi ? ((const T *)job->hi->data)[0] : (T)0;                                      \
        if (!p->from_inputs) {                                                                     \
            has_lo = p->has_min != 0;                                                              \
            has_hi = p->has_max != 0;                                                              \
            lo = (T)p->min;                                                                        \
            hi = (T)p->max;                                                                        \
        }                                                                                          \
        CLIP_LOOP(T, y, x, n, lo, hi, has_lo, has_hi)                                              \
    }

DEFINE_CLIP(f32, float)
DEFINE_CLIP(f64, double)
DEFINE_CLIP(i8, int8_t)
DEFINE_CLIP(i16, int16_t)
DEFINE_CLIP(i32, int32_t)
DEFINE_CLIP(i64, int64_t)
DEFINE_CLIP(u8, uint8_t)
DEFINE_CLIP(u16, uint16_t)
DEFINE_CLIP(u32, uint32_t)
DEFINE_CLIP(u64, uint64_t)

/* f16/bf16 bounds come from the same dtype (or are float attributes), so clipping in float and
 * converting back is exact. */
static void half_clip(const unary_job *job, eml_dtype dt, uint16_t *y, const uint16_t *x,
                      size_t n_all)
{
    const eml_clip_params *p = job->params;
    bool has_lo = job->lo != NULL, has_hi = job->hi != NULL;
    float lo = has_lo ? eml__tensor_get_f64(job->lo, 0) : 0.0f;
    float hi = has_hi ? eml__tensor_get_f64(job->hi, 0) : 0.0f;
    if (!p->from_inputs) {
        has_lo = p->has_min != 0;
        has_hi = p->has_max != 0;
        lo = p->min;
        hi = p->max;
    }
    float buf[HALF_BLOCK];
    for (size_t i0 = 0; i0 < n_all; i0 += HALF_BLOCK) {
        size_t n = EML_MIN(n_all - i0, (size_t)HALF_BLOCK);
        half_load(dt, buf, x + i0, n);
        CLIP_LOOP(float, buf, buf, n, lo, hi, has_lo, has_hi)
        half_store(dt, y + i0, buf, n);
    }
}

static void clip_range(const unary_job *job, int64_t begin, int64_t end)
{
    eml_dtype dt = job->x->dtype;
    size_t n = (size_t)(end - begin);
    size_t es = eml_dtype_size(dt);
    const char *x = (const char *)job->x->data + (size_t)begin * es;
    char *y = (char *)job->y->data + (size_t)begin * es;
    switch (dt) {
    case EML_DTYPE_F32: f32_clip(job, (float *)y, (const float *)x, n); break;
    case EML_DTYPE_F64: f64_clip(job, (double *)y, (const double *)x, n); break;
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16: half_clip(job, dt, (uint16_t *)y, (const uint16_t *)x, n); break;
    case EML_DTYPE_I8: i8_clip(job, (int8_t *)y, (const int8_t *)x, n); break;
    case EML_DTYPE_I16: i16_clip(job, (int16_t *)y, (const int16_t *)x, n); break;
    case EML_DTYPE_I32: i32_clip(job, (int32_t *)y, (const int32_t *)x, n); break;
    case EML_DTYPE_I64: i64_clip(job, (int64_t *)y, (const int64_t *)x, n); break;
    case EML_DTYPE_U8: u8_clip(job, (uint8_t *)y, (const uint8_t *)x, n); break;
    case EML_DTYPE_U16: u16_clip(job, (uint16_t *)y, (const uint16_t *)x, n); break;
    case EML_DTYPE_U32: u32_clip(job, (uint32_t *)y, (const uint32_t *)x, n); break;
    case EML_DTYPE_U64: u64_clip(job, (uint64_t *)y, (const uint64_t *)x, n); break;
    default: break;
    }
}

/* ---- running on the pool: independent chunks of the flat tensor ---- */

static void unary_task(void *arg, size_t index)
{
    const unary_job *job = arg;
    int64_t begin = (int64_t)index * TASK_ELEMS;
    unary_range(job, begin, EML_MIN(begin + TASK_ELEMS, job->n));
}

static void clip_task(void *arg, size_t index)
{
    const unary_job *job = arg;
    int64_t begin = (int64_t)index * TASK_ELEMS;
    clip_range(job, begin, EML_MIN(begin + TASK_ELEMS, job->n));
}

static size_t task_count(int64_t n)
{
    return (size_t)((n + TASK_ELEMS - 1) / TASK_ELEMS);
}

eml_status eml__ref_unary(const eml_kernel_ctx *ctx)
{
    unary_job job = {ctx->params, &ctx->inputs[0], &ctx->outputs[0], NULL, NULL,
                     eml_tensor_count(&ctx->inputs[0])};
    if (job.n > 0)
        eml__pool_run(ctx->pool, task_count(job.n), unary_task, &job);
    return EML_OK;
}

eml_status eml__ref_clip(const eml_kernel_ctx *ctx)
{
    const eml_clip_params *p = ctx->params;
    unary_job job = {p, &ctx->inputs[0], &ctx->outputs[0], NULL, NULL,
                     eml_tensor_count(&ctx->inputs[0])};
    if (p->from_inputs) {
        if (eml__kin_present(ctx, 1) && eml_tensor_count(&ctx->inputs[1]) > 0)
            job.lo = &ctx->inputs[1];
        if (eml__kin_present(ctx, 2) && eml_tensor_count(&ctx->inputs[2]) > 0)
            job.hi = &ctx->inputs[2];
    }
    if (job.n > 0)
        eml__pool_run(ctx->pool, task_count(job.n), clip_task, &job);
    return EML_OK;
}
