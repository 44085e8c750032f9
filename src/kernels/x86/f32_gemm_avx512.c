/* f32 GEMM micro-kernels for AVX-512: MR rows × 32 columns (two zmm per row), broadcast A. */
#include <immintrin.h>
#include <math.h>

#include "kernels/gemm.h"

#define MAX_MR 16
#define PREFETCH_BYTES 1024
/* The weights run further ahead: a conv's panels come from memory on their first pass (mnasnet's
 * 17 MB of weights do not stay in cache between runs), and 32 steps of K cover that latency
 * (7 x 7 192 <-> 1152 convs with 35 MB of weights 180 -> 173 us; mnasnet's wide convs summed
 * 1640 -> 1501 us; L2-resident shapes unchanged) */
#define W_PREFETCH_BYTES 4096

/* One template, instantiated with constants so that the loops over rows unroll and the
 * accumulators live in registers: MR rows (up to 14 fit the 32 zmm registers) × NV vectors of 16
 * columns. NV = 2 covers whole panels (and a last one of 17..31 columns, masked); NV = 1 a last
 * panel of at most 16 columns, skipping the zero half. Each column's sum is the same sequence of
 * fused multiply-adds in every instantiation, so results do not depend on which one ran. */
static inline __attribute__((always_inline)) void
gemm_x32(const size_t MR, const size_t NV, size_t nc, size_t k0, size_t kc, const float *a,
         size_t a_stride, const float *w, size_t w_panel_stride, float *c, size_t c_stride,
         const eml_f32_minmax *params)
{
    const float *ap[MAX_MR];
    float *cp[MAX_MR];
#pragma GCC unroll 16
    for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * a_stride;
        cp[i] = c + i * c_stride;
    }
    const __m512 vmin = _mm512_set1_ps(params->min);
    const __m512 vmax = _mm512_set1_ps(params->max);
    const bool clamp_lo = params->min != -INFINITY, clamp_hi = params->max != INFINITY;
    for (;;) {
        __m512 acc0[MAX_MR], acc1[MAX_MR];
        __m512 init0 = _mm512_setzero_ps(), init1 = _mm512_setzero_ps();
        if (k0 == 0) {
            init0 = _mm512_loadu_ps(w);
            if (NV == 2)
                init1 = _mm512_loadu_ps(w + 16);
        } else {
            /* C is read after the loop: start fetching it now */
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                _mm_prefetch((const char *)cp[i], _MM_HINT_T0);
                _mm_prefetch((const char *)((uintptr_t)cp[i] + NV * 64 - 4), _MM_HINT_T0);
            }
        }
#pragma GCC unroll 16
        for (size_t i = 0; i < MR; i++) {
            acc0[i] = init0;
            acc1[i] = init1;
        }
        const float *wk = w + 32 + k0 * 32;
        for (size_t k = 0; k < kc; k++) {
            const __m512 w0 = _mm512_loadu_ps(wk);
            const __m512 w1 = NV == 2 ? _mm512_loadu_ps(wk + 16) : _mm512_setzero_ps();
            wk += 32;
            /* Many rows of A are more streams than the hardware prefetcher follows well on
             * their first pass: fetch one row PREFETCH_BYTES ahead per step, in turn (MR steps
             * <= 16 floats, so every line of every row is covered). The weights: two lines per
             * step, W_PREFETCH_BYTES ahead. Prefetches never fault, so running past the end of
             * either array is harmless; the address is formed as an integer to keep C happy. A
             * panel of one vector (16 columns or fewer: 112x112 32->16) is bound by its loads, 8
             * broadcasts and a weight vector for 8 multiply-adds, and its panel stays in L1:
             * it prefetches nothing (12544x16x32 52-58 -> 62-64 GMAC/s). */
            if (MR >= 4 && NV == 2)
                _mm_prefetch((const char *)((uintptr_t)(ap[k % MR] + k) + PREFETCH_BYTES),
                             _MM_HINT_T0);
            if (NV == 2) {
                _mm_prefetch((const char *)((uintptr_t)wk + W_PREFETCH_BYTES), _MM_HINT_T0);
                _mm_prefetch((const char *)((uintptr_t)wk + W_PREFETCH_BYTES + 64), _MM_HINT_T0);
            }
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                const __m512 va = _mm512_set1_ps(ap[i][k]);
                acc0[i] = _mm512_fmadd_ps(va, w0, acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm512_fmadd_ps(va, w1, acc1[i]);
            }
        }
        w += w_panel_stride;
        const __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
        const __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
        if (k0 != 0) {
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                acc0[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cp[i]), acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cp[i] + 16), acc1[i]);
            }
        }
        /* max(min, x) and min(max, x) return x when x is NaN; an infinite bound (no
         * activation, Relu's max, a K block before the last) is skipped */
        if (clamp_lo) {
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                acc0[i] = _mm512_max_ps(vmin, acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm512_max_ps(vmin, acc1[i]);
            }
        }
        if (clamp_hi) {
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                acc0[i] = _mm512_min_ps(vmax, acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm512_min_ps(vmax, acc1[i]);
            }
        }
        if (NV == 2 && nc >= 32) {
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                _mm512_storeu_ps(cp[i], acc0[i]);
                _mm512_storeu_ps(cp[i] + 16, acc1[i]);
                cp[i] += 32;
            }
            nc -= 32;
            if (nc == 0)
                return;
        } else {
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                _mm512_mask_storeu_ps(cp[i], m0, acc0[i]);
                if (NV == 2)
                    _mm512_mask_storeu_ps(cp[i] + 16, m1, acc1[i]);
            }
            return;
        }
    }
}

/* MR rows: the panels of 17..32 columns at full width, a last panel of at most 16 at half. */
static inline __attribute__((always_inline)) void
rows_x32(const size_t MR, size_t nc, size_t k0, size_t kc, const float *a, size_t a_stride,
         const float *w, size_t w_panel_stride, float *c, size_t c_stride,
         const eml_f32_minmax *params)
{
    const size_t tail = nc % 32;
    const size_t wide = tail != 0 && tail <= 16 ? nc - tail : nc;
    if (wide)
        gemm_x32(MR, 2, wide, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
    if (wide < nc)
        gemm_x32(MR, 1, tail, k0, kc, a, a_stride, w + wide / 32 * w_panel_stride,
                 w_panel_stride, c + wide, c_stride, params);
}

/* 8 rows; fewer (the last rows of C, or a product with M < 8) run a version compiled for exactly
 * that many, so no work is wasted on copies of rows. */
void eml_f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
                               size_t a_stride_elems, const float *w, size_t w_panel_stride_elems,
                               float *c, size_t c_stride_elems, const eml_f32_minmax *params)
{
#define ROWS(r)                                                                                    \
    case r:                                                                                        \
        rows_x32(r, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,     \
                 params);                                                                          \
        break;
    switch (mr) {
        ROWS(1)
        ROWS(2)
        ROWS(3)
        ROWS(4)
        ROWS(5)
        ROWS(6)
        ROWS(7)
    default:
        rows_x32(8, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,
                 params);
    }
#undef ROWS
}
