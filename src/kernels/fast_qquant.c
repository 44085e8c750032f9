/* Fast QuantizeLinear: float32 -> uint8, per tensor, AVX2, in fixed chunks over the pool. */
#include "core/cpu.h"
#include "kernels/fast_qquant.h"
#include "kernels/parallel.h"

#define CHUNK 16384

/* The kernel is AVX2 only: elsewhere the selector declines and the reference kernel runs. */
#if defined(__x86_64__)

typedef struct quant_state {
    float scale, zp;
} quant_state;

typedef struct quant_run {
    const quant_state *s;
    const float *x;
    uint8_t *y;
    size_t n;
} quant_run;

/* Chunks [b, e): elements [b * CHUNK, min(e * CHUNK, n)). */
static void quant_chunks(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const quant_run *r = ctx;
    const size_t i0 = b * CHUNK;
    (void)thread;
    eml_qu8_quantize__avx2(EML_MIN(e * CHUNK, r->n) - i0, r->x + i0, r->s->scale, r->s->zp,
                           r->y + i0);
}

static eml_status quant_run_fn(const eml_kernel_ctx *ctx)
{
    const eml_tensor *y = &ctx->outputs[0];
    quant_run r = {ctx->params, ctx->inputs[0].data, y->data,
                   (size_t)eml__shape_count(y->dims, y->rank)};
    if (r.n)
        eml__parallel_ranges(ctx->pool, (r.n + CHUNK - 1) / CHUNK, 1, quant_chunks, &r);
    return EML_OK;
}

eml_status eml__fast_quantize_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_tensor *in = ctx->inputs;
    if (!eml__cpu_has(EML_ISA_X86_AVX2) || ctx->n_inputs < 3 || in[0].dtype != EML_DTYPE_F32 ||
        in[1].dtype != EML_DTYPE_F32 || !in[1].data || in[1].rank > 1 ||
        eml__shape_count(in[1].dims, in[1].rank) != 1 || in[2].dtype != EML_DTYPE_U8 ||
        !in[2].data || in[2].rank > 1 || eml__shape_count(in[2].dims, in[2].rank) != 1)
        return EML_OK;
    quant_state *s = eml__alloc(ctx->env, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->scale = *(const float *)in[1].data;
    s->zp = (float)*(const uint8_t *)in[2].data;
    out->name = "qu8_quantize__avx2";
    out->state = s;
    out->run = quant_run_fn;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

#else

eml_status eml__fast_quantize_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    (void)ctx;
    (void)out;
    return EML_OK;
}

#endif
