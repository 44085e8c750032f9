/* Fast Slice and generic Transpose (src/kernels/fast_movement.c): strided views copied by
 * contiguous runs or small interleaves instead of element by element; and the row-wise
 * ReduceMean/ReduceSum (src/kernels/fast_reduce.c). */
#ifndef EML_KERNELS_FAST_MOVEMENT_H
#define EML_KERNELS_FAST_MOVEMENT_H

#include "kernels/fast.h"
#include "kernels/ref/movement.h"

/* Writes the elements of a strided view densely into out, as eml__copy_strided_nd does (element
 * (i0, i1, ...) of the view is at in + sum(i_d * src_strides[d]) elements; strides may be
 * negative; rank <= EML_MAX_RANK), by runs. Same bytes as the reference. */
void eml__fast_strided_copy(void *out, const void *in, const int64_t *out_dims,
                            const int64_t *src_strides, int rank, size_t es);

/* Slice, any dtype but strings. Returns EML_OK (or EML_ENOMEM: nothing kept). */
eml_status eml__fast_slice_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

/* ReduceMean and ReduceSum of float32 over adjacent attribute axes (src/kernels/fast_reduce.c). */
eml_status eml__fast_reduce_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

/* Runs a Transpose with params p (any permutation, any dtype but strings) by runs. */
eml_status eml__fast_transpose_any(const eml_kernel_ctx *ctx, const eml_transpose_params *p);

#endif
