/* edgeml's integer channels-last ops (domain ai.edgeml), made by the qdq-fusion pass from
 * QuantizeLinear/DequantizeLinear patterns and from ONNX's integer ops:
 *
 *   QConv(X, X_scale, X_zp?, W, W_scale, W_zp?, Y_scale, Y_zp?, B?) -> Y
 *       X, Y uint8 [N, H, W, C]; W int8 [O, C/group, kH, kW] (ONNX's layout); W_scale/W_zp a
 *       scalar or one per output channel; B int32 [O] in units of X_scale·W_scale[o].
 *       Y = clamp(Y_zp + requant(B + sum (X - X_zp)(W - W_zp), X_scale·W_scale/Y_scale),
 *       qmin, qmax). Attributes: Conv's (auto_pad, dilations, group, kernel_shape, pads, strides)
 *       plus qmin, qmax (ints, default 0 and 255: a fused Relu or Clip).
 *   QAdd(A, A_scale, A_zp?, B, B_scale, B_zp?, Y_scale, Y_zp?) -> Y
 *       uint8 A and B of one shape (any layout; no broadcasting); attributes qmin, qmax.
 *   QMaxPool(X, X_scale, X_zp?, Y_scale, Y_zp?) -> Y           MaxPool's attributes, NHWC
 *   QGlobalAveragePool(X, X_scale, X_zp?, Y_scale, Y_zp?) -> Y  NHWC, Y [N, 1, 1, C]
 *
 * Scales are float32 scalars (W_scale: or [O]), zero points uint8 (W_zp: int8), omitted = 0.
 * Requantization is qrequant.h's, so the reference kernels here and the SIMD kernels agree bit
 * for bit. A scale ratio the fixed-point form cannot hold (X_scale·W_scale/Y_scale above 1) is
 * refused by the kernel; the pass never makes such a node. */
#ifndef EML_KERNELS_REF_QNHWC_H
#define EML_KERNELS_REF_QNHWC_H

#include "kernels/ref/conv.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/qrequant.h"

typedef struct eml_qconv_params {
    eml_conv_params conv; /* first: Conv's geometry helpers read it */
    int32_t qmin, qmax;
} eml_qconv_params;
EML_PARAMS_FIT(eml_qconv_params);

typedef struct eml_qadd_params {
    int32_t qmin, qmax;
} eml_qadd_params;
EML_PARAMS_FIT(eml_qadd_params);

/* Input positions of QConv. */
enum {
    EML_QCONV_X = 0,
    EML_QCONV_X_SCALE = 1,
    EML_QCONV_X_ZP = 2,
    EML_QCONV_W = 3,
    EML_QCONV_W_SCALE = 4,
    EML_QCONV_W_ZP = 5,
    EML_QCONV_Y_SCALE = 6,
    EML_QCONV_Y_ZP = 7,
    EML_QCONV_B = 8
};

/* The per-output-channel requantization of a QConv (or QGemm-like) node: real = x_scale ·
 * w_scale[c] / y_scale, computed in double. Returns false when one is not representable. */
bool eml__qconv_requant(float x_scale, const float *w_scale, int64_t w_scale_count,
                        float y_scale, int64_t channels, eml_qrequant *out);

/* Reads a scalar (or element i of a per-channel) quantization parameter; 0 when absent. */
float eml__qparam_f32(const eml_tensor *t, int64_t i);
int32_t eml__qparam_int(const eml_tensor *t, int64_t i);

/* ---- op entry points (named in ops.def) ---- */
eml_status eml__qconv_prepare(eml_prepare_ctx *ctx);
eml_status eml__qconv_infer(eml_infer_ctx *ctx);
eml_status eml__ref_qconv(const eml_kernel_ctx *ctx);

eml_status eml__qadd_prepare(eml_prepare_ctx *ctx);
eml_status eml__qadd_infer(eml_infer_ctx *ctx);
eml_status eml__ref_qadd(const eml_kernel_ctx *ctx);

eml_status eml__qmaxpool_prepare(eml_prepare_ctx *ctx);
eml_status eml__qmaxpool_infer(eml_infer_ctx *ctx);
eml_status eml__ref_qmaxpool(const eml_kernel_ctx *ctx);

eml_status eml__qglobal_avgpool_prepare(eml_prepare_ctx *ctx);
eml_status eml__qglobal_avgpool_infer(eml_infer_ctx *ctx);
eml_status eml__ref_qglobal_avgpool(const eml_kernel_ctx *ctx);

#endif
