/* The requantization of qrequant.h on AArch64 Advanced SIMD, shared by the uint8 convolution
 * kernels (qs8_conv_neon.c, qs8_conv_neondot.c): 16 int32 accumulators of 16 output channels
 * become 16 uint8 codes, bit for bit as the reference. SRSHL by -shift computes
 * (p + 2^(shift-1)) >> shift on the 64-bit product without overflow, an arithmetic shift whose
 * ties go toward +infinity, which is exactly eml__qrequant_scale. */
#ifndef EML_KERNELS_ARM_QS8_REQUANT_NEON_H
#define EML_KERNELS_ARM_QS8_REQUANT_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/fast_qconv.h"

/* The per-channel requantization of 16 lanes: multipliers, negated shifts as int64 (the shift
 * count SRSHL reads per 64-bit lane), and the output clamp. */
typedef struct eml_rq16_neon {
    int32x4_t mult[4];
    int64x2_t nsh[8];
    int32x4_t lo, hi, zp;
} eml_rq16_neon;

static inline eml_rq16_neon eml_rq16_neon_load(const int32_t *mult, const int32_t *shift,
                                               const eml_qs8_out *out)
{
    eml_rq16_neon r;
    for (int i = 0; i < 4; i++) {
        r.mult[i] = vld1q_s32(mult + 4 * i);
        const int32x4_t ns = vnegq_s32(vld1q_s32(shift + 4 * i));
        r.nsh[2 * i] = vmovl_s32(vget_low_s32(ns));
        r.nsh[2 * i + 1] = vmovl_high_s32(ns);
    }
    r.lo = vdupq_n_s32(out->qmin - out->zp);
    r.hi = vdupq_n_s32(out->qmax - out->zp);
    r.zp = vdupq_n_s32(out->zp);
    return r;
}

/* Lanes 4i .. 4i+3: (acc · multiplier + 2^(shift-1)) >> shift, clamped, plus the zero point (the
 * result fits int32 by qrequant.h's ranges, so narrowing the 64-bit lanes loses nothing). */
static inline int32x4_t eml_rq16_neon_apply4(int32x4_t acc, const eml_rq16_neon *r, int i)
{
    const int64x2_t lo =
        vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(r->mult[i])), r->nsh[2 * i]);
    const int64x2_t hi = vrshlq_s64(vmull_high_s32(acc, r->mult[i]), r->nsh[2 * i + 1]);
    const int32x4_t v = vcombine_s32(vmovn_s64(lo), vmovn_s64(hi));
    return vaddq_s32(vminq_s32(vmaxq_s32(v, r->lo), r->hi), r->zp);
}

/* The 16 codes (each 0..255 after the clamp) of accumulators a0..a3. */
static inline uint8x16_t eml_rq16_neon_apply(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                                             const eml_rq16_neon *r)
{
    const int16x8_t p0 = vcombine_s16(vmovn_s32(eml_rq16_neon_apply4(a0, r, 0)),
                                      vmovn_s32(eml_rq16_neon_apply4(a1, r, 1)));
    const int16x8_t p1 = vcombine_s16(vmovn_s32(eml_rq16_neon_apply4(a2, r, 2)),
                                      vmovn_s32(eml_rq16_neon_apply4(a3, r, 3)));
    return vcombine_u8(vqmovun_s16(p0), vqmovun_s16(p1));
}

/* Stores the first n <= 16 codes, touching nothing past them. */
static inline void eml_store16_neon(uint8_t *dst, uint8x16_t codes, size_t n)
{
    if (n == 16) {
        vst1q_u8(dst, codes);
    } else {
        uint8_t tmp[16];
        vst1q_u8(tmp, codes);
        memcpy(dst, tmp, n);
    }
}

#endif
