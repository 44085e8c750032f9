/* Fast float32 ReduceMean and ReduceSum over one block of adjacent axes (x.mean([2, 3]) as the
 * nhwc-layout pass leaves it: the H and W of a channels-last tensor): the input is an [A, R, B]
 * view and each output row of B floats accumulates the R input rows in order, so the inner loop
 * runs over contiguous floats; a mean runs on the NHWC tables' global average (SIMD over B, the
 * same sums and division). Other axis sets, dtypes and axes given as an input go to the
 * reference kernel. Single-threaded: these reductions read each input float once. */
#include <stdio.h>

#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/f32_nhwc.h"
#include "kernels/fast_movement.h"
#include "kernels/ref/reduce.h"

typedef struct reduce_state {
    _Alignas(8) unsigned char params[EML_PARAMS_MAX];
    const eml_f32_nhwc_ops *ops; /* NULL: the portable loops */
    char name[48];
} reduce_state;

/* y[b] = sum over r of x[r * B + b], the rows added in order (float). */
static void sum_rows(const float *x, float *y, size_t R, size_t B)
{
    for (size_t b = 0; b < B; b++)
        y[b] = 0.0f;
    for (size_t r = 0; r < R; r++) {
        const float *row = x + r * B;
        for (size_t b = 0; b < B; b++)
            y[b] += row[b];
    }
}

/* One pass over x when B is 1: each output is a contiguous row's sum. */
static float sum_run(const float *x, size_t R)
{
    float acc = 0.0f;
    for (size_t r = 0; r < R; r++)
        acc += x[r];
    return acc;
}

static eml_status reduce_run(const eml_kernel_ctx *ctx)
{
    const reduce_state *s = ctx->params;
    const eml_reduce_params *p = (const eml_reduce_params *)(const void *)s->params;
    const eml_tensor *x = &ctx->inputs[0];
    uint32_t mask = 0;
    int lo = -1, hi = -1;
    bool block = x->dtype == EML_DTYPE_F32 &&
                 eml__reduce_axes_mask(p, NULL, x->rank, &mask, NULL) == EML_OK && mask != 0;
    for (int d = 0; block && d < x->rank; d++) {
        if (!(mask >> d & 1u))
            continue;
        if (lo < 0)
            lo = d;
        else if (d != hi + 1)
            block = false;
        hi = d;
    }
    if (block && eml__shape_count(x->dims + lo, hi + 1 - lo) == 0)
        block = false; /* an empty reduction: the reference's rules */
    if (!block) {
        eml_kernel_ctx inner = *ctx;
        inner.params = s->params;
        return eml__ref_reduce(&inner);
    }
    const size_t A = (size_t)eml__shape_count(x->dims, lo);
    const size_t R = (size_t)eml__shape_count(x->dims + lo, hi + 1 - lo);
    const size_t B = (size_t)eml__shape_count(x->dims + hi + 1, x->rank - hi - 1);
    const float *xd = x->data;
    float *y = ctx->outputs[0].data;
    if (p->kind == EML_REDUCE_MEAN && s->ops) {
        for (size_t a = 0; a < A; a++)
            s->ops->global_avg(B, R, xd + a * R * B, y + a * B);
        return EML_OK;
    }
    for (size_t a = 0; a < A; a++) {
        if (B == 1)
            y[a] = sum_run(xd + a * R, R);
        else
            sum_rows(xd + a * R * B, y + a * B, R, B);
    }
    if (p->kind == EML_REDUCE_MEAN) {
        const float scale = (float)R;
        for (size_t i = 0; i < A * B; i++)
            y[i] /= scale;
    }
    return EML_OK;
}

eml_status eml__fast_reduce_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_reduce_params *p = ctx->params;
    if ((p->kind != EML_REDUCE_MEAN && p->kind != EML_REDUCE_SUM) || p->axes_from_input ||
        (ctx->inputs[0].dtype != EML_DTYPE_F32 && ctx->inputs[0].dtype != EML_DTYPE_UNDEFINED))
        return EML_OK;
    reduce_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    memcpy(s->params, ctx->params, EML_PARAMS_MAX);
    s->ops = eml__f32_nhwc_select();
    if (p->kind == EML_REDUCE_MEAN && s->ops)
        snprintf(s->name, sizeof(s->name), "f32_reduce_mean_rows__%s", s->ops->isa_name);
    else
        snprintf(s->name, sizeof(s->name), "f32_reduce_%s_rows",
                 p->kind == EML_REDUCE_MEAN ? "mean" : "sum");
    out->name = s->name;
    out->state = s;
    out->run = reduce_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}
