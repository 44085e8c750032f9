/* Fast QAdd (kernels/ref/qnhwc.h): the rescale weights computed once at plan time from constant
 * scales, an elementwise kernel per ISA, split over the pool in fixed chunks. */
#ifndef EML_KERNELS_FAST_QADD_H
#define EML_KERNELS_FAST_QADD_H

#include "kernels/fast.h"
#include "kernels/ref/qrequant.h"

typedef struct eml_qs8_vadd_params {
    eml_qadd q;
    int32_t a_zp, b_zp, y_zp, qmin, qmax;
} eml_qs8_vadd_params;

/* y[i] = eml__qadd_u8(a[i] - a_zp, b[i] - b_zp, ...) for i < n. */
void eml_qs8_vadd__avx2(size_t n, const uint8_t *a, const uint8_t *b, uint8_t *y,
                        const eml_qs8_vadd_params *p);

eml_status eml__fast_qadd_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

#endif
