/* Body of the planar-input convolution (planar_conv in kernels/f32_nhwc.h), included by
 * f32_nhwc_body.h after its helpers. A tile is PLANAR_PIXELS output pixels of one row × one
 * panel of two vectors of output channels: per tap, each pixel's input is broadcast against the
 * panel's weights into its own accumulators, enough of them to hide the fused multiply-add
 * latency. A last panel of one vector takes twice the pixels, for as many accumulators. With the
 * stride a compile-time constant (1 or 2: every stem), a pixel's input is a fixed offset from the
 * row pointer, so the loads need no address registers. */
#ifndef EML_KERNELS_SIMD_F32_PLANAR_CONV_BODY_H
#define EML_KERNELS_SIMD_F32_PLANAR_CONV_BODY_H

#define PLANAR_PANEL (2 * VW)
/* Pixels of a two-vector tile: their accumulators and the panel's two weight vectors fit the
 * registers (AVX2 has 16, AVX-512 and NEON 32). */
#define PLANAR_PIXELS (VW == 8 ? 6 : 8)
#define PLANAR_MAX_PIXELS (2 * PLANAR_PIXELS)

/* MR pixels from output column ow (its taps start at input column col) × the panel w of oc
 * channels, NV vectors wide (NV = 1 when oc <= VW). S_T: the stride when known at compile time,
 * 0 otherwise (then a->stride_w). x: the tile's rows, possibly the gathered ones of one pixel. */
INLINE void planar_tile(const size_t MR, const size_t NV, const size_t S_T,
                        const eml_f32_planar_conv_args *a, const float *const *x, size_t col,
                        const float *w, size_t oc, float *y)
{
    const size_t S = S_T ? S_T : a->stride_w, KW = a->kernel_w;
    vf acc0[PLANAR_MAX_PIXELS], acc1[PLANAR_MAX_PIXELS];
    const vf b0 = v_loadu(w), b1 = NV == 2 ? v_loadu(w + VW) : v_zero();
#pragma GCC unroll 16
    for (size_t i = 0; i < MR; i++) {
        acc0[i] = b0;
        acc1[i] = b1;
    }
    const float *wr = w + PLANAR_PANEL;
    for (size_t r = 0; r < a->rows; r++, wr += KW * PLANAR_PANEL) {
        if (!x[r])
            continue;
        const float *wk = wr;
        for (size_t k = 0; k < KW; k++, wk += PLANAR_PANEL) {
            /* opaque to the compiler, so that each pixel's input is a load at a fixed offset:
             * otherwise GCC carries the inputs that the next tap shares (x[i * S + k + 1] is
             * pixel i + 1's at stride 1) in registers, shuffling them at every step (AVX-512, a
             * 3x3 stride-2 stem of 24 channels: 28.6 -> 68.6 GMAC/s) */
            const float *xk = x[r] + col + k;
            __asm__("" : "+r"(xk));
            const vf w0 = v_loadu(wk), w1 = NV == 2 ? v_loadu(wk + VW) : v_zero();
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; i++) {
                const vf v = v_set1(xk[i * S]);
                acc0[i] = v_fmadd(v, w0, acc0[i]);
                if (NV == 2)
                    acc1[i] = v_fmadd(v, w1, acc1[i]);
            }
        }
    }
    const vf vmin = v_set1(a->min), vmax = v_set1(a->max);
    const size_t O = a->out_channels;
    const bool full0 = NV == 2 || oc == VW, full1 = oc == 2 * VW;
    const vm m0 = v_tail(full0 ? 0 : oc), m1 = v_tail(full1 || NV == 1 ? 0 : oc - VW);
#pragma GCC unroll 16
    for (size_t i = 0; i < MR; i++) {
        store_c(y + i * O, clamp(acc0[i], vmin, vmax), full0, m0);
        if (NV == 2)
            store_c(y + i * O + VW, clamp(acc1[i], vmin, vmax), full1, m1);
    }
}

/* Output columns [lo, hi) of panel w, every tap inside the row: tiles of MR pixels, the last one
 * overlapping the one before when MR does not divide the span (a pixel's sum does not depend on
 * its tile, so it is written twice with the same bits); single pixels when the span is short. */
