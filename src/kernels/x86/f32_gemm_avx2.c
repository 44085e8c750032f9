/* f32 GEMM micro-kernels for AVX2 + FMA: MR rows × 16 columns (two ymm per row), broadcast A. */
#include <immintrin.h>

#include "kernels/gemm.h"

#define MAX_MR 8
#define PREFETCH_BYTES 1024

/* Stores the first n (< 8) floats of v: 4, 2, 1 at a time, so nothing past n is touched. */
static inline __attribute__((always_inline)) void store_tail(float *c, __m256 v, size_t n)
{
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(c, h);
        h = _mm256_extractf128_ps(v, 1);
        c += 4;
    }
    if (n & 2) {
        _mm_storel_pi((__m64 *)c, h);
        h = _mm_movehl_ps(h, h);
        c += 2;
    }
    if (n & 1)
        _mm_store_ss(c, h);
}

/* Loads the first n (< 8) floats at c, zeros elsewhere, touching nothing past n. */
static inline __attribute__((always_inline)) __m256 load_tail(const float *c, size_t n)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), iota);
    return _mm256_maskload_ps(c, mask);
}

/* One template, instantiated with constants so that the accumulators stay in the 16 ymm
 * registers: MR rows × NV vectors of 8 columns (MR=6, NV=2: 12 accumulators, 2 weight vectors, 1
 * broadcast). NV = 2 covers whole panels (and a last one of 9..15 columns); NV = 1 a last panel
 * of at most 8 columns, skipping the zero half. Each column's sum is the same sequence of fused
 * multiply-adds in every instantiation. */
static inline __attribute__((always_inline)) void
gemm_x16(const size_t MR, const size_t NV, size_t nc, size_t k0, size_t kc, const float *a,
         size_t a_stride, const float *w, size_t w_panel_stride, float *c, size_t c_stride,
         const eml_f32_minmax *params)
{
    const float *ap[MAX_MR];
    float *cp[MAX_MR];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        ap[i] = a + i * a_stride;
        cp[i] = c + i * c_stride;
    }
    const __m256 vmin = _mm256_set1_ps(params->min);
    const __m256 vmax = _mm256_set1_ps(params->max);
    for (;;) {
        __m256 acc0[MAX_MR], acc1[MAX_MR];
        __m256 init0 = _mm256_setzero_ps(), init1 = _mm256_setzero_ps();
        if (k0 == 0) {
            init0 = _mm256_loadu_ps(w);
            if (NV == 2)
                init1 = _mm256_loadu_ps(w + 8);
        } else {
            /* C is read after the loop: start fetching it now */
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                _mm_prefetch((const char *)cp[i], _MM_HINT_T0);
                _mm_prefetch((const char *)((uintptr_t)cp[i] + NV * 32 - 4), _MM_HINT_T0);
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            acc0[i] = init0;
            acc1[i] = init1;
        }
        const float *wk = w + 16 + k0 * 16;
        for (size_t k = 0; k < kc; k++) {
            const __m256 w0 = _mm256_loadu_ps(wk);
            const __m256 w1 = NV == 2 ? _mm256_loadu_ps(wk + 8) : _mm256_setzero_ps();
            wk += 16;
            /* one row of A PREFETCH_BYTES ahead per step, in turn (many rows are more streams
             * than the hardware prefetcher follows well), and the weights' line as far ahead;
             * prefetches never fault */
            if (MR >= 4)
                _mm_prefetch((const char *)((uintptr_t)(ap[k % MR] + k) + PREFETCH_BYTES),
                             _MM_HINT_T0);
            _mm_prefetch((const char *)((uintptr_t)wk + PREFETCH_BYTES), _MM_HINT_T0);
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const __m256 va = _mm256_broadcast_ss(ap[i] + k);
                acc0[i] = _mm256_fmadd_ps(va, w0, acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm256_fmadd_ps(va, w1, acc1[i]);
            }
        }
        w += w_panel_stride;
        if (k0 != 0) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                __m256 c0, c1 = _mm256_setzero_ps();
                if (nc >= 16) {
                    c0 = _mm256_loadu_ps(cp[i]);
                    c1 = _mm256_loadu_ps(cp[i] + 8);
                } else if (nc >= 8) {
                    c0 = _mm256_loadu_ps(cp[i]);
                    if (NV == 2)
                        c1 = load_tail(cp[i] + 8, nc - 8);
                } else {
                    c0 = load_tail(cp[i], nc);
                }
                acc0[i] = _mm256_add_ps(c0, acc0[i]);
                if (NV == 2)
                    acc1[i] = _mm256_add_ps(c1, acc1[i]);
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            /* max(min, x) and min(max, x) return x when x is NaN */
            acc0[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc0[i]));
            if (NV == 2)
                acc1[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc1[i]));
        }
        if (NV == 2 && nc >= 16) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                _mm256_storeu_ps(cp[i], acc0[i]);
                _mm256_storeu_ps(cp[i] + 8, acc1[i]);
                cp[i] += 16;
            }
            nc -= 16;
            if (nc == 0)
                return;
        } else {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                float *dst = cp[i];
                __m256 v = acc0[i];
                if (nc & 8) {
                    _mm256_storeu_ps(dst, v);
                    v = acc1[i];
                    dst += 8;
                }
                store_tail(dst, v, nc & 7);
            }
            return;
        }
    }
}

/* MR rows: the panels of 9..16 columns at full width, a last panel of at most 8 at half. */
static inline __attribute__((always_inline)) void
rows_x16(const size_t MR, size_t nc, size_t k0, size_t kc, const float *a, size_t a_stride,
         const float *w, size_t w_panel_stride, float *c, size_t c_stride,
         const eml_f32_minmax *params)
{
    const size_t tail = nc % 16;
    const size_t wide = tail != 0 && tail <= 8 ? nc - tail : nc;
    if (wide)
        gemm_x16(MR, 2, wide, k0, kc, a, a_stride, w, w_panel_stride, c, c_stride, params);
    if (wide < nc)
        gemm_x16(MR, 1, tail, k0, kc, a, a_stride, w + wide / 16 * w_panel_stride,
                 w_panel_stride, c + wide, c_stride, params);
}

/* 6 rows; fewer (the last rows of C, or M < 6) run a version compiled for exactly that many, so
 * no work is wasted on copies of rows. */
void eml_f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
                             size_t a_stride_elems, const float *w, size_t w_panel_stride_elems,
                             float *c, size_t c_stride_elems, const eml_f32_minmax *params)
{
#define ROWS(r)                                                                                    \
    case r:                                                                                        \
        rows_x16(r, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,     \
                 params);                                                                          \
        break;
    switch (mr) {
        ROWS(1)
        ROWS(2)
        ROWS(3)
        ROWS(4)
        ROWS(5)
    default:
        rows_x16(6, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c, c_stride_elems,
                 params);
    }
#undef ROWS
}
