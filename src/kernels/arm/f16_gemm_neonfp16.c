/* f16 GEMM micro-kernel for AArch64 with half-precision arithmetic (FEAT_FP16, compiled with
 * -march=armv8.2-a+fp16): 6 rows × 16 columns (two vectors of 8 halves per row, 12 accumulators),
 * A read eight k at a time and multiplied by lane (fmla v.8h, v.8h, v.h[l]), the float16 sums
 * widened to float32 for the bias and clamp; and the float32 → float16 conversion of A. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/f16_gemm.h"

#define MAX_MR 6
#define NR 16
#define INLINE static inline __attribute__((always_inline))

/* Loads of float16 data stored as uint16_t: through the integer type, then reinterpreted, so no
 * object is read through an lvalue of another type. */
INLINE float16x8_t load8(const uint16_t *p)
{
    return vreinterpretq_f16_u16(vld1q_u16(p));
}

INLINE float16x8_t load_dup(const uint16_t *p)
{
    return vreinterpretq_f16_u16(vld1q_dup_u16(p));
}

/* v < lo → lo, then above hi → hi: NaN and -0 pass as in the reference clamp. */
INLINE float32x4_t clamp(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
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

/* One step k + L of the sum, L a literal lane of the eight A values held per row. */
#define STEP(L)                                                                                    \
    do {                                                                                           \
        float16x8_t w0_ = load8(wk + (L)*NR), w1_ = w0_;                                           \
        if (NV == 2)                                                                               \
            w1_ = load8(wk + (L)*NR + 8);                                                          \
        _Pragma("GCC unroll 8") for (size_t i = 0; i < MR; i++)                                    \
        {                                                                                          \
            acc[i][0] = vfmaq_laneq_f16(acc[i][0], w0_, va[i], L);                                 \
            if (NV == 2)                                                                           \
                acc[i][1] = vfmaq_laneq_f16(acc[i][1], w1_, va[i], L);                             \
        }                                                                                          \
    } while (0)

/* MR rows × NV vectors of 8 columns (NV = 2: whole panels; NV = 1: a last panel of at most 8
 * columns, skipping its zero half), instantiated with constants so that the accumulators stay in
 * registers. Every column's sum is the same sequence of float16 fused multiply-adds (k = 0, 1,
 * ...) in every instantiation. */
INLINE void gemm_x16(const size_t MR, const size_t NV, size_t nc, size_t kc, const uint16_t *a,
                     size_t a_stride, const uint16_t *w, size_t w_panel_stride, const float *bias,
                     float *c, size_t c_stride, const eml_f32_minmax *params)
{
    const uint16_t *ap[MAX_MR];
    float *cp[MAX_MR];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * a_stride;
        cp[i] = c + i * c_stride;
    }
    const float32x4_t vmin = vdupq_n_f32(params->min);
    const float32x4_t vmax = vdupq_n_f32(params->max);
    for (;;) {
        float16x8_t acc[MAX_MR][2];
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            acc[i][0] = vdupq_n_f16(0);
            acc[i][1] = vdupq_n_f16(0);
        }
        const uint16_t *wk = w;
        size_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            float16x8_t va[MAX_MR];
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++)
                va[i] = load8(ap[i] + k);
            STEP(0);
            STEP(1);
            STEP(2);
            STEP(3);
            STEP(4);
            STEP(5);
            STEP(6);
            STEP(7);
            wk += 8 * NR;
        }
        for (; k < kc; k++) {
            const float16x8_t w0 = load8(wk);
            const float16x8_t w1 = NV == 2 ? load8(wk + 8) : w0;
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float16x8_t va = load_dup(ap[i] + k);
                acc[i][0] = vfmaq_f16(acc[i][0], w0, va);
                if (NV == 2)
                    acc[i][1] = vfmaq_f16(acc[i][1], w1, va);
            }
            wk += NR;
        }
        w += w_panel_stride;
        /* widen, add the bias and clamp in float32: four vectors of 4 columns per row */
        float32x4_t vb[4];
#pragma GCC unroll 4
        for (size_t v = 0; v < 2 * NV; v++)
            vb[v] = vld1q_f32(bias + 4 * v);
        bias += NR;
        const size_t cols = nc < NR ? nc : NR;
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            float32x4_t out[4];
#pragma GCC unroll 2
            for (size_t h = 0; h < NV; h++) {
                out[2 * h] = vcvt_f32_f16(vget_low_f16(acc[i][h]));
                out[2 * h + 1] = vcvt_high_f32_f16(acc[i][h]);
            }
#pragma GCC unroll 4
            for (size_t v = 0; v < 2 * NV; v++) {
                out[v] = clamp(vaddq_f32(out[v], vb[v]), vmin, vmax);
                if (cols >= 4 * v + 4)
                    vst1q_f32(cp[i] + 4 * v, out[v]);
                else if (cols > 4 * v)
                    store_part(cp[i] + 4 * v, out[v], cols - 4 * v);
            }
            cp[i] += NR;
        }
        if (nc <= NR)
            return;
        nc -= NR;
    }
}

/* MR rows: whole panels with both vectors, a last panel of 1..8 columns with one. */
INLINE void rows_x16(const size_t MR, size_t nc, size_t kc, const uint16_t *a, size_t a_stride,
                     const uint16_t *w, size_t w_panel_stride, const float *bias, float *c,
                     size_t c_stride, const eml_f32_minmax *params)
{
    const size_t tail = nc % NR, wide = nc - tail;
    if (wide)
        gemm_x16(MR, 2, wide, kc, a, a_stride, w, w_panel_stride, bias, c, c_stride, params);
    if (tail == 0)
        return;
    const size_t panels = wide / NR;
    w += panels * w_panel_stride;
    bias += panels * NR;
    c += wide;
    if (tail > 8)
        gemm_x16(MR, 2, tail, kc, a, a_stride, w, w_panel_stride, bias, c, c_stride, params);
    else
        gemm_x16(MR, 1, tail, kc, a, a_stride, w, w_panel_stride, bias, c, c_stride, params);
}

/* 6 rows; fewer (the last rows of C, or M < 6) run a version compiled for exactly that many. */
void eml_f16_gemm_6x16__neonfp16(size_t mr, size_t nc, size_t kc, const uint16_t *a,
                                 size_t a_stride_elems, const uint16_t *w,
                                 size_t w_panel_stride_elems, const float *bias, float *c,
                                 size_t c_stride_elems, const eml_f32_minmax *params)
{
#define ROWS(r)                                                                                    \
    case r:                                                                                        \
        rows_x16(r, nc, kc, a, a_stride_elems, w, w_panel_stride_elems, bias, c, c_stride_elems,   \
                 params);                                                                          \
        break;
    switch (mr) {
        ROWS(1)
        ROWS(2)
        ROWS(3)
        ROWS(4)
        ROWS(5)
    default:
        rows_x16(6, nc, kc, a, a_stride_elems, w, w_panel_stride_elems, bias, c, c_stride_elems,
                 params);
    }
#undef ROWS
}

void eml_f32_to_f16__neonfp16(size_t n, const float *x, uint16_t *y)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h =
            vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
        vst1q_u16(y + i, vreinterpretq_u16_f16(h));
    }
    for (; i < n; i++) {
        /* fcvt: round to nearest even, as the vector conversion */
        const float16_t h = (float16_t)x[i];
        memcpy(&y[i], &h, sizeof(h));
    }
}