INLINE void planar_span(const size_t NV, const size_t S_T, const eml_f32_planar_conv_args *a,
                        size_t lo, size_t hi, const float *w, size_t oc, float *y)
{
    const size_t MR = NV == 2 ? PLANAR_PIXELS : PLANAR_MAX_PIXELS;
    const size_t S = S_T ? S_T : a->stride_w;
    const size_t O = a->out_channels;
    const int64_t pl = a->pad_left;
    if (hi - lo >= MR) {
        for (size_t ow = lo; ow < hi; ow += MR) {
            const size_t o0 = ow + MR <= hi ? ow : hi - MR;
            planar_tile(MR, NV, S_T, a, a->x, (size_t)((int64_t)(o0 * S) - pl), w, oc, y + o0 * O);
        }
        return;
    }
    for (size_t ow = lo; ow < hi; ow++)
        planar_tile(1, NV, S_T, a, a->x, (size_t)((int64_t)(ow * S) - pl), w, oc, y + ow * O);
}

/* One output column some of whose taps fall outside the row: its taps gathered, zeros outside. */
INLINE void planar_edge(const size_t NV, const eml_f32_planar_conv_args *a, size_t ow,
                        const float *w, size_t oc, float *y)
{
    float taps[EML_PLANAR_MAX_TAPS];
    const float *rows[EML_PLANAR_MAX_TAPS];
    const size_t KW = a->kernel_w;
    const int64_t start = (int64_t)(ow * a->stride_w) - a->pad_left;
    for (size_t r = 0; r < a->rows; r++) {
        rows[r] = a->x[r] ? taps + r * KW : NULL;
        for (size_t k = 0; a->x[r] && k < KW; k++) {
            const int64_t iw = start + (int64_t)k;
            taps[r * KW + k] = iw >= 0 && iw < (int64_t)a->in_w ? a->x[r][iw] : 0.0f;
        }
    }
    planar_tile(1, NV, 1, a, rows, 0, w, oc, y + ow * a->out_channels);
}

/* The output columns whose taps all lie inside the row: [*lo, *hi). */
static void planar_interior(const eml_f32_planar_conv_args *a, size_t *lo, size_t *hi)
{
    const int64_t S = (int64_t)a->stride_w, pl = a->pad_left, OW = (int64_t)a->out_w;
    const int64_t last = (int64_t)a->in_w - (int64_t)a->kernel_w + pl; /* ow * S <= last */
    const int64_t l = EML_MIN(pl > 0 ? (pl + S - 1) / S : 0, OW);
    const int64_t h = last < 0 ? 0 : EML_MIN(last / S + 1, OW);
    *lo = (size_t)l;
    *hi = (size_t)EML_MAX(l, h);
}

INLINE void planar_panel(const size_t NV, const eml_f32_planar_conv_args *a, size_t lo, size_t hi,
                         const float *w, size_t oc, float *y)
{
    if (a->stride_w == 1)
        planar_span(NV, 1, a, lo, hi, w, oc, y);
    else if (a->stride_w == 2)
        planar_span(NV, 2, a, lo, hi, w, oc, y);
    else
        planar_span(NV, 0, a, lo, hi, w, oc, y);
    for (size_t ow = 0; ow < a->out_w; ow++) {
        if (ow == lo)
            ow = hi;
        if (ow < a->out_w)
            planar_edge(NV, a, ow, w, oc, y);
    }
}

/* Panel by panel: a panel's weights and the row's inputs stay in L1 while its tiles go along
 * the row. */
static void planar_conv(const eml_f32_planar_conv_args *a)
{
    size_t lo, hi;
    planar_interior(a, &lo, &hi);
    const size_t panel_floats = PLANAR_PANEL * (1 + a->rows * a->kernel_w);
    const float *w = a->w;
    for (size_t o0 = 0; o0 < a->out_channels; o0 += PLANAR_PANEL, w += panel_floats) {
        const size_t oc = EML_MIN((size_t)PLANAR_PANEL, a->out_channels - o0);
        if (oc > VW)
            planar_panel(2, a, lo, hi, w, oc, a->y + o0);
        else
            planar_panel(1, a, lo, hi, w, oc, a->y + o0);
    }
}

#endif
