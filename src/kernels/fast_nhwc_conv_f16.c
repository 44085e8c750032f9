/* The NhwcConv on float16 arithmetic: weights from a float16 model packed once as float16 panels,
 * each block of output pixels gathered (a 1x1 conv's input rows, or im2col rows) and converted to
 * float16 in the thread's scratch, multiplied by the f16 GEMM micro-kernel (float16 sums), then
 * stored in float32 with the bias and a clamp activation; a residual and other activations run
 * on the stored block with the f32 conv's epilogue. Depthwise convs stay on the f32 kernels. */
#include <math.h>
#include <stdio.h>

#include "kernels/fast_f16.h"
#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"

typedef struct f16_conv_state {
    /* the f32 conv's view of the node: geometry, activation and epilogue (its packing unused) */
    eml_nhwc_conv_state base;
    const eml_f16_gemm_kernel *k;
    size_t group_halves; /* packed weights of one group */
    size_t group_bias;   /* packed bias floats of one group */
    uint16_t *w;         /* owned */
    float *bias;         /* owned */
    char name[80];
} f16_conv_state;

/* Output blocks of f32 floats and float16 A rows that stay in L2 (see eml__f16_block_rows). */
#define F16_BLOCK_OUT_BYTES ((size_t)128 << 10)
#define F16_BLOCK_A_BYTES ((size_t)64 << 10)
/* Blocks wanted per op, for the pool to balance. */
#define F16_BLOCKS_WANTED 32

size_t eml__f16_block_rows(size_t m, size_t n, size_t kdim, size_t mr)
{
    size_t rows = F16_BLOCK_OUT_BYTES / (EML_MAX(n, (size_t)1) * sizeof(float));
    rows = EML_MIN(rows, F16_BLOCK_A_BYTES / (EML_MAX(kdim, (size_t)1) * sizeof(uint16_t)));
    rows = EML_MIN(rows, (m + F16_BLOCKS_WANTED - 1) / F16_BLOCKS_WANTED);
    return EML_MAX((size_t)1, (rows + mr / 2) / mr) * mr;
}

size_t eml__f16_round_bytes(size_t bytes)
{
    return (bytes + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
}

static void conv_destroy(eml_env *env, void *state)
{
    f16_conv_state *s = state;
    if (!s)
        return;
    eml__free(env, s->w);
    eml__free(env, s->bias);
    eml__free(env, s);
}

static bool pointwise(const eml_conv_params *c, int64_t kh, int64_t kw)
{
    if (kh != 1 || kw != 1)
        return false;
    for (int32_t i = 0; i < c->strides_count; i++)
        if (c->strides[i] != 1)
            return false;
    if (c->auto_pad != EML_AUTO_PAD_NOTSET)
        return true; /* SAME_* of a 1x1 stride-1 kernel and VALID pad nothing */
    for (int32_t i = 0; i < c->pads_count; i++)
        if (c->pads[i] != 0)
            return false;
    return true;
}

/* ---- run time ---- */

typedef struct conv_job {
    const f16_conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    uint8_t *scratch;
    size_t m, rows, slot_bytes;
    float min, max;
    bool epilogue;
} conv_job;

/* Bytes of one slot: the block's float16 rows, then one float32 im2col row. */
static size_t slot_bytes(const f16_conv_state *s, size_t rows)
{
    return eml__f16_round_bytes(rows * s->base.kdim * sizeof(uint16_t)) +
           eml__f16_round_bytes(s->base.kdim * sizeof(float));
}

static size_t conv_scratch_for(const f16_conv_state *s, const eml_conv_geom *g)
{
    const size_t m = (size_t)(g->batch * g->out[0] * g->out[1]);
    const size_t rows =
        eml__f16_block_rows(m, (size_t)s->base.out_channels, s->base.kdim, s->k->mr);
    return s->base.slots * slot_bytes(s, rows);
}

static size_t conv_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs)
{
    const f16_conv_state *s = state;
    (void)n_inputs;
    (void)outputs;
    (void)n_outputs;
    eml_conv_geom g;
    char why[160];
    if (eml__nhwc_conv_geom(&s->base.p.conv, &inputs[0], &inputs[1], &g, why, sizeof(why)) !=
        EML_OK)
        return 0; /* infer refused these shapes already */
    return conv_scratch_for(s, &g);
}

