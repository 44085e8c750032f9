/* The fast NhwcConv kernel: chosen at plan time for float32 with constant weights, it packs them
 * once and runs a 1x1 convolution as one GEMM over the pixels (the input is already the A matrix),
 * other convolutions as GEMMs over im2col rows, and depthwise convolutions on the
 * channel-vectorized micro-kernels. Work is split over blocks of output pixels (im2col gathered
 * block by block into scratch that stays in cache), or, when the weights are too big for the cache
 * to stream them once per block, over blocks of output channels that each take every pixel (deep
 * layers: few pixels, many weights). Depthwise convs split over output rows. Block sizes depend on
 * the shapes only, so every thread count computes the same bits. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>

#include "kernels/f32_igemm.h"
#include "kernels/fast_nhwc.h"
#include "kernels/ref/nhwc.h"
#include "kernels/velementwise.h"

/* The output block of one GEMM task stays in L2 for the epilogue (residual, activation). */
#define BLOCK_OUT_BYTES ((size_t)128 << 10)
/* The im2col rows of one task: in L2 while the GEMM sweeps them. */
#define BLOCK_COL_BYTES ((size_t)192 << 10)
/* Pixel blocks are cut so that a conv has about this many, for the pool to balance. */
#define BLOCKS_WANTED 8
/* Packed weights (of one group) past this are too big to stream again for each pixel block: the
 * conv then splits over output channels instead, each block taking every pixel. */
#define WIDE_WEIGHT_BYTES ((size_t)512 << 10)
/* ... as long as the im2col rows of every pixel fit this scratch. */
#define WIDE_COL_BYTES ((size_t)8 << 20)
/* Output-channel blocks of a wide conv. */
#define WIDE_BLOCKS_WANTED 8
/* Fewer input channels per group than this make the indirect GEMM's per-tap pointer loads
 * weigh: the conv gathers im2col rows instead (an RGB stem). */
#define IGEMM_MIN_CHANNELS 16
/* Below this many multiply-adds a depthwise conv runs on the calling thread. */
#define DW_INLINE_MACS 65536.0

typedef enum conv_kind {
    KIND_DIRECT = 0,    /* 1x1, stride 1, no padding: the pixels are the GEMM's rows */
    KIND_IM2COL = 1,    /* any other group conv: im2col rows, then the GEMM */
    KIND_DEPTHWISE = 2, /* group = C = O */
    KIND_IGEMM = 3      /* any other group conv, its rows read through per-tap pointers */
} conv_kind;

typedef struct conv_state {
    eml_fused_conv_params p; /* the node's params: geometry is resolved at run time */
    int32_t kind;
    int64_t out_channels, group, cg, og, kh, kw;
    size_t kdim;            /* GEMM K of one group: kh * kw * cg, in (kh, kw, c) order */
    size_t slots;           /* im2col blocks in flight at once: the env's threads */
    const eml_f32_gemm_kernel *gemm;  /* direct and im2col */
    const eml_f32_igemm_kernel *igemm;
    eml_f32_gemm_kernel packing;      /* the panel width the weights are packed for */
    const float *zero;      /* igemm: cg zeros, the row read in the padding */
    size_t group_floats;    /* packed floats of one group's weights */
    size_t panel_floats;    /* packed floats of NR output channels */
    const eml_f32_nhwc_ops *ops;      /* depthwise kernel, residual and clamp */
    const eml_f32_velem_ops *velem;   /* other activations; NULL: the reference's */
    bool wide;              /* split over output channels (see WIDE_WEIGHT_BYTES) */
    size_t cp;              /* depthwise: channels rounded up to the table's tile */
    float min, max;         /* the activation as a clamp, when it is one */
    bool act_is_clamp;
    void *raw;              /* allocation behind packed */
    float *packed;          /* 64-byte aligned */
    char name[64];
} conv_state;

/* ---- plan time ---- */

