/* f32 GEMM micro-kernel for AArch64 Advanced SIMD: 6 rows × 12 columns (three q registers per row,
 * 18 accumulators), A read two k at a time and multiplied by lane. */
#include <arm_neon.h>

#include "kernels/gemm.h"

#define MAX_MR 6
#define NR 12
#define INLINE static inline __attribute__((always_inline))

/* v < lo → lo, then above hi → hi: NaN and -0 pass exactly as in the reference kernel (fmax and
 * fmin would turn max(0, -0) into +0). */
INLINE float32x4_t clamp(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* The first n (< 4) floats at p, zeros elsewhere, touching nothing past n. */
INLINE float32x4_t load_part(const float *p, size_t n)
{
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

/* Stores the first n (< 4) floats of v. */
INLINE void store_part(float *p, float32x4_t v, size_t n)
{
    if (n & 2) {
        vst1_f32(p, vget_low_f32(v));
        if (n & 1)
            vst1q_lane_f32(p + 2, v, 2);
    } else if (n & 1) {
        vst1q_lane_f32(p, v, 0);
    }
}

/* One template, instantiated with constants so that the accumulators stay in registers: MR rows ×
 * NV vectors of 4 columns. NV = 3 covers whole panels; NV = 1 or 2 a last panel of at most 4 or 8
 * columns, skipping its zero vectors. Each column's sum is the same sequence of fused
 * multiply-adds (k = 0, 1, ...) in every instantiation. The k loop takes two steps at a time: one
 * 64-bit load per row of A feeds 2 × NV multiply-adds by lane. 18 accumulators, the six weight
 * vectors of the two steps and the six pairs of A (GCC loads them all ahead) fill 30 of the 32
 * vector registers: 8 rows (24 accumulators) spilled to the stack in the inner loop with GCC 12,
 * and 6 × 12 does more multiply-adds per load than 8 × 8. */
INLINE void gemm_x12(const size_t MR, const size_t NV, size_t nc, size_t k0, size_t kc,
                     const float *a, size_t a_stride, const float *w, size_t w_panel_stride,
                     float *c, size_t c_stride, const eml_f32_minmax *params)
{
    const float *ap[MAX_MR];
    float *cp[MAX_MR];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * a_stride;
        cp[i] = c + i * c_stride;
    }
    const float32x4_t vmin = vdupq_n_f32(params->min);
    const float32x4_t vmax = vdupq_n_f32(params->max);
    for (;;) {
        float32x4_t acc[MAX_MR][3];
#pragma GCC unroll 3
        for (size_t v = 0; v < NV; v++) {
            const float32x4_t init = k0 == 0 ? vld1q_f32(w + 4 * v) : vdupq_n_f32(0.0f);
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++)
                acc[i][v] = init;
        }
        const float *wk = w + NR + k0 * NR;
        size_t k = 0;
        for (; k + 2 <= kc; k += 2) {
            float32x4_t w0[3], w1[3];
#pragma GCC unroll 3
            for (size_t v = 0; v < NV; v++) {
                w0[v] = vld1q_f32(wk + 4 * v);
                w1[v] = vld1q_f32(wk + NR + 4 * v);
            }
            wk += 2 * NR;
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                float32x2_t va = vld1_f32(ap[i] + k);
                /* keeps the pair one 64-bit load: GCC otherwise splits it into two scalar loads
                 * that take two registers */
                __asm__("" : "+w"(va));
#pragma GCC unroll 3
                for (size_t v = 0; v < NV; v++)
                    acc[i][v] = vfmaq_lane_f32(acc[i][v], w0[v], va, 0);
#pragma GCC unroll 3
                for (size_t v = 0; v < NV; v++)
                    acc[i][v] = vfmaq_lane_f32(acc[i][v], w1[v], va, 1);
            }
        }
        if (k < kc) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float32x4_t va = vld1q_dup_f32(ap[i] + k);
#pragma GCC unroll 3
                for (size_t v = 0; v < NV; v++)
                    acc[i][v] = vfmaq_f32(acc[i][v], vld1q_f32(wk + 4 * v), va);
            }
        }
        w += w_panel_stride;
        const size_t cols = nc < NR ? nc : NR;
        if (k0 != 0) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
#pragma GCC unroll 3
                for (size_t v = 0; v < NV; v++) {
                    const float32x4_t cv = cols >= 4 * v + 4
                                               ? vld1q_f32(cp[i] + 4 * v)
                                               : load_part(cp[i] + 4 * v, cols - 4 * v);
                    acc[i][v] = vaddq_f32(cv, acc[i][v]);
                }
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
#pragma GCC unroll 3
            for (size_t v = 0; v < NV; v++)
                acc[i][v] = clamp(acc[i][v], vmin, vmax);
        }
        if (NV == 3 && nc >= NR) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                vst1q_f32(cp[i], acc[i][0]);
                vst1q_f32(cp[i] + 4, acc[i][1]);
                vst1q_f32(cp[i] + 8, acc[i][2]);
                cp[i] += NR;
            }
            nc -= NR;
            if (nc == 0)
                return;
        } else {
            /* the last panel: whole vectors, then a part of one (cols - 4 * v < 4 of them) */
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
#pragma GCC unroll 3
                for (size_t v = 0; v < NV; v++) {
                    if (cols >= 4 * v + 4)
                        vst1q_f32(cp[i] + 4 * v, acc[i][v]);
                    else if (cols > 4 * v)
                        store_part(cp[i] + 4 * v, acc[i][v], cols - 4 * v);
                }
            }
            return;
        }
    }
}

/* MR rows: whole panels at full width, a last panel of 1..11 columns with only the vectors it
 * needs. */
INLINE void rows_x12(const size_t MR, size_t nc, size_t k0, size_t kc, const float *a,
                     size_t a_stride, const float *w, size_t w_panel_stride, float *c,
                     size_t c_stride, const eml_f32_minmax *params)
{
    const size_t tail = nc % NR, wide = nc - tail;
    if (wide)
        gemm_x12(MR, 3, wide, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
    if (tail == 0)
        return;
    w += wide / NR * w_panel_stride;
    c += wide;
    if (tail > 8)
        gemm_x12(MR, 3, tail, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
    else if (tail > 4)
        gemm_x12(MR, 2, tail, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
    else
        gemm_x12(MR, 1, tail, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
}

/* 6 rows; fewer (the last rows of C, or M < 6) run a version compiled for exactly that many. */
void eml_f32_gemm_6x12__neon(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
                             size_t a_stride_elems, const float *w, size_t w_panel_stride_elems,
                             float *c, size_t c_stride_elems, const eml_f32_minmax *params)
{
#define ROWS(r)                                                                                    \
    case r:                                                                                        \
        rows_x12(r, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,     \
                 params);                                                                          \
        break;
    switch (mr) {
        ROWS(1)
        ROWS(2)
        ROWS(3)
        ROWS(4)
        ROWS(5)
    default:
        rows_x12(6, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,
                 params);
    }
#undef ROWS
}
