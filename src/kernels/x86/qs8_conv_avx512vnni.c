/* AVX-512 VNNI kernels of the uint8 convolution (fast_qconv.h): an 8x32 GEMM micro-kernel on
 * vpdpbusd (u8 × s8 quads summed into int32 without intermediate saturation) and a 16-lane
 * depthwise row kernel; both requantize exactly as qrequant.h. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qconv.h"

/* The per-channel requantization of 16 lanes, set up once per panel. */
typedef struct rq16 {
    __m512i mult, sh_e, sh_o, rnd_e, rnd_o, lo, hi, zp;
} rq16;

static inline rq16 rq16_load(const int32_t *mult, const int32_t *shift, const eml_qs8_out *out)
{
    rq16 r;
    const __m512i sh = _mm512_loadu_si512(shift);
    const __m512i one = _mm512_set1_epi64(1);
    r.mult = _mm512_loadu_si512(mult);
    r.sh_e = _mm512_and_si512(sh, _mm512_set1_epi64(0xFFFFFFFF));
    r.sh_o = _mm512_srli_epi64(sh, 32);
    r.rnd_e = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.sh_e, one));
    r.rnd_o = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.sh_o, one));
    r.lo = _mm512_set1_epi32(out->qmin - out->zp);
    r.hi = _mm512_set1_epi32(out->qmax - out->zp);
    r.zp = _mm512_set1_epi32(out->zp);
    return r;
}

/* (acc · multiplier + 2^(shift-1)) >> shift per lane in 64 bits, clamped, plus the zero point. */
static inline __m128i rq16_apply(__m512i acc, const rq16 *r)
{
    const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(acc, r->mult), r->rnd_e);
    const __m512i po = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(r->mult, 32)), r->rnd_o);
    const __m512i re = _mm512_srav_epi64(pe, r->sh_e);
    const __m512i ro = _mm512_slli_epi64(_mm512_srav_epi64(po, r->sh_o), 32);
    __m512i v = _mm512_mask_blend_epi32(0xAAAA, re, ro);
    v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, r->lo), r->hi), r->zp);
    return _mm512_cvtepi32_epi8(v);
}

static inline int32_t load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

void eml_qs8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                   size_t a_stride_bytes, const void *panel, uint8_t *c,
                                   size_t c_stride, const eml_qs8_out *out);

void eml_qs8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                   size_t a_stride_bytes, const void *panel, uint8_t *c,
                                   size_t c_stride, const eml_qs8_out *out)
{
    const int32_t *hdr = panel;
    const int8_t *w = (const int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * 32);
    const uint8_t *ap[8];
    for (size_t i = 0; i < 8; i++) /* rows past mr repeat the last one and are not stored */
        ap[i] = (const uint8_t *)a + (i < mr ? i : mr - 1) * a_stride_bytes;
    const __m512i b0 = _mm512_loadu_si512(hdr), b1 = _mm512_loadu_si512(hdr + 16);
    __m512i c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
    __m512i c40 = b0, c41 = b1, c50 = b0, c51 = b1, c60 = b0, c61 = b1, c70 = b0, c71 = b1;
    if (nc <= 16) {
        /* a half panel (N mod 32 <= 16): the second half's weights are zeros, skip them */
        for (size_t k = 0; k < kp; k += 4) {
            const __m512i w0 = _mm512_loadu_si512(w);
            w += 128;
            __m512i av;
#define ROW(i)                                                                                     \
    av = _mm512_set1_epi32(load4(ap[i] + k));                                                      \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        }
    }
    for (size_t k = 0; k < kp && nc > 16; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
        w += 128;
        __m512i av;
#define ROW(i)                                                                                     \
    av = _mm512_set1_epi32(load4(ap[i] + k));                                                      \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, av, w0);                                                \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, av, w1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    const rq16 r0 = rq16_load(hdr + 32, hdr + 64, out);
    const rq16 r1 = rq16_load(hdr + 48, hdr + 80, out);
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    const __m512i acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                               {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    for (size_t i = 0; i < mr; i++) {
        uint8_t *ci = c + i * c_stride;
        _mm_mask_storeu_epi8(ci, m0, rq16_apply(acc[i][0], &r0));
        if (m1)
            _mm_mask_storeu_epi8(ci + 16, m1, rq16_apply(acc[i][1], &r1));
    }
}

/* nv vectors of 16 channels from c0 (the last one masked by mlast) of output (oy, ox). The
 * address of each tap is computed once for all vectors; taps in the padding read the zero point,
 * which the packed bias has already taken off. */
static inline __attribute__((always_inline)) void dw_block(const eml_qs8_dw_job *j, int64_t oy,
                                                           int64_t ox, int64_t c0, const int nv,
                                                           __mmask16 mlast, uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels;
    const int32_t *bias = j->packed, *mult = bias + cp, *shift = mult + cp, *w = shift + cp;
    const __m512i zpv = _mm512_set1_epi32(j->x_zp);
    __m512i acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm512_loadu_si512(bias + c0 + 16 * v);
    for (int64_t ky = 0; ky < j->kh; ky++) {
        const int64_t iy = oy * j->stride_h - j->pad_top + ky * j->dil_h;
        const bool row_in = iy >= 0 && iy < j->in_h;
        const int32_t *wk = w + ky * j->kw * cp + c0;
        for (int64_t kx = 0; kx < j->kw; kx++, wk += cp) {
            const int64_t ix = ox * j->stride_w - j->pad_left + kx * j->dil_w;
            if (row_in && ix >= 0 && ix < j->in_w) {
                const uint8_t *xp = j->x + (iy * j->in_w + ix) * cn + c0;
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) {
                    const __mmask16 m = v == nv - 1 ? mlast : 0xFFFF;
                    const __m512i xv = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, xp + 16 * v));
                    acc[v] = _mm512_add_epi32(
                        acc[v], _mm512_madd_epi16(xv, _mm512_loadu_si512(wk + 16 * v)));
                }
            } else {
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    acc[v] = _mm512_add_epi32(
                        acc[v], _mm512_madd_epi16(zpv, _mm512_loadu_si512(wk + 16 * v)));
            }
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        const rq16 r = rq16_load(mult + c0 + 16 * v, shift + c0 + 16 * v, &j->out);
        _mm_mask_storeu_epi8(y + ox * cn + c0 + 16 * v, v == nv - 1 ? mlast : 0xFFFF,
                             rq16_apply(acc[v], &r));
    }
}