static void conv_destroy(eml_env *env, void *state)
{
    conv_state *s = state;
    if (!s)
        return;
    eml__free(env, s->raw);
    eml__free(env, s);
}

static bool act_clamp(const eml_activation *a, float *min, float *max)
{
    *min = -INFINITY;
    *max = INFINITY;
    switch (a->kind) {
    case EML_ACTIVATION_NONE: return true;
    case EML_ACTIVATION_RELU: *min = 0.0f; return true;
    case EML_ACTIVATION_CLIP:
        *min = a->alpha;
        *max = a->beta;
        return true;
    default: return false;
    }
}

static bool zero_pads(const eml_conv_params *c)
{
    if (c->auto_pad != EML_AUTO_PAD_NOTSET)
        return true; /* SAME_* of a 1x1 stride-1 kernel and VALID pad nothing */
    for (int32_t i = 0; i < c->pads_count; i++)
        if (c->pads[i] != 0)
            return false;
    return true;
}

static bool unit_strides(const eml_conv_params *c)
{
    for (int32_t i = 0; i < c->strides_count; i++)
        if (c->strides[i] != 1)
            return false;
    return true;
}

/* GEMM weights of group gi: rows o of W [O, cg, kh, kw] reordered to K = (kh, kw, c), the order
 * of an NHWC im2col row, then packed with their biases. */
static eml_status pack_gemm(eml_env *env, conv_state *s, const float *w, const float *bias)
{
    const size_t taps = (size_t)(s->kh * s->kw), cg = (size_t)s->cg, og = (size_t)s->og;
    float *tmp = NULL;
    if (taps > 1) {
        tmp = eml__alloc(env, og * s->kdim * sizeof(float));
        if (!tmp)
            return EML_ENOMEM;
    }
    for (int64_t gi = 0; gi < s->group; gi++) {
        const float *wg = w + (size_t)gi * og * s->kdim;
        if (tmp) {
            for (size_t o = 0; o < og; o++)
                for (size_t c = 0; c < cg; c++)
                    for (size_t t = 0; t < taps; t++)
                        tmp[o * s->kdim + t * cg + c] = wg[(o * cg + c) * taps + t];
            wg = tmp;
        }
        eml__f32_gemm_pack(&s->packing, og, s->kdim, wg, true, bias ? bias + gi * s->og : NULL,
                           s->packed + (size_t)gi * s->group_floats);
    }
    eml__free(env, tmp);
    return EML_OK;
}

static size_t conv_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs);
static eml_status conv_run(const eml_kernel_ctx *ctx);

eml_status eml__fast_nhwc_conv_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return eml__fast_nhwc_conv_select_with(ctx, eml__f32_gemm_select(), eml__f32_igemm_select(),
                                           eml__f32_nhwc_select(), 0, out);
}

/* Strips the "eml_" of a micro-kernel's name for the fast kernel's. */
static const char *short_name(const char *name)
{
    return strncmp(name, "eml_", 4) == 0 ? name + 4 : name;
}

