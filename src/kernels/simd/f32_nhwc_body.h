/* Body of the f32 channels-last micro-kernels (kernels/f32_nhwc.h), written once over a SIMD
 * vocabulary and compiled per ISA: the including file first includes x86/simd_f32.h (after
 * defining EML_SIMD_AVX512 or EML_SIMD_AVX2) or arm/simd_f32_neon.h, and defines EML_SIMD_ISA and
 * EML_SIMD_ISA_NAME. Channels are the vector lanes; a channel tail goes
 * through masked loads and stores, so nothing past C is read or written. */
#ifndef EML_KERNELS_SIMD_F32_NHWC_BODY_H
#define EML_KERNELS_SIMD_F32_NHWC_BODY_H

#include <math.h>

#include "kernels/f32_nhwc.h"

#define VW EML_SIMD_WIDTH
/* Output columns a depthwise step computes together: independent accumulators hide the
 * fused multiply-add latency (4 cycles, 2 per cycle on current cores). At stride 1 AVX-512's 32
 * registers hold 12 accumulators and the 16 input vectors of a 5-wide row (3x3 dw 14 x 14 x 480
 * 36 -> 44 GMAC/s, 112 x 112 x 32 40 -> 44 against 8 columns); at stride 2 the row's inputs
 * double, and 8 columns fit. */
#ifndef DW_COLS
#define DW_COLS (EML_SIMD_WIDTH == 16 ? 8 : 4)
#endif
#define DW_COLS_S1 (EML_SIMD_WIDTH == 16 ? 12 : DW_COLS)
#define DW_COLS_MAX (DW_COLS_S1 > DW_COLS ? DW_COLS_S1 : DW_COLS)
#define INLINE static inline __attribute__((always_inline))
/* The widest kernel with a compile-time width (dw_blocks' cases). */
#define DW_MAX_KW 5

INLINE vf load_c(const float *p, bool full, vm m)
{
    return full ? v_loadu(p) : v_load_mask(p, m, v_zero());
}

INLINE void store_c(float *p, vf v, bool full, vm m)
{
    if (full)
        v_storeu(p, v);
    else
        v_store_mask(p, m, v);
}

/* Output columns [*lo, *hi) whose kernel_w taps all fall inside the row. */
static void interior_cols(const eml_f32_nhwc_row *r, size_t *lo, size_t *hi)
{
    const int64_t s = (int64_t)r->stride_w, pl = r->pad_left, ow = (int64_t)r->out_w;
    const int64_t last = (int64_t)r->in_w - 1 + pl - (int64_t)((r->kernel_w - 1) * r->dilation_w);
    int64_t a = pl > 0 ? (pl + s - 1) / s : 0;
    int64_t b = last < 0 ? 0 : last / s + 1;
    a = EML_MIN(a, ow);
    b = EML_MAX(a, EML_MIN(b, ow));
    *lo = (size_t)a;
    *hi = (size_t)b;
}

/* The taps [*klo, *khi) of output column ow that fall inside the row; returns the window's first
 * input column (may be negative). */
static int64_t col_taps(const eml_f32_nhwc_row *r, size_t ow, size_t *klo, size_t *khi)
{
    const int64_t d = (int64_t)r->dilation_w, w = (int64_t)r->in_w;
    const int64_t start = (int64_t)(ow * r->stride_w) - r->pad_left;
    int64_t lo = start < 0 ? (-start + d - 1) / d : 0;
    int64_t hi = w > start ? EML_MIN((int64_t)r->kernel_w, (w - start + d - 1) / d) : 0;
    *klo = (size_t)lo;
    *khi = (size_t)EML_MAX(lo, hi);
    return start;
}

/* ---- depthwise convolution ---- */

INLINE vf clamp(vf v, vf vmin, vf vmax)
{
    /* max(min, v) and min(max, v) return v when v is NaN */
    return v_min(vmax, v_max(vmin, v));
}

