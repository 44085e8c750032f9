/* Fast f32 Gemm, MatMul, FusedGemm and FusedMatMul with a constant B (an initializer): B is
 * packed once at plan time for the GEMM engine, with Gemm's alpha folded into the weights and a
 * constant per-column C (times beta) as the bias, and every run is one eml__f32_gemm_run over all
 * rows of A. A fused Relu or Clip is the engine's output clamp; other activations run on the
 * result afterwards with the elementwise micro-kernels. */
#include <math.h>
#include <stdio.h>

#include "kernels/fast_ops.h"
#include "kernels/ref/fused.h"
#include "kernels/ref/matmul.h"

/* Elements per pool task of the activation pass (a fixed split: see fast_elementwise.c). */
#define ACT_CHUNK_ELEMS 16384

typedef struct gemm_state {
    const eml_f32_gemm_kernel *k;
    size_t n, kdim;
    float min, max; /* output clamp */
    float *packed;  /* owned */
    /* an activation after the product: an elementwise micro-kernel (post_fn), or the reference
     * activation (post_ref) when no micro-kernel table runs here */
    eml_f32_vunary_fn post_fn;
    eml_f32_vunary_params post_params;
    eml_activation post_ref;
    char name[64];
} gemm_state;

typedef struct act_job {
    const gemm_state *st;
    float *y;
    size_t n;
} act_job;

static void act_task(void *arg, size_t index)
{
    const act_job *j = arg;
    size_t i0 = index * ACT_CHUNK_ELEMS;
    j->st->post_fn(EML_MIN((size_t)ACT_CHUNK_ELEMS, j->n - i0), j->y + i0, j->y + i0,
                   &j->st->post_params);
}

static void apply_post(const gemm_state *st, float *y, size_t n, eml_pool *pool)
{
    if (st->post_fn) {
        act_job j = {st, y, n};
        size_t tasks = (n + ACT_CHUNK_ELEMS - 1) / ACT_CHUNK_ELEMS;
        if (tasks > 1)
            eml__pool_run(pool, tasks, act_task, &j);
        else if (n > 0)
            act_task(&j, 0);
    } else if (st->post_ref.kind != EML_ACTIVATION_NONE) {
        eml__activation_apply(&st->post_ref, EML_DTYPE_F32, y, (int64_t)n, pool);
    }
}

/* Y[rows, N] = A[rows, K] · B + bias, rows being every dim of A but the last: Gemm's M, or
 * MatMul's batch dims times M (B is 2-D, so the batches share it and the output rows follow A's
 * order), or 1 for a 1-D A. */
static eml_status run_gemm(const eml_kernel_ctx *ctx)
{
    const gemm_state *st = ctx->params;
    const eml_tensor *a = &ctx->inputs[0];
    if (a->dtype != EML_DTYPE_F32 || a->rank < 1 || a->dims[a->rank - 1] != (int64_t)st->kdim)
        return eml__diag(ctx->diag, EML_EINTERNAL, "fast gemm: A changed after selection");
    size_t rows = (size_t)eml__shape_count(a->dims, a->rank - 1);
    float *y = ctx->outputs[0].data;
    eml__f32_gemm_run(st->k, rows, st->n, st->kdim, a->data, st->kdim, st->packed, y, st->n,
                      st->min, st->max, ctx->pool);
    apply_post(st, y, rows * st->n, ctx->pool);
    return EML_OK;
}

static void destroy_gemm(eml_env *env, void *state)
{
    gemm_state *st = state;
    if (!st)
        return;
    eml__free(env, st->packed);
    eml__free(env, st);
}

/* How the activation of a fused op runs: as the clamp (Relu, Clip) or after the product. False
 * for a kind this file does not know. */
