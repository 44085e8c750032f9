/* f32 indirect GEMM micro-kernel for AVX2+FMA: 6 rows × 16 columns (two ymm per row), A broadcast
 * through one pointer per row and tap (kernels/f32_igemm.h). */
#include <immintrin.h>

#include "kernels/f32_igemm.h"

#define MR 6
#define NR 16
/* Row i of the call: rows past mr repeat the last one. */
#define ROW(i) ((i) < mr ? (i) : mr - 1)

/* Lanes 0 .. n-1 of a ymm (n <= 8): maskload and maskstore touch no memory in the others. */
static inline __m256i tail_mask(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void eml_f32_igemm_6x16__avx2(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                              size_t a_stride, size_t a_offset, const float *zero,
                              const float *w, size_t w_panel_stride, size_t k0, bool last,
                              const float *z, float *c, size_t c_stride,
                              const eml_f32_minmax *params)
{
    /* rows past mr repeat the last row (see the AVX-512 kernel) */
    /* row offsets are recomputed where they are used rather than kept: the inner loop needs
     * the general registers for its eight (six) row pointers */
    const __m256 vmin = _mm256_set1_ps(params->min);
    const __m256 vmax = _mm256_set1_ps(params->max);
    for (;;) {
        const __m256i m0 = tail_mask(nc >= 8 ? 8 : nc);
        const __m256i m1 = tail_mask(nc >= 16 ? 8 : nc > 8 ? nc - 8 : 0);
        __m256 acc0[MR], acc1[MR];
        /* a later block's sum starts from 0 and is added to C at the end */
        const __m256 init0 = k0 == 0 ? _mm256_loadu_ps(w) : _mm256_setzero_ps();
        const __m256 init1 = k0 == 0 ? _mm256_loadu_ps(w + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
        for (size_t i = 0; i < MR; i++) {
            acc0[i] = init0;
            acc1[i] = init1;
        }
        const float *wk = w + NR * (1 + k0);
        for (size_t t = 0; t < ks; t++) {
            const float *ap[MR];
#pragma GCC unroll 6
            for (size_t i = 0; i < MR; i++) {
                const float *p = a[ROW(i) * a_stride + t];
                ap[i] = p == zero ? p : p + a_offset;
            }
            for (size_t k = 0; k < kc; k++) {
                const __m256 w0 = _mm256_loadu_ps(wk);
                const __m256 w1 = _mm256_loadu_ps(wk + 8);
                wk += NR;
#pragma GCC unroll 6
                for (size_t i = 0; i < MR; i++) {
                    const __m256 va = _mm256_broadcast_ss(ap[i] + k);
                    acc0[i] = _mm256_fmadd_ps(va, w0, acc0[i]);
                    acc1[i] = _mm256_fmadd_ps(va, w1, acc1[i]);
                }
            }
        }
        if (k0 != 0) {
#pragma GCC unroll 6
            for (size_t i = 0; i < MR; i++) {
                const float *cr = c + ROW(i) * c_stride;
                acc0[i] = _mm256_add_ps(_mm256_maskload_ps(cr, m0), acc0[i]);
                acc1[i] = _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), acc1[i]);
            }
        }
        if (last) {
            if (z) {
#pragma GCC unroll 6
                for (size_t i = 0; i < MR; i++) {
                    const float *zr = z + ROW(i) * c_stride;
                    acc0[i] = _mm256_add_ps(acc0[i], _mm256_maskload_ps(zr, m0));
                    acc1[i] = _mm256_add_ps(acc1[i], _mm256_maskload_ps(zr + 8, m1));
                }
            }
#pragma GCC unroll 6
            for (size_t i = 0; i < MR; i++) {
                acc0[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc0[i]));
                acc1[i] = _mm256_min_ps(vmax, _mm256_max_ps(vmin, acc1[i]));
            }
        }
#pragma GCC unroll 6
        for (size_t i = 0; i < MR; i++) {
            float *cr = c + ROW(i) * c_stride;
            _mm256_maskstore_ps(cr, m0, acc0[i]);
            _mm256_maskstore_ps(cr + 8, m1, acc1[i]);
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
