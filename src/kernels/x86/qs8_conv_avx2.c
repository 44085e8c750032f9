/* AVX2 kernels of the uint8 convolution (fast_qconv.h): a 4x16 GEMM micro-kernel on vpmaddwd over
 * int16-widened operands and an 8-lane depthwise row kernel. vpmaddubsw is not used: a pair
 * 255·(-128) + 255·(-128) = -65280 saturates its int16 sums, while vpmaddwd's int32 pair sums hold
 * every u8 × s8 pair exactly. Requantization as qrequant.h: AVX2 has no 64-bit arithmetic shift,
 * so the products are biased by 2^62 (making them non-negative), shifted logically, and the bias's
 * shifted value 2^(62-shift) taken off again, which is exact. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qconv.h"
#include "kernels/x86/qs8_dot_avx2.h"

typedef struct rq8 {
    __m256i mult, sh_e, sh_o, rnd_e, rnd_o, corr_e, corr_o, lo, hi, zp;
} rq8;

static inline rq8 rq8_load(const int32_t *mult, const int32_t *shift, const eml_qs8_out *out)
{
    rq8 r;
    const __m256i sh = _mm256_loadu_si256((const __m256i *)shift);
    const __m256i one = _mm256_set1_epi64x(1), bias = _mm256_set1_epi64x((int64_t)1 << 62);
    r.mult = _mm256_loadu_si256((const __m256i *)mult);
    r.sh_e = _mm256_and_si256(sh, _mm256_set1_epi64x(0xFFFFFFFF));
    r.sh_o = _mm256_srli_epi64(sh, 32);
    r.rnd_e = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(r.sh_e, one)), bias);
    r.rnd_o = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(r.sh_o, one)), bias);
    r.corr_e = _mm256_srlv_epi64(bias, r.sh_e);
    r.corr_o = _mm256_srlv_epi64(bias, r.sh_o);
    r.lo = _mm256_set1_epi32(out->qmin - out->zp);
    r.hi = _mm256_set1_epi32(out->qmax - out->zp);
    r.zp = _mm256_set1_epi32(out->zp);
    return r;
}

/* 8 requantized lanes as int32 codes 0..255. */
static inline __m256i rq8_apply(__m256i acc, const rq8 *r)
{
    const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(acc, r->mult), r->rnd_e);
    const __m256i po = _mm256_add_epi64(
        _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(r->mult, 32)), r->rnd_o);
    const __m256i re = _mm256_sub_epi64(_mm256_srlv_epi64(pe, r->sh_e), r->corr_e);
    const __m256i ro = _mm256_sub_epi64(_mm256_srlv_epi64(po, r->sh_o), r->corr_o);
    __m256i v = _mm256_blend_epi32(re, _mm256_slli_epi64(ro, 32), 0xAA);
    return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, r->lo), r->hi), r->zp);
}

/* Stores n <= 8 codes. */
static inline void store8(uint8_t *dst, __m256i codes, size_t n)
{
    const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(codes),
                                         _mm256_extracti128_si256(codes, 1));
    const __m128i p8 = _mm_packus_epi16(p16, p16);
    if (n == 8) {
        _mm_storel_epi64((__m128i *)dst, p8);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, p8);
        memcpy(dst, tmp, n);
    }
}

void eml_qs8_gemm_4x16__avx2(size_t mr, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                             const void *panel, uint8_t *c, size_t c_stride,
                             const eml_qs8_out *out);

void eml_qs8_gemm_4x16__avx2(size_t mr, size_t nc, size_t kp, const void *a, size_t a_stride_bytes,
                             const void *panel, uint8_t *c, size_t c_stride,
                             const eml_qs8_out *out)
{
    const int32_t *hdr = panel;
    const int16_t *w = (const int16_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * 16);
    __m256i acc[4][2];
    qs8_dot_4x16__avx2(mr, kp, a, a_stride_bytes, w, hdr, acc);
    const rq8 r0 = rq8_load(hdr + 16, hdr + 32, out);
    const rq8 r1 = rq8_load(hdr + 24, hdr + 40, out);
    for (size_t i = 0; i < mr; i++) {
        uint8_t *ci = c + i * c_stride;
        store8(ci, rq8_apply(acc[i][0], &r0), nc < 8 ? nc : 8);
        if (nc > 8)
            store8(ci + 8, rq8_apply(acc[i][1], &r1), nc - 8);
    }
}

void eml_qs8_dw_row__avx2(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y);

void eml_qs8_dw_row__avx2(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels;
    const int32_t *bias = j->packed, *mult = bias + cp, *shift = mult + cp, *w = shift + cp;
    const __m256i zpv = _mm256_set1_epi32(j->x_zp);
    for (int64_t c0 = 0; c0 < cn; c0 += 8) {
        const int64_t n = EML_MIN(8, cn - c0);
        const rq8 r = rq8_load(mult + c0, shift + c0, &j->out);
        const __m256i b = _mm256_loadu_si256((const __m256i *)(bias + c0));
        for (int64_t ox = 0; ox < j->out_w; ox++) {
            __m256i acc = b;
            for (int64_t ky = 0; ky < j->kh; ky++) {
                const int64_t iy = oy * j->stride_h - j->pad_top + ky * j->dil_h;
                const bool row_in = iy >= 0 && iy < j->in_h;
                const int32_t *wk = w + ky * j->kw * cp + c0;
                for (int64_t kx = 0; kx < j->kw; kx++, wk += cp) {
                    const int64_t ix = ox * j->stride_w - j->pad_left + kx * j->dil_w;
                    __m256i xv = zpv;
                    if (row_in && ix >= 0 && ix < j->in_w) {
                        const uint8_t *src = j->x + (iy * j->in_w + ix) * cn + c0;
                        int64_t bits = 0;
                        memcpy(&bits, src, (size_t)n);
                        xv = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bits));
                    }
                    acc = _mm256_add_epi32(
                        acc, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)wk)));
                }
            }
            store8(y + ox * cn + c0, rq8_apply(acc, &r), (size_t)n);
        }
    }
}
