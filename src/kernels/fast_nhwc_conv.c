/* The fast NhwcConv kernel: chosen at plan time for float32 with constant weights, it packs them
 * once and runs a 1x1 convolution as one GEMM over the pixels (the input is already the A matrix),
 * 3x3 stride-1 convolutions with enough channels as Winograd F(4x4, 3x3)
 * (fast_nhwc_conv_winograd.c; EML_WINOGRAD=0 turns it off), other convolutions with enough
 * channels per group as an indirect GEMM (rows read through per-tap pointers, no copy), others as
 * GEMMs over im2col rows (fast_nhwc_conv_gemm.c), and depthwise convolutions on the
 * channel-vectorized micro-kernels. Work is split over blocks of output pixels,
 * or, when the weights are too big for the cache to stream them once per block, over blocks of
 * output channels that each take every pixel (deep layers: few pixels, many weights); depthwise
 * convs split over output rows. Block sizes depend on the shapes only, so every thread count
 * computes the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"

/* ---- plan time ---- */

void eml__nhwc_conv_destroy(eml_env *env, void *state)
{
    eml_nhwc_conv_state *s = state;
    if (!s)
        return;
    eml__free(env, s->raw);
    eml__free(env, s);
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
static eml_status pack_gemm(eml_env *env, eml_nhwc_conv_state *s, const float *w, const float *bias)
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

/* Winograd's sums differ from the direct conv's in the last bits (and a NaN or infinity in the
 * input reaches the whole 4 x 4 tile): EML_WINOGRAD=0 keeps the GEMM paths. */
static bool winograd_allowed(void)
{
    const char *v = getenv("EML_WINOGRAD");
    return !v || strcmp(v, "0") != 0;
}

eml_status eml__fast_nhwc_conv_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return eml__fast_nhwc_conv_select_with(ctx, eml__f32_gemm_select(), eml__f32_igemm_select(),
                                           eml__f32_nhwc_select(), winograd_allowed(), 0, out);
}

bool eml__nhwc_conv_inputs_ok(const eml_fast_select_ctx *ctx, const eml_tensor **bias)
{
    const eml_fused_conv_params *p = ctx->params;
    if (ctx->n_inputs < 2)
        return false;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    const eml_tensor *b = ctx->n_inputs > 2 ? &ctx->inputs[2] : NULL;
    if (b && b->dtype == EML_DTYPE_UNDEFINED)
        b = NULL;
    *bias = b;
    /* intermediate values may have no declared dtype: infer then guarantees float32 */
    if (x->dtype != EML_DTYPE_F32 && x->dtype != EML_DTYPE_UNDEFINED)
        return false;
    if (w->dtype != EML_DTYPE_F32 || !w->data || w->rank != 4)
        return false;
    const int64_t O = w->dims[0], group = p->conv.group;
    if (O < 1 || group < 1 || O % group != 0 || w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1)
        return false;
    return !b || (b->dtype == EML_DTYPE_F32 && b->data && b->rank == 1 && b->dims[0] == O);
}

