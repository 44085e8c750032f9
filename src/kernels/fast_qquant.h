/* Fast QuantizeLinear of float32 to uint8 with a constant scalar scale and zero point (the input
 * of a quantized model). */
#ifndef EML_KERNELS_FAST_QQUANT_H
#define EML_KERNELS_FAST_QQUANT_H

#include "kernels/fast.h"

void eml_qu8_quantize__avx2(size_t n, const float *x, float scale, float zp, uint8_t *y);

eml_status eml__fast_quantize_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

#endif
