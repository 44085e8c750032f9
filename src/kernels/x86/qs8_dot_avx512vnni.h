/* The multiply-accumulate loop the AVX-512 VNNI uint8 × int8 GEMM micro-kernels share (QConv's,
 * which requantizes, and MatMulInteger's, which stores int32): an 8x32 tile on vpdpbusd over a
 * packed panel of 4-row K groups. Included by those two files only (compiled for VNNI). */
#ifndef EML_KERNELS_X86_QS8_DOT_AVX512VNNI_H
#define EML_KERNELS_X86_QS8_DOT_AVX512VNNI_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline int32_t qs8_load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* acc[i][h] = bias[16h..16h+15] + sum over k < kp of a[i][k] · w[k][16h..] for rows i < MR (a
 * constant: rows past it are not computed); nc <= 16 skips the panel's zero second half. */
static inline __attribute__((always_inline)) void
qs8_dot_rows_x32(const size_t MR, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                 const int8_t *w, const int32_t *bias, __m512i acc[8][2])
{
    const uint8_t *ap[8];
    for (size_t i = 0; i < 8; i++)
        ap[i] = (const uint8_t *)a + (i < MR ? i : 0) * a_stride_bytes;
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
    if (MR > i) {                                                                                  \
        av = _mm512_set1_epi32(qs8_load4(ap[i] + k));                                              \
        c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);                                            \
    }
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        }
    }
    for (size_t k = 0; k < kp && nc > 16; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
        w += 128;
        __m512i av;
#define ROW(i)                                                                                     \
    if (MR > i) {                                                                                  \
        av = _mm512_set1_epi32(qs8_load4(ap[i] + k));                                              \
        c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);                                            \
        c##i##1 = _mm512_dpbusd_epi32(c##i##1, av, w1);                                            \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
#define STORE(i)                                                                                   \
    acc[i][0] = c##i##0;                                                                           \
    acc[i][1] = c##i##1;
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
}

/* The same for mr rows (1..8), on a version compiled for exactly that many: a short tile (the
 * last rows of a 7x7 image, say) costs its own rows only. */
static inline __attribute__((always_inline)) void
qs8_dot_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                         const int8_t *w, const int32_t *bias, __m512i acc[8][2])
{
    switch (mr) {
#define ROWS(r)                                                                                    \
    case r: qs8_dot_rows_x32(r, nc, kp, a, a_stride_bytes, w, bias, acc); return;
        ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7)
#undef ROWS
    default: qs8_dot_rows_x32(8, nc, kp, a, a_stride_bytes, w, bias, acc); return;
    }
}

#endif
