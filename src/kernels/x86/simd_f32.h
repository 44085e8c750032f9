/* One vocabulary over AVX2 and AVX-512 float vectors, so that a kernel family is written once and
 * compiled per ISA: a file compiled with that ISA's flags defines EML_SIMD_AVX512 or
 * EML_SIMD_AVX2, then includes this. Tails go through masked loads and stores, so lanes past n
 * are neither read nor written (no out-of-bounds access, the sanitizers stay meaningful).
 * min/max keep the x86 rule: when either operand is NaN the SECOND one is returned, so
 * v_max(lo, x) passes a NaN x through. */
#ifndef EML_KERNELS_X86_SIMD_F32_H
#define EML_KERNELS_X86_SIMD_F32_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#if defined(EML_SIMD_AVX512)

#define EML_SIMD_WIDTH 16
#define EML_SIMD_SUFFIX avx512
#define EML_SIMD_NAME "avx512"
typedef __m512 vf;
typedef __mmask16 vm;

static inline vm v_tail(size_t n) /* lanes 0 .. n-1, n < 16 */
{
    return (vm)((1u << n) - 1u);
}
static inline vf v_loadu(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline void v_storeu(float *p, vf v)
{
    _mm512_storeu_ps(p, v);
}
/* Lanes of m from p, the others `fill`. */
static inline vf v_load_mask(const float *p, vm m, vf fill)
{
    return _mm512_mask_loadu_ps(fill, m, p);
}
static inline void v_store_mask(float *p, vm m, vf v)
{
    _mm512_mask_storeu_ps(p, m, v);
}
static inline vf v_set1(float x)
{
    return _mm512_set1_ps(x);
}
static inline vf v_zero(void)
{
    return _mm512_setzero_ps();
}
static inline vf v_add(vf a, vf b)
{
    return _mm512_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm512_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm512_mul_ps(a, b);
}
static inline vf v_div(vf a, vf b)
{
    return _mm512_div_ps(a, b);
}
/* 1/d for normal d within about 1 ulp: the 14-bit estimate and one Newton step, several times
 * the throughput of a division. */
static inline vf v_recip(vf d)
{
    vf r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}
static inline vf v_fmadd(vf a, vf b, vf c)
{
    return _mm512_fmadd_ps(a, b, c);
} /* a*b + c */
static inline vf v_fnmadd(vf a, vf b, vf c)
{
    return _mm512_fnmadd_ps(a, b, c);
} /* c - a*b */
static inline vf v_min(vf a, vf b)
{
    return _mm512_min_ps(a, b);
}
static inline vf v_max(vf a, vf b)
{
    return _mm512_max_ps(a, b);
}
static inline vf v_and(vf a, vf b)
{
    return _mm512_and_ps(a, b);
}
static inline vf v_or(vf a, vf b)
{
    return _mm512_or_ps(a, b);
}
static inline vf v_andnot(vf a, vf b)
{
    return _mm512_andnot_ps(a, b);
} /* ~a & b */
/* Ordered comparisons: false when either side is NaN. */
static inline vm v_lt(vf a, vf b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
static inline vm v_gt(vf a, vf b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
}
static inline vf v_select(vm m, vf if_set, vf if_clear)
{
    return _mm512_mask_blend_ps(m, if_clear, if_set);
}
static inline vf v_round(vf x) /* to nearest even */
{
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* 2^(n + bias) for integral n with n + bias + 127 in [1, 254]. */
static inline vf v_pow2(vf n, int bias)
{
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127 + bias));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
/* p·2^n for integral n with n + 127 in [1, 254]: one instruction here. */
static inline vf v_scale_pow2(vf p, vf n)
{
    return _mm512_scalef_ps(p, n);
}
/* Horizontal sum and max in a fixed order (the result depends only on the lanes). */
static inline float v_hsum(vf v)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}
static inline float v_hmax(vf v)
{
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_max_ps(q, _mm_movehl_ps(q, q));
    q = _mm_max_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

#elif defined(EML_SIMD_AVX2)

#define EML_SIMD_WIDTH 8
#define EML_SIMD_SUFFIX avx2
#define EML_SIMD_NAME "avx2"
typedef __m256 vf;
typedef __m256 vm; /* all-ones lanes where set */

static inline vm v_tail(size_t n) /* lanes 0 .. n-1, n < 8 */
{
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane));
}
static inline vf v_loadu(const float *p)
{
    return _mm256_loadu_ps(p);
}
static inline void v_storeu(float *p, vf v)
{
    _mm256_storeu_ps(p, v);
}
/* maskload/maskstore touch no memory in the lanes left out. */
static inline vf v_load_mask(const float *p, vm m, vf fill)
{
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, _mm256_castps_si256(m)), m);
}
static inline void v_store_mask(float *p, vm m, vf v)
{
    _mm256_maskstore_ps(p, _mm256_castps_si256(m), v);
}
static inline vf v_set1(float x)
{
    return _mm256_set1_ps(x);
}
static inline vf v_zero(void)
{
    return _mm256_setzero_ps();
}
static inline vf v_add(vf a, vf b)
{
    return _mm256_add_ps(a, b);
}
static inline vf v_sub(vf a, vf b)
{
    return _mm256_sub_ps(a, b);
}
static inline vf v_mul(vf a, vf b)
{
    return _mm256_mul_ps(a, b);
}
static inline vf v_div(vf a, vf b)
{
    return _mm256_div_ps(a, b);
}
/* 1/d: the 12-bit estimate would need two Newton steps, no faster than the division measured. */
static inline vf v_recip(vf d)
{
    return _mm256_div_ps(_mm256_set1_ps(1.0f), d);
}
static inline vf v_fmadd(vf a, vf b, vf c)
{
    return _mm256_fmadd_ps(a, b, c);
}
static inline vf v_fnmadd(vf a, vf b, vf c)
{
    return _mm256_fnmadd_ps(a, b, c);
}
static inline vf v_min(vf a, vf b)
{
    return _mm256_min_ps(a, b);
}
static inline vf v_max(vf a, vf b)
{
    return _mm256_max_ps(a, b);
}
static inline vf v_and(vf a, vf b)
{
    return _mm256_and_ps(a, b);
}
static inline vf v_or(vf a, vf b)
{
    return _mm256_or_ps(a, b);
}
static inline vf v_andnot(vf a, vf b)
{
    return _mm256_andnot_ps(a, b);
}
static inline vm v_lt(vf a, vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
static inline vm v_gt(vf a, vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_GT_OQ);
}
static inline vf v_select(vm m, vf if_set, vf if_clear)
{
    return _mm256_blendv_ps(if_clear, if_set, m);
}
static inline vf v_round(vf x)
{
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_pow2(vf n, int bias)
{
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127 + bias));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
static inline vf v_scale_pow2(vf p, vf n)
{
    return _mm256_mul_ps(p, v_pow2(n, 0));
}
static inline float v_hsum(vf v)
{
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}
static inline float v_hmax(vf v)
{
    __m128 q = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_max_ps(q, _mm_movehl_ps(q, q));
    q = _mm_max_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

#else
#error "define EML_SIMD_AVX512 or EML_SIMD_AVX2 before including simd_f32.h"
#endif

/* x, which the compiler must now hold in a register: a vector loaded once for several
 * multiply-adds is otherwise folded back into each of them as a memory operand (a load apiece). */
static inline vf v_in_register(vf x)
{
    __asm__("" : "+v"(x));
    return x;
}
/* Sign bit of x only. */
static inline vf v_signbit(vf x)
{
    return v_and(x, v_set1(-0.0f));
}
static inline vf v_abs(vf x)
{
    return v_andnot(v_set1(-0.0f), x);
}

#define EML_SIMD_CAT_(a, b) a##__##b
#define EML_SIMD_CAT(a, b) EML_SIMD_CAT_(a, b)
/* name__avx2 / name__avx512: the kernel grammar's ISA suffix. */
#define EML_SIMD_FN(name) EML_SIMD_CAT(name, EML_SIMD_SUFFIX)

#endif
