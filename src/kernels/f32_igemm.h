/* f32 indirect GEMM micro-kernels for channels-last convolutions: each row of A is read through a
 * pointer per kernel tap (the input pixel under that tap, or a zero row in the padding), so no
 * im2col copy is made. Listed best first in src/kernels/lists/f32_igemm.inc; weights are packed as
 * eml__f32_gemm_pack packs them for NR columns (a panel: NR biases, then K rows of NR weights),
 * with K in (tap, channel) order. */
#ifndef EML_KERNELS_F32_IGEMM_H
#define EML_KERNELS_F32_IGEMM_H

#include "kernels/gemm.h"

/* C[mr × nc] = clamp(bias + sum over taps t < ks and channels k < kc of A(i, t)[k] · W + Z),
 * for 1 <= mr <= MR, nc >= 1, kc >= 1, ks >= 1.
 * a: the row pointers, a[i * ks + t] for row i < mr and tap t; a pointer equal to `zero` is used
 * as it is, any other one plus a_offset floats (the channel group). zero: kc zeros.
 * w: ceil(nc / NR) consecutive packed panels of NR * (1 + ks * kc) floats each.
 * z: NULL, or the residual, row i at z + i*c_stride (read before the clamp).
 * c: row i at c + i*c_stride, nc floats each. Only those mr rows and nc columns are read or
 * written. Each sum runs bias first, then tap by tap, channel by channel (fused multiply-adds). */
typedef void (*eml_f32_igemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, size_t ks,
                                         const float *const *a, size_t a_offset,
                                         const float *zero, const float *w, const float *z,
                                         float *c, size_t c_stride, const eml_f32_minmax *params);

typedef struct eml_f32_igemm_kernel {
    const char *name;
    uint32_t isa; /* EML_ISA_* features it needs */
    uint32_t mr;  /* rows per call */
    uint32_t nr;  /* columns per packed panel */
    eml_f32_igemm_ukernel_fn ukernel;
} eml_f32_igemm_kernel;

/* Every micro-kernel built for this architecture (*count may be 0: none is portable), best
 * first. Whether the CPU runs one is up to the caller (eml__cpu_has). */
const eml_f32_igemm_kernel *eml__f32_igemm_kernels(size_t *count);
/* The first listed kernel whose features are present (EML_ISA caps them); NULL when none is. */
const eml_f32_igemm_kernel *eml__f32_igemm_select(void);

#define EML_IGEMM(isa, fn, mr, nr)                                                                 \
    void fn(size_t mr_, size_t nc, size_t kc, size_t ks, const float *const *a, size_t a_offset,   \
            const float *zero, const float *w, const float *z, float *c, size_t c_stride,          \
            const eml_f32_minmax *params);
#include "kernels/lists/f32_igemm.inc"
#undef EML_IGEMM

#endif
