/* AVX2 kernel of QAdd (kernels/ref/qnhwc.h): 8 lanes of qrequant.h's eml__qadd_u8, exact in
 * int32 as the reference (weights below 2^22, operands within ±255). */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qadd.h"

static inline __m256i qadd8(const uint8_t *a, const uint8_t *b, const eml_qs8_vadd_params *p)
{
    int64_t abits, bbits;
    memcpy(&abits, a, 8);
    memcpy(&bbits, b, 8);
    const __m256i da = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(abits)),
                                        _mm256_set1_epi32(p->a_zp));
    const __m256i db = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bbits)),
                                        _mm256_set1_epi32(p->b_zp));
    __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(da, _mm256_set1_epi32(p->q.weight[0])),
                                 _mm256_mullo_epi32(db, _mm256_set1_epi32(p->q.weight[1])));
    s = _mm256_add_epi32(s, _mm256_set1_epi32(1 << (p->q.shift - 1)));
    s = _mm256_sra_epi32(s, _mm_cvtsi32_si128(p->q.shift));
    s = _mm256_min_epi32(_mm256_max_epi32(s, _mm256_set1_epi32(p->qmin - p->y_zp)),
                         _mm256_set1_epi32(p->qmax - p->y_zp));
    return _mm256_add_epi32(s, _mm256_set1_epi32(p->y_zp));
}

void eml_qs8_vadd__avx2(size_t n, const uint8_t *a, const uint8_t *b, uint8_t *y,
                        const eml_qs8_vadd_params *p)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = qadd8(a + i, b + i, p);
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(v),
                                             _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(y + i), _mm_packus_epi16(p16, p16));
    }
    for (; i < n; i++)
        y[i] = eml__qadd_u8(a[i] - p->a_zp, b[i] - p->b_zp, &p->q, p->y_zp, p->qmin, p->qmax);
}
