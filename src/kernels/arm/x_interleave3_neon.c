/* Three planes into pixels with NEON's structure store (st3), for 4-byte and 1-byte elements. */
#include <arm_neon.h>
#include <stdint.h>

#include "kernels/interleave3.h"

void eml_x32_interleave3__neon(const void *x, size_t plane, void *y, size_t n)
{
    const uint32_t *a = x, *b = a + plane, *c = b + plane;
    uint32_t *out = y;
    size_t p = 0;
    for (; p + 4 <= n; p += 4) {
        const uint32x4x3_t v = {{vld1q_u32(a + p), vld1q_u32(b + p), vld1q_u32(c + p)}};
        vst3q_u32(out + 3 * p, v);
    }
    for (; p < n; p++) {
        out[3 * p] = a[p];
        out[3 * p + 1] = b[p];
        out[3 * p + 2] = c[p];
    }
}

void eml_x8_interleave3__neon(const void *x, size_t plane, void *y, size_t n)
{
    const uint8_t *a = x, *b = a + plane, *c = b + plane;
    uint8_t *out = y;
    size_t p = 0;
    for (; p + 16 <= n; p += 16) {
        const uint8x16x3_t v = {{vld1q_u8(a + p), vld1q_u8(b + p), vld1q_u8(c + p)}};
        vst3q_u8(out + 3 * p, v);
    }
    for (; p < n; p++) {
        out[3 * p] = a[p];
        out[3 * p + 1] = b[p];
        out[3 * p + 2] = c[p];
    }
}