/* The im2col row of output pixel mi for group gi: for each kernel row and column in order, the
 * cg input channels under that tap (zeros in the padding). */
static void im2col_row(const conv_job *j, int64_t gi, size_t mi, float *row)
{
    const eml_conv_geom *g = j->g;
    const eml_nhwc_conv_state *b = &j->s->base;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels, OH = g->out[0], OW = g->out[1];
    const int64_t n = (int64_t)mi / (OH * OW), oh = (int64_t)mi / OW % OH, ow = (int64_t)mi % OW;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    const int64_t iw0 = ow * g->stride[1] - g->pad_begin[1];
    const float *xn = j->x + n * H * W * C + gi * b->cg;
    for (int64_t kh = 0; kh < b->kh; kh++) {
        const int64_t ih = ih0 + kh * g->dilation[0];
        for (int64_t kw = 0; kw < b->kw; kw++, row += b->cg) {
            const int64_t iw = iw0 + kw * g->dilation[1];
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                memset(row, 0, (size_t)b->cg * sizeof(float));
            else
                memcpy(row, xn + (ih * W + iw) * C, (size_t)b->cg * sizeof(float));
        }
    }
}

/* Pixel blocks [b0, b1) on one thread, in that thread's scratch slot. */
static void conv_blocks(void *ctx, size_t b0, size_t b1, uint32_t thread)
{
    const conv_job *j = ctx;
    const f16_conv_state *s = j->s;
    const eml_nhwc_conv_state *b = &s->base;
    const size_t O = (size_t)b->out_channels, C = (size_t)j->g->in_channels;
    const size_t og = (size_t)b->og, cg = (size_t)b->cg, kdim = b->kdim;
    uint8_t *slot = j->scratch + thread * j->slot_bytes;
    uint16_t *a = (uint16_t *)slot;
    float *row = (float *)(slot + eml__f16_round_bytes(j->rows * kdim * sizeof(uint16_t)));
    for (size_t blk = b0; blk < b1; blk++) {
        const size_t m0 = blk * j->rows, rows = EML_MIN(j->rows, j->m - m0);
        float *y = j->y + m0 * O;
        for (int64_t gi = 0; gi < b->group; gi++) {
            if (b->kind == NHWC_CONV_DIRECT && b->group == 1) {
                s->k->convert(rows * C, j->x + m0 * C, a); /* the rows are contiguous */
            } else if (b->kind == NHWC_CONV_DIRECT) {
                for (size_t i = 0; i < rows; i++)
                    s->k->convert(cg, j->x + (m0 + i) * C + (size_t)gi * cg, a + i * kdim);
            } else {
                for (size_t i = 0; i < rows; i++) {
                    im2col_row(j, gi, m0 + i, row);
                    s->k->convert(kdim, row, a + i * kdim);
                }
            }
            eml__f16_gemm_run(s->k, rows, og, kdim, a, kdim, s->w + (size_t)gi * s->group_halves,
                              s->bias + (size_t)gi * s->group_bias, y + (size_t)gi * og, O, j->min,
                              j->max);
        }
        if (j->epilogue)
            eml__nhwc_conv_epilogue(b, y, j->z ? j->z + m0 * O : NULL, rows, O, O);
    }
}