eml_status eml__fast_nhwc_conv_select_with(const eml_fast_select_ctx *ctx,
                                           const eml_f32_gemm_kernel *k,
                                           const eml_f32_igemm_kernel *ik,
                                           const eml_f32_nhwc_ops *ops, bool winograd,
                                           uint32_t slots, eml_fast_kernel *out)
{
    const eml_fused_conv_params *p = ctx->params;
    const eml_tensor *b;
    if (!eml__nhwc_conv_inputs_ok(ctx, &b))
        return EML_OK;
    const eml_tensor *w = &ctx->inputs[1];
    const int64_t O = w->dims[0], group = p->conv.group;
    eml_nhwc_conv_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
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
    s->inline_macs = slots ? 0.0 : NHWC_GEMM_INLINE_MACS;
    s->act_is_clamp = eml__fast_act_clamp(&p->act, &s->min, &s->max);
    s->ops = ops;
    s->velem = eml__f32_velem_select();
    const float *bias = b ? b->data : NULL;
    size_t floats;
    if (s->cg == 1 && s->og == 1) {
        s->kind = NHWC_CONV_DEPTHWISE;
        s->cp = (O + s->ops->channel_tile - 1) / s->ops->channel_tile * s->ops->channel_tile;
        floats = eml__f32_dwconv_packed_floats((size_t)O, (size_t)s->kh, (size_t)s->kw,
                                               s->ops->channel_tile);
        snprintf(s->name, sizeof(s->name), "f32_nhwc_dwconv__%s", s->ops->isa_name);
    } else {
        /* one group and no dilation along W: a kernel row's taps are one run of the input */
        const bool row_taps =
            group == 1 && (p->conv.dilations_count <= 0 || p->conv.dilations[1] == 1);
        if (s->kh == 1 && s->kw == 1 && unit_strides(&p->conv) && zero_pads(&p->conv))
            s->kind = NHWC_CONV_DIRECT;
        else if (winograd && ops->wino_input &&
                 eml__nhwc_conv_winograd_fits(p, group, s->cg, s->og, s->kh, s->kw))
            s->kind = NHWC_CONV_WINOGRAD;
        else if (ik && (row_taps ? s->kw * s->cg : s->cg) >= NHWC_IGEMM_MIN_CHANNELS)
            s->kind = NHWC_CONV_IGEMM;
        else
            s->kind = NHWC_CONV_IM2COL;
        s->gemm = k;
        s->igemm = s->kind == NHWC_CONV_IGEMM ? ik : NULL;
        s->igemm_alt = s->igemm ? eml__f32_igemm_alternative(s->igemm) : NULL;
        /* only the panel width matters to the packing */
        s->packing = *k;
        if (s->igemm) {
            s->packing.mr = s->igemm->mr;
            s->packing.nr = s->igemm->nr;
        }
        /* Winograd: 36 matrices of K = C each, then the bias */
        const bool wino = s->kind == NHWC_CONV_WINOGRAD;
        const size_t k_rows = wino ? (size_t)s->cg : s->kdim;
        s->group_floats =
            eml__f32_gemm_packed_bytes(&s->packing, (size_t)s->og, k_rows) / sizeof(float);
        s->panel_floats =
            eml__f32_gemm_packed_bytes(&s->packing, s->packing.nr, k_rows) / sizeof(float);
        floats = wino ? 36 * s->group_floats + (size_t)O : s->group_floats * (size_t)group;
        s->wide = !wino && group == 1 &&
                  s->group_floats * sizeof(float) > NHWC_WIDE_WEIGHT_BYTES;
        s->row_taps =
            s->igemm && group == 1 && (p->conv.dilations_count <= 0 || p->conv.dilations[1] == 1);
        static const char *const kinds[] = {"1x1", "im2col", "dw", "igemm", "winograd"};
        snprintf(s->name, sizeof(s->name), "f32_nhwc_conv_%s%s__%s", kinds[s->kind],
                 s->wide ? "_wide" : "", eml__fast_short_name(s->igemm ? s->igemm->name : s->gemm->name));
    }
    eml_status st = EML_ENOMEM;
    /* the igemm's zero row (a kernel row's taps) or Winograd's (a pixel) follows the weights */
    const size_t zeros = s->kind == NHWC_CONV_IGEMM      ? (size_t)(s->kw * s->cg)
                         : s->kind == NHWC_CONV_WINOGRAD ? (size_t)s->cg
                                                         : 0;
    s->raw = eml__calloc(ctx->env, 1, (floats + zeros) * sizeof(float) + EML_ALIGN);
    if (!s->raw)
        goto fail;
    s->packed = (float *)(((uintptr_t)s->raw + EML_ALIGN - 1) & ~(uintptr_t)(EML_ALIGN - 1));
    s->zero = s->packed + floats;
    if (s->kind == NHWC_CONV_DEPTHWISE) {
        eml__f32_dwconv_pack((size_t)O, (size_t)s->kh, (size_t)s->kw, s->ops->channel_tile, w->data,
                             bias, s->packed);
    } else if (s->kind == NHWC_CONV_WINOGRAD) {
        st = eml__nhwc_conv_winograd_pack(ctx->env, s, w->data, bias);
        if (st != EML_OK)
            goto fail;
    } else {
        st = pack_gemm(ctx->env, s, w->data, bias);
        if (st != EML_OK)
            goto fail;
    }
    out->name = s->name;
    out->state = s;
    out->run = conv_run;
    out->scratch_bytes = s->kind == NHWC_CONV_IM2COL || s->kind == NHWC_CONV_IGEMM ||
                                 s->kind == NHWC_CONV_WINOGRAD
                             ? conv_scratch
                             : NULL;
    out->destroy = eml__nhwc_conv_destroy;
    return EML_OK;
fail:
    eml__nhwc_conv_destroy(ctx->env, s);
    return st;
}

