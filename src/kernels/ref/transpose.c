/* Reference Transpose, DepthToSpace and SpaceToDepth: axis permutations of any element type. */
#include "kernels/ref/movement.h"

void eml__copy_strided_nd(void *out, const void *in, const int64_t *out_dims,
                          const int64_t *src_strides, int rank, size_t es)
{
    if (eml__shape_count(out_dims, rank) <= 0)
        return;
    if (rank == 0) {
        memcpy(out, in, es);
        return;
    }
    int64_t index[EML_MAX_RANK] = {0};
    int64_t row = out_dims[rank - 1];
    uint8_t *dst = out;
    do {
        int64_t src = 0;
        for (int d = 0; d < rank - 1; d++)
            src += index[d] * src_strides[d];
        eml__copy_strided(dst, (const uint8_t *)in + src * (int64_t)es, row, src_strides[rank - 1],
                          es);
        dst += (size_t)row * es;
    } while (eml__index_next(index, out_dims, rank - 1));
}

/* Writes out (in_dims permuted by perm) densely from in: the output walked in order reads the
 * input through the permuted strides. */
static void permute(void *out, const void *in, const int64_t *in_dims, const int64_t *perm,
                    int rank, size_t es)
{
    int64_t in_strides[EML_MAX_RANK], out_dims[EML_MAX_RANK], src_strides[EML_MAX_RANK];
    eml__strides(in_dims, rank, in_strides);
    for (int d = 0; d < rank; d++) {
        out_dims[d] = in_dims[perm[d]];
        src_strides[d] = in_strides[perm[d]];
    }
    eml__copy_strided_nd(out, in, out_dims, src_strides, rank, es);
}

eml_status eml__ref_transpose(const eml_kernel_ctx *ctx)
{
    const eml_transpose_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t perm[EML_MAX_RANK];
    for (int d = 0; d < x->rank; d++)
        perm[d] = p->perm_count < 0 ? x->rank - 1 - d : p->perm[d];
    permute(ctx->outputs[0].data, x->data, x->dims, perm, x->rank, eml_dtype_size(x->dtype));
    return EML_OK;
}

/* Both ops are one 6-d transpose of the NCHW tensor seen as blocks:
 * DepthToSpace DCR: [N, b, b, C', H, W] -> [N, C', H, b, W, b]
 * DepthToSpace CRD: [N, C', b, b, H, W] -> [N, C', H, b, W, b]
 * SpaceToDepth:     [N, C, H', b, W', b] -> [N, b, b, C, H', W'] */
eml_status eml__ref_depth_space(const eml_kernel_ctx *ctx)
{
    const eml_depth_space_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t b = p->blocksize, n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    int64_t dims[6];
    int64_t perm[6];
    if (p->to_space && !p->crd) {
        int64_t d[6] = {n, b, b, c / (b * b), h, w}, q[6] = {0, 3, 4, 1, 5, 2};
        memcpy(dims, d, sizeof(d));
        memcpy(perm, q, sizeof(q));
    } else if (p->to_space) {
        int64_t d[6] = {n, c / (b * b), b, b, h, w}, q[6] = {0, 1, 4, 2, 5, 3};
        memcpy(dims, d, sizeof(d));
        memcpy(perm, q, sizeof(q));
    } else {
        int64_t d[6] = {n, c, h / b, b, w / b, b}, q[6] = {0, 3, 5, 1, 2, 4};
        memcpy(dims, d, sizeof(d));
        memcpy(perm, q, sizeof(q));
    }
    permute(ctx->outputs[0].data, x->data, dims, perm, 6, eml_dtype_size(x->dtype));
    return EML_OK;
}
