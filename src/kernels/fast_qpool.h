/* Fast QMaxPool (kernels/ref/qnhwc.h): channels-last rows combined with a SIMD byte maximum,
 * then the shared rescale (skipped when input and output parameters are equal). */
#ifndef EML_KERNELS_FAST_QPOOL_H
#define EML_KERNELS_FAST_QPOOL_H

#include "kernels/fast.h"

/* y[i] = max over t < taps of x[t][i], for i < n; taps >= 1 (y may be one of the x[t]). */
void eml_u8_vmax__avx2(size_t n, const uint8_t *const *x, size_t taps, uint8_t *y);

eml_status eml__fast_qmaxpool_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

#endif
