/* The reduction family (Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum, TopK): params,
 * the prepare/infer/kernel entry points named in ops.def, and element access shared with norm.h. */
#ifndef EML_KERNELS_REF_REDUCE_H
#define EML_KERNELS_REF_REDUCE_H

#include <math.h>

#include "graph/op.h"
#include "kernels/kernel.h"

/* Forces the dtype-generic bodies below to be inlined where the dtype is a constant, so that the
 * per-element switch on the dtype folds away and each dtype gets its own loop. */
#if defined(__GNUC__)
#define EML_REDUCE_INLINE static inline __attribute__((always_inline))
#else
#define EML_REDUCE_INLINE static inline
#endif

/* ---- element access by dtype (the dtype is a constant where these are inlined) ---- */

static inline bool eml__elem_is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

static inline bool eml__elem_is_sint(eml_dtype dt)
{
    return dt == EML_DTYPE_I8 || dt == EML_DTYPE_I16 || dt == EML_DTYPE_I32 || dt == EML_DTYPE_I64;
}

static inline bool eml__elem_is_uint(eml_dtype dt)
{
    return dt == EML_DTYPE_U8 || dt == EML_DTYPE_U16 || dt == EML_DTYPE_U32 || dt == EML_DTYPE_U64;
}

/* Float types as double (float32, float16 and bfloat16 are exact in double). */
EML_REDUCE_INLINE double eml__elem_load_f(const void *p, eml_dtype dt, int64_t i)
{
    switch (dt) {
    case EML_DTYPE_F32: return ((const float *)p)[i];
    case EML_DTYPE_F64: return ((const double *)p)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return 0.0;
    }
}

EML_REDUCE_INLINE void eml__elem_store_f(void *p, eml_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case EML_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case EML_DTYPE_F64: ((double *)p)[i] = v; break;
    case EML_DTYPE_F16: ((uint16_t *)p)[i] = eml_f32_to_f16((float)v); break;
    case EML_DTYPE_BF16: ((uint16_t *)p)[i] = eml_f32_to_bf16((float)v); break;
    default: break;
    }
}

/* Signed integer types widened to int64. */
EML_REDUCE_INLINE int64_t eml__elem_load_s(const void *p, eml_dtype dt, int64_t i)
{
    switch (dt) {
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    case EML_DTYPE_I16: return ((const int16_t *)p)[i];
    case EML_DTYPE_I32: return ((const int32_t *)p)[i];
    case EML_DTYPE_I64: return ((const int64_t *)p)[i];
    default: return 0;
    }
}

