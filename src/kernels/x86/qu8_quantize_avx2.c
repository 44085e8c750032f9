/* AVX2 QuantizeLinear of float32 to uint8 with one scale and zero point, equal to the reference
 * bit for bit: y = clamp(rint(x / scale) + zp, 0, 255), a float32 division rounded to even, NaN
 * to 0. */
#include <immintrin.h>
#include <math.h>

#include "kernels/fast_qquant.h"

static inline uint8_t one(float x, float scale, float zp)
{
    float v = rintf(x / scale) + zp;
    if (!(v >= 0.0f))
        v = 0.0f;
    if (v > 255.0f)
        v = 255.0f;
    return (uint8_t)v;
}

void eml_qu8_quantize__avx2(size_t n, const float *x, float scale, float zp, uint8_t *y)
{
    const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zp);
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_add_ps(v, z);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi); /* max(NaN, 0) is 0 */
        const __m256i q = _mm256_cvttps_epi32(v);
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(q),
                                             _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(y + i), _mm_packus_epi16(p16, p16));
    }
    for (; i < n; i++)
        y[i] = one(x[i], scale, zp);
}
