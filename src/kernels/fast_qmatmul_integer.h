/* Fast MatMulInteger and ConvInteger: A uint8 [..., K] times a constant int8 B [K, N] (for
 * ConvInteger: the im2col rows of a uint8 NCHW image times the constant int8 weights) with int32
 * outputs, on the uint8 × int8 GEMM micro-kernels of QConv (same panels, fast_qconv.h) in a form
 * that writes the int32 sums instead of requantizing them. Zero points: a's (a scalar, constant or
 * given at run time) goes into a per-column bias, b's (per tensor or per column) into a per-row
 * correction. Results equal the reference kernel's bit for bit, for any thread count. */
#ifndef EML_KERNELS_FAST_QMATMUL_INTEGER_H
#define EML_KERNELS_FAST_QMATMUL_INTEGER_H

#include "core/cpu.h"
#include "kernels/fast_qconv.h"

/* C[mr × nc] = bias[nc] + A[mr × kp] · panel, 1 <= mr <= MR, 1 <= nc <= NR, modulo 2^32; kp: K
 * rounded up to a multiple of 4. a: row i at a + i*a_stride_bytes, kp uint8 (a_i16 false) or
 * int16 (true) values (zero past K). bias: NR values readable. c: row i at c + i*c_stride. The
 * panel's header (bias, multiplier, shift) is not read. */
typedef void (*eml_qs8_gemm_i32_ukernel_fn)(size_t mr, size_t nc, size_t kp, const void *a,
                                            size_t a_stride_bytes, const void *panel,
                                            const int32_t *bias, int32_t *c, size_t c_stride);

typedef struct eml_qs8_gemm_i32_kernel {
    const char *name;
    uint32_t isa;
    uint32_t mr, nr, kg; /* kg: rows of K per packed group (4 or 2) */
    bool a_i16;          /* A rows as int16 (widened) */
    eml_qs8_gemm_i32_ukernel_fn gemm;
} eml_qs8_gemm_i32_kernel;

/* Every variant built for this architecture (src/kernels/lists/qs8_gemm_i32.inc), best first. */
const eml_qs8_gemm_i32_kernel *eml__qs8_gemm_i32_kernels(size_t *count);

/* The selector of MatMulInteger (fast_ops.inc): declines (out->run NULL) unless A is uint8, B a
 * constant int8 matrix, b_zero_point constant, and a_zero_point absent or a uint8 scalar. */
eml_status eml__fast_matmul_integer_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
/* The selector of ConvInteger: the same for a 2-D convolution of one group with constant int8
 * weights [M, C, kH, kW] (x uint8 [N, C, H, W]). */
eml_status eml__fast_conv_integer_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
/* As the selectors with kernel k whatever the CPU offers (tests check it may run). */
eml_status eml__fast_matmul_integer_select_with(const eml_fast_select_ctx *ctx,
                                                const eml_qs8_gemm_i32_kernel *k,
                                                eml_fast_kernel *out);
eml_status eml__fast_conv_integer_select_with(const eml_fast_select_ctx *ctx,
                                              const eml_qs8_gemm_i32_kernel *k,
                                              eml_fast_kernel *out);

#endif