/* Columns from ow0 of channels [c, c + VW) (or the tail m), NC at a time while a whole block fits
 * before ow1, every tap inside the row; returns the column where the blocks stopped. KW_T is the
 * kernel width when known at compile time (the loops then unroll), 0 otherwise; S_T the column
 * stride (1 or 2, undilated) when known with it, 0 otherwise. */
INLINE size_t dw_interior(const size_t KW_T, const size_t S_T, const size_t NC, const bool full,
                        const eml_f32_dwconv_args *a, size_t c, vm m, size_t ow0, size_t ow1)
{
    const eml_f32_nhwc_row *r = &a->row;
    const size_t KW = KW_T ? KW_T : r->kernel_w;
    const size_t C = r->channels, cp = a->cp;
    const size_t xs = r->stride_w * C, xd = r->dilation_w * C;
    const vf bias = v_loadu(a->bias + c);
    const vf vmin = v_set1(a->min), vmax = v_set1(a->max);
    for (size_t ow = ow0; ow + NC <= ow1; ow += NC) {
        vf acc[DW_COLS_MAX];
#pragma GCC unroll 16
        for (size_t p = 0; p < NC; p++)
            acc[p] = bias;
        const float *x = r->x + ((int64_t)(ow * r->stride_w) - r->pad_left) * (int64_t)C + c;
        const float *w = a->w + c;
        for (size_t i = 0; i < r->rows; i++) {
            if (S_T) {
                /* stride 1 or 2: the (NC - 1) * S + KW input vectors under the row, each
                 * loaded once for every tap and column that reads it (5x5 at stride 1: 12 loads
                 * for 40 multiply-adds, not 40; v_in_register keeps GCC from folding them back
                 * into the multiply-adds); the sums run in the same order */
                vf xin[(DW_COLS_MAX - 1) * 2 + DW_MAX_KW];
#pragma GCC unroll 32
                for (size_t q = 0; q < (NC - 1) * S_T + KW; q++)
                    xin[q] = v_in_register(load_c(x + q * C, full, m));
#pragma GCC unroll 8
                for (size_t k = 0; k < KW; k++) {
                    const vf wv = v_loadu(w + k * cp);
#pragma GCC unroll 16
                    for (size_t p = 0; p < NC; p++)
                        acc[p] = v_fmadd(xin[p * S_T + k], wv, acc[p]);
                }
            } else {
#pragma GCC unroll 8
                for (size_t k = 0; k < KW; k++) {
                    const vf wv = v_loadu(w + k * cp);
#pragma GCC unroll 16
                    for (size_t p = 0; p < NC; p++)
                        acc[p] = v_fmadd(load_c(x + p * xs + k * xd, full, m), wv, acc[p]);
                }
            }
            x += r->x_row_stride;
            w += a->w_row_stride;
        }
        float *y = r->y + ow * C + c;
#pragma GCC unroll 16
        for (size_t p = 0; p < NC; p++)
            store_c(y + p * C, clamp(acc[p], vmin, vmax), full, m);
    }
    return ow0 + (ow1 - ow0) / NC * NC;
}

/* Channel vectors a one-column step computes together: one column's taps are a chain of
 * dependent multiply-adds, and a 7 x 7 image has few columns to share it between, so independent
 * channels hide the latency instead (8 rather than 4: 7 x 7 x 960 3x3 3-15% faster, 7 x 7 x 1152
 * 5x5 2%). */
#define DW_COLUMN_VECS 8

/* One output column ow (the taps [klo, khi) inside the row, the window starting at input column
 * start), NV channel vectors from c, the last one masked by m when !full. Each output sums the
 * bias, then row by row and tap by tap, as the column blocks do. */
