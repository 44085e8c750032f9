/* Fast QAdd: plan-time rescale weights and the AVX2 elementwise kernel over the pool. */
#include "core/cpu.h"
#include "kernels/fast_qadd.h"
#include "kernels/parallel.h"
#include "kernels/ref/qnhwc.h"

/* Elements per task: big enough to amortize a wake-up, fixed so results never depend on it. */
#define CHUNK 16384

/* The kernel is AVX2 only: elsewhere the selector declines and the reference kernel runs. */
#if defined(__x86_64__)

typedef struct vadd_run {
    const eml_qs8_vadd_params *p;
    const uint8_t *a, *b;
    uint8_t *y;
    size_t n;
} vadd_run;

/* Chunks [b, e): elements [b * CHUNK, min(e * CHUNK, n)). */
static void vadd_chunks(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const vadd_run *r = ctx;
    const size_t i0 = b * CHUNK, n = EML_MIN(e * CHUNK, r->n) - i0;
    (void)thread;
    eml_qs8_vadd__avx2(n, r->a + i0, r->b + i0, r->y + i0, r->p);
}

static eml_status vadd_run_fn(const eml_kernel_ctx *ctx)
{
    const eml_tensor *y = &ctx->outputs[0];
    vadd_run r = {ctx->params, ctx->inputs[0].data, ctx->inputs[3].data, y->data,
                  (size_t)eml__shape_count(y->dims, y->rank)};
    if (r.n)
        eml__parallel_ranges(ctx->pool, (r.n + CHUNK - 1) / CHUNK, 1, vadd_chunks, &r);
    return EML_OK;
}

eml_status eml__fast_qadd_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    if (!eml__cpu_has(EML_ISA_X86_AVX2))
        return EML_OK;
    const void *as, *az, *bs, *bz, *ys, *yz;
    if (!eml__fast_scalar(ctx, 1, EML_DTYPE_F32, false, &as) || !eml__fast_scalar(ctx, 2, EML_DTYPE_U8, true, &az) ||
        !eml__fast_scalar(ctx, 4, EML_DTYPE_F32, false, &bs) || !eml__fast_scalar(ctx, 5, EML_DTYPE_U8, true, &bz) ||
        !eml__fast_scalar(ctx, 6, EML_DTYPE_F32, false, &ys) || !eml__fast_scalar(ctx, 7, EML_DTYPE_U8, true, &yz))
        return EML_OK;
    const float y_scale = *(const float *)ys;
    eml_qs8_vadd_params p;
    if (!eml__qadd_init((double)*(const float *)as / y_scale, (double)*(const float *)bs / y_scale,
                        &p.q))
        return EML_OK;
    const eml_qadd_params *qp = ctx->params;
    p.a_zp = az ? *(const uint8_t *)az : 0;
    p.b_zp = bz ? *(const uint8_t *)bz : 0;
    p.y_zp = yz ? *(const uint8_t *)yz : 0;
    p.qmin = qp->qmin;
    p.qmax = qp->qmax;
    eml_qs8_vadd_params *s = eml__alloc(ctx->env, sizeof(p));
    if (!s)
        return EML_ENOMEM;
    *s = p;
    out->name = "qs8_vadd__avx2";
    out->state = s;
    out->run = vadd_run_fn;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

#else

eml_status eml__fast_qadd_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    (void)ctx;
    (void)out;
    return EML_OK;
}

#endif
