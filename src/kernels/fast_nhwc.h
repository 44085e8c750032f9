/* Selectors of the fast channels-last kernels listed in src/kernels/lists/fast_ops.inc (NhwcConv,
 * NhwcConvFromNchw, NhwcMaxPool, NhwcAveragePool, NhwcGlobalAveragePool, the layout Transposes,
 * Concat), and the hooks that let tests run a given GEMM kernel or micro-kernel table instead of
 * the best one for this CPU. */
#ifndef EML_KERNELS_FAST_NHWC_H
#define EML_KERNELS_FAST_NHWC_H

#include "kernels/f32_igemm.h"
#include "kernels/f32_nhwc.h"
#include "kernels/fast.h"
#include "kernels/gemm.h"

/* Each fills *out or leaves out->run NULL (declines: the reference kernel runs). Returns EML_OK
 * or EML_ENOMEM (then nothing is kept). */
eml_status eml__fast_nhwc_conv_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
/* NhwcConvFromNchw: float32, one group, no dilation, at most EML_PLANAR_MAX_TAPS taps per output
 * channel. */
eml_status eml__fast_nhwc_conv_from_nchw_select(const eml_fast_select_ctx *ctx,
                                                eml_fast_kernel *out);
eml_status eml__fast_nhwc_pool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_nhwc_global_pool_select(const eml_fast_select_ctx *ctx,
                                             eml_fast_kernel *out);
/* Concat, any axis and type: the reference's blocks copied by threads in contiguous ranges. */
eml_status eml__fast_concat_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
/* Transpose: [0, 2, 3, 1] and [0, 3, 1, 2] of 4-byte elements (the layout pass's edges) tiled,
 * any other by runs (fast_movement.h). */
eml_status eml__fast_nhwc_transpose_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

/* As the selectors, with GEMM kernel k, indirect GEMM kernel ik (NULL: gather im2col rows
 * instead) and micro-kernel table ops whatever the CPU offers: the caller checks that it may run
 * them. winograd: 3x3 stride-1 convs that qualify go through Winograd F(4x4, 3x3) (false: the
 * GEMM paths, for their tests). slots: im2col blocks in flight at once (the most threads the kernel
 * will be run with), 0 for the env's thread count; a nonzero slots also makes convs too small to be
 * worth it share the pool (for tests of thread counts on small shapes). */
eml_status eml__fast_nhwc_conv_select_with(const eml_fast_select_ctx *ctx,
                                           const eml_f32_gemm_kernel *k,
                                           const eml_f32_igemm_kernel *ik,
                                           const eml_f32_nhwc_ops *ops, bool winograd,
                                           uint32_t slots, eml_fast_kernel *out);
eml_status eml__fast_nhwc_conv_from_nchw_select_with(const eml_fast_select_ctx *ctx,
                                                     const eml_f32_nhwc_ops *ops,
                                                     eml_fast_kernel *out);
eml_status eml__fast_nhwc_pool_select_with(const eml_fast_select_ctx *ctx,
                                           const eml_f32_nhwc_ops *ops, eml_fast_kernel *out);

#endif
