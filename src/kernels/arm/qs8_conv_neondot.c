/* The uint8 convolution's GEMM micro-kernel (fast_qconv.h) for AArch64 CPUs with the dot-product
 * extension: 4x16 on SDOT, each instruction summing 4 products of 4 rows of K into the int32
 * lanes of 4 channels (panels of KG 4, as VNNI's). SDOT takes int8 × int8 and A is uint8 (the
 * mixed-sign USDOT needs FEAT_I8MM), so A is fed as a - 128 (its top bit flipped) and 128 · Σw,
 * summed by one more SDOT of the weights with ones, is added back: Σ a·w = Σ (a-128)·w + 128·Σw
 * modulo 2^32, as the reference sums. The depthwise kernel is the plain NEON one. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/arm/qs8_requant_neon.h"
#include "kernels/fast_qconv.h"

void eml_qs8_gemm_4x16__neondot(size_t mr, size_t nc, size_t kp, const void *a,
                                size_t a_stride_bytes, const void *panel, uint8_t *c,
                                size_t c_stride, const eml_qs8_out *out);

/* The 4 bytes at p (k's tail: A is readable only up to kp, a multiple of 4), top bits flipped,
 * in every 32-bit lane. */
static inline int8x16_t load4_flipped(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s8_u32(veorq_u32(vdupq_n_u32(v), vdupq_n_u32(0x80808080u)));
}

void eml_qs8_gemm_4x16__neondot(size_t mr, size_t nc, size_t kp, const void *a,
                                size_t a_stride_bytes, const void *panel, uint8_t *c,
                                size_t c_stride, const eml_qs8_out *out)
{
    const int32_t *hdr = panel;
    const int8_t *w = (const int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * 16);
    /* rows past mr repeat the last one (computed, never stored) */
    const uint8_t *a0 = a;
    const uint8_t *a1 = (const uint8_t *)a + (mr > 1 ? 1 : 0) * a_stride_bytes;
    const uint8_t *a2 = (const uint8_t *)a + (mr > 2 ? 2 : mr - 1) * a_stride_bytes;
    const uint8_t *a3 = (const uint8_t *)a + (mr > 3 ? 3 : mr - 1) * a_stride_bytes;
    const uint8x16_t flip = vdupq_n_u8(0x80);
    const int8x16_t ones = vdupq_n_s8(1);
    int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00;
    int32x4_t c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00;
    int32x4_t c31 = c00, c32 = c00, c33 = c00, s0 = c00, s1 = c00, s2 = c00, s3 = c00;
    int8x16_t x0, x1, x2, x3;
    /* one group of 4 rows of K (lane l of the A vectors): 4 weight vectors of 4 channels × 4 */
#define ROW(i, l)                                                                                  \
    c##i##0 = vdotq_laneq_s32(c##i##0, w0, x##i, l);                                               \
    c##i##1 = vdotq_laneq_s32(c##i##1, w1, x##i, l);                                               \
    c##i##2 = vdotq_laneq_s32(c##i##2, w2, x##i, l);                                               \
    c##i##3 = vdotq_laneq_s32(c##i##3, w3, x##i, l);
#define GROUP(l)                                                                                   \
    {                                                                                              \
        const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32),            \
                        w3 = vld1q_s8(w + 48);                                                     \
        w += 64;                                                                                   \
        s0 = vdotq_s32(s0, w0, ones);                                                              \
        s1 = vdotq_s32(s1, w1, ones);                                                              \
        s2 = vdotq_s32(s2, w2, ones);                                                              \
        s3 = vdotq_s32(s3, w3, ones);                                                              \
        ROW(0, l) ROW(1, l) ROW(2, l) ROW(3, l)                                                    \
    }
    size_t k = 0;
    for (; k + 16 <= kp; k += 16) {
        x0 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a0 + k), flip));
        x1 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a1 + k), flip));
        x2 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a2 + k), flip));
        x3 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a3 + k), flip));
        GROUP(0) GROUP(1) GROUP(2) GROUP(3)
    }
    for (; k < kp; k += 4) {
        x0 = load4_flipped(a0 + k);
        x1 = load4_flipped(a1 + k);
        x2 = load4_flipped(a2 + k);
        x3 = load4_flipped(a3 + k);
        GROUP(0)
    }
#undef GROUP
#undef ROW
    /* bias + 128 · Σw per channel, added once to every row (wrapping, as the reference) */
    const int32x4_t b0 = vaddq_s32(vld1q_s32(hdr), vshlq_n_s32(s0, 7));
    const int32x4_t b1 = vaddq_s32(vld1q_s32(hdr + 4), vshlq_n_s32(s1, 7));
    const int32x4_t b2 = vaddq_s32(vld1q_s32(hdr + 8), vshlq_n_s32(s2, 7));
    const int32x4_t b3 = vaddq_s32(vld1q_s32(hdr + 12), vshlq_n_s32(s3, 7));
    const eml_rq16_neon r = eml_rq16_neon_load(hdr + 16, hdr + 32, out);
#define STORE(i)                                                                                   \
    eml_store16_neon(c + i * c_stride,                                                             \
                     eml_rq16_neon_apply(vaddq_s32(c##i##0, b0), vaddq_s32(c##i##1, b1),           \
                                         vaddq_s32(c##i##2, b2), vaddq_s32(c##i##3, b3), &r),      \
                     nc);
    STORE(0)
    if (mr > 1)
        STORE(1)
    if (mr > 2)
        STORE(2)
    if (mr > 3)
        STORE(3)
#undef STORE
}
