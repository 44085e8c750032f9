/* The f32 GEMM engine: weights packed once into column panels, one micro-kernel per ISA, and a
 * driver that tiles C = clamp(A·B + bias) over the thread pool. Convolutions (NHWC, im2col-free
 * 1x1 or after an im2col/indirection step), Gemm and MatMul call it. */
#ifndef EML_KERNELS_GEMM_H
#define EML_KERNELS_GEMM_H

#include "core/core.h"
#include "core/cpu.h"

/* Output clamp, fusing Relu (0, +inf), Relu6 (0, 6) and Clip; (-inf, +inf) for none. */
typedef struct eml_f32_minmax {
    float min;
    float max;
} eml_f32_minmax;

/* A micro-kernel: C[mr × nc] (+)= A[mr × kc] · W over one block of K, 1 <= mr <= MR, nc >= 1,
 * kc >= 1. a: row i at a + i*a_stride_elems, kc floats each (the block's columns of A), any
 * alignment. w: the first of ceil(nc / NR) packed panels (see eml__f32_gemm_pack), each
 * w_panel_stride_elems floats after the one before; the block reads weight rows k0 .. k0+kc-1 of
 * each. k0 == 0: the sum starts from the panel's bias. k0 > 0: C holds the sum over the rows
 * before k0; the block's own sum starts from 0 and is added to C at the end. The result is then
 * clamped to [min, max] (pass (-inf, +inf) for blocks before the last). c: row i at
 * c + i*c_stride_elems, nc floats each. Only those mr rows and nc columns are read or written.
 * Within a block the sum runs k = 0, 1, ..., kc-1 (fused multiply-adds in SIMD variants). */
typedef void (*eml_f32_gemm_ukernel_fn)(size_t mr, size_t nc, size_t k0, size_t kc, const float *a,
                                        size_t a_stride_elems, const float *w,
                                        size_t w_panel_stride_elems, float *c,
                                        size_t c_stride_elems, const eml_f32_minmax *params);

typedef struct eml_f32_gemm_kernel {
    const char *name;
    uint32_t isa; /* EML_ISA_* features it needs */
    uint32_t mr;  /* rows of A and C per call */
    uint32_t nr;  /* columns per packed panel */
    eml_f32_gemm_ukernel_fn ukernel;
} eml_f32_gemm_kernel;

/* Every micro-kernel built for this architecture (src/kernels/lists/f32_gemm.inc), best first,
 * the reference last. Whether the CPU runs one is up to the caller (eml__cpu_has). */
const eml_f32_gemm_kernel *eml__f32_gemm_kernels(size_t *count);

/* The first listed kernel whose features are present (EML_ISA caps them); never NULL. */
const eml_f32_gemm_kernel *eml__f32_gemm_select(void);
/* The same for a given feature set (an eml__cpu_features() value). */
const eml_f32_gemm_kernel *eml__f32_gemm_select_for(uint32_t features);

/* Bytes of the packed weights of a K×N matrix for kernel k: ceil(N/NR) panels of NR bias floats
 * followed by K rows of NR weights, zero-padded past N. */
size_t eml__f32_gemm_packed_bytes(const eml_f32_gemm_kernel *k, size_t n, size_t kdim);

/* Packs B for kernel k into packed (eml__f32_gemm_packed_bytes(k, n, kdim) bytes, borrowed;
 * 64-byte alignment is best). B is [K, N] row-major, or [N, K] row-major when b_is_nk (ONNX Conv
 * weights OIHW flattened to [O, I*H*W], Gemm with transB). bias: N floats or NULL for zeros.
 * Runs once at plan time; pure function of its inputs. */
void eml__f32_gemm_pack(const eml_f32_gemm_kernel *k, size_t n, size_t kdim, const float *b,
                        bool b_is_nk, const float *bias, float *packed);

/* C[M × N] = clamp(A[M × K] · B + bias, min, max) with B packed for k. a: row i at
 * a + i*a_stride_elems (>= K); c: row i at c + i*c_stride_elems (>= N); A and C must not overlap.
 * Splits independent output tiles over pool (may be NULL), so the result is bit-identical for
 * any thread count. M, N or K of 0: C untouched when M or N is 0; C = clamp(bias) when K is 0. */
void eml__f32_gemm_run(const eml_f32_gemm_kernel *k, size_t m, size_t n, size_t kdim,
                       const float *a, size_t a_stride_elems, const float *packed_w, float *c,
                       size_t c_stride_elems, float min, float max, eml_pool *pool);

/* Prototypes of the micro-kernels, from the list. */
#define EML_UKERNEL(isa, fn, mr, nr)                                                               \
    void fn(size_t mr_, size_t nc, size_t k0, size_t kc, const float *a, size_t a_stride_elems,    \
            const float *w, size_t w_panel_stride_elems, float *c, size_t c_stride_elems,          \
            const eml_f32_minmax *params);
#include "kernels/lists/f32_gemm.inc"
#undef EML_UKERNEL

#endif