INLINE void dw_column(const size_t NV, const bool full, const eml_f32_dwconv_args *a, size_t c,
                      vm m, size_t ow, int64_t start, size_t klo, size_t khi)
{
    const eml_f32_nhwc_row *r = &a->row;
    const size_t C = r->channels, cp = a->cp;
    vf acc[DW_COLUMN_VECS];
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; v++)
        acc[v] = v_loadu(a->bias + c + v * VW);
    const float *x = r->x + c;
    const float *w = a->w + c;
    for (size_t i = 0; i < r->rows; i++) {
        for (size_t k = klo; k < khi; k++) {
            const float *xk = x + (start + (int64_t)(k * r->dilation_w)) * (int64_t)C;
#pragma GCC unroll 8
            for (size_t v = 0; v < NV; v++)
                acc[v] = v_fmadd(load_c(xk + v * VW, full || v + 1 < NV, m),
                                 v_loadu(w + k * cp + v * VW), acc[v]);
        }
        x += r->x_row_stride;
        w += a->w_row_stride;
    }
    const vf vmin = v_set1(a->min), vmax = v_set1(a->max);
    float *y = r->y + ow * C + c;
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; v++)
        store_c(y + v * VW, clamp(acc[v], vmin, vmax), full || v + 1 < NV, m);
}

/* Columns [ow0, ow1) one by one, NV channel vectors from c (the weights of those channels stay
 * in L1 across the columns). */
INLINE void dw_column_run(const size_t NV, const bool full, const eml_f32_dwconv_args *a, size_t c,
                          vm m, size_t ow0, size_t ow1)
{
    for (size_t ow = ow0; ow < ow1; ow++) {
        size_t klo, khi;
        const int64_t start = col_taps(&a->row, ow, &klo, &khi);
        dw_column(NV, full, a, c, m, ow, start, klo, khi);
    }
}

/* Columns [ow0, ow1), every channel: DW_COLUMN_VECS vectors at a time, then half as many, then
 * one, then the tail. */
static void dw_columns(const eml_f32_dwconv_args *a, size_t ow0, size_t ow1)
{
    const size_t C = a->row.channels;
    size_t c = 0;
    for (; c + DW_COLUMN_VECS * VW <= C; c += DW_COLUMN_VECS * VW)
        dw_column_run(DW_COLUMN_VECS, true, a, c, v_tail(0), ow0, ow1);
    for (; c + DW_COLUMN_VECS / 2 * VW <= C; c += DW_COLUMN_VECS / 2 * VW)
        dw_column_run(DW_COLUMN_VECS / 2, true, a, c, v_tail(0), ow0, ow1);
    for (; c + VW <= C; c += VW)
        dw_column_run(1, true, a, c, v_tail(0), ow0, ow1);
    if (c < C)
        dw_column_run(1, false, a, c, v_tail(C - c), ow0, ow1);
}

/* Interior columns from lo, in blocks that fit before hi, of channels [c, c + VW) or the tail,
 * with the kernel width, stride and block width (DW_COLS_S1 at stride 1) fixed at compile time
 * where they are common; returns the column where the blocks stopped. */
INLINE size_t dw_blocks(const bool full, const eml_f32_dwconv_args *a, size_t c, vm m, size_t lo,
                        size_t hi)
{
    const size_t s = a->row.dilation_w == 1 && a->row.stride_w <= 2 ? a->row.stride_w : 0;
    switch (a->row.kernel_w * 4 + s) {
    case 3 * 4 + 1: return dw_interior(3, 1, DW_COLS_S1, full, a, c, m, lo, hi);
    case 3 * 4 + 2: return dw_interior(3, 2, DW_COLS, full, a, c, m, lo, hi);
    case 5 * 4 + 1: return dw_interior(5, 1, DW_COLS_S1, full, a, c, m, lo, hi);
    case 5 * 4 + 2: return dw_interior(5, 2, DW_COLS, full, a, c, m, lo, hi);
    case 3 * 4: return dw_interior(3, 0, DW_COLS, full, a, c, m, lo, hi);
    case 5 * 4: return dw_interior(5, 0, DW_COLS, full, a, c, m, lo, hi);
    default: return dw_interior(0, 0, DW_COLS, full, a, c, m, lo, hi);
    }
}

