/* Advanced SIMD kernels of the uint8 convolution (fast_qconv.h) for every AArch64 CPU: a 4x16 GEMM
 * micro-kernel and the 16-lane depthwise row kernel (also used by the dot-product variant,
 * qs8_conv_neondot.c: dot products do not fit the per-channel sums of depthwise). Both widen the
 * uint8 inputs and int8 weights to int16 and multiply-accumulate into int32 (SMLAL), where every
 * u8 × s8 product is exact. The GEMM's panels use KG 1 (for each row of K, the 16 channels'
 * int8 weights side by side) so that one weight vector meets one element of A by lane. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/arm/qs8_requant_neon.h"
#include "kernels/fast_qconv.h"

void eml_qs8_gemm_4x16__neon(size_t mr, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                             const void *panel, uint8_t *c, size_t c_stride,
                             const eml_qs8_out *out);
void eml_qs8_dw_row__neon(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y);

/* 4 bytes at p (k's tail: A is readable only up to kp, a multiple of 4) widened, lanes 0-3. */
static inline int16x8_t load4_widened(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s16_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))));
}

void eml_qs8_gemm_4x16__neon(size_t mr, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                             const void *panel, uint8_t *c, size_t c_stride, const eml_qs8_out *out)
{
    const int32_t *hdr = panel;
    const int8_t *w = (const int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * 16);
    /* rows past mr repeat the last one (computed, never stored) */
    const uint8_t *a0 = a;
    const uint8_t *a1 = (const uint8_t *)a + (mr > 1 ? 1 : 0) * a_stride_bytes;
    const uint8_t *a2 = (const uint8_t *)a + (mr > 2 ? 2 : mr - 1) * a_stride_bytes;
    const uint8_t *a3 = (const uint8_t *)a + (mr > 3 ? 3 : mr - 1) * a_stride_bytes;
    const int32x4_t b0 = vld1q_s32(hdr), b1 = vld1q_s32(hdr + 4), b2 = vld1q_s32(hdr + 8),
                    b3 = vld1q_s32(hdr + 12);
    int32x4_t c00 = b0, c01 = b1, c02 = b2, c03 = b3, c10 = b0, c11 = b1, c12 = b2, c13 = b3;
    int32x4_t c20 = b0, c21 = b1, c22 = b2, c23 = b3, c30 = b0, c31 = b1, c32 = b2, c33 = b3;
    int16x8_t x0, x1, x2, x3;
    /* one row of K: 16 weights widened, times element l of each row of A */
#define ROW(i, l)                                                                                  \
    c##i##0 = vmlal_laneq_s16(c##i##0, vget_low_s16(wl), x##i, l);                                 \
    c##i##1 = vmlal_high_laneq_s16(c##i##1, wl, x##i, l);                                          \
    c##i##2 = vmlal_laneq_s16(c##i##2, vget_low_s16(wh), x##i, l);                                 \
    c##i##3 = vmlal_high_laneq_s16(c##i##3, wh, x##i, l);
#define STEP(l)                                                                                    \
    {                                                                                              \
        const int8x16_t wv = vld1q_s8(w);                                                          \
        w += 16;                                                                                   \
        const int16x8_t wl = vmovl_s8(vget_low_s8(wv)), wh = vmovl_high_s8(wv);                    \
        ROW(0, l) ROW(1, l) ROW(2, l) ROW(3, l)                                                    \
    }
    size_t k = 0;
    for (; k + 8 <= kp; k += 8) {
        x0 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a0 + k)));
        x1 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a1 + k)));
        x2 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a2 + k)));
        x3 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(a3 + k)));
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
    }
    if (k < kp) { /* kp is a multiple of 4: one group of 4 left */
        x0 = load4_widened(a0 + k);
        x1 = load4_widened(a1 + k);
        x2 = load4_widened(a2 + k);
        x3 = load4_widened(a3 + k);
        STEP(0) STEP(1) STEP(2) STEP(3)
    }
#undef STEP
#undef ROW
    const eml_rq16_neon r = eml_rq16_neon_load(hdr + 16, hdr + 32, out);
    eml_store16_neon(c, eml_rq16_neon_apply(c00, c01, c02, c03, &r), nc);
    if (mr > 1)
        eml_store16_neon(c + c_stride, eml_rq16_neon_apply(c10, c11, c12, c13, &r), nc);
    if (mr > 2)
        eml_store16_neon(c + 2 * c_stride, eml_rq16_neon_apply(c20, c21, c22, c23, &r), nc);
    if (mr > 3)
        eml_store16_neon(c + 3 * c_stride, eml_rq16_neon_apply(c30, c31, c32, c33, &r), nc);
}

/* The int8 weights of 8 channels from their int32 slots (low 16 bits: the weight, sign and all). */
static inline int16x8_t dw_weights8(const int32_t *p)
{
    return vcombine_s16(vmovn_s32(vld1q_s32(p)), vmovn_s32(vld1q_s32(p + 4)));
}

void eml_qs8_dw_row__neon(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels;
    const int32_t *bias = j->packed, *mult = bias + cp, *shift = mult + cp, *w = shift + cp;
    const uint8x16_t zpv = vdupq_n_u8((uint8_t)j->x_zp);
    for (int64_t c0 = 0; c0 < cn; c0 += 16) {
        const int64_t n = EML_MIN(16, cn - c0);
        const eml_rq16_neon r = eml_rq16_neon_load(mult + c0, shift + c0, &j->out);
        const int32x4_t b0 = vld1q_s32(bias + c0), b1 = vld1q_s32(bias + c0 + 4),
                        b2 = vld1q_s32(bias + c0 + 8), b3 = vld1q_s32(bias + c0 + 12);
        for (int64_t ox = 0; ox < j->out_w; ox++) {
            int32x4_t acc0 = b0, acc1 = b1, acc2 = b2, acc3 = b3;
            for (int64_t ky = 0; ky < j->kh; ky++) {
                const int64_t iy = oy * j->stride_h - j->pad_top + ky * j->dil_h;
                const bool row_in = iy >= 0 && iy < j->in_h;
                const int32_t *wk = w + ky * j->kw * cp + c0;
                for (int64_t kx = 0; kx < j->kw; kx++, wk += cp) {
                    const int64_t ix = ox * j->stride_w - j->pad_left + kx * j->dil_w;
                    /* the padding reads as x_zp (its weight sum is in the bias); lanes past the
                     * last channel meet zero weights */
                    uint8x16_t xv = zpv;
                    if (row_in && ix >= 0 && ix < j->in_w) {
                        const uint8_t *src = j->x + (iy * j->in_w + ix) * cn + c0;
                        if (n == 16) {
                            xv = vld1q_u8(src);
                        } else {
                            uint8_t tmp[16];
                            vst1q_u8(tmp, zpv);
                            memcpy(tmp, src, (size_t)n);
                            xv = vld1q_u8(tmp);
                        }
                    }
                    const int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv)));
                    const int16x8_t xh = vreinterpretq_s16_u16(vmovl_high_u8(xv));
                    const int16x8_t wl = dw_weights8(wk), wh = dw_weights8(wk + 8);
                    acc0 = vmlal_s16(acc0, vget_low_s16(xl), vget_low_s16(wl));
                    acc1 = vmlal_high_s16(acc1, xl, wl);
                    acc2 = vmlal_s16(acc2, vget_low_s16(xh), vget_low_s16(wh));
                    acc3 = vmlal_high_s16(acc3, xh, wh);
                }
            }
            eml_store16_neon(y + ox * cn + c0, eml_rq16_neon_apply(acc0, acc1, acc2, acc3, &r),
                             (size_t)n);
        }
    }
}
