/* The fast Transpose between the layouts, [0, 2, 3, 1] (NCHW to NHWC) and [0, 3, 1, 2] (back),
 * which the nhwc-layout pass puts at the edges of channels-last regions: per image, a [rows, cols]
 * matrix transposed tile by tile so that both sides stay in cache. Other transposes (and element
 * sizes other than 4 bytes) keep the reference kernel. */
#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/fast_nhwc.h"
#include "kernels/ref/movement.h"

/* A tile of TILE × TILE elements is read by rows and written by columns in L1. */
#define TILE 32
/* Below this many elements the transpose runs on the calling thread. */
#define INLINE_ELEMS 65536

typedef struct transpose_state {
    /* the reference kernel's params, for the cases this kernel leaves to it */
    _Alignas(8) unsigned char params[EML_PARAMS_MAX];
    bool to_nhwc;
} transpose_state;

typedef struct transpose_job {
    const uint32_t *x;
    uint32_t *y;
    size_t rows, cols;     /* of each image's source matrix */
    size_t tiles_per_image;
} transpose_job;

/* y[c][r] = x[r][c] for R rows known at compile time (an RGB image's 3 planes interleaved):
 * the inner loop unrolls into R loads and R adjacent stores. */
static inline __attribute__((always_inline)) void few_rows(const size_t R, const uint32_t *x,
                                                           uint32_t *y, size_t cols)
{
    for (size_t c = 0; c < cols; c++)
        for (size_t r = 0; r < R; r++)
            y[c * R + r] = x[r * cols + c];
}

/* One band of TILE source rows of one image: y[c][r] = x[r][c]. */
static void transpose_band(void *ctx, size_t index)
{
    const transpose_job *j = ctx;
    const size_t image = index / j->tiles_per_image;
    const size_t r0 = (index % j->tiles_per_image) * TILE, r1 = EML_MIN(r0 + TILE, j->rows);
    const uint32_t *x = j->x + image * j->rows * j->cols;
    uint32_t *y = j->y + image * j->rows * j->cols;
    switch (j->rows) {
    case 1: few_rows(1, x, y, j->cols); return;
    case 2: few_rows(2, x, y, j->cols); return;
    case 3: few_rows(3, x, y, j->cols); return;
    case 4: few_rows(4, x, y, j->cols); return;
    default: break;
    }
    for (size_t c0 = 0; c0 < j->cols; c0 += TILE) {
        const size_t c1 = EML_MIN(c0 + TILE, j->cols);
        for (size_t c = c0; c < c1; c++)
            for (size_t r = r0; r < r1; r++)
                y[c * j->rows + r] = x[r * j->cols + c];
    }
}

static eml_status transpose_run(const eml_kernel_ctx *ctx)
{
    const transpose_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (eml_dtype_size(x->dtype) != 4 || x->rank != 4) {
        eml_kernel_ctx inner = *ctx;
        inner.params = s->params;
        return eml__ref_transpose(&inner);
    }
    const size_t n = (size_t)x->dims[0];
    /* NCHW to NHWC transposes [C, H*W] per image; NHWC to NCHW transposes [H*W, C] */
    const size_t rows = s->to_nhwc ? (size_t)x->dims[1] : (size_t)(x->dims[1] * x->dims[2]);
    const size_t cols = s->to_nhwc ? (size_t)(x->dims[2] * x->dims[3]) : (size_t)x->dims[3];
    transpose_job j = {x->data, ctx->outputs[0].data, rows, cols, (rows + TILE - 1) / TILE};
    const size_t tasks = n * j.tiles_per_image;
    eml__pool_run(n * rows * cols < INLINE_ELEMS ? NULL : ctx->pool, tasks, transpose_band, &j);
    return EML_OK;
}

static void transpose_destroy(eml_env *env, void *state)
{
    eml__free(env, state);
}

eml_status eml__fast_nhwc_transpose_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
    const eml_transpose_params *p = ctx->params;
    if (p->perm_count != 4)
        return EML_OK;
    const bool a = memcmp(p->perm, to_nhwc, sizeof(to_nhwc)) == 0;
    const bool b = memcmp(p->perm, to_nchw, sizeof(to_nchw)) == 0;
    const size_t elem = eml_dtype_size(ctx->inputs[0].dtype);
    if ((!a && !b) || (elem != 4 && ctx->inputs[0].dtype != EML_DTYPE_UNDEFINED))
        return EML_OK;
    transpose_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    memcpy(s->params, ctx->params, EML_PARAMS_MAX);
    s->to_nhwc = a;
    out->name = a ? "x32_transpose_nchw_to_nhwc" : "x32_transpose_nhwc_to_nchw";
    out->state = s;
    out->run = transpose_run;
    out->scratch_bytes = NULL;
    out->destroy = transpose_destroy;
    return EML_OK;
}