eml_status eml__fast_nhwc_conv_select_with(const eml_fast_select_ctx *ctx,
                                           const eml_f32_gemm_kernel *k,
                                           const eml_f32_igemm_kernel *ik,
                                           const eml_f32_nhwc_ops *ops, uint32_t slots,
                                           eml_fast_kernel *out)
{
    const eml_fused_conv_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    const eml_tensor *b = ctx->n_inputs > 2 ? &ctx->inputs[2] : NULL;
    if (b && b->dtype == EML_DTYPE_UNDEFINED)
        b = NULL;
    /* intermediate values may have no declared dtype: infer then guarantees float32 */
    if (x->dtype != EML_DTYPE_F32 && x->dtype != EML_DTYPE_UNDEFINED)
        return EML_OK;
    if (w->dtype != EML_DTYPE_F32 || !w->data || w->rank != 4)
        return EML_OK;
    const int64_t O = w->dims[0], group = p->conv.group;
    if (O < 1 || group < 1 || O % group != 0 || w->dims[1] < 1 || w->dims[2] < 1 ||
        w->dims[3] < 1)
        return EML_OK;
    if (b && (b->dtype != EML_DTYPE_F32 || !b->data || b->rank != 1 || b->dims[0] != O))
        return EML_OK;
    conv_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->p = *p;
    s->out_channels = O;
    s->group = group;
    s->cg = w->dims[1];
    s->og = O / group;
    s->kh = w->dims[2];
    s->kw = w->dims[3];
    s->kdim = (size_t)(s->kh * s->kw * s->cg);
    s->slots = EML_MAX(1u, slots ? slots : ctx->env->n_threads);
    s->act_is_clamp = act_clamp(&p->act, &s->min, &s->max);
    s->ops = ops;
    s->velem = eml__f32_velem_select();
    const float *bias = b ? b->data : NULL;
    size_t floats;
    if (s->cg == 1 && s->og == 1) {
        s->kind = KIND_DEPTHWISE;
        s->cp = (O + s->ops->channel_tile - 1) / s->ops->channel_tile * s->ops->channel_tile;
        floats = eml__f32_dwconv_packed_floats((size_t)O, (size_t)s->kh, (size_t)s->kw,
                                               s->ops->channel_tile);
        snprintf(s->name, sizeof(s->name), "f32_nhwc_dwconv__%s", s->ops->isa_name);
    } else {
        if (s->kh == 1 && s->kw == 1 && unit_strides(&p->conv) && zero_pads(&p->conv))
            s->kind = KIND_DIRECT;
        else if (ik && s->cg >= IGEMM_MIN_CHANNELS)
            s->kind = KIND_IGEMM;
        else
            s->kind = KIND_IM2COL;
        s->gemm = k;
        s->igemm = s->kind == KIND_IGEMM ? ik : NULL;
        /* only the panel width matters to the packing */
        s->packing = *k;
        if (s->igemm) {
            s->packing.mr = ik->mr;
            s->packing.nr = ik->nr;
        }
        s->group_floats = eml__f32_gemm_packed_bytes(&s->packing, (size_t)s->og, s->kdim) /
                          sizeof(float);
        s->panel_floats =
            eml__f32_gemm_packed_bytes(&s->packing, s->packing.nr, s->kdim) / sizeof(float);
        floats = s->group_floats * (size_t)group;
        s->wide = group == 1 && s->group_floats * sizeof(float) > WIDE_WEIGHT_BYTES;
        static const char *const kinds[] = {"1x1", "im2col", "dw", "igemm"};
        snprintf(s->name, sizeof(s->name), "f32_nhwc_conv_%s%s__%s", kinds[s->kind],
                 s->wide ? "_wide" : "",
                 short_name(s->igemm ? s->igemm->name : s->gemm->name));
    }
    eml_status st = EML_ENOMEM;
    /* the igemm's zero row follows the weights */
    const size_t zeros = s->kind == KIND_IGEMM ? (size_t)s->cg : 0;
    s->raw = eml__calloc(ctx->env, 1, (floats + zeros) * sizeof(float) + EML_ALIGN);
    if (!s->raw)
        goto fail;
    s->packed = (float *)(((uintptr_t)s->raw + EML_ALIGN - 1) & ~(uintptr_t)(EML_ALIGN - 1));
    s->zero = s->packed + floats;
    if (s->kind == KIND_DEPTHWISE) {
        eml__f32_dwconv_pack((size_t)O, (size_t)s->kh, (size_t)s->kw, s->ops->channel_tile,
                             w->data, bias, s->packed);
    } else {
        st = pack_gemm(ctx->env, s, w->data, bias);
        if (st != EML_OK)
            goto fail;
    }
    out->name = s->name;
    out->state = s;
    out->run = conv_run;
    out->scratch_bytes = s->kind == KIND_IM2COL || s->kind == KIND_IGEMM ? conv_scratch : NULL;
    out->destroy = conv_destroy;
    return EML_OK;
fail:
    conv_destroy(ctx->env, s);
    return st;
}

