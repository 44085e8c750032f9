/* AVX2 elementwise maximum of uint8 rows, the inner loop of the fast QMaxPool. */
#include <immintrin.h>

#include "kernels/fast_qpool.h"

void eml_u8_vmax__avx2(size_t n, const uint8_t *x, uint8_t *m)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(m + i));
        _mm256_storeu_si256((__m256i *)(m + i), _mm256_max_epu8(a, b));
    }
    for (; i < n; i++)
        m[i] = x[i] > m[i] ? x[i] : m[i];
}
