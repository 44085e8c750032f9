/* f32 indirect GEMM micro-kernel for AArch64 Advanced SIMD: 6 rows × 12 columns (three q registers
 * per row), A read through one pointer per row and tap (kernels/f32_igemm.h), two channels at a
 * time, multiplied by lane. */
#include <arm_neon.h>

#include "kernels/f32_igemm.h"

#define MAX_MR 6
#define NR 12
#define INLINE static inline __attribute__((always_inline))

/* v < lo → lo, then above hi → hi: NaN and -0 pass exactly as in the reference. */
INLINE float32x4_t clamp(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* Floats min(4, max(0, n)) at p, zeros elsewhere, touching nothing else. */
INLINE float32x4_t load_cols(const float *p, size_t n)
{
    if (n >= 4)
        return vld1q_f32(p);
    float32x4_t v = vdupq_n_f32(0.0f);
    if (n & 2) {
        v = vcombine_f32(vld1_f32(p), vdup_n_f32(0.0f));
        if (n & 1)
            v = vld1q_lane_f32(p + 2, v, 2);
    } else if (n & 1) {
        v = vld1q_lane_f32(p, v, 0);
    }
    return v;
}

/* Stores min(4, n) floats of v at p. */
INLINE void store_cols(float *p, float32x4_t v, size_t n)
{
    if (n >= 4) {
        vst1q_f32(p, v);
    } else if (n & 2) {
        vst1_f32(p, vget_low_f32(v));
        if (n & 1)
            vst1q_lane_f32(p + 2, v, 2);
    } else if (n & 1) {
        vst1q_lane_f32(p, v, 0);
    }
}

/* MR rows (a constant: the loops unroll and the accumulators stay in registers). Each panel: the
 * sums over every tap and channel, then C (later blocks) and Z added, the clamp, the store; a
 * last panel of fewer than 12 columns reads and writes only those. */
INLINE void igemm_rows(const size_t MR, size_t nc, size_t kc, size_t ks, const float *const *a,
                       size_t a_stride, size_t a_offset, const float *zero, const float *w,
                       size_t w_panel_stride, size_t k0, bool last, const float *z, float *c,
                       size_t c_stride, const eml_f32_minmax *params)
{
    const float32x4_t vmin = vdupq_n_f32(params->min);
    const float32x4_t vmax = vdupq_n_f32(params->max);
    for (;;) {
        const size_t cols = nc < NR ? nc : NR;
        /* columns of vector v: cols - 4v, at most 4 (0 or less: the panel's zero padding) */
        const size_t n1 = cols > 4 ? cols - 4 : 0, n2 = cols > 8 ? cols - 8 : 0;
        float32x4_t acc[MAX_MR][3];
        /* a later block's sum starts from 0 and is added to C at the end */
        const float32x4_t init0 = k0 == 0 ? vld1q_f32(w) : vdupq_n_f32(0.0f);
        const float32x4_t init1 = k0 == 0 ? vld1q_f32(w + 4) : vdupq_n_f32(0.0f);
        const float32x4_t init2 = k0 == 0 ? vld1q_f32(w + 8) : vdupq_n_f32(0.0f);
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            acc[i][0] = init0;
            acc[i][1] = init1;
            acc[i][2] = init2;
        }
        const float *wk = w + NR * (1 + k0);
        for (size_t t = 0; t < ks; t++) {
            const float *ap[MAX_MR];
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float *p = a[i * a_stride + t];
                ap[i] = p == zero ? p : p + a_offset;
            }
            size_t k = 0;
            for (; k + 2 <= kc; k += 2) {
                const float32x4_t w00 = vld1q_f32(wk), w01 = vld1q_f32(wk + 4);
                const float32x4_t w02 = vld1q_f32(wk + 8), w10 = vld1q_f32(wk + 12);
                const float32x4_t w11 = vld1q_f32(wk + 16), w12 = vld1q_f32(wk + 20);
                wk += 2 * NR;
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    float32x2_t va = vld1_f32(ap[i] + k);
                    /* one 64-bit load: GCC otherwise splits it into two scalar loads, and the
                     * extra registers push accumulators onto the stack */
                    __asm__("" : "+w"(va));
                    acc[i][0] = vfmaq_lane_f32(acc[i][0], w00, va, 0);
                    acc[i][1] = vfmaq_lane_f32(acc[i][1], w01, va, 0);
                    acc[i][2] = vfmaq_lane_f32(acc[i][2], w02, va, 0);
                    acc[i][0] = vfmaq_lane_f32(acc[i][0], w10, va, 1);
                    acc[i][1] = vfmaq_lane_f32(acc[i][1], w11, va, 1);
                    acc[i][2] = vfmaq_lane_f32(acc[i][2], w12, va, 1);
                }
            }
            if (k < kc) {
                const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4);
                const float32x4_t w2 = vld1q_f32(wk + 8);
                wk += NR;
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    const float32x4_t va = vld1q_dup_f32(ap[i] + k);
                    acc[i][0] = vfmaq_f32(acc[i][0], w0, va);
                    acc[i][1] = vfmaq_f32(acc[i][1], w1, va);
                    acc[i][2] = vfmaq_f32(acc[i][2], w2, va);
                }
            }
        }
        if (k0 != 0) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float *cr = c + i * c_stride;
                acc[i][0] = vaddq_f32(load_cols(cr, cols), acc[i][0]);
                acc[i][1] = vaddq_f32(load_cols(cr + 4, n1), acc[i][1]);
                acc[i][2] = vaddq_f32(load_cols(cr + 8, n2), acc[i][2]);
            }
        }
        if (last) {
            if (z) {
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    const float *zr = z + i * c_stride;
                    acc[i][0] = vaddq_f32(acc[i][0], load_cols(zr, cols));
                    acc[i][1] = vaddq_f32(acc[i][1], load_cols(zr + 4, n1));
                    acc[i][2] = vaddq_f32(acc[i][2], load_cols(zr + 8, n2));
                }
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                acc[i][0] = clamp(acc[i][0], vmin, vmax);
                acc[i][1] = clamp(acc[i][1], vmin, vmax);
                acc[i][2] = clamp(acc[i][2], vmin, vmax);
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            float *cr = c + i * c_stride;
            store_cols(cr, acc[i][0], cols);
            store_cols(cr + 4, acc[i][1], n1);
            store_cols(cr + 8, acc[i][2], n2);
        }
        if (nc <= NR)
            return;
        nc -= NR;
        w += w_panel_stride;
        c += NR;
        if (z)
            z += NR;
    }
}

/* 6 rows; fewer run a version compiled for exactly that many (no repeated rows). */
void eml_f32_igemm_6x12__neon(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                              size_t a_stride, size_t a_offset, const float *zero,
                              const float *w, size_t w_panel_stride, size_t k0, bool last,
                              const float *z, float *c, size_t c_stride,
                              const eml_f32_minmax *params)
{
#define ROWS(r)                                                                                    \
    case r:                                                                                        \
        igemm_rows(r, nc, kc, ks, a, a_stride, a_offset, zero, w, w_panel_stride, k0, last, z, c,  \
                   c_stride, params);                                                              \
        break;
    switch (mr) {
        ROWS(1)
        ROWS(2)
        ROWS(3)
        ROWS(4)
        ROWS(5)
    default:
        igemm_rows(6, nc, kc, ks, a, a_stride, a_offset, zero, w, w_panel_stride, k0, last, z, c,
                   c_stride, params);
    }
#undef ROWS
}