/* ---- run time ---- */

/* Output pixels per GEMM task: a multiple of the micro-kernel's rows, small enough that the
 * block's output (and im2col rows) stay in cache and that there are several blocks. A function
 * of the shapes only. */
static size_t block_rows(const conv_state *s, size_t m)
{
    const size_t mr = s->packing.mr;
    size_t rows = BLOCK_OUT_BYTES / ((size_t)s->out_channels * sizeof(float));
    if (s->kind == KIND_IM2COL)
        rows = EML_MIN(rows, BLOCK_COL_BYTES / (s->kdim * sizeof(float)));
    size_t spread = (m + BLOCKS_WANTED - 1) / BLOCKS_WANTED;
    rows = EML_MIN(rows, spread);
    return EML_MAX((size_t)1, (rows + mr / 2) / mr) * mr;
}

/* Splits over output channels: the weights are big and every pixel's im2col row fits. */
static bool run_wide(const conv_state *s, size_t m)
{
    return s->wide && (s->kind == KIND_DIRECT || m * s->kdim * sizeof(float) <= WIDE_COL_BYTES);
}

static size_t round_floats(size_t n)
{
    const size_t a = EML_ALIGN / sizeof(float);
    return (n + a - 1) / a * a;
}

static size_t out_pixels(const eml_tensor *y)
{
    return (size_t)(y->dims[0] * y->dims[1] * y->dims[2]);
}

/* Scratch floats for m output pixels: igemm: a pointer per pixel and tap; im2col: every row
 * (wide), or one block per slot. */
static size_t scratch_floats(const conv_state *s, size_t m)
{
    if (s->kind == KIND_IGEMM)
        return round_floats(m * (size_t)(s->kh * s->kw) * (sizeof(float *) / sizeof(float)));
    if (s->kind != KIND_IM2COL)
        return 0;
    if (run_wide(s, m))
        return round_floats(m * s->kdim);
    const size_t rows = block_rows(s, m);
    const size_t blocks = (m + rows - 1) / rows;
    return EML_MIN(s->slots, blocks) * round_floats(rows * s->kdim);
}

static size_t conv_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs)
{
    (void)inputs;
    (void)n_inputs;
    (void)n_outputs;
    return scratch_floats(state, out_pixels(&outputs[0])) * sizeof(float);
}

/* The activation other than a clamp, in place on n contiguous floats. */
static void activation(const conv_state *s, float *y, size_t n)
{
    const eml_f32_velem_ops *v = s->velem;
    const eml_activation *a = &s->p.act;
    eml_f32_vunary_params prm = {a->alpha, a->beta, -INFINITY, INFINITY};
    int op = -1;
    switch (a->kind) {
    case EML_ACTIVATION_LEAKY_RELU: op = EML_F32_VLEAKY_RELU; break;
    case EML_ACTIVATION_HARD_SIGMOID: op = EML_F32_VHARD_SIGMOID; break;
    case EML_ACTIVATION_HARD_SWISH:
        op = EML_F32_VHARD_SWISH;
        prm.alpha = 1.0f / 6.0f;
        prm.beta = 0.5f;
        break;
    case EML_ACTIVATION_SIGMOID: op = EML_F32_VSIGMOID; break;
    case EML_ACTIVATION_TANH: op = EML_F32_VTANH; break;
    case EML_ACTIVATION_SILU: op = EML_F32_VSILU; break;
    default: break;
    }
    if (v && op >= 0 && v->unary[op])
        v->unary[op](n, y, y, &prm);
    else
        eml__activation_apply(a, EML_DTYPE_F32, y, (int64_t)n, NULL);
}

