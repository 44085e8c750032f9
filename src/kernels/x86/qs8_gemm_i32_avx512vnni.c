/* AVX-512 VNNI uint8 × int8 GEMM micro-kernel with int32 outputs (MatMulInteger): 8x32 on
 * vpdpbusd, as QConv's VNNI kernel, without the requantization: each output is
 * bias[j] + sum_k a[i][k] · w[k][j], modulo 2^32. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qmatmul_integer.h"

static inline int32_t load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

void eml_qs8_gemm_i32_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                       size_t a_stride_bytes, const void *panel,
                                       const int32_t *bias, int32_t *c, size_t c_stride);

void eml_qs8_gemm_i32_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                       size_t a_stride_bytes, const void *panel,
                                       const int32_t *bias, int32_t *c, size_t c_stride)
{
    const int8_t *w = (const int8_t *)((const int32_t *)panel + EML_QS8_PANEL_HEADER_INTS * 32);
    const uint8_t *ap[8];
    for (size_t i = 0; i < 8; i++) /* rows past mr repeat the last one and are not stored */
        ap[i] = (const uint8_t *)a + (i < mr ? i : mr - 1) * a_stride_bytes;
    const __m512i b0 = _mm512_loadu_si512(bias), b1 = _mm512_loadu_si512(bias + 16);
    __m512i c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
    __m512i c40 = b0, c41 = b1, c50 = b0, c51 = b1, c60 = b0, c61 = b1, c70 = b0, c71 = b1;
    if (nc <= 16) {
        /* a half panel (N mod 32 <= 16): the second half's weights are zeros, skip them */
        for (size_t k = 0; k < kp; k += 4) {
            const __m512i w0 = _mm512_loadu_si512(w);
            w += 128;
            __m512i av;
#define ROW(i)                                                                                     \
    av = _mm512_set1_epi32(load4(ap[i] + k));                                                      \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        }
    }
    for (size_t k = 0; k < kp && nc > 16; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
        w += 128;
        __m512i av;
#define ROW(i)                                                                                     \
    av = _mm512_set1_epi32(load4(ap[i] + k));                                                      \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);                                                \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, av, w1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    const __m512i acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                               {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    for (size_t i = 0; i < mr; i++) {
        int32_t *ci = c + i * c_stride;
        _mm512_mask_storeu_epi32(ci, m0, acc[i][0]);
        if (m1)
            _mm512_mask_storeu_epi32(ci + 16, m1, acc[i][1]);
    }
}
