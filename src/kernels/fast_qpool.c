/* Fast QMaxPool: one task per block of output rows; each output pixel is the byte maximum of its
 * window's channel rows (AVX2), rescaled as the reference does (qrequant.h) unless the input and
 * output parameters are equal, where the rescale is the identity. */
#include "core/cpu.h"
#include "kernels/fast_qpool.h"
#include "kernels/parallel.h"
#include "kernels/ref/nhwc.h"
#include "kernels/ref/qnhwc.h"

/* The kernel is AVX2 only: elsewhere the selector declines and the reference kernel runs. */
#if defined(__x86_64__)

typedef struct qpool_state {
    eml_pool_params p;
    eml_qadd q;
    int32_t x_zp, y_zp;
    bool identity;
} qpool_state;

typedef struct qpool_run {
    const qpool_state *s;
    const eml_conv_geom *g;
    const uint8_t *x;
    uint8_t *y;
} qpool_run;

/* Window pixels combined per call of the SIMD maximum. */
#define MAX_TAPS 32

/* Output rows [b, e). */
static void qpool_rows(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const qpool_run *r = ctx;
    const eml_conv_geom *g = r->g;
    const qpool_state *s = r->s;
    const int64_t c = g->in_channels;
    const int64_t i0 = (int64_t)b, i1 = (int64_t)e;
    (void)thread;
    for (int64_t row = i0; row < i1; row++) {
        const int64_t n = row / g->out[0], oy = row % g->out[0];
        for (int64_t ox = 0; ox < g->out[1]; ox++) {
            uint8_t *y = r->y + (row * g->out[1] + ox) * c;
            /* the window's pixels inside the image, in batches of MAX_TAPS (each batch after
             * the first also takes the maximum so far, in y) */
            const uint8_t *taps[MAX_TAPS];
            size_t count = 0;
            bool any = false;
            for (int64_t ky = 0; ky < g->kernel[0]; ky++) {
                const int64_t iy = oy * g->stride[0] - g->pad_begin[0] + ky * g->dilation[0];
                for (int64_t kx = 0; iy >= 0 && iy < g->in[0] && kx < g->kernel[1]; kx++) {
                    const int64_t ix = ox * g->stride[1] - g->pad_begin[1] + kx * g->dilation[1];
                    if (ix < 0 || ix >= g->in[1])
                        continue;
                    taps[count++] = r->x + ((n * g->in[0] + iy) * g->in[1] + ix) * c;
                    if (count == MAX_TAPS) {
                        eml_u8_vmax__avx2((size_t)c, taps, count, y);
                        taps[0] = y;
                        count = 1;
                    }
                    any = true;
                }
            }
            if (count > 1 || (count == 1 && taps[0] != y)) /* y alone is already done */
                eml_u8_vmax__avx2((size_t)c, taps, count, y);
            if (!any) {
                memset(y, 0, (size_t)c); /* a window in the padding only: -inf, the lowest code */
            } else if (!s->identity) {
                for (int64_t i = 0; i < c; i++)
                    y[i] = eml__qadd_u8(y[i] - s->x_zp, 0, &s->q, s->y_zp, 0, 255);
            }
        }
    }
}

static eml_status qpool_run_fn(const eml_kernel_ctx *ctx)
{
    const qpool_state *s = ctx->params;
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_pool_geom(&s->p, &ctx->inputs[0], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "QMaxPool: %s", why);
    qpool_run r = {s, &g, ctx->inputs[0].data, ctx->outputs[0].data};
    /* row ranges with thread affinity, as the convs around it */
    eml__parallel_ranges(ctx->pool, (size_t)(g.batch * g.out[0]), 1, qpool_rows, &r);
    return EML_OK;
}

eml_status eml__fast_qmaxpool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    if (!eml__cpu_has(EML_ISA_X86_AVX2))
        return EML_OK;
    const void *xs, *xz, *ys, *yz;
    if (!eml__fast_scalar(ctx, 1, EML_DTYPE_F32, false, &xs) || !eml__fast_scalar(ctx, 2, EML_DTYPE_U8, true, &xz) ||
        !eml__fast_scalar(ctx, 3, EML_DTYPE_F32, false, &ys) || !eml__fast_scalar(ctx, 4, EML_DTYPE_U8, true, &yz))
        return EML_OK;
    qpool_state s;
    memset(&s, 0, sizeof(s));
    if (!eml__qadd_init((double)*(const float *)xs / *(const float *)ys, 0.0, &s.q))
        return EML_OK;
    s.p = *(const eml_pool_params *)ctx->params;
    s.x_zp = xz ? *(const uint8_t *)xz : 0;
    s.y_zp = yz ? *(const uint8_t *)yz : 0;
    s.identity = s.x_zp == s.y_zp && s.q.weight[0] == (1 << s.q.shift);
    qpool_state *state = eml__alloc(ctx->env, sizeof(s));
    if (!state)
        return EML_ENOMEM;
    *state = s;
    out->name = "qu8_maxpool__avx2";
    out->state = state;
    out->run = qpool_run_fn;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

#else

eml_status eml__fast_qmaxpool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    (void)ctx;
    (void)out;
    return EML_OK;
}

#endif