/* The residual and the activation on rows × cols outputs (row stride ldy), still in cache. */
static void epilogue(const conv_state *s, float *y, const float *z, size_t rows, size_t cols,
                     size_t ldy)
{
    /* contiguous rows are one run */
    if (cols == ldy) {
        cols *= rows;
        rows = 1;
    }
    for (size_t r = 0; r < rows; r++, y += ldy, z = z ? z + ldy : NULL) {
        if (s->act_is_clamp) {
            s->ops->residual_clamp(cols, y, z, s->min, s->max);
        } else {
            if (z)
                s->ops->residual_clamp(cols, y, z, -INFINITY, INFINITY);
            activation(s, y, cols);
        }
    }
}

typedef struct gemm_job {
    const conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    float *scratch;
    size_t m, rows, blocks, slot_floats;
    size_t col_block;   /* wide: output channels per block, a multiple of NR */
    float min, max;
    bool epilogue;
    atomic_size_t next;
} gemm_job;

/* im2col rows of pixels [m0, m0 + rows) for the channels of group gi: row i holds, for each
 * kernel row and column in order, the cg input channels under that tap (zeros in the padding). */
static void im2col(const gemm_job *j, int64_t gi, size_t m0, size_t rows, float *col)
{
    const eml_conv_geom *g = j->g;
    const conv_state *s = j->s;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1], KH = s->kh, KW = s->kw, cg = s->cg;
    const int64_t sh = g->stride[0], sw = g->stride[1], dh = g->dilation[0], dw = g->dilation[1];
    /* with one group and no dilation, a kernel row's taps are one run of the input row */
    const bool runs = dw == 1 && cg == C;
    int64_t n = (int64_t)m0 / (OH * OW), oh = (int64_t)m0 / OW % OH, ow = (int64_t)m0 % OW;
    for (size_t i = 0; i < rows; i++) {
        float *dst = col + i * s->kdim;
        const float *xn = j->x + n * H * W * C + gi * cg;
        const int64_t ih0 = oh * sh - g->pad_begin[0], iw0 = ow * sw - g->pad_begin[1];
        for (int64_t kh = 0; kh < KH; kh++, dst += KW * cg) {
            const int64_t ih = ih0 + kh * dh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)(KW * cg) * sizeof(float));
                continue;
            }
            const float *xr = xn + ih * W * C;
            if (runs && iw0 >= 0 && iw0 + KW <= W) {
                memcpy(dst, xr + iw0 * C, (size_t)(KW * C) * sizeof(float));
                continue;
            }
            for (int64_t kw = 0; kw < KW; kw++) {
                const int64_t iw = iw0 + kw * dw;
                float *d = dst + kw * cg;
                if (iw < 0 || iw >= W)
                    memset(d, 0, (size_t)cg * sizeof(float));
                else
                    memcpy(d, xr + iw * C, (size_t)cg * sizeof(float));
            }
        }
        if (++ow == OW) {
            ow = 0;
            if (++oh == OH) {
                oh = 0;
                n++;
            }
        }
    }
}

/* One slot: takes pixel blocks until none is left, gathering im2col rows into its own scratch. */
static void gemm_slot(void *ctx, size_t slot)
{
    gemm_job *j = ctx;
    const conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels, C = (size_t)j->g->in_channels;
    const size_t og = (size_t)s->og, cg = (size_t)s->cg;
    float *col = j->scratch ? j->scratch + slot * j->slot_floats : NULL;
    for (;;) {
        const size_t b = atomic_fetch_add(&j->next, 1);
        if (b >= j->blocks)
            return;
        const size_t m0 = b * j->rows, rows = EML_MIN(j->rows, j->m - m0);
        float *y = j->y + m0 * O;
        for (int64_t gi = 0; gi < s->group; gi++) {
            const float *a;
            size_t lda;
            if (s->kind == KIND_DIRECT) {
                a = j->x + m0 * C + (size_t)gi * cg;
                lda = C;
            } else {
                im2col(j, gi, m0, rows, col);
                a = col;
                lda = s->kdim;
            }
            eml__f32_gemm_run(s->gemm, rows, og, s->kdim, a, lda,
                              s->packed + (size_t)gi * s->group_floats, y + (size_t)gi * og, O,
                              j->min, j->max, NULL);
        }
        if (j->epilogue)
            epilogue(s, y, j->z ? j->z + m0 * O : NULL, rows, O, O);
    }
}

