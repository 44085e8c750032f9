/* f32 indirect GEMM micro-kernel for AVX-512: 8 rows × 32 columns (two zmm per row), A broadcast
 * through one pointer per row and tap (kernels/f32_igemm.h). Eight pointers stay in registers;
 * sixteen accumulators hide the fused multiply-add latency. */
#include <immintrin.h>

#include "kernels/f32_igemm.h"

#define MR 8

void eml_f32_igemm_8x32__avx512(size_t mr, size_t nc, size_t kc, size_t ks,
                                const float *const *a, size_t a_offset, const float *zero,
                                const float *w, const float *z, float *c, size_t c_stride,
                                const eml_f32_minmax *params)
{
    /* rows past mr repeat the last row: they read valid memory and store the same values to the
     * same place, so no tail code is needed */
    float *cp[MR];
    const float *zp[MR];
    size_t row[MR];
    for (size_t i = 0; i < MR; i++) {
        row[i] = i < mr ? i : mr - 1;
        cp[i] = c + row[i] * c_stride;
        zp[i] = z ? z + row[i] * c_stride : NULL;
    }
    const __m512 vmin = _mm512_set1_ps(params->min);
    const __m512 vmax = _mm512_set1_ps(params->max);
    for (;;) {
        __m512 acc0[MR], acc1[MR];
        const __m512 bias0 = _mm512_loadu_ps(w);
        const __m512 bias1 = _mm512_loadu_ps(w + 16);
        w += 32;
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            acc0[i] = bias0;
            acc1[i] = bias1;
        }
        for (size_t t = 0; t < ks; t++) {
            const float *ap[MR];
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float *p = a[row[i] * ks + t];
                ap[i] = p == zero ? p : p + a_offset;
            }
            for (size_t k = 0; k < kc; k++) {
                const __m512 w0 = _mm512_loadu_ps(w);
                const __m512 w1 = _mm512_loadu_ps(w + 16);
                w += 32;
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    const __m512 va = _mm512_set1_ps(ap[i][k]);
                    acc0[i] = _mm512_fmadd_ps(va, w0, acc0[i]);
                    acc1[i] = _mm512_fmadd_ps(va, w1, acc1[i]);
                }
            }
        }
        const __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
        const __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
        if (z) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(m0, zp[i]));
                acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(m1, zp[i] + 16));
                zp[i] += 32;
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            /* max(min, x) and min(max, x) return x when x is NaN */
            acc0[i] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc0[i]));
            acc1[i] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc1[i]));
            _mm512_mask_storeu_ps(cp[i], m0, acc0[i]);
            _mm512_mask_storeu_ps(cp[i] + 16, m1, acc1[i]);
            cp[i] += 32;
        }
        if (nc <= 32)
            return;
        nc -= 32;
    }
}