/* The interior columns in blocks, channel vector by channel vector; the others (the image's
 * sides, what is left of the interior) column by column over every channel. */
static void dwconv(const eml_f32_dwconv_args *a)
{
    size_t lo, hi;
    interior_cols(&a->row, &lo, &hi);
    const size_t C = a->row.channels;
    size_t mid = lo, c = 0; /* every channel vector stops at the same column */
    for (; c + VW <= C; c += VW)
        mid = dw_blocks(true, a, c, v_tail(0), lo, hi);
    if (c < C)
        mid = dw_blocks(false, a, c, v_tail(C - c), lo, hi);
    if (lo > 0)
        dw_columns(a, 0, lo);
    if (mid < a->row.out_w)
        dw_columns(a, mid, a->row.out_w);
}

/* ---- pooling ---- */

/* Channel vectors a pooling step keeps in flight: independent max/add chains hide their
 * latency. */
#define POOL_VECS 4

/* NV vectors of channels from c (the last one masked by m when !full) of one output pixel:
 * the max (is_max) or the sum of its taps. max(x, best) keeps best unless x > best: NaN taps
 * are skipped and the first of equal values stays, as in the reference. */
INLINE void pool_vectors(const size_t NV, const bool is_max, const bool full,
                         const eml_f32_nhwc_row *r, size_t c, vm m, int64_t start, size_t klo,
                         size_t khi, vf *acc)
{
#pragma GCC unroll 4
    for (size_t v = 0; v < NV; v++)
        acc[v] = is_max ? v_set1(-INFINITY) : v_zero();
    const float *x = r->x + c;
    const int64_t C = (int64_t)r->channels;
    for (size_t i = 0; i < r->rows; i++) {
        for (size_t k = klo; k < khi; k++) {
            const float *p = x + (start + (int64_t)(k * r->dilation_w)) * C;
#pragma GCC unroll 4
            for (size_t v = 0; v < NV; v++) {
                const bool last_full = full || v + 1 < NV;
                const vf t = load_c(p + v * VW, last_full, m);
                acc[v] = is_max ? v_max(t, acc[v]) : v_add(acc[v], t);
            }
        }
        x += r->x_row_stride;
    }
}

/* One output pixel, every channel: POOL_VECS vectors at a time, then one, then the tail. */
INLINE void pool_pixel(const bool is_max, const eml_f32_nhwc_row *r, int64_t start, size_t klo,
                       size_t khi, vf scale, float *y)
{
    const size_t C = r->channels;
    vf acc[POOL_VECS];
    size_t c = 0;
    for (; c + POOL_VECS * VW <= C; c += POOL_VECS * VW) {
        pool_vectors(POOL_VECS, is_max, true, r, c, v_tail(0), start, klo, khi, acc);
#pragma GCC unroll 4
        for (size_t v = 0; v < POOL_VECS; v++)
            v_storeu(y + c + v * VW, is_max ? acc[v] : v_div(acc[v], scale));
    }
    for (; c + VW <= C; c += VW) {
        pool_vectors(1, is_max, true, r, c, v_tail(0), start, klo, khi, acc);
        v_storeu(y + c, is_max ? acc[0] : v_div(acc[0], scale));
    }
    if (c < C) {
        const vm m = v_tail(C - c);
        pool_vectors(1, is_max, false, r, c, m, start, klo, khi, acc);
        v_store_mask(y + c, m, is_max ? acc[0] : v_div(acc[0], scale));
    }
}

static void maxpool(const eml_f32_pool_args *a)
{
    const eml_f32_nhwc_row *r = &a->row;
    for (size_t ow = 0; ow < r->out_w; ow++) {
        size_t klo, khi;
        const int64_t start = col_taps(r, ow, &klo, &khi);
        pool_pixel(true, r, start, klo, khi, v_zero(), r->y + ow * r->channels);
    }
}

