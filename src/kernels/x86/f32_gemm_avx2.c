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

/* One template for every MR, instantiated with constants so that the accumulators stay in the
 * 16 ymm registers (MR=6: 12 accumulators, 2 weight vectors, 1 broadcast). */
static inline __attribute__((always_inline)) void
gemm_x16(const size_t MR, size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
         size_t a_stride, const float *w, size_t w_panel_stride, float *c, size_t c_stride,
         const eml_f32_minmax *params)
{
    /* rows past mr repeat the last row: valid reads, identical stores to the same place */
    const float *ap[MAX_MR];
    float *cp[MAX_MR];
    ap[0] = a;
    cp[0] = c;
#pragma GCC unroll 8
    for (size_t i = 1; i < MR; i++) {
        ap[i] = i < mr ? ap[i - 1] + a_stride : ap[i - 1];
        cp[i] = i < mr ? cp[i - 1] + c_stride : cp[i - 1];
    }
    const __m256 vmin = _mm256_set1_ps(params->min);
    const __m256 vmax = _mm256_set1_ps(params->max);
    for (;;) {
        __m256 acc0[MAX_MR], acc1[MAX_MR];
        __m256 init0 = _mm256_setzero_ps(), init1 = _mm256_setzero_ps();
        if (k0 == 0) {
            init0 = _mm256_loadu_ps(w);
            init1 = _mm256_loadu_ps(w + 8);
        } else {
            /* C is read after the loop: start fetching it now */
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                _mm_prefetch((const char *)cp[i], _MM_HINT_T0);
                _mm_prefetch((const char *)((uintptr_t)cp[i] + 60), _MM_HINT_T0);
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
            const __m256 w1 = _mm256_loadu_ps(wk + 8);
            wk += 16;
            /* one row of A PREFETCH_BYTES ahead per step, in turn (the rows are MR streams), and
             * the line of weights the step after next-but-many needs; prefetches never fault */
            _mm_prefetch((const char *)((uintptr_t)(ap[k % MR] + k) + PREFETCH_BYTES),
                         _MM_HINT_T0);
            _mm_prefetch((const char *)((uintptr_t)wk + PREFETCH_BYTES), _MM_HINT_T0);
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const __m256 va = _mm256_broadcast_ss(ap[i] + k);
                acc0[i] = _mm256_fmadd_ps(va, w0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(va, w1, acc1[i]);
            }
        }
        w += w_panel_stride;
        if (k0 != 0) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                __m256 c0, c1;
                if (nc >= 16) {
                    c0 = _mm256_loadu_ps(cp[i]);
                    c1 = _mm256_loadu_ps(cp[i] + 8);
                } else if (nc >= 8) {
                    c0 = _mm256_loadu_ps(cp[i]);
                    c1 = load_tail(cp[i] + 8, nc - 8);
                } else {
                    c0 = load_tail(cp[i], nc);
                    c1 = _mm256_setzero_ps();
                }
                acc0[i] = _mm256_add_ps(c0, acc0[i]);
                acc1[i] = _mm256_add_ps(c1, acc1[i]);
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            /* max(min, x) and min(max, x) return x when x is NaN */
            acc0[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc0[i]));
            acc1[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc1[i]));
        }
        if (nc >= 16) {
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

#define DEFINE_X16(MR)                                                                             \
    void eml_f32_gemm_##MR##x16__avx2(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,   \
                                      size_t a_stride_elems, const float *w,                       \
                                      size_t w_panel_stride_elems, float *c,                       \
                                      size_t c_stride_elems, const eml_f32_minmax *params)         \
    {                                                                                              \
        gemm_x16(MR, mr, nc, k0, kc, a, a_stride_elems, w, w_panel_stride_elems, c,                \
                 c_stride_elems, params);                                                          \
    }

DEFINE_X16(6)