/* Wide convs, first step: im2col rows of one block of pixels into the shared scratch. */
static void wide_im2col(void *ctx, size_t b)
{
    const gemm_job *j = ctx;
    const size_t m0 = b * j->rows;
    im2col(j, 0, m0, EML_MIN(j->rows, j->m - m0), j->scratch + m0 * j->s->kdim);
}

/* Wide convs, second step: every pixel for one block of output channels (one group). */
static void wide_cols(void *ctx, size_t b)
{
    const gemm_job *j = ctx;
    const conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels, n0 = b * j->col_block;
    const size_t cols = EML_MIN(j->col_block, O - n0);
    const float *a = s->kind == KIND_DIRECT ? j->x : j->scratch;
    const size_t lda = s->kind == KIND_DIRECT ? (size_t)j->g->in_channels : s->kdim;
    /* a block of whole panels: its weights start at panel n0 / NR */
    const float *w = s->packed + n0 / s->packing.nr * s->panel_floats;
    eml__f32_gemm_run(s->gemm, j->m, cols, s->kdim, a, lda, w, j->y + n0, O, j->min, j->max,
                      NULL);
    if (j->epilogue)
        epilogue(s, j->y + n0, j->z ? j->z + n0 : NULL, j->m, cols, O);
}

static eml_status run_gemm(const eml_kernel_ctx *ctx, const conv_state *s, const eml_conv_geom *g,
                           const float *z, float min, float max)
{
    gemm_job j = {
        .s = s,
        .g = g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .m = out_pixels(&ctx->outputs[0]),
        .min = min,
        .max = max,
        .epilogue = z || !s->act_is_clamp,
    };
    if (ctx->scratch_bytes < scratch_floats(s, j.m) * sizeof(float))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    j.scratch = ctx->scratch;
    j.rows = block_rows(s, j.m);
    j.blocks = (j.m + j.rows - 1) / j.rows;
    const size_t threads = (size_t)eml__pool_threads(ctx->pool);
    if (run_wide(s, j.m)) {
        const size_t nr = s->packing.nr, panels = ((size_t)s->out_channels + nr - 1) / nr;
        const size_t per = (panels + WIDE_BLOCKS_WANTED - 1) / WIDE_BLOCKS_WANTED;
        j.col_block = per * nr;
        if (s->kind == KIND_IM2COL)
            eml__pool_run(j.blocks > 1 ? ctx->pool : NULL, j.blocks, wide_im2col, &j);
        const size_t col_blocks = (panels + per - 1) / per;
        eml__pool_run(col_blocks > 1 ? ctx->pool : NULL, col_blocks, wide_cols, &j);
        return EML_OK;
    }
    /* each slot owns one block of the scratch: no more slots than it was sized for */
    size_t slots = EML_MIN(EML_MIN(s->slots, j.blocks), threads);
    j.slot_floats = round_floats(j.rows * s->kdim);
    atomic_init(&j.next, 0);
    eml__pool_run(slots > 1 ? ctx->pool : NULL, slots, gemm_slot, &j);
    return EML_OK;
}

/* ---- indirect GEMM ---- */

typedef struct igemm_job {
    const conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    const float **ind;  /* pixel m's pointer for tap t at ind[m * ks + t] */
    size_t m, ks;
    size_t rows, blocks; /* pixel blocks (a multiple of MR), or */
    size_t col_block;    /* wide: output channels per block, a multiple of NR */
    eml_f32_minmax params;
    bool act_after;      /* an activation that is no clamp, applied on each block */
} igemm_job;

