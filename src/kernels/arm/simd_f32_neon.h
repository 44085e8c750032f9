/* The SIMD vocabulary of x86/simd_f32.h over AArch64 Advanced SIMD (4 floats per vector), so that
 * the NEON kernel bodies read like the x86 ones. Behaviour is kept lane for lane: min/max follow
 * the x86 rule (when either operand is NaN, or both are equal, the SECOND one is returned: v_max(0,
 * -0) is -0 and v_max(lo, NaN) is NaN, where fmax/fmin would differ), and tails touch no memory
 * past their last lane (NEON has no masked loads: they go lane by lane). */
#ifndef EML_KERNELS_ARM_SIMD_F32_NEON_H
#define EML_KERNELS_ARM_SIMD_F32_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#define EML_SIMD_WIDTH 4
#define EML_SIMD_SUFFIX neon
#define EML_SIMD_NAME "neon"
typedef float32x4_t vf;
typedef uint32x4_t vm; /* all-ones lanes where set */

static inline vm v_tail(size_t n) /* lanes 0 .. n-1, n < 4 */
{
    const uint32_t lanes[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(lanes), vdupq_n_u32((uint32_t)n));
}
static inline vf v_loadu(const float *p)
{
    return vld1q_f32(p);
}
static inline void v_storeu(float *p, vf v)
{
    vst1q_f32(p, v);
}
/* Lanes of m from p, the others `fill`; the lanes left out are not read. */
static inline vf v_load_mask(const float *p, vm m, vf fill)
{
    uint32_t bits[4];
    float lanes[4];
    vst1q_u32(bits, m);
    vst1q_f32(lanes, fill);
    for (int i = 0; i < 4; i++)
        if (bits[i])
            lanes[i] = p[i];
    return vld1q_f32(lanes);
}
static inline void v_store_mask(float *p, vm m, vf v)
{
    uint32_t bits[4];
    float lanes[4];
    vst1q_u32(bits, m);
    vst1q_f32(lanes, v);
    for (int i = 0; i < 4; i++)
        if (bits[i])
            p[i] = lanes[i];
}
static inline vf v_set1(float x)
{
    return vdupq_n_f32(x);
}
static inline vf v_zero(void)
{
    return vdupq_n_f32(0.0f);
}
static inline vf v_add(vf a, vf b)
{
    return vaddq_f32(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return vsubq_f32(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return vmulq_f32(a, b);
}
static inline vf v_div(vf a, vf b)
{
    return vdivq_f32(a, b);
}
/* 1/d by division: NEON's estimate has 8 bits and would need two Newton steps (not measured on
 * Arm hardware). */
static inline vf v_recip(vf d)
{
    return vdivq_f32(vdupq_n_f32(1.0f), d);
}
static inline vf v_fmadd(vf a, vf b, vf c) /* a*b + c */
{
    return vfmaq_f32(c, a, b);
}
static inline vf v_fnmadd(vf a, vf b, vf c) /* c - a*b */
{
    return vfmsq_f32(c, a, b);
}
static inline vf v_min(vf a, vf b) /* a < b ? a : b */
{
    return vbslq_f32(vcltq_f32(a, b), a, b);
}
static inline vf v_max(vf a, vf b) /* a > b ? a : b */
{
    return vbslq_f32(vcgtq_f32(a, b), a, b);
}
static inline vf v_and(vf a, vf b)
{
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
static inline vf v_or(vf a, vf b)
{
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
static inline vf v_andnot(vf a, vf b) /* ~a & b */
{
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(b), vreinterpretq_u32_f32(a)));
}
/* Ordered comparisons: false when either side is NaN. */
static inline vm v_lt(vf a, vf b)
{
    return vcltq_f32(a, b);
}
static inline vm v_gt(vf a, vf b)
{
    return vcgtq_f32(a, b);
}
static inline vf v_select(vm m, vf if_set, vf if_clear)
{
    return vbslq_f32(m, if_set, if_clear);
}
static inline vf v_round(vf x) /* to nearest even */
{
    return vrndnq_f32(x);
}
/* 2^(n + bias) for integral n with n + bias + 127 in [1, 254]. */
static inline vf v_pow2(vf n, int bias)
{
    int32x4_t e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127 + bias));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
}
/* p·2^n for integral n with n + 127 in [1, 254]. */
static inline vf v_scale_pow2(vf p, vf n)
{
    return vmulq_f32(p, v_pow2(n, 0));
}
/* x: Arm multiply-adds take no memory operand, so a loaded vector stays in a register. */
static inline vf v_in_register(vf x)
{
    return x;
}
/* Horizontal sum and max in a fixed order, the one of the x86 variants: (v0 + v2) + (v1 + v3). */
static inline float v_hsum(vf v)
{
    float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
}
static inline float v_hmax(vf v)
{
    float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
    float32x2_t s = vbsl_f32(vcgt_f32(lo, hi), lo, hi);
    float a = vget_lane_f32(s, 0), b = vget_lane_f32(s, 1);
    return a > b ? a : b;
}

/* Sign bit of x only. */
static inline vf v_signbit(vf x)
{
    return v_and(x, v_set1(-0.0f));
}
static inline vf v_abs(vf x)
{
    return v_andnot(v_set1(-0.0f), x);
}

#define EML_SIMD_CAT_(a, b) a##__##b
#define EML_SIMD_CAT(a, b) EML_SIMD_CAT_(a, b)
/* name__neon: the kernel grammar's ISA suffix. */
#define EML_SIMD_FN(name) EML_SIMD_CAT(name, EML_SIMD_SUFFIX)

#endif
