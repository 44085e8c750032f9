/* MT19937, seeded and drawn exactly as NumPy's legacy RandomState does, so that seeded random ops
 * (Dropout in training mode) reproduce the ONNX reference outputs bit for bit. */
#include "core/core.h"

void eml__mt_seed(eml_mt19937 *mt, uint32_t seed)
{
    mt->state[0] = seed;
    for (uint32_t i = 1; i < 624; i++)
        mt->state[i] = 1812433253u * (mt->state[i - 1] ^ (mt->state[i - 1] >> 30)) + i;
    mt->index = 624;
}

uint32_t eml__mt_next_u32(eml_mt19937 *mt)
{
    if (mt->index >= 624) {
        for (uint32_t k = 0; k < 624; k++) {
            uint32_t y = (mt->state[k] & 0x80000000u) | (mt->state[(k + 1) % 624] & 0x7fffffffu);
            mt->state[k] = mt->state[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
        }
        mt->index = 0;
    }
    uint32_t y = mt->state[mt->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double eml__mt_next_double(eml_mt19937 *mt)
{
    uint32_t a = eml__mt_next_u32(mt) >> 5, b = eml__mt_next_u32(mt) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}
