/* Reference kernels of the channels-last ops: direct loops, the oracle of the fast NHWC kernels.
 * Each sums in the same order as the NCHW reference kernel (Conv: bias, then input channel, kernel
 * row, kernel column; pools: window in row-major order, in double), so both layouts give the same
 * bits. */
#include <math.h>

#include "kernels/ref/nhwc.h"

/* Below this many multiply-adds a step runs on the calling thread. */
#define NHWC_INLINE_WORK 32768.0

/* ---- NhwcConv ---- */

typedef struct conv_job {
    const eml_conv_geom *g;
    const float *x, *w, *b;
    float *y;
    int64_t xs_n, xs_h, xs_w, xs_c; /* X's strides: channels-last, or planar (NhwcConvFromNchw) */
} conv_job;

/* One output row (n, oh): every column and output channel. */
static void conv_row(void *ctx, size_t row)
{
    const conv_job *j = ctx;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1], O = g->out_channels;
    const int64_t KH = g->kernel[0], KW = g->kernel[1];
    const int64_t Cg = C / g->group, Og = O / g->group;
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const float *x = j->x + n * j->xs_n;
    float *y = j->y + ((size_t)row * (size_t)OW) * (size_t)O;
    for (int64_t ow = 0; ow < OW; ow++) {
        for (int64_t o = 0; o < O; o++) {
            const int64_t c0 = o / Og * Cg;
            const float *w = j->w + o * Cg * KH * KW;
            float acc = j->b ? j->b[o] : 0.0f;
            for (int64_t ci = 0; ci < Cg; ci++) {
                for (int64_t kh = 0; kh < KH; kh++) {
                    const int64_t ih = oh * g->stride[0] - g->pad_begin[0] + kh * g->dilation[0];
                    if (ih < 0 || ih >= H)
                        continue;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const int64_t iw =
                            ow * g->stride[1] - g->pad_begin[1] + kw * g->dilation[1];
                        if (iw < 0 || iw >= W)
                            continue;
                        acc += w[(ci * KH + kh) * KW + kw] *
                               x[ih * j->xs_h + iw * j->xs_w + (c0 + ci) * j->xs_c];
                    }
                }
            }
            y[ow * O + o] = acc;
        }
    }
}

/* NhwcConv, or NhwcConvFromNchw when x_nchw. */
static eml_status ref_conv(const eml_kernel_ctx *ctx, bool x_nchw)
{
    const eml_fused_conv_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    eml_tensor *y = &ctx->outputs[0];
    eml_conv_geom g;
    char why[160];
    eml_status st = x_nchw ? eml__conv_geom(&p->conv, x, w, false, &g, why, sizeof(why))
                           : eml__nhwc_conv_geom(&p->conv, x, w, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "%s: %s", x_nchw ? "NhwcConvFromNchw" : "NhwcConv",
                         why);
    const int64_t H = g.in[0], W = g.in[1], C = g.in_channels;
    conv_job j = {&g,
                  x->data,
                  w->data,
                  eml__kin_present(ctx, 2) ? ctx->inputs[2].data : NULL,
                  y->data,
                  H * W * C,
                  x_nchw ? W : W * C,
                  x_nchw ? 1 : C,
                  x_nchw ? H * W : 1};
    const int64_t rows = g.batch * g.out[0];
    const double work = (double)eml_tensor_count(y) * (double)(g.in_channels / g.group) *
                        (double)g.kernel_size;
    eml__pool_run(work < NHWC_INLINE_WORK ? NULL : ctx->pool, (size_t)rows, conv_row, &j);
    const int64_t n = eml_tensor_count(y);
    if (eml__kin_present(ctx, 3))
        eml__activation_add(EML_DTYPE_F32, y->data, ctx->inputs[3].data, n, ctx->pool);
    eml__activation_apply(&p->act, EML_DTYPE_F32, y->data, n, ctx->pool);
    return EML_OK;
}

eml_status eml__ref_nhwc_conv(const eml_kernel_ctx *ctx)
{
    return ref_conv(ctx, false);
}

eml_status eml__ref_nhwc_conv_from_nchw(const eml_kernel_ctx *ctx)
{
    return ref_conv(ctx, true);
}

/* ---- NhwcMaxPool / NhwcAveragePool ---- */