static void avgpool(const eml_f32_pool_args *a)
{
    const eml_f32_nhwc_row *r = &a->row;
    for (size_t ow = 0; ow < r->out_w; ow++) {
        size_t klo, khi;
        const int64_t start = col_taps(r, ow, &klo, &khi);
        int64_t count;
        if (a->count_include_pad) {
            const int64_t end = EML_MIN(start + (int64_t)r->kernel_w, (int64_t)a->in_w_padded);
            count = a->pad_rows * (end - start);
        } else {
            count = (int64_t)(r->rows * (khi - klo));
        }
        /* an empty window divides 0 by 0: NaN, as the reference */
        pool_pixel(false, r, start, klo, khi, v_set1((float)count), r->y + ow * r->channels);
    }
}

static void global_avg(size_t C, size_t pixels, const float *x, float *y)
{
    const vf n = v_set1((float)pixels);
    size_t c = 0;
    for (; c + 4 * VW <= C; c += 4 * VW) {
        vf s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
        const float *p = x + c;
        for (size_t i = 0; i < pixels; i++, p += C) {
            s0 = v_add(s0, v_loadu(p));
            s1 = v_add(s1, v_loadu(p + VW));
            s2 = v_add(s2, v_loadu(p + 2 * VW));
            s3 = v_add(s3, v_loadu(p + 3 * VW));
        }
        v_storeu(y + c, v_div(s0, n));
        v_storeu(y + c + VW, v_div(s1, n));
        v_storeu(y + c + 2 * VW, v_div(s2, n));
        v_storeu(y + c + 3 * VW, v_div(s3, n));
    }
    for (; c < C; c += VW) {
        const bool full = c + VW <= C;
        const vm m = v_tail(full ? 0 : C - c);
        vf s = v_zero();
        const float *p = x + c;
        for (size_t i = 0; i < pixels; i++, p += C)
            s = v_add(s, load_c(p, full, m));
        store_c(y + c, v_div(s, n), full, m);
    }
}

static void residual_clamp(size_t n, float *y, const float *z, float min, float max)
{
    const vf vmin = v_set1(min), vmax = v_set1(max);
    size_t i = 0;
    if (z) {
        for (; i + VW <= n; i += VW)
            v_storeu(y + i, clamp(v_add(v_loadu(y + i), v_loadu(z + i)), vmin, vmax));
        if (i < n) {
            const vm m = v_tail(n - i);
            const vf s = v_add(v_load_mask(y + i, m, v_zero()), v_load_mask(z + i, m, v_zero()));
            v_store_mask(y + i, m, clamp(s, vmin, vmax));
        }
        return;
    }
    for (; i + VW <= n; i += VW)
        v_storeu(y + i, clamp(v_loadu(y + i), vmin, vmax));
    if (i < n) {
        const vm m = v_tail(n - i);
        v_store_mask(y + i, m, clamp(v_load_mask(y + i, m, v_zero()), vmin, vmax));
    }
}

/* Winograd F(4x4, 3x3): B^T applied to one column (or row) of 6, r[i * step]. */
INLINE void wino_bt(vf d0, vf d1, vf d2, vf d3, vf d4, vf d5, vf *r, size_t step)
{
    const vf four = v_set1(4.0f), five = v_set1(5.0f), two = v_set1(2.0f);
    r[0] = v_fmadd(four, d0, v_fnmadd(five, d2, d4));
    r[1 * step] = v_fnmadd(four, v_add(d1, d2), v_add(d3, d4));
    r[2 * step] = v_fmadd(four, v_sub(d1, d2), v_sub(d4, d3));
    r[3 * step] = v_fmadd(two, v_sub(d3, d1), v_sub(d4, d2));
    r[4 * step] = v_fmadd(two, v_sub(d1, d3), v_sub(d4, d2));
    r[5 * step] = v_fmadd(four, d1, v_fnmadd(five, d3, d5));
}