/* The pointers of output row `row` (n, oh): for each column and tap, the input pixel under the
 * tap or the zero row. */
static void igemm_pointers(void *ctx, size_t row)
{
    const igemm_job *j = ctx;
    const conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels, OH = g->out[0], OW = g->out[1];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const float **p = j->ind + (size_t)row * (size_t)OW * j->ks;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    for (int64_t ow = 0; ow < OW; ow++) {
        const int64_t iw0 = ow * g->stride[1] - g->pad_begin[1];
        for (int64_t kh = 0; kh < s->kh; kh++) {
            const int64_t ih = ih0 + kh * g->dilation[0];
            if (ih < 0 || ih >= H) {
                for (int64_t kw = 0; kw < s->kw; kw++)
                    *p++ = s->zero;
                continue;
            }
            const float *xr = j->x + (n * H + ih) * W * C;
            for (int64_t kw = 0; kw < s->kw; kw++) {
                const int64_t iw = iw0 + kw * g->dilation[1];
                *p++ = iw >= 0 && iw < W ? xr + iw * C : s->zero;
            }
        }
    }
}

/* Pixels [m0, m1) × the output channels [n0, n1) of group gi (n0 a multiple of NR), panel by
 * panel, each panel swept down the rows from cache. */
static void igemm_tile(const igemm_job *j, int64_t gi, size_t m0, size_t m1, size_t n0,
                       size_t n1)
{
    const conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels, mr = s->igemm->mr, nr = s->igemm->nr;
    const size_t c0 = (size_t)gi * (size_t)s->og;
    const float *w = s->packed + (size_t)gi * s->group_floats;
    for (size_t p = n0; p < n1; p += nr) {
        const size_t nc = EML_MIN(nr, n1 - p);
        for (size_t i = m0; i < m1; i += mr) {
            const size_t at = i * O + c0 + p;
            s->igemm->ukernel(EML_MIN(mr, m1 - i), nc, (size_t)s->cg, j->ks, j->ind + i * j->ks,
                              (size_t)gi * (size_t)s->cg, s->zero, w + p / nr * s->panel_floats,
                              j->z ? j->z + at : NULL, j->y + at, O, &j->params);
        }
    }
}

static void igemm_rows(void *ctx, size_t b)
{
    const igemm_job *j = ctx;
    const conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels;
    const size_t m0 = b * j->rows, m1 = EML_MIN(j->m, m0 + j->rows);
    for (int64_t gi = 0; gi < s->group; gi++)
        igemm_tile(j, gi, m0, m1, 0, (size_t)s->og);
    if (j->act_after)
        epilogue(s, j->y + m0 * O, NULL, m1 - m0, O, O);
}

static void igemm_cols(void *ctx, size_t b)
{
    const igemm_job *j = ctx;
    const conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels;
    const size_t n0 = b * j->col_block, n1 = EML_MIN(O, n0 + j->col_block);
    igemm_tile(j, 0, 0, j->m, n0, n1);
    if (j->act_after)
        epilogue(s, j->y + n0, NULL, j->m, n1 - n0, O);
}

