/* Gemm, MatMul, FusedGemm and FusedMatMul on float16 arithmetic, for a constant B from a float16
 * model: B (times Gemm's alpha) packed once as float16 panels with a constant per-column C (times
 * beta) as the float32 bias; each block of A's rows converted to float16 in the thread's scratch
 * and multiplied by the f16 GEMM micro-kernel. Also the selection entry point of the f16 kernels
 * (fast_f16.h). */
#include <math.h>
#include <stdio.h>

#include "kernels/fast_f16.h"
#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"
#include "kernels/ref/fused.h"
#include "kernels/ref/matmul.h"

typedef struct f16_gemm_state {
    /* only the activation and epilogue fields are used: the conv's epilogue applies an
     * activation that is no clamp on each stored block */
    eml_nhwc_conv_state act;
    const eml_f16_gemm_kernel *k;
    size_t n, kdim, slots;
    double inline_macs;
    uint16_t *w; /* owned */
    float *bias; /* owned */
    char name[64];
} f16_gemm_state;

static void gemm_destroy(eml_env *env, void *state)
{
    f16_gemm_state *s = state;
    if (!s)
        return;
    eml__free(env, s->w);
    eml__free(env, s->bias);
    eml__free(env, s);
}

typedef struct gemm_job {
    const f16_gemm_state *s;
    const float *a;
    float *y;
    uint8_t *scratch;
    size_t m, rows, slot_bytes;
} gemm_job;

static size_t gemm_scratch_for(const f16_gemm_state *s, size_t m, size_t *rows, size_t *slot)
{
    *rows = eml__f16_block_rows(m, s->n, s->kdim, s->k->mr);
    *slot = eml__f16_round_bytes(*rows * s->kdim * sizeof(uint16_t));
    return s->slots * *slot;
}

/* Rows of the output: every dim of A but the last (Gemm's M, MatMul's batch dims times M). */
static size_t gemm_rows(const eml_tensor *a)
{
    return (size_t)eml__shape_count(a->dims, a->rank - 1);
}

static size_t gemm_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs)
{
    const f16_gemm_state *s = state;
    (void)n_inputs;
    (void)outputs;
    (void)n_outputs;
    size_t rows, slot;
    return inputs[0].rank < 1 ? 0 : gemm_scratch_for(s, gemm_rows(&inputs[0]), &rows, &slot);
}

static void gemm_blocks(void *ctx, size_t b0, size_t b1, uint32_t thread)
{
    const gemm_job *j = ctx;
    const f16_gemm_state *s = j->s;
    uint16_t *a = (uint16_t *)(j->scratch + thread * j->slot_bytes);
    const bool clamp = s->act.act_is_clamp;
    for (size_t blk = b0; blk < b1; blk++) {
        const size_t m0 = blk * j->rows, rows = EML_MIN(j->rows, j->m - m0);
        /* A's rows are contiguous */
        s->k->convert(rows * s->kdim, j->a + m0 * s->kdim, a);
        float *y = j->y + m0 * s->n;
        eml__f16_gemm_run(s->k, rows, s->n, s->kdim, a, s->kdim, s->w, s->bias, y, s->n,
                          clamp ? s->act.min : -INFINITY, clamp ? s->act.max : INFINITY);
        if (!clamp)
            eml__nhwc_conv_epilogue(&s->act, y, NULL, rows, s->n, s->n);
    }
}

