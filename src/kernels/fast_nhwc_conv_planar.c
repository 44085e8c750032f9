/* The fast NhwcConvFromNchw (see fast_nhwc_conv.h): a stem conv reading the planar input the
 * graph was given and writing channels-last, on the micro-kernel table's planar_conv. Each
 * output row hands the kernel one pointer per (input channel, kernel row), NULL in the padding;
 * rows go to the threads, so every thread count computes the same bits. No copy of the image is
 * made: the layout pass's transpose of the input goes away with it. */
#include <stdio.h>

#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"

static void planar_rows(void *ctx, size_t begin, size_t end, uint32_t thread)
{
    (void)thread;
    const eml_nhwc_conv_row_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const int64_t C = g->in_channels, H = g->in[0], W = g->in[1];
    const int64_t OH = g->out[0], OW = g->out[1], O = s->out_channels, KH = s->kh;
    const float *rows[EML_PLANAR_MAX_TAPS];
    eml_f32_planar_conv_args a = {
        .rows = (size_t)(C * KH),
        .x = rows,
        .in_w = (size_t)W,
        .out_w = (size_t)OW,
        .kernel_w = (size_t)s->kw,
        .stride_w = (size_t)g->stride[1],
        .pad_left = g->pad_begin[1],
        .out_channels = (size_t)O,
        .w = s->packed,
        .min = j->min,
        .max = j->max,
    };
    for (size_t row = begin; row < end; row++) {
        const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
        for (int64_t c = 0; c < C; c++)
            for (int64_t kh = 0; kh < KH; kh++) {
                const int64_t ih = oh * g->stride[0] - g->pad_begin[0] + kh;
                rows[c * KH + kh] =
                    ih >= 0 && ih < H ? j->x + ((n * C + c) * H + ih) * W : NULL;
            }
        /* The image comes from memory, or L3, at each run; the tiles read their rows in short
         * pieces the hardware prefetcher does not follow: fetch the next output row's input
         * rows while this one computes (the rows it shares with this one are in cache). */
        const int64_t next = oh + 1 < OH ? (oh + 1) * g->stride[0] - g->pad_begin[0] : H;
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = EML_MAX(next, 0); ih < EML_MIN(next + KH, H); ih++) {
                const char *p = (const char *)(j->x + ((n * C + c) * H + ih) * W);
                for (int64_t b = 0; b < W * (int64_t)sizeof(float); b += 64)
                    __builtin_prefetch(p + b);
            }
        const size_t at = row * (size_t)(OW * O);
        a.y = j->y + at;
        s->ops->planar_conv(&a);
        if (j->epilogue)
            eml__nhwc_conv_epilogue(s, a.y, j->z ? j->z + at : NULL, 1, (size_t)(OW * O),
                                    (size_t)(OW * O));
    }
}

static eml_status planar_run(const eml_kernel_ctx *ctx)
{
    const eml_nhwc_conv_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__conv_geom(&s->p.conv, x, w, false, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "NhwcConvFromNchw: %s", why);
    const float *z = eml__kin_present(ctx, 3) ? ctx->inputs[3].data : NULL;
    eml_nhwc_conv_row_job j = eml__nhwc_conv_row_job(s, &g, x->data, z, ctx->outputs[0].data);
    const size_t rows = (size_t)(g.batch * g.out[0]);
    const double macs = (double)eml_tensor_count(&ctx->outputs[0]) * (double)s->kdim;
    eml__parallel_ranges(macs < s->inline_macs ? NULL : ctx->pool, rows, 1, planar_rows, &j);
    return EML_OK;
}

eml_status eml__fast_nhwc_conv_from_nchw_select(const eml_fast_select_ctx *ctx,
                                                eml_fast_kernel *out)
{
    return eml__fast_nhwc_conv_from_nchw_select_with(ctx, eml__f32_nhwc_select(), out);
}

static bool undilated(const eml_conv_params *c)
{
    for (int32_t i = 0; i < c->dilations_count; i++)
        if (c->dilations[i] != 1)
            return false;
    return true;
}

eml_status eml__fast_nhwc_conv_from_nchw_select_with(const eml_fast_select_ctx *ctx,
                                                     const eml_f32_nhwc_ops *ops,
                                                     eml_fast_kernel *out)
{
    const eml_fused_conv_params *p = ctx->params;
    const eml_tensor *b;
    if (!eml__nhwc_conv_inputs_ok(ctx, &b) || p->conv.group != 1 || !undilated(&p->conv))
        return EML_OK;
    const eml_tensor *w = &ctx->inputs[1];
    const int64_t O = w->dims[0], C = w->dims[1], KH = w->dims[2], KW = w->dims[3];
    if (C * KH * KW > EML_PLANAR_MAX_TAPS)
        return EML_OK;
    eml_nhwc_conv_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->p = *p;
    s->kind = NHWC_CONV_PLANAR;
    s->out_channels = O;
    s->group = 1;
    s->cg = C;
    s->og = O;
    s->kh = KH;
    s->kw = KW;
    s->kdim = (size_t)(C * KH * KW);
    s->inline_macs = NHWC_GEMM_INLINE_MACS;
    s->act_is_clamp = eml__fast_act_clamp(&p->act, &s->min, &s->max);
    s->ops = ops;
    s->velem = eml__f32_velem_select();
    /* the GEMM's packing, with the table's panel width */
    s->packing.nr = ops->planar_panel;
    s->group_floats = eml__f32_gemm_packed_bytes(&s->packing, (size_t)O, s->kdim) / sizeof(float);
    s->raw = eml__calloc(ctx->env, 1, s->group_floats * sizeof(float) + EML_ALIGN);
    if (!s->raw) {
        eml__nhwc_conv_destroy(ctx->env, s);
        return EML_ENOMEM;
    }
    s->packed = (float *)(((uintptr_t)s->raw + EML_ALIGN - 1) & ~(uintptr_t)(EML_ALIGN - 1));
    eml__f32_gemm_pack(&s->packing, (size_t)O, s->kdim, w->data, true, b ? b->data : NULL,
                       s->packed);
    snprintf(s->name, sizeof(s->name), "f32_nhwc_conv_planar__%s", ops->isa_name);
    out->name = s->name;
    out->state = s;
    out->run = planar_run;
    out->destroy = eml__nhwc_conv_destroy;
    return EML_OK;
}
