/* Selectors of the fast kernels listed in src/kernels/lists/fast_ops.inc (f32 Gemm/MatMul and
 * their fused forms on packed constant weights, f32 elementwise ops and Softmax), and the hooks
 * that let tests run a given micro-kernel table or GEMM kernel instead of the best one. */
#ifndef EML_KERNELS_FAST_OPS_H
#define EML_KERNELS_FAST_OPS_H

#include "kernels/fast.h"
#include "kernels/gemm.h"
#include "kernels/velementwise.h"

/* Each fills *out or leaves out->run NULL (declines: the reference kernel runs). Returns EML_OK
 * or EML_ENOMEM (then nothing is kept). */
eml_status eml__fast_gemm_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_matmul_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_fused_gemm_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_fused_matmul_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_binary_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_unary_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_clip_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
eml_status eml__fast_softmax_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

/* As the selectors of ctx->op, with table `ops` (elementwise ops, Softmax) or GEMM kernel `k`
 * (Gemm, MatMul, FusedGemm, FusedMatMul) whatever the CPU offers: the caller checks that it may run
 * them. */
eml_status eml__fast_velem_select_with(const eml_fast_select_ctx *ctx, const eml_f32_velem_ops *ops,
                                       eml_fast_kernel *out);
eml_status eml__fast_gemm_select_with(const eml_fast_select_ctx *ctx, const eml_f32_gemm_kernel *k,
                                      eml_fast_kernel *out);

#endif