/* A^T applied to one column (or row) of 6, r[i * step] for i < 4. */
INLINE void wino_at(vf m0, vf m1, vf m2, vf m3, vf m4, vf m5, vf *r, size_t step)
{
    const vf a = v_add(m1, m2), b = v_sub(m1, m2), c = v_add(m3, m4), d = v_sub(m3, m4);
    r[0] = v_add(v_add(m0, a), c);
    r[1 * step] = v_fmadd(v_set1(2.0f), d, b);
    r[2 * step] = v_fmadd(v_set1(4.0f), c, a);
    r[3 * step] = v_add(v_fmadd(v_set1(8.0f), d, b), m5);
}

static void wino_input(size_t C, const float *const d[36], float *v, size_t vs)
{
    for (size_t c = 0; c < C; c += VW) {
        const bool full = c + VW <= C;
        const vm m = v_tail(full ? 0 : C - c);
        vf t[36]; /* B^T d, row-major */
        for (size_t j = 0; j < 6; j++)
            wino_bt(load_c(d[j] + c, full, m), load_c(d[6 + j] + c, full, m),
                    load_c(d[12 + j] + c, full, m), load_c(d[18 + j] + c, full, m),
                    load_c(d[24 + j] + c, full, m), load_c(d[30 + j] + c, full, m), t + j, 6);
        for (size_t i = 0; i < 6; i++) {
            vf r[6];
            const vf *ti = t + i * 6;
            wino_bt(ti[0], ti[1], ti[2], ti[3], ti[4], ti[5], r, 1);
            for (size_t j = 0; j < 6; j++)
                store_c(v + (i * 6 + j) * vs + c, r[j], full, m);
        }
    }
}

static void wino_output(size_t C, const float *mm, size_t ms, const float *bias, float *const y[16],
                        const float *const z[16], float min, float max)
{
    const vf vmin = v_set1(min), vmax = v_set1(max);
    for (size_t c = 0; c < C; c += VW) {
        const bool full = c + VW <= C;
        const vm m = v_tail(full ? 0 : C - c);
        const float *p = mm + c;
        vf u[24]; /* A^T m, 4 rows of 6 */
        for (size_t j = 0; j < 6; j++)
            wino_at(load_c(p + j * ms, full, m), load_c(p + (6 + j) * ms, full, m),
                    load_c(p + (12 + j) * ms, full, m), load_c(p + (18 + j) * ms, full, m),
                    load_c(p + (24 + j) * ms, full, m), load_c(p + (30 + j) * ms, full, m), u + j,
                    6);
        const vf b = load_c(bias + c, full, m);
        for (size_t i = 0; i < 4; i++) {
            vf r[4];
            const vf *ui = u + i * 6;
            wino_at(ui[0], ui[1], ui[2], ui[3], ui[4], ui[5], r, 1);
            for (size_t j = 0; j < 4; j++) {
                float *yo = y[i * 4 + j];
                if (!yo)
                    continue;
                vf o = v_add(r[j], b);
                if (z)
                    o = v_add(o, load_c(z[i * 4 + j] + c, full, m));
                store_c(yo + c, clamp(o, vmin, vmax), full, m);
            }
        }
    }
}

#include "kernels/simd/f32_planar_conv_body.h"

const eml_f32_nhwc_ops EML_SIMD_FN(eml_f32_nhwc) = {
    .isa_name = EML_SIMD_ISA_NAME,
    .isa = EML_SIMD_ISA,
    .channel_tile = VW,
    .dwconv = dwconv,
    .maxpool = maxpool,
    .avgpool = avgpool,
    .global_avg = global_avg,
    .residual_clamp = residual_clamp,
    .wino_input = wino_input,
    .wino_output = wino_output,
    .planar_panel = PLANAR_PANEL,
    .planar_conv = planar_conv,
};

#endif
