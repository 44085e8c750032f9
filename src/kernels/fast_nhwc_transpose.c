/* The fast Transpose between the layouts, [0, 2, 3, 1] (NCHW to NHWC) and [0, 3, 1, 2] (back),
 * which the nhwc-layout pass puts at the edges of channels-last regions: per image, a [C, H*W] or
 * [H*W, C] matrix transposed tile by tile so that both sides stay in cache, in ranges of pixels
 * with thread affinity, for 1-, 2- and 4-byte elements. Other transposes (and other element
 * sizes) move by runs (fast_movement.c); strings keep the reference kernel. */
#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/fast_movement.h"
#include "kernels/fast_nhwc.h"
#include "kernels/interleave3.h"
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
    const void *x;
    void *y;
    size_t channels, pixels; /* per image: C and H * W */
    size_t elem;             /* bytes per element: 1 (uint8 after QuantizeLinear), 2 or 4 */
    bool to_nhwc;
    const eml_interleave3_kernel *rgb; /* three planes into pixels, where the CPU has one */
} transpose_job;

/* One image's pixels [p0, p1) for elements of type T: C known at compile time (an RGB image's
 * 3 planes interleaved: C loads and C adjacent stores), else tile by tile so that both sides stay
 * in L1. */
#define FEW_CHANNELS(T, C)                                                                         \
    for (size_t p = p0; p < p1; p++)                                                               \
        for (size_t c = 0; c < (C); c++)                                                           \
            y[p * (C) + c] = x[c * P + p];

#define TRANSPOSE_IMAGE(T)                                                                         \
    static void transpose_image_##T(const transpose_job *j, const T *x, T *y, size_t p0,           \
                                    size_t p1)                                                     \
    {                                                                                              \
        const size_t C = j->channels, P = j->pixels;                                               \
        if (j->to_nhwc && C <= 4) {                                                                \
            switch (C) {                                                                           \
            case 1: FEW_CHANNELS(T, 1) return;                                                     \
            case 2: FEW_CHANNELS(T, 2) return;                                                     \
            case 3: FEW_CHANNELS(T, 3) return;                                                     \
            default: FEW_CHANNELS(T, 4) return;                                                    \
            }                                                                                      \
        }                                                                                          \
        for (size_t q0 = p0; q0 < p1; q0 += TILE) {                                                \
            const size_t q1 = EML_MIN(q0 + TILE, p1);                                              \
            for (size_t c0 = 0; c0 < C; c0 += TILE) {                                              \
                const size_t c1 = EML_MIN(c0 + TILE, C);                                           \
                if (j->to_nhwc) {                                                                  \
                    for (size_t q = q0; q < q1; q++)                                               \
                        for (size_t c = c0; c < c1; c++)                                           \
                            y[q * C + c] = x[c * P + q];                                           \
                } else {                                                                           \
                    for (size_t c = c0; c < c1; c++)                                               \
                        for (size_t q = q0; q < q1; q++)                                           \
                            y[c * P + q] = x[q * C + c];                                           \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

TRANSPOSE_IMAGE(uint8_t)
TRANSPOSE_IMAGE(uint16_t)
TRANSPOSE_IMAGE(uint32_t)

/* Pixels [b, e) counted over all images: split by image. */
static void transpose_pixels(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const transpose_job *j = ctx;
    (void)thread;
    while (b < e) {
        const size_t image = b / j->pixels, p0 = b % j->pixels;
        const size_t p1 = EML_MIN(j->pixels, p0 + (e - b));
        const size_t at = image * j->pixels * j->channels * j->elem;
        const char *x = (const char *)j->x + at;
        char *y = (char *)j->y + at;
        if (j->rgb)
            j->rgb->fn(x + p0 * j->elem, j->pixels, y + 3 * p0 * j->elem, p1 - p0);
        else if (j->elem == 1)
            transpose_image_uint8_t(j, (const uint8_t *)x, (uint8_t *)y, p0, p1);
        else if (j->elem == 2)
            transpose_image_uint16_t(j, (const uint16_t *)x, (uint16_t *)y, p0, p1);
        else
            transpose_image_uint32_t(j, (const uint32_t *)x, (uint32_t *)y, p0, p1);
        b += p1 - p0;
    }
}

/* Element sizes the layout kernel moves itself. */
static bool layout_elem(size_t elem)
{
    return elem == 1 || elem == 2 || elem == 4;
}

static eml_status transpose_run(const eml_kernel_ctx *ctx)
{
    const transpose_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    const size_t elem = eml_dtype_size(x->dtype);
    if (!s->layout || !layout_elem(elem) || x->rank != 4) {
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
    transpose_job j = {x->data, ctx->outputs[0].data, C, P, elem, s->to_nhwc, NULL};
    if (s->to_nhwc && C == 3)
        j.rgb = eml__interleave3_select(elem);
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
    s->layout = (a || b) && (layout_elem(elem) || ctx->inputs[0].dtype == EML_DTYPE_UNDEFINED);
    /* by element size; the last when the dtype is only known at run time */
    static const char *const names[2][4] = {
        {"x8_transpose_nhwc_to_nchw", "x16_transpose_nhwc_to_nchw", "x32_transpose_nhwc_to_nchw",
         "transpose_nhwc_to_nchw"},
        {"x8_transpose_nchw_to_nhwc", "x16_transpose_nchw_to_nhwc", "x32_transpose_nchw_to_nhwc",
         "transpose_nchw_to_nhwc"}};
    const int size_index = elem == 1 ? 0 : elem == 2 ? 1 : elem == 4 ? 2 : 3;
    out->name = !s->layout ? "transpose_runs" : names[a][size_index];
    out->state = s;
    out->run = transpose_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}
