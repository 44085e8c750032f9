/* The fast channels-last pools (NhwcMaxPool, NhwcAveragePool, NhwcGlobalAveragePool): the
 * channel-vectorized micro-kernels of kernels/f32_nhwc.h, split over output rows (images for the
 * global pool), which are independent, so every thread count computes the same bits. */
#include <math.h>
#include <stdio.h>

#include "kernels/fast_nhwc.h"
#include "kernels/parallel.h"
#include "kernels/ref/nhwc.h"

/* Below this many element operations a pool runs on the calling thread. */
#define POOL_INLINE_WORK 65536.0

typedef struct pool_state {
    eml_pool_params p;
    eml_f32_pool_fn fn;
    char name[48];
} pool_state;

typedef struct global_state {
    eml_f32_global_avg_fn fn;
    char name[48];
} global_state;

typedef struct pool_job {
    const pool_state *s;
    const eml_conv_geom *g;
    const float *x;
    float *y;
} pool_job;

static void pool_row(void *ctx, size_t row)
{
    const pool_job *j = ctx;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1], dh = g->dilation[0];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    const int64_t klo = ih0 < 0 ? (-ih0 + dh - 1) / dh : 0;
    const int64_t khi = H > ih0 ? EML_MIN(g->kernel[0], (H - ih0 + dh - 1) / dh) : 0;
    const float *x = j->x + n * H * W * C;
    /* rows count_include_pad counts: up to the end padding, not past it */
    const int64_t pad_rows = EML_MIN(ih0 + g->kernel[0], H + g->pad_end[0]) - ih0;
    eml_f32_pool_args a = {
        .row = {.channels = (size_t)C,
                .in_w = (size_t)W,
                .out_w = (size_t)OW,
                .kernel_w = (size_t)g->kernel[1],
                .stride_w = (size_t)g->stride[1],
                .dilation_w = (size_t)g->dilation[1],
                .pad_left = g->pad_begin[1],
                .rows = khi > klo ? (size_t)(khi - klo) : 0,
                .x = khi > klo ? x + (ih0 + klo * dh) * W * C : x,
                .x_row_stride = (size_t)(dh * W * C),
                .y = j->y + (size_t)row * (size_t)(OW * C)},
        .in_w_padded = (size_t)(W + g->pad_end[1]),
        .pad_rows = pad_rows,
        .count_include_pad = j->s->p.count_include_pad,
    };
    j->s->fn(&a);
}

static void pool_rows(void *ctx, size_t begin, size_t end, uint32_t thread)
{
    (void)thread;
    for (size_t r = begin; r < end; r++)
        pool_row(ctx, r);
}

static eml_status pool_run(const eml_kernel_ctx *ctx)
{
    const pool_state *s = ctx->params;
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_pool_geom(&s->p, &ctx->inputs[0], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NHWC pool: %s", why);
    pool_job j = {s, &g, ctx->inputs[0].data, ctx->outputs[0].data};
    const double work = (double)eml_tensor_count(&ctx->outputs[0]) * (double)g.kernel_size;
    eml__parallel_ranges(work < POOL_INLINE_WORK ? NULL : ctx->pool, (size_t)(g.batch * g.out[0]),
                         1, pool_rows, &j);
    return EML_OK;
}

eml_status eml__fast_nhwc_pool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return eml__fast_nhwc_pool_select_with(ctx, eml__f32_nhwc_select(), out);
}

static eml_status global_select(const eml_fast_select_ctx *ctx, const eml_f32_nhwc_ops *ops,
                                eml_fast_kernel *out);

eml_status eml__fast_nhwc_pool_select_with(const eml_fast_select_ctx *ctx,
                                           const eml_f32_nhwc_ops *ops, eml_fast_kernel *out)
{
    if (ctx->op == EML_OP_NhwcGlobalAveragePool)
        return global_select(ctx, ops, out);
    const eml_tensor *x = &ctx->inputs[0];
    if (x->dtype != EML_DTYPE_F32 && x->dtype != EML_DTYPE_UNDEFINED)
        return EML_OK;
    pool_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->p = *(const eml_pool_params *)ctx->params;
    s->fn = s->p.is_max ? ops->maxpool : ops->avgpool;
    snprintf(s->name, sizeof(s->name), "f32_nhwc_%s__%s", s->p.is_max ? "maxpool" : "avgpool",
             ops->isa_name);
    out->name = s->name;
    out->state = s;
    out->run = pool_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

/* ---- NhwcGlobalAveragePool ---- */

typedef struct global_job {
    eml_f32_global_avg_fn fn;
    const float *x;
    float *y;
    size_t pixels, channels;
} global_job;

static void global_image(void *ctx, size_t n)
{
    const global_job *j = ctx;
    j->fn(j->channels, j->pixels, j->x + n * j->pixels * j->channels, j->y + n * j->channels);
}

static eml_status global_run(const eml_kernel_ctx *ctx)
{
    const global_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    global_job j = {s->fn, x->data, ctx->outputs[0].data, (size_t)(x->dims[1] * x->dims[2]),
                    (size_t)x->dims[3]};
    if (j.pixels == 0 || j.channels == 0) {
        /* an empty plane averages to NaN, as the reference */
        for (int64_t i = 0; i < eml_tensor_count(&ctx->outputs[0]); i++)
            ((float *)ctx->outputs[0].data)[i] = NAN;
        return EML_OK;
    }
    const double work = (double)eml_tensor_count(x);
    eml__pool_run(work < POOL_INLINE_WORK ? NULL : ctx->pool, (size_t)x->dims[0], global_image, &j);
    return EML_OK;
}

eml_status eml__fast_nhwc_global_pool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return global_select(ctx, eml__f32_nhwc_select(), out);
}

static eml_status global_select(const eml_fast_select_ctx *ctx, const eml_f32_nhwc_ops *ops,
                                eml_fast_kernel *out)
{
    const eml_tensor *x = &ctx->inputs[0];
    if (x->dtype != EML_DTYPE_F32 && x->dtype != EML_DTYPE_UNDEFINED)
        return EML_OK;
    global_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->fn = ops->global_avg;
    snprintf(s->name, sizeof(s->name), "f32_nhwc_global_avgpool__%s", ops->isa_name);
    out->name = s->name;
    out->state = s;
    out->run = global_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}
