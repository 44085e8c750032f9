/* Requantization of int8/uint8 kernels, defined once here and used by every reference and SIMD
 * kernel: an int32 accumulator becomes uint8 by a fixed-point multiplier and a right shift
 * (TFLite's single-rounding form), and the sum of two rescaled uint8 operands (Add) by integer
 * weights and one shift.
 *
 * Conv/Gemm/pool rounding: y = (acc * multiplier + 2^(shift-1)) >> shift in 64 bits, an arithmetic
 * shift, so ties round toward +infinity (TFLITE_SINGLE_ROUNDING's MultiplyByQuantizedMultiplier).
 * multiplier is in [2^30, 2^31) and shift in [30, 62], which represents real multipliers in
 * [2^-32, 1]; the result then always fits int32. Real multipliers below 2^-32 become 0 (the
 * output is the zero point). The result is clamped to [qmin - zp, qmax - zp] before the zero point
 * is added, so nothing overflows. */
#ifndef EML_KERNELS_REF_QREQUANT_H
#define EML_KERNELS_REF_QREQUANT_H

#include "core/core.h"

typedef struct eml_qrequant {
    int32_t multiplier; /* Q31, in [2^30, 2^31), or 0 */
    int32_t shift;      /* total right shift, in [30, 62] */
} eml_qrequant;

/* The fixed-point form of real (rounded to 31 bits). Returns false when real is not finite,
 * negative, or above 1 (the fused kernels then do not apply). */
bool eml__qrequant_init(double real, eml_qrequant *out);

/* acc · real, rounded as above; fits int32. */
static inline int32_t eml__qrequant_scale(int32_t acc, eml_qrequant q)
{
    const int64_t p = (int64_t)acc * q.multiplier + ((int64_t)1 << (q.shift - 1));
    return (int32_t)(p >> q.shift);
}

/* The uint8 result: zp + scale(acc), clamped to [qmin, qmax] (0 <= qmin <= qmax <= 255). */
static inline uint8_t eml__qrequant_u8(int32_t acc, eml_qrequant q, int32_t zp, int32_t qmin,
                                       int32_t qmax)
{
    int32_t v = eml__qrequant_scale(acc, q);
    v = v < qmin - zp ? qmin - zp : v > qmax - zp ? qmax - zp : v;
    return (uint8_t)(v + zp);
}

/* Rescaling of uint8 operands (Add, pools whose input and output scales differ):
 * y = zp_y + (sum_i (x_i - zp_i) * weight_i + 2^(shift-1)) >> shift, clamped. Each weight is
 * round(scale_i / scale_y · 2^shift) below 2^22, so with |x_i - zp_i| <= 255 a sum of two terms
 * stays inside int32 and the arithmetic is exact in 32 bits (SIMD-friendly). */
#define EML_QADD_WEIGHT_LIMIT (1 << 22)

typedef struct eml_qadd {
    int32_t weight[2];
    int32_t shift; /* in [1, 30] */
} eml_qadd;

/* Weights for the ratios a = scale_a / scale_y and b = scale_b / scale_y (b = 0 for one
 * operand). Returns false when a ratio is not finite, negative, or too large to keep one bit of
 * fraction (2^21 and up). */
bool eml__qadd_init(double a, double b, eml_qadd *out);

/* da, db: operands less their zero points. */
static inline uint8_t eml__qadd_u8(int32_t da, int32_t db, const eml_qadd *q, int32_t zp,
                                   int32_t qmin, int32_t qmax)
{
    const int32_t s = da * q->weight[0] + db * q->weight[1] + (1 << (q->shift - 1));
    int32_t v = s >> q->shift;
    v = v < qmin - zp ? qmin - zp : v > qmax - zp ? qmax - zp : v;
    return (uint8_t)(v + zp);
}

#endif
