/* AVX-512 VNNI kernels of the uint8 convolution (fast_qconv.h): an 8x32 GEMM micro-kernel on
 * vpdpbusd (u8 × s8 quads summed into int32 without intermediate saturation) and a 16-lane
 * depthwise row kernel; both requantize exactly as qrequant.h. */
#include <immintrin.h>
#include <string.h>

#include "kernels/fast_qconv.h"
#include "kernels/x86/qs8_dot_avx512vnni.h"

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

void eml_qs8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                   size_t a_stride_bytes, const void *panel, uint8_t *c,
                                   size_t c_stride, const eml_qs8_out *out);

void eml_qs8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t kp, const void *a,
                                   size_t a_stride_bytes, const void *panel, uint8_t *c,
                                   size_t c_stride, const eml_qs8_out *out)
{
    const int32_t *hdr = panel;
    const int8_t *w = (const int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * 32);
    __m512i acc[8][2];
    qs8_dot_8x32__avx512vnni(mr, nc, kp, a, a_stride_bytes, w, hdr, acc);
    const rq16 r0 = rq16_load(hdr + 32, hdr + 64, out);
    const rq16 r1 = rq16_load(hdr + 48, hdr + 80, out);
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    for (size_t i = 0; i < mr; i++) {
        uint8_t *ci = c + i * c_stride;
        _mm_mask_storeu_epi8(ci, m0, rq16_apply(acc[i][0], &r0));
        if (m1)
            _mm_mask_storeu_epi8(ci + 16, m1, rq16_apply(acc[i][1], &r1));
    }
}

/* Output (oy, ox) whose window crosses the border, nv vectors of 16 channels from c0 (the last
 * one masked by mlast): taps in the padding read the zero point, which the packed bias has
 * already taken off. The nv accumulators are independent chains of vpdpwssd. */
static inline __attribute__((always_inline)) void dw_border(const eml_qs8_dw_job *j, int64_t oy,
                                                            int64_t ox, int64_t c0, const int nv,
                                                            __mmask16 mlast, const rq16 *r,
                                                            uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels;
    const __m512i zpv = _mm512_set1_epi32(j->x_zp);
    const int32_t *wk = j->packed + 3 * cp + c0;
    __m512i acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm512_loadu_si512(j->packed + c0 + 16 * v);
    for (int64_t ky = 0; ky < j->kh; ky++) {
        const int64_t iy = oy * j->stride_h - j->pad_top + ky * j->dil_h;
        const bool row_in = iy >= 0 && iy < j->in_h;
        for (int64_t kx = 0; kx < j->kw; kx++, wk += cp) {
            const int64_t ix = ox * j->stride_w - j->pad_left + kx * j->dil_w;
            if (row_in && ix >= 0 && ix < j->in_w) {
                const uint8_t *xp = j->x + (iy * j->in_w + ix) * cn + c0;
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) {
                    const __mmask16 m = v == nv - 1 ? mlast : 0xFFFF;
                    const __m512i xv = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, xp + 16 * v));
                    acc[v] = _mm512_dpwssd_epi32(acc[v], xv, _mm512_loadu_si512(wk + 16 * v));
                }
            } else {
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    acc[v] = _mm512_dpwssd_epi32(acc[v], zpv, _mm512_loadu_si512(wk + 16 * v));
            }
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        _mm_mask_storeu_epi8(y + ox * cn + c0 + 16 * v, v == nv - 1 ? mlast : 0xFFFF,
                             rq16_apply(acc[v], &r[v]));
}

/* count outputs, one every xstep input bytes, whose windows lie inside the image: tap t of the
 * first reads x0 + off[t]. The requantization of the nv vectors is set up once for them all, and
 * each tap's weights are loaded once for px outputs at a time (vpdpwssd: the madd of the int8
 * weight in the low half of a dword with the zero-extended input, added without saturation). */