static eml_status gemm_run(const eml_kernel_ctx *ctx)
{
    const f16_gemm_state *s = ctx->params;
    const eml_tensor *a = &ctx->inputs[0];
    if (a->dtype != EML_DTYPE_F32 || a->rank < 1 || a->dims[a->rank - 1] != (int64_t)s->kdim)
        return eml__diag(ctx->diag, EML_EINTERNAL, "f16 gemm: A changed after selection");
    gemm_job j = {.s = s, .a = a->data, .y = ctx->outputs[0].data, .scratch = ctx->scratch};
    j.m = gemm_rows(a);
    if (ctx->scratch_bytes < gemm_scratch_for(s, j.m, &j.rows, &j.slot_bytes))
        return eml__diag(ctx->diag, EML_EINTERNAL, "f16 gemm: scratch too small");
    if (j.m == 0 || s->n == 0)
        return EML_OK;
    const double macs = (double)j.m * (double)s->n * (double)s->kdim;
    eml_pool *pool = macs < s->inline_macs ? NULL : ctx->pool;
    if (eml__pool_threads(pool) > s->slots)
        pool = NULL;
    eml__parallel_ranges(pool, (j.m + j.rows - 1) / j.rows, 1, gemm_blocks, &j);
    return EML_OK;
}

/* The activation as the stored block's clamp (Relu, Clip) or the epilogue's; false for a kind
 * the epilogue does not know. */
static bool set_activation(eml_nhwc_conv_state *e, const eml_activation *act)
{
    e->min = -INFINITY;
    e->max = INFINITY;
    e->act_is_clamp = true;
    e->ops = eml__f32_nhwc_select();
    e->velem = eml__f32_velem_select();
    if (!act)
        return true;
    e->p.act = *act;
    if (eml__fast_act_clamp(act, &e->min, &e->max))
        return true;
    switch (act->kind) {
    case EML_ACTIVATION_LEAKY_RELU:
    case EML_ACTIVATION_HARD_SIGMOID:
    case EML_ACTIVATION_HARD_SWISH:
    case EML_ACTIVATION_SIGMOID:
    case EML_ACTIVATION_TANH:
    case EML_ACTIVATION_SILU:
        e->act_is_clamp = false;
        return true;
    default:
        return false;
    }
}

static eml_status make_gemm(const eml_fast_select_ctx *ctx, const eml_f16_gemm_kernel *k,
                            uint32_t slots, size_t n, size_t kdim, const float *b, bool b_is_nk,
                            float alpha, const float *bias, const eml_activation *act,
                            eml_fast_kernel *out)
{
    if (n == 0 || kdim == 0)
        return EML_OK; /* nothing to multiply: the f32 kernels */
    eml_status st = EML_ENOMEM;
    f16_gemm_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    if (!set_activation(&s->act, act)) {
        st = EML_OK; /* declined */
        goto fail;
    }
    s->k = k;
    s->n = n;
    s->kdim = kdim;
    s->slots = EML_MAX(1u, slots ? slots : ctx->env->n_threads);
    s->inline_macs = slots ? 0.0 : NHWC_GEMM_INLINE_MACS;
    s->w = eml__alloc(ctx->env, eml__f16_gemm_packed_halves(k, n, kdim) * sizeof(uint16_t));
    s->bias = eml__alloc(ctx->env, eml__f16_gemm_bias_floats(k, n) * sizeof(float));
    if (!s->w || !s->bias)
        goto fail;
    eml__f16_gemm_pack(k, n, kdim, b, b_is_nk, alpha, bias, s->w, s->bias);
    snprintf(s->name, sizeof(s->name), "%s",
             eml__fast_short_name(k->name));
    out->name = s->name;
    out->state = s;
    out->run = gemm_run;
    out->scratch_bytes = gemm_scratch;
    out->destroy = gemm_destroy;
    return EML_OK;
fail:
    gemm_destroy(ctx->env, s);
    return st;
}

/* A's type is seldom declared between nodes; infer makes it B's. */
static bool may_be_f32(const eml_tensor *t)
{
    return t->dtype == EML_DTYPE_F32 || t->dtype == EML_DTYPE_UNDEFINED;
}

/* Gemm: transA = 0, B constant, C absent, ignored (beta = 0) or a constant that is one value or
 * one per column. */