static bool set_activation(gemm_state *s, const eml_activation *act)
{
    static const int32_t post_op[] = {
        [EML_ACTIVATION_LEAKY_RELU] = EML_F32_VLEAKY_RELU,
        [EML_ACTIVATION_HARD_SIGMOID] = EML_F32_VHARD_SIGMOID,
        [EML_ACTIVATION_HARD_SWISH] = EML_F32_VHARD_SWISH,
        [EML_ACTIVATION_SIGMOID] = EML_F32_VSIGMOID,
        [EML_ACTIVATION_TANH] = EML_F32_VTANH,
        [EML_ACTIVATION_SILU] = EML_F32_VSILU,
    };
    switch (act ? act->kind : EML_ACTIVATION_NONE) {
    case EML_ACTIVATION_NONE:
        return true;
    case EML_ACTIVATION_RELU:
        s->min = 0.0f;
        return true;
    case EML_ACTIVATION_CLIP:
        s->min = act->alpha, s->max = act->beta;
        return true;
    case EML_ACTIVATION_LEAKY_RELU:
    case EML_ACTIVATION_HARD_SIGMOID:
    case EML_ACTIVATION_SIGMOID:
    case EML_ACTIVATION_TANH:
    case EML_ACTIVATION_SILU:
    case EML_ACTIVATION_HARD_SWISH:
        break;
    default:
        return false;
    }
    const eml_f32_velem_ops *ops = eml__f32_velem_select();
    s->post_ref = *act;
    s->post_params.alpha = act->alpha;
    s->post_params.beta = act->beta;
    if (act->kind == EML_ACTIVATION_HARD_SWISH) /* HardSwish's constants, as the unary op's */
        s->post_params.alpha = 1.0f / 6.0f, s->post_params.beta = 0.5f;
    s->post_fn = ops ? ops->unary[post_op[act->kind]] : NULL;
    return true;
}

/* Packs b (K×N, or N×K when b_is_nk) times alpha with bias (N floats or NULL), sets the
 * activation (NULL: none) and fills *out. */
static eml_status make_gemm(const eml_fast_select_ctx *ctx, const eml_f32_gemm_kernel *k, size_t n,
                            size_t kdim, const float *b, bool b_is_nk, float alpha,
                            const float *bias, const eml_activation *act, eml_fast_kernel *out)
{
    eml_status st = EML_ENOMEM;
    float *scaled = NULL;
    gemm_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        goto fail;
    s->k = k;
    s->n = n;
    s->kdim = kdim;
    s->min = -INFINITY;
    s->max = INFINITY;
    if (!set_activation(s, act)) {
        st = EML_OK; /* declined */
        goto fail;
    }
    s->packed = eml__alloc(ctx->env, eml__f32_gemm_packed_bytes(k, n, kdim));
    if (!s->packed)
        goto fail;
    if (alpha != 1.0f) {
        /* alpha·(A·B) = A·(alpha·B): one scaling at plan time instead of one per output */
        scaled = eml__calloc(ctx->env, EML_MAX(n * kdim, (size_t)1), sizeof(float));
        if (!scaled)
            goto fail;
        for (size_t i = 0; i < n * kdim; i++)
            scaled[i] = alpha * b[i];
        b = scaled;
    }
    eml__f32_gemm_pack(k, n, kdim, b, b_is_nk, bias, s->packed);
    const char *kname = strncmp(k->name, "eml_", 4) == 0 ? k->name + 4 : k->name;
    snprintf(s->name, sizeof(s->name), "%s", kname);
    out->name = s->name;
    out->state = s;
    out->run = run_gemm;
    out->scratch_bytes = NULL;
    out->destroy = destroy_gemm;
    s = NULL;
    st = EML_OK;
fail:
    eml__free(ctx->env, scaled);
    destroy_gemm(ctx->env, s);
    return st;
}

static bool is_f32(const eml_tensor *t)
{
    return t->dtype == EML_DTYPE_F32;
}

/* A's type is seldom declared between nodes; infer makes it B's. */
static bool may_be_f32(const eml_tensor *t)
{
    return t->dtype == EML_DTYPE_F32 || t->dtype == EML_DTYPE_UNDEFINED;
}

/* Gemm: transA = 0, B constant, C absent, ignored (beta = 0) or a constant that is one value or
 * one per column ([N], [1, N], [1], [1, 1], scalar). */