/* ---- run time ---- */

/* Output pixels per GEMM task: a multiple of the micro-kernel's rows, small enough that the
 * block's output (and im2col rows) stay in cache and that there are several blocks. A function
 * of the shapes only. */
size_t eml__nhwc_conv_block_rows(const eml_nhwc_conv_state *s, size_t m, size_t mr)
{
    size_t rows = NHWC_BLOCK_OUT_BYTES / ((size_t)s->out_channels * sizeof(float));
    if (s->kind == NHWC_CONV_IM2COL)
        rows = EML_MIN(rows, NHWC_BLOCK_COL_BYTES / (s->kdim * sizeof(float)));
    size_t spread = (m + NHWC_BLOCKS_WANTED - 1) / NHWC_BLOCKS_WANTED;
    rows = EML_MIN(rows, spread);
    return EML_MAX((size_t)1, (rows + mr / 2) / mr) * mr;
}

/* Splits over output channels: the weights are big and every pixel's im2col row fits. */
bool eml__nhwc_conv_run_wide(const eml_nhwc_conv_state *s, size_t m)
{
    return s->wide &&
           (s->kind == NHWC_CONV_DIRECT || m * s->kdim * sizeof(float) <= NHWC_WIDE_COL_BYTES);
}

size_t eml__nhwc_conv_round_floats(size_t n)
{
    const size_t a = EML_ALIGN / sizeof(float);
    return (n + a - 1) / a * a;
}

size_t eml__nhwc_conv_out_pixels(const eml_tensor *y)
{
    return (size_t)(y->dims[0] * y->dims[1] * y->dims[2]);
}

void eml__nhwc_conv_igemm_taps(const eml_nhwc_conv_state *s, size_t *ks, size_t *kc)
{
    *ks = (size_t)(s->row_taps ? s->kh : s->kh * s->kw);
    *kc = (size_t)(s->row_taps ? s->kw * s->cg : s->cg);
}

void eml__nhwc_conv_inner_cols(const eml_nhwc_conv_state *s, const eml_conv_geom *g, int64_t *lo,
                               int64_t *hi)
{
    const int64_t sw = g->stride[1], pl = g->pad_begin[1], ow = g->out[1];
    const int64_t last = g->in[1] - s->kw + pl; /* ow * sw <= last: the run ends inside */
    int64_t a = pl > 0 ? (pl + sw - 1) / sw : 0;
    int64_t b = last < 0 ? 0 : last / sw + 1;
    *lo = EML_MIN(a, ow);
    *hi = EML_MAX(*lo, EML_MIN(b, ow));
}

/* Scratch floats: igemm: a pointer per pixel and tap, and (kernel rows) the runs gathered at the
 * image's sides; im2col: every row (wide), or one block per slot. */
size_t eml__nhwc_conv_scratch_floats(const eml_nhwc_conv_state *s, const eml_conv_geom *g)
{
    const size_t m = (size_t)(g->batch * g->out[0] * g->out[1]);
    if (s->kind == NHWC_CONV_WINOGRAD)
        return eml__nhwc_conv_winograd_scratch_floats(s);
    if (s->kind == NHWC_CONV_IGEMM) {
        size_t ks, kc;
        eml__nhwc_conv_igemm_taps(s, &ks, &kc);
        size_t floats = eml__nhwc_conv_round_floats(m * ks * NHWC_POINTER_FLOATS);
        if (s->row_taps) {
            int64_t lo, hi;
            eml__nhwc_conv_inner_cols(s, g, &lo, &hi);
            const size_t sides = (size_t)(lo + g->out[1] - hi);
            floats += eml__nhwc_conv_round_floats((size_t)(g->batch * g->out[0]) * sides * ks * kc);
        }
        return floats;
    }
    if (s->kind != NHWC_CONV_IM2COL)
        return 0;
    if (eml__nhwc_conv_run_wide(s, m))
        return eml__nhwc_conv_round_floats(m * s->kdim);
    /* one block per thread: the thread's index picks it */
    const size_t rows = eml__nhwc_conv_block_rows(s, m, s->packing.mr);
    return s->slots * eml__nhwc_conv_round_floats(rows * s->kdim);
}

