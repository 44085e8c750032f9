/* Three planes of bytes into pixels (a uint8 RGB image) with byte shuffles: 16 pixels per step,
 * each 16-byte output the OR of one shuffle of each plane (index 0x80 gives a zero byte). */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/interleave3.h"

void eml_x8_interleave3__avx2(const void *x, size_t plane, void *y, size_t n)
{
    const uint8_t *a = x, *b = a + plane, *c = b + plane;
    uint8_t *out = y;
    /* byte j of output k: pixel (16k + j) / 3 of plane (16k + j) % 3 */
    __m128i mask[3][3];
    for (int k = 0; k < 3; k++) {
        uint8_t m[3][16];
        for (int j = 0; j < 16; j++) {
            const int g = 16 * k + j;
            for (int ch = 0; ch < 3; ch++)
                m[ch][j] = g % 3 == ch ? (uint8_t)(g / 3) : 0x80;
        }
        for (int ch = 0; ch < 3; ch++)
            mask[k][ch] = _mm_loadu_si128((const __m128i *)m[ch]);
    }
    size_t p = 0;
    for (; p + 16 <= n; p += 16) {
        const __m128i va = _mm_loadu_si128((const __m128i *)(a + p));
        const __m128i vb = _mm_loadu_si128((const __m128i *)(b + p));
        const __m128i vc = _mm_loadu_si128((const __m128i *)(c + p));
        for (int k = 0; k < 3; k++) {
            const __m128i v = _mm_or_si128(
                _mm_or_si128(_mm_shuffle_epi8(va, mask[k][0]), _mm_shuffle_epi8(vb, mask[k][1])),
                _mm_shuffle_epi8(vc, mask[k][2]));
            _mm_storeu_si128((__m128i *)(out + 3 * p + 16 * k), v);
        }
    }
    for (; p < n; p++) {
        out[3 * p] = a[p];
        out[3 * p + 1] = b[p];
        out[3 * p + 2] = c[p];
    }
}
