/* Fast kernels on float16 arithmetic (fast_nhwc_conv_f16.c, fast_gemm_f16.c) for the nodes whose
 * weights came from a float16 model, where the CPU has float16 arithmetic (EML_ISA_ARM_NEONFP16,
 * capped by EML_ISA). Plan compilation asks them before the op's own selector. */
#ifndef EML_KERNELS_FAST_F16_H
#define EML_KERNELS_FAST_F16_H

#include "kernels/f16_gemm.h"
#include "kernels/fast.h"

/* f16_inputs: bit k set when input k's constant data was widened from float16 by a folded Cast
 * (EML_VALUE_FROM_F16). Takes NhwcConv (1x1 and im2col; not depthwise), Gemm, MatMul, FusedGemm
 * and FusedMatMul when their weights (input 1) came from float16 and an f16 GEMM kernel runs on
 * this CPU; leaves out->run NULL otherwise (the f32 selectors then choose). Returns EML_OK or
 * EML_ENOMEM. */
eml_status eml__fast_f16_select(const eml_fast_select_ctx *ctx, uint32_t f16_inputs,
                                eml_fast_kernel *out);

/* As eml__fast_f16_select for NhwcConv / for the Gemm and MatMul family, with kernel k whatever
 * the CPU offers (the caller checks that it may run it). slots: row blocks in flight at once (the
 * most threads the kernel will be run with), 0 for the env's thread count; nonzero also makes
 * small ops share the pool (for tests of thread counts). */
eml_status eml__fast_f16_conv_select_with(const eml_fast_select_ctx *ctx,
                                          const eml_f16_gemm_kernel *k, uint32_t slots,
                                          eml_fast_kernel *out);
eml_status eml__fast_f16_gemm_select_with(const eml_fast_select_ctx *ctx,
                                          const eml_f16_gemm_kernel *k, uint32_t slots,
                                          eml_fast_kernel *out);

/* ---- shared by the two files ---- */

/* Rows of A converted to float16 per task, a multiple of mr: the block's float16 rows (kdim
 * halves each) and output (n floats each) stay in cache, and there are several blocks for the
 * pool. A function of the shapes only, so every thread count computes the same bits. */
size_t eml__f16_block_rows(size_t m, size_t n, size_t kdim, size_t mr);
/* Bytes rounded up to whole 64-byte lines. */
size_t eml__f16_round_bytes(size_t bytes);

#endif
