/* Fast QConv (edgeml's uint8 channels-last convolution, kernels/ref/qnhwc.h): weights packed once
 * at plan time with the zero-point correction folded into the bias and the requantization
 * parameters beside it, an int8 GEMM micro-kernel per ISA (AVX-512 VNNI vpdpbusd; AVX2 on
 * widened int16 so that no u8×s8 pair sum can saturate), a depthwise kernel per ISA, and a driver
 * that splits independent output tiles over the pool (results do not depend on the thread count).
 * Every variant equals the reference kernel bit for bit (qrequant.h). */
#ifndef EML_KERNELS_FAST_QCONV_H
#define EML_KERNELS_FAST_QCONV_H

#include "core/cpu.h"
#include "kernels/fast.h"

/* Output stage shared by the kernels: y = clamp(zp + requant(acc), qmin, qmax). */
typedef struct eml_qs8_out {
    int32_t zp, qmin, qmax;
} eml_qs8_out;

/* A packed panel of NR output channels: int32 bias[NR] (B - x_zp·Σw, 0 past N), int32
 * multiplier[NR], int32 shift[NR] (qrequant.h), then the weights: for each group of KG rows of K
 * (zero past K), NR channels × KG values, int8 (KG 4: VNNI) or int16 (KG 2: AVX2). */
#define EML_QS8_PANEL_HEADER_INTS 3

/* C[mr × nc] = out(A[mr × kp] · panel), 1 <= mr <= MR, 1 <= nc <= NR; kp: K rounded up to a
 * multiple of 4. a: row i at a + i*a_stride_bytes: kp uint8 (a_i16 false) or int16 (true)
 * values, readable up to kp even past K (they meet zero weights). c: row i at c + i*c_stride. */
typedef void (*eml_qs8_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kp, const void *a,
                                        size_t a_stride_bytes, const void *panel, uint8_t *c,
                                        size_t c_stride, const eml_qs8_out *out);

/* Depthwise: one output row oy of image x ([H, W, C] uint8), channels padded to the kernel's
 * lanes in the packing: per channel int32 bias, multiplier, shift (each [Cp]), then per tap
 * (ky, kx) Cp int32 weights whose low 16 bits hold the int8 weight and high 16 bits are 0. */
typedef struct eml_qs8_dw_job {
    const uint8_t *x;
    int64_t in_h, in_w, channels, channels_padded;
    int64_t out_w, kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t x_zp;
    const int32_t *packed;
    eml_qs8_out out;
} eml_qs8_dw_job;
typedef void (*eml_qs8_dw_row_fn)(const eml_qs8_dw_job *job, int64_t oy, uint8_t *y_row);

typedef struct eml_qs8_conv_kernel {
    const char *name;
    uint32_t isa;
    uint32_t mr, nr, kg; /* kg: rows of K per packed group (4, 2 or 1) */
    bool a_i16;          /* A rows as int16 (widened) */
    eml_qs8_gemm_ukernel_fn gemm;
    uint32_t dw_lanes;
    eml_qs8_dw_row_fn dw_row;
} eml_qs8_conv_kernel;

/* Every variant built for this architecture (src/kernels/lists/qs8_conv.inc), best first. */
const eml_qs8_conv_kernel *eml__qs8_conv_kernels(size_t *count);

eml_status eml__fast_qconv_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
/* As eml__fast_qconv_select with kernel k whatever the CPU offers (tests check it may run). */
eml_status eml__fast_qconv_select_with(const eml_fast_select_ctx *ctx,
                                       const eml_qs8_conv_kernel *k, eml_fast_kernel *out);

#endif