static eml_status gemm_select(const eml_fast_select_ctx *ctx, const eml_f32_gemm_kernel *k,
                              const eml_gemm_params *p, const eml_activation *act,
                              eml_fast_kernel *out)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!may_be_f32(a) || !is_f32(b) || !b->data || b->rank != 2 || p->trans_a)
        return EML_OK;
    size_t kdim = (size_t)(p->trans_b ? b->dims[1] : b->dims[0]);
    size_t n = (size_t)(p->trans_b ? b->dims[0] : b->dims[1]);
    const eml_tensor *c =
        ctx->n_inputs > 2 && ctx->inputs[2].dtype != EML_DTYPE_UNDEFINED ? &ctx->inputs[2] : NULL;
    if (!c || p->beta == 0.0f) /* the reference ignores C then, even a NaN in it */
        return make_gemm(ctx, k, n, kdim, b->data, p->trans_b, p->alpha, NULL, act, out);
    if (!is_f32(c) || !c->data || c->rank > 2)
        return EML_OK;
    int64_t count = eml_tensor_count(c);
    bool per_column = (c->rank == 1 && c->dims[0] == (int64_t)n) ||
                      (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == (int64_t)n);
    if (count != 1 && !per_column)
        return EML_OK;
    float *bias = eml__calloc(ctx->env, EML_MAX(n, (size_t)1), sizeof(float));
    if (!bias)
        return EML_ENOMEM;
    const float *cv = c->data;
    for (size_t j = 0; j < n; j++)
        bias[j] = p->beta * cv[count == 1 ? 0 : j];
    eml_status st = make_gemm(ctx, k, n, kdim, b->data, p->trans_b, p->alpha, bias, act, out);
    eml__free(ctx->env, bias);
    return st;
}

/* MatMul: B constant and 1-D or 2-D (A's batch dims, if any, all use it). */
static eml_status matmul_select(const eml_fast_select_ctx *ctx, const eml_f32_gemm_kernel *k,
                                const eml_activation *act, eml_fast_kernel *out)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    if (!may_be_f32(a) || !is_f32(b) || !b->data || b->rank < 1 || b->rank > 2 || a->rank == 0)
        return EML_OK;
    size_t kdim = (size_t)b->dims[0];
    size_t n = b->rank == 2 ? (size_t)b->dims[1] : 1;
    return make_gemm(ctx, k, n, kdim, b->data, false, 1.0f, NULL, act, out);
}

eml_status eml__fast_gemm_select_with(const eml_fast_select_ctx *ctx, const eml_f32_gemm_kernel *k,
                                      eml_fast_kernel *out)
{
    if (ctx->n_inputs < 2)
        return EML_OK;
    switch ((eml_op_id)ctx->op) {
    case EML_OP_Gemm:
        return gemm_select(ctx, k, ctx->params, NULL, out);
    case EML_OP_MatMul:
        return matmul_select(ctx, k, NULL, out);
    case EML_OP_FusedGemm: {
        const eml_fused_gemm_params *p = ctx->params;
        return gemm_select(ctx, k, &p->gemm, &p->act, out);
    }
    case EML_OP_FusedMatMul: {
        const eml_fused_matmul_params *p = ctx->params;
        return matmul_select(ctx, k, &p->act, out);
    }
    default:
        return EML_OK;
    }
}

/* Only SIMD micro-kernels: with none (EML_ISA=ref, or a CPU without them) the reference Gemm and
 * MatMul run, so that EML_ISA=ref means reference kernels for the whole model. */
static const eml_f32_gemm_kernel *simd_kernel(void)
{
    const eml_f32_gemm_kernel *k = eml__f32_gemm_select();
    return k->isa != EML_ISA_NONE ? k : NULL;
}

eml_status eml__fast_gemm_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_f32_gemm_kernel *k = simd_kernel();
    return k ? eml__fast_gemm_select_with(ctx, k, out) : EML_OK;
}

eml_status eml__fast_matmul_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_f32_gemm_kernel *k = simd_kernel();
    return k ? eml__fast_gemm_select_with(ctx, k, out) : EML_OK;
}

eml_status eml__fast_fused_gemm_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_f32_gemm_kernel *k = simd_kernel();
    return k ? eml__fast_gemm_select_with(ctx, k, out) : EML_OK;
}

eml_status eml__fast_fused_matmul_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_f32_gemm_kernel *k = simd_kernel();
    return k ? eml__fast_gemm_select_with(ctx, k, out) : EML_OK;
}
