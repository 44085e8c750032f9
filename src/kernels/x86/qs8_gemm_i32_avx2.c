/* AVX2 uint8 × int8 GEMM micro-kernel with int32 outputs (MatMulInteger): 4x16 on vpmaddwd over
 * int16-widened operands, as QConv's AVX2 kernel (no pair sum can saturate), without the
 * requantization: each output is bias[j] + sum_k a[i][k] · w[k][j], modulo 2^32. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qmatmul_integer.h"
#include "kernels/x86/qs8_dot_avx2.h"

/* n <= 8 lanes of v to dst. */
static inline void store_n(int32_t *dst, __m256i v, size_t n)
{
    if (n >= 8) {
        _mm256_storeu_si256((__m256i *)dst, v);
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n), lane);
    _mm256_maskstore_epi32(dst, mask, v);
}

void eml_qs8_gemm_i32_4x16__avx2(size_t mr, size_t nc, size_t kp, const void *a,
                                 size_t a_stride_bytes, const void *panel, const int32_t *bias,
                                 int32_t *c, size_t c_stride);

void eml_qs8_gemm_i32_4x16__avx2(size_t mr, size_t nc, size_t kp, const void *a,
                                 size_t a_stride_bytes, const void *panel, const int32_t *bias,
                                 int32_t *c, size_t c_stride)
{
    const int16_t *w = (const int16_t *)((const int32_t *)panel + EML_QS8_PANEL_HEADER_INTS * 16);
    __m256i acc[4][2];
    qs8_dot_4x16__avx2(mr, kp, a, a_stride_bytes, w, bias, acc);
    for (size_t i = 0; i < mr; i++) {
        int32_t *ci = c + i * c_stride;
        store_n(ci, acc[i][0], nc < 8 ? nc : 8);
        if (nc > 8)
            store_n(ci + 8, acc[i][1], nc - 8);
    }
}