static eml_status run_igemm(const eml_kernel_ctx *ctx, const conv_state *s,
                            const eml_conv_geom *g, const float *z)
{
    igemm_job j = {
        .s = s,
        .g = g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .ind = ctx->scratch,
        .m = out_pixels(&ctx->outputs[0]),
        .ks = (size_t)(s->kh * s->kw),
        /* the kernel adds Z before it clamps */
        .params = {s->act_is_clamp ? s->min : -INFINITY, s->act_is_clamp ? s->max : INFINITY},
        .act_after = !s->act_is_clamp,
    };
    if (ctx->scratch_bytes < scratch_floats(s, j.m) * sizeof(float))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    const size_t out_rows = (size_t)(g->batch * g->out[0]);
    eml__pool_run(j.m * j.ks < 16384 ? NULL : ctx->pool, out_rows, igemm_pointers, &j);
    if (s->wide) {
        const size_t nr = s->igemm->nr, panels = ((size_t)s->out_channels + nr - 1) / nr;
        const size_t per = (panels + WIDE_BLOCKS_WANTED - 1) / WIDE_BLOCKS_WANTED;
        j.col_block = per * nr;
        const size_t col_blocks = (panels + per - 1) / per;
        eml__pool_run(col_blocks > 1 ? ctx->pool : NULL, col_blocks, igemm_cols, &j);
        return EML_OK;
    }
    j.rows = block_rows(s, j.m);
    j.blocks = (j.m + j.rows - 1) / j.rows;
    eml__pool_run(j.blocks > 1 ? ctx->pool : NULL, j.blocks, igemm_rows, &j);
    return EML_OK;
}

typedef struct dw_job {
    const conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    float min, max;
    bool epilogue;
} dw_job;

/* One output row (n, oh): the kernel rows inside the input, every column and channel. */
static void dw_row(void *ctx, size_t row)
{
    const dw_job *j = ctx;
    const conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1], dh = g->dilation[0];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    const int64_t klo = ih0 < 0 ? (-ih0 + dh - 1) / dh : 0;
    const int64_t khi = H > ih0 ? EML_MIN(s->kh, (H - ih0 + dh - 1) / dh) : 0;
    const float *x = j->x + n * H * W * C;
    const size_t cp = s->cp, w_row = (size_t)s->kw * cp;
    eml_f32_dwconv_args a = {
        .row = {.channels = (size_t)C,
                .in_w = (size_t)W,
                .out_w = (size_t)OW,
                .kernel_w = (size_t)s->kw,
                .stride_w = (size_t)g->stride[1],
                .dilation_w = (size_t)g->dilation[1],
                .pad_left = g->pad_begin[1],
                .rows = khi > klo ? (size_t)(khi - klo) : 0,
                .x = khi > klo ? x + (ih0 + klo * dh) * W * C : x,
                .x_row_stride = (size_t)(dh * W * C),
                .y = j->y + (size_t)row * (size_t)(OW * C)},
        .w = s->packed + (size_t)EML_MAX(klo, 0) * w_row,
        .w_row_stride = w_row,
        .bias = s->packed + (size_t)(s->kh * s->kw) * cp,
        .cp = cp,
        .min = j->min,
        .max = j->max,
    };
    s->ops->dwconv(&a);
    if (j->epilogue)
        epilogue(s, a.row.y, j->z ? j->z + (size_t)row * (size_t)(OW * C) : NULL, 1,
                 (size_t)(OW * C), (size_t)(OW * C));
}

static eml_status conv_run(const eml_kernel_ctx *ctx)
{
    const conv_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_conv_geom(&s->p.conv, x, w, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NhwcConv: %s", why);
    const float *z = eml__kin_present(ctx, 3) ? ctx->inputs[3].data : NULL;
    if (s->kind == KIND_IGEMM)
        return run_igemm(ctx, s, &g, z);
    /* a residual comes before the activation: then the kernel cannot clamp */
    const bool fused = s->act_is_clamp && !z;
    const float min = fused ? s->min : -INFINITY, max = fused ? s->max : INFINITY;
    if (s->kind != KIND_DEPTHWISE)
        return run_gemm(ctx, s, &g, z, min, max);
    dw_job j = {s, &g, x->data, z, ctx->outputs[0].data, min, max, !fused};
    const size_t rows = (size_t)(g.batch * g.out[0]);
    const double macs = (double)eml_tensor_count(&ctx->outputs[0]) * (double)g.kernel_size;
    eml__pool_run(macs < DW_INLINE_MACS ? NULL : ctx->pool, rows, dw_row, &j);
    return EML_OK;
}
