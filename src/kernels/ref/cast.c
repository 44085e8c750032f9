/* Reference Cast kernel: one typed loop for every pair of supported dtypes.
 *
 * Rules: float to integer truncates toward zero and saturates at the target's limits (NaN gives
 * 0), where C leaves it undefined; integer to narrower integer wraps (two's complement, as
 * numpy); anything to bool is `!= 0` (NaN is true); to float16 rounds to nearest even (from
 * double without double rounding); to bfloat16 keeps the upper 16 bits of the float32 value
 * (truncation, as ONNX 1.12's test data expects), NaN staying a quiet NaN. */
#include "kernels/ref/cast.h"

/* Loads give float for f16/bf16/f32, double, the integer itself, or 0/1 for bool (read as a
 * byte: a bool byte other than 0 or 1 from a file must not be undefined behaviour). */
#define FROM_F32(v) (v)
#define FROM_F64(v) (v)
#define FROM_F16(v) eml_f16_to_f32(v)
#define FROM_BF16(v) eml_bf16_to_f32(v)
#define FROM_INT(v) (v)
#define FROM_BOOL(v) ((uint8_t)((v) != 0))

static uint16_t f32_to_bf16_trunc(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* keep NaN a NaN, quiet */
    return (uint16_t)(u >> 16);
}

/* Rounds to float toward zero and sets the last bit when inexact (round to odd): rounding that
 * to half then gives the correctly rounded half, which double -> float -> half would not. */
static uint16_t f64_to_f16(double v)
{
    float f = (float)v;
    if (isnan(v) || isinf(f) || (double)f == v)
        return eml_f32_to_f16(f);
    if (fabs((double)f) > fabs(v))
        f = nextafterf(f, 0.0f);
    uint32_t u;
    memcpy(&u, &f, 4);
    u |= 1;
    memcpy(&f, &u, 4);
    return eml_f32_to_f16(f);
}

/* Stores pick their rule from the loaded value's C type. */
#define TO_SINT(T, lo, hi, v)                                                                      \
    _Generic((v), float: (T)eml__f64_to_i64_sat((double)(v), lo, hi),                              \
             double: (T)eml__f64_to_i64_sat((double)(v), lo, hi), default: (T)(v))
#define TO_UINT(T, hi, v)                                                                          \
    _Generic((v), float: (T)eml__f64_to_u64_sat((double)(v), hi),                                  \
             double: (T)eml__f64_to_u64_sat((double)(v), hi), default: (T)(v))
#define TO_I8(v) TO_SINT(int8_t, INT8_MIN, INT8_MAX, v)
#define TO_I16(v) TO_SINT(int16_t, INT16_MIN, INT16_MAX, v)
#define TO_I32(v) TO_SINT(int32_t, INT32_MIN, INT32_MAX, v)
#define TO_I64(v) TO_SINT(int64_t, INT64_MIN, INT64_MAX, v)
#define TO_U8(v) TO_UINT(uint8_t, UINT8_MAX, v)
#define TO_U16(v) TO_UINT(uint16_t, UINT16_MAX, v)
#define TO_U32(v) TO_UINT(uint32_t, UINT32_MAX, v)
#define TO_U64(v) TO_UINT(uint64_t, UINT64_MAX, v)
#define TO_F32(v) ((float)(v))
#define TO_F64(v) ((double)(v))
/* integers go through double, exact for every value in half's range */
#define TO_F16(v) _Generic((v), float: eml_f32_to_f16((float)(v)), default: f64_to_f16((double)(v)))
#define TO_BF16(v) f32_to_bf16_trunc((float)(v))
#define TO_BOOL(v) ((uint8_t)((v) != 0))

/* suffix, storage type, load, store; two copies of the list so that one can nest in the other */
#define CAST_TYPES_A(X, ...)                                                                       \
    X(F32, float, FROM_F32, TO_F32, __VA_ARGS__)                                                   \
    X(F64, double, FROM_F64, TO_F64, __VA_ARGS__)                                                  \
    X(F16, uint16_t, FROM_F16, TO_F16, __VA_ARGS__)                                                \
    X(BF16, uint16_t, FROM_BF16, TO_BF16, __VA_ARGS__)                                             \
    X(I8, int8_t, FROM_INT, TO_I8, __VA_ARGS__)                                                    \
    X(I16, int16_t, FROM_INT, TO_I16, __VA_ARGS__)                                                 \
    X(I32, int32_t, FROM_INT, TO_I32, __VA_ARGS__)                                                 \
    X(I64, int64_t, FROM_INT, TO_I64, __VA_ARGS__)                                                 \
    X(U8, uint8_t, FROM_INT, TO_U8, __VA_ARGS__)                                                   \
    X(U16, uint16_t, FROM_INT, TO_U16, __VA_ARGS__)                                                \
    X(U32, uint32_t, FROM_INT, TO_U32, __VA_ARGS__)                                                \
    X(U64, uint64_t, FROM_INT, TO_U64, __VA_ARGS__)                                                \
    X(BOOL, uint8_t, FROM_BOOL, TO_BOOL, __VA_ARGS__)
