/* The f32 channels-last micro-kernel tables: selection, depthwise weight packing, and the portable
 * (scalar C) variants for CPUs without a SIMD table. */
#include <math.h>

#include "kernels/f32_nhwc.h"

static const eml_f32_nhwc_ops *const tables[] = {
#define EML_NHWC_UKERNELS(isa, table) &table,
#include "kernels/lists/f32_nhwc.inc"
#undef EML_NHWC_UKERNELS
};

#define TABLE_COUNT (sizeof(tables) / sizeof(tables[0]))

const eml_f32_nhwc_ops *const *eml__f32_nhwc_tables(size_t *count)
{
    *count = TABLE_COUNT;
    return tables;
}

const eml_f32_nhwc_ops *eml__f32_nhwc_select(void)
{
    for (size_t i = 0; i < TABLE_COUNT; i++)
        if (eml__cpu_has(tables[i]->isa))
            return tables[i];
    return tables[TABLE_COUNT - 1];
}

static size_t round_up(size_t n, size_t tile)
{
    return (n + tile - 1) / tile * tile;
}

size_t eml__f32_dwconv_packed_floats(size_t channels, size_t kh, size_t kw, size_t tile)
{
    return (kh * kw + 1) * round_up(channels, tile);
}

void eml__f32_dwconv_pack(size_t channels, size_t kh, size_t kw, size_t tile, const float *w,
                          const float *bias, float *packed)
{
    const size_t cp = round_up(channels, tile), taps = kh * kw;
    for (size_t t = 0; t <= taps; t++) {
        float *dst = packed + t * cp;
        for (size_t c = 0; c < cp; c++) {
            float v = 0.0f;
            if (c < channels)
                v = t < taps ? w[c * taps + t] : bias ? bias[c] : 0.0f;
            dst[c] = v;
        }
    }
}

/* ---- portable variants: one channel at a time ---- */

/* The taps [*klo, *khi) of output column ow inside the row; returns its first input column. */
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

static void dwconv_scalar(const eml_f32_dwconv_args *a)
{
    const eml_f32_nhwc_row *r = &a->row;
    const int64_t C = (int64_t)r->channels;
    for (size_t ow = 0; ow < r->out_w; ow++) {
        size_t klo, khi;
        const int64_t start = col_taps(r, ow, &klo, &khi);
        for (int64_t c = 0; c < C; c++) {
            float acc = a->bias[c];
            const float *x = r->x + c;
            const float *w = a->w + c;
            for (size_t i = 0; i < r->rows; i++) {
                for (size_t k = klo; k < khi; k++)
                    acc += w[k * a->cp] * x[(start + (int64_t)(k * r->dilation_w)) * C];
                x += r->x_row_stride;
                w += a->w_row_stride;
            }
            /* written so that NaN passes, as the SIMD clamps do */
            acc = acc < a->min ? a->min : acc;
            acc = acc > a->max ? a->max : acc;
            r->y[(int64_t)ow * C + c] = acc;
        }
    }
}

static void pool_scalar(const eml_f32_pool_args *a, bool is_max)
{
    const eml_f32_nhwc_row *r = &a->row;
    const int64_t C = (int64_t)r->channels;
    for (size_t ow = 0; ow < r->out_w; ow++) {
        size_t klo, khi;
        const int64_t start = col_taps(r, ow, &klo, &khi);
        int64_t count = (int64_t)(r->rows * (khi - klo));
        if (a->count_include_pad) {
            const int64_t end = EML_MIN(start + (int64_t)r->kernel_w, (int64_t)a->in_w_padded);
            count = a->pad_rows * (end - start);
        }
        for (int64_t c = 0; c < C; c++) {
            float acc = is_max ? -INFINITY : 0.0f;
            const float *x = r->x + c;
            for (size_t i = 0; i < r->rows; i++) {
                for (size_t k = klo; k < khi; k++) {
                    const float v = x[(start + (int64_t)(k * r->dilation_w)) * C];
                    if (!is_max)
                        acc += v;
                    else if (v > acc) /* NaN never wins */
                        acc = v;
                }
                x += r->x_row_stride;
            }
            r->y[(int64_t)ow * C + c] = is_max ? acc : acc / (float)count;
        }
    }
}

static void maxpool_scalar(const eml_f32_pool_args *a)
{
    pool_scalar(a, true);
}

static void avgpool_scalar(const eml_f32_pool_args *a)
{
    pool_scalar(a, false);
}

static void global_avg_scalar(size_t channels, size_t pixels, const float *x, float *y)
{
    for (size_t c = 0; c < channels; c++) {
        float s = 0.0f;
        for (size_t i = 0; i < pixels; i++)
            s += x[i * channels + c];
        y[c] = s / (float)pixels;
    }
}

