/* Element type facts and half-precision conversions. */
#include <math.h>

#include "core/core.h"

size_t eml_dtype_size(eml_dtype dtype)
{
    switch (dtype) {
#define EML__DTYPE_SIZE(value, suffix, ctype, size, name)                                          \
    case EML_DTYPE_##suffix:                                                                       \
        return size;
        EML_DTYPE_MAP(EML__DTYPE_SIZE)
#undef EML__DTYPE_SIZE
    default:
        return 0;
    }
}

const char *eml_dtype_name(eml_dtype dtype)
{
    switch (dtype) {
#define EML__DTYPE_NAME(value, suffix, ctype, size, name)                                          \
    case EML_DTYPE_##suffix:                                                                       \
        return name;
        EML_DTYPE_MAP(EML__DTYPE_NAME)
#undef EML__DTYPE_NAME
    case EML_DTYPE_STRING:
        return "string";
    case EML_DTYPE_UNDEFINED:
        return "undefined";
    }
    return "unknown";
}

bool eml_dtype_is_supported(eml_dtype dtype)
{
    return eml_dtype_size(dtype) != 0;
}

int64_t eml_tensor_count(const eml_tensor *t)
{
    return eml__shape_count(t->dims, t->rank);
}

size_t eml_tensor_bytes(const eml_tensor *t)
{
    int64_t n = eml_tensor_count(t);
    return n < 0 ? 0 : (size_t)n * eml_dtype_size(t->dtype);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float eml_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f)
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t eml_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* Inf or NaN (keep a quiet NaN) */
        return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
    if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to Inf */
        return (uint16_t)(sign | 0x7c00);
    if (abs < 0x38800000u) { /* below 2^-14: subnormal half, round to nearest even */
        float v = bits_f32(abs);
        float scaled = v * 16777216.0f; /* v / 2^-24 */
        uint32_t m = (uint32_t)scaled;
        float rem = scaled - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint16_t)(sign | m);
    }
    uint32_t exp = (abs >> 23) - 112;
    uint32_t man = abs & 0x7fffff;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

float eml_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t eml_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