static eml_status conv_run(const eml_kernel_ctx *ctx)
{
    const f16_conv_state *s = ctx->params;
    const eml_nhwc_conv_state *b = &s->base;
    eml_conv_geom g;
    char why[160];
    eml_status st =
        eml__nhwc_conv_geom(&b->p.conv, &ctx->inputs[0], &ctx->inputs[1], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NhwcConv: %s", why);
    if (ctx->scratch_bytes < conv_scratch_for(s, &g))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    const float *z = eml__kin_present(ctx, 3) ? ctx->inputs[3].data : NULL;
    /* a residual comes before the activation: then the kernel cannot clamp */
    const bool fused = b->act_is_clamp && !z;
    conv_job j = {
        .s = s,
        .g = &g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .scratch = ctx->scratch,
        .m = eml__nhwc_conv_out_pixels(&ctx->outputs[0]),
        .min = fused ? b->min : -INFINITY,
        .max = fused ? b->max : INFINITY,
        .epilogue = !fused,
    };
    j.rows = eml__f16_block_rows(j.m, (size_t)b->out_channels, b->kdim, s->k->mr);
    j.slot_bytes = slot_bytes(s, j.rows);
    const double macs = (double)j.m * (double)b->out_channels * (double)b->kdim;
    eml_pool *pool = macs < b->inline_macs ? NULL : ctx->pool;
    /* each thread owns one slot of the scratch: no more threads than it was sized for */
    if (eml__pool_threads(pool) > b->slots)
        pool = NULL;
    eml__parallel_ranges(pool, (j.m + j.rows - 1) / j.rows, 1, conv_blocks, &j);
    return EML_OK;
}

/* ---- plan time ---- */

/* Weights of group gi reordered from [og, cg, kh, kw] to K = (kh, kw, c), the order of an NHWC
 * im2col row, then packed as float16 with the group's biases. */
static eml_status pack(eml_env *env, f16_conv_state *s, const float *w, const float *bias)
{
    const eml_nhwc_conv_state *b = &s->base;
    const size_t taps = (size_t)(b->kh * b->kw), cg = (size_t)b->cg, og = (size_t)b->og;
    float *tmp = eml__alloc(env, og * b->kdim * sizeof(float));
    if (!tmp)
        return EML_ENOMEM;
    for (int64_t gi = 0; gi < b->group; gi++) {
        const float *wg = w + (size_t)gi * og * b->kdim;
        for (size_t o = 0; o < og; o++)
            for (size_t c = 0; c < cg; c++)
                for (size_t t = 0; t < taps; t++)
                    tmp[o * b->kdim + t * cg + c] = wg[(o * cg + c) * taps + t];
        eml__f16_gemm_pack(s->k, og, b->kdim, tmp, true, 1.0f, bias ? bias + gi * b->og : NULL,
                           s->w + (size_t)gi * s->group_halves,
                           s->bias + (size_t)gi * s->group_bias);
    }
    eml__free(env, tmp);
    return EML_OK;
}

eml_status eml__fast_f16_conv_select_with(const eml_fast_select_ctx *ctx,
                                          const eml_f16_gemm_kernel *k, uint32_t slots,
                                          eml_fast_kernel *out)
{
    const eml_fused_conv_params *p = ctx->params;
    const eml_tensor *bt;
    if (!eml__nhwc_conv_inputs_ok(ctx, &bt))
        return EML_OK;
    const eml_tensor *w = &ctx->inputs[1];
    const int64_t O = w->dims[0], group = p->conv.group;
    if (w->dims[1] == 1 && O == group)
        return EML_OK; /* depthwise: the f32 channel-vectorized kernels */
    f16_conv_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    eml_nhwc_conv_state *b = &s->base;
    b->p = *p;
    b->out_channels = O;
    b->group = group;
    b->cg = w->dims[1];
    b->og = O / group;
    b->kh = w->dims[2];
    b->kw = w->dims[3];
    b->kdim = (size_t)(b->kh * b->kw * b->cg);
    b->kind = pointwise(&p->conv, b->kh, b->kw) ? NHWC_CONV_DIRECT : NHWC_CONV_IM2COL;
    b->slots = EML_MAX(1u, slots ? slots : ctx->env->n_threads);
    b->inline_macs = slots ? 0.0 : NHWC_GEMM_INLINE_MACS;
    b->act_is_clamp = eml__fast_act_clamp(&p->act, &b->min, &b->max);
    b->ops = eml__f32_nhwc_select();
    b->velem = eml__f32_velem_select();
    s->k = k;
    s->group_halves = eml__f16_gemm_packed_halves(k, (size_t)b->og, b->kdim);
    s->group_bias = eml__f16_gemm_bias_floats(k, (size_t)b->og);
    eml_status st = EML_ENOMEM;
    s->w = eml__alloc(ctx->env, s->group_halves * (size_t)group * sizeof(uint16_t));
    s->bias = eml__alloc(ctx->env, s->group_bias * (size_t)group * sizeof(float));
    if (!s->w || !s->bias)
        goto fail;
    EML_TRY(pack(ctx->env, s, w->data, bt ? bt->data : NULL));
    snprintf(s->name, sizeof(s->name), "f16_nhwc_conv_%s__%s",
             b->kind == NHWC_CONV_DIRECT ? "1x1" : "im2col",
             eml__fast_short_name(k->name));
    out->name = s->name;
    out->state = s;
    out->run = conv_run;
    out->scratch_bytes = conv_scratch;
    out->destroy = conv_destroy;
    return EML_OK;
fail:
    conv_destroy(ctx->env, s);
    return st;
}