#define CAST_TYPES_B(X, ...)                                                                       \
    X(F32, float, FROM_F32, TO_F32, __VA_ARGS__)                                                   \
    X(F64, double, FROM_F64, TO_F64, __VA_ARGS__)                                                  \
    X(F16, uint16_t, FROM_F16, TO_F16, __VA_ARGS__)                                                \
    X(BF16, uint16_t, FROM_BF16, TO_BF16, __VA_ARGS__)                                             \
    X(I8, int8_t, FROM_INT, TO_I8, __VA_ARGS__)                                                    \
    X(I16, int16_t, FROM_INT, TO_I16, __VA_ARGS__)                                                 \
    X(I32, int32_t, FROM_INT, TO_I32, __VA_ARGS__)                                                 \
    X(I64, int64_t, FROM_INT, TO_I64, __VA_ARGS__)                                                 \
    X(U8, uint8_t, FROM_INT, TO_U8, __VA_ARGS__)                                                   \
    X(U16, uint16_t, FROM_INT, TO_U16, __VA_ARGS__)                                                \
    X(U32, uint32_t, FROM_INT, TO_U32, __VA_ARGS__)                                                \
    X(U64, uint64_t, FROM_INT, TO_U64, __VA_ARGS__)                                                \
    X(BOOL, uint8_t, FROM_BOOL, TO_BOOL, __VA_ARGS__)

typedef void (*cast_fn)(const void *src, void *dst, int64_t n);

/* cast_S_D for destination D (outer list) and source S (inner list) */
#define CAST_FN(S, ST, SLOAD, SSTORE, D, DT, DSTORE)                                               \
    static void cast_##S##_##D(const void *src, void *dst, int64_t n)                             \
    {                                                                                              \
        const ST *x = src;                                                                         \
        DT *y = dst;                                                                               \
        for (int64_t i = 0; i < n; i++)                                                            \
            y[i] = DSTORE(SLOAD(x[i]));                                                            \
    }
#define CAST_FNS_TO(D, DT, DLOAD, DSTORE, unused) CAST_TYPES_B(CAST_FN, D, DT, DSTORE)
CAST_TYPES_A(CAST_FNS_TO, 0)

#define SRC_CASE(S, ST, SLOAD, SSTORE, D)                                                          \
    case EML_DTYPE_##S:                                                                            \
        return cast_##S##_##D;
#define DST_CASE(D, DT, DLOAD, DSTORE, unused)                                                     \
    case EML_DTYPE_##D:                                                                            \
        switch (from) {                                                                            \
            CAST_TYPES_B(SRC_CASE, D)                                                              \
        default:                                                                                   \
            return NULL;                                                                           \
        }

static cast_fn pick_cast(eml_dtype from, eml_dtype to)
{
    switch (to) {
        CAST_TYPES_A(DST_CASE, 0)
    default:
        return NULL;
    }
}

/* Elements per pool task, and the size below which one thread does it all. */
#define CAST_CHUNK ((int64_t)1 << 16)

void eml__cast_run(const void *src, eml_dtype from, void *dst, eml_dtype to, int64_t n)
{
    if (from == to && from != EML_DTYPE_BOOL) {
        memcpy(dst, src, (size_t)n * eml_dtype_size(from));
        return;
    }
    cast_fn fn = pick_cast(from, to);
    if (fn)
        fn(src, dst, n);
}

typedef struct cast_job {
    const char *src;
    char *dst;
    eml_dtype from, to;
    int64_t n;
} cast_job;

static void cast_task(void *ctx, size_t index)
{
    const cast_job *j = ctx;
    int64_t e0 = (int64_t)index * CAST_CHUNK;
    int64_t len = EML_MIN(CAST_CHUNK, j->n - e0);
    eml__cast_run(j->src + (size_t)e0 * eml_dtype_size(j->from), j->from,
                  j->dst + (size_t)e0 * eml_dtype_size(j->to), j->to, len);
}

eml_status eml__ref_cast(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    if (!pick_cast(x->dtype, y->dtype))
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "Cast kernel: %s to %s",
                         eml_dtype_name(x->dtype), eml_dtype_name(y->dtype));
    cast_job j = {x->data, y->data, x->dtype, y->dtype, eml_tensor_count(x)};
    if (ctx->pool && j.n >= 2 * CAST_CHUNK)
        eml__pool_run(ctx->pool, (size_t)((j.n + CAST_CHUNK - 1) / CAST_CHUNK), cast_task, &j);
    else
        eml__cast_run(j.src, j.from, j.dst, j.to, j.n);
    return EML_OK;
}
