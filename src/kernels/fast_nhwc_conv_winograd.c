/* The Winograd path of the fast NhwcConv (see fast_nhwc_conv.c): a 3x3 stride-1 conv as
 * F(4x4, 3x3). Each 4 x 4 block of outputs (a tile) reads the 6 x 6 inputs under it; the input
 * transform B^T d B turns them into 36 points, each point is a GEMM over the channels
 * (tiles x C times the point's C x O matrix of transformed weights G g G^T, packed once at plan
 * time), and the output transform A^T m A turns the 36 products back into 16 pixels: 36 instead
 * of 144 multiply-adds per tile, channel and output channel. Work is split over blocks of tiles
 * whose transformed inputs and products stay in L2; a tile's arithmetic does not depend on its
 * block, so every thread count computes the same bits. The sums are not the direct conv's:
 * ResNet-18's logits differ from PyTorch's by 3.5e-6 of the largest (the direct conv: 2.1e-6). */
#include <math.h>

#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"

#define POINTS 36 /* 6 x 6 */
#define TILE 4    /* outputs per tile along each axis */

bool eml__nhwc_conv_winograd_fits(const eml_fused_conv_params *p, int64_t group, int64_t cg,
                                  int64_t og, int64_t kh, int64_t kw)
{
    const eml_conv_params *c = &p->conv;
    if (group != 1 || kh != 3 || kw != 3 || cg < NHWC_WINO_MIN_CHANNELS ||
        og < NHWC_WINO_MIN_CHANNELS)
        return false;
    for (int32_t i = 0; i < c->strides_count; i++)
        if (c->strides[i] != 1)
            return false;
    for (int32_t i = 0; i < c->dilations_count; i++)
        if (c->dilations[i] != 1)
            return false;
    return (size_t)POINTS * (size_t)cg * (size_t)og * sizeof(float) <= NHWC_WINO_MAX_WEIGHT_BYTES;
}

