/* The fast Transpose between the layouts, [0, 2, 3, 1] (NCHW to NHWC) and [0, 3, 1, 2] (back),
 * which the nhwc-layout pass puts at the edges of channels-last regions: per image, a [C, H*W] or
 * [H*W, C] matrix transposed tile by tile so that both sides stay in cache, in ranges of pixels
 * with thread affinity. Other transposes (and element sizes other than 4 bytes) move by runs
 * (fast_movement.c); strings keep the reference kernel. */
#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/fast_movement.h"
#include "kernels/fast_nhwc.h"
#include "kernels/parallel.h"
#include "kernels/ref/movement.h"

/* A tile of TILE × TILE elements is read by rows and written by columns in L1. */
#define TILE 32
/* Below this many elements the transpose runs on the calling thread. */
#define INLINE_ELEMS 65536

typedef struct transpose_state {
    /* the reference kernel's params, for the cases this kernel leaves to it */
    _Alignas(8) unsigned char params[EML_PARAMS_MAX];
    bool to_nhwc;
    bool layout; /* one of the two layout perms; else any perm, moved by runs */
} transpose_state;

typedef struct transpose_job {
    const uint32_t *x;
    uint32_t *y;
    size_t channels, pixels; /* per image: C and H * W */
    bool to_nhwc;
} transpose_job;

/* y[p][c] = x[c][p] for C channels known at compile time (an RGB image's 3 planes interleaved):
 * the inner loop unrolls into C loads and C adjacent stores. */
static inline __attribute__((always_inline)) void
few_channels(const size_t C, const uint32_t *x, uint32_t *y, size_t pixels, size_t p0, size_t p1)
{
    for (size_t p = p0; p < p1; p++)
        for (size_t c = 0; c < C; c++)
            y[p * C + c] = x[c * pixels + p];
}

/* Pixels [p0, p1) of one image, tile by tile so that both sides stay in L1. */
static void transpose_image(const transpose_job *j, const uint32_t *x, uint32_t *y, size_t p0,
                            size_t p1)
{
    const size_t C = j->channels, P = j->pixels;
    if (j->to_nhwc) {
        switch (C) {
        case 1:
            few_channels(1, x, y, P, p0, p1);
            return;
        case 2:
            few_channels(2, x, y, P, p0, p1);
            return;
        case 3:
            few_channels(3, x, y, P, p0, p1);
            return;
        case 4:
            few_channels(4, x, y, P, p0, p1);
            return;
        default:
            break;
        }
    }
    for (size_t q0 = p0; q0 < p1; q0 += TILE) {
        const size_t q1 = EML_MIN(q0 + TILE, p1);
        for (size_t c0 = 0; c0 < C; c0 += TILE) {
            const size_t c1 = EML_MIN(c0 + TILE, C);
            if (j->to_nhwc) {
                for (size_t q = q0; q < q1; q++)
                    for (size_t c = c0; c < c1; c++)
                        y[q * C + c] = x[c * P + q];
            } else {
                for (size_t c = c0; c < c1; c++)
                    for (size_t q = q0; q < q1; q++)
                        y[c * P + q] = x[q * C + c];
            }
        }
    }
}

/* Pixels [b, e) counted over all images: split by image. */
static void transpose_pixels(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const transpose_job *j = ctx;
    (void)thread;
    while (b < e) {
        const size_t image = b / j->pixels, p0 = b % j->pixels;
        const size_t p1 = EML_MIN(j->pixels, p0 + (e - b));
        const size_t at = image * j->pixels * j->channels;
        transpose_image(j, j->x + at, j->y + at, p0, p1);
        b += p1 - p0;
    }
}

static eml_status transpose_run(const eml_kernel_ctx *ctx)
{
    const transpose_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!s->layout || eml_dtype_size(x->dtype) != 4 || x->rank != 4) {
        if (x->dtype == EML_DTYPE_STRING) {
            eml_kernel_ctx inner = *ctx;
            inner.params = s->params;
            return eml__ref_transpose(&inner);
        }
        return eml__fast_transpose_any(ctx, (const eml_transpose_params *)(const void *)s->params);
    }
    /* NCHW to NHWC reads [C, H*W] per image; NHWC to NCHW reads [H*W, C] */
    const size_t n = (size_t)x->dims[0];
    const size_t C = (size_t)(s->to_nhwc ? x->dims[1] : x->dims[3]);
    const size_t P = (size_t)(s->to_nhwc ? x->dims[2] * x->dims[3] : x->dims[1] * x->dims[2]);
    transpose_job j = {x->data, ctx->outputs[0].data, C, P, s->to_nhwc};
    if (C == 0 || P == 0)
        return EML_OK;
    /* pixel ranges with thread affinity: each thread moves the pixels its neighbours use */
    eml__parallel_ranges(n * P * C < INLINE_ELEMS ? NULL : ctx->pool, n * P,
                         EML_MAX((size_t)1, (size_t)TILE * TILE / C), transpose_pixels, &j);
    return EML_OK;
}

eml_status eml__fast_nhwc_transpose_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
    const eml_transpose_params *p = ctx->params;
    const bool a = p->perm_count == 4 && memcmp(p->perm, to_nhwc, sizeof(to_nhwc)) == 0;
    const bool b = p->perm_count == 4 && memcmp(p->perm, to_nchw, sizeof(to_nchw)) == 0;
    const size_t elem = eml_dtype_size(ctx->inputs[0].dtype);
    if (ctx->inputs[0].dtype == EML_DTYPE_STRING)
        return EML_OK;
    transpose_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    memcpy(s->params, ctx->params, EML_PARAMS_MAX);
    s->to_nhwc = a;
    s->layout = (a || b) && (elem == 4 || ctx->inputs[0].dtype == EML_DTYPE_UNDEFINED);
    out->name = !s->layout ? "transpose_runs"
                : a        ? "x32_transpose_nchw_to_nhwc"
                           : "x32_transpose_nhwc_to_nchw";
    out->state = s;
    out->run = transpose_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}