/* The same for an output whose window lies inside the image: tap t reads x0 + off[t]. */
static inline __attribute__((always_inline)) void dw_inner(const eml_qs8_dw_job *j,
                                                           const uint8_t *x0, const int64_t *off,
                                                           int64_t taps, int64_t c0, const int nv,
                                                           __mmask16 mlast, uint8_t *y)
{
    const int64_t cp = j->channels_padded;
    const int32_t *bias = j->packed, *mult = bias + cp, *shift = mult + cp, *w = shift + cp + c0;
    __m512i acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm512_loadu_si512(bias + c0 + 16 * v);
    for (int64_t t = 0; t < taps; t++, w += cp) {
        const uint8_t *xp = x0 + off[t] + c0;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? mlast : 0xFFFF;
            const __m512i xv = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, xp + 16 * v));
            acc[v] = _mm512_add_epi32(acc[v], _mm512_madd_epi16(xv, _mm512_loadu_si512(w + 16 * v)));
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        const rq16 r = rq16_load(mult + c0 + 16 * v, shift + c0 + 16 * v, &j->out);
        _mm_mask_storeu_epi8(y + c0 + 16 * v, v == nv - 1 ? mlast : 0xFFFF,
                             rq16_apply(acc[v], &r));
    }
}

#define DW_MAX_TAPS 64

void eml_qs8_dw_row__avx512vnni(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y);

void eml_qs8_dw_row__avx512vnni(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y)
{
    const int64_t cn = j->channels, taps = j->kh * j->kw;
    int64_t off[DW_MAX_TAPS];
    for (int64_t t = 0; t < taps && taps <= DW_MAX_TAPS; t++)
        off[t] = ((t / j->kw) * j->dil_h * j->in_w + (t % j->kw) * j->dil_w) * cn;
    const int64_t iy0 = oy * j->stride_h - j->pad_top;
    const bool rows_in = iy0 >= 0 && iy0 + (j->kh - 1) * j->dil_h < j->in_h;
    const int64_t rem = cn % 64, full = cn - rem;
    const int rem_vec = (int)((rem + 15) / 16);
    const __mmask16 rem_mask = rem % 16 ? (__mmask16)((1u << (rem % 16)) - 1) : 0xFFFF;
    for (int64_t ox = 0; ox < j->out_w; ox++) {
        const int64_t ix0 = ox * j->stride_w - j->pad_left;
        uint8_t *yo = y + ox * cn;
        if (rows_in && taps <= DW_MAX_TAPS && ix0 >= 0 &&
            ix0 + (j->kw - 1) * j->dil_w < j->in_w) {
            const uint8_t *x0 = j->x + (iy0 * j->in_w + ix0) * cn;
            for (int64_t c0 = 0; c0 < full; c0 += 64)
                dw_inner(j, x0, off, taps, c0, 4, 0xFFFF, yo);
            switch (rem_vec) {
            case 1: dw_inner(j, x0, off, taps, full, 1, rem_mask, yo); break;
            case 2: dw_inner(j, x0, off, taps, full, 2, rem_mask, yo); break;
            case 3: dw_inner(j, x0, off, taps, full, 3, rem_mask, yo); break;
            case 4: dw_inner(j, x0, off, taps, full, 4, rem_mask, yo); break;
            default: break;
            }
            continue;
        }
        for (int64_t c0 = 0; c0 < full; c0 += 64)
            dw_block(j, oy, ox, c0, 4, 0xFFFF, y);
        for (int64_t c0 = full; c0 < cn; c0 += 16) {
            const int64_t n = EML_MIN(16, cn - c0);
            dw_block(j, oy, ox, c0, 1, n == 16 ? 0xFFFF : (__mmask16)((1u << n) - 1), y);
        }
    }
}