/* Weight transform G g G^T of one 3 x 3 filter into u[36] (in double: done once). */
static void transform_filter(const float *g, double *u)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    double t[6][3];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            u[i * 6 + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/* s->packed: point xi's [C, O] matrix packed for the GEMM (no bias) at xi * group_floats, then
 * the bias (zeros without one). w: ONNX weights [O, C, 3, 3]. */
eml_status eml__nhwc_conv_winograd_pack(eml_env *env, eml_nhwc_conv_state *s, const float *w,
                                        const float *bias)
{
    const size_t C = (size_t)s->cg, O = (size_t)s->og;
    float *mats = eml__alloc(env, (size_t)POINTS * C * O * sizeof(float));
    if (!mats)
        return EML_ENOMEM;
    double u[POINTS];
    for (size_t o = 0; o < O; o++)
        for (size_t c = 0; c < C; c++) {
            transform_filter(w + (o * C + c) * 9, u);
            for (size_t xi = 0; xi < POINTS; xi++)
                mats[(xi * C + c) * O + o] = (float)u[xi];
        }
    for (size_t xi = 0; xi < POINTS; xi++)
        eml__f32_gemm_pack(&s->packing, O, C, mats + xi * C * O, false, NULL,
                           s->packed + xi * s->group_floats);
    eml__free(env, mats);
    float *b = s->packed + POINTS * s->group_floats;
    for (size_t o = 0; o < O; o++)
        b[o] = bias ? bias[o] : 0.0f;
    s->bias = b;
    return EML_OK;
}

/* Tiles per block: a multiple of the GEMM's rows whose transformed inputs and products fit the
 * budget. */
static size_t block_tiles(const eml_nhwc_conv_state *s)
{
    const size_t mr = s->packing.mr;
    const size_t per_tile = (size_t)POINTS * (size_t)(s->cg + s->og) * sizeof(float);
    return EML_MAX((size_t)1, NHWC_WINO_BLOCK_BYTES / per_tile / mr) * mr;
}

static size_t slot_floats(const eml_nhwc_conv_state *s)
{
    return eml__nhwc_conv_round_floats((size_t)POINTS * block_tiles(s) * (size_t)(s->cg + s->og));
}

size_t eml__nhwc_conv_winograd_scratch_floats(const eml_nhwc_conv_state *s)
{
    return s->slots * slot_floats(s);
}

typedef struct wino_job {
    const eml_nhwc_conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y, *scratch;
    size_t tiles, tiles_h, tiles_w, blocks;
    float min, max;
} wino_job;

/* The input pixel (n, ih, iw), or the zero row outside the image. */
static const float *in_pixel(const wino_job *j, int64_t n, int64_t ih, int64_t iw)
{
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    if (ih < 0 || ih >= H || iw < 0 || iw >= W)
        return j->s->zero;
    return j->x + ((n * H + ih) * W + iw) * C;
}

/* Tile t's image n and first output row and column. */
static void tile_origin(const wino_job *j, size_t t, int64_t *n, int64_t *oh, int64_t *ow)
{
    *n = (int64_t)(t / (j->tiles_h * j->tiles_w));
    *oh = (int64_t)(t / j->tiles_w % j->tiles_h) * TILE;
    *ow = (int64_t)(t % j->tiles_w) * TILE;
}

/* Blocks [b0, b1) of tiles on one thread, in its own slot of the scratch: each block's input
 * transforms, its 36 GEMMs, then its output transforms. */
static void wino_blocks(void *ctx, size_t b0, size_t b1, uint32_t thread)
{
    const wino_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const size_t C = (size_t)s->cg, O = (size_t)s->og, per_block = block_tiles(s);
    const int64_t OH = g->out[0], OW = g->out[1];
    float *v = j->scratch + thread * slot_floats(s);
    float *m = v + (size_t)POINTS * per_block * C;
    for (size_t b = b0; b < b1; b++) {
        const size_t t0 = b * j->tiles / j->blocks, t1 = (b + 1) * j->tiles / j->blocks;
        const size_t rows = t1 - t0, vs = rows * C, ms = rows * O;
        for (size_t t = t0; t < t1; t++) {
            int64_t n, oh, ow;
            tile_origin(j, t, &n, &oh, &ow);
            const float *d[POINTS];
            for (int64_t r = 0; r < 6; r++)
                for (int64_t c = 0; c < 6; c++)
                    d[r * 6 + c] =
                        in_pixel(j, n, oh - g->pad_begin[0] + r, ow - g->pad_begin[1] + c);
            s->ops->wino_input(C, d, v + (t - t0) * C, vs);
        }
        for (size_t xi = 0; xi < POINTS; xi++)
            eml__f32_gemm_run(s->gemm, rows, O, C, v + xi * vs, C, s->packed + xi * s->group_floats,
                              m + xi * ms, O, -INFINITY, INFINITY, NULL);
        for (size_t t = t0; t < t1; t++) {
            int64_t n, oh, ow;
            tile_origin(j, t, &n, &oh, &ow);
            float *y[TILE * TILE];
            const float *z[TILE * TILE];
            for (int64_t r = 0; r < TILE; r++)
                for (int64_t c = 0; c < TILE; c++) {
                    const bool in = oh + r < OH && ow + c < OW;
                    const size_t at = (size_t)(((n * OH + oh + r) * OW + ow + c) * (int64_t)O);
                    y[r * TILE + c] = in ? j->y + at : NULL;
                    z[r * TILE + c] = in && j->z ? j->z + at : NULL;
                }
            s->ops->wino_output(O, m + (t - t0) * O, ms, s->bias, y, j->z ? z : NULL, j->min,
                                j->max);
            if (!s->act_is_clamp)
                for (size_t i = 0; i < TILE * TILE; i++)
                    if (y[i])
                        eml__nhwc_conv_epilogue(s, y[i], NULL, 1, O, O);
        }
    }
}

eml_status eml__nhwc_conv_run_winograd(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                       const eml_conv_geom *g, const float *z)
{
    if (ctx->scratch_bytes < eml__nhwc_conv_winograd_scratch_floats(s) * sizeof(float))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    wino_job j = {
        .s = s,
        .g = g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .scratch = ctx->scratch,
        .tiles_h = (size_t)((g->out[0] + TILE - 1) / TILE),
        .tiles_w = (size_t)((g->out[1] + TILE - 1) / TILE),
        /* the output transform adds the residual before it clamps */
        .min = s->act_is_clamp ? s->min : -INFINITY,
        .max = s->act_is_clamp ? s->max : INFINITY,
    };
    j.tiles = (size_t)g->batch * j.tiles_h * j.tiles_w;
    const double macs = (double)eml__nhwc_conv_out_pixels(&ctx->outputs[0]) *
                        (double)s->out_channels * (double)s->kdim;
    eml_pool *pool = macs < s->inline_macs ? NULL : ctx->pool;
    /* each thread owns one slot of the scratch: no more threads than it was sized for */
    const size_t threads = (size_t)eml__pool_threads(pool);
    if (threads > s->slots)
        pool = NULL;
    /* blocks of equal size, as many per thread (a tile's sums do not depend on its block) */
    const size_t per_block = block_tiles(s), share = EML_MAX((size_t)1, threads);
    j.blocks = share * ((j.tiles + share * per_block - 1) / (share * per_block));
    j.blocks = EML_MIN(j.blocks, j.tiles);
    eml__parallel_ranges(pool, j.blocks, 1, wino_blocks, &j);
    return EML_OK;
}
