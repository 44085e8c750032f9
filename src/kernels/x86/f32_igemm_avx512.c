/* f32 indirect GEMM micro-kernels for AVX-512: MR rows × NR columns (NR / 16 zmm per row), A
 * broadcast through one pointer per row and tap (kernels/f32_igemm.h). 8 × 32 keeps 16
 * accumulators and 8 row pointers in registers; its alternative 7 × 32 tiles the 7 × 7,
 * 14 × 14, ... images of classifier CNNs without a partial tile. */
#include <immintrin.h>

#include "kernels/f32_igemm.h"

/* Row i of the call: rows past mr repeat the last one. */
#define ROW(i) ((i) < mr ? (i) : mr - 1)
#define MAX_MR 8
#define MAX_NV 4

/* Lanes of vector v of a panel with nc columns. */
static inline __mmask16 lanes(size_t nc, size_t v)
{
    const size_t c0 = v * 16;
    return (__mmask16)(nc >= c0 + 16 ? 0xffff : nc > c0 ? (1u << (nc - c0)) - 1 : 0);
}

/* One template for every MR and NV vectors of 16 columns, over one panel packed PNR columns
 * wide; each exported kernel instantiates it with constants, so the loops over rows and vectors
 * unroll and the accumulators live in registers. Rows past mr repeat the last row: they read
 * valid memory and store the same values to the same place, so no tail code is needed. Row
 * offsets are recomputed where they are used rather than kept: the inner loop needs the general
 * registers for its row pointers. */
static inline __attribute__((always_inline)) void
igemm_panel(const size_t MR, const size_t NV, const size_t PNR, size_t mr, size_t nc, size_t kc,
            size_t ks, const float *const *a, size_t a_stride, size_t a_offset, const float *zero,
            const float *w, size_t k0, bool last, const float *z, float *c, size_t c_stride,
            __m512 vmin, __m512 vmax)
{
    __mmask16 m[MAX_NV];
    __m512 acc[MAX_MR][MAX_NV];
#pragma GCC unroll 4
    for (size_t v = 0; v < NV; v++) {
        m[v] = lanes(nc, v);
        /* a later block's sum starts from 0 and is added to C at the end (one value fills
         * every accumulator: the simplest data flow for the register allocator) */
        const __m512 init = k0 == 0 ? _mm512_loadu_ps(w + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++)
            acc[i][v] = init;
    }
    const float *wk = w + PNR * (1 + k0);
    for (size_t t = 0; t < ks; t++) {
        const float *ap[MAX_MR];
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            const float *p = a[ROW(i) * a_stride + t];
            ap[i] = p == zero ? p : p + a_offset;
        }
        for (size_t k = 0; k < kc; k++) {
            __m512 wv[MAX_NV];
#pragma GCC unroll 4
            for (size_t v = 0; v < NV; v++)
                wv[v] = _mm512_loadu_ps(wk + v * 16);
            wk += PNR;
#pragma GCC unroll 8
            for (size_t i = 0; i < MR; i++) {
                const __m512 va = _mm512_set1_ps(ap[i][k]);
#pragma GCC unroll 4
                for (size_t v = 0; v < NV; v++)
                    acc[i][v] = _mm512_fmadd_ps(va, wv[v], acc[i][v]);
            }
        }
    }
    /* every row reads C before any is written: rows past mr repeat row mr - 1 */
    if (k0 != 0) {
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            const float *cr = c + ROW(i) * c_stride;
#pragma GCC unroll 4
            for (size_t v = 0; v < NV; v++)
                acc[i][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], cr + v * 16), acc[i][v]);
        }
    }
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        float *cr = c + ROW(i) * c_stride;
        const float *zr = z ? z + ROW(i) * c_stride : NULL;
#pragma GCC unroll 4
        for (size_t v = 0; v < NV; v++) {
            __m512 r = acc[i][v];
            if (last) {
                if (zr)
                    r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m[v], zr + v * 16));
                /* max(min, x) and min(max, x) return x when x is NaN */
                r = _mm512_min_ps(vmax, _mm512_max_ps(vmin, r));
            }
            _mm512_mask_storeu_ps(cr + v * 16, m[v], r);
        }
    }
}

/* Every panel of nc columns, NR = NV * 16 wide; with NV = 2 a last panel of at most 16 columns
 * runs at half width, skipping the zero half (a 16- or 24-channel stem, say). Each column's sum
 * is the same sequence of fused multiply-adds either way, so results do not depend on it. */
static inline __attribute__((always_inline)) void
igemm_x16n(const size_t MR, const size_t NV, size_t mr, size_t nc, size_t kc, size_t ks,
           const float *const *a, size_t a_stride, size_t a_offset, const float *zero,
           const float *w, size_t w_panel_stride, size_t k0, bool last, const float *z, float *c,
           size_t c_stride, const eml_f32_minmax *params)
{
    const size_t NR = NV * 16;
    const __m512 vmin = _mm512_set1_ps(params->min);
    const __m512 vmax = _mm512_set1_ps(params->max);
    for (;;) {
        if (NV == 2 && nc <= 16) {
            igemm_panel(MR, 1, NR, mr, nc, kc, ks, a, a_stride, a_offset, zero, w, k0, last, z, c,
                        c_stride, vmin, vmax);
            return;
        }
        igemm_panel(MR, NV, NR, mr, nc, kc, ks, a, a_stride, a_offset, zero, w, k0, last, z, c,
                    c_stride, vmin, vmax);
        if (nc <= NR)
            return;
        nc -= NR;
        w += w_panel_stride;
        c += NR;
        if (z)
            z += NR;
    }
}

#define DEFINE_IGEMM(MR, NR)                                                                       \
    void eml_f32_igemm_##MR##x##NR##__avx512(                                                      \
        size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a, size_t a_stride,        \
        size_t a_offset, const float *zero, const float *w, size_t w_panel_stride, size_t k0,      \
        bool last, const float *z, float *c, size_t c_stride, const eml_f32_minmax *params)        \
    {                                                                                              \
        igemm_x16n(MR, NR / 16, mr, nc, kc, ks, a, a_stride, a_offset, zero, w, w_panel_stride,    \
                   k0, last, z, c, c_stride, params);                                              \
    }

DEFINE_IGEMM(8, 32)
DEFINE_IGEMM(7, 32)
