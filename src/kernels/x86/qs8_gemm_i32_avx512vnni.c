/* AVX-512 VNNI uint8 × int8 GEMM micro-kernel with int32 outputs (MatMulInteger): 8x32 on
 * vpdpbusd, as QConv's VNNI kernel, without the requantization: each output is
 * bias[j] + sum_k a[i][k] · w[k][j], modulo 2^32. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qmatmul_integer.h"
#include "kernels/x86/qs8_dot_avx512vnni.h"

void eml_qs8_gemm_i32_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                       size_t a_stride_bytes, const void *panel,
                                       const int32_t *bias, int32_t *c, size_t c_stride);

void eml_qs8_gemm_i32_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                       size_t a_stride_bytes, const void *panel,
                                       const int32_t *bias, int32_t *c, size_t c_stride)
{
    const int8_t *w = (const int8_t *)((const int32_t *)panel + EML_QS8_PANEL_HEADER_INTS * 32);
    __m512i acc[8][2];
    qs8_dot_8x32__avx512vnni(mr, nc, kp, a, a_stride_bytes, w, bias, acc);
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    for (size_t i = 0; i < mr; i++) {
        int32_t *ci = c + i * c_stride;
        _mm512_mask_storeu_epi32(ci, m0, acc[i][0]);
        if (m1)
            _mm512_mask_storeu_epi32(ci + 16, m1, acc[i][1]);
    }
}
