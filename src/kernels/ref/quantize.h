/* Linear quantization (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear): params, the
 * per-tensor / per-axis layout shared by infer and the kernels, and the op functions of ops.def. */
#ifndef EML_KERNELS_REF_QUANTIZE_H
#define EML_KERNELS_REF_QUANTIZE_H

#include "graph/op.h"

typedef struct eml_quantize_params {
    int64_t axis;   /* opset >= 13: the per-axis dim (may be negative); 1 by default */
} eml_quantize_params;
EML_PARAMS_FIT(eml_quantize_params);

/* Element i of x uses scale and zero point (i / inner) % channels; channels is 1 per tensor. */
typedef struct eml_quant_layout {
    int64_t channels;
    int64_t inner;
} eml_quant_layout;

/* A scale of one element is per tensor; a 1-D scale of x.dims[axis] elements is per axis.
 * Returns EML_OK or EML_ESHAPE (another shape, or axis out of range for a per-axis scale). */
eml_status eml__quant_layout(const eml_tensor *x, const eml_tensor *scale, int64_t axis,
                             eml_quant_layout *out);

eml_status eml__quantize_prepare(eml_prepare_ctx *ctx);
eml_status eml__quantize_infer(eml_infer_ctx *ctx);
eml_status eml__ref_quantize(const eml_kernel_ctx *ctx);
eml_status eml__dequantize_infer(eml_infer_ctx *ctx);
eml_status eml__ref_dequantize(const eml_kernel_ctx *ctx);
eml_status eml__dynamic_quantize_infer(eml_infer_ctx *ctx);
eml_status eml__ref_dynamic_quantize(const eml_kernel_ctx *ctx);

#endif
