/* The reference f32 GEMM micro-kernel: plain C, the oracle every SIMD variant is tested against. */
#include "kernels/gemm.h"

enum { REF_MR = 4, REF_NR = 8 };

void eml_f32_gemm_4x8__ref(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
                           size_t a_stride_elems, const float *w, size_t w_panel_stride_elems,
                           float *c, size_t c_stride_elems, const eml_f32_minmax *params)
{
    const float lo = params->min, hi = params->max;
    for (size_t n0 = 0; n0 < nc; n0 += REF_NR, w += w_panel_stride_elems) {
        const size_t nr = EML_MIN((size_t)REF_NR, nc - n0);
        float acc[REF_MR][REF_NR];
        for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < REF_NR; j++)
                acc[i][j] = k0 == 0 ? w[j] : 0.0f;
        const float *wk = w + REF_NR + k0 * REF_NR;
        for (size_t k = 0; k < kc; k++, wk += REF_NR)
            for (size_t i = 0; i < mr; i++) {
                const float av = a[i * a_stride_elems + k];
                for (size_t j = 0; j < REF_NR; j++)
                    acc[i][j] += av * wk[j];
            }
        for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < nr; j++) {
                float *dst = &c[i * c_stride_elems + n0 + j];
                float v = k0 == 0 ? acc[i][j] : *dst + acc[i][j];
                /* comparisons that keep NaN, as the SIMD max(min, x) / min(max, x) do */
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                *dst = v;
            }
    }
}