static size_t conv_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs)
{
    const eml_nhwc_conv_state *s = state;
    (void)outputs;
    (void)n_inputs;
    (void)n_outputs;
    eml_conv_geom g;
    char why[160];
    /* shapes infer accepted: the geometry resolves */
    if (eml__nhwc_conv_geom(&s->p.conv, &inputs[0], &inputs[1], &g, why, sizeof(why)) != EML_OK)
        return 0;
    return eml__nhwc_conv_scratch_floats(s, &g) * sizeof(float);
}

/* The activation other than a clamp, in place on n contiguous floats. */
static void activation(const eml_nhwc_conv_state *s, float *y, size_t n)
{
    const eml_f32_velem_ops *v = s->velem;
    const eml_activation *a = &s->p.act;
    eml_f32_vunary_params prm = {a->alpha, a->beta, -INFINITY, INFINITY};
    int op = -1;
    switch (a->kind) {
    case EML_ACTIVATION_LEAKY_RELU:
        op = EML_F32_VLEAKY_RELU;
        break;
    case EML_ACTIVATION_HARD_SIGMOID:
        op = EML_F32_VHARD_SIGMOID;
        break;
    case EML_ACTIVATION_HARD_SWISH:
        op = EML_F32_VHARD_SWISH;
        prm.alpha = 1.0f / 6.0f;
        prm.beta = 0.5f;
        break;
    case EML_ACTIVATION_SIGMOID:
        op = EML_F32_VSIGMOID;
        break;
    case EML_ACTIVATION_TANH:
        op = EML_F32_VTANH;
        break;
    case EML_ACTIVATION_SILU:
        op = EML_F32_VSILU;
        break;
    default:
        break;
    }
    if (v && op >= 0 && v->unary[op])
        v->unary[op](n, y, y, &prm);
    else
        eml__activation_apply(a, EML_DTYPE_F32, y, (int64_t)n, NULL);
}

/* The residual and the activation on rows × cols outputs (row stride ldy), still in cache. */
void eml__nhwc_conv_epilogue(const eml_nhwc_conv_state *s, float *y, const float *z, size_t rows,
                             size_t cols, size_t ldy)
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

eml_nhwc_conv_row_job eml__nhwc_conv_row_job(const eml_nhwc_conv_state *s, const eml_conv_geom *g,
                                             const float *x, const float *z, float *y)
{
    /* a residual comes before the activation: then the kernel cannot clamp */
    const bool fused = s->act_is_clamp && !z;
    eml_nhwc_conv_row_job j = {s,
                               g,
                               x,
                               z,
                               y,
                               fused ? s->min : -INFINITY,
                               fused ? s->max : INFINITY,
                               !fused};
    return j;
}

/* One output row (n, oh): the kernel rows inside the input, every column and channel. */
static void dw_row(void *ctx, size_t row)
{
    const eml_nhwc_conv_row_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
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
        eml__nhwc_conv_epilogue(s, a.row.y, j->z ? j->z + (size_t)row * (size_t)(OW * C) : NULL, 1,
                                (size_t)(OW * C), (size_t)(OW * C));
}

static void dw_rows(void *ctx, size_t begin, size_t end, uint32_t thread)
{
    (void)thread;
    for (size_t r = begin; r < end; r++)
        dw_row(ctx, r);
}

static eml_status conv_run(const eml_kernel_ctx *ctx)
{
    const eml_nhwc_conv_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_conv_geom(&s->p.conv, x, w, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NhwcConv: %s", why);
    const float *z = eml__kin_present(ctx, 3) ? ctx->inputs[3].data : NULL;
    if (s->kind == NHWC_CONV_IGEMM)
        return eml__nhwc_conv_run_igemm(ctx, s, &g, z);
    if (s->kind == NHWC_CONV_WINOGRAD)
        return eml__nhwc_conv_run_winograd(ctx, s, &g, z);
    eml_nhwc_conv_row_job j = eml__nhwc_conv_row_job(s, &g, x->data, z, ctx->outputs[0].data);
    if (s->kind != NHWC_CONV_DEPTHWISE)
        return eml__nhwc_conv_run_gemm(ctx, s, &g, z, j.min, j.max);
    const size_t rows = (size_t)(g.batch * g.out[0]);
    const double macs = (double)eml_tensor_count(&ctx->outputs[0]) * (double)g.kernel_size;
    const double inline_macs = s->inline_macs > 0 ? NHWC_DW_INLINE_MACS : 0.0;
    eml__parallel_ranges(macs < inline_macs ? NULL : ctx->pool, rows, 1, dw_rows, &j);
    return EML_OK;
}