static eml_status gemm_select(const eml_fast_select_ctx *ctx, const eml_f16_gemm_kernel *k,
                              uint32_t slots, const eml_gemm_params *p, const eml_activation *act,
                              eml_fast_kernel *out)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!may_be_f32(a) || b->dtype != EML_DTYPE_F32 || !b->data || b->rank != 2 || p->trans_a)
        return EML_OK;
    const size_t kdim = (size_t)(p->trans_b ? b->dims[1] : b->dims[0]);
    const size_t n = (size_t)(p->trans_b ? b->dims[0] : b->dims[1]);
    const eml_tensor *c =
        ctx->n_inputs > 2 && ctx->inputs[2].dtype != EML_DTYPE_UNDEFINED ? &ctx->inputs[2] : NULL;
    if (!c || p->beta == 0.0f) /* the reference ignores C then */
        return make_gemm(ctx, k, slots, n, kdim, b->data, p->trans_b, p->alpha, NULL, act, out);
    if (c->dtype != EML_DTYPE_F32 || !c->data || c->rank > 2)
        return EML_OK;
    const int64_t count = eml_tensor_count(c);
    const bool per_column = (c->rank == 1 && c->dims[0] == (int64_t)n) ||
                            (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == (int64_t)n);
    if (count != 1 && !per_column)
        return EML_OK;
    float *bias = eml__calloc(ctx->env, EML_MAX(n, (size_t)1), sizeof(float));
    if (!bias)
        return EML_ENOMEM;
    const float *cv = c->data;
    for (size_t j = 0; j < n; j++)
        bias[j] = p->beta * cv[count == 1 ? 0 : j];
    eml_status st =
        make_gemm(ctx, k, slots, n, kdim, b->data, p->trans_b, p->alpha, bias, act, out);
    eml__free(ctx->env, bias);
    return st;
}

/* MatMul: B constant and 1-D or 2-D (A's batch dims, if any, all use it). */
static eml_status matmul_select(const eml_fast_select_ctx *ctx, const eml_f16_gemm_kernel *k,
                                uint32_t slots, const eml_activation *act, eml_fast_kernel *out)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!may_be_f32(a) || b->dtype != EML_DTYPE_F32 || !b->data || b->rank < 1 || b->rank > 2 ||
        a->rank == 0)
        return EML_OK;
    const size_t kdim = (size_t)b->dims[0], n = b->rank == 2 ? (size_t)b->dims[1] : 1;
    return make_gemm(ctx, k, slots, n, kdim, b->data, false, 1.0f, NULL, act, out);
}

eml_status eml__fast_f16_gemm_select_with(const eml_fast_select_ctx *ctx,
                                          const eml_f16_gemm_kernel *k, uint32_t slots,
                                          eml_fast_kernel *out)
{
    if (ctx->n_inputs < 2)
        return EML_OK;
    switch ((eml_op_id)ctx->op) {
    case EML_OP_Gemm:
        return gemm_select(ctx, k, slots, ctx->params, NULL, out);
    case EML_OP_MatMul:
        return matmul_select(ctx, k, slots, NULL, out);
    case EML_OP_FusedGemm: {
        const eml_fused_gemm_params *p = ctx->params;
        return gemm_select(ctx, k, slots, &p->gemm, &p->act, out);
    }
    case EML_OP_FusedMatMul: {
        const eml_fused_matmul_params *p = ctx->params;
        return matmul_select(ctx, k, slots, &p->act, out);
    }
    default:
        return EML_OK;
    }
}

eml_status eml__fast_f16_select(const eml_fast_select_ctx *ctx, uint32_t f16_inputs,
                                eml_fast_kernel *out)
{
    /* the weights (input 1) must have been float16: an fp32 model never computes in float16 */
    if (!(f16_inputs & 2u))
        return EML_OK;
    const eml_f16_gemm_kernel *k = eml__f16_gemm_select();
    if (!k)
        return EML_OK;
    if (ctx->op == EML_OP_NhwcConv)
        return eml__fast_f16_conv_select_with(ctx, k, 0, out);
    return eml__fast_f16_gemm_select_with(ctx, k, 0, out);
}
