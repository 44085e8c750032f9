/* edgeml's fused ops (domain "ai.edgeml", version 1), made by the graph passes and saved in ONNX
 * files under that domain:
 *
 *   FusedConv(X, W, B?, Z?) -> Y     Y = act(Conv(X, W, B) + Z)
 *   FusedGemm(A, B, C?) -> Y         Y = act(Gemm(A, B, C))
 *   FusedMatMul(A, B) -> Y           Y = act(MatMul(A, B))
 *
 * Attributes: those of the base op in its opset-17 form (Conv: auto_pad, dilations, group,
 * kernel_shape, pads, strides; Gemm: alpha, beta, transA, transB; MatMul: none), plus
 *   activation         string: "" or absent (none), "Relu", "Clip", "LeakyRelu", "HardSigmoid",
 *                      "HardSwish", "Sigmoid", "Tanh", or "SiLU" (x * Sigmoid(x))
 *   activation_params  floats: Clip [min, max] (default [-inf, inf]), LeakyRelu [alpha] (0.01),
 *                      HardSigmoid [alpha, beta] (0.2, 0.5); absent or empty for the others.
 * Z has exactly Y's shape and dtype (no broadcasting). Types: float32, float64, float16 and
 * bfloat16 where the base op takes them. The result equals the unfused nodes' bit for bit: the
 * base op's reference kernel runs first, then Z is added and the activation applied in place,
 * rounding to the dtype after each step. */
#ifndef EML_KERNELS_REF_FUSED_H
#define EML_KERNELS_REF_FUSED_H

#include "kernels/ref/activation.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/matmul.h"

/* The base op's params come first, so that the base op's infer and kernel read the same block. */
typedef struct eml_fused_conv_params {
    eml_conv_params conv;
    eml_activation act;
} eml_fused_conv_params;
EML_PARAMS_FIT(eml_fused_conv_params);

typedef struct eml_fused_gemm_params {
    eml_gemm_params gemm;
    eml_activation act;
} eml_fused_gemm_params;
EML_PARAMS_FIT(eml_fused_gemm_params);

/* MatMul has no params of its own. */
typedef struct eml_fused_matmul_params {
    eml_activation act;
} eml_fused_matmul_params;
EML_PARAMS_FIT(eml_fused_matmul_params);

eml_status eml__fused_conv_prepare(eml_prepare_ctx *ctx);
eml_status eml__fused_conv_infer(eml_infer_ctx *ctx);
eml_status eml__ref_fused_conv(const eml_kernel_ctx *ctx);

eml_status eml__fused_gemm_prepare(eml_prepare_ctx *ctx);
eml_status eml__fused_gemm_infer(eml_infer_ctx *ctx);
eml_status eml__ref_fused_gemm(const eml_kernel_ctx *ctx);

eml_status eml__fused_matmul_prepare(eml_prepare_ctx *ctx);
eml_status eml__fused_matmul_infer(eml_infer_ctx *ctx);
eml_status eml__ref_fused_matmul(const eml_kernel_ctx *ctx);

#endif
