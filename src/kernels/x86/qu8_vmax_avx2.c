/* AVX2 elementwise maximum of a pooling window's uint8 rows, the inner loop of the fast QMaxPool. */
#include <immintrin.h>

#include "kernels/fast_qpool.h"

void eml_u8_vmax__avx2(size_t n, const uint8_t *const *x, size_t taps, uint8_t *y)
{
    size_t i = 0;
    /* a window's taps per 32 channels in one register: one store per output vector */
    for (; i + 32 <= n; i += 32) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(x[0] + i));
        for (size_t t = 1; t < taps; t++)
            m = _mm256_max_epu8(m, _mm256_loadu_si256((const __m256i *)(x[t] + i)));
        _mm256_storeu_si256((__m256i *)(y + i), m);
    }
    for (; i < n; i++) {
        uint8_t m = x[0][i];
        for (size_t t = 1; t < taps; t++)
            m = x[t][i] > m ? x[t][i] : m;
        y[i] = m;
    }
}
