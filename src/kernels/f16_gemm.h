/* The f16 GEMM engine: weights packed once as float16 column panels, A converted to float16 as it
 * is packed, products summed in float16 by one micro-kernel per ISA with float16 arithmetic, and
 * the bias and output clamp applied in float32 when the sums are stored. Convolutions, Gemm and
 * MatMul whose weights came from a float16 model use it (fast_f16.c); nothing else does. */
#ifndef EML_KERNELS_F16_GEMM_H
#define EML_KERNELS_F16_GEMM_H

#include "core/core.h"
#include "core/cpu.h"
#include "kernels/gemm.h"

/* A micro-kernel: C[mr × nc] = clamp(bias + (float)(A[mr × kc] · W), min, max), 1 <= mr <= MR,
 * nc >= 1, kc >= 1. a: row i at a + i*a_stride_elems, kc float16 values (IEEE binary16 bits)
 * each, any alignment. w: the first of ceil(nc / NR) packed panels (see eml__f16_gemm_pack),
 * each w_panel_stride_elems halves after the one before, kc rows of NR halves. bias: NR floats
 * per panel, panel after panel (zero-padded past N, so whole panels can be read). The products
 * are summed k = 0, 1, ..., kc-1 in float16 (fused multiply-adds, one rounding each) from 0;
 * the float16 sum is widened to float32, the bias added and the result clamped (pass
 * (-inf, +inf) for none). c: row i at c + i*c_stride_elems; only mr rows and nc columns are
 * written. */
typedef void (*eml_f16_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const uint16_t *a,
                                        size_t a_stride_elems, const uint16_t *w,
                                        size_t w_panel_stride_elems, const float *bias, float *c,
                                        size_t c_stride_elems, const eml_f32_minmax *params);

/* Converts n floats to float16 (round to nearest even; beyond the range: infinity). */
typedef void (*eml_f32_to_f16_fn)(size_t n, const float *x, uint16_t *y);

typedef struct eml_f16_gemm_kernel {
    const char *name;
    uint32_t isa; /* EML_ISA_* features it needs */
    uint32_t mr;  /* rows of A and C per call */
    uint32_t nr;  /* columns per packed panel */
    eml_f16_gemm_ukernel_fn ukernel;
    eml_f32_to_f16_fn convert; /* the same ISA's conversion, for A */
} eml_f16_gemm_kernel;

/* Every micro-kernel built for this architecture (src/kernels/lists/f16_gemm.inc), best first;
 * *count may be 0 (x86). */
const eml_f16_gemm_kernel *eml__f16_gemm_kernels(size_t *count);
/* The first listed kernel whose features are present (EML_ISA caps them), or NULL. */
const eml_f16_gemm_kernel *eml__f16_gemm_select(void);

/* Halves of the packed weights of a K×N matrix (ceil(N/NR) panels of K rows of NR), and floats
 * of its bias (ceil(N/NR) × NR). */
size_t eml__f16_gemm_packed_halves(const eml_f16_gemm_kernel *k, size_t n, size_t kdim);
size_t eml__f16_gemm_bias_floats(const eml_f16_gemm_kernel *k, size_t n);

/* Packs alpha·B for kernel k: B is [K, N] row-major, or [N, K] when b_is_nk; each value rounded
 * to float16 (exact for weights that were float16). bias: N floats or NULL for zeros, copied to
 * packed_bias zero-padded. Runs once at plan time. */
void eml__f16_gemm_pack(const eml_f16_gemm_kernel *k, size_t n, size_t kdim, const float *b,
                        bool b_is_nk, float alpha, const float *bias, uint16_t *packed,
                        float *packed_bias);

/* C[M × N] = clamp(bias + A[M × K] · B) with A already float16 (row i at a + i*a_stride_elems)
 * and B packed for k, on the calling thread (callers split rows over their pool). */
void eml__f16_gemm_run(const eml_f16_gemm_kernel *k, size_t m, size_t n, size_t kdim,
                       const uint16_t *a, size_t a_stride_elems, const uint16_t *packed_w,
                       const float *packed_bias, float *c, size_t c_stride_elems, float min,
                       float max);

/* Prototypes of the micro-kernels and converters, from the list. */
#define EML_F16_UKERNEL(isa, fn, cvt, mr, nr)                                                      \
    void fn(size_t mr_, size_t nc, size_t kc, const uint16_t *a, size_t a_stride_elems,            \
            const uint16_t *w, size_t w_panel_stride_elems, const float *bias, float *c,           \
            size_t c_stride_elems, const eml_f32_minmax *params);                                  \
    void cvt(size_t n, const float *x, uint16_t *y);
#include "kernels/lists/f16_gemm.inc"
#undef EML_F16_UKERNEL

#endif