/* Unsigned integer types widened to uint64. */
EML_REDUCE_INLINE uint64_t eml__elem_load_u(const void *p, eml_dtype dt, int64_t i)
{
    switch (dt) {
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_U64: return ((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Any integer type from the low bits of v: wraps like a C cast to the narrower unsigned type. */
EML_REDUCE_INLINE void eml__elem_store_bits(void *p, eml_dtype dt, int64_t i, uint64_t v)
{
    switch (dt) {
    case EML_DTYPE_I8: case EML_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case EML_DTYPE_I16: case EML_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case EML_DTYPE_I32: case EML_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case EML_DTYPE_I64: case EML_DTYPE_U64: ((uint64_t *)p)[i] = v; break;
    default: break;
    }
}

/* double → int64 / uint64 without undefined behaviour: truncates, saturates, NaN → 0. */
static inline int64_t eml__elem_sat_i64(double v)
{
    if (!(v == v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static inline uint64_t eml__elem_sat_u64(double v)
{
    if (!(v > 0.0))
        return 0;
    if (v >= 18446744073709551615.0)
        return UINT64_MAX;
    return (uint64_t)v;
}

/* Splits a shape around one axis: outer = dims before it, n = its size, inner = dims after. */
static inline void eml__reduce_axis_split(const int64_t *dims, int rank, int axis, int64_t *outer,
                                          int64_t *n, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= dims[d];
    for (int d = axis + 1; d < rank; d++)
        *inner *= dims[d];
    *n = axis < rank ? dims[axis] : 1;
}

/* ---- Reduce* ---- */

typedef enum eml_reduce_kind {
    EML_REDUCE_L1 = 0,
    EML_REDUCE_L2 = 1,
    EML_REDUCE_LOG_SUM = 2,
    EML_REDUCE_LOG_SUM_EXP = 3,
    EML_REDUCE_MAX = 4,
    EML_REDUCE_MEAN = 5,
    EML_REDUCE_MIN = 6,
    EML_REDUCE_PROD = 7,
    EML_REDUCE_SUM = 8,
    EML_REDUCE_SUM_SQUARE = 9
} eml_reduce_kind;

typedef struct eml_reduce_params {
    int32_t kind;                  /* eml_reduce_kind */
    int32_t keepdims;
    int32_t noop_with_empty_axes;  /* ReduceSum 13+: empty axes mean identity, not "all" */
    int32_t axes_from_input;       /* ReduceSum 13+: axes are input 1, not an attribute */
    int32_t n_axes;                /* attribute axes; -1 when absent (reduce all) */
    int64_t axes[EML_MAX_RANK];
} eml_reduce_params;
EML_PARAMS_FIT(eml_reduce_params);

/* Bit d of *mask set when axis d of a rank-`rank` input is reduced, from the attribute or from
 * axes_input (ReduceSum 13+; NULL or its data NULL when omitted). Returns EML_OK, EML_ERANGE (an
 * axis out of range, message in diag), EML_EINVAL (an axis repeated). */
eml_status eml__reduce_axes_mask(const eml_reduce_params *p, const eml_tensor *axes_input,
                                 int rank, uint32_t *mask, eml_diag *diag);

eml_status eml__reduce_prepare(eml_prepare_ctx *ctx);
eml_status eml__reduce_infer(eml_infer_ctx *ctx);
eml_status eml__ref_reduce(const eml_kernel_ctx *ctx);

/* ---- ArgMax / ArgMin ---- */

typedef struct eml_argminmax_params {
    int64_t axis;
    int32_t keepdims;
    int32_t select_last_index;
    int32_t is_min;
} eml_argminmax_params;
EML_PARAMS_FIT(eml_argminmax_params);

eml_status eml__argminmax_prepare(eml_prepare_ctx *ctx);
eml_status eml__argminmax_infer(eml_infer_ctx *ctx);
eml_status eml__ref_argminmax(const eml_kernel_ctx *ctx);

/* ---- CumSum ---- */

typedef struct eml_cumsum_params {
    int32_t exclusive;
    int32_t reverse;
} eml_cumsum_params;
EML_PARAMS_FIT(eml_cumsum_params);

eml_status eml__cumsum_prepare(eml_prepare_ctx *ctx);
eml_status eml__cumsum_infer(eml_infer_ctx *ctx);
eml_status eml__ref_cumsum(const eml_kernel_ctx *ctx);

/* ---- Softmax / LogSoftmax / Hardmax ---- */

typedef enum eml_softmax_kind {
    EML_SOFTMAX = 0,
    EML_LOG_SOFTMAX = 1,
    EML_HARDMAX = 2
} eml_softmax_kind;

typedef struct eml_softmax_params {
    int32_t kind;       /* eml_softmax_kind */
    int32_t flatten;    /* opset < 13: normalize over the whole block from `axis` on */
    int64_t axis;
} eml_softmax_params;
EML_PARAMS_FIT(eml_softmax_params);

/* The axis normalized for a rank-`rank` input; false when out of range. Opset < 13 also takes
 * axis = rank (the coerced matrix is [N, 1]), which its default axis 1 gives 1-D inputs. */
static inline bool eml__softmax_axis(const eml_softmax_params *p, int rank, int64_t *axis)
{
    if (p->flatten && p->axis == rank) {
        *axis = rank;
        return true;
    }
    return eml__norm_axis(p->axis, rank, axis);
}

eml_status eml__softmax_prepare(eml_prepare_ctx *ctx);
eml_status eml__softmax_infer(eml_infer_ctx *ctx);
eml_status eml__ref_softmax(const eml_kernel_ctx *ctx);

/* ---- TopK ---- */

typedef struct eml_topk_params {
    int64_t axis;
    int64_t k;              /* opset 1: the attribute; later opsets read input 1 */
    int32_t k_from_input;
    int32_t largest;
    int32_t sorted;
} eml_topk_params;
EML_PARAMS_FIT(eml_topk_params);

/* Scratch the TopK kernel needs for rows of n elements. */
size_t eml__topk_scratch_bytes(int64_t n);

eml_status eml__topk_prepare(eml_prepare_ctx *ctx);
eml_status eml__topk_infer(eml_infer_ctx *ctx);
eml_status eml__ref_topk(const eml_kernel_ctx *ctx);

#endif
