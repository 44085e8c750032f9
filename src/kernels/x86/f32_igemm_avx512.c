/* f32 indirect GEMM micro-kernels for AVX-512: MR rows × 32 columns (two zmm per row), A broadcast
 * through one pointer per row and tap (kernels/f32_igemm.h). MR = 8 or 7: the row pointers stay in
 * general registers, 14 or 16 accumulators hide the fused multiply-add latency, and 7 rows tile
 * the 7 × 7, 14 × 14, ... images of classifier CNNs without a partial tile. */
#include <immintrin.h>

#include "kernels/f32_igemm.h"

#define NR 32
/* Row i of the call: rows past mr repeat the last one. */
#define ROW(i) ((i) < mr ? (i) : mr - 1)

/* One template for both MR; each exported kernel instantiates it with a constant MR, so the
 * loops over rows unroll and the accumulators live in registers. */
static inline __attribute__((always_inline)) void
igemm_x32(const size_t MR, size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
          size_t a_stride, size_t a_offset, const float *zero, const float *w,
          size_t w_panel_stride, size_t k0, bool last, const float *z, float *c, size_t c_stride,
          const eml_f32_minmax *params)
{
    /* rows past mr repeat the last row: they read valid memory and store the same values to the
     * same place, so no tail code is needed */
    /* row offsets are recomputed where they are used rather than kept: the inner loop needs
     * the general registers for its eight (six) row pointers */
    const __m512 vmin = _mm512_set1_ps(params->min);
    const __m512 vmax = _mm512_set1_ps(params->max);
    for (;;) {
        const __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
        const __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
        __m512 acc0[8], acc1[8];
        /* a later block's sum starts from 0 and is added to C at the end (one value fills every
         * accumulator: the simplest data flow for the register allocator) */
        const __m512 init0 = k0 == 0 ? _mm512_loadu_ps(w) : _mm512_setzero_ps();
        const __m512 init1 = k0 == 0 ? _mm512_loadu_ps(w + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            acc0[i] = init0;
            acc1[i] = init1;
        }
        const float *wk = w + NR * (1 + k0);
        for (size_t t = 0; t < ks; t++) {
            const float *ap[8];
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float *p = a[ROW(i) * a_stride + t];
                ap[i] = p == zero ? p : p + a_offset;
            }
            for (size_t k = 0; k < kc; k++) {
                const __m512 w0 = _mm512_loadu_ps(wk);
                const __m512 w1 = _mm512_loadu_ps(wk + 16);
                wk += NR;
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    const __m512 va = _mm512_set1_ps(ap[i][k]);
                    acc0[i] = _mm512_fmadd_ps(va, w0, acc0[i]);
                    acc1[i] = _mm512_fmadd_ps(va, w1, acc1[i]);
                }
            }
        }
        if (k0 != 0) {
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const float *cr = c + ROW(i) * c_stride;
                acc0[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), acc0[i]);
                acc1[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), acc1[i]);
            }
        }
        if (last) {
            if (z) {
#pragma GCC unroll 8
                for (size_t i = 0; i < MR; i++) {
                    const float *zr = z + ROW(i) * c_stride;
                    acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(m0, zr));
                    acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(m1, zr + 16));
                }
            }
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                /* max(min, x) and min(max, x) return x when x is NaN */
                acc0[i] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc0[i]));
                acc1[i] = _mm512_min_ps(vmax, _mm512_max_ps(vmin, acc1[i]));
            }
        }
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            float *cr = c + ROW(i) * c_stride;
            _mm512_mask_storeu_ps(cr, m0, acc0[i]);
            _mm512_mask_storeu_ps(cr + 16, m1, acc1[i]);
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

#define DEFINE_X32(MR)                                                                             \
    void eml_f32_igemm_##MR##x32__avx512(size_t mr, size_t nc, size_t kc, size_t ks,               \
                                         const float *const *a, size_t a_stride, size_t a_offset,  \
                                         const float *zero, const float *w, size_t w_panel_stride, \
                                         size_t k0, bool last, const float *z, float *c,           \
                                         size_t c_stride, const eml_f32_minmax *params)            \
    {                                                                                              \
        igemm_x32(MR, mr, nc, kc, ks, a, a_stride, a_offset, zero, w, w_panel_stride, k0, last, z, \
                  c, c_stride, params);                                                            \
    }

DEFINE_X32(8)
DEFINE_X32(7)
