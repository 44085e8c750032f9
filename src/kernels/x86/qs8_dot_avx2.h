/* The multiply-accumulate loop the AVX2 uint8 × int8 GEMM micro-kernels share (QConv's, which
 * requantizes, and MatMulInteger's, which stores int32): a 4x16 tile on vpmaddwd over int16-widened
 * operands in 2-row K groups (no pair sum can saturate). Included by those two files only. */
#ifndef EML_KERNELS_X86_QS8_DOT_AVX2_H
#define EML_KERNELS_X86_QS8_DOT_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline int32_t qs8_load_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* acc[i][h] = bias[8h..8h+7] + sum over k < kp of a[i][k] · w[k][8h..]: a holds int16 rows;
 * rows past mr repeat the last one (the caller does not store them). */
static inline __attribute__((always_inline)) void
qs8_dot_4x16__avx2(size_t mr, size_t kp, const void *a, size_t a_stride_bytes, const int16_t *w,
                   const int32_t *bias, __m256i acc[4][2])
{
    const int16_t *ap[4];
    for (size_t i = 0; i < 4; i++)
        ap[i] = (const int16_t *)((const uint8_t *)a + (i < mr ? i : mr - 1) * a_stride_bytes);
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)bias);
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bias + 8));
    __m256i c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
    for (size_t k = 0; k < kp; k += 2) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
        w += 32;
        __m256i av;
#define ROW(i)                                                                                     \
    av = _mm256_set1_epi32(qs8_load_pair(ap[i] + k));                                              \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(av, w0));                                \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(av, w1));
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
    acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
}

#endif