typedef struct pool_job {
    const eml_conv_geom *g;
    const eml_pool_params *p;
    const float *x;
    float *y;
} pool_job;

/* The taps [lo, hi) of a window starting at `start` that fall inside [0, in), and the size that
 * count_include_pad divides by (padding included, but not past the end padding). */
static void window(const eml_conv_geom *g, int d, int64_t o, int64_t *start, int64_t *lo,
                   int64_t *hi, int64_t *padded)
{
    const int64_t dil = g->dilation[d];
    *start = o * g->stride[d] - g->pad_begin[d];
    *lo = *start < 0 ? (-*start + dil - 1) / dil : 0;
    *hi = g->in[d] > *start ? EML_MIN(g->kernel[d], (g->in[d] - *start + dil - 1) / dil) : 0;
    *padded = EML_MIN(*start + g->kernel[d], g->in[d] + g->pad_end[d]) - *start;
}

/* One output row (n, oh): every column and channel. */
static void pool_row(void *ctx, size_t row)
{
    const pool_job *j = ctx;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const bool is_max = j->p->is_max != 0;
    const float *x = j->x + n * H * W * C;
    float *y = j->y + (size_t)row * (size_t)(OW * C);
    int64_t h0, hlo, hhi, hpad;
    window(g, 0, oh, &h0, &hlo, &hhi, &hpad);
    for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0, wlo, whi, wpad;
        window(g, 1, ow, &w0, &wlo, &whi, &wpad);
        for (int64_t c = 0; c < C; c++) {
            double best = -INFINITY, sum = 0.0;
            bool found = false;
            for (int64_t kh = hlo; kh < hhi; kh++) {
                const int64_t ih = h0 + kh * g->dilation[0];
                for (int64_t kw = wlo; kw < whi; kw++) {
                    const double v = x[(ih * W + w0 + kw * g->dilation[1]) * C + c];
                    if (!is_max) {
                        sum += v;
                    } else if (v > best || (!found && v == best)) {
                        best = v; /* the first maximum wins; NaN never does */
                        found = true;
                    }
                }
            }
            if (is_max) {
                y[ow * C + c] = (float)best;
            } else {
                const int64_t count = (hhi > hlo && whi > wlo) ? (hhi - hlo) * (whi - wlo) : 0;
                const int64_t divisor = j->p->count_include_pad ? hpad * wpad : count;
                y[ow * C + c] = divisor > 0 ? (float)(sum / (double)divisor) : NAN;
            }
        }
    }
}

eml_status eml__ref_nhwc_pool(const eml_kernel_ctx *ctx)
{
    const eml_pool_params *p = ctx->params;
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_pool_geom(p, &ctx->inputs[0], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NHWC pool: %s", why);
    pool_job j = {&g, p, ctx->inputs[0].data, ctx->outputs[0].data};
    const int64_t rows = g.batch * g.out[0];
    const double work = (double)eml_tensor_count(&ctx->outputs[0]) * (double)g.kernel_size;
    eml__pool_run(work < NHWC_INLINE_WORK ? NULL : ctx->pool, (size_t)rows, pool_row, &j);
    return EML_OK;
}

/* ---- NhwcGlobalAveragePool ---- */

typedef struct global_job {
    const float *x;
    float *y;
    int64_t size, channels;
} global_job;

/* One image: the mean of each channel over the plane, summed in double in plane order. */
static void global_image(void *ctx, size_t n)
{
    const global_job *j = ctx;
    const float *x = j->x + (size_t)n * (size_t)(j->size * j->channels);
    float *y = j->y + (size_t)n * (size_t)j->channels;
    for (int64_t c = 0; c < j->channels; c++) {
        double acc = 0.0;
        for (int64_t i = 0; i < j->size; i++)
            acc += x[i * j->channels + c];
        y[c] = j->size > 0 ? (float)(acc / (double)j->size) : NAN;
    }
}

eml_status eml__ref_nhwc_global_pool(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    global_job j = {x->data, ctx->outputs[0].data, x->dims[1] * x->dims[2], x->dims[3]};
    const double work = (double)eml_tensor_count(x);
    eml__pool_run(work < NHWC_INLINE_WORK ? NULL : ctx->pool, (size_t)x->dims[0], global_image,
                  &j);
    return EML_OK;
}
