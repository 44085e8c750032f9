/* Three planes of 4-byte elements into pixels with AVX-512: 16 pixels per step, each 16-float
 * output vector gathered from two planes by one two-source permute and the third by another. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/interleave3.h"

/* Output vector k's indices: element j of the 48 holds pixel p = (16k + j) / 3, channel
 * (16k + j) % 3. First from planes 0 and 1 (index 16 + p selects the second source), then
 * channel 2 from plane 2 over the rest (index j keeps what the first step put there). */
static void indices(int k, int32_t first[16], int32_t second[16])
{
    for (int j = 0; j < 16; j++) {
        const int g = 16 * k + j, p = g / 3, ch = g % 3;
        first[j] = ch == 0 ? p : ch == 1 ? 16 + p : 0;
        second[j] = ch == 2 ? 16 + p : j;
    }
}

void eml_x32_interleave3__avx512(const void *x, size_t plane, void *y, size_t n)
{
    const uint32_t *a = x, *b = a + plane, *c = b + plane;
    uint32_t *out = y;
    __m512i first[3], second[3];
    for (int k = 0; k < 3; k++) {
        int32_t i1[16], i2[16];
        indices(k, i1, i2);
        first[k] = _mm512_loadu_si512(i1);
        second[k] = _mm512_loadu_si512(i2);
    }
    size_t p = 0;
    for (; p + 16 <= n; p += 16) {
        const __m512i va = _mm512_loadu_si512(a + p), vb = _mm512_loadu_si512(b + p);
        const __m512i vc = _mm512_loadu_si512(c + p);
        for (int k = 0; k < 3; k++) {
            const __m512i ab = _mm512_permutex2var_epi32(va, first[k], vb);
            _mm512_storeu_si512(out + 3 * p + 16 * k, _mm512_permutex2var_epi32(ab, second[k], vc));
        }
    }
    for (; p < n; p++) {
        out[3 * p] = a[p];
        out[3 * p + 1] = b[p];
        out[3 * p + 2] = c[p];
    }
}
