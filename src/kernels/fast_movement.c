/* Fast data movement for Slice and the Transposes other than the NCHW/NHWC ones (ShuffleNet's
 * chunk and channel shuffle, as the nhwc-layout pass leaves them channels-last): the strided view
 * is simplified (unit dims dropped, contiguous dims merged) and then copied by contiguous runs
 * (memcpy) or, where the innermost step is not 1, by small interleaves. Single-threaded: these
 * copies are small and memory-bound, and waking the pool costs about what they take. */
#include "graph/op.h" /* EML_PARAMS_MAX */
#include "kernels/fast_movement.h"
#include "kernels/ref/movement.h"

/* Simplifies dims/strides (element strides of the source per output dim) in place: drops unit
 * dims and merges a dim into the next when it steps over exactly that dim's extent. Returns the
 * new rank (0: one element). */
static int simplify(int64_t *dims, int64_t *strides, int rank)
{
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1)
            continue;
        if (r > 0 && strides[r - 1] == strides[d] * dims[d]) {
            dims[r - 1] *= dims[d];
            strides[r - 1] = strides[d];
            continue;
        }
        dims[r] = dims[d];
        strides[r] = strides[d];
        r++;
    }
    return r;
}

/* out[j * A + i] = in[i * si + j] for j < B, i < A: a [A, B] block read by rows, written
 * transposed (A small: the channel shuffle's groups). */
static void interleave(uint8_t *out, const uint8_t *in, int64_t A, int64_t B, int64_t si,
                       size_t es)
{
    if (es == 4 && A == 2) {
        const uint32_t *a = (const uint32_t *)(const void *)in;
        const uint32_t *b = a + si;
        uint32_t *y = (uint32_t *)(void *)out;
        for (int64_t j = 0; j < B; j++) {
            y[2 * j] = a[j];
            y[2 * j + 1] = b[j];
        }
        return;
    }
    for (int64_t j = 0; j < B; j++)
        for (int64_t i = 0; i < A; i++)
            memcpy(out + (size_t)(j * A + i) * es, in + (size_t)(i * si + j) * es, es);
}

void eml__fast_strided_copy(void *out, const void *in, const int64_t *out_dims,
                            const int64_t *src_strides, int rank, size_t es)
{
    int64_t dims[EML_MAX_RANK], strides[EML_MAX_RANK], index[EML_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        if (out_dims[d] == 0)
            return;
        dims[d] = out_dims[d];
        strides[d] = src_strides[d];
    }
    rank = simplify(dims, strides, rank);
    if (rank == 0) {
        memcpy(out, in, es);
        return;
    }
    /* the innermost unit: a contiguous run, or (inner stride not 1, the dim before it
     * contiguous) an [A, B] block to interleave, or single elements */
    int inner = 1;
    int64_t run = 1;
    enum { RUN, BLOCK, ELEMS } kind = ELEMS;
    if (strides[rank - 1] == 1) {
        kind = RUN;
        run = dims[rank - 1];
    } else if (rank >= 2 && strides[rank - 2] == 1 && dims[rank - 1] <= 8) {
        kind = BLOCK;
        inner = 2;
        run = dims[rank - 1] * dims[rank - 2];
    } else {
        run = dims[rank - 1];
    }
    const int outer_rank = rank - inner;
    memset(index, 0, sizeof(index));
    uint8_t *y = out;
    const uint8_t *x = in;
    for (;;) {
        int64_t off = 0;
        for (int d = 0; d < outer_rank; d++)
            off += index[d] * strides[d];
        const uint8_t *src = x + off * (int64_t)es;
        if (kind == RUN) {
            memcpy(y, src, (size_t)run * es);
        } else if (kind == BLOCK) {
            interleave(y, src, dims[rank - 1], dims[rank - 2], strides[rank - 1], es);
        } else {
            const int64_t s = strides[rank - 1];
            for (int64_t i = 0; i < run; i++)
                memcpy(y + (size_t)i * es, src + i * s * (int64_t)es, es);
        }
        y += (size_t)run * es;
        if (!eml__index_next(index, dims, outer_rank))
            break;
    }
}

/* ---- Slice ---- */

typedef struct slice_state {
    _Alignas(8) unsigned char params[EML_PARAMS_MAX];
} slice_state;

static eml_status slice_run(const eml_kernel_ctx *ctx)
{
    const slice_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_slice_plan plan;
    char err[160];
    eml_status st = eml__slice_resolve((const eml_slice_params *)(const void *)s->params,
                                       ctx->inputs, ctx->n_inputs, &plan, err, sizeof(err));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "Slice: %s", err);
    if (eml__shape_count(plan.dims, x->rank) == 0)
        return EML_OK;
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, x->rank, strides);
    int64_t first = 0;
    for (int d = 0; d < x->rank; d++) {
        first += plan.start[d] * strides[d];
        strides[d] *= plan.step[d];
    }
    const size_t es = eml_dtype_size(x->dtype);
    eml__fast_strided_copy(ctx->outputs[0].data, (const uint8_t *)x->data + (size_t)first * es,
                           plan.dims, strides, x->rank, es);
    return EML_OK;
}

eml_status eml__fast_slice_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    if (ctx->inputs[0].dtype == EML_DTYPE_STRING)
        return EML_OK;
    slice_state *s = eml__calloc(ctx->env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    memcpy(s->params, ctx->params, EML_PARAMS_MAX);
    out->name = "slice_runs";
    out->state = s;
    out->run = slice_run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

/* ---- Transpose (any permutation) ---- */

eml_status eml__fast_transpose_any(const eml_kernel_ctx *ctx, const eml_transpose_params *p)
{
    const eml_tensor *x = &ctx->inputs[0];
    const int rank = x->rank;
    int64_t strides[EML_MAX_RANK], dims[EML_MAX_RANK], src[EML_MAX_RANK];
    eml__strides(x->dims, rank, strides);
    for (int d = 0; d < rank; d++) {
        /* perm_count -1: the axes reversed; infer checked the permutation */
        const int64_t from = p->perm_count < 0 ? rank - 1 - d : p->perm[d];
        dims[d] = x->dims[from];
        src[d] = strides[from];
    }
    if (eml_tensor_count(x) == 0)
        return EML_OK;
    eml__fast_strided_copy(ctx->outputs[0].data, x->data, dims, src, rank,
                           eml_dtype_size(x->dtype));
    return EML_OK;
}