static inline __attribute__((always_inline)) void dw_pixels(const eml_qs8_dw_job *j,
                                                            const uint8_t *x0, int64_t xstep,
                                                            const int64_t *off, int64_t taps,
                                                            int64_t c0, const int nv, const int px,
                                                            __mmask16 mlast, const rq16 *r,
                                                            uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels;
    const int32_t *bias = j->packed + c0, *w = j->packed + 3 * cp + c0;
    __m512i acc[4][4];
#pragma GCC unroll 4
    for (int p = 0; p < px; p++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[p][v] = _mm512_loadu_si512(bias + 16 * v);
    for (int64_t t = 0; t < taps; t++, w += cp) {
        const uint8_t *xp = x0 + off[t] + c0;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? mlast : 0xFFFF;
            const __m512i wv = _mm512_loadu_si512(w + 16 * v);
#pragma GCC unroll 4
            for (int p = 0; p < px; p++) {
                const __m512i xv =
                    _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, xp + p * xstep + 16 * v));
                acc[p][v] = _mm512_dpwssd_epi32(acc[p][v], xv, wv);
            }
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < px; p++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            _mm_mask_storeu_epi8(y + p * cn + c0 + 16 * v, v == nv - 1 ? mlast : 0xFFFF,
                                 rq16_apply(acc[p][v], &r[v]));
}

/* The same for 3x3 undilated windows, 4 outputs at stride sw (1 or 2), 16 channels at a time:
 * each input column of a kernel row is widened once for all the taps and outputs that read it
 * (6 columns for 12 taps at stride 1) instead of once per tap, vpmovzxbd being what bounds the
 * general loop. Named variables rather than arrays keep everything in registers. */
static inline __attribute__((always_inline)) void dw_pixels4_3x3(const eml_qs8_dw_job *j,
                                                                 const uint8_t *x0, int64_t c0,
                                                                 int nv, const int sw,
                                                                 __mmask16 mlast, const rq16 *r,
                                                                 uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels, row = j->in_w * cn;
    for (int v = 0; v < nv; v++) {
        const int64_t c = c0 + 16 * v;
        const __mmask16 m = v == nv - 1 ? mlast : 0xFFFF;
        const int32_t *w = j->packed + 3 * cp + c;
        const __m512i b = _mm512_loadu_si512(j->packed + c);
        /* one accumulator per output and kernel column: 12 short chains, not 4 long ones of
         * vpdpwssd's latency; int32 sums wrap, so the order of the additions does not matter */
        const __m512i z = _mm512_setzero_si512();
        __m512i a00 = b, a01 = z, a02 = z, a10 = b, a11 = z, a12 = z;
        __m512i a20 = b, a21 = z, a22 = z, a30 = b, a31 = z, a32 = z;
        for (int ky = 0; ky < 3; ky++, w += 3 * cp) {
            const uint8_t *xr = x0 + ky * row + c;
            const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + cp),
                          w2 = _mm512_loadu_si512(w + 2 * cp);
#define XC(i) _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, xr + (i) * cn))
#define OUT(a, x0v, x1v, x2v)                                                                      \
    a##0 = _mm512_dpwssd_epi32(a##0, x0v, w0);                                                     \
    a##1 = _mm512_dpwssd_epi32(a##1, x1v, w1);                                                     \
    a##2 = _mm512_dpwssd_epi32(a##2, x2v, w2);
            if (sw == 1) {
                const __m512i x0v = XC(0), x1v = XC(1), x2v = XC(2), x3v = XC(3), x4v = XC(4),
                              x5v = XC(5);
                OUT(a0, x0v, x1v, x2v) OUT(a1, x1v, x2v, x3v) OUT(a2, x2v, x3v, x4v)
                OUT(a3, x3v, x4v, x5v)
            } else {
                const __m512i x0v = XC(0), x1v = XC(1), x2v = XC(2), x3v = XC(3), x4v = XC(4),
                              x5v = XC(5), x6v = XC(6), x7v = XC(7), x8v = XC(8);
                OUT(a0, x0v, x1v, x2v) OUT(a1, x2v, x3v, x4v) OUT(a2, x4v, x5v, x6v)
                OUT(a3, x6v, x7v, x8v)
            }
#undef XC
#undef OUT
        }
#define SUM(a) _mm512_add_epi32(_mm512_add_epi32(a##0, a##1), a##2)
        _mm_mask_storeu_epi8(y + c, m, rq16_apply(SUM(a0), &r[v]));
        _mm_mask_storeu_epi8(y + cn + c, m, rq16_apply(SUM(a1), &r[v]));
        _mm_mask_storeu_epi8(y + 2 * cn + c, m, rq16_apply(SUM(a2), &r[v]));
        _mm_mask_storeu_epi8(y + 3 * cn + c, m, rq16_apply(SUM(a3), &r[v]));
#undef SUM
    }
}

/* Channels [c0, c0 + 16 nv) of the whole row: border outputs one by one, the interior run
 * [lo, hi) (x0: its first window's top-left input) in blocks of outputs; the requantization is
 * set up once for them all. */
