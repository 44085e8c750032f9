/* The fast Concat: the reference kernel's blocks of contiguous bytes (one per input and outer
 * index), copied by threads in contiguous ranges of outer indices with thread affinity
 * (kernels/parallel.h). The channels-last layout makes channel concatenations (SqueezeNet's fire
 * modules, Inception, ShuffleNet) innermost: one small block per pixel, which the reference copies
 * on one thread, reading what the other cores wrote. */
#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/fast_nhwc.h"
#include "kernels/parallel.h"
#include "kernels/ref/movement.h"

/* Bytes a range copies at least: smaller concats run on the calling thread. */
#define RANGE_BYTES ((size_t)32 << 10)

typedef struct concat_job {
    const eml_kernel_ctx *ctx;
    size_t axis, inner_bytes; /* bytes of one step along the axis */
    size_t outer;             /* outer indices */
    size_t out_block;         /* bytes of the output per outer index */
} concat_job;

static void concat_range(void *arg, size_t o0, size_t o1, uint32_t thread)
{
    const concat_job *j = arg;
    const eml_kernel_ctx *ctx = j->ctx;
    (void)thread;
    uint8_t *dst = (uint8_t *)ctx->outputs[0].data + o0 * j->out_block;
    for (size_t o = o0; o < o1; o++) {
        for (int32_t i = 0; i < ctx->n_inputs; i++) {
            const eml_tensor *x = &ctx->inputs[i];
            const size_t block = (size_t)x->dims[j->axis] * j->inner_bytes;
            memcpy(dst, (const uint8_t *)x->data + o * block, block);
            dst += block;
        }
    }
}

static eml_status concat_run(const eml_kernel_ctx *ctx)
{
    const eml_axis_params *p = ctx->params;
    const eml_tensor *y = &ctx->outputs[0];
    const size_t axis = (size_t)(p->axis < 0 ? p->axis + y->rank : p->axis);
    concat_job j = {ctx, axis, eml_dtype_size(y->dtype), 1, 0};
    for (size_t d = 0; d < axis; d++)
        j.outer *= (size_t)y->dims[d];
    for (int d = (int)axis + 1; d < y->rank; d++)
        j.inner_bytes *= (size_t)y->dims[d];
    j.out_block = (size_t)y->dims[axis] * j.inner_bytes;
    if (j.outer == 0 || j.out_block == 0)
        return EML_OK;
    /* ranges of outer indices (pixels, for a channel concat) with thread affinity: each thread
     * copies the pixels its convs wrote */
    const size_t grain = EML_MAX((size_t)1, RANGE_BYTES / j.out_block);
    eml__parallel_ranges(ctx->pool, j.outer, grain, concat_range, &j);
    return EML_OK;
}

eml_status eml__fast_concat_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    void *params = eml__alloc(ctx->env, EML_PARAMS_MAX);
    if (!params)
        return EML_ENOMEM;
    memcpy(params, ctx->params, EML_PARAMS_MAX);
    out->name = "concat_ranges";
    out->state = params;
    out->run = concat_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}