static void residual_clamp_scalar(size_t n, float *y, const float *z, float min, float max)
{
    for (size_t i = 0; i < n; i++) {
        float v = z ? y[i] + z[i] : y[i];
        v = v < min ? min : v;
        y[i] = v > max ? max : v;
    }
}

/* Winograd F(4x4, 3x3) on one channel: B^T on 6 values r[i * step], A^T on 6 to 4. */
static void wino_bt_scalar(const float *d, size_t ds, float *r, size_t step)
{
    const float d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds];
    const float d5 = d[5 * ds];
    r[0] = fmaf(4.0f, d0, fmaf(-5.0f, d2, d4));
    r[1 * step] = fmaf(-4.0f, d1 + d2, d3 + d4);
    r[2 * step] = fmaf(4.0f, d1 - d2, d4 - d3);
    r[3 * step] = fmaf(2.0f, d3 - d1, d4 - d2);
    r[4 * step] = fmaf(2.0f, d1 - d3, d4 - d2);
    r[5 * step] = fmaf(4.0f, d1, fmaf(-5.0f, d3, d5));
}

static void wino_at_scalar(const float *m, size_t ms, float *r, size_t step)
{
    const float a = m[ms] + m[2 * ms], b = m[ms] - m[2 * ms];
    const float c = m[3 * ms] + m[4 * ms], d = m[3 * ms] - m[4 * ms];
    r[0] = m[0] + a + c;
    r[1 * step] = fmaf(2.0f, d, b);
    r[2 * step] = fmaf(4.0f, c, a);
    r[3 * step] = fmaf(8.0f, d, b) + m[5 * ms];
}

static void wino_input_scalar(size_t C, const float *const d[36], float *v, size_t vs)
{
    for (size_t c = 0; c < C; c++) {
        float x[36], t[36], r[36];
        for (size_t i = 0; i < 36; i++)
            x[i] = d[i][c];
        for (size_t j = 0; j < 6; j++)
            wino_bt_scalar(x + j, 6, t + j, 6);
        for (size_t i = 0; i < 6; i++)
            wino_bt_scalar(t + i * 6, 1, r + i * 6, 1);
        for (size_t i = 0; i < 36; i++)
            v[i * vs + c] = r[i];
    }
}

static void wino_output_scalar(size_t C, const float *m, size_t ms, const float *bias,
                               float *const y[16], const float *const z[16], float min, float max)
{
    for (size_t c = 0; c < C; c++) {
        float u[24], r[16];
        for (size_t j = 0; j < 6; j++)
            wino_at_scalar(m + j * ms + c, 6 * ms, u + j, 6);
        for (size_t i = 0; i < 4; i++)
            wino_at_scalar(u + i * 6, 1, r + i * 4, 1);
        for (size_t i = 0; i < 16; i++) {
            if (!y[i])
                continue;
            float o = r[i] + bias[c];
            if (z)
                o += z[i][c];
            o = o < min ? min : o;
            y[i][c] = o > max ? max : o;
        }
    }
}

/* Output channels per packed panel of the portable planar conv. */
#define PLANAR_PANEL_SCALAR 8

static void planar_conv_scalar(const eml_f32_planar_conv_args *a)
{
    const size_t P = PLANAR_PANEL_SCALAR, KW = a->kernel_w;
    const size_t panel_floats = P * (1 + a->rows * KW);
    for (size_t ow = 0; ow < a->out_w; ow++) {
        const int64_t start = (int64_t)(ow * a->stride_w) - a->pad_left;
        for (size_t o = 0; o < a->out_channels; o++) {
            const float *w = a->w + o / P * panel_floats + o % P;
            float acc = w[0];
            for (size_t r = 0; r < a->rows; r++) {
                if (!a->x[r])
                    continue;
                for (size_t k = 0; k < KW; k++) {
                    const int64_t iw = start + (int64_t)k;
                    if (iw >= 0 && iw < (int64_t)a->in_w)
                        acc += w[(1 + r * KW + k) * P] * a->x[r][iw];
                }
            }
            acc = acc < a->min ? a->min : acc;
            acc = acc > a->max ? a->max : acc;
            a->y[ow * a->out_channels + o] = acc;
        }
    }
}

const eml_f32_nhwc_ops eml_f32_nhwc__scalar = {
    .isa_name = "scalar",
    .isa = EML_ISA_NONE,
    .channel_tile = 1,
    .dwconv = dwconv_scalar,
    .maxpool = maxpool_scalar,
    .avgpool = avgpool_scalar,
    .global_avg = global_avg_scalar,
    .residual_clamp = residual_clamp_scalar,
    .wino_input = wino_input_scalar,
    .wino_output = wino_output_scalar,
    .planar_panel = PLANAR_PANEL_SCALAR,
    .planar_conv = planar_conv_scalar,
};