static inline __attribute__((always_inline)) void dw_row_block(const eml_qs8_dw_job *j,
                                                               int64_t oy, int64_t lo, int64_t hi,
                                                               const uint8_t *x0,
                                                               const int64_t *off, int64_t c0,
                                                               const int nv, __mmask16 mlast,
                                                               uint8_t *y)
{
    const int64_t cp = j->channels_padded, cn = j->channels, taps = j->kh * j->kw;
    const int64_t xstep = j->stride_w * cn, count = hi - lo;
    const int32_t *mult = j->packed + cp + c0, *shift = j->packed + 2 * cp + c0;
    rq16 r[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        r[v] = rq16_load(mult + 16 * v, shift + 16 * v, &j->out);
    for (int64_t ox = 0; ox < lo; ox++)
        dw_border(j, oy, ox, c0, nv, mlast, r, y);
    for (int64_t ox = hi; ox < j->out_w; ox++)
        dw_border(j, oy, ox, c0, nv, mlast, r, y);
    uint8_t *yi = y + lo * cn;
    /* px · nv accumulators and nv weights stay in the 32 vector registers */
    const int px = nv <= 2 ? 4 : 2;
    int64_t i = 0;
    if (j->kh == 3 && j->kw == 3 && j->dil_h == 1 && j->dil_w == 1 && j->stride_w <= 2) {
        for (; i + 4 <= count; i += 4) {
            if (j->stride_w == 1)
                dw_pixels4_3x3(j, x0 + i * xstep, c0, nv, 1, mlast, r, yi + i * cn);
            else
                dw_pixels4_3x3(j, x0 + i * xstep, c0, nv, 2, mlast, r, yi + i * cn);
        }
    }
    for (; i + px <= count; i += px)
        dw_pixels(j, x0 + i * xstep, xstep, off, taps, c0, nv, px, mlast, r, yi + i * cn);
    for (; i < count; i++)
        dw_pixels(j, x0 + i * xstep, xstep, off, taps, c0, nv, 1, mlast, r, yi + i * cn);
}

#define DW_MAX_TAPS 64

void eml_qs8_dw_row__avx512vnni(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y);

/* The outputs whose windows lie inside the image form one run [lo, hi) of the row (ix0 >= 0
 * grows with ox, ix0 + span < in_w shrinks; empty when the window rows cross the border or the
 * window has more than DW_MAX_TAPS taps). The row goes by blocks of 64 channels, then the rest. */
void eml_qs8_dw_row__avx512vnni(const eml_qs8_dw_job *j, int64_t oy, uint8_t *y)
{
    const int64_t cn = j->channels, taps = j->kh * j->kw;
    int64_t off[DW_MAX_TAPS];
    for (int64_t t = 0; t < taps && taps <= DW_MAX_TAPS; t++)
        off[t] = ((t / j->kw) * j->dil_h * j->in_w + (t % j->kw) * j->dil_w) * cn;
    const int64_t iy0 = oy * j->stride_h - j->pad_top, span = (j->kw - 1) * j->dil_w;
    const bool rows_in = iy0 >= 0 && iy0 + (j->kh - 1) * j->dil_h < j->in_h;
    int64_t lo = 0, hi = 0;
    if (rows_in && taps <= DW_MAX_TAPS) {
        while (lo < j->out_w && lo * j->stride_w - j->pad_left < 0)
            lo++;
        hi = lo;
        while (hi < j->out_w && hi * j->stride_w - j->pad_left + span < j->in_w)
            hi++;
    }
    /* only read when hi > lo, where it is the window of output lo */
    const uint8_t *x0 = hi > lo ? j->x + (iy0 * j->in_w + lo * j->stride_w - j->pad_left) * cn
                                : j->x;
    const int64_t rem = cn % 64, full = cn - rem;
    for (int64_t c0 = 0; c0 < full; c0 += 64)
        dw_row_block(j, oy, lo, hi, x0, off, c0, 4, 0xFFFF, y);
    const __mmask16 rem_mask = rem % 16 ? (__mmask16)((1u << (rem % 16)) - 1) : 0xFFFF;
    switch ((rem + 15) / 16) {
    case 1: dw_row_block(j, oy, lo, hi, x0, off, full, 1, rem_mask, y); break;
    case 2: dw_row_block(j, oy, lo, hi, x0, off, full, 2, rem_mask, y); break;
    case 3: dw_row_block(j, oy, lo, hi, x0, off, full, 3, rem_mask, y); break;
    case 4: dw_row_block(j, oy, lo, hi, x0, off, full, 4, rem_mask, y); break;
    default: break;
    }
}
